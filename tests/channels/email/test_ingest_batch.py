"""The ingest worker's batch: emails that open new threads are written together with a few
multi-row statements, the rest one by one; the result is the same as the one-at-a-time path,
on SQLite and PostgreSQL."""

from __future__ import annotations

import email
from collections.abc import AsyncIterator
from email import policy
from typing import Any

import pytest
from sqlalchemy import event, func, select

from madoguchi.app import build_context
from madoguchi.channels.email.actions import do_auto_ack
from madoguchi.channels.email.directory import load_entry_points
from madoguchi.channels.email.inbound import IngestPolicy, do_ingest, prepare_batch
from madoguchi.channels.email.inbox import Receipt, do_store_receipts
from madoguchi.channels.email.models import EmailInbound, EmailMessage, EmailOutbox, EmailThread
from madoguchi.contacts.models import Case, Contact, ContactEvent, Message
from madoguchi.context import AppContext
from madoguchi.customers.models import Customer, Identity
from madoguchi.settings import Settings
from madoguchi.workers.email_ingest import IngestWorker
from tests.channels.email.support import SUPPORT, compose

POLICY = IngestPolicy(sender_limit_per_hour=30, first_response_s=3600, timezone="Asia/Tokyo")


@pytest.fixture
async def ctx(db_url: str) -> AsyncIterator[AppContext]:
    context = build_context(Settings(database_url=db_url))
    yield context
    await context.db.engine.dispose()


async def _store(ctx: AppContext, *raws: tuple[bytes, str]) -> list[int]:
    async with ctx.db.read() as session:
        [ep_id] = [ep.id for ep in (await load_entry_points(session)).values() if ep.settings.address == SUPPORT]
    async with ctx.db.uow() as uow:
        ids = await do_store_receipts(uow, [Receipt(entry_point_id=ep_id, source="smtp", mail_from=mail_from,
                                                    rcpt_to=(SUPPORT,), raw=raw) for raw, mail_from in raws])
    return [i for i in ids if i is not None]


async def _inbound(ctx: AppContext, ids: list[int]) -> list[EmailInbound]:
    async with ctx.db.read() as session:
        rows = {r.id: r for r in (await session.scalars(select(EmailInbound).where(EmailInbound.id.in_(ids))))}
    return [rows[i] for i in ids]


async def test_a_mixed_batch_threads_dedupes_screens_and_acknowledges(ctx: AppContext) -> None:
    first = compose(sender="New Customer <new@batch.example>", subject="Where is my parcel?",
                    body="It has not arrived.")
    reply = compose(sender="New Customer <new@batch.example>", subject="Re: Where is my parcel?",
                    body="Any news?", In_Reply_To=first["Message-ID"], References=first["Message-ID"])
    second = compose(sender="New Customer <new@batch.example>", subject="請求書について", body="請求書をください。")
    known = compose(sender="山田 花子 <hanako.yamada@example.jp>", subject="Hello again", body="Another question.")
    blocked = compose(sender="Spammer <offer@spam.example>", subject="Buy now", body="Cheap.")
    nameless = b"Subject: no sender at all\r\n\r\nWho am I?\r\n"
    ids = await _store(ctx, (first.as_bytes(), "new@batch.example"), (reply.as_bytes(), "new@batch.example"),
                       (first.as_bytes(), "new@batch.example"), (second.as_bytes(), "new@batch.example"),
                       (known.as_bytes(), "hanako.yamada@example.jp"), (blocked.as_bytes(), "offer@spam.example"),
                       (nameless, ""))
    worker = IngestWorker(ctx.db, ctx.bus, policy=POLICY)
    assert await worker.consume() == len(ids)

    a, b, dup, c, k, spam, anon = await _inbound(ctx, ids)
    assert [r.status for r in (a, b, dup, c, k, spam, anon)] == [
        "processed", "processed", "duplicate", "processed", "processed", "suppressed", "processed"]
    assert spam.reason == "blocked" and spam.contact_id is None
    assert b.contact_id == a.contact_id == dup.contact_id and dup.email_message_id == a.email_message_id
    assert len({a.contact_id, c.contact_id, k.contact_id, anon.contact_id}) == 4
    async with ctx.db.read() as session:
        contacts = {c.id: c for c in (await session.scalars(select(Contact).where(Contact.id.in_(
            [a.contact_id, c.contact_id, k.contact_id, anon.contact_id]))))}
        identity = await session.scalar(select(Identity).where(Identity.address == "new@batch.example"))
        hanako = await session.scalar(select(Identity).where(Identity.address == "hanako.yamada@example.jp"))
        customer = await session.get(Customer, identity.customer_id if identity else 0)
        bodies = list((await session.scalars(select(Message.body).where(Message.contact_id == a.contact_id)
                                             .order_by(Message.id))).all())
        acks = list((await session.scalars(select(EmailOutbox).where(EmailOutbox.kind == "auto_ack")
                                           .order_by(EmailOutbox.id))).all())
        kinds = list((await session.execute(select(ContactEvent.contact_id, ContactEvent.type)
                                            .where(ContactEvent.contact_id.in_(contacts)))).all())
    assert identity is not None and customer is not None and hanako is not None
    assert contacts[a.contact_id or 0].customer_id == contacts[c.contact_id or 0].customer_id == customer.id
    assert contacts[k.contact_id or 0].customer_id == hanako.customer_id     # an existing customer
    assert contacts[anon.contact_id or 0].customer_id not in {customer.id, hanako.customer_id}
    assert (customer.display_name, customer.email, customer.language) == ("New Customer", "new@batch.example", "en")
    assert all(c.state == "queued" and c.channel_kind == "email" for c in contacts.values())
    assert sorted(kinds) == sorted((cid, kind) for cid in contacts for kind in ("arrived", "queued"))
    assert bodies == ["It has not arrived.", "Any news?"]
    # Acknowledged: the three new cases with someone to answer; not the reply, the duplicate, the nameless one.
    assert sorted(r.contact_id for r in acks) == sorted([a.contact_id, c.contact_id, k.contact_id])
    for row in acks:
        sent = email.message_from_bytes(row.raw, policy=policy.default)
        assert sent["Auto-Submitted"] == "auto-replied" and sent["In-Reply-To"]


