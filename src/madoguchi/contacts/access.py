"""Who may see which contact: the agent who handles it, and the oversight roles."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from madoguchi.contacts.models import Contact
from madoguchi.identity.models import User
from madoguchi.identity.permissions import Perm, has
from madoguchi.kernel.errors import NotFound


async def access_contact(session: AsyncSession, user: User, contact_id: int) -> Contact:
    """The contact if ``user`` may see it; NotFound otherwise, so ids of others' contacts leak nothing."""
    contact = await session.get(Contact, contact_id)
    if contact is None or not (has(user.role, Perm.READ_ALL_CONTACTS) or contact.agent_id == user.id):
        raise NotFound("contact", contact_id)
    return contact
