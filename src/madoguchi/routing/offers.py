"""Offers: exactly one pending offer per contact (a unique index makes sure), accept within the
timeout or the contact goes back in line for the next agent."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from madoguchi.agents.actions import do_clear_missed_offers, do_note_missed_offer, do_sync_work
from madoguchi.contacts.actions import do_add_message, do_move, get_contact
from madoguchi.contacts.models import Contact
from madoguchi.contacts.states import ContactState, Move
from madoguchi.customers.models import Customer
from madoguchi.db.uow import UnitOfWork
from madoguchi.identity.models import User
from madoguchi.kernel.errors import Conflict, NotFound
from madoguchi.kernel.events import SUPERVISORS, Event, user_topic
from madoguchi.routing.models import Offer, Queue
from madoguchi.routing.router import OfferDecision
from madoguchi.routing.states import OfferState, decide

OFFER_CREATED = "offer.created"
OFFER_CLOSED = "offer.closed"


def _offer_event(type_: str, offer: Offer, **data: object) -> Event:
    return Event(type_, {"offer_id": offer.id, "contact_id": offer.contact_id, "agent_id": offer.agent_id,
                         "queue_id": offer.queue_id, "state": offer.state,
                         "expires_at": offer.expires_at.isoformat(), **data},
                 (user_topic(offer.agent_id), SUPERVISORS))


async def do_make_offer(uow: UnitOfWork, *, decision: OfferDecision, default_timeout_s: float) -> Offer | None:
    """Offer the contact to the agent; None when the contact left the line meanwhile."""
    contact = await uow.session.get(Contact, decision.contact_id, with_for_update=True)
    if contact is None or contact.state != ContactState.QUEUED:
        return None
    queue = await uow.session.get(Queue, decision.queue_id)
    timeout = (queue.offer_timeout_s if queue and queue.offer_timeout_s else None) or default_timeout_s
    now = uow.clock.now()
    offer = Offer(contact_id=contact.id, agent_id=decision.agent_id, queue_id=decision.queue_id,
                  state=OfferState.PENDING, created_at=now, expires_at=now + timedelta(seconds=timeout))
    uow.session.add(offer)
    await uow.session.flush()
    do_move(uow, contact, Move.OFFER, event_type="offered", agent_id=decision.agent_id, customer_sees=False,
            offer_id=offer.id)
    customer = await uow.session.get(Customer, contact.customer_id)
    uow.emit(_offer_event(OFFER_CREATED, offer, channel_kind=contact.channel_kind,
                          customer_name=customer.display_name if customer else None, subject=contact.subject,
                          timeout_s=timeout))
    return offer


async def _pending_offer(uow: UnitOfWork, actor: User, offer_id: int) -> Offer:
    offer = await uow.session.get(Offer, offer_id, with_for_update=True)
    if offer is None or offer.agent_id != actor.id:
        raise NotFound("offer", offer_id)
    if offer.state != OfferState.PENDING:
        raise Conflict(f"this offer is {offer.state}", state=offer.state)
    return offer


async def check_accept_offer(uow: UnitOfWork, *, actor: User, offer_id: int) -> Contact:
    offer = await _pending_offer(uow, actor, offer_id)
    now = uow.clock.now()
    if now >= offer.expires_at:
        await do_expire_offer(uow, offer=offer)
        raise Conflict("this offer has expired", state=OfferState.TIMED_OUT)
    contact = await get_contact(uow, offer.contact_id)
    offer.state = decide(offer.state, OfferState.ACCEPTED)
    offer.decided_at = now
    contact.agent_id = actor.id
    contact.target_agent_id = None
    if contact.accepted_at is None:  # a transferred contact keeps its first answer time
        contact.accepted_at = now
    do_move(uow, contact, Move.ACCEPT, event_type="accepted", agent_id=actor.id, offer_id=offer.id,
            agent_name=actor.display_name)
    uow.emit(_offer_event(OFFER_CLOSED, offer))
    await do_add_message(uow, contact=contact, kind="system", author_kind="system",
                         body="conversation.agent_joined", author=actor)
    await uow.session.flush()
    await do_clear_missed_offers(uow, agent_id=actor.id)
    await do_sync_work(uow, agent_id=actor.id)
    return contact


async def check_reject_offer(uow: UnitOfWork, *, actor: User, offer_id: int) -> Offer:
    offer = await _pending_offer(uow, actor, offer_id)
    await _return_to_line(uow, offer, OfferState.REJECTED, "rejected")
    return offer


async def do_expire_offer(uow: UnitOfWork, *, offer: Offer, missed_limit: int = 0) -> None:
    await _return_to_line(uow, offer, OfferState.TIMED_OUT, "offer_timed_out")
    await do_note_missed_offer(uow, agent_id=offer.agent_id, limit=missed_limit)


async def _return_to_line(uow: UnitOfWork, offer: Offer, outcome: OfferState, event_type: str) -> None:
    offer.state = decide(offer.state, outcome)
    offer.decided_at = uow.clock.now()
    uow.emit(_offer_event(OFFER_CLOSED, offer))
    contact = await get_contact(uow, offer.contact_id)
    if contact.state == ContactState.OFFERED:
        do_move(uow, contact, Move.REJECT, event_type=event_type, agent_id=offer.agent_id, customer_sees=False,
                offer_id=offer.id)


async def do_expire_due(uow: UnitOfWork, *, missed_limit: int = 0) -> int:
    """Time out every pending offer past its deadline; returns how many."""
    now = uow.clock.now()
    due = (await uow.session.scalars(select(Offer).where(
        Offer.state == OfferState.PENDING, Offer.expires_at <= now).with_for_update())).all()
    for offer in due:
        await do_expire_offer(uow, offer=offer, missed_limit=missed_limit)
    return len(due)


async def do_cancel_offers(uow: UnitOfWork, *, contact: Contact) -> None:
    """The contact left (abandoned) while offered: its pending offer is void."""
    pending = (await uow.session.scalars(select(Offer).where(
        Offer.contact_id == contact.id, Offer.state == OfferState.PENDING).with_for_update())).all()
    for offer in pending:
        offer.state = decide(offer.state, OfferState.CANCELLED)
        offer.decided_at = uow.clock.now()
        uow.emit(_offer_event(OFFER_CLOSED, offer))
