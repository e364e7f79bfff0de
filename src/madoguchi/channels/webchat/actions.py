"""Web-chat writes: widget sessions (with identity recognition), conversations, customer leaving."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import select

from madoguchi.agents.work import do_end_contact
from madoguchi.channels.models import EntryPoint, WidgetSession
from madoguchi.channels.webchat.adapter import KIND, SITE_USER_IDENTITY, VISITOR_IDENTITY
from madoguchi.channels.webchat.schemas import WidgetSessionCreate
from madoguchi.channels.webchat.signing import verify_identity
from madoguchi.contacts import events as contact_events
from madoguchi.contacts.actions import do_move, do_open_contact, get_contact
from madoguchi.contacts.models import Contact
from madoguchi.contacts.states import HANDLING_STATES, OPEN_STATES, ContactState, Move
from madoguchi.customers.actions import do_link_identity, do_resolve_identity, do_update_profile
from madoguchi.customers.models import Customer
from madoguchi.customers.queries import customer_ids_of
from madoguchi.db.uow import UnitOfWork
from madoguchi.identity.actions import token_digest
from madoguchi.kernel.errors import Conflict, IdentityRejected, NotAuthenticated, NotFound
from madoguchi.kernel.events import visitor_topic
from madoguchi.routing.actions import do_abandon, do_enqueue
from madoguchi.routing.models import Queue

#: What meets a new conversation (a flow, from the composition root); without one it is queued.
ArrivalHandler = Callable[[UnitOfWork, Contact, EntryPoint, Queue], Awaitable[None]]


@dataclass(frozen=True)
class OpenedSession:
    session: WidgetSession
    token: str
    customer: Customer
    contact: Contact | None


async def entry_point_for_key(uow: UnitOfWork, public_key: str) -> EntryPoint:
    ep = await uow.session.scalar(select(EntryPoint).where(EntryPoint.public_key == public_key,
                                                           EntryPoint.channel_kind == KIND, EntryPoint.active))
    if ep is None:
        raise NotFound("chat entry point", public_key)
    return ep


async def _recognise(uow: UnitOfWork, ep: EntryPoint, data: WidgetSessionCreate, visitor_id: str) -> Customer:
    """Find the customer: a signed site identity first, then the visitor id, then the email.

    An email typed into the pre-chat form is a claim, not a proof: it links the visitor to the
    customer who owns that address so the agent sees the history (marked unverified), but it never
    hands the visitor anything of that customer's (see ``_resumable_contact``)."""
    if data.identity is not None:
        if not verify_identity(ep.secret, data.identity.identifier, data.identity.signature):
            raise IdentityRejected("the identity signature does not match")
        customer, _ = await do_resolve_identity(uow, kind=SITE_USER_IDENTITY,
                                                address=f"{ep.id}:{data.identity.identifier}",
                                                display_name=data.name, verified=True)
        customer = await do_link_identity(uow, customer=customer, kind=VISITOR_IDENTITY, address=visitor_id)
    elif ep.require_verified_identity:
        raise IdentityRejected("this chat accepts signed identities only")
    else:
        customer, _ = await do_resolve_identity(uow, kind=VISITOR_IDENTITY, address=visitor_id,
                                                display_name=data.name)
    if data.email:
        customer = await do_link_identity(uow, customer=customer, kind="email", address=data.email)
    do_update_profile(uow, customer=customer, display_name=data.name, email=data.email)
    if data.language and not customer.language:
        customer.language = data.language
    return customer


async def _resumable_contact(uow: UnitOfWork, ep: EntryPoint, customer: Customer, visitor_id: str,
                             signed: bool) -> Contact | None:
    """The live conversation a new session may pick up: one this same browser (visitor id) started,
    or, for a signed identity, any of the customer's on this entry point. Never one reached only
    through a claimed email: that would let anyone who knows an address read a stranger's chat."""
    ids = await customer_ids_of(uow.session, customer.id)
    stmt = (select(Contact).where(Contact.customer_id.in_(ids), Contact.entry_point_id == ep.id,
                                  Contact.state.in_(list(OPEN_STATES)))
            .order_by(Contact.id.desc()).limit(1))
    if not signed:
        started_here = select(WidgetSession.contact_id).where(
            WidgetSession.visitor_id == visitor_id, WidgetSession.entry_point_id == ep.id,
            WidgetSession.contact_id.is_not(None))
        stmt = stmt.where(Contact.id.in_(started_here))
    contact: Contact | None = await uow.session.scalar(stmt)
    return contact


