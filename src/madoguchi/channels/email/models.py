"""Email tables: raw receipts, parsed emails in contacts, attachments, threads, the outbox,
templates, IMAP mailboxes and per-queue first-response targets (docs/email.md)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from madoguchi.db.base import Base, BigId


class EmailInbound(Base):
    """One message as received, exact bytes, stored before anything reads it."""

    __tablename__ = "email_inbound"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entry_point_id: Mapped[int] = mapped_column(ForeignKey("entry_points.id"))
    source: Mapped[str] = mapped_column(String(8))                 # smtp | imap
    source_ref: Mapped[str | None] = mapped_column(String(120))    # imap:<uidvalidity>:<uid>
    mail_from: Mapped[str] = mapped_column(String(320))
    rcpt_to: Mapped[list[str]] = mapped_column(JSON)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12), index=True)    # received processed duplicate suppressed failed
    reason: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
    email_message_id: Mapped[int | None] = mapped_column(Integer)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("entry_point_id", "source_ref", name="uq_email_inbound_source_ref"),)


class EmailMessage(Base):
    """An email inside a contact, inbound or outbound; the timeline row is ``message_row_id``."""

    __tablename__ = "email_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    message_row_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    entry_point_id: Mapped[int] = mapped_column(ForeignKey("entry_points.id"))
    direction: Mapped[str] = mapped_column(String(8))              # inbound | outbound
    message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    dedupe_key: Mapped[str] = mapped_column(String(998))
    in_reply_to: Mapped[str | None] = mapped_column(Text)
    references: Mapped[list[str]] = mapped_column(JSON)
    subject: Mapped[str] = mapped_column(Text)
    from_addr: Mapped[str] = mapped_column(String(320))
    from_name: Mapped[str | None] = mapped_column(String(300))
    to_addrs: Mapped[list[str]] = mapped_column(JSON)
    cc_addrs: Mapped[list[str]] = mapped_column(JSON)
    bcc_addrs: Mapped[list[str]] = mapped_column(JSON)
    reply_to: Mapped[str | None] = mapped_column(String(320))
    sent_date: Mapped[datetime | None]
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    charset: Mapped[str | None] = mapped_column(String(40))
    auto_kind: Mapped[str | None] = mapped_column(String(16))
    defects: Mapped[list[str]] = mapped_column(JSON)
    parse_error: Mapped[str | None] = mapped_column(Text)
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("email_inbound.id"))
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("entry_point_id", "dedupe_key", name="uq_email_messages_dedupe"),
        Index("ix_email_messages_sender_time", "from_addr", "created_at"),
    )


class EmailAttachment(Base):
    __tablename__ = "email_attachments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    email_message_id: Mapped[int] = mapped_column(ForeignKey("email_messages.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    content_id: Mapped[str | None] = mapped_column(String(255))
    disposition: Mapped[str] = mapped_column(String(12))           # attachment | inline
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class EmailThread(Base):
    """The email side of a contact: its reply address token and first-response clock."""

    __tablename__ = "email_threads"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    entry_point_id: Mapped[int] = mapped_column(ForeignKey("entry_points.id"))
    reply_token: Mapped[str] = mapped_column(String(40), unique=True)
    first_response_due_at: Mapped[datetime | None]
    first_responded_at: Mapped[datetime | None]


class EmailOutbox(Base):
    """A message to hand to the relay, built once so every attempt sends the same bytes."""

    __tablename__ = "email_outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    email_message_id: Mapped[int] = mapped_column(ForeignKey("email_messages.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    kind: Mapped[str] = mapped_column(String(12))                  # reply | auto_ack
    status: Mapped[str] = mapped_column(String(10))                # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    mail_from: Mapped[str] = mapped_column(String(320))
    rcpt_to: Mapped[list[str]] = mapped_column(JSON)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_email_outbox_due", "status", "next_attempt_at"),)


class EmailTemplate(Base):
    """A canned response in one language; ``{variables}`` are filled per contact."""

    __tablename__ = "email_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    language: Mapped[str] = mapped_column(String(5))
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("name", "language", name="uq_email_templates_name_language"),)


class EmailMailbox(Base):
    """An IMAP mailbox polled for an email entry point, with how far the poller got."""

    __tablename__ = "email_mailboxes"

    entry_point_id: Mapped[int] = mapped_column(ForeignKey("entry_points.id"), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    security: Mapped[str] = mapped_column(String(10))              # ssl | starttls | none
    username: Mapped[str] = mapped_column(String(255))
    password: Mapped[str] = mapped_column(String(500))
    folder: Mapped[str] = mapped_column(String(255), default="INBOX")
    processed_folder: Mapped[str | None] = mapped_column(String(255))
    uidvalidity: Mapped[int | None] = mapped_column(BigId)
    last_uid: Mapped[int] = mapped_column(BigId, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_polled_at: Mapped[datetime | None]


class EmailQueueSla(Base):
    __tablename__ = "email_queue_sla"

    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True)
    first_response_s: Mapped[int] = mapped_column(Integer)
