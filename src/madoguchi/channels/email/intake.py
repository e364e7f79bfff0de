"""The batch writer for emails that open a new thread: customers, identities, cases, contacts,
contact events, email threads, timeline messages, emails, attachments and acknowledgements of a
whole batch, written with one multi-row statement per table instead of a dozen statements per email.

It writes exactly the rows (and emits exactly the events) that the one-at-a-time ORM path
(inbound.do_ingest_admitted, actions.do_auto_ack) writes for a new thread; the column values come
from the same helpers. Emails that may continue a contact take that ORM path."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update

from madoguchi.channels.email.actions import AckFacts, acknowledgement, cached_template
from madoguchi.channels.email.inbound import (
    Admitted,
    Batch,
    IngestPolicy,
    attachment_values,
    finish,
    first_response_due,
    inbound_values,
    language_of,
    queue_of,
    should_acknowledge,
    timeline_text,
)
from madoguchi.channels.email.models import EmailAttachment, EmailMessage, EmailOutbox, EmailTemplate, EmailThread
from madoguchi.channels.email.outbound import build
from madoguchi.channels.email.outbox import OUTBOX_QUEUED, outbound_values, outbox_values
from madoguchi.channels.email.threading import new_token
from madoguchi.contacts import events
from madoguchi.contacts.models import Case, Contact, ContactEvent, Message
from madoguchi.contacts.states import ContactState, Move, move
from madoguchi.customers.models import Customer, Identity
from madoguchi.db.bulk import insert_returning_ids
from madoguchi.db.uow import UnitOfWork
from madoguchi.kernel.events import Event

CUSTOMERS = cast(Table, Customer.__table__)
IDENTITIES = cast(Table, Identity.__table__)
CASES = cast(Table, Case.__table__)
CONTACTS = cast(Table, Contact.__table__)
CONTACT_EVENTS = cast(Table, ContactEvent.__table__)
MESSAGES = cast(Table, Message.__table__)
EMAILS = cast(Table, EmailMessage.__table__)
ATTACHMENTS = cast(Table, EmailAttachment.__table__)
THREADS = cast(Table, EmailThread.__table__)
OUTBOX = cast(Table, EmailOutbox.__table__)


@dataclass
class CustomerFacts:
    id: int
    display_name: str | None
    email: str | None
    language: str | None


async def _known_customers(uow: UnitOfWork, senders: set[str]) -> dict[str, CustomerFacts]:
    """Sender address → the customer behind its email identity (after merges, one hop deep)."""
    if not senders:
        return {}
    columns = (Customer.id, Customer.merged_into_id, Customer.display_name, Customer.email, Customer.language)
    rows = (await uow.session.execute(select(Identity.address, *columns)
                                      .join(Customer, Customer.id == Identity.customer_id)
                                      .where(Identity.kind == "email", Identity.address.in_(senders)))).all()
    merged_into = {row.merged_into_id for row in rows if row.merged_into_id is not None}
    roots = {}
    if merged_into:
        roots = {r.id: r for r in (await uow.session.execute(select(*columns).where(Customer.id.in_(merged_into))))}
    found = {}
    for row in rows:
        root = roots.get(row.merged_into_id, row) if row.merged_into_id is not None else row
        found[row.address] = CustomerFacts(root.id, root.display_name, root.email, root.language)
    return found


async def _customers(uow: UnitOfWork, items: list[Admitted], now: datetime) -> list[CustomerFacts]:
    """The customer of each item: found by the sender's identity, else created with it; completed
    with the sender's name, address and language where the profile lacks them (as do_ingest does)."""
    known = await _known_customers(uow, {i.sender for i in items if i.sender})
    changed: dict[int, CustomerFacts] = {}
    fresh: list[tuple[str | None, dict[str, Any]]] = []
    creating: set[str] = set()
    for item in items:
        customer = known.get(item.sender) if item.sender else None
        if customer is not None:
            customer.display_name = customer.display_name or item.parsed.from_name
            customer.email = customer.email or item.sender
            customer.language = customer.language or language_of(item.parsed)
            changed[customer.id] = customer   # updated_at moves on every email, as do_update_profile does
        elif item.sender is None or item.sender not in creating:
            # A sender without an address gets a customer of its own and no identity.
            if item.sender is not None:
                creating.add(item.sender)
            fresh.append((item.sender, dict(
                display_name=item.parsed.from_name, email=item.sender, phone=None,
                language=language_of(item.parsed) if item.sender else None, attributes={}, merged_into_id=None,
                created_at=now, updated_at=now)))
    if changed:
        await uow.session.execute(
            update(CUSTOMERS).where(CUSTOMERS.c.id == bindparam("b_id")).values(
                display_name=bindparam("b_name"), email=bindparam("b_email"), language=bindparam("b_language"),
                updated_at=bindparam("b_updated")),
            [{"b_id": c.id, "b_name": c.display_name, "b_email": c.email, "b_language": c.language,
              "b_updated": now} for c in changed.values()])
    ids = await insert_returning_ids(uow.session, CUSTOMERS, [values for _, values in fresh])
    created = [CustomerFacts(cid, v["display_name"], v["email"], v["language"])
               for cid, (_, v) in zip(ids, fresh, strict=True)]
    identities = [dict(customer_id=c.id, kind="email", address=sender, verified=False, created_at=now)
                  for c, (sender, _) in zip(created, fresh, strict=True) if sender is not None]
    if identities:
        await uow.session.execute(insert(IDENTITIES), identities)
    by_sender = {sender: c for c, (sender, _) in zip(created, fresh, strict=True) if sender is not None}
    anonymous = iter(c for c, (sender, _) in zip(created, fresh, strict=True) if sender is None)
    return [known.get(i.sender) or by_sender[i.sender] if i.sender else next(anonymous) for i in items]


