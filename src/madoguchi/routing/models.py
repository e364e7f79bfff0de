from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from madoguchi.db.base import Base, BigId


class Queue(Base):
    __tablename__ = "queues"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    name_ja: Mapped[str | None] = mapped_column(String(120))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    service_level_s: Mapped[int] = mapped_column(Integer, default=60)
    offer_timeout_s: Mapped[int | None] = mapped_column(Integer)
    strategy: Mapped[str] = mapped_column(String(20), default="longest_idle")
    requirements: Mapped[list[Any]] = mapped_column(JSON, default=list)   # [{"skill", "min_level"}]
    relaxation: Mapped[list[Any]] = mapped_column(JSON, default=list)     # [{"after_s", "requirements", "scope"}]
    overflow: Mapped[list[Any]] = mapped_column(JSON, default=list)       # [{"when", "limit", "to_queue_id", "action"}]
    priority_step_s: Mapped[int] = mapped_column(Integer, default=60)
    sticky_window_s: Mapped[int | None] = mapped_column(Integer)
    wrap_up_limit_s: Mapped[int | None] = mapped_column(Integer)
    default_aht_s: Mapped[int] = mapped_column(Integer, default=300)
    hours: Mapped[dict[str, Any] | None] = mapped_column(JSON)             # weekly opening hours
    created_at: Mapped[datetime]


class QueueMember(Base):
    __tablename__ = "queue_members"

    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)


class Offer(Base):
    __tablename__ = "offers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id"))
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]

    # Exactly one pending offer per contact, enforced by the database itself.
    __table_args__ = (
        Index("uq_offers_pending_contact", "contact_id", unique=True,
              sqlite_where=text("state = 'pending'"), postgresql_where=text("state = 'pending'")),
    )
