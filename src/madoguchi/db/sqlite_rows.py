"""Rows of one table written and read with the sqlite3 module directly, in the connection's thread.

For code that does a whole transaction in one trip to that thread (``sqlite_driver.Connection.run``)
instead of one trip per statement through SQLAlchemy. Values pass through the same type processors
SQLAlchemy would apply (UTC datetimes, JSON), taken from the engine's dialect, so what is stored
here reads back through the ORM exactly as what the ORM stores, and the other way round.

Few steps, not one per row. The sqlite3 module releases the GIL around every ``sqlite3_step``: once
per row inserted by ``executemany`` and once per row fetched. Each release lets the event loop's
thread take the GIL, and the writer's thread then waits until that thread lets go of it, which a
busy loop does only at its switch interval (5 ms). With a step per row, a batch of 250 messages
spent about 30 ms in the thread for 9 ms of work at full chat load. So rows go in as multi-row
``INSERT … VALUES`` statements of a power-of-two number of rows, and new ids come back as one
summary row. The SQL texts are a handful per table, so sqlite3's statement cache prepares each once."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect

Processor = Callable[[Any], Any] | None


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_CHUNKS = (128, 64, 32, 16, 8, 4, 2, 1)  # rows per INSERT statement, largest first


class SqliteRows:
    """Insert rows into ``table`` (integer primary key ``id``) and read some back.

    ``columns`` are the columns an insert sets, in the order of its value tuples. ``unique``, if
    given, are columns of a unique constraint: a row that would repeat a stored value is skipped (its
    id comes back as None), as ``ON CONFLICT DO NOTHING`` does."""

    def __init__(self, table: Table, dialect: Dialect, columns: Sequence[str],
                 unique: Sequence[str] = ()) -> None:
        self.table = table
        self.columns = tuple(columns)
        self.unique = tuple(unique)
        binds = (table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in self.columns)
        self._binds = tuple((at, process) for at, process in enumerate(binds) if process is not None)
        self._unique_at = tuple(self.columns.index(name) for name in self.unique)
        name = _quoted(table.name)
        conflict = f" ON CONFLICT ({', '.join(map(_quoted, self.unique))}) DO NOTHING" if self.unique else ""
        row = f"({', '.join('?' * len(self.columns))})"
        self._inserts = {size: f"INSERT INTO {name} ({', '.join(map(_quoted, self.columns))}) "
                               f"VALUES {', '.join([row] * size)}{conflict}"
                         for size in _CHUNKS}
        self._max_id = f"SELECT max(id) FROM {name}"
        self._new_span = f"SELECT min(id), max(id), count(*) FROM {name} WHERE id > ?"
        self._new_rows = f"SELECT {', '.join(map(_quoted, ('id', *self.unique)))} FROM {name} WHERE id > ? ORDER BY id"

    def bound(self, rows: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
        """``rows`` (values in ``columns`` order) as the database stores them."""
        if not self._binds:
            return list(rows)
        bound: list[Sequence[Any]] = []
        # A batch's rows often share a value (its timestamp): each distinct object is processed once.
        last: dict[int, tuple[Any, Any]] = {}
        for row in rows:
            if len(row) != len(self.columns):
                raise ValueError(f"a row of {self.table.name} needs {len(self.columns)} values")
            values = list(row)
            for at, process in self._binds:
                value = values[at]
                if value is None:
                    continue
                seen = last.get(at)
                if seen is not None and seen[0] is value:
                    values[at] = seen[1]
                else:
                    values[at] = processed = process(value)
                    last[at] = (value, processed)
            bound.append(values)
        return bound

    def insert(self, connection: sqlite3.Connection, rows: Sequence[Sequence[Any]]) -> list[int | None]:
        """Insert ``rows`` (value tuples in ``columns`` order); each one's new id in order, None
        where a unique value was already there. Needs a transaction that holds the write lock
        (``BEGIN IMMEDIATE``): it finds the new ids as the ones above the largest before, which
        holds because SQLite gives a new row a rowid larger than any in the table and no other
        writer can add rows meanwhile (sqlite.org/autoinc.html)."""
        if not rows:
            return []
        if not connection.in_transaction:
            raise RuntimeError("SqliteRows.insert needs an open write transaction")
        bound = self.bound(rows)
        before = connection.execute(self._max_id).fetchone()[0] or 0
        at = 0
        while at < len(bound):
            size = next(size for size in _CHUNKS if size <= len(bound) - at)
            connection.execute(self._inserts[size], [value for row in bound[at:at + size] for value in row])
            at += size
        low, high, count = connection.execute(self._new_span, (before,)).fetchone()
        if count == len(bound) and count == high - low + 1:
            return list(range(low, high + 1))  # every row went in, in order: the usual case
        # Some rows were skipped (resends): which ones, from the new rows' unique values.
        new = connection.execute(self._new_rows, (before,)).fetchall()
        ids: list[int | None] = []
        taken = 0
        for values in bound:
            # The new rows are the inserted ones, in insert order. A row whose unique columns are
            # all set was skipped unless the next new row carries its values; NULLs never conflict.
            key = tuple(values[i] for i in self._unique_at)
            if taken < len(new) and (None in key or tuple(new[taken][1:]) == key):
                ids.append(new[taken][0])
                taken += 1
            else:
                ids.append(None)
        if taken != len(new) or (not self.unique and None in ids):
            raise RuntimeError(f"rows inserted into {self.table.name} do not match the batch")
        return ids


def result_processors(table: Table, dialect: Dialect, columns: Sequence[str]) -> tuple[Processor, ...]:
    """What turns each stored value of ``columns`` back into its Python value (as SQLAlchemy does)."""
    return tuple(table.c[name].type.dialect_impl(dialect).result_processor(dialect, None) for name in columns)


def loaded(row: Sequence[Any], processors: Sequence[Processor]) -> tuple[Any, ...]:
    return tuple(value if process is None or value is None else process(value)
                 for value, process in zip(row, processors, strict=True))
