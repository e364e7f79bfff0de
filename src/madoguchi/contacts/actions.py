"""Writes for cases, contacts, messages and contact events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from madoguchi.contacts import events
from madoguchi.contacts.models import Case, Contact, ContactEvent, Disposition, Message
from madoguchi.contacts.schemas import DispositionCreate
from madoguchi.contacts.states import ContactState, Move, move
from madoguchi.db.uow import UnitOfWork
from madoguchi.identity.audit import do_audit
from madoguchi.identity.models import User
from madoguchi.kernel.errors import Conflict, NotFound


def record_event(uow: UnitOfWork, contact: Contact, type_: str, *, agent_id: int | None = None,
                 **data: Any) -> ContactEvent:
    """Append one KPI fact. Never updated, never deleted."""
    row = ContactEvent(contact_id=contact.id, type=type_, at=uow.clock.now(), queue_id=contact.queue_id,
                       agent_id=agent_id, data=data)
    uow.session.add(row)
    return row


async def do_open_contact(uow: UnitOfWork, *, customer_id: int, channel_kind: str, entry_point_id: int | None,
                          subject: str | None, customer_topic: str | None,
                          case_id: int | None = None) -> Contact:
    now = uow.clock.now()
    if case_id is None:
        case = Case(customer_id=customer_id, subject=subject or channel_kind, status="open", priority=0,
                    created_at=now)
        uow.session.add(case)
        await uow.session.flush()
        case_id = case.id
    contact = Contact(customer_id=customer_id, case_id=case_id, channel_kind=channel_kind, direction="inbound",
                      entry_point_id=entry_point_id, state=ContactState.NEW, priority=0, subject=subject,
                      customer_topic=customer_topic, created_at=now)
    uow.session.add(contact)
    await uow.session.flush()
    record_event(uow, contact, "arrived", channel_kind=channel_kind, entry_point_id=entry_point_id)
    return contact


def do_move(uow: UnitOfWork, contact: Contact, action: Move, *, event_type: str, agent_id: int | None = None,
            customer_sees: bool = True, extra_users: tuple[int, ...] = (), **data: Any) -> None:
    """Move the contact through its lifecycle, record the fact and tell its audience.

    Caller holds the contact row (loaded in this unit of work)."""
    contact.state = move(contact.state, action)
    record_event(uow, contact, event_type, agent_id=agent_id, **data)
    uow.emit(events.contact_changed(contact, change=event_type, extra_users=extra_users,
                                    customer_sees=customer_sees, **data))


async def do_add_message(uow: UnitOfWork, *, contact: Contact, kind: str, author_kind: str, body: str,
                         author: User | None = None, client_msg_id: str | None = None) -> Message:
    message = Message(contact_id=contact.id, kind=kind, author_kind=author_kind,
                      author_user_id=author.id if author else None, body=body, client_msg_id=client_msg_id,
                      created_at=uow.clock.now())
    uow.session.add(message)
    await uow.session.flush()
    uow.emit(events.message_created(contact, message, author.display_name if author else None))
    return message


async def get_contact(uow: UnitOfWork, contact_id: int) -> Contact:
    contact = await uow.session.get(Contact, contact_id, with_for_update=True)
    if contact is None:
        raise NotFound("contact", contact_id)
    return contact


async def check_disposition(uow: UnitOfWork, code: str) -> Disposition:
    row = await uow.session.scalar(select(Disposition).where(Disposition.code == code, Disposition.active))
    if row is None:
        raise NotFound("disposition", code)
    return row


async def check_create_disposition(uow: UnitOfWork, *, actor: User, data: DispositionCreate) -> Disposition:
    if await uow.session.scalar(select(Disposition.id).where(Disposition.code == data.code)) is not None:
        raise Conflict(f"disposition {data.code} exists", field="code")
    row = Disposition(code=data.code, label_en=data.label_en, label_ja=data.label_ja,
                      resolves_case=data.resolves_case, active=True, created_at=uow.clock.now())
    uow.session.add(row)
    await uow.session.flush()
    do_audit(uow, actor=actor, action="disposition.created", target=f"disposition:{row.id}")
    return row


async def do_resolve_case(uow: UnitOfWork, *, case_id: int) -> None:
    case = await uow.session.get(Case, case_id)
    if case is not None and case.status != "resolved":
        case.status = "resolved"
        case.resolved_at = uow.clock.now()
