"""Whole-table reads and writes for the full recompute, on the driver connection: PostgreSQL
``COPY … (FORMAT binary)`` parsed straight into numpy, SQLite cursors fetched in large pages. The
SQL is the same as the live worker's (reports/sources.py), so both read the same values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncConnection

from madoguchi.reports.columns import Ints

PAGE = 250_000
_PG_HEADER = 19  # signature (11) + flags (4) + header extension length (4), no extension


class _BinaryRows:
    """Parses a PostgreSQL binary COPY stream of rows of ``width`` non-null bigints as it arrives,
    a few megabytes at a time."""

    BATCH = 8 << 20

    def __init__(self, width: int) -> None:
        self.dtype = np.dtype([("n", ">i2"), *((f"c{i}", [("len", ">i4"), ("v", ">i8")]) for i in range(width))])
        self.width = width
        self.pending: list[bytes] = []
        self.pending_size = 0
        self.carry = b""
        self.header_seen = False
        self.parts: list[Ints] = []

    async def feed(self, chunk: bytes) -> None:
        self.pending.append(bytes(chunk))
        self.pending_size += len(chunk)
        if self.pending_size >= self.BATCH:
            self._parse()

    def _parse(self) -> None:
        data = self.carry + b"".join(self.pending)
        self.pending, self.pending_size = [], 0
        if not self.header_seen:
            if len(data) < _PG_HEADER:
                self.carry = data
                return
            data = data[_PG_HEADER:]
            self.header_seen = True
        rows = len(data) // self.dtype.itemsize
        if rows:
            view = np.frombuffer(data, dtype=self.dtype, count=rows)
            self.parts.append(np.stack([view[f"c{i}"]["v"].astype(np.int64) for i in range(self.width)], axis=1))
        self.carry = data[rows * self.dtype.itemsize:]

    def result(self) -> Ints:
        self._parse()
        # What is left is the trailer (-1 as int16).
        if self.carry not in (b"", b"\xff\xff"):
            raise ValueError("unexpected bytes at the end of the COPY stream")
        if not self.parts:
            return np.zeros((0, self.width), dtype=np.int64)
        return np.concatenate(self.parts)


async def _driver(conn: AsyncConnection) -> Any:
    raw = (await conn.get_raw_connection()).driver_connection
    if raw is None:
        raise RuntimeError("no driver connection")
    return raw


async def load_matrix(conn: AsyncConnection, sql: str, width: int) -> Ints:
    """Every row of ``sql`` (integer columns, no NULLs) as an (n, width) int64 matrix."""
    raw = await _driver(conn)
    if conn.dialect.name == "postgresql":
        columns = ", ".join(f"c{i}::bigint" for i in range(width))
        aliases = ", ".join(f"c{i}" for i in range(width))
        rows = _BinaryRows(width)
        await raw.copy_from_query(f"SELECT {columns} FROM ({sql}) AS q({aliases})", output=rows.feed,
                                  format="binary")
        return rows.result()
    cursor = await raw.execute(sql)
    parts: list[Ints] = []
    try:
        while page := await cursor.fetchmany(PAGE):
            parts.append(np.asarray(page, dtype=np.int64).reshape(len(page), width))
    finally:
        await cursor.close()
    return np.concatenate(parts) if parts else np.zeros((0, width), dtype=np.int64)


async def load_rows(conn: AsyncConnection, sql: str) -> list[Sequence[Any]]:
    raw = await _driver(conn)
    if conn.dialect.name == "postgresql":
        return [tuple(r) for r in await raw.fetch(sql)]
    cursor = await raw.execute(sql)
    try:
        return list(await cursor.fetchall())
    finally:
        await cursor.close()


async def write_rows(conn: AsyncConnection, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """Bulk insert (COPY on PostgreSQL) into an emptied table."""
    if not rows:
        return
    raw = await _driver(conn)
    if conn.dialect.name == "postgresql":
        await raw.copy_records_to_table(table, records=rows, columns=list(columns))
        return
    marks = ", ".join("?" for _ in columns)
    await raw.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
