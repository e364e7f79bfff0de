"""WebSocket endpoints: staff (agents, supervisors) at /ws, web-chat visitors at /ws/widget.

Both speak the hub's one protocol; they differ in who the client is (its topics) and the ops it may
send."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket
from pydantic import ValidationError

from madoguchi.api.deps import SESSION_COOKIE, authenticate, public
from madoguchi.channels.webchat import actions as webchat
from madoguchi.channels.webchat.queries import current_contact_for
from madoguchi.channels.webchat.schemas import WidgetMessageIn
from madoguchi.contacts import events as contact_events
from madoguchi.contacts.access import access_contact
from madoguchi.contacts.schemas import MessageCreate
from madoguchi.contacts.writer import MessagePost
from madoguchi.context import AppContext
from madoguchi.identity.models import User
from madoguchi.identity.permissions import FLOOR_ROLES, Role
from madoguchi.kernel.errors import Conflict, DomainError
from madoguchi.kernel.events import SUPERVISORS, Envelope, user_topic, visitor_topic

router = APIRouter()


def _same_origin(websocket: WebSocket) -> bool:
    """Browsers send Origin on WebSocket handshakes; refusing foreign origins stops cross-site
    WebSocket hijacking with the session cookie."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == websocket.headers.get("host")


def _error(error: DomainError) -> dict[str, Any]:
    return {"op": "error", "error_id": error.error_id, "message": error.message, "details": error.details}


def _invalid(error: ValidationError) -> dict[str, Any]:
    problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()[:3])
    return {"op": "error", "error_id": "invalid_input", "message": problems}


async def _publish_ephemeral(ctx: AppContext, envelope_type: str, data: dict[str, Any],
                             audience: tuple[str, ...]) -> None:
    # Typing indicators are not facts: nothing to commit, so they go straight to the bus.
    await ctx.bus.publish(Envelope(id=None, type=envelope_type, data=data, audience=audience))


@router.websocket("/ws", dependencies=[public("authenticated inside: session cookie or bearer token")])
async def staff_socket(websocket: WebSocket) -> None:
    ctx: AppContext = websocket.app.state.ctx
    principal = await authenticate(ctx, cookie=websocket.cookies.get(SESSION_COOKIE),
                                   authorization=websocket.headers.get("authorization"))
    if not _same_origin(websocket):
        await websocket.close(code=1008)  # refused at the handshake: a foreign page has no business here
        return
    if principal is None:
        # Accept, then close with 4401, so a browser learns why (a refused handshake shows no code).
        await websocket.accept()
        await websocket.close(code=4401, reason="not authenticated")
        return
    user = principal.user
    await websocket.accept()
    topics = (user_topic(user.id),) + ((SUPERVISORS,) if Role(user.role) in FLOOR_ROLES else ())
    await ctx.hub.serve(websocket, topics=topics, handle=lambda op: _staff_op(ctx, user, op))


async def _staff_op(ctx: AppContext, user: User, op: dict[str, Any]) -> dict[str, Any] | None:
    try:
        kind = op.get("op")
        contact_id = op.get("contact_id")
        if not isinstance(contact_id, int):
            return {"op": "error", "error_id": "invalid_input", "message": "contact_id must be an integer"}
        if kind == "message.send":
            body = MessageCreate.model_validate({k: op[k] for k in ("body", "kind", "client_msg_id") if k in op})
            message = await ctx.writer.post(MessagePost(contact_id=contact_id, author_kind="agent", body=body.body,
                                                        kind=body.kind, author=user,
                                                        client_msg_id=body.client_msg_id))
            return {"op": "ack", "message_id": message.id, "contact_id": contact_id}
        if kind == "typing":
            async with ctx.db.read() as session:
                contact = await access_contact(session, user, contact_id)
            event = contact_events.typing(contact, who="agent", active=bool(op.get("active")))
            await _publish_ephemeral(ctx, event.type, event.data, event.audience)
            return None
        return {"op": "error", "error_id": "unknown_op", "message": f"unknown op {kind!r}"}
    except DomainError as error:
        return _error(error)
    except ValidationError as error:
        return _invalid(error)


@router.websocket("/ws/widget", dependencies=[public("web-chat visitors authenticate with the widget token")])
async def widget_socket(websocket: WebSocket) -> None:
    ctx: AppContext = websocket.app.state.ctx
    token = websocket.query_params.get("token")
    try:
        async with ctx.db.uow() as uow:
            session = await webchat.session_for_token(uow, token)
            session.last_seen_at = uow.clock.now()
    except DomainError:
        await websocket.accept()
        await websocket.close(code=4401, reason="unknown widget token")
        return
    await websocket.accept()
    session_id = session.id
    visitor = _Visitor(ctx, token or "", session.contact_id)
    await ctx.hub.serve(websocket, topics=(visitor_topic(session_id),), handle=visitor.handle)


class _Visitor:
    """One visitor connection. It remembers the open conversation so the hot path (a message in
    a live chat) costs one trip through the message writer and nothing else."""

    def __init__(self, ctx: AppContext, token: str, contact_id: int | None) -> None:
        self.ctx = ctx
        self.token = token
        self.contact_id = contact_id

    async def _post(self, body: WidgetMessageIn) -> dict[str, Any]:
        if self.contact_id is not None:
            try:
                message = await self.ctx.writer.post(MessagePost(
                    contact_id=self.contact_id, author_kind="customer", body=body.body,
                    client_msg_id=body.client_msg_id))
                await self.ctx.bot.on_customer_message(self.contact_id, message.id, message.body)
                return {"op": "ack", "message_id": message.id, "contact_id": self.contact_id}
            except Conflict:
                self.contact_id = None  # that conversation ended; this message starts a new one
        async with self.ctx.db.uow() as uow:
            session = await webchat.session_for_token(uow, self.token)
            contact = await webchat.do_start_conversation(uow, session=session, on_arrival=self.ctx.bot.on_arrival)
        self.contact_id = contact.id
        message = await self.ctx.writer.post(MessagePost(contact_id=contact.id, author_kind="customer",
                                                         body=body.body, client_msg_id=body.client_msg_id))
        await self.ctx.bot.on_customer_message(contact.id, message.id, message.body)
        return {"op": "ack", "message_id": message.id, "contact_id": contact.id}

    async def handle(self, op: dict[str, Any]) -> dict[str, Any] | None:
        return await _visitor_op(self, op)


async def _visitor_op(visitor: _Visitor, op: dict[str, Any]) -> dict[str, Any] | None:
    ctx, token = visitor.ctx, visitor.token
    try:
        kind = op.get("op")
        if kind == "message.send":
            body = WidgetMessageIn.model_validate({k: op[k] for k in ("body", "client_msg_id") if k in op})
            return await visitor._post(body)
        if kind == "typing":
            async with ctx.db.read() as db_session:
                contact = await current_contact_for(db_session, token)
            if contact is not None:
                event = contact_events.typing(contact, who="customer", active=bool(op.get("active")))
                await _publish_ephemeral(ctx, event.type, event.data, event.audience)
            return None
        if kind == "leave":
            async with ctx.db.uow() as uow:
                session = await webchat.session_for_token(uow, token)
                await webchat.check_leave(uow, session=session)
            return {"op": "ack"}
        return {"op": "error", "error_id": "unknown_op", "message": f"unknown op {kind!r}"}
    except DomainError as error:
        return _error(error)
    except ValidationError as error:
        return _invalid(error)
