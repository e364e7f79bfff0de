"""From a stored receipt to an email in a contact: parse, classify, screen, resolve the customer,
thread, open or continue the contact (and its case), queue it, and maybe acknowledge it."""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from madoguchi.channels.email import sla
from madoguchi.channels.email.charsets import has_japanese
from madoguchi.channels.email.directory import KIND, EmailEntryPoint, reply_token
from madoguchi.channels.email.headers import normalise_address
from madoguchi.channels.email.mime import ParsedEmail, clean, parse_message
from madoguchi.channels.email.models import EmailAttachment, EmailInbound, EmailMessage, EmailQueueSla, EmailThread
from madoguchi.channels.email.noise import AutoKind, classify, is_unanswerable
from madoguchi.channels.email.threading import find_contact, new_token
from madoguchi.contacts.actions import do_add_message, do_open_contact
from madoguchi.contacts.models import Case, Contact
from madoguchi.contacts.states import OPEN_STATES, ContactState
from madoguchi.customers.actions import do_resolve_identity, do_update_profile
from madoguchi.customers.models import Customer
from madoguchi.db.uow import UnitOfWork
from madoguchi.routing.actions import do_enqueue
from madoguchi.routing.models import Queue
from madoguchi.routing.policy import OpeningHours, hours_of

logger = logging.getLogger(__name__)

TIMELINE_CHARS = 20_000
#: States in which a new email joins the contact rather than opening another on the case.
CONTINUES = OPEN_STATES | {ContactState.ENDED}


@dataclass(frozen=True)
class IngestPolicy:
    sender_limit_per_hour: int
    first_response_s: int
    timezone: str


@dataclass(frozen=True)
class Ingested:
    status: str                      # processed | duplicate | suppressed
    contact: Contact | None = None
    email: EmailMessage | None = None
    new_case: bool = False
    acknowledge: bool = False        # the caller queues the auto-acknowledgement
    customer: Customer | None = None
    thread: EmailThread | None = None


@dataclass
class Batch:
    """Lookups shared by the messages of one transaction, loaded once per batch instead of once per
    message (they dominate the cost of ingesting a message). Holding the rows also keeps them in the
    session's identity map."""

    #: (entry point, dedupe key) → (email_messages id, contact id) of the email stored under it.
    dedupe: dict[tuple[int, str], tuple[int, int]] = field(default_factory=dict)
    sender_counts: Counter[tuple[int, str]] = field(default_factory=Counter)
    queues: dict[int, Queue | None] = field(default_factory=dict)
    targets: dict[int, float] = field(default_factory=dict)
    hours: dict[int, OpeningHours | None] = field(default_factory=dict)
    keep: list[object] = field(default_factory=list)


def dedupe_key(parsed: ParsedEmail, inbound: EmailInbound) -> str:
    return (parsed.message_id or f"sha256:{inbound.sha256}")[:998]


async def prepare_batch(uow: UnitOfWork, items: list[tuple[EmailInbound, ParsedEmail]]) -> Batch:
    batch = Batch()
    keys = {dedupe_key(parsed, inbound) for inbound, parsed in items}
    if keys:
        rows = await uow.session.execute(
            select(EmailMessage.entry_point_id, EmailMessage.dedupe_key, EmailMessage.id, EmailMessage.contact_id)
            .where(EmailMessage.dedupe_key.in_(keys)))
        for ep_id, key, email_id, contact_id in rows:
            batch.dedupe[(ep_id, key)] = (email_id, contact_id)
    senders = {s for s in (sender_of(p, i) for i, p in items) if s}
    if senders:
        since = uow.clock.now() - timedelta(hours=1)
        counts = await uow.session.execute(
            select(EmailMessage.entry_point_id, EmailMessage.from_addr, func.count(EmailMessage.id))
            .where(EmailMessage.from_addr.in_(senders), EmailMessage.created_at >= since,
                   EmailMessage.direction == "inbound")
            .group_by(EmailMessage.entry_point_id, EmailMessage.from_addr))
        for ep_id, sender, count in counts:
            batch.sender_counts[(ep_id, sender)] = count
    return batch