async def do_open_threads(uow: UnitOfWork, items: list[Admitted], *, policy: IngestPolicy, batch: Batch,
                          templates: dict[tuple[str, str], EmailTemplate | None]) -> None:
    """Open a case and a queued contact for each admitted email that continues nothing (see
    threading.may_continue), store the email in it and acknowledge it where the entry point wants."""
    if not items:
        return
    now = uow.clock.now()
    customers = await _customers(uow, items, now)
    queues = [await queue_of(uow, batch, item.ep, policy) for item in items]
    subjects = [(item.parsed.subject or "(no subject)")[:300] for item in items]
    case_ids = await insert_returning_ids(uow.session, CASES, [
        dict(customer_id=c.id, subject=subject, status="open", priority=0, owner_user_id=None, created_at=now,
             resolved_at=None) for c, subject in zip(customers, subjects, strict=True)])
    rows = [dict(customer_id=customer.id, case_id=case_id, channel_kind="email", direction="inbound",
                 entry_point_id=item.ep.id, queue_id=queue.id if queue else None, agent_id=None,
                 state=move(ContactState.NEW, Move.QUEUE) if queue else ContactState.NEW, priority=0,
                 subject=subject, customer_topic=None, created_at=now, enqueued_at=now if queue else None)
            for item, customer, case_id, queue, subject in zip(items, customers, case_ids, queues, subjects,
                                                                strict=True)]
    contact_ids = await insert_returning_ids(uow.session, CONTACTS, rows)
    # Transient copies (never added to the session) carry the facts the events are made of.
    contacts = [Contact(id=contact_id, **row) for contact_id, row in zip(contact_ids, rows, strict=True)]
    facts = []
    for contact, queue in zip(contacts, queues, strict=True):
        facts.append(dict(contact_id=contact.id, type="arrived", at=now, queue_id=None, agent_id=None,
                          data={"channel_kind": "email", "entry_point_id": contact.entry_point_id}))
        if queue is not None:
            facts.append(dict(contact_id=contact.id, type="queued", at=now, queue_id=queue.id, agent_id=None,
                              data={"queue_name": queue.name}))
    await uow.session.execute(insert(CONTACT_EVENTS), facts)
    tokens = [new_token() for _ in items]
    await uow.session.execute(insert(THREADS), [
        dict(contact_id=contact.id, entry_point_id=item.ep.id, reply_token=token, first_responded_at=None,
             first_response_due_at=first_response_due(now, queue, batch=batch, policy=policy))
        for item, contact, queue, token in zip(items, contacts, queues, tokens, strict=True)])
    bodies = [timeline_text(item.parsed) for item in items]
    message_ids = await insert_returning_ids(uow.session, MESSAGES, [
        dict(contact_id=contact.id, kind="text", author_kind="customer", author_user_id=None, body=body,
             client_msg_id=None, created_at=now) for contact, body in zip(contacts, bodies, strict=True)])
    emails = [inbound_values(inbound=item.inbound, ep=item.ep, contact_id=contact.id, message_row_id=message_id,
                             parsed=item.parsed, sender=item.sender, auto_kind=item.auto_kind, dedupe_key=item.key,
                             now=now)
              for item, contact, message_id in zip(items, contacts, message_ids, strict=True)]
    email_ids = await insert_returning_ids(uow.session, EMAILS, emails)
    parts = [values for item, email_id in zip(items, email_ids, strict=True)
             for values in attachment_values(email_id, item.parsed)]
    if parts:
        await uow.session.execute(insert(ATTACHMENTS), parts)
    for item, contact, message_id, email_id, body, queue in zip(items, contacts, message_ids, email_ids, bodies,
                                                                queues, strict=True):
        batch.dedupe[(item.ep.id, item.key)] = (email_id, contact.id)
        finish(uow, item.inbound, "processed", email_id=email_id, contact_id=contact.id)
        # The same events, in the same order, as do_enqueue and do_add_message.
        if queue is not None:
            uow.emit(events.contact_changed(contact, change="queued", queue_name=queue.name))
        message = Message(id=message_id, contact_id=contact.id, kind="text", author_kind="customer", body=body,
                          client_msg_id=None, created_at=now)
        uow.emit(events.message_created(contact, message, None))
    await _acknowledge(uow, items=items, contacts=contacts, customers=customers, tokens=tokens, emails=emails,
                       templates=templates, now=now)


