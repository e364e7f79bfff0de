"""Who may see which contact: the agent who handles it, and the oversight roles."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from madoguchi.contacts.models import Contact, ContactEvent
from madoguchi.identity.models import User
from madoguchi.identity.permissions import Perm, has
from madoguchi.kernel.errors import NotFound
from madoguchi.routing.models import Offer
from madoguchi.routing.states import OfferState


async def access_contact(session: AsyncSession, user: User, contact_id: int) -> Contact:
    """The contact if ``user`` may see it; NotFound otherwise, so ids of others' contacts leak nothing."""
    contact = await session.get(Contact, contact_id)
    if contact is None:
        raise NotFound("contact", contact_id)
    if has(user.role, Perm.READ_ALL_CONTACTS) or contact.agent_id == user.id:
        return contact
    # The agent holding an offer sees the customer before accepting: that is what the offer shows.
    if await session.scalar(select(Offer.id).where(Offer.contact_id == contact_id, Offer.agent_id == user.id,
                                                   Offer.state == OfferState.PENDING)) is not None:
        return contact
    # A colleague whose phone a consultation brought into the call sees whom they talked with.
    if contact.channel_kind == "voice" and await session.scalar(select(ContactEvent.id).where(
            ContactEvent.contact_id == contact_id, ContactEvent.type == "consult_started",
            ContactEvent.agent_id == user.id).limit(1)) is not None:
        return contact
    raise NotFound("contact", contact_id)
