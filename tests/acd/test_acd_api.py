"""The ACD through the API on a real server: skills and relaxation, transfers, overflow, missed
offers, positions, sticky agents, wrap-up limits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from madoguchi.contacts.models import ContactEvent
from tests.api.flow import agent_on_duty
from tests.support import Browserish, RunningServer, Socket

Clients = Callable[[], Browserish]


async def _queue(admin: Browserish, name: str, members: list[int], **rules: Any) -> dict[str, Any]:
    queue = await admin.call("POST", "/api/v1/queues", expect=201, json={"name": name, "agent_ids": members})
    if rules:
        queue = await admin.call("PATCH", f"/api/v1/queues/{queue['id']}", expect=200, json=rules)
    return queue


async def _chat(server: RunningServer, admin: Browserish, queue_id: int, name: str = "Customer",
                email: str | None = None) -> tuple[Socket, int]:
    entry = await admin.call("POST", "/api/v1/entry-points", expect=201,
                             json={"name": f"chat {name}", "channel_kind": "webchat", "queue_id": queue_id})
    body: dict[str, Any] = {"public_key": entry["public_key"], "name": name}
    if email:
        body["email"] = email
    session = await admin.call("POST", "/api/v1/widget/sessions", expect=201, json=body)
    sock = await Socket.open(f"{server.ws_url}/ws/widget?token={session['token']}")
    ack = await sock.op({"op": "message.send", "body": f"hello from {name}"})
    return sock, ack["contact_id"]


async def _events(server: RunningServer, contact_id: int) -> list[str]:
    async with server.ctx.db.read() as session:
        rows = (await session.scalars(select(ContactEvent.type).where(ContactEvent.contact_id == contact_id)
                                      .order_by(ContactEvent.id))).all()
    return list(rows)


async def test_skills_then_relaxation(server: RunningServer, clients: Clients) -> None:
    admin = await clients().login("admin@demo.madoguchi.test")
    expert, novice = clients(), clients()
    await expert.login("tanaka@demo.madoguchi.test")
    await novice.login("emma@demo.madoguchi.test")
    await admin.call("PATCH", f"/api/v1/agents/{expert.id}/routing", expect=200,
                     json={"skills": {"ja": 5, "billing": 3}})
    agent = await admin.call("PATCH", f"/api/v1/agents/{novice.id}/routing", expect=200, json={"skills": {"ja": 1}})
    assert agent["skills"] == {"ja": 1}
    queue = await _queue(admin, "Billing JA", [expert.id, novice.id],
                         requirements=[{"skill": "ja", "min_level": 3}, {"skill": "billing", "min_level": 2}],
                         relaxation=[{"after_s": 2, "requirements": [{"skill": "ja", "min_level": 1}]}])
    assert queue["requirements"][0] == {"skill": "ja", "min_level": 3}

    novice_sock = await agent_on_duty(server, novice, "emma@demo.madoguchi.test")
    visitor, contact_id = await _chat(server, admin, queue["id"], "Skilled Sato")
    # Only the novice is available: nobody meets ja≥3 and billing≥2, until the rule relaxes.
    offer = await novice_sock.event("offer.created", contact_id=contact_id, timeout=10)
    waited = await admin.call("GET", f"/api/v1/contacts/{contact_id}/events", expect=200)
    queued_at = next(e["at"] for e in waited if e["type"] == "queued")
    offered_at = next(e["at"] for e in waited if e["type"] == "offered")
    assert offered_at > queued_at
    assert offer["data"]["agent_id"] == novice.id
    await visitor.close()
    await novice_sock.close()


async def test_expert_preferred_when_both_available(server: RunningServer, clients: Clients) -> None:
    admin = await clients().login("admin@demo.madoguchi.test")
    expert, novice = clients(), clients()
    await expert.login("suzuki@demo.madoguchi.test")
    await novice.login("ken@demo.madoguchi.test")
    await admin.call("PATCH", f"/api/v1/agents/{expert.id}/routing", expect=200, json={"skills": {"en": 5}})
    await admin.call("PATCH", f"/api/v1/agents/{novice.id}/routing", expect=200, json={"skills": {"en": 2}})
    queue = await _queue(admin, "English", [expert.id, novice.id], strategy="most_skilled",
                         requirements=[{"skill": "en", "min_level": 1}])
    novice_sock = await agent_on_duty(server, novice, "ken@demo.madoguchi.test")  # idle longer
    expert_sock = await agent_on_duty(server, expert, "suzuki@demo.madoguchi.test")
    visitor, contact_id = await _chat(server, admin, queue["id"], "Most Skilled")
    offer = await expert_sock.event("offer.created", contact_id=contact_id)
    assert offer["data"]["agent_id"] == expert.id
    for sock in (visitor, novice_sock, expert_sock):
        await sock.close()


async def test_transfer_to_queue_and_to_agent_keeps_the_place(server: RunningServer, clients: Clients) -> None:
    admin = await clients().login("admin@demo.madoguchi.test")
    first, second = clients(), clients()
    await first.login("tanaka@demo.madoguchi.test")
    await second.login("suzuki@demo.madoguchi.test")
    front = await _queue(admin, "Front", [first.id])
    back = await _queue(admin, "Back office", [second.id])
    first_sock = await agent_on_duty(server, first, "tanaka@demo.madoguchi.test")
    second_sock = await agent_on_duty(server, second, "suzuki@demo.madoguchi.test")
    visitor, contact_id = await _chat(server, admin, front["id"], "Transferred Taro")
    offer = await first_sock.event("offer.created", contact_id=contact_id)
    accepted = await first.call("POST", f"/api/v1/offers/{offer['data']['offer_id']}/accept", expect=200)

    bad = await first.call("POST", f"/api/v1/contacts/{contact_id}/transfer", expect=422, json={})
    assert bad["error_id"] == "invalid_input"
    moved = await first.call("POST", f"/api/v1/contacts/{contact_id}/transfer", expect=200,
                             json={"queue_id": back["id"]})
    assert moved["state"] == "queued" and moved["queue_id"] == back["id"]
    assert moved["enqueued_at"] == accepted["enqueued_at"]
    offer2 = await second_sock.event("offer.created", contact_id=contact_id)
    await visitor.event("message.created", body="conversation.transferred")
    taken = await second.call("POST", f"/api/v1/offers/{offer2['data']['offer_id']}/accept", expect=200)
    assert taken["accepted_at"] == accepted["accepted_at"]  # first answer time stays
    assert (await first.call("GET", "/api/v1/agents/me", expect=200))["state"] == "available"

    # Back to the first agent by name.
    await second.call("POST", f"/api/v1/contacts/{contact_id}/transfer", expect=200, json={"agent_id": first.id})
    mine = await first_sock.wait_for(
        lambda: [f for f in first_sock.events if f["type"] == "offer.created"][1:], what="a second offer")
    offer3 = mine[0]
    assert offer3["data"]["queue_id"] == back["id"]
    events = await _events(server, contact_id)
    assert events.count("transferred") == 2 and events[-1] == "offered"
    for sock in (visitor, first_sock, second_sock):
        await sock.close()


async def test_overflow_on_wait_and_no_agents(server: RunningServer, clients: Clients) -> None:
    admin = await clients().login("admin@demo.madoguchi.test")
    agent = clients()
    await agent.login("ken@demo.madoguchi.test")
    spill = await _queue(admin, "Spill", [agent.id])
    await _queue(admin, "Empty", [], overflow=[{"when": "no_agents", "to_queue_id": spill["id"]}])
    slow = await _queue(admin, "Slow", [], overflow=[{"when": "wait_over", "limit": 1, "to_queue_id": spill["id"]}])
    refused = await admin.call("PATCH", f"/api/v1/queues/{slow['id']}", expect=422,
                               json={"overflow": [{"when": "wait_over", "to_queue_id": spill["id"]}]})
    assert refused["error_id"] == "invalid_input"
    await admin.call("PATCH", f"/api/v1/queues/{slow['id']}", expect=422,
                     json={"overflow": [{"when": "closed", "to_queue_id": slow["id"]}]})
    sock = await agent_on_duty(server, agent, "ken@demo.madoguchi.test")
    visitor, contact_id = await _chat(server, admin, slow["id"], "Patient Pat")
    offer = await sock.event("offer.created", contact_id=contact_id)
    assert offer["data"]["queue_id"] == spill["id"]
    events = await _events(server, contact_id)
    assert events[:4] == ["arrived", "queued", "flowed_out", "requeued"]
    await sock.close()
    await visitor.close()


async def test_missed_offers_put_the_agent_on_a_missed_break(make_server: Callable[..., Any]) -> None:
    server: RunningServer = await make_server(max_missed_offers=1)
    admin = Browserish(server.base_url)
    await admin.login("admin@demo.madoguchi.test")
    agent = Browserish(server.base_url)
    sock = await agent_on_duty(server, agent, "tanaka@demo.madoguchi.test")
    queue = await _queue(admin, "Fast", [agent.id], offer_timeout_s=3)
    visitor, contact_id = await _chat(server, admin, queue["id"], "Missed Mika")
    await sock.event("offer.created", contact_id=contact_id)
    changed = await sock.event("agent.state_changed", state="break", timeout=10)
    assert changed["data"]["reason"] == "missed"
    me = await agent.call("GET", "/api/v1/agents/me", expect=200)
    assert me["state"] == "break" and me["missed_offers"] == 1
    for closeable in (sock, visitor):
        await closeable.close()
    await admin.close()
    await agent.close()


async def test_position_and_estimated_wait(server: RunningServer, clients: Clients) -> None:
    admin = await clients().login("admin@demo.madoguchi.test")
    agent = clients()
    await agent.login("suzuki@demo.madoguchi.test")
    queue = await _queue(admin, "Busy line", [agent.id], default_aht_s=240)
    await agent.call("PUT", "/api/v1/agents/me/state", expect=200, json={"state": "break", "reason": "meeting"})
    first, _first_id = await _chat(server, admin, queue["id"], "First")
    second, second_id = await _chat(server, admin, queue["id"], "Second")
    place = await admin.call("GET", f"/api/v1/contacts/{second_id}/position", expect=200)
    assert place["position"] == 2 and place["estimated_wait_s"] is None  # nobody logged in to serve
    await agent.call("PUT", "/api/v1/agents/me/state", expect=200, json={"state": "available"})
    # The first is offered; the second moves up and hears about it.
    update = await second.event("queue.position", position=1)
    assert update["data"]["estimated_wait_s"] == 240 / 3  # one agent with 3 chats at once
    await first.close()
    await second.close()


async def test_sticky_agent_and_wrap_up_limit(server: RunningServer, clients: Clients) -> None:
    admin = await clients().login("admin@demo.madoguchi.test")
    usual, other = clients(), clients()
    await usual.login("emma@demo.madoguchi.test")
    await other.login("ken@demo.madoguchi.test")
    queue = await _queue(admin, "Sticky", [usual.id, other.id], sticky_window_s=3600, wrap_up_limit_s=1)
    usual_sock = await agent_on_duty(server, usual, "emma@demo.madoguchi.test")
    visitor, contact_id = await _chat(server, admin, queue["id"], "Regular Rei", email="rei@example.jp")
    offer = await usual_sock.event("offer.created", contact_id=contact_id)
    await usual.call("POST", f"/api/v1/offers/{offer['data']['offer_id']}/accept", expect=200)
    await usual.call("POST", f"/api/v1/contacts/{contact_id}/end", expect=200)
    # Nobody wraps up: the queue's limit closes it and frees the agent.
    await usual_sock.event("agent.state_changed", state="available", previous="wrap_up", timeout=10)
    events = await _events(server, contact_id)
    assert events[-1] == "wrapped_up"

    other_sock = await agent_on_duty(server, other, "ken@demo.madoguchi.test")  # idle longest now? no: newest
    await usual.call("PUT", "/api/v1/agents/me/state", expect=200, json={"state": "break", "reason": "break"})
    await usual.call("PUT", "/api/v1/agents/me/state", expect=200, json={"state": "available"})
    # Rei comes back: offered to her usual agent although the other has been idle longer.
    again, again_id = await _chat(server, admin, queue["id"], "Regular Rei", email="rei@example.jp")
    sticky = await usual_sock.event("offer.created", contact_id=again_id)
    assert sticky["data"]["agent_id"] == usual.id
    for sock in (visitor, again, usual_sock, other_sock):
        await sock.close()


async def test_hold_and_resume(server: RunningServer, clients: Clients) -> None:
    admin = await clients().login("admin@demo.madoguchi.test")
    agent = clients()
    sock = await agent_on_duty(server, agent, "ken@demo.madoguchi.test")
    queue = await _queue(admin, "Holdable", [agent.id])
    visitor, contact_id = await _chat(server, admin, queue["id"], "Held Hana")
    offer = await sock.event("offer.created", contact_id=contact_id)
    await agent.call("POST", f"/api/v1/offers/{offer['data']['offer_id']}/accept", expect=200)
    held = await agent.call("POST", f"/api/v1/contacts/{contact_id}/hold", expect=200)
    assert held["state"] == "held"
    again = await agent.call("POST", f"/api/v1/contacts/{contact_id}/hold", expect=409)
    assert again["error_id"] == "illegal_transition"
    assert (await agent.call("POST", f"/api/v1/contacts/{contact_id}/resume", expect=200))["state"] == "active"
    events = await _events(server, contact_id)
    assert events[-2:] == ["held", "resumed"]
    await sock.close()
    await visitor.close()


async def test_vip_customer_jumps_the_line(server: RunningServer, clients: Clients) -> None:
    admin = await clients().login("admin@demo.madoguchi.test")
    agent = clients()
    await agent.login("tanaka@demo.madoguchi.test")
    queue = await _queue(admin, "VIP line", [agent.id])
    await agent.call("PUT", "/api/v1/agents/me/state", expect=200, json={"state": "break", "reason": "meeting"})
    regular, regular_id = await _chat(server, admin, queue["id"], "Regular")
    vip, vip_id = await _chat(server, admin, queue["id"], "Very Important")
    detail = await admin.call("GET", f"/api/v1/contacts/{vip_id}", expect=200)
    bad = await agent.call("PATCH", f"/api/v1/customers/{detail['customer']['id']}", expect=422,
                           json={"attributes": {"priority": "high"}})
    assert bad["error_id"] == "invalid_input"
    updated = await agent.call("PATCH", f"/api/v1/customers/{detail['customer']['id']}", expect=200,
                               json={"attributes": {"priority": 5, "tier": "gold"}})
    assert updated["attributes"]["priority"] == 5
    assert (await admin.call("GET", f"/api/v1/contacts/{vip_id}/position", expect=200))["position"] == 1
    assert (await admin.call("GET", f"/api/v1/contacts/{regular_id}/position", expect=200))["position"] == 2
    sock = await agent_on_duty(server, agent, "tanaka@demo.madoguchi.test")
    first = await sock.event("offer.created")
    assert first["data"]["contact_id"] == vip_id
    for closeable in (sock, regular, vip):
        await closeable.close()
