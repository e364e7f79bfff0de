"""The one way to open a transaction: a unit of work that publishes its events after commit."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from madoguchi.bus.base import EventBus
from madoguchi.db.bulk import insert_returning_ids
from madoguchi.db.feed import FeedEvent, encode_topics
from madoguchi.kernel.clock import Clock
from madoguchi.kernel.events import Envelope, Event

logger = logging.getLogger(__name__)

FEED_TABLE = cast(Table, FeedEvent.__table__)

#: Advisory lock key for feed id order (any constant unique among this app's advisory locks).
FEED_LOCK_KEY = 0x6D64_6700


def stored(event: Event) -> bool:
    """Whether the event goes into the realtime feed (durable, and someone to hear it)."""
    return event.durable and bool(event.audience)


def feed_rows(events: list[Event], now: datetime) -> list[dict[str, Any]]:
    """The feed rows of ``events``, in order (columns ``type, topics, data, created_at``)."""
    return [{"type": e.type, "topics": encode_topics(e.audience), "data": e.data, "created_at": now}
            for e in events if stored(e)]


def enveloped(events: list[Event], feed_ids: list[int]) -> list[Envelope]:
    """``events`` as they are published, with the ids their feed rows got (``feed_rows`` order)."""
    ids = iter(feed_ids)
    return [Envelope(id=next(ids) if stored(e) else None, type=e.type, data=e.data, audience=e.audience)
            for e in events]


@dataclass
class UnitOfWork:
    session: AsyncSession
    clock: Clock
    bus: EventBus
    events: list[Event] = field(default_factory=list)
    serialise_feed: bool = False

    def emit(self, event: Event) -> None:
        """Queue an event; it is stored (if durable) in this transaction and published after commit."""
        self.events.append(event)

    async def commit(self) -> list[Envelope]:
        now = self.clock.now()
        if self.serialise_feed and any(stored(e) for e in self.events):
            # Feed ids must be handed out in commit order, or a resuming client could skip an event
            # that committed after a higher id it had already seen. A transaction-scoped advisory lock
            # taken just before the feed insert serialises only that last step. (SQLite has a
            # single writer, so its ids are in commit order already.)
            await self.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": FEED_LOCK_KEY})
        rows = feed_rows(self.events, now)
        ids: list[int] = []
        if rows:
            # One multi-row INSERT for the transaction's events; ids in the order they were emitted.
            ids = await insert_returning_ids(self.session, FEED_TABLE, rows)
        await self.session.commit()
        envelopes = enveloped(self.events, ids)
        self.events = []
        for envelope in envelopes:
            await self.bus.publish(envelope)
        return envelopes


@dataclass
class Database:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    bus: EventBus

    @asynccontextmanager
    async def uow(self, *, bind: AsyncConnection | None = None) -> AsyncIterator[UnitOfWork]:
        """Commit on a clean exit, roll back on an exception; nothing is half-written. ``bind``: a
        connection the caller holds (the transaction is still this unit's own), instead of one
        checked out of the pool for it."""
        async with self.sessions(bind=bind) if bind is not None else self.sessions() as session:
            work = UnitOfWork(session=session, clock=self.clock, bus=self.bus,
                              serialise_feed=self.engine.dialect.name == "postgresql")
            try:
                yield work
            except BaseException:
                await session.rollback()
                raise
            if session.in_transaction() or work.events:
                await work.commit()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session
