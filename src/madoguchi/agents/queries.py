from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from madoguchi.agents.models import AgentProfile
from madoguchi.agents.schemas import DEFAULT_CAPACITY, AgentOut
from madoguchi.contacts.models import Contact
from madoguchi.contacts.states import HANDLING_STATES
from madoguchi.identity.models import User
from madoguchi.identity.permissions import HANDLING_ROLES


async def list_agents(session: AsyncSession, *, queue_members: dict[int, list[int]]) -> list[AgentOut]:
    active = (select(Contact.agent_id, func.count().label("n"))
              .where(Contact.state.in_(list(HANDLING_STATES))).group_by(Contact.agent_id).subquery())
    stmt = (select(User, AgentProfile, active.c.n)
            .outerjoin(AgentProfile, AgentProfile.user_id == User.id)
            .outerjoin(active, active.c.agent_id == User.id)
            .where(User.role.in_([r.value for r in HANDLING_ROLES]), User.active)
            .order_by(User.id))
    out = []
    for user, profile, n in (await session.execute(stmt)).all():
        out.append(AgentOut(
            user_id=user.id, display_name=user.display_name, email=user.email, role=user.role,
            state=profile.state if profile else "offline",
            break_reason=profile.break_reason if profile else None,
            state_since=profile.state_since if profile else None,
            idle_since=profile.idle_since if profile else None,
            capacity=dict(profile.capacity) if profile else dict(DEFAULT_CAPACITY),
            skills=dict(profile.skills or {}) if profile else {},
            voice_exclusive=profile.voice_exclusive if profile else True,
            missed_offers=profile.missed_offers if profile else 0,
            active_contacts=int(n or 0), queue_ids=queue_members.get(user.id, [])))
    return out
