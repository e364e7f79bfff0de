"""Engine and session factory. SQLite runs in WAL mode with a busy timeout."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from madoguchi.db import sqlite_driver
from madoguchi.kernel import jsontext


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    kwargs.setdefault("json_serializer", jsontext.dumps)  # the realtime feed writes one per event
    if url.startswith("sqlite"):
        engines: list[AsyncEngine] = []

        def connect() -> Any:
            # The dialect works out sqlite3.connect's arguments from the URL, as without a creator.
            args, params = engines[0].sync_engine.dialect.create_connect_args(engines[0].sync_engine.url)
            return sqlite_driver.connect(*args, **{**params, "timeout": 30})

        engine = create_async_engine(url, async_creator=connect, **kwargs)
        engines.append(engine)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable across application crashes in WAL mode; only power loss can lose
            # the last transactions.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    kwargs.setdefault("pool_size", 20)
    kwargs.setdefault("max_overflow", 20)
    # Pre-ping costs a round trip per checkout (one per group commit on the chat path, so little per
    # message), and in exchange a connection the database dropped (restart, failover) is replaced
    # before use instead of failing a request.
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)
