"""The SQLite driver (db/sqlite_driver.py): one trip to the connection's thread per statement, and the
same answers through SQLAlchemy as aiosqlite's own cursor gives."""

from __future__ import annotations

from pathlib import Path

import aiosqlite.core
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from madoguchi.db.engine import make_engine
from madoguchi.db.sqlite_driver import Connection


async def test_statements_rows_and_transactions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trips: list[object] = []
    original = aiosqlite.core.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: object, *args: object, **kwargs: object) -> object:
        trips.append(fn)
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.core.Connection, "_execute", counted)
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    try:
        async with engine.begin() as conn:
            assert isinstance((await conn.get_raw_connection()).driver_connection, Connection)
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"))
        trips.clear()
        async with engine.begin() as conn:
            inserted = await conn.execute(text("INSERT INTO t (v) VALUES (:v) RETURNING id, v"), {"v": "a"})
            assert inserted.all() == [(1, "a")]
            many = await conn.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": "b"}, {"v": "c"}])
            assert many.rowcount == 2
            assert (await conn.execute(text("SELECT v FROM t ORDER BY id"))).scalars().all() == ["a", "b", "c"]
            updated = await conn.execute(text("UPDATE t SET v = v || '!' WHERE id > 1"))
            assert updated.rowcount == 2
        assert len(trips) == 5  # four statements and the commit; no cursor, fetch or close trips

        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO t (v) VALUES ('z')"))
                await conn.execute(text("INSERT INTO t (v) VALUES ('a')"))  # unique: refused
        async with engine.connect() as conn:  # the failed transaction left nothing behind
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 3
            stream = await conn.stream(text("SELECT id FROM t ORDER BY id"))
            assert [row[0] async for row in stream] == [1, 2, 3]

        trips.clear()
        async with engine.connect() as conn:  # checked out and back without a statement: no rollback trip
            pass
        assert trips == []
        async with engine.connect() as conn:  # reads outside a transaction leave none to roll back
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 3
        assert len(trips) == 1
        trips.clear()
        async with engine.connect() as conn:  # a write left uncommitted is rolled back
            await conn.execute(text("INSERT INTO t (v) VALUES ('gone')"))
        assert len(trips) == 2
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM t WHERE v = 'gone'"))).scalar_one() == 0
    finally:
        await engine.dispose()
