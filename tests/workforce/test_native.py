"""The mypyc build of the Router and the simulator (``madoguchi.native``, ``make compile``) runs the
same code: built for real in a copy of the source tree, it passes the Router's reference property
test and the simulator's tests, and a simulation gives exactly the figures of the Python source."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import madoguchi
from tests.support import require_service

REPO = Path(__file__).resolve().parents[2]
SIMULATION = """
import json, sys
from madoguchi.routing.router import QueuePolicy, RelaxStep, SkillRequirement, Strategy
from madoguchi.workforce.models import AgentGroup, Arrivals, Exponential, QueueModel, Scenario
from madoguchi.workforce.simulator import run
import madoguchi.routing.router as router
policy = QueuePolicy(queue_id=1, strategy=Strategy.LEAST_OCCUPIED, requirements=(SkillRequirement("ja", 3),),
                     relaxation=(RelaxStep(after_s=30.0, requirements=(SkillRequirement("ja", 1),)),))
scenario = Scenario(
    queues=(QueueModel(queue_id=1, arrivals=Arrivals(rates_per_s=(0.05,)), handle=Exponential(180.0),
                       patience=Exponential(120.0), policy=policy),
            QueueModel(queue_id=2, arrivals=Arrivals(rates_per_s=(0.03,)), handle=Exponential(300.0),
                       channel="chat")),
    agents=(AgentGroup(count=6, queue_ids=frozenset({1, 2}), skills={"ja": 4}, capacity={"voice": 1, "chat": 2}),
            AgentGroup(count=5, queue_ids=frozenset({1}), skills={"ja": 1}, capacity={"voice": 1})),
    contacts=4000, seed=7)
print(json.dumps({"file": router.__file__, "result": run(scenario).as_dict()}, sort_keys=True))
"""


_NOT_SOURCE = shutil.ignore_patterns("__pycache__", "*.so", "native.json")


def _package_source() -> Path:
    return Path(madoguchi.__file__).parent


def _python(root: Path, code: str) -> dict:  # type: ignore[type-arg]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    result: dict = json.loads(done.stdout)  # type: ignore[type-arg]
    return result


@pytest.fixture(scope="module")
def compiled_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_service("a C compiler for mypyc", shutil.which("cc") is not None or shutil.which("gcc") is not None)
    from madoguchi import native

    root = tmp_path_factory.mktemp("native")
    shutil.copytree(_package_source(), root / "madoguchi", ignore=_NOT_SOURCE)
    native.build(root)
    assert native.compiled_modules(root) == list(native.MODULES)
    return root


def test_compiled_router_passes_the_reference_property_test(compiled_tree: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(compiled_tree)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/acd/test_router_reference.py", "tests/acd/test_router_properties.py",
                           "tests/workforce/test_simulator.py"],
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout


def test_compiled_simulation_gives_the_same_figures(compiled_tree: Path, tmp_path: Path) -> None:
    # The Python source, even where this checkout was built with `make compile`.
    shutil.copytree(_package_source(), tmp_path / "madoguchi", ignore=_NOT_SOURCE)
    compiled = _python(compiled_tree, SIMULATION)
    source = _python(tmp_path, SIMULATION)
    assert compiled["file"].endswith(".so") and source["file"].endswith(".py")
    assert compiled["result"] == source["result"]
    assert compiled["result"]["contacts"] == 4000


def test_an_edited_source_refuses_its_stale_compiled_module(compiled_tree: Path) -> None:
    stale = compiled_tree / "stale"
    shutil.copytree(compiled_tree, stale, ignore=shutil.ignore_patterns("stale"))
    router = stale / "madoguchi" / "routing" / "router.py"
    router.write_text(router.read_text() + "\n# edited after the build\n")
    env = {**os.environ, "PYTHONPATH": str(stale)}
    done = subprocess.run([sys.executable, "-c", "import madoguchi"], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode != 0
    assert "StaleNativeBuild" in done.stderr and "madoguchi.routing.router" in done.stderr
    assert "make compile" in done.stderr
