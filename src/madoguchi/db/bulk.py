"""Many rows in one INSERT, with the new ids back in the rows' order."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import Insert, Table, insert
from sqlalchemy.ext.asyncio import AsyncSession


@cache
def _statement(table: Table, *, ordered: bool) -> Insert:
    """Built once per table: building an insert costs more Python time than running a small one."""
    return insert(table).returning(table.c.id, sort_by_parameter_order=ordered)


async def insert_returning_ids(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` into ``table`` (integer primary key ``id``) with one statement per few hundred
    rows instead of one per row, and return their ids in the order of ``rows``."""
    if not rows:
        return []
    if session.get_bind().dialect.name == "sqlite":
        # SQLAlchemy cannot batch an *ordered* RETURNING on SQLite (RETURNING's row order is
        # unspecified there), so it would fall back to one statement per row. But SQLite inserts a
        # VALUES list in order and gives each new row the largest rowid so far plus one
        # (sqlite.org/autoinc.html), while the statement holds the database's only write lock:
        # the ids, sorted, are the rows' ids in order.
        result = await session.execute(_statement(table, ordered=False), list(rows))
        return sorted(result.scalars().all())
    return list((await session.execute(_statement(table, ordered=True), list(rows))).scalars().all())
