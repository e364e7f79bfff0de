"""Leases for singletons (router, timers). PostgreSQL: a session advisory lock held on its own
connection, released by the server when the holder dies. SQLite: the embedded default is one
instance, so the lease is always granted."""

from __future__ import annotations

import contextlib
import zlib

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


class Lease:
    def __init__(self, engine: AsyncEngine, name: str) -> None:
        self.engine = engine
        self.name = name
        self.key = zlib.crc32(name.encode()) & 0x7FFFFFFF
        self._conn: AsyncConnection | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None or self.engine.dialect.name != "postgresql"

    async def try_acquire(self) -> bool:
        if self.engine.dialect.name != "postgresql":
            return True
        if self._conn is not None:
            try:
                await self._conn.execute(text("SELECT 1"))
                return True
            except Exception:
                await self.release()
                return False
        conn = await self.engine.connect()
        got = (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key})).scalar()
        await conn.commit()
        if got:
            self._conn = conn
            return True
        await conn.close()
        return False

    async def release(self) -> None:
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        try:
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            await conn.commit()
        except Exception:
            # The connection is gone (a database restart or failover), and the lock went with it:
            # discard the connection rather than hand a dead one back to the pool.
            with contextlib.suppress(Exception):
                await conn.invalidate()
        finally:
            with contextlib.suppress(Exception):
                await conn.close()
