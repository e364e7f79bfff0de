"""The walking skeleton end to end over HTTP and WebSockets, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from madoguchi.contacts.models import ContactEvent
from tests.api.flow import agent_on_duty, open_visitor
from tests.support import Browserish, RunningServer


async def test_chat_from_widget_to_agent_and_back(server: RunningServer,
                                                  clients: Callable[[], Browserish]) -> None:
    agent = clients()
    agent_socket = await agent_on_duty(server, agent, "tanaka@demo.madoguchi.test")
    visitor = await open_visitor(server, clients(), name="Aiko Sato", email="aiko@example.jp")

    ack = await visitor.socket.op({"op": "message.send", "body": "配送状況を知りたいです", "client_msg_id": "c-1"})
    assert ack["op"] == "ack"
    contact_id = ack["contact_id"]

    offer = await agent_socket.event("offer.created", contact_id=contact_id)
    assert offer["data"]["agent_id"] == agent.id
    offered = await agent.call("GET", f"/api/v1/contacts/{contact_id}", expect=200)  # the offer shows who it is
    assert offered["contact"]["state"] == "offered"
    contact = await agent.call("POST", f"/api/v1/offers/{offer['data']['offer_id']}/accept", expect=200)
    assert contact["state"] == "active" and contact["agent_id"] == agent.id

    # The screen pop: the profile from the pre-chat form and the conversation so far.
    detail = await agent.call("GET", f"/api/v1/contacts/{contact_id}", expect=200)
    assert detail["customer"]["display_name"] == "Aiko Sato"
    assert detail["customer"]["email"] == "aiko@example.jp"
    assert [m["body"] for m in detail["messages"] if m["author_kind"] == "customer"] == ["配送状況を知りたいです"]

    joined = await visitor.socket.event("message.created", contact_id=contact_id, author_kind="system")
    assert joined["data"]["body"] == "conversation.agent_joined"
    assert joined["data"]["author_name"] == "田中 太郎"

    await visitor.socket.op({"op": "typing", "active": True})
    typing = await agent_socket.event("typing", contact_id=contact_id, who="customer")
    assert typing["id"] is None  # typing is ephemeral, never in the feed

    await agent_socket.op({"op": "typing", "contact_id": contact_id, "active": True})
    await visitor.socket.event("typing", who="agent")
    assert not [f for f in agent_socket.events if f["type"] == "typing" and f["data"]["who"] == "agent"]
    assert not [f for f in visitor.socket.events if f["type"] == "typing" and f["data"]["who"] == "customer"]

    reply = await agent_socket.op({"op": "message.send", "contact_id": contact_id, "body": "お調べします。",
                                   "client_msg_id": "a-1"})
    assert reply["op"] == "ack"
    seen = await visitor.socket.event("message.created", contact_id=contact_id, author_kind="agent")
    assert seen["data"]["body"] == "お調べします。"

    note = await agent_socket.op({"op": "message.send", "contact_id": contact_id, "body": "VIP customer",
                                  "kind": "note"})
    assert note["op"] == "ack"
    await agent_socket.event("message.created", contact_id=contact_id, kind="note")
    assert all(f["data"].get("kind") != "note" for f in visitor.socket.events), "notes must not reach the customer"

    ended = await agent.call("POST", f"/api/v1/contacts/{contact_id}/end", expect=200)
    assert ended["state"] == "ended"
    me = await agent.call("GET", "/api/v1/agents/me", expect=200)
    assert me["state"] == "wrap_up"
    wrapped = await agent.call("POST", f"/api/v1/contacts/{contact_id}/wrap-up", expect=200,
                               json={"disposition_code": "resolved", "note": "told the delivery date"})
    assert wrapped["state"] == "closed" and wrapped["wrapped_up_at"] is not None
    me = await agent.call("GET", "/api/v1/agents/me", expect=200)
    assert me["state"] == "available"

    # The contact's events are in the database in order: the KPI source.
    async with server.ctx.db.read() as session:
        rows = (await session.scalars(select(ContactEvent).where(ContactEvent.contact_id == contact_id)
                                      .order_by(ContactEvent.id))).all()
    types = [r.type for r in rows]
    assert types == ["arrived", "queued", "offered", "accepted", "ended", "wrapped_up"], types
    times = [r.at for r in rows]
    assert times == sorted(times)

    api_events = await agent.call("GET", f"/api/v1/contacts/{contact_id}/events", expect=200)
    assert [e["type"] for e in api_events] == types

    await visitor.socket.close()
    await agent_socket.close()


async def test_widget_session_survives_reload_and_recognises_returning_customer(
        server: RunningServer, clients: Callable[[], Browserish]) -> None:
    browser = clients()
    visitor = await open_visitor(server, browser, name="Mina Kato", email="Mina.Kato@Example.jp",
                                 visitor_id="visitor-mina-0001")
    ack = await visitor.socket.op({"op": "message.send", "body": "hello"})
    contact_id = ack["contact_id"]
    await visitor.socket.close()

    # A reload: the page has only the token; the session brings back the conversation.
    restored = await browser.call("GET", "/api/v1/widget/session", expect=200, headers=visitor.headers)
    assert restored["contact_id"] == contact_id
    assert restored["contact_state"] == "queued"
    assert [m["body"] for m in restored["messages"]] == ["hello"]

    # The customer leaves; later comes back from another device with the same email.
    await browser.call("POST", "/api/v1/widget/leave", expect=204, headers=visitor.headers)
    again = await browser.call("POST", "/api/v1/widget/sessions", expect=201,
                               json={"public_key": "pk_demo_shop", "email": "mina.kato@example.jp"})
    assert again["customer_id"] == visitor.session["customer_id"]
    assert again["contact_id"] is None  # the earlier chat was abandoned, so nothing is open
    same_browser = await browser.call("POST", "/api/v1/widget/sessions", expect=201,
                                      json={"public_key": "pk_demo_shop", "visitor_id": "visitor-mina-0001"})
    assert same_browser["customer_id"] == visitor.session["customer_id"]
    assert same_browser["customer_name"] == "Mina Kato"

    supervisor = await clients().login("supervisor@demo.madoguchi.test")
    timeline = await supervisor.call("GET", f"/api/v1/customers/{again['customer_id']}/timeline", expect=200)
    assert [item["contact_id"] for item in timeline] == [contact_id]
    assert timeline[0]["state"] == "abandoned"


async def test_demo_customer_history_shows_in_screen_pop(server: RunningServer,
                                                         clients: Callable[[], Browserish]) -> None:
    agent = clients()
    socket = await agent_on_duty(server, agent, "emma@demo.madoguchi.test")
    visitor = await open_visitor(server, clients(), email="john.miller@example.com")
    ack = await visitor.socket.op({"op": "message.send", "body": "Where is my parcel?"})
    offer = await socket.event("offer.created", contact_id=ack["contact_id"])
    await agent.call("POST", f"/api/v1/offers/{offer['data']['offer_id']}/accept", expect=200)
    detail = await agent.call("GET", f"/api/v1/contacts/{ack['contact_id']}", expect=200)
    assert detail["customer"]["display_name"] == "John Miller"
    earlier = [item for item in detail["timeline"] if item["contact_id"] != ack["contact_id"]]
    assert len(earlier) == 2 and all(item["state"] == "closed" for item in earlier)
    assert earlier[0]["disposition_code"] is not None
    await socket.close()
    await visitor.socket.close()