async def check_open_session(uow: UnitOfWork, *, data: WidgetSessionCreate) -> OpenedSession:
    ep = await entry_point_for_key(uow, data.public_key)
    visitor_id = data.visitor_id or secrets.token_urlsafe(16)
    customer = await _recognise(uow, ep, data, visitor_id)
    contact = await _resumable_contact(uow, ep, customer, visitor_id, signed=data.identity is not None)
    given_name = data.name or await uow.session.scalar(
        select(WidgetSession.given_name).where(WidgetSession.visitor_id == visitor_id,
                                               WidgetSession.entry_point_id == ep.id,
                                               WidgetSession.given_name.is_not(None))
        .order_by(WidgetSession.id.desc()).limit(1))  # what this same browser told us before
    now = uow.clock.now()
    token = "wgt_" + secrets.token_urlsafe(32)
    session = WidgetSession(entry_point_id=ep.id, visitor_id=visitor_id, token_hash=token_digest(token),
                            customer_id=customer.id, created_at=now, last_seen_at=now,
                            verified=data.identity is not None, given_name=given_name)
    uow.session.add(session)
    await uow.session.flush()
    if contact is not None:
        # The visitor came back in a new session (new tab, cleared storage): the live conversation
        # follows them.
        contact.customer_topic = visitor_topic(session.id)
        session.contact_id = contact.id
    return OpenedSession(session=session, token=token, customer=customer, contact=contact)


async def session_for_token(uow: UnitOfWork, token: str | None) -> WidgetSession:
    if not token:
        raise NotAuthenticated("send the widget token in X-Widget-Token")
    session = await uow.session.scalar(select(WidgetSession).where(WidgetSession.token_hash == token_digest(token)))
    if session is None:
        raise NotAuthenticated("unknown widget token; open a new chat session")
    return session


async def current_contact(uow: UnitOfWork, session: WidgetSession) -> Contact | None:
    if session.contact_id is None:
        return None
    return await uow.session.get(Contact, session.contact_id)


async def do_start_conversation(uow: UnitOfWork, *, session: WidgetSession,
                                on_arrival: ArrivalHandler | None = None) -> Contact:
    """The visitor's open conversation, or a new one handed to ``on_arrival`` (the entry point's
    flow), or put in the entry point's queue."""
    contact = await current_contact(uow, session)
    if contact is not None and contact.state in OPEN_STATES:
        return contact
    ep = await uow.session.get(EntryPoint, session.entry_point_id)
    if ep is None or not ep.active:
        raise NotFound("chat entry point", session.entry_point_id)
    queue = await uow.session.get(Queue, ep.queue_id) if ep.queue_id is not None else None
    if queue is None:
        raise Conflict("this chat has no queue configured")
    contact = await do_open_contact(uow, customer_id=session.customer_id, channel_kind=KIND,
                                    entry_point_id=ep.id, subject=ep.name,
                                    customer_topic=visitor_topic(session.id))
    session.contact_id = contact.id
    if on_arrival is None:
        do_enqueue(uow, contact=contact, queue=queue)
    else:
        await on_arrival(uow, contact, ep, queue)
    return contact


async def check_leave(uow: UnitOfWork, *, session: WidgetSession) -> Contact | None:
    """The visitor closed the chat: an abandon while in line, an end while an agent handles it."""
    contact = await current_contact(uow, session)
    if contact is None or contact.state not in OPEN_STATES:
        return contact
    contact = await get_contact(uow, contact.id)
    if contact.state in HANDLING_STATES:
        await do_end_contact(uow, contact=contact, ended_by="customer")
    elif contact.state == ContactState.NEW:
        contact.ended_at = uow.clock.now()
        do_move(uow, contact, Move.END, event_type="ended", ended_by="customer")
    else:
        await do_abandon(uow, contact=contact, reason="customer_left")
    return contact


def do_typing(uow: UnitOfWork, *, contact: Contact, active: bool) -> None:
    uow.emit(contact_events.typing(contact, who="customer", active=active))
