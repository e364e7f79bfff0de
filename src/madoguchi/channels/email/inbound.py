"""From a stored receipt to an email in a contact: parse, classify, screen, resolve the customer,
thread, open or continue the contact (and its case), queue it, and maybe acknowledge it."""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
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
from madoguchi.routing.policy import hours_of

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

    dedupe: dict[tuple[int, str], EmailMessage] = field(default_factory=dict)
    sender_counts: Counter[tuple[int, str]] = field(default_factory=Counter)
    queues: dict[int, Queue | None] = field(default_factory=dict)
    targets: dict[int, float] = field(default_factory=dict)
    keep: list[object] = field(default_factory=list)


def dedupe_key(parsed: ParsedEmail, inbound: EmailInbound) -> str:
    return (parsed.message_id or f"sha256:{inbound.sha256}")[:998]


async def prepare_batch(uow: UnitOfWork, items: list[tuple[EmailInbound, ParsedEmail]]) -> Batch:
    batch = Batch()
    keys = {dedupe_key(parsed, inbound) for inbound, parsed in items}
    if keys:
        for row in await uow.session.scalars(select(EmailMessage).where(EmailMessage.dedupe_key.in_(keys))):
            batch.dedupe[(row.entry_point_id, row.dedupe_key)] = row
    senders = {s for s in (_sender(p, i) for i, p in items) if s}
    if senders:
        since = uow.clock.now() - timedelta(hours=1)
        rows = await uow.session.execute(
            select(EmailMessage.entry_point_id, EmailMessage.from_addr, func.count(EmailMessage.id))
            .where(EmailMessage.from_addr.in_(senders), EmailMessage.created_at >= since,
                   EmailMessage.direction == "inbound")
            .group_by(EmailMessage.entry_point_id, EmailMessage.from_addr))
        for ep_id, sender, count in rows:
            batch.sender_counts[(ep_id, sender)] = count
    return batch


def _sender(parsed: ParsedEmail, inbound: EmailInbound) -> str | None:
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
        customer.language = "ja" if has_japanese(parsed.subject + parsed.text[:2000]) else "en"
    return customer


async def _queue(uow: UnitOfWork, batch: Batch, ep: EmailEntryPoint, policy: IngestPolicy) -> Queue | None:
    if ep.queue_id is None:
        return None
    if ep.queue_id not in batch.queues:
        queue = await uow.session.get(Queue, ep.queue_id)
        own = await uow.session.get(EmailQueueSla, ep.queue_id)
        batch.queues[ep.queue_id] = queue
        batch.targets[ep.queue_id] = float(own.first_response_s if own else policy.first_response_s)
        batch.keep.extend([queue, own])
    return batch.queues[ep.queue_id]


async def _open(uow: UnitOfWork, *, ep: EmailEntryPoint, customer: Customer, parsed: ParsedEmail,
                case_id: int | None, policy: IngestPolicy, batch: Batch) -> tuple[Contact, EmailThread]:
    contact = await do_open_contact(uow, customer_id=customer.id, channel_kind=KIND, entry_point_id=ep.id,
                                    subject=(parsed.subject or "(no subject)")[:300], customer_topic=None,
                                    case_id=case_id)
    queue = await _queue(uow, batch, ep, policy)
    seconds = batch.targets.get(queue.id, float(policy.first_response_s)) if queue else policy.first_response_s
    hours = hours_of(queue) if queue is not None else None
    due = sla.due_at(contact.created_at, seconds, hours, ZoneInfo(policy.timezone))
    thread = EmailThread(contact_id=contact.id, entry_point_id=ep.id, reply_token=new_token(),
                         first_response_due_at=due)
    uow.session.add(thread)
    if queue is not None:
        do_enqueue(uow, contact=contact, queue=queue)
    return contact, thread


