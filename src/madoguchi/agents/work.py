"""An agent's work on a contact after accepting it: end, wrap up with a disposition."""

from __future__ import annotations

from madoguchi.agents.actions import do_sync_work
from madoguchi.contacts.actions import check_disposition, do_add_message, do_move, do_resolve_case, get_contact
from madoguchi.contacts.models import Contact
from madoguchi.contacts.schemas import WrapUpIn
from madoguchi.contacts.states import HANDLING_STATES, ContactState, Move
from madoguchi.db.uow import UnitOfWork
from madoguchi.identity.models import User
from madoguchi.kernel.errors import Conflict, PermissionDenied


async def check_end_contact(uow: UnitOfWork, *, actor: User, contact_id: int) -> Contact:
    contact = await get_contact(uow, contact_id)
    if contact.agent_id != actor.id:
        raise PermissionDenied("you are not handling this contact")
    if contact.state not in HANDLING_STATES:
        raise Conflict("this contact is not active", state=contact.state)
    await do_end_contact(uow, contact=contact, ended_by="agent")
    return contact


async def do_end_contact(uow: UnitOfWork, *, contact: Contact, ended_by: str) -> None:
    """End a contact an agent handles; the agent moves to wrap-up when it was their last."""
    contact.ended_at = uow.clock.now()
    contact.ended_by = ended_by
    do_move(uow, contact, Move.END, event_type="ended", agent_id=contact.agent_id, ended_by=ended_by)
    await do_add_message(uow, contact=contact, kind="system", author_kind="system",
                         body="conversation.ended_by_" + ended_by)
    if contact.agent_id is not None:
        await uow.session.flush()
        await do_sync_work(uow, agent_id=contact.agent_id)


async def check_wrap_up(uow: UnitOfWork, *, actor: User, contact_id: int, data: WrapUpIn) -> Contact:
    contact = await get_contact(uow, contact_id)
    if contact.agent_id != actor.id:
        raise PermissionDenied("you are not handling this contact")
    if contact.state != ContactState.ENDED:
        raise Conflict("only an ended contact can be wrapped up", state=contact.state)
    disposition = await check_disposition(uow, data.disposition_code)
    contact.disposition_id = disposition.id
    contact.wrap_up_note = data.note
    contact.wrapped_up_at = uow.clock.now()
    do_move(uow, contact, Move.WRAP_UP, event_type="wrapped_up", agent_id=actor.id, customer_sees=False,
            disposition=disposition.code)
    if disposition.resolves_case:
        await do_resolve_case(uow, case_id=contact.case_id)
    await uow.session.flush()
    await do_sync_work(uow, agent_id=actor.id)
    return contact


async def do_auto_wrap_up(uow: UnitOfWork, *, contact: Contact) -> None:
    """The queue's wrap-up time ran out: close the contact without a disposition so the agent is
    free again; the event says it was the clock, not the agent."""
    contact.wrapped_up_at = uow.clock.now()
    do_move(uow, contact, Move.WRAP_UP, event_type="wrapped_up", agent_id=contact.agent_id, customer_sees=False,
            disposition=None, auto=True)
    if contact.agent_id is not None:
        await uow.session.flush()
        await do_sync_work(uow, agent_id=contact.agent_id)


async def check_hold(uow: UnitOfWork, *, actor: User, contact_id: int, hold: bool) -> Contact:
    """Put a live contact on hold or take it off; hold time counts in handle time (KPI.md)."""
    contact = await get_contact(uow, contact_id)
    if contact.agent_id != actor.id:
        raise PermissionDenied("you are not handling this contact")
    if hold:
        do_move(uow, contact, Move.HOLD, event_type="held", agent_id=actor.id)
    else:
        do_move(uow, contact, Move.RESUME, event_type="resumed", agent_id=actor.id)
    return contact