def sender_of(parsed: ParsedEmail, inbound: EmailInbound) -> str | None:
    return parsed.from_addr or normalise_address(inbound.mail_from)


def timeline_text(parsed: ParsedEmail) -> str:
    return (parsed.text.strip() or parsed.subject or "")[:TIMELINE_CHARS]


async def _customer(uow: UnitOfWork, sender: str | None, parsed: ParsedEmail) -> Customer:
    if sender is None:
        # Nobody to reply to and no identity to resolve: a customer of its own, found by the contact.
        now = uow.clock.now()
        customer = Customer(display_name=parsed.from_name, attributes={}, created_at=now, updated_at=now)
        uow.session.add(customer)
        await uow.session.flush()
        return customer
    customer, _ = await do_resolve_identity(uow, kind="email", address=sender, display_name=parsed.from_name)
    do_update_profile(uow, customer=customer, email=sender)
    if customer.language is None:
        customer.language = language_of(parsed)
    return customer


def language_of(parsed: ParsedEmail) -> str:
    """The language a customer first writes in, for their profile (and the acknowledgement's)."""
    return "ja" if has_japanese(parsed.subject + parsed.text[:2000]) else "en"


async def queue_of(uow: UnitOfWork, batch: Batch, ep: EmailEntryPoint, policy: IngestPolicy) -> Queue | None:
    if ep.queue_id is None:
        return None
    if ep.queue_id not in batch.queues:
        queue = await uow.session.get(Queue, ep.queue_id)
        own = await uow.session.get(EmailQueueSla, ep.queue_id)
        batch.queues[ep.queue_id] = queue
        batch.targets[ep.queue_id] = float(own.first_response_s if own else policy.first_response_s)
        batch.hours[ep.queue_id] = hours_of(queue) if queue is not None else None
        batch.keep.extend([queue, own])
    return batch.queues[ep.queue_id]


async def _open(uow: UnitOfWork, *, ep: EmailEntryPoint, customer: Customer, parsed: ParsedEmail,
                case_id: int | None, policy: IngestPolicy, batch: Batch) -> tuple[Contact, EmailThread]:
    contact = await do_open_contact(uow, customer_id=customer.id, channel_kind=KIND, entry_point_id=ep.id,
                                    subject=(parsed.subject or "(no subject)")[:300], customer_topic=None,
                                    case_id=case_id)
    queue = await queue_of(uow, batch, ep, policy)
    due = first_response_due(contact.created_at, queue, batch=batch, policy=policy)
    thread = EmailThread(contact_id=contact.id, entry_point_id=ep.id, reply_token=new_token(),
                         first_response_due_at=due)
    uow.session.add(thread)
    if queue is not None:
        do_enqueue(uow, contact=contact, queue=queue)
    return contact, thread


def inbound_values(*, inbound: EmailInbound, ep: EmailEntryPoint, contact_id: int, message_row_id: int,
                   parsed: ParsedEmail, sender: str | None, auto_kind: AutoKind | None, dedupe_key: str,
                   now: datetime) -> dict[str, Any]:
    """The email_messages columns of a received email (the ORM and the batch writer share it)."""
    return dict(
        contact_id=contact_id, message_row_id=message_row_id, entry_point_id=ep.id, direction="inbound",
        message_id=parsed.message_id, dedupe_key=dedupe_key[:998], in_reply_to=parsed.in_reply_to,
        references=parsed.references, subject=parsed.subject, from_addr=sender or "", from_name=parsed.from_name,
        to_addrs=parsed.to, cc_addrs=parsed.cc, bcc_addrs=[], reply_to=parsed.reply_to, sent_date=parsed.date,
        text_body=parsed.text, html_body=parsed.html, charset=parsed.charset,
        auto_kind=auto_kind.value if auto_kind else None, defects=parsed.defects[:50],
        parse_error=parsed.parse_error, inbound_id=inbound.id, created_at=now)


