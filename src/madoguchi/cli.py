"""The ``madoguchi`` command: serve, migrate, demo."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
from collections.abc import Sequence

from madoguchi.settings import Settings

#: Subsystems that add their own subcommands: each module has ``register(subparsers)`` that adds its
#: parsers with ``set_defaults(run=callable(args, settings) -> int)``.
COMMAND_MODULES: list[str] = ["madoguchi.workforce.commands", "madoguchi.kb.cli", "madoguchi.reports.cli"]


async def _migrate(settings: Settings) -> None:
    from madoguchi.db.engine import make_engine
    from madoguchi.migrate import migrate

    engine = make_engine(settings.database_url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


async def _demo(settings: Settings) -> bool:
    from madoguchi.app import build_context
    from madoguchi.demo import seed

    await _migrate(settings)
    ctx = build_context(settings)
    try:
        return await seed(ctx.db)
    finally:
        await ctx.db.engine.dispose()


def _print_logins(settings: Settings, host: str, port: int) -> None:
    from madoguchi.demo import DEMO_PASSWORD, DEMO_PUBLIC_KEY, USERS

    print(f"Madoguchi demo on http://{host}:{port}  (database: {settings.database_url})")
    print(f"  customer page:  http://{host}:{port}/demo/shop   (widget key {DEMO_PUBLIC_KEY})")
    print(f"  staff login:    http://{host}:{port}/login   password for every demo user: {DEMO_PASSWORD}")
    for user in USERS:
        print(f"    {user.role.value:<10} {user.email:<34} {user.name}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="madoguchi", description="Madoguchi contact center platform")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the web server (API, WebSocket, pages, router)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--migrate", action="store_true", help="bring the schema up to date first")
    serve.add_argument("--demo", action="store_true", help="migrate and seed demo data first (once)")
    commands.add_parser("migrate", help="bring the database schema up to date")
    commands.add_parser("demo", help="migrate and seed demo data (only into an empty database)")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    args = parser.parse_args(argv)

    settings = Settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run = getattr(args, "run", None)
    if run is not None:
        code: int = run(args, settings)
        return code
    if args.command == "migrate":
        asyncio.run(_migrate(settings))
        print("schema is up to date")
        return 0
    if args.command == "demo":
        created = asyncio.run(_demo(settings))
        print("demo data created" if created else "database already has users; demo data left as it is")
        _print_logins(settings, settings.host, settings.port)
        return 0

    host = args.host or settings.host
    port = args.port or settings.port
    if args.demo:
        asyncio.run(_demo(settings))
        _print_logins(settings, host, port)
    elif args.migrate:
        asyncio.run(_migrate(settings))
    import uvicorn

    from madoguchi.app import create_app

    uvicorn.run(create_app(settings), host=host, port=port, log_level=settings.log_level.lower(),
                ws_max_size=1_000_000, proxy_headers=settings.forwarded_allow_ips is not None,
                forwarded_allow_ips=settings.forwarded_allow_ips)
    return 0


if __name__ == "__main__":
    sys.exit(main())
