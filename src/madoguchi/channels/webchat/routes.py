"""The widget's HTTP API. Public by design (visitors have no login); a visitor proves who they are
with the widget token from POST /widget/sessions, sent as X-Widget-Token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header

from madoguchi.api.deps import CtxDep, public
from madoguchi.channels.webchat import actions, queries
from madoguchi.channels.webchat.schemas import WidgetMessageIn, WidgetSessionCreate, WidgetSessionOut
from madoguchi.contacts.schemas import MessageOut
from madoguchi.contacts.writer import MessagePost

router = APIRouter(prefix="/widget", tags=["webchat widget"])

VISITOR = public("web-chat visitors authenticate with the widget token")
TokenHeader = Annotated[str | None, Header(alias="X-Widget-Token", max_length=200)]


@router.post("/sessions", response_model=WidgetSessionOut, status_code=201,
             dependencies=[public("a visitor opens a chat with the entry point's public key")])
async def open_session(body: WidgetSessionCreate, ctx: CtxDep) -> WidgetSessionOut:
    async with ctx.db.uow() as uow:
        opened = await actions.check_open_session(uow, data=body)
    return await queries.session_state(ctx.db, opened.session.id, opened.token)


@router.get("/session", response_model=WidgetSessionOut, dependencies=[VISITOR])
async def get_session(ctx: CtxDep, token: TokenHeader = None) -> WidgetSessionOut:
    async with ctx.db.uow() as uow:
        session = await actions.session_for_token(uow, token)
        session.last_seen_at = uow.clock.now()
    return await queries.session_state(ctx.db, session.id, token or "")


@router.post("/messages", response_model=MessageOut, status_code=201, dependencies=[VISITOR])
async def send_message(body: WidgetMessageIn, ctx: CtxDep, token: TokenHeader = None) -> MessageOut:
    async with ctx.db.uow() as uow:
        session = await actions.session_for_token(uow, token)
        contact = await actions.do_start_conversation(uow, session=session, on_arrival=ctx.bot.on_arrival)
    message = await ctx.writer.post(MessagePost(contact_id=contact.id, author_kind="customer", body=body.body,
                                                client_msg_id=body.client_msg_id))
    await ctx.bot.on_customer_message(contact.id, message.id, message.body)
    return MessageOut.model_validate(message)


@router.post("/leave", status_code=204, dependencies=[VISITOR])
async def leave(ctx: CtxDep, token: TokenHeader = None) -> None:
    async with ctx.db.uow() as uow:
        session = await actions.session_for_token(uow, token)
        await actions.check_leave(uow, session=session)
