from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from madoguchi.api.deps import CtxDep, require
from madoguchi.contacts.access import access_contact
from madoguchi.contacts.schemas import ContactOut
from madoguchi.identity.models import User
from madoguchi.identity.permissions import Perm, has
from madoguchi.kernel.errors import Conflict
from madoguchi.routing import actions, offers, queries
from madoguchi.routing.policy import QueueRouting
from madoguchi.routing.schemas import OfferOut, PositionOut, QueueCreate, QueueMembersIn, QueueOut, TransferIn

router = APIRouter(tags=["routing"])


async def _queue_out(ctx: CtxDep, queue_id: int) -> QueueOut:
    async with ctx.db.read() as session:
        return next(q for q in await queries.list_queues(session, ctx.clock.now()) if q.id == queue_id)


@router.get("/queues", response_model=list[QueueOut])
async def list_queues(ctx: CtxDep, _user: Annotated[User, require(Perm.READ_QUEUES)]) -> list[QueueOut]:
    async with ctx.db.read() as session:
        return await queries.list_queues(session, ctx.clock.now())


@router.post("/queues", response_model=QueueOut, status_code=201)
async def create_queue(body: QueueCreate, ctx: CtxDep, user: Annotated[User, require(Perm.MANAGE_QUEUES)]) -> QueueOut:
    async with ctx.db.uow() as uow:
        queue = await actions.check_create_queue(uow, actor=user, data=body)
    return await _queue_out(ctx, queue.id)


@router.put("/queues/{queue_id}/members", response_model=QueueOut)
async def set_members(queue_id: int, body: QueueMembersIn, ctx: CtxDep,
                      user: Annotated[User, require(Perm.MANAGE_QUEUES)]) -> QueueOut:
    async with ctx.db.uow() as uow:
        await actions.check_set_members(uow, actor=user, queue_id=queue_id, agent_ids=body.agent_ids)
    return await _queue_out(ctx, queue_id)


@router.patch("/queues/{queue_id}", response_model=QueueOut)
async def update_queue(queue_id: int, body: QueueRouting, ctx: CtxDep,
                       user: Annotated[User, require(Perm.MANAGE_QUEUES)]) -> QueueOut:
    """Routing rules: strategy, skill requirements, relaxation steps, overflow, priority, sticky
    window, wrap-up limit, opening hours. Omitted fields stay as they are."""
    async with ctx.db.uow() as uow:
        await actions.check_update_queue(uow, actor=user, queue_id=queue_id, data=body)
    return await _queue_out(ctx, queue_id)


@router.post("/contacts/{contact_id}/transfer", response_model=ContactOut)
async def transfer_contact(contact_id: int, body: TransferIn, ctx: CtxDep,
                           user: Annotated[User, require(Perm.HANDLE_CONTACTS)]) -> ContactOut:
    """To a queue or a named agent; the contact keeps its place (original enqueue time)."""
    async with ctx.db.uow() as uow:
        contact = await actions.check_transfer(uow, actor=user, contact_id=contact_id, queue_id=body.queue_id,
                                               agent_id=body.agent_id,
                                               may_transfer_any=has(user.role, Perm.MANAGE_AGENT_STATE))
    return ContactOut.model_validate(contact)


@router.get("/contacts/{contact_id}/position", response_model=PositionOut)
async def contact_position(contact_id: int, ctx: CtxDep,
                           user: Annotated[User, require(Perm.READ_QUEUES)]) -> PositionOut:
    async with ctx.db.read() as session:
        await access_contact(session, user, contact_id)
        found = await queries.position_of(session, contact_id, ctx.clock.now())
    if found is None:
        raise Conflict("this contact is not waiting in a queue")
    return PositionOut(contact_id=found.contact_id, queue_id=found.queue_id, position=found.position,
                       estimated_wait_s=found.estimated_wait_s)


@router.get("/offers", response_model=list[OfferOut])
async def my_offers(ctx: CtxDep, user: Annotated[User, require(Perm.HANDLE_CONTACTS)]) -> list[OfferOut]:
    async with ctx.db.read() as session:
        return [OfferOut.model_validate(o) for o in await queries.pending_offers_for(session, user.id)]


@router.post("/offers/{offer_id}/accept", response_model=ContactOut)
async def accept_offer(offer_id: int, ctx: CtxDep, user: Annotated[User, require(Perm.HANDLE_CONTACTS)]) -> ContactOut:
    async with ctx.db.uow() as uow:
        contact = await offers.check_accept_offer(uow, actor=user, offer_id=offer_id)
    return ContactOut.model_validate(contact)


@router.post("/offers/{offer_id}/reject", response_model=OfferOut)
async def reject_offer(offer_id: int, ctx: CtxDep, user: Annotated[User, require(Perm.HANDLE_CONTACTS)]) -> OfferOut:
    async with ctx.db.uow() as uow:
        offer = await offers.check_reject_offer(uow, actor=user, offer_id=offer_id)
    return OfferOut.model_validate(offer)
