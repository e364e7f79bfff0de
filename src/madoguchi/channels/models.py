from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from madoguchi.db.base import Base


class EntryPoint(Base):
    __tablename__ = "entry_points"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    channel_kind: Mapped[str] = mapped_column(String(20))
    public_key: Mapped[str] = mapped_column(String(64), unique=True)
    secret: Mapped[str] = mapped_column(String(128))
    require_verified_identity: Mapped[bool] = mapped_column(Boolean, default=False)
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id"))
    settings: Mapped[dict[str, Any]]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class WidgetSession(Base):
    """One web-chat visitor on one entry point; the token (hashed here) lives in the browser."""

    __tablename__ = "widget_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_point_id: Mapped[int] = mapped_column(ForeignKey("entry_points.id"))
    visitor_id: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    verified: Mapped[bool] = mapped_column(default=False)   # opened with a signed site identity
    given_name: Mapped[str | None] = mapped_column(String(120))  # what this visitor typed, if anything
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]

    __table_args__ = (Index("ix_widget_sessions_visitor", "entry_point_id", "visitor_id"),)
