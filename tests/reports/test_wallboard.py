"""The wallboard over the real WebSocket: an event changes the tile within a second, and the stale
snapshot with the events applied equals a fresh snapshot (initial state + event stream converge)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.api.flow import agent_on_duty, open_visitor
from tests.support import Browserish, RunningServer, Socket

#: Fields that move with the clock alone (the page ticks them itself, from the timestamps).
CLOCK = {"now", "occupancy"}


def apply(board: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """What web/static/supervisor.js does with a wallboard.updated event."""
    out = dict(board)
    out["now"], out["day"] = change["now"], change["day"]
    if "overall" in change:
        out["overall"] = change["overall"]
    for name, key in (("queues", "queue_id"), ("agents", "agent_id"), ("contacts", "contact_id")):
        items = {item[key]: item for item in board[name]}
        for item in change.get(name, []):
            items[item[key]] = item
        for gone in change.get(f"removed_{name}", []):
            items.pop(gone, None)
        out[name] = sorted(items.values(), key=lambda item: item[key])
    return out


def without_clock(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_clock(v) for k, v in value.items() if k not in CLOCK}
    if isinstance(value, list):
        return [without_clock(v) for v in value]
    return value


def tiles(socket: Socket) -> list[dict[str, Any]]:
    return [f["data"] for f in socket.events if f["type"] == "wallboard.updated"]


async def test_wallboard_follows_the_floor_within_a_second(server: RunningServer,
                                                           clients: Callable[[], Browserish]) -> None:
    supervisor = await clients().login("supervisor@demo.madoguchi.test")
    socket = await Socket.open(f"{server.ws_url}/ws", cookie=supervisor.cookie)
    stale = await supervisor.call("GET", "/api/v1/reports/wallboard", expect=200)
    support = next(q for q in stale["queues"] if q["name"] == "Support")
    assert support["waiting"] == 0 and support["offered"] == 0
    assert stale["overall"]["agents"]["offline"] >= 4

    agent = clients()
    started = time.monotonic()
    agent_socket = await agent_on_duty(server, agent, "tanaka@demo.madoguchi.test")

    def agent_tile(state: str) -> Callable[[], Any]:
        return lambda: [a for change in tiles(socket) for a in change["agents"]
                        if a["agent_id"] == agent.id and a["state"] == state]

    await socket.wait_for(agent_tile("available"), timeout=5, what="tanaka available on the wallboard")
    assert time.monotonic() - started < 1.0 + 0.5  # login and the state call included

    visitor = await open_visitor(server, clients(), name="Aiko")
    sent = time.monotonic()
    ack = await visitor.socket.op({"op": "message.send", "body": "hello", "client_msg_id": "c1"})
    contact_id = ack["contact_id"]

    def queue_tile(**match: Any) -> Callable[[], Any]:
        return lambda: [q for change in tiles(socket) for q in change["queues"]
                        if q["queue_id"] == support["queue_id"] and all(q[k] == v for k, v in match.items())]

    await socket.wait_for(queue_tile(offered=1), timeout=5, what="the chat offered today on the Support tile")
    assert time.monotonic() - sent < 1.0, "the tile must follow the event within a second"

    offer = await agent_socket.event("offer.created", contact_id=contact_id)
    accepted_at = time.monotonic()
    await agent.call("POST", f"/api/v1/offers/{offer['data']['offer_id']}/accept", expect=200)
    busy = await socket.wait_for(agent_tile("busy"), timeout=5, what="tanaka busy with the chat")
    assert time.monotonic() - accepted_at < 1.0
    assert busy[-1]["contacts"] == [contact_id]
    await socket.wait_for(queue_tile(handled=1, waiting=0), timeout=5, what="handled today")

    # A supervisor forces the agent off the floor; the tile says so, with the reason.
    await supervisor.call("PUT", f"/api/v1/agents/{agent.id}/state", expect=200,
                          json={"state": "break", "reason": "meeting"})
    on_break = await socket.wait_for(agent_tile("break"), timeout=5, what="tanaka on a break")
    assert on_break[-1]["reason"] == "meeting"
    await socket.wait_for(lambda: [c for c in tiles(socket) if c.get("overall", {}).get("agents", {}).get(
        "break_reasons", {}).get("meeting") == 1], timeout=5, what="break reasons on the overall tile")

    # Initial state + event stream converge: the stale snapshot with every change applied equals a
    # fresh one.
    await agent.call("POST", f"/api/v1/contacts/{contact_id}/end", expect=200)
    await socket.wait_for(lambda: [c for change in tiles(socket) for c in change["contacts"]
                                   if c["contact_id"] == contact_id and c["state"] == "ended"], timeout=5,
                          what="the contact ended")
    fresh = await supervisor.call("GET", "/api/v1/reports/wallboard", expect=200)
    board = stale
    for change in tiles(socket):
        board = apply(board, change)
    assert without_clock(board) == without_clock(fresh)
    assert all(f["id"] is None for f in socket.events if f["type"] == "wallboard.updated")  # ephemeral

    # Agents do not get the floor's stream.
    assert not [f for f in agent_socket.events if f["type"] == "wallboard.updated"]
