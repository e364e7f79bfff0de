from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from madoguchi.channels.models import WidgetSession
from madoguchi.channels.webchat.schemas import WidgetSessionOut
from madoguchi.contacts.models import Contact
from madoguchi.contacts.queries import messages_of
from madoguchi.customers.models import Customer
from madoguchi.db.feed import latest_id
from madoguchi.db.uow import Database
from madoguchi.identity.actions import token_digest
from madoguchi.identity.models import User
from madoguchi.kernel.errors import NotFound
from madoguchi.routing.queries import position_of


async def session_state(db: Database, session_id: int, token: str) -> WidgetSessionOut:
    """What the widget needs to draw itself after a (re)load, and the feed position to resume from."""
    async with db.read() as session:
        last = await latest_id(session)
        ws = await session.get(WidgetSession, session_id)
        if ws is None:
            raise NotFound("widget session", session_id)
        customer = await session.get(Customer, ws.customer_id)
        if customer is not None and customer.merged_into_id is not None:
            customer = await session.get(Customer, customer.merged_into_id)
        contact = await session.get(Contact, ws.contact_id) if ws.contact_id else None
        agent_name = None
        if contact is not None and contact.agent_id is not None:
            agent_name = await session.scalar(select(User.display_name).where(User.id == contact.agent_id))
        messages = await messages_of(session, contact.id, include_notes=False) if contact else []
        place = await position_of(session, contact.id, db.clock.now()) if contact else None
    return WidgetSessionOut(token=token, session_id=ws.id, visitor_id=ws.visitor_id,
                            customer_id=customer.id if customer else ws.customer_id,
                            # Only what this visitor typed, or a signed identity's profile: a claimed
                            # email must not reveal whose address it is.
                            customer_name=ws.given_name or (customer.display_name if customer and ws.verified
                                                            else None),
                            contact_id=contact.id if contact else None,
                            contact_state=contact.state if contact else None, agent_name=agent_name,
                            messages=messages, last_event_id=last,
                            queue_position=place.position if place else None,
                            estimated_wait_s=place.estimated_wait_s if place else None)


async def current_contact_for(session: AsyncSession, token: str) -> Contact | None:
    ws = await session.scalar(select(WidgetSession).where(WidgetSession.token_hash == token_digest(token)))
    if ws is None or ws.contact_id is None:
        return None
    return await session.get(Contact, ws.contact_id)
