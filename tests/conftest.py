from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from madoguchi.app import build_context
from madoguchi.demo import seed
from madoguchi.migrate import migrate
from madoguchi.settings import Settings
from tests.support import PG_URL, Browserish, RunningServer, require_service, start_server


def run_sync(make: Callable[[], Awaitable[Any]]) -> Any:
    """Session fixtures are set up lazily from inside a test's running loop, so their async work
    runs on its own loop in a worker thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(_as_coroutine(make))).result()


async def _as_coroutine(make: Callable[[], Awaitable[Any]]) -> Any:
    return await make()


async def _migrate_and_seed(url: str) -> None:
    ctx = build_context(Settings(database_url=url))
    try:
        await migrate(ctx.db.engine)
        await seed(ctx.db)
    finally:
        await ctx.db.engine.dispose()


def _pg_admin_dsn() -> str:
    return PG_URL


def _pg_url_for(database: str) -> str:
    base, _, _ = PG_URL.rpartition("/")
    return f"{base}/{database}"


async def _pg_reachable() -> bool:
    try:
        conn = await asyncpg.connect(_pg_admin_dsn(), timeout=3)
    except (OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "seeded.db"
    run_sync(lambda: _migrate_and_seed(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    reachable = run_sync(_pg_reachable)
    require_service("PostgreSQL", reachable, PG_URL)
    name = f"mdg_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"

    async def create() -> None:
        conn = await asyncpg.connect(_pg_admin_dsn())
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        await _migrate_and_seed(_pg_url_for(name))

    run_sync(create)
    yield name

    async def drop() -> None:
        conn = await asyncpg.connect(_pg_admin_dsn())
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    run_sync(drop)


async def _pg_copy(template: str) -> str:
    name = f"mdg_t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(_pg_admin_dsn())
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()
    return name


async def _pg_drop(name: str) -> None:
    conn = await asyncpg.connect(_pg_admin_dsn())
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A seeded demo database of each kind, fresh for every test."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "madoguchi.db"
        shutil.copy(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    pg_template: str = request.getfixturevalue("pg_template")
    name = await _pg_copy(pg_template)
    try:
        yield _pg_url_for(name)
    finally:
        await _pg_drop(name)


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "madoguchi.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


ServerFactory = Callable[..., Awaitable[RunningServer]]


@pytest.fixture
async def make_server(db_url: str) -> AsyncIterator[ServerFactory]:
    started: list[RunningServer] = []

    async def factory(**overrides: Any) -> RunningServer:
        settings = Settings(**{"database_url": db_url, "redis_url": None, **overrides})
        running = await start_server(settings)
        started.append(running)
        return running

    yield factory
    for running in reversed(started):
        await running.stop()


@pytest.fixture
async def server(make_server: ServerFactory) -> RunningServer:
    return await make_server()


@pytest.fixture
async def clients(server: RunningServer) -> AsyncIterator[Callable[[], Browserish]]:
    made: list[Browserish] = []

    def factory() -> Browserish:
        client = Browserish(server.base_url)
        made.append(client)
        return client

    yield factory
    for client in made:
        await client.close()
