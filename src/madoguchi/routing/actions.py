"""Writes for queues and the line: enqueue, abandon, queue administration."""

from __future__ import annotations

from sqlalchemy import delete, select

from madoguchi.agents.actions import do_sync_work
from madoguchi.contacts import events as contact_events
from madoguchi.contacts.actions import do_add_message, do_move, record_event
from madoguchi.contacts.models import Contact
from madoguchi.contacts.states import ContactState, Move
from madoguchi.db.uow import UnitOfWork
from madoguchi.identity.audit import do_audit
from madoguchi.identity.models import User
from madoguchi.identity.permissions import HANDLING_ROLES
from madoguchi.kernel.errors import Conflict, InvalidInput, NotFound
from madoguchi.kernel.events import SUPERVISORS, Event
from madoguchi.routing.models import Queue, QueueMember
from madoguchi.routing.offers import do_cancel_offers
from madoguchi.routing.policy import QueueRouting
from madoguchi.routing.schemas import QueueCreate


def do_enqueue(uow: UnitOfWork, *, contact: Contact, queue: Queue) -> None:
    """Put the contact in line. A contact that was in line before (a transfer) keeps its original
    enqueue time, so it does not lose its place."""
    contact.queue_id = queue.id
    if contact.enqueued_at is None:
        contact.enqueued_at = uow.clock.now()
    do_move(uow, contact, Move.QUEUE, event_type="queued", queue_name=queue.name)


async def do_abandon(uow: UnitOfWork, *, contact: Contact, reason: str) -> None:
    """The customer left before an agent took the contact."""
    if contact.state == ContactState.OFFERED:
        await do_cancel_offers(uow, contact=contact)
    contact.ended_at = uow.clock.now()
    contact.ended_by = "customer"
    do_move(uow, contact, Move.ABANDON, event_type="abandoned", reason=reason)


async def _check_agents(uow: UnitOfWork, agent_ids: list[int]) -> list[int]:
    unique = sorted(set(agent_ids))
    if not unique:
        return unique
    rows = (await uow.session.execute(select(User.id, User.role).where(User.id.in_(unique)))).all()
    found = {uid: role for uid, role in rows}
    missing = [a for a in unique if a not in found]
    if missing:
        raise NotFound("user", ",".join(map(str, missing)))
    wrong = [a for a in unique if found[a] not in {r.value for r in HANDLING_ROLES}]
    if wrong:
        raise InvalidInput(f"users {wrong} do not handle contacts", field="agent_ids")
    return unique


async def check_create_queue(uow: UnitOfWork, *, actor: User, data: QueueCreate) -> Queue:
    if await uow.session.scalar(select(Queue.id).where(Queue.name == data.name)) is not None:
        raise Conflict(f"a queue named {data.name} exists", field="name")
    agent_ids = await _check_agents(uow, data.agent_ids)
    queue = Queue(name=data.name, name_ja=data.name_ja, priority=data.priority,
                  service_level_s=data.service_level_s, offer_timeout_s=data.offer_timeout_s,
                  created_at=uow.clock.now())
    uow.session.add(queue)
    await uow.session.flush()
    uow.session.add_all([QueueMember(queue_id=queue.id, agent_id=a) for a in agent_ids])
    do_audit(uow, actor=actor, action="queue.created", target=f"queue:{queue.id}", agent_ids=agent_ids)
    uow.emit(queue_changed(queue.id, agent_ids))
    return queue


async def check_set_members(uow: UnitOfWork, *, actor: User, queue_id: int, agent_ids: list[int]) -> Queue:
    queue = await uow.session.get(Queue, queue_id)
    if queue is None:
        raise NotFound("queue", queue_id)
    unique = await _check_agents(uow, agent_ids)
    await uow.session.execute(delete(QueueMember).where(QueueMember.queue_id == queue_id))
    uow.session.add_all([QueueMember(queue_id=queue_id, agent_id=a) for a in unique])
    do_audit(uow, actor=actor, action="queue.members_set", target=f"queue:{queue_id}", agent_ids=unique)
    uow.emit(queue_changed(queue_id, unique))
    return queue


def queue_changed(queue_id: int, agent_ids: list[int]) -> Event:
    return Event("queue.changed", {"queue_id": queue_id, "agent_ids": agent_ids}, (SUPERVISORS,))


