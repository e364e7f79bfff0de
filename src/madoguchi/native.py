"""Optional native build of the routing and simulation core with mypyc.

The Router and the workforce simulator are pure, fully typed Python, which mypyc (part of mypy)
compiles to C extension modules with the same behaviour. ``make compile`` builds them next to their
sources, where Python's import system prefers them to the ``.py`` files; ``make uncompile`` removes
them. Nothing else changes: the same code, the same decisions (``tests/workforce/test_native.py``
checks that on the Router's reference property test and on a simulation).

A compiled module that no longer matches its source would silently run old code, so the build
records each source's SHA-256 in ``native.json`` and importing ``madoguchi`` refuses to go on when a
compiled module's source has changed since (see ``check``).

``make compile`` and ``make uncompile`` are the way in; ``main(["status"])`` tells what is in use.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
SOURCE_ROOT = PACKAGE_DIR.parent
MANIFEST = PACKAGE_DIR / "native.json"

#: The hot path of routing decisions and of the simulator, in import order.
MODULES = (
    "madoguchi.routing.snapshots",
    "madoguchi.routing.indexes",
    "madoguchi.routing.router",
    "madoguchi.workforce.models",
    "madoguchi.workforce.kpis",
    "madoguchi.workforce.simulator",
)


class StaleNativeBuild(ImportError):
    pass


def _source(module: str, root: Path = SOURCE_ROOT) -> Path:
    return root.joinpath(*module.split(".")).with_suffix(".py")


def _compiled(module: str, root: Path = SOURCE_ROOT) -> list[Path]:
    source = _source(module, root)
    return sorted(source.parent.glob(f"{source.stem}.*.so"))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def compiled_modules(root: Path = SOURCE_ROOT) -> list[str]:
    return [m for m in MODULES if _compiled(m, root)]


def check(root: Path = SOURCE_ROOT) -> None:
    """Raise ``StaleNativeBuild`` when a compiled module's source differs from the one compiled."""
    present = compiled_modules(root)
    if not present:
        return
    manifest = root / "madoguchi" / MANIFEST.name
    try:
        recorded: dict[str, str] = json.loads(manifest.read_text())
    except (OSError, ValueError):
        recorded = {}
    stale = [m for m in present if recorded.get(m) != _digest(_source(m, root))]
    if stale:
        raise StaleNativeBuild(
            f"compiled modules older than their source: {', '.join(stale)}; "
            "run `make compile` to rebuild them or `make uncompile` to run the Python source")


def clean(root: Path = SOURCE_ROOT) -> list[Path]:
    removed: list[Path] = []
    for module in MODULES:
        for path in _compiled(module, root):
            path.unlink()
            removed.append(path)
    # mypyc's shared runtime for the group sits at the top of the source tree.
    for path in root.glob("*__mypyc.*.so"):
        path.unlink()
        removed.append(path)
    (root / "madoguchi" / MANIFEST.name).unlink(missing_ok=True)
    return removed


def build(root: Path = SOURCE_ROOT) -> None:
    """Compile ``MODULES`` in place under ``root`` (a source tree holding the ``madoguchi``
    package). Needs a C compiler and the Python headers."""
    import shutil
    import subprocess

    clean(root)
    sources = [str(_source(m, root).relative_to(root)) for m in MODULES]
    work = root / "build"
    try:
        subprocess.run([sys.executable, "-m", "mypyc", *sources], cwd=root, check=True,
                       stdout=subprocess.DEVNULL)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(root / ".mypy_cache", ignore_errors=True)
    missing = [m for m in MODULES if not _compiled(m, root)]
    if missing:
        raise RuntimeError(f"mypyc built no extension for {', '.join(missing)}")
    (root / "madoguchi" / MANIFEST.name).write_text(
        json.dumps({m: _digest(_source(m, root)) for m in MODULES}, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    command = (argv if argv is not None else sys.argv[1:]) or ["status"]
    if command == ["build"]:
        build()
        print(f"compiled: {', '.join(compiled_modules())}")
    elif command == ["clean"]:
        print(f"removed {len(clean())} compiled files")
    elif command == ["status"]:
        present = compiled_modules()
        print(f"compiled: {', '.join(present)}" if present else "not compiled: the Python source runs")
    else:
        print("usage: python -m madoguchi.native build | clean | status", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