async def test_new_threads_cost_a_few_statements_per_batch_not_per_email(ctx: AppContext) -> None:
    ids = await _store(ctx, *[(compose(sender=f"Customer {n} <c{n}@batch.example>", subject=f"Order {n}").as_bytes(),
                               f"c{n}@batch.example") for n in range(30)])
    statements: list[str] = []
    event.listen(ctx.db.engine.sync_engine, "before_cursor_execute",
                 lambda _c, _cur, stmt, *_a: statements.append(stmt))
    assert await IngestWorker(ctx.db, ctx.bus, policy=POLICY).consume() == 30
    assert {r.status for r in await _inbound(ctx, ids)} == {"processed"}
    assert len(statements) < 30, statements


def _shape(row: Any, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """A row's values without what differs between two equal emails: ids, times, tokens, addresses."""
    drop = {"id", "contact_id", "case_id", "customer_id", "message_row_id", "inbound_id", "email_message_id",
            "created_at", "updated_at", "enqueued_at", "at", "first_response_due_at", "reply_token",
            "next_attempt_at", "sent_date", "raw", "message_id", "dedupe_key", *skip}
    return {k: v for k, v in vars(row).items() if not k.startswith("_") and k not in drop}


async def _everything_of(ctx: AppContext, inbound_id: int) -> dict[str, Any]:
    async with ctx.db.read() as session:
        inbound = await session.get(EmailInbound, inbound_id)
        assert inbound is not None and inbound.contact_id is not None
        contact = await session.get(Contact, inbound.contact_id)
        assert contact is not None
        case = await session.get(Case, contact.case_id)
        customer = await session.get(Customer, contact.customer_id)
        thread = await session.get(EmailThread, contact.id)
        emails = (await session.scalars(select(EmailMessage).where(EmailMessage.contact_id == contact.id)
                                        .order_by(EmailMessage.id))).all()
        outbox = (await session.scalars(select(EmailOutbox).where(EmailOutbox.contact_id == contact.id))).all()
        events = (await session.scalars(select(ContactEvent).where(ContactEvent.contact_id == contact.id)
                                        .order_by(ContactEvent.id))).all()
        messages = (await session.scalars(select(Message).where(Message.contact_id == contact.id))).all()
        identities = await session.scalar(select(func.count()).select_from(Identity)
                                          .where(Identity.customer_id == contact.customer_id))
    addresses = ("from_addr", "to_addrs", "email", "rcpt_to", "reply_to", "in_reply_to", "references",
                 "text_body", "subject")
    return {"contact": _shape(contact), "case": _shape(case), "customer": _shape(customer, skip=addresses),
            "thread": _shape(thread), "emails": [_shape(e, skip=addresses) for e in emails],
            "outbox": [_shape(o, skip=addresses) for o in outbox], "events": [_shape(e) for e in events],
            "messages": [_shape(m) for m in messages], "identities": identities,
            "inbound": _shape(inbound, skip=("mail_from", "sha256", "size", "processed_at", "received_at"))}


async def test_the_batch_writes_what_the_one_at_a_time_path_writes(ctx: AppContext) -> None:
    def mail(n: int) -> tuple[bytes, str]:
        msg = compose(sender=f"Same Shape <shape{n}@batch.example>", subject="注文について", body="届きません。")
        msg.add_attachment(b"%PDF-1.4 receipt", maintype="application", subtype="pdf", filename="receipt.pdf")
        return msg.as_bytes(), f"shape{n}@batch.example"

    [by_batch] = await _store(ctx, mail(1))
    assert await IngestWorker(ctx.db, ctx.bus, policy=POLICY).consume() == 1
    [one_at_a_time] = await _store(ctx, mail(2))
    async with ctx.db.uow() as uow:
        inbound = await uow.session.get(EmailInbound, one_at_a_time)
        assert inbound is not None
        ep = (await load_entry_points(uow.session))[inbound.entry_point_id]
        result = await do_ingest(uow, inbound=inbound, ep=ep, policy=POLICY,
                                 batch=await prepare_batch(uow, []))
        assert result.acknowledge and result.contact is not None and result.email is not None
        await do_auto_ack(uow, contact=result.contact, ep=ep, inbound=result.email)
    batch_rows, orm_rows = await _everything_of(ctx, by_batch), await _everything_of(ctx, one_at_a_time)
    for name in batch_rows:
        if isinstance(batch_rows[name], list):
            for left, right in zip(batch_rows[name], orm_rows[name], strict=True):
                assert left == right, (name, {k for k in left if left[k] != right.get(k)})
        assert batch_rows[name] == orm_rows[name], name
    assert len(batch_rows["emails"]) == 2 and len(batch_rows["outbox"]) == 1