async def do_overflow(uow: UnitOfWork, *, contact_id: int, to_queue: Queue, reason: str) -> Contact | None:
    """Move a waiting contact to another queue; its enqueue time (its place in line) stays."""
    contact = await uow.session.get(Contact, contact_id, with_for_update=True)
    if contact is None or contact.state != ContactState.QUEUED:
        return None
    from_queue = contact.queue_id
    record_event(uow, contact, "flowed_out", reason=reason, to_queue_id=to_queue.id)
    contact.queue_id = to_queue.id
    record_event(uow, contact, "requeued", from_queue_id=from_queue, reason=f"overflow:{reason}")
    uow.emit(contact_events.contact_changed(contact, change="overflowed", from_queue_id=from_queue,
                                            reason=reason))
    return contact


async def do_overflow_callback(uow: UnitOfWork, *, contact_id: int, reason: str) -> Contact | None:
    """Ask the channel holding a waiting call to turn it into a callback that keeps its place (the
    voice service does, and records ``callback_requested``; the contact does not move)."""
    contact = await uow.session.get(Contact, contact_id, with_for_update=True)
    if contact is None or contact.state != ContactState.QUEUED:
        return None
    record_event(uow, contact, "callback_overflow", reason=reason)
    uow.emit(contact_events.contact_changed(contact, change="callback_overflow", customer_sees=False, reason=reason))
    return contact


async def check_update_queue(uow: UnitOfWork, *, actor: User, queue_id: int, data: QueueRouting) -> Queue:
    queue = await uow.session.get(Queue, queue_id, with_for_update=True)
    if queue is None:
        raise NotFound("queue", queue_id)
    changes = data.model_dump(exclude_unset=True, mode="json")
    for rule in data.overflow or []:
        if rule.to_queue_id is None:
            continue
        if rule.to_queue_id == queue_id:
            raise InvalidInput("a queue cannot overflow into itself", field="overflow")
        if await uow.session.get(Queue, rule.to_queue_id) is None:
            raise NotFound("queue", rule.to_queue_id)
    for field_name, value in changes.items():
        setattr(queue, field_name, value)
    do_audit(uow, actor=actor, action="queue.updated", target=f"queue:{queue_id}", **changes)
    uow.emit(queue_changed(queue_id, []))
    return queue


async def check_transfer(uow: UnitOfWork, *, actor: User, contact_id: int, queue_id: int | None,
                         agent_id: int | None, may_transfer_any: bool) -> Contact:
    """Hand a live contact to a queue or a named agent. It goes back in line with its original
    enqueue time; the customer stays connected and sees that they are being transferred."""
    if (queue_id is None) == (agent_id is None):
        raise InvalidInput("transfer to a queue_id or to an agent_id", field="queue_id")
    contact = await uow.session.get(Contact, contact_id, with_for_update=True)
    if contact is None or (contact.agent_id != actor.id and not may_transfer_any):
        raise NotFound("contact", contact_id)
    if contact.state not in (ContactState.ACTIVE, ContactState.HELD):
        raise Conflict("only a live contact can be transferred", state=contact.state)
    target_queue = await uow.session.get(Queue, queue_id if queue_id is not None else contact.queue_id or 0)
    if target_queue is None:
        raise NotFound("queue", queue_id if queue_id is not None else "of the contact")
    if agent_id is not None:
        if agent_id == contact.agent_id:
            raise InvalidInput("the contact is already with this agent", field="agent_id")
        await _check_agents(uow, [agent_id])
    previous_agent = contact.agent_id
    contact.agent_id = None
    contact.target_agent_id = agent_id
    contact.queue_id = target_queue.id
    do_move(uow, contact, Move.TRANSFER, event_type="transferred", agent_id=previous_agent,
            extra_users=(previous_agent,) if previous_agent else (), to_queue_id=target_queue.id,
            to_agent_id=agent_id)
    record_event(uow, contact, "queued", queue_name=target_queue.name, transfer=True)
    await do_add_message(uow, contact=contact, kind="system", author_kind="system", body="conversation.transferred")
    if previous_agent is not None:
        await uow.session.flush()
        await do_sync_work(uow, agent_id=previous_agent)
    return contact
