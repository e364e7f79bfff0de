"""Alembic environment. Runs on a connection handed in by madoguchi.migrate (the usual path) or,
from the alembic CLI, on an engine built from MADOGUCHI_DATABASE_URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from madoguchi.models import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def _from_settings() -> None:
    from madoguchi.db.engine import make_engine
    from madoguchi.settings import Settings

    async def go() -> None:
        engine = make_engine(Settings().database_url)
        async with engine.begin() as conn:
            await conn.run_sync(_run)
        await engine.dispose()

    asyncio.run(go())


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    _from_settings()
