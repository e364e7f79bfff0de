from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from madoguchi.db.base import Base, BigId


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), default="open")
    priority: Mapped[int] = mapped_column(Integer, default=0)
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class Disposition(Base):
    __tablename__ = "dispositions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    label_en: Mapped[str] = mapped_column(String(120))
    label_ja: Mapped[str] = mapped_column(String(120))
    resolves_case: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    channel_kind: Mapped[str] = mapped_column(String(20))
    direction: Mapped[str] = mapped_column(String(10), default="inbound")
    entry_point_id: Mapped[int | None] = mapped_column(ForeignKey("entry_points.id"))
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # A transfer to a named agent: only that agent is offered the contact while it waits.
    target_agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", name="fk_contacts_target_agent_id_users"))
    state: Mapped[str] = mapped_column(String(20), index=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    subject: Mapped[str | None] = mapped_column(String(300))
    disposition_id: Mapped[int | None] = mapped_column(ForeignKey("dispositions.id"))
    wrap_up_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    enqueued_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    wrapped_up_at: Mapped[datetime | None]
    ended_by: Mapped[str | None] = mapped_column(String(20))
    # Where the customer listens live (e.g. ``visitor:12`` for a web-chat session), set by the channel.
    customer_topic: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_contacts_queue_state", "queue_id", "state"),)


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # No index of its own: uq_messages_client_msg leads with contact_id (migration 0010).
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    kind: Mapped[str] = mapped_column(String(16))
    author_kind: Mapped[str] = mapped_column(String(16))
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    client_msg_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("contact_id", "client_msg_id", name="uq_messages_client_msg"),)


class ContactEvent(Base):
    """Append-only facts with a time; every KPI is computed from these (KPI.md)."""

    __tablename__ = "contact_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    data: Mapped[dict[str, Any]]

    __table_args__ = (Index("ix_contact_events_at", "at"),)