async def _store_email(uow: UnitOfWork, *, inbound: EmailInbound, ep: EmailEntryPoint, contact: Contact,
                       parsed: ParsedEmail, sender: str | None, auto_kind: AutoKind | None,
                       dedupe_key: str) -> EmailMessage:
    message = await do_add_message(uow, contact=contact, kind="text", author_kind="customer",
                                   body=timeline_text(parsed))
    row = EmailMessage(
        contact_id=contact.id, message_row_id=message.id, entry_point_id=ep.id, direction="inbound",
        message_id=parsed.message_id, dedupe_key=dedupe_key[:998], in_reply_to=parsed.in_reply_to,
        references=parsed.references, subject=parsed.subject, from_addr=sender or "", from_name=parsed.from_name,
        to_addrs=parsed.to, cc_addrs=parsed.cc, bcc_addrs=[], reply_to=parsed.reply_to, sent_date=parsed.date,
        text_body=parsed.text, html_body=parsed.html, charset=parsed.charset,
        auto_kind=auto_kind.value if auto_kind else None, defects=parsed.defects[:50],
        parse_error=parsed.parse_error, inbound_id=inbound.id, created_at=uow.clock.now())
    uow.session.add(row)
    await uow.session.flush()
    for part in parsed.attachments:
        uow.session.add(EmailAttachment(
            email_message_id=row.id, filename=part.filename, content_type=part.content_type, size=len(part.data),
            content_id=part.content_id, disposition=part.disposition,
            sha256=hashlib.sha256(part.data).hexdigest(), data=part.data))
    return row


def _finish(uow: UnitOfWork, inbound: EmailInbound, status: str, *, reason: str | None = None,
            email: EmailMessage | None = None, contact_id: int | None = None) -> None:
    inbound.status = status
    inbound.reason = reason
    inbound.email_message_id = email.id if email else None
    inbound.contact_id = contact_id
    inbound.processed_at = uow.clock.now()


async def do_ingest(uow: UnitOfWork, *, inbound: EmailInbound, ep: EmailEntryPoint, policy: IngestPolicy,
                    parsed: ParsedEmail | None = None, batch: Batch | None = None) -> Ingested:
    """Process one stored receipt. Idempotent on the Message-ID (else the bytes' hash) per entry point.
    ``batch`` carries lookups shared with the other receipts of the transaction (prepare_batch)."""
    parsed = parsed or parse_message(inbound.raw)
    batch = batch or await prepare_batch(uow, [(inbound, parsed)])
    key = dedupe_key(parsed, inbound)
    earlier = batch.dedupe.get((ep.id, key))
    if earlier is not None:
        _finish(uow, inbound, "duplicate", email=earlier, contact_id=earlier.contact_id)
        return Ingested("duplicate", email=earlier)
    sender = _sender(parsed, inbound)
    auto_kind = classify(parsed, mail_from=inbound.mail_from)
    if ep.settings.blocks(sender):
        _finish(uow, inbound, "suppressed", reason="blocked")
        return Ingested("suppressed")
    if sender is not None:
        if batch.sender_counts[(ep.id, sender)] >= policy.sender_limit_per_hour:
            _finish(uow, inbound, "suppressed", reason="rate_limited")
            return Ingested("suppressed")
        batch.sender_counts[(ep.id, sender)] += 1
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
    batch.dedupe[(ep.id, key)] = email
    _finish(uow, inbound, "processed", email=email, contact_id=contact.id)
    acknowledge = (new_case and ep.settings.auto_ack and auto_kind is None and parsed.parse_error is None
                   and not is_unanswerable(sender) and sender not in ep.addresses and reply_token(sender or "") is None)
    return Ingested("processed", contact=contact, email=email, new_case=new_case, acknowledge=acknowledge,
                    customer=customer, thread=thread)


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
    _finish(uow, inbound, "failed", email=email, contact_id=contact.id)
    inbound.error = clean(error[:2000])
    return Ingested("processed", contact=contact, email=email, new_case=True)
