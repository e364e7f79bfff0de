"""Reads for routing: the snapshot the Router decides on, queue lists, offers."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from madoguchi.agents.models import AgentProfile
from madoguchi.channels.base import capacity_class
from madoguchi.contacts.models import Contact
from madoguchi.contacts.states import HANDLING_STATES, ContactState
from madoguchi.identity.models import User
from madoguchi.kernel.clock import as_utc
from madoguchi.routing.models import Offer, Queue, QueueMember
from madoguchi.routing.router import AgentSnapshot, Snapshot, WaitingContact
from madoguchi.routing.schemas import QueueOut
from madoguchi.routing.states import OfferState


async def members_by_agent(session: AsyncSession) -> dict[int, list[int]]:
    out: dict[int, list[int]] = defaultdict(list)
    for queue_id, agent_id in (await session.execute(select(QueueMember.queue_id, QueueMember.agent_id))).all():
        out[agent_id].append(queue_id)
    return dict(out)


async def load_snapshot(session: AsyncSession, now: datetime) -> Snapshot:
    waiting_rows = (await session.execute(
        select(Contact.id, Contact.queue_id, Contact.channel_kind, Contact.enqueued_at, Contact.priority,
               Queue.priority)
        .join(Queue, Queue.id == Contact.queue_id)
        .where(Contact.state == ContactState.QUEUED, Contact.queue_id.is_not(None)))).all()
    declined: dict[int, set[int]] = defaultdict(set)
    if waiting_rows:
        ids = [r[0] for r in waiting_rows]
        for contact_id, agent_id in (await session.execute(
                select(Offer.contact_id, Offer.agent_id).where(
                    Offer.contact_id.in_(ids), Offer.state.in_([OfferState.REJECTED, OfferState.TIMED_OUT])))).all():
            declined[contact_id].add(agent_id)
    contacts = tuple(
        WaitingContact(contact_id=cid, queue_id=qid or 0, channel=capacity_class(channel), enqueued_at=enq or now,
                       priority=prio,
                       queue_priority=qprio, declined_by=frozenset(declined.get(cid, ())))
        for cid, qid, channel, enq, prio, qprio in waiting_rows)

    profiles = (await session.execute(
        select(AgentProfile).join(User, User.id == AgentProfile.user_id)
        .where(User.active, AgentProfile.state != "offline"))).scalars().all()
    if not profiles:
        return Snapshot(now=now, contacts=contacts, agents=())
    agent_ids = [p.user_id for p in profiles]
    load: dict[int, dict[str, int]] = defaultdict(dict)
    for holder, channel, n in (await session.execute(
            select(Contact.agent_id, Contact.channel_kind, func.count())
            .where(Contact.agent_id.in_(agent_ids), Contact.state.in_(list(HANDLING_STATES)))
            .group_by(Contact.agent_id, Contact.channel_kind))).all():
        if holder is not None:
            work = capacity_class(channel)
            load[holder][work] = load[holder].get(work, 0) + int(n)
    pending = set((await session.scalars(select(Offer.agent_id).where(
        Offer.state == OfferState.PENDING, Offer.agent_id.in_(agent_ids)))).all())
    members = await members_by_agent(session)
    agents = tuple(
        AgentSnapshot(agent_id=p.user_id, state=p.state, queue_ids=frozenset(members.get(p.user_id, ())),
                      capacity={k: int(v) for k, v in p.capacity.items()}, load=load.get(p.user_id, {}),
                      idle_since=p.idle_since, pending_offer=p.user_id in pending)
        for p in profiles)
    return Snapshot(now=now, contacts=contacts, agents=agents)


async def next_offer_deadline(session: AsyncSession) -> datetime | None:
    value: datetime | None = await session.scalar(
        select(func.min(Offer.expires_at)).where(Offer.state == OfferState.PENDING))
    return value


async def list_queues(session: AsyncSession, now: datetime) -> list[QueueOut]:
    queues = (await session.scalars(select(Queue).order_by(Queue.id))).all()
    members: dict[int, list[int]] = defaultdict(list)
    for queue_id, agent_id in (await session.execute(select(QueueMember.queue_id, QueueMember.agent_id))).all():
        members[queue_id].append(agent_id)
    waiting = {qid: (int(n), oldest) for qid, n, oldest in (await session.execute(
        select(Contact.queue_id, func.count(), func.min(Contact.enqueued_at))
        .where(Contact.state.in_([ContactState.QUEUED, ContactState.OFFERED]))
        .group_by(Contact.queue_id))).all()}
    out = []
    for q in queues:
        n, oldest = waiting.get(q.id, (0, None))
        longest = None
        if oldest is not None:
            longest = max(0.0, (now - as_utc(oldest)).total_seconds())
        out.append(QueueOut(id=q.id, name=q.name, name_ja=q.name_ja, priority=q.priority,
                            service_level_s=q.service_level_s, offer_timeout_s=q.offer_timeout_s,
                            agent_ids=sorted(members.get(q.id, [])), waiting=n, longest_wait_s=longest))
    return out


async def pending_offers_for(session: AsyncSession, agent_id: int) -> list[Offer]:
    return list((await session.scalars(select(Offer).where(
        Offer.agent_id == agent_id, Offer.state == OfferState.PENDING).order_by(Offer.id))).all())
