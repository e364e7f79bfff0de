"""Reads for routing: the snapshot the Router decides on, queue lists, offers."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from madoguchi.agents.models import AgentProfile
from madoguchi.agents.states import CONSULT_REASON
from madoguchi.channels.base import capacity_class
from madoguchi.contacts.models import Contact, ContactEvent
from madoguchi.contacts.states import HANDLING_STATES, ContactState
from madoguchi.customers.models import Customer
from madoguchi.identity.models import User
from madoguchi.kernel.clock import as_utc
from madoguchi.routing.models import Offer, Queue, QueueMember
from madoguchi.routing.policy import policy_of
from madoguchi.routing.position import LinePosition, positions
from madoguchi.routing.router import AgentSnapshot, Snapshot, WaitingContact
from madoguchi.routing.schemas import QueueOut
from madoguchi.routing.states import OfferState


def customer_priority(attributes: dict[str, Any]) -> int:
    """A customer marked with a ``priority`` attribute (VIP) passes it to their contacts."""
    try:
        return max(-100, min(100, int(attributes.get("priority", 0))))
    except (TypeError, ValueError):
        return 0


async def members_by_agent(session: AsyncSession) -> dict[int, list[int]]:
    out: dict[int, list[int]] = defaultdict(list)
    for queue_id, agent_id in (await session.execute(select(QueueMember.queue_id, QueueMember.agent_id))).all():
        out[agent_id].append(queue_id)
    return dict(out)


async def load_snapshot(session: AsyncSession, now: datetime, *,
                        topics: dict[int, str] | None = None) -> Snapshot:
    """Everything the Router needs, straight from the database: after a restart (or on the instance
    that takes over the router lease) the line is exactly what it was. With ``topics``, the realtime
    topic of each waiting contact whose customer is watching (a live chat) is put there."""
    queues = {q.id: q for q in (await session.scalars(select(Queue))).all()}
    # Columns, not entities: with thousands in line (an email flood) this runs at every step.
    waiting = (await session.execute(
        select(Contact.id, Contact.queue_id, Contact.channel_kind, Contact.enqueued_at, Contact.priority,
               Contact.customer_id, Contact.target_agent_id, Contact.customer_topic)
        .where(Contact.state == ContactState.QUEUED, Contact.queue_id.is_not(None)))).all()
    declined: dict[int, set[int]] = defaultdict(set)
    sticky: dict[int, tuple[int, datetime]] = {}
    if waiting:
        ids = [c.id for c in waiting]
        for contact_id, agent_id in (await session.execute(
                select(Offer.contact_id, Offer.agent_id).where(
                    Offer.contact_id.in_(ids), Offer.state.in_([OfferState.REJECTED, OfferState.TIMED_OUT])))).all():
            declined[contact_id].add(agent_id)
        windows = [q.sticky_window_s for q in queues.values() if q.sticky_window_s]
        if windows:
            since = now - timedelta(seconds=max(windows))
            customers = {c.customer_id for c in waiting}
            for customer_id, last_agent, ended_at in (await session.execute(
                    select(Contact.customer_id, Contact.agent_id, Contact.ended_at)
                    .where(Contact.customer_id.in_(customers), Contact.agent_id.is_not(None),
                           Contact.ended_at >= since)
                    .order_by(Contact.ended_at))).all():
                if last_agent is not None and ended_at is not None:
                    sticky[customer_id] = (last_agent, as_utc(ended_at))  # the latest wins
    vip: dict[int, int] = {}
    if waiting:
        # Only customers marked with a priority: the rest are 0, and there may be thousands.
        for customer_id, attributes in (await session.execute(select(Customer.id, Customer.attributes).where(
                Customer.id.in_({c.customer_id for c in waiting})))).all():
            if attributes and "priority" in attributes:
                vip[customer_id] = customer_priority(attributes)
    contacts = []
    for c in waiting:
        queue = queues.get(c.queue_id) if c.queue_id is not None else None
        sticky_agent, sticky_until = None, None
        if queue is not None and queue.sticky_window_s and c.customer_id in sticky:
            sticky_agent, last_end = sticky[c.customer_id]
            sticky_until = last_end + timedelta(seconds=queue.sticky_window_s)
        refused = declined.get(c.id, ())
        contacts.append(WaitingContact(
            contact_id=c.id, queue_id=c.queue_id or 0, channel=capacity_class(c.channel_kind),
            enqueued_at=as_utc(c.enqueued_at) if c.enqueued_at else now,
            priority=c.priority or vip.get(c.customer_id, 0),
            queue_priority=queue.priority if queue else 0, declined_by=frozenset(refused),
            sticky_agent_id=sticky_agent, sticky_until=sticky_until,
            # A named agent who declined or missed it: back to anyone in the queue.
            target_agent_id=c.target_agent_id if c.target_agent_id not in refused else None))
        if topics is not None and c.customer_topic:
            topics[c.id] = c.customer_topic
    policies = {q.id: policy_of(q) for q in queues.values()}

    rows = (await session.execute(
        select(AgentProfile, User.team_id).join(User, User.id == AgentProfile.user_id)
        .where(User.active, AgentProfile.state != "offline"))).all()
    if not rows:
        return Snapshot(now=now, contacts=tuple(contacts), agents=(), queues=policies)
    agent_ids = [p.user_id for p, _ in rows]
    # Pending offers before load, and not the other way round: on PostgreSQL (read committed) each
    # statement sees what had committed when it began. An accept commits "offer accepted" and
    # "contact handled by the agent" together; read in this order, an agent is either seen with the
    # offer pending or with the contact in its load, never with neither (which offered a second
    # call to an agent who had just answered one).
    pending = set((await session.scalars(select(Offer.agent_id).where(
        Offer.state == OfferState.PENDING, Offer.agent_id.in_(agent_ids)))).all())
    load: dict[int, dict[str, int]] = defaultdict(dict)
    for holder, channel, n in (await session.execute(
            select(Contact.agent_id, Contact.channel_kind, func.count())
            .where(Contact.agent_id.in_(agent_ids), Contact.state.in_(list(HANDLING_STATES)))
            .group_by(Contact.agent_id, Contact.channel_kind))).all():
        if holder is not None:
            work = capacity_class(channel)
            load[holder][work] = load[holder].get(work, 0) + int(n)
    for profile, _ in rows:
        if profile.break_reason == CONSULT_REASON:  # the phone is in a consultation: a call in hand
            work = capacity_class("voice")
            load[profile.user_id][work] = load[profile.user_id].get(work, 0) + 1
    members = await members_by_agent(session)
    agents = tuple(
        AgentSnapshot(agent_id=p.user_id, state=p.state, queue_ids=frozenset(members.get(p.user_id, ())),
                      capacity={k: int(v) for k, v in p.capacity.items()}, load=load.get(p.user_id, {}),
                      idle_since=as_utc(p.idle_since) if p.idle_since else None,
                      pending_offer=p.user_id in pending,
                      skills={k: int(v) for k, v in (p.skills or {}).items()}, team_id=team_id,
                      voice_exclusive=p.voice_exclusive)
        for p, team_id in rows)
    return Snapshot(now=now, contacts=tuple(contacts), agents=agents, queues=policies)


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
                            agent_ids=sorted(members.get(q.id, [])), waiting=n, longest_wait_s=longest,
                            strategy=q.strategy, requirements=q.requirements or [], relaxation=q.relaxation or [],
                            overflow=q.overflow or [], priority_step_s=q.priority_step_s,
                            sticky_window_s=q.sticky_window_s, wrap_up_limit_s=q.wrap_up_limit_s,
                            default_aht_s=q.default_aht_s, hours=q.hours))
    return out


async def pending_offers_for(session: AsyncSession, agent_id: int) -> list[Offer]:
    return list((await session.scalars(select(Offer).where(
        Offer.agent_id == agent_id, Offer.state == OfferState.PENDING).order_by(Offer.id))).all())


async def queue_rows(session: AsyncSession) -> dict[int, Queue]:
    return {q.id: q for q in (await session.scalars(select(Queue))).all()}


async def overflow_hops(session: AsyncSession, contact_ids: list[int]) -> dict[int, int]:
    if not contact_ids:
        return {}
    rows = await session.execute(
        select(ContactEvent.contact_id, func.count()).where(
            ContactEvent.contact_id.in_(contact_ids), ContactEvent.type == "flowed_out")
        .group_by(ContactEvent.contact_id))
    return {cid: int(n) for cid, n in rows.all()}


async def callback_asked(session: AsyncSession, contact_ids: list[int]) -> set[int]:
    """Waiting contacts already asked to become callbacks (or that are callbacks)."""
    if not contact_ids:
        return set()
    return set((await session.scalars(select(ContactEvent.contact_id).where(
        ContactEvent.contact_id.in_(contact_ids),
        ContactEvent.type.in_(("callback_overflow", "callback_requested"))))).all())


async def default_aht(session: AsyncSession) -> dict[int, float]:
    return {qid: float(aht) for qid, aht in (await session.execute(select(Queue.id, Queue.default_aht_s))).all()}


async def aht_by_queue(session: AsyncSession, sample: int = 50) -> dict[int, float]:
    """Recent handle time per queue (accept → end), for wait estimates; only queues with history
    (the others use their configured default, see ``default_aht``)."""
    out: dict[int, float] = {}
    for queue in (await session.scalars(select(Queue))).all():
        rows = (await session.execute(
            select(Contact.accepted_at, Contact.ended_at).where(
                Contact.queue_id == queue.id, Contact.accepted_at.is_not(None), Contact.ended_at.is_not(None))
            .order_by(Contact.id.desc()).limit(sample))).all()
        spans = [(as_utc(end) - as_utc(start)).total_seconds() for start, end in rows if start and end]
        if spans:
            out[queue.id] = sum(spans) / len(spans)
    return out


async def wrap_up_overdue(session: AsyncSession, now: datetime) -> list[int]:
    rows = (await session.execute(
        select(Contact.id, Contact.ended_at, Queue.wrap_up_limit_s).join(Queue, Queue.id == Contact.queue_id)
        .where(Contact.state == ContactState.ENDED, Queue.wrap_up_limit_s.is_not(None)))).all()
    return [cid for cid, ended, limit in rows
            if ended is not None and limit is not None and (now - as_utc(ended)).total_seconds() >= limit]


async def position_of(session: AsyncSession, contact_id: int, now: datetime) -> LinePosition | None:
    """Computed from the database, so any instance answers (the router may run elsewhere)."""
    contact = await session.get(Contact, contact_id)
    if contact is None or contact.state != ContactState.QUEUED or contact.queue_id is None:
        return None
    snapshot = await load_snapshot(session, now)
    pending = set((await session.scalars(select(Offer.contact_id).where(Offer.state == OfferState.PENDING))).all())
    line = Snapshot(now=now, contacts=tuple(c for c in snapshot.contacts
                                            if c.queue_id == contact.queue_id and c.contact_id not in pending),
                    agents=snapshot.agents, queues=snapshot.queues)
    aht = {**(await default_aht(session)), **(await aht_by_queue(session))}.get(contact.queue_id, 300.0)
    return positions(line, {contact.queue_id: aht}).get(contact_id)
