"""Bring a database to the newest schema with Alembic (SQLite and PostgreSQL alike)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "db" / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


async def migrate(engine: AsyncEngine, revision: str = "heads") -> None:
    # "heads": subsystems add their own migration branches; all of them apply.
    def upgrade(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), revision)

    if engine.dialect.name == "sqlite":
        # SQLite alters a table by rebuilding it (Alembic's batch mode), which drops the old table:
        # with foreign keys enforced that fails on any table others refer to. Enforcement goes off
        # for the migration (a pragma only works outside a transaction, and pysqlite begins one
        # lazily), then the whole database is checked before it comes back on.
        async with engine.connect() as conn:
            await conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await conn.run_sync(upgrade)
            await conn.commit()
            broken = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).fetchall()
            await conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            if broken:
                raise RuntimeError(f"migration left foreign keys broken: {broken[:5]}")
        return
    async with engine.begin() as conn:
        await conn.run_sync(upgrade)
