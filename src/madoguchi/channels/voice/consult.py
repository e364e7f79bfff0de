"""Consultation, attended transfer and three-way conference (docs/voice.md): the agent on a call
asks a colleague first, then hands the caller over, brings everyone together, or goes back.

The desktop's requests are checked here and passed on the bus (``voice.consult``) to the node
that holds the call; that node rings the colleague's phone and records what happened. The hand-
over itself goes through the ACD's own steps in one transaction, so the KPIs see an ordinary
transfer (transferred → queued → offered → accepted) with the original enqueue time."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, model_validator
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from madoguchi.agents.actions import profile_for
from madoguchi.agents.models import AgentProfile
from madoguchi.agents.states import CONSULT_REASON, ROUTABLE
from madoguchi.channels.voice.models import SipAccount
from madoguchi.contacts.models import Contact
from madoguchi.contacts.states import HANDLING_STATES
from madoguchi.db.uow import UnitOfWork
from madoguchi.identity.models import User
from madoguchi.identity.permissions import HANDLING_ROLES
from madoguchi.kernel.errors import Conflict, InvalidInput, NotFound
from madoguchi.kernel.events import SUPERVISORS, Event, user_topic
from madoguchi.routing.actions import check_transfer
from madoguchi.routing.models import Queue, QueueMember
from madoguchi.routing.offers import check_accept_offer, do_make_offer
from madoguchi.routing.router import OfferDecision

#: Bus event to the node holding the call: {"contact_id", "action", "agent_id"?, "by"}.
VOICE_CONSULT = "voice.consult"
Action = Literal["complete", "conference", "cancel"]


class ConsultIn(BaseModel):
    """A named colleague, or a queue: then its longest-idle free member with a phone."""

    agent_id: int | None = None
    queue_id: int | None = None

    @model_validator(mode="after")
    def _one_target(self) -> ConsultIn:
        if (self.agent_id is None) == (self.queue_id is None):
            raise ValueError("consult an agent_id or a queue_id")
        return self


class ConsultActionIn(BaseModel):
    action: Action


class ColleagueOut(BaseModel):
    user_id: int
    display_name: str
    state: str
    reachable: bool   # logged in, not on a call or in a consultation


async def colleagues(session: AsyncSession, *, me: User) -> list[ColleagueOut]:
    """Agents with a phone an agent on a call may consult: the desktop's list."""
    on_call = set((await session.scalars(select(Contact.agent_id).where(
        Contact.channel_kind == "voice", Contact.state.in_(list(HANDLING_STATES))))).all())
    rows = (await session.execute(
        select(User.id, User.display_name, AgentProfile.state, AgentProfile.break_reason)
        .join(SipAccount, SipAccount.user_id == User.id)
        .outerjoin(AgentProfile, AgentProfile.user_id == User.id)
        .where(User.active, User.id != me.id).order_by(User.display_name))).all()
    return [ColleagueOut(user_id=uid, display_name=name, state=state or "offline",
                         reachable=(state in ROUTABLE and reason != CONSULT_REASON and uid not in on_call))
            for uid, name, state, reason in rows]


async def _own_call(uow: UnitOfWork, actor: User, contact_id: int) -> Contact:
    contact = await uow.session.get(Contact, contact_id)
    if contact is None or contact.agent_id != actor.id:
        raise NotFound("contact", contact_id)
    if contact.channel_kind != "voice" or contact.state not in HANDLING_STATES:
        raise Conflict("only a call in progress can be consulted on", state=contact.state)
    return contact


async def check_consult(uow: UnitOfWork, *, actor: User, contact_id: int, agent_id: int | None = None,
                        queue_id: int | None = None) -> None:
    """The agent on the call asks to ring a colleague (who must be logged in and not on a call),
    or a queue's free member (the node holding the call picks one whose phone is registered)."""
    contact = await _own_call(uow, actor, contact_id)
    if queue_id is not None:
        if await uow.session.get(Queue, queue_id) is None:
            raise NotFound("queue", queue_id)
        uow.emit(_consult_event(contact, actor, "start", queue_id=queue_id))
        return
    if agent_id is None:
        raise InvalidInput("consult an agent_id or a queue_id", field="agent_id")
    if agent_id == actor.id:
        raise InvalidInput("choose a colleague, not yourself", field="agent_id")
    colleague = await uow.session.get(User, agent_id)
    if colleague is None or colleague.role not in {r.value for r in HANDLING_ROLES} or not colleague.active:
        raise NotFound("agent", agent_id)
    profile = await profile_for(uow, colleague)
    if profile.state not in ROUTABLE:
        raise Conflict("the colleague is not available", state=profile.state)
    if profile.break_reason == CONSULT_REASON:
        raise Conflict("the colleague is in another consultation", state="busy")
    on_call = await uow.session.scalar(select(Contact.id).where(
        Contact.agent_id == agent_id, Contact.channel_kind == "voice", Contact.state.in_(list(HANDLING_STATES))))
    if on_call is not None:
        raise Conflict("the colleague is on another call", state="busy")
    uow.emit(_consult_event(contact, actor, "start", agent_id=agent_id))


async def check_consult_action(uow: UnitOfWork, *, actor: User, contact_id: int, action: Action) -> None:
    contact = await _own_call(uow, actor, contact_id)
    uow.emit(_consult_event(contact, actor, action))


def _consult_event(contact: Contact, actor: User, action: str, **data: object) -> Event:
    return Event(VOICE_CONSULT, {"contact_id": contact.id, "action": action, "by": actor.id, **data},
                 (user_topic(actor.id), SUPERVISORS), durable=False)


async def free_members(session: AsyncSession, *, queue_id: int, exclude: int) -> list[int]:
    """Members of the queue who could take a consultation now, longest idle first."""
    on_call = select(Contact.agent_id).where(Contact.agent_id.is_not(None), Contact.channel_kind == "voice",
                                             Contact.state.in_(list(HANDLING_STATES)))
    rows = await session.execute(
        select(AgentProfile.user_id).join(QueueMember, QueueMember.agent_id == AgentProfile.user_id)
        .join(User, User.id == AgentProfile.user_id)
        .where(QueueMember.queue_id == queue_id, AgentProfile.user_id != exclude, User.active,
               AgentProfile.state.in_([str(s) for s in ROUTABLE]),
               or_(AgentProfile.break_reason.is_(None), AgentProfile.break_reason != CONSULT_REASON),
               AgentProfile.user_id.not_in(on_call))
        .order_by(AgentProfile.idle_since.is_(None), AgentProfile.idle_since, AgentProfile.user_id))
    return [uid for (uid,) in rows.all()]


async def do_attended_transfer(uow: UnitOfWork, *, contact_id: int, from_agent: User, to_agent: User) -> Contact:
    """Hand the call to the colleague who is already on the line: transfer, offer and accept in
    one transaction, so no other agent can be offered it in between."""
    contact = await check_transfer(uow, actor=from_agent, contact_id=contact_id, queue_id=None,
                                   agent_id=to_agent.id, may_transfer_any=True)
    await uow.session.flush()
    assert contact.queue_id is not None
    offer = await do_make_offer(uow, decision=OfferDecision(contact.id, to_agent.id, contact.queue_id),
                                default_timeout_s=30.0)
    if offer is None:
        raise Conflict("the call could not be handed over")
    return await check_accept_offer(uow, actor=to_agent, offer_id=offer.id)
