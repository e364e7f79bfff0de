"""The one way to open a transaction: a unit of work that publishes its events after commit."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from madoguchi.bus.base import EventBus
from madoguchi.db.feed import FeedEvent, encode_topics
from madoguchi.kernel.clock import Clock
from madoguchi.kernel.events import Envelope, Event

logger = logging.getLogger(__name__)


@dataclass
class UnitOfWork:
    session: AsyncSession
    clock: Clock
    bus: EventBus
    events: list[Event] = field(default_factory=list)

    def emit(self, event: Event) -> None:
        """Queue an event; it is stored (if durable) in this transaction and published after commit."""
        self.events.append(event)

    async def commit(self) -> list[Envelope]:
        now = self.clock.now()
        stored: list[tuple[Event, FeedEvent | None]] = []
        for event in self.events:
            row = None
            if event.durable and event.audience:
                row = FeedEvent(type=event.type, topics=encode_topics(event.audience), data=event.data,
                                created_at=now)
                self.session.add(row)
            stored.append((event, row))
        await self.session.commit()
        envelopes = [
            Envelope(id=row.id if row is not None else None, type=e.type, data=e.data, audience=e.audience)
            for e, row in stored
        ]
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
    async def uow(self) -> AsyncIterator[UnitOfWork]:
        """Commit on a clean exit, roll back on an exception; nothing is half-written."""
        async with self.sessions() as session:
            work = UnitOfWork(session=session, clock=self.clock, bus=self.bus)
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
