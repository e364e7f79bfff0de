"""``madoguchi kb import FILE`` / ``kb search`` / ``kb export`` against the configured database."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from madoguchi.kernel.errors import DomainError
from madoguchi.settings import Settings


def register(subparsers: Any) -> None:
    kb = subparsers.add_parser("kb", help="knowledge base: import, search, export")
    commands = kb.add_subparsers(dest="kb_command", required=True)
    imp = commands.add_parser("import", help="import articles from JSON or CSV (re-import updates by id)")
    imp.add_argument("file", type=Path)
    imp.set_defaults(run=run_import)
    search = commands.add_parser("search", help="search published articles")
    search.add_argument("query", nargs="?", help="what to search for")
    search.add_argument("--queries", type=Path, help="a file with one query per line")
    search.add_argument("--language", choices=("ja", "en"))
    search.add_argument("--top", type=int, default=5)
    search.add_argument("--json", action="store_true", help="print JSON")
    search.set_defaults(run=run_search)
    export = commands.add_parser("export", help="print every article as JSON or CSV")
    export.add_argument("--format", choices=("json", "csv"), default="json")
    export.set_defaults(run=run_export)


async def _open(settings: Settings) -> Any:
    from madoguchi.app import build_context
    from madoguchi.migrate import migrate

    ctx = build_context(settings)
    await migrate(ctx.db.engine)
    return ctx


def run_import(args: argparse.Namespace, settings: Settings) -> int:
    from madoguchi.kb import actions, transfer

    text = _read(args.file)
    if text is None:
        return 2

    async def go() -> dict[str, Any]:
        kind = "csv" if args.file.suffix.lower() == ".csv" else "json" if args.file.suffix.lower() == ".json" else None
        articles = transfer.to_articles(transfer.parse_rows(text, kind=kind))
        ctx = await _open(settings)
        try:
            async with ctx.db.uow() as uow:
                result = await actions.do_import(uow, actor=None, articles=articles)
            embedded = await ctx.kb.sync_vectors()  # so servers need not embed what the CLI wrote
            return {**result.model_dump(exclude={"article_ids"}), "embedded": embedded}
        finally:
            await ctx.db.engine.dispose()

    try:
        summary = asyncio.run(go())
    except DomainError as error:
        print(f"import failed: {error.message}", file=sys.stderr)
        for problem in error.details.get("problems", [])[:50]:
            print(f"  row {problem['row']}: {problem['field']}: {problem['problem']}", file=sys.stderr)
        return 2
    print(json.dumps(summary))
    return 0


def run_search(args: argparse.Namespace, settings: Settings) -> int:
    if (args.query is None) == (args.queries is None):
        print("give a QUERY or --queries FILE", file=sys.stderr)
        return 2
    if not 1 <= args.top <= 100:
        print("--top must be 1…100", file=sys.stderr)
        return 2
    lines: list[str] = []
    if args.queries is not None:
        text = _read(args.queries)
        if text is None:
            return 2
        lines = text.splitlines()

    async def go() -> int:
        ctx = await _open(settings)
        try:
            if args.queries is not None:
                for line in lines:
                    results = await ctx.kb.search(line, language=args.language, top=args.top)
                    print(json.dumps({"query": line, "results": [_row(r) for r in results]}, ensure_ascii=False),
                          flush=True)
                return 0
            results = await ctx.kb.search(args.query, language=args.language, top=args.top)
            if args.json:
                print(json.dumps([_row(r) for r in results], ensure_ascii=False))
            else:
                for r in results:
                    print(f"{r.score:8.4f}  #{r.article_id:<6} {r.external_id or '':<16} {r.title}")
            return 0
        finally:
            await ctx.kb.stop()
            await ctx.db.engine.dispose()

    return asyncio.run(go())


def _read(path: Path) -> str | None:
    """The file's text (UTF-8, with or without a byte-order mark), or None after saying why not."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        print(f"{path}: not UTF-8 text (byte {exc.start})", file=sys.stderr)
    except OSError as exc:
        print(f"{path}: cannot read: {exc.strerror or exc}", file=sys.stderr)
    return None


def _row(result: Any) -> dict[str, Any]:
    return {"article_id": result.article_id, "external_id": result.external_id, "title": result.title,
            "score": result.score}


def run_export(args: argparse.Namespace, settings: Settings) -> int:
    from madoguchi.kb import queries, transfer

    async def go() -> str:
        ctx = await _open(settings)
        try:
            async with ctx.db.read() as session:
                return transfer.export_text(await queries.exportable(session), args.format)
        finally:
            await ctx.db.engine.dispose()

    sys.stdout.write(asyncio.run(go()) + "\n")
    return 0
