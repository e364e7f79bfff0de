"""The realtime feed: durable events kept for a while so reconnecting clients can resume.

One row per event; ``topics`` holds the audience as `` topic1 topic2 `` (space-delimited with a
leading and trailing space) so a replay can filter with LIKE without a join.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from madoguchi.db.base import Base, BigId
from madoguchi.kernel.events import Envelope


class FeedEvent(Base):
    __tablename__ = "realtime_feed"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(64))
    topics: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]

    __table_args__ = (Index("ix_realtime_feed_created_at", "created_at"),)


def encode_topics(topics: tuple[str, ...]) -> str:
    return " " + " ".join(topics) + " "


async def replay(session: AsyncSession, topics: tuple[str, ...], after_id: int, limit: int) -> list[Envelope]:
    """Durable events after ``after_id`` for any of ``topics``, oldest first."""
    if not topics:
        return []
    stmt = (
        select(FeedEvent)
        .where(FeedEvent.id > after_id, or_(*[FeedEvent.topics.contains(f" {t} ") for t in topics]))
        .order_by(FeedEvent.id)
        .limit(limit)
    )
    rows = (await session.scalars(stmt)).all()
    return [Envelope(id=r.id, type=r.type, data=r.data, audience=tuple(r.topics.split())) for r in rows]


async def latest_id(session: AsyncSession) -> int:
    value = await session.scalar(select(FeedEvent.id).order_by(FeedEvent.id.desc()).limit(1))
    return int(value or 0)


async def prune(session: AsyncSession, before: datetime) -> int:
    result = await session.execute(delete(FeedEvent).where(FeedEvent.created_at < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
