"""aiosqlite with fewer trips to its thread.

aiosqlite runs each SQLite connection in a thread of its own and hands it every call through a
queue, one call per trip: a statement run through SQLAlchemy costs four (make a cursor, execute,
fetch all rows, close the cursor), and a transaction's end one more even where nothing is left to
roll back. Each trip wakes that thread and then the event loop again; with a few statements per
transaction, those wake-ups were a quarter or more of the server's CPU time at a moderate chat
load (``perf``: context switches and futex wake-ups around every SQLite call).

Here a statement is one trip: the cursor is made, run, read to the end and closed in the
connection's thread, and what SQLAlchemy asks of it afterwards (rows, description, rowcount,
lastrowid) is answered from what that trip brought back. A rollback skips its trip when no
transaction is open: none ran since the last commit or rollback, or the statements since were
reads outside one (the sqlite3 module opens a transaction for writes only). Everything else is
aiosqlite's, unchanged."""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Callable, Generator, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import aiosqlite

_T = TypeVar("_T")
_Description = tuple[tuple[str, None, None, None, None, None, None], ...] | None


class BufferedCursor:
    """The part of ``aiosqlite.Cursor`` that SQLAlchemy's aiosqlite dialect uses."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._rows: deque[Any] = deque()
        self.description: _Description = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    def __await__(self) -> Generator[Any, None, BufferedCursor]:
        return self._itself().__await__()

    async def _itself(self) -> BufferedCursor:
        return self

    async def __aenter__(self) -> BufferedCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._rows.clear()

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None) -> BufferedCursor:
        conn = self._connection

        def run() -> tuple[_Description, list[Any], int, int | None, bool]:
            cursor = conn._conn.cursor()
            try:
                cursor.execute(sql, () if parameters is None else parameters)
                description = cursor.description
                rows = cursor.fetchall() if description else []
                return description, rows, cursor.rowcount, cursor.lastrowid, conn._conn.in_transaction
            finally:
                cursor.close()

        conn.touched = True  # until the trip says otherwise (a failed statement leaves it set)
        self.description, rows, self.rowcount, self.lastrowid, conn.touched = await conn.run(run)
        self._rows = deque(rows)
        return self

    async def executemany(self, sql: str, seq_of_parameters: Iterable[Sequence[Any] | dict[str, Any]]
                          ) -> BufferedCursor:
        conn = self._connection

        def run() -> tuple[int, int | None, bool]:
            cursor = conn._conn.cursor()
            try:
                cursor.executemany(sql, seq_of_parameters)
                return cursor.rowcount, cursor.lastrowid, conn._conn.in_transaction
            finally:
                cursor.close()

        conn.touched = True
        self.rowcount, self.lastrowid, conn.touched = await conn.run(run)
        self.description = None
        self._rows.clear()
        return self

    async def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self.arraysize if size is None else size
        return [self._rows.popleft() for _ in range(min(count, len(self._rows)))]

    async def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    async def close(self) -> None:
        self._rows.clear()


class Connection(aiosqlite.Connection):
    touched = False  # a transaction may be open: a statement ran since the last commit or rollback

    async def run(self, function: Callable[[], _T]) -> _T:
        """``function`` in the connection's thread: one trip."""
        return cast(_T, await self._execute(function))  # type: ignore[no-untyped-call]

    async def run_on_connection(self, function: Callable[[sqlite3.Connection], _T]) -> _T:
        """``function`` given the sqlite3 connection, in the connection's thread: one trip for what
        would otherwise be a trip per statement. It must end any transaction it begins."""
        return await self.run(lambda: function(self._conn))

    def cursor(self) -> BufferedCursor:  # type: ignore[override]
        # No trip: the sqlite3 cursor is made in the thread when a statement runs.
        return BufferedCursor(self)

    async def commit(self) -> None:
        self.touched = False
        await super().commit()

    async def rollback(self) -> None:
        if not self.touched:
            return  # nothing ran since the transaction ended: nothing to roll back
        self.touched = False
        await super().rollback()


def connect(database: str | Path, **kwargs: Any) -> Connection:
    """``aiosqlite.connect`` returning the connection above."""
    location = str(database)

    def connector() -> sqlite3.Connection:
        connection: sqlite3.Connection = sqlite3.connect(location, **kwargs)
        return connection

    connection = Connection(connector, 64)
    connection._thread.daemon = True  # as SQLAlchemy's dialect does for aiosqlite's own connections
    return connection