def attachment_values(email_message_id: int, parsed: ParsedEmail) -> list[dict[str, Any]]:
    return [dict(email_message_id=email_message_id, filename=part.filename, content_type=part.content_type,
                 size=len(part.data), content_id=part.content_id, disposition=part.disposition,
                 sha256=hashlib.sha256(part.data).hexdigest(), data=part.data) for part in parsed.attachments]


def first_response_due(created_at: datetime, queue: Queue | None, *, batch: Batch, policy: IngestPolicy) -> datetime:
    if queue is None:
        return sla.due_at(created_at, policy.first_response_s, None, ZoneInfo(policy.timezone))
    seconds = batch.targets.get(queue.id, float(policy.first_response_s))
    return sla.due_at(created_at, seconds, batch.hours.get(queue.id), ZoneInfo(policy.timezone))


async def _store_email(uow: UnitOfWork, *, inbound: EmailInbound, ep: EmailEntryPoint, contact: Contact,
                       parsed: ParsedEmail, sender: str | None, auto_kind: AutoKind | None,
                       dedupe_key: str) -> EmailMessage:
    message = await do_add_message(uow, contact=contact, kind="text", author_kind="customer",
                                   body=timeline_text(parsed))
    row = EmailMessage(**inbound_values(inbound=inbound, ep=ep, contact_id=contact.id, message_row_id=message.id,
                                        parsed=parsed, sender=sender, auto_kind=auto_kind, dedupe_key=dedupe_key,
                                        now=uow.clock.now()))
    uow.session.add(row)
    await uow.session.flush()
    for values in attachment_values(row.id, parsed):
        uow.session.add(EmailAttachment(**values))
    return row


def finish(uow: UnitOfWork, inbound: EmailInbound, status: str, *, reason: str | None = None,
           email_id: int | None = None, contact_id: int | None = None) -> None:
    inbound.status = status
    inbound.reason = reason
    inbound.email_message_id = email_id
    inbound.contact_id = contact_id
    inbound.processed_at = uow.clock.now()


@dataclass(frozen=True)
class Admitted:
    """A receipt that passed screening: it opens or joins a contact."""

    inbound: EmailInbound
    parsed: ParsedEmail
    ep: EmailEntryPoint
    sender: str | None
    auto_kind: AutoKind | None
    key: str


def screen(uow: UnitOfWork, *, inbound: EmailInbound, ep: EmailEntryPoint, policy: IngestPolicy,
           parsed: ParsedEmail, batch: Batch) -> Admitted | Ingested:
    """Duplicate, blocked, rate-limited (finished here, no contact) or admitted. Counts an admitted
    message against its sender's hourly limit."""
    key = dedupe_key(parsed, inbound)
    earlier = batch.dedupe.get((ep.id, key))
    if earlier is not None:
        finish(uow, inbound, "duplicate", email_id=earlier[0], contact_id=earlier[1])
        return Ingested("duplicate")
    sender = sender_of(parsed, inbound)
    if ep.settings.blocks(sender):
        finish(uow, inbound, "suppressed", reason="blocked")
        return Ingested("suppressed")
    if sender is not None:
        if batch.sender_counts[(ep.id, sender)] >= policy.sender_limit_per_hour:
            finish(uow, inbound, "suppressed", reason="rate_limited")
            return Ingested("suppressed")
        batch.sender_counts[(ep.id, sender)] += 1
    return Admitted(inbound, parsed, ep, sender, classify(parsed, mail_from=inbound.mail_from), key)


def should_acknowledge(item: Admitted) -> bool:
    """For a message that opened a new case: not noise, not broken, not from a robot or ourselves."""
    sender = item.sender
    return (item.ep.settings.auto_ack and item.auto_kind is None and item.parsed.parse_error is None
            and not is_unanswerable(sender) and sender not in item.ep.addresses
            and reply_token(sender or "") is None)


