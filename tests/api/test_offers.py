"""Offers: accept timeout and re-offer to the next agent, reject, and one offer per contact."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from madoguchi.routing.models import Offer
from tests.api.flow import agent_on_duty
from tests.support import Browserish, RunningServer, Socket


async def test_lapsed_offer_goes_to_the_next_agent_and_rejection_comes_back(
        server: RunningServer, clients: Callable[[], Browserish]) -> None:
    admin = await clients().login("admin@demo.madoguchi.test")
    first, second = clients(), clients()
    await first.login("tanaka@demo.madoguchi.test")
    await second.login("suzuki@demo.madoguchi.test")
    queue = await admin.call("POST", "/api/v1/queues", expect=201, json={
        "name": "Fast", "offer_timeout_s": 3, "agent_ids": [first.id, second.id]})
    ep = await admin.call("POST", "/api/v1/entry-points", expect=201, json={
        "name": "Fast chat", "channel_kind": "webchat", "queue_id": queue["id"]})

    # The first agent has been idle longer, so gets the first offer.
    sock_first = await agent_on_duty(server, first, "tanaka@demo.madoguchi.test")
    sock_second = await agent_on_duty(server, second, "suzuki@demo.madoguchi.test")
    session = await admin.call("POST", "/api/v1/widget/sessions", expect=201, json={"public_key": ep["public_key"]})
    visitor = await Socket.open(f"{server.ws_url}/ws/widget?token={session['token']}")
    contact_id = (await visitor.op({"op": "message.send", "body": "anyone?"}))["contact_id"]

    offer1 = await sock_first.event("offer.created", contact_id=contact_id)
    lapsed = await sock_first.event("offer.closed", offer_id=offer1["data"]["offer_id"], timeout=10)
    assert lapsed["data"]["state"] == "timed_out"
    offer2 = await sock_second.event("offer.created", contact_id=contact_id)
    assert offer2["data"]["agent_id"] == second.id

    # Too late to accept the lapsed one.
    late = await first.call("POST", f"/api/v1/offers/{offer1['data']['offer_id']}/accept", expect=409)
    assert late["error_id"] in {"conflict", "illegal_transition"}

    rejected = await second.call("POST", f"/api/v1/offers/{offer2['data']['offer_id']}/reject", expect=200)
    assert rejected["state"] == "rejected"
    again = [f for f in sock_first.events if f["type"] == "offer.created" and f["data"]["contact_id"] == contact_id]
    if len(again) < 2:
        await sock_first.wait_for(lambda: len([f for f in sock_first.events if f["type"] == "offer.created"]) >= 2,
                                  what="a second offer to the first agent")
    offer3 = [f for f in sock_first.events if f["type"] == "offer.created"][-1]
    accepted = await first.call("POST", f"/api/v1/offers/{offer3['data']['offer_id']}/accept", expect=200)
    assert accepted["agent_id"] == first.id and accepted["state"] == "active"

    async with server.ctx.db.read() as db:
        offers = (await db.scalars(select(Offer).where(Offer.contact_id == contact_id).order_by(Offer.id))).all()
    assert [(o.agent_id, o.state) for o in offers] == [
        (first.id, "timed_out"), (second.id, "rejected"), (first.id, "accepted")]
    me = await second.call("GET", "/api/v1/agents/me", expect=200)
    assert me["state"] == "available"
    for sock in (sock_first, sock_second, visitor):
        await sock.close()


async def test_capacity_limits_concurrent_chats(server: RunningServer, clients: Callable[[], Browserish]) -> None:
    agent = clients()
    sock = await agent_on_duty(server, agent, "ken@demo.madoguchi.test")
    visitors: list[Socket] = []
    accepted: list[int] = []
    for n in range(4):
        session = await clients().call("POST", "/api/v1/widget/sessions", expect=201,
                                       json={"public_key": "pk_demo_shop", "name": f"Customer {n}"})
        visitor = await Socket.open(f"{server.ws_url}/ws/widget?token={session['token']}")
        visitors.append(visitor)
        contact_id = (await visitor.op({"op": "message.send", "body": f"hello {n}"}))["contact_id"]
        if n < 3:
            offer = await sock.event("offer.created", contact_id=contact_id)
            await agent.call("POST", f"/api/v1/offers/{offer['data']['offer_id']}/accept", expect=200)
            accepted.append(contact_id)
    me = await agent.call("GET", "/api/v1/agents/me", expect=200)
    assert me["state"] == "busy" and me["active_contacts"] == 3
    offers = await agent.call("GET", "/api/v1/offers", expect=200)
    assert [o for o in offers if o["state"] == "pending"] == []  # a fourth chat waits: chat capacity is 3
    await agent.call("POST", f"/api/v1/contacts/{accepted[0]}/end", expect=200)
    fourth = await sock.event("offer.created", contact_id=accepted[-1] + 1)
    assert fourth["data"]["agent_id"] == agent.id
    for visitor in visitors:
        await visitor.close()
    await sock.close()
