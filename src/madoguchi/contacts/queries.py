"""Reads for contacts: lists, the screen pop, the cross-channel timeline."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from madoguchi.contacts.models import Contact, ContactEvent, Disposition, Message
from madoguchi.contacts.schemas import (
    ContactDetail,
    ContactEventOut,
    ContactOut,
    MessageOut,
    TimelineItem,
)
from madoguchi.customers.queries import customer_ids_of, get_profile
from madoguchi.identity.models import User
from madoguchi.kernel.errors import NotFound


async def list_contacts(session: AsyncSession, *, state: str | None, queue_id: int | None, agent_id: int | None,
                        customer_id: int | None, limit: int, offset: int) -> list[Contact]:
    stmt = select(Contact)
    if state:
        stmt = stmt.where(Contact.state == state)
    if queue_id is not None:
        stmt = stmt.where(Contact.queue_id == queue_id)
    if agent_id is not None:
        stmt = stmt.where(Contact.agent_id == agent_id)
    if customer_id is not None:
        stmt = stmt.where(Contact.customer_id.in_(await customer_ids_of(session, customer_id)))
    return list((await session.scalars(stmt.order_by(Contact.id.desc()).limit(limit).offset(offset))).all())


async def get_contact(session: AsyncSession, contact_id: int) -> Contact:
    contact = await session.get(Contact, contact_id)
    if contact is None:
        raise NotFound("contact", contact_id)
    return contact


async def messages_of(session: AsyncSession, contact_id: int, *, include_notes: bool) -> list[MessageOut]:
    stmt = select(Message).where(Message.contact_id == contact_id)
    if not include_notes:
        stmt = stmt.where(Message.kind != "note")
    rows = await session.scalars(stmt.order_by(Message.id))
    return [MessageOut.model_validate(m) for m in rows]


async def events_of(session: AsyncSession, contact_id: int) -> list[ContactEventOut]:
    rows = await session.scalars(select(ContactEvent).where(ContactEvent.contact_id == contact_id)
                                 .order_by(ContactEvent.id))
    return [ContactEventOut.model_validate(e) for e in rows]


async def timeline(session: AsyncSession, customer_id: int, *, limit: int = 50) -> list[TimelineItem]:
    """Every contact of the customer (and of customers merged into them), newest first, any channel."""
    ids = await customer_ids_of(session, customer_id)
    counts = (select(Message.contact_id, func.count(Message.id).label("n"), func.max(Message.id).label("last"))
              .where(Message.kind == "text").group_by(Message.contact_id).subquery())
    stmt = (
        select(Contact, User.display_name, Disposition.code, counts.c.n, Message.body)
        .outerjoin(User, User.id == Contact.agent_id)
        .outerjoin(Disposition, Disposition.id == Contact.disposition_id)
        .outerjoin(counts, counts.c.contact_id == Contact.id)
        .outerjoin(Message, Message.id == counts.c.last)
        .where(Contact.customer_id.in_(ids))
        .order_by(Contact.created_at.desc(), Contact.id.desc())
        .limit(limit)
    )
    items = []
    for contact, agent_name, code, count, last in (await session.execute(stmt)).all():
        items.append(TimelineItem(
            contact_id=contact.id, case_id=contact.case_id, channel_kind=contact.channel_kind,
            direction=contact.direction, state=contact.state, subject=contact.subject,
            created_at=contact.created_at, ended_at=contact.ended_at, agent_name=agent_name,
            disposition_code=code, last_message=(last or None) and last[:200], message_count=int(count or 0)))
    return items


async def contact_detail(session: AsyncSession, contact_id: int) -> ContactDetail:
    contact = await get_contact(session, contact_id)
    return ContactDetail(
        contact=ContactOut.model_validate(contact),
        customer=await get_profile(session, contact.customer_id),
        messages=await messages_of(session, contact.id, include_notes=True),
        timeline=await timeline(session, contact.customer_id),
    )


async def list_dispositions(session: AsyncSession) -> list[Disposition]:
    return list((await session.scalars(select(Disposition).order_by(Disposition.id))).all())