async def do_ingest(uow: UnitOfWork, *, inbound: EmailInbound, ep: EmailEntryPoint, policy: IngestPolicy,
                    parsed: ParsedEmail | None = None, batch: Batch | None = None) -> Ingested:
    """Process one stored receipt. Idempotent on the Message-ID (else the bytes' hash) per entry point.
    ``batch`` carries lookups shared with the other receipts of the transaction (prepare_batch)."""
    parsed = parsed or parse_message(inbound.raw)
    batch = batch or await prepare_batch(uow, [(inbound, parsed)])
    item = screen(uow, inbound=inbound, ep=ep, policy=policy, parsed=parsed, batch=batch)
    if isinstance(item, Ingested):
        return item
    return await do_ingest_admitted(uow, item=item, policy=policy, batch=batch)


async def do_ingest_admitted(uow: UnitOfWork, *, item: Admitted, policy: IngestPolicy, batch: Batch) -> Ingested:
    """Thread an admitted message into its contact (or open one) with the ORM, one message at a time."""
    inbound, ep, parsed, sender, auto_kind, key = (item.inbound, item.ep, item.parsed, item.sender,
                                                   item.auto_kind, item.key)
    customer = await _customer(uow, sender, parsed)
    recipients = [*inbound.rcpt_to, *parsed.to, *parsed.cc]
    contact = await find_contact(uow, entry_point_id=ep.id, recipients=[_bare(r) for r in recipients],
                                 parsed=parsed, customer_id=customer.id)
    new_case = contact is None
    thread = None
    if contact is None:
        contact, thread = await _open(uow, ep=ep, customer=customer, parsed=parsed, case_id=None, policy=policy,
                                      batch=batch)
    elif contact.state not in CONTINUES:
        case = await uow.session.get(Case, contact.case_id, with_for_update=True)
        if case is not None and case.status != "open":
            case.status, case.resolved_at = "open", None
        contact, thread = await _open(uow, ep=ep, customer=customer, parsed=parsed, case_id=contact.case_id,
                                      policy=policy, batch=batch)
    email = await _store_email(uow, inbound=inbound, ep=ep, contact=contact, parsed=parsed, sender=sender,
                               auto_kind=auto_kind, dedupe_key=key)
    batch.dedupe[(ep.id, key)] = (email.id, contact.id)
    finish(uow, inbound, "processed", email_id=email.id, contact_id=contact.id)
    return Ingested("processed", contact=contact, email=email, new_case=new_case,
                    acknowledge=new_case and should_acknowledge(item), customer=customer, thread=thread)


def _bare(address: str) -> str:
    """``"Name" <a@b>`` → ``a@b`` (parsed To/Cc keep display names for the desktop)."""
    if "<" in address and address.endswith(">"):
        return address.rpartition("<")[2][:-1]
    return address


async def do_record_failure(uow: UnitOfWork, *, inbound: EmailInbound, ep: EmailEntryPoint, policy: IngestPolicy,
                            error: str) -> Ingested:
    """Processing raised: the message still becomes a contact carrying the raw text and the error, so
    it is seen and can be answered; nothing is dropped."""
    parsed = ParsedEmail(parse_error=clean(error[:1000]), subject="", text=clean(
        inbound.raw[:TIMELINE_CHARS].decode("utf-8", errors="replace")))
    sender = normalise_address(inbound.mail_from)
    customer = await _customer(uow, sender, parsed)
    contact, _ = await _open(uow, ep=ep, customer=customer, parsed=parsed, case_id=None, policy=policy,
                             batch=Batch())
    email = await _store_email(uow, inbound=inbound, ep=ep, contact=contact, parsed=parsed, sender=sender,
                               auto_kind=None, dedupe_key=f"failed:{inbound.id}")
    finish(uow, inbound, "failed", email_id=email.id, contact_id=contact.id)
    inbound.error = clean(error[:2000])
    return Ingested("processed", contact=contact, email=email, new_case=True)
