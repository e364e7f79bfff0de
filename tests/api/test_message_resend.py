"""A message resent after a lost ack is the same message, once: within one write batch, against a
row already stored, and through both the REST and the WebSocket paths."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy import func, select

from madoguchi.contacts.models import Message
from tests.api.flow import agent_on_duty, open_visitor
from tests.support import Browserish, RunningServer


async def test_resends_are_one_message(server: RunningServer, clients: Callable[[], Browserish]) -> None:
    agent = clients()
    await agent_on_duty(server, agent, "tanaka@demo.madoguchi.test")
    visitor_client = clients()
    visitor = await open_visitor(server, visitor_client, name="Resend Test")
    first = await visitor.socket.op({"op": "message.send", "body": "hello", "client_msg_id": "r-0"})
    contact_id = first["contact_id"]

    # Many posts at once land in one batch of the group-commit writer: each client_msg_id twice,
    # and every other one with no client_msg_id at all (never deduplicated).
    async def post(body: str, client_msg_id: str | None) -> dict[str, object]:
        payload: dict[str, object] = {"body": body}
        if client_msg_id is not None:
            payload["client_msg_id"] = client_msg_id
        result: dict[str, object] = await visitor_client.call(
            "POST", "/api/v1/widget/messages", expect=201, json=payload, headers=visitor.headers)
        return result

    calls = []
    for i in range(1, 21):
        calls.append(post(f"m{i}", f"r-{i}"))
        calls.append(post(f"m{i}", f"r-{i}"))
        calls.append(post(f"plain{i}", None))
    answers = await asyncio.gather(*calls)
    for i in range(20):
        a, b, plain = answers[3 * i: 3 * i + 3]
        assert a["id"] == b["id"] and a["client_msg_id"] == f"r-{i + 1}" and a["body"] == f"m{i + 1}"
        assert plain["id"] not in (a["id"], b["id"]) and plain["client_msg_id"] is None

    # A resend of a message stored long ago: the stored message comes back, no new row, no event.
    again = await visitor.socket.op({"op": "message.send", "body": "hello", "client_msg_id": "r-0"})
    assert again["message_id"] == first["message_id"]

    async with server.ctx.db.read() as session:
        count = await session.scalar(select(func.count()).select_from(Message)
                                     .where(Message.contact_id == contact_id, Message.author_kind == "customer"))
    assert count == 1 + 20 + 20
    await visitor.socket.op({"op": "ping"})
    created = [f for f in visitor.socket.events
               if f["type"] == "message.created" and f["data"]["author_kind"] == "customer"]
    assert len(created) == count
    assert len({f["id"] for f in created}) == count

    # After the conversation ended, a late resend still gets the original back, not an error and
    # not a new conversation.
    await visitor.socket.op({"op": "leave"})
    late = await visitor.socket.op({"op": "message.send", "body": "m5", "client_msg_id": "r-5"})
    assert late["op"] == "ack" and late["contact_id"] == contact_id
    assert late["message_id"] == answers[12]["id"]