async def _acknowledge(uow: UnitOfWork, *, items: list[Admitted], contacts: list[Contact],
                       customers: list[CustomerFacts], tokens: list[str], emails: list[dict[str, Any]],
                       templates: dict[tuple[str, str], EmailTemplate | None], now: datetime) -> None:
    """The auto-acknowledgements of the new threads, as actions.do_auto_ack writes them."""
    outgoing = []
    for item, contact, customer, token, email in zip(items, contacts, customers, tokens, emails, strict=True):
        if not should_acknowledge(item) or not email["from_addr"]:
            continue
        template = await cached_template(uow, name=item.ep.settings.auto_ack_template,
                                         language=customer.language or "en", cache=templates)
        if template is None:
            continue
        facts = AckFacts(case_id=contact.case_id, contact_subject=contact.subject,
                         customer_name=customer.display_name or customer.email or "", reply_token=token,
                         to=email["reply_to"] or email["from_addr"], subject=email["subject"],
                         message_id=email["message_id"], references=email["references"])
        out = acknowledgement(ep=item.ep, template=template, facts=facts, now=now)
        outgoing.append((item, contact, out, build(out)))
    if not outgoing:
        return
    ids = await insert_returning_ids(uow.session, EMAILS, [
        outbound_values(contact_id=contact.id, ep=item.ep, out=out, built=built, author_id=None,
                        message_row_id=None, now=now) for item, contact, out, built in outgoing])
    await uow.session.execute(insert(OUTBOX), [
        outbox_values(email_message_id=email_id, contact_id=contact.id, kind="auto_ack", out=out, built=built,
                      now=now) for email_id, (_, contact, out, built) in zip(ids, outgoing, strict=True)])
    uow.emit(Event(OUTBOX_QUEUED, {}, (), durable=False))
