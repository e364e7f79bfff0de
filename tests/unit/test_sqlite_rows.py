"""Rows written with the sqlite3 module directly (the chat writer's one-trip batch) read back through
SQLAlchemy exactly as rows SQLAlchemy wrote, and each comes back with its own id, or None where a
unique value was already stored."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, UniqueConstraint, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from madoguchi.db.base import UtcDateTime
from madoguchi.db.engine import make_engine
from madoguchi.db.sqlite_rows import SqliteRows, loaded, result_processors

metadata = MetaData()
notes = Table(
    "notes", metadata,
    Column("id", Integer, primary_key=True),
    Column("topic", Integer, nullable=False),
    Column("key", String(20)),
    Column("data", JSON),
    Column("at", UtcDateTime, nullable=False),
    UniqueConstraint("topic", "key"),
)
COLUMNS = ("topic", "key", "data", "at")


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "rows.db"


@pytest.fixture
async def engine(database: Path) -> AsyncIterator[AsyncEngine]:
    """The app's SQLite engine on ``database``, with the ``notes`` table made."""
    engine = make_engine(f"sqlite+aiosqlite:///{database}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        yield engine
    finally:
        await engine.dispose()


async def test_raw_rows_read_back_as_sqlalchemy_rows(database: Path, engine: AsyncEngine) -> None:
    at = datetime(2026, 11, 24, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=9)))
    data = {"body": "こんにちは", "n": [1, 2.5, None]}
    async with engine.begin() as conn:
        await conn.execute(insert(notes), [{"topic": 1, "key": "orm", "data": data, "at": at}])

    rows = SqliteRows(notes, engine.dialect, COLUMNS, unique=("topic", "key"))
    with closing(sqlite3.connect(database)) as raw:
        raw.execute("BEGIN IMMEDIATE")
        assert rows.insert(raw, [(1, "raw", data, at)]) == [2]
        raw.commit()
        stored = raw.execute("SELECT topic, key, data, at FROM notes ORDER BY id").fetchall()
        processors = result_processors(notes, engine.dialect, COLUMNS)
        assert loaded(stored[1], processors) == (1, "raw", data, at)
    # Both rows hold the same text: the raw path stores what SQLAlchemy would have stored.
    assert stored[0][2:] == stored[1][2:]

    async with engine.connect() as conn:
        found = (await conn.execute(select(notes.c.key, notes.c.data, notes.c.at).order_by(notes.c.id))).all()
    assert [tuple(r) for r in found] == [("orm", data, at), ("raw", data, at)]
    assert found[1].at.tzinfo is not None and found[1].at == at.astimezone(UTC)


async def test_each_row_gets_its_id_or_none_where_its_unique_value_was_there(database: Path,
                                                                             engine: AsyncEngine) -> None:
    at = datetime(2026, 11, 24, tzinfo=UTC)
    rows = SqliteRows(notes, engine.dialect, COLUMNS, unique=("topic", "key"))
    with closing(sqlite3.connect(database)) as raw:
        raw.execute("BEGIN IMMEDIATE")
        assert rows.insert(raw, [(1, "a", None, at), (1, None, None, at)]) == [1, 2]
        raw.commit()
        batch: list[tuple[Any, ...]] = [
            (1, "a", None, at),      # stored before: skipped
            (1, None, None, at),     # NULL keys never conflict
            (2, "a", None, at),      # same key, other topic: new
            (2, "a", None, at),      # the same row twice in one batch: the second is skipped
            (1, "b", None, at),
            (1, None, None, at),
        ]
        raw.execute("BEGIN IMMEDIATE")
        assert rows.insert(raw, batch) == [None, 3, 4, None, 5, 6]
        raw.commit()
        assert raw.execute("SELECT count(*) FROM notes").fetchone() == (6,)
        with pytest.raises(RuntimeError, match="write transaction"):
            rows.insert(raw, batch)  # outside a transaction its ids could not be known


async def test_a_large_batch_goes_in_whole_and_in_order(database: Path, engine: AsyncEngine) -> None:
    at = datetime(2026, 11, 24, tzinfo=UTC)
    rows = SqliteRows(notes, engine.dialect, COLUMNS, unique=("topic", "key"))
    with closing(sqlite3.connect(database)) as raw:
        for size, first_id in ((300, 1), (77, 301)):  # several statements of different sizes
            batch = [(i % 7, f"k{first_id + i}", {"i": i}, at) for i in range(size)]
            raw.execute("BEGIN IMMEDIATE")
            assert rows.insert(raw, batch) == list(range(first_id, first_id + size))
            raw.commit()
        stored = raw.execute("SELECT id, key FROM notes ORDER BY id").fetchall()
    assert stored == [(i, f"k{i}") for i in range(1, 378)]
