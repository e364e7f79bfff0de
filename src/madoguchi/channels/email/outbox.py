"""The durable outbox: a message is written (with its exact bytes) in the transaction that decides
to send it; the delivery worker hands it to the relay, retries with backoff, and tells the agent
when it finally fails."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from madoguchi.channels.email.directory import EmailEntryPoint
from madoguchi.channels.email.models import EmailAttachment, EmailMessage, EmailOutbox
from madoguchi.channels.email.outbound import Built, Outgoing, build
from madoguchi.contacts import events as contact_events
from madoguchi.contacts.actions import do_add_message
from madoguchi.contacts.models import Contact, Message
from madoguchi.db.uow import UnitOfWork
from madoguchi.identity.models import User
from madoguchi.kernel.events import Event

#: Published on the bus (to no client) when something waits in the outbox; wakes the delivery worker.
OUTBOX_QUEUED = "email.outbox_queued"
DELIVERY_CHANGED = "email.delivery_changed"
MAX_BACKOFF_S = 3600.0


def delivery_changed(contact: Contact, *, email_message_id: int, status: str, error: str | None) -> Event:
    return Event(DELIVERY_CHANGED, {"contact_id": contact.id, "email_message_id": email_message_id,
                                    "status": status, "error": error},
                 contact_events.audience(contact, customer=False))


def outbound_values(*, contact_id: int, ep: EmailEntryPoint, out: Outgoing, built: Built, author_id: int | None,
                    message_row_id: int | None, now: datetime) -> dict[str, Any]:
    """The email_messages columns of a built outgoing message (the ORM and the batch writer share it)."""
    return dict(
        contact_id=contact_id, message_row_id=message_row_id, entry_point_id=ep.id, direction="outbound",
        message_id=built.message_id, dedupe_key=built.message_id, in_reply_to=out.in_reply_to,
        references=built.references, subject=out.subject, from_addr=out.from_addr, from_name=out.from_name,
        to_addrs=out.to, cc_addrs=out.cc, bcc_addrs=out.bcc, reply_to=out.reply_to, sent_date=out.date,
        text_body=out.text, html_body=built.html, charset="utf-8",
        auto_kind="auto_reply" if out.auto_submitted else None, defects=[], parse_error=None,
        author_user_id=author_id, created_at=now)


def outbox_values(*, email_message_id: int, contact_id: int, kind: str, out: Outgoing, built: Built,
                  now: datetime) -> dict[str, Any]:
    return dict(email_message_id=email_message_id, contact_id=contact_id, kind=kind, status="pending", attempts=0,
                next_attempt_at=now, mail_from=out.from_addr, rcpt_to=sorted({*out.to, *out.cc, *out.bcc}),
                raw=built.raw, created_at=now)


async def do_queue_email(uow: UnitOfWork, *, contact: Contact, ep: EmailEntryPoint, out: Outgoing, kind: str,
                         author: User | None, timeline: Message | None = None) -> EmailMessage:
    """Build the message once, store it as an outbound email of the contact and put it in the outbox.
    ``timeline`` is the contact's message row for it (an agent's reply); an automatic message has none
    (the desktop shows it in the email thread)."""
    built = build(out)
    now = uow.clock.now()
    row = EmailMessage(**outbound_values(contact_id=contact.id, ep=ep, out=out, built=built,
                                         author_id=author.id if author else None,
                                         message_row_id=timeline.id if timeline else None, now=now))
    uow.session.add(row)
    await uow.session.flush()
    for attachment in out.attachments:
        uow.session.add(EmailAttachment(
            email_message_id=row.id, filename=attachment.filename, content_type=attachment.content_type,
            size=len(attachment.data), content_id=None, disposition="attachment",
            sha256=hashlib.sha256(attachment.data).hexdigest(), data=attachment.data))
    uow.session.add(EmailOutbox(**outbox_values(email_message_id=row.id, contact_id=contact.id, kind=kind, out=out,
                                                built=built, now=now)))
    uow.emit(Event(OUTBOX_QUEUED, {}, (), durable=False))
    return row


async def claim_due(uow: UnitOfWork, *, limit: int, lease_s: float, skip_locked: bool) -> list[EmailOutbox]:
    """Due rows, each pushed past ``lease_s`` and counted as an attempt, so a crash mid-send retries
    it later (the receiver sees the same Message-ID) and other instances leave it alone meanwhile."""
    now = uow.clock.now()
    stmt = (select(EmailOutbox).where(EmailOutbox.status == "pending", EmailOutbox.next_attempt_at <= now)
            .order_by(EmailOutbox.next_attempt_at, EmailOutbox.id).limit(limit))
    if skip_locked:
        stmt = stmt.with_for_update(skip_locked=True)
    rows = list((await uow.session.scalars(stmt)).all())
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = now + timedelta(seconds=lease_s)
    return rows


async def next_due(uow: UnitOfWork) -> datetime | None:
    due: datetime | None = await uow.session.scalar(
        select(EmailOutbox.next_attempt_at).where(EmailOutbox.status == "pending")
        .order_by(EmailOutbox.next_attempt_at).limit(1))
    return due


async def do_mark_sent(uow: UnitOfWork, *, outbox_id: int) -> None:
    row = await uow.session.get(EmailOutbox, outbox_id, with_for_update=True)
    if row is None or row.status != "pending":
        return
    row.status, row.sent_at, row.last_error = "sent", uow.clock.now(), None
    contact = await uow.session.get(Contact, row.contact_id)
    if contact is not None:
        uow.emit(delivery_changed(contact, email_message_id=row.email_message_id, status="sent", error=None))


def backoff_s(attempts: int, base_s: float) -> float:
    return float(min(base_s * 2.0 ** max(attempts - 1, 0), MAX_BACKOFF_S))


async def do_mark_attempt_failed(uow: UnitOfWork, *, outbox_id: int, error: str, permanent: bool,
                                 max_attempts: int, base_s: float) -> dict[str, Any]:
    """Schedule the next attempt, or give up: the agent then sees a system message and the status."""
    row = await uow.session.get(EmailOutbox, outbox_id, with_for_update=True)
    if row is None or row.status != "pending":
        return {}
    row.last_error = error[:2000]
    if not permanent and row.attempts < max_attempts:
        row.next_attempt_at = uow.clock.now() + timedelta(seconds=backoff_s(row.attempts, base_s))
        return {"status": "pending", "retry_at": row.next_attempt_at}
    row.status = "failed"
    contact = await uow.session.get(Contact, row.contact_id)
    if contact is not None:
        await do_add_message(uow, contact=contact, kind="system", author_kind="system", body="email.send_failed")
        uow.emit(delivery_changed(contact, email_message_id=row.email_message_id, status="failed",
                                  error=row.last_error))
    return {"status": "failed"}
