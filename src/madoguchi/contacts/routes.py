from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from madoguchi.api.deps import CtxDep, require
from madoguchi.contacts import actions, queries
from madoguchi.contacts.access import access_contact
from madoguchi.contacts.schemas import (
    ContactDetail,
    ContactEventOut,
    ContactOut,
    DispositionCreate,
    DispositionOut,
    MessageCreate,
    MessageOut,
    TimelineItem,
)
from madoguchi.contacts.writer import MessagePost
from madoguchi.customers.queries import get_profile
from madoguchi.identity.models import User
from madoguchi.identity.permissions import Perm, has

router = APIRouter(tags=["contacts"])


@router.get("/contacts", response_model=list[ContactOut])
async def list_contacts(ctx: CtxDep, user: Annotated[User, require(Perm.READ_QUEUES)],
                        state: Annotated[str | None, Query(max_length=20)] = None,
                        queue_id: int | None = None, agent_id: int | None = None, customer_id: int | None = None,
                        limit: Annotated[int, Query(ge=1, le=500)] = 50,
                        offset: Annotated[int, Query(ge=0)] = 0) -> list[ContactOut]:
    if not has(user.role, Perm.READ_ALL_CONTACTS):
        agent_id = user.id  # an agent lists their own contacts
    async with ctx.db.read() as session:
        rows = await queries.list_contacts(session, state=state, queue_id=queue_id, agent_id=agent_id,
                                           customer_id=customer_id, limit=limit, offset=offset)
    return [ContactOut.model_validate(c) for c in rows]


@router.get("/contacts/{contact_id}", response_model=ContactDetail)
async def get_contact(contact_id: int, ctx: CtxDep, user: Annotated[User, require(Perm.READ_QUEUES)]) -> ContactDetail:
    async with ctx.db.read() as session:
        await access_contact(session, user, contact_id)
        return await queries.contact_detail(session, contact_id)


@router.get("/contacts/{contact_id}/events", response_model=list[ContactEventOut])
async def contact_events(contact_id: int, ctx: CtxDep,
                         user: Annotated[User, require(Perm.READ_QUEUES)]) -> list[ContactEventOut]:
    async with ctx.db.read() as session:
        await access_contact(session, user, contact_id)
        return await queries.events_of(session, contact_id)


@router.post("/contacts/{contact_id}/messages", response_model=MessageOut, status_code=201)
async def post_message(contact_id: int, body: MessageCreate, ctx: CtxDep,
                       user: Annotated[User, require(Perm.READ_QUEUES)]) -> MessageOut:
    message = await ctx.writer.post(MessagePost(contact_id=contact_id, author_kind="agent", body=body.body,
                                                kind=body.kind, author=user, client_msg_id=body.client_msg_id))
    return MessageOut.model_validate(message)


@router.get("/customers/{customer_id}/timeline", response_model=list[TimelineItem])
async def customer_timeline(customer_id: int, ctx: CtxDep,
                            _user: Annotated[User, require(Perm.READ_CUSTOMERS)]) -> list[TimelineItem]:
    async with ctx.db.read() as session:
        profile = await get_profile(session, customer_id)
        return await queries.timeline(session, profile.id)


@router.get("/dispositions", response_model=list[DispositionOut])
async def list_dispositions(ctx: CtxDep, _user: Annotated[User, require(Perm.READ_QUEUES)]) -> list[DispositionOut]:
    async with ctx.db.read() as session:
        return [DispositionOut.model_validate(d) for d in await queries.list_dispositions(session)]


@router.post("/dispositions", response_model=DispositionOut, status_code=201)
async def create_disposition(body: DispositionCreate, ctx: CtxDep,
                             user: Annotated[User, require(Perm.MANAGE_DISPOSITIONS)]) -> DispositionOut:
    async with ctx.db.uow() as uow:
        return DispositionOut.model_validate(await actions.check_create_disposition(uow, actor=user, data=body))
