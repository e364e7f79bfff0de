"""An agent's socket drops while messages arrive; resuming from its last event id it gets every
message exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tests.api.flow import agent_on_duty, open_visitor
from tests.support import Browserish, RunningServer, Socket


@pytest.mark.parametrize("batch", [False, True], ids=["frames", "batches"])
async def test_resume_after_drop_delivers_everything_once(server: RunningServer,
                                                          clients: Callable[[], Browserish], batch: bool) -> None:
    agent = clients()
    first = await agent_on_duty(server, agent, "suzuki@demo.madoguchi.test")
    visitor = await open_visitor(server, clients(), name="Reconnect Rika")
    ack = await visitor.socket.op({"op": "message.send", "body": "m-0", "client_msg_id": "m-0"})
    contact_id = ack["contact_id"]
    offer = await first.event("offer.created", contact_id=contact_id)
    await agent.call("POST", f"/api/v1/offers/{offer['data']['offer_id']}/accept", expect=200)
    await visitor.socket.op({"op": "message.send", "body": "m-1", "client_msg_id": "m-1"})
    await first.event("message.created", client_msg_id="m-1")
    resume_from = first.last_event_id
    await first.close()

    # Messages arrive while the agent is away, and keep arriving while it reconnects.
    for i in range(2, 30):
        await visitor.socket.op({"op": "message.send", "body": f"m-{i}", "client_msg_id": f"m-{i}"})

    async def keep_sending() -> None:
        for i in range(30, 60):
            await visitor.socket.op({"op": "message.send", "body": f"m-{i}", "client_msg_id": f"m-{i}"})
            await asyncio.sleep(0.005)

    sender = asyncio.create_task(keep_sending())
    second = await Socket.open(f"{server.ws_url}/ws", cookie=agent.cookie, last_event_id=resume_from, batch=batch)
    await sender
    await second.event("message.created", client_msg_id="m-59")

    received = [f["data"]["client_msg_id"] for f in second.events
                if f["type"] == "message.created" and f["data"]["author_kind"] == "customer"]
    assert received == [f"m-{i}" for i in range(2, 60)], "every message after the drop, once, in order"
    ids = [f["id"] for f in second.events if f["id"] is not None]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    assert min(ids) > resume_from
    # The replay of what was missed arrives batched only when the client asked for batches.
    assert (second.batches > 0) is batch
    await second.close()
    await visitor.socket.close()


async def test_fresh_connection_without_last_event_id_gets_only_new_events(
        server: RunningServer, clients: Callable[[], Browserish]) -> None:
    agent = await clients().login("emma@demo.madoguchi.test")
    sock = await Socket.open(f"{server.ws_url}/ws", cookie=agent.cookie)
    assert sock.ready is not None and sock.events == []
    await agent.call("PUT", "/api/v1/agents/me/state", expect=200, json={"state": "break", "reason": "lunch"})
    changed = await sock.event("agent.state_changed", state="break")
    assert changed["data"]["reason"] == "lunch" and changed["id"] > sock.ready["last_event_id"]
    await sock.close()


async def test_batching_client_gets_its_ack_after_its_own_message_event(
        server: RunningServer, clients: Callable[[], Browserish]) -> None:
    """A batching visitor's ack leaves with (and after) the message event it confirms, and nothing
    else about the protocol changes."""
    agent = clients()
    desk = await agent_on_duty(server, agent, "emma@demo.madoguchi.test")
    visitor = await open_visitor(server, clients(), name="Batch Bunta")
    widget = await Socket.open(f"{server.ws_url}/ws/widget?token={visitor.token}", batch=True)
    ack = await widget.op({"op": "message.send", "body": "first", "client_msg_id": "b-0"})
    contact_id = ack["contact_id"]
    offer = await desk.event("offer.created", contact_id=contact_id)
    await agent.call("POST", f"/api/v1/offers/{offer['data']['offer_id']}/accept", expect=200)
    for i in range(1, 6):
        ack = await widget.op({"op": "message.send", "body": f"m-{i}", "client_msg_id": f"b-{i}"})
        # By the time the ack is read, its message event has been read too: it came first.
        assert any(f["type"] == "message.created" and f["data"]["message_id"] == ack["message_id"]
                   for f in widget.events)
    assert widget.batches >= 5
    unknown = await widget.op({"op": "dance"})
    assert unknown["op"] == "error" and unknown["error_id"] == "unknown_op"
    await desk.event("message.created", client_msg_id="b-5")
    await widget.close()
    await visitor.socket.close()
    await desk.close()
