"""The FAQ bot on a live web chat: answers, feedback, escalation and hand-off with the transcript,
after-hours callbacks, timeouts and the KPIs — over HTTP and WebSockets, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select, update

from madoguchi.bot.timers import FlowTimers
from madoguchi.contacts.models import Contact, ContactEvent
from madoguchi.db.leases import Lease
from madoguchi.flows.models import FlowSession
from tests.api.flow import agent_on_duty, open_visitor
from tests.bot.flow import ALL_DAY, NEVER, bot_texts, open_bot_visitor, set_demo_hours
from tests.support import Browserish, RunningServer

ADMIN = "admin@demo.madoguchi.test"
AGENT = "tanaka@demo.madoguchi.test"


async def event_types(server: RunningServer, contact_id: int) -> list[str]:
    async with server.ctx.db.read() as session:
        rows = await session.scalars(select(ContactEvent.type).where(ContactEvent.contact_id == contact_id)
                                     .order_by(ContactEvent.id))
        return list(rows.all())


async def test_bot_answers_then_hands_off_with_the_transcript(server: RunningServer,
                                                              clients: Callable[[], Browserish]) -> None:
    await set_demo_hours(await clients().login(ADMIN), ALL_DAY)
    agent = clients()
    agent_socket = await agent_on_duty(server, agent, AGENT)
    visitor = await open_bot_visitor(server, clients(), name="青木 さくら", language="ja")

    ack = await visitor.socket.op({"op": "message.send", "body": "返品の方法を教えてください", "client_msg_id": "c1"})
    contact_id = ack["contact_id"]
    prompt = await visitor.socket.event("flow.prompt", contact_id=contact_id)
    assert [c["value"] for c in prompt["data"]["choices"]] == ["yes", "no"]
    assert bot_texts(visitor.socket, contact_id)[0].startswith("商品到着後14日以内")
    assert bot_texts(visitor.socket, contact_id)[1] == "この回答で解決しましたか？"
    contact = await agent.call("GET", "/api/v1/contacts", expect=200, params={"state": "new"})
    assert contact == []  # the agent does not see a contact the bot is handling

    await visitor.socket.op({"op": "message.send", "body": "オペレーターと話したい", "client_msg_id": "c2"})
    offer = await agent_socket.event("offer.created", contact_id=contact_id)
    await visitor.socket.event("contact.changed", contact_id=contact_id, change="queued")
    assert "担当者におつなぎします" in bot_texts(visitor.socket, contact_id)[-1]
    await agent.call("POST", f"/api/v1/offers/{offer['data']['offer_id']}/accept", expect=200)

    detail = await agent.call("GET", f"/api/v1/contacts/{contact_id}", expect=200)
    transcript = [(m["author_kind"], m["body"][:8]) for m in detail["messages"] if m["kind"] == "text"]
    assert transcript[:4] == [("customer", "返品の方法を教え"), ("bot", "商品到着後14日"), ("bot", "この回答で解決し"),
                              ("customer", "オペレーターと話")]
    summary = await agent.call("GET", f"/api/v1/contacts/{contact_id}/flow", expect=200)
    assert summary["flow_name"] == "Demo shop assistant" and summary["status"] == "queued"
    assert summary["escalation_reason"] == "customer_request"
    assert summary["handoff"]["queue"] == "Support"
    assert [f["type"] for f in summary["facts"]] == ["flow_entered", "bot_answered", "escalated"]
    types = await event_types(server, contact_id)
    assert types == ["arrived", "flow_entered", "bot_answered", "escalated", "queued", "offered", "accepted"], types

    suggestions = await agent.call("GET", f"/api/v1/contacts/{contact_id}/suggestions", expect=200)
    assert suggestions[0]["external_id"] == "demo-ja-return"
    report = await clients().login(ADMIN)
    kpi = await report.call("GET", "/api/v1/bot/report", expect=200)
    assert kpi["entered"] == 1 and kpi["contained"] == 0 and kpi["escalations"] == {"customer_request": 1}
    await visitor.socket.close()
    await agent_socket.close()


async def test_helpful_answer_is_contained(server: RunningServer, clients: Callable[[], Browserish]) -> None:
    browser = clients()
    visitor = await open_bot_visitor(server, browser, language="en")
    ack = await visitor.socket.op({"op": "message.send", "body": "How do I return an item?"})
    contact_id = ack["contact_id"]
    await visitor.socket.event("flow.prompt", contact_id=contact_id)
    # Choices work over plain HTTP too: the button sends its label.
    await browser.call("POST", "/api/v1/widget/messages", expect=201, headers=visitor.headers, json={"body": "Yes"})
    await visitor.socket.wait_for(lambda: "Glad that helped" in " ".join(bot_texts(visitor.socket, contact_id)),
                                  what="the bot's thanks")
    pending = await browser.call("GET", "/api/v1/widget/prompt", expect=200, headers=visitor.headers)
    assert pending["prompt"] is None  # waiting for a free-text question, no buttons
    await browser.call("POST", "/api/v1/widget/leave", expect=204, headers=visitor.headers)
    types = await event_types(server, contact_id)
    assert types == ["arrived", "flow_entered", "bot_answered", "bot_feedback", "ended"], types

    admin = await clients().login(ADMIN)
    kpi = await admin.call("GET", "/api/v1/bot/report", expect=200)
    assert (kpi["entered"], kpi["contained"], kpi["resolved_by_bot"], kpi["helpful"]) == (1, 1, 1, 1)
    assert kpi["containment_rate"] == 1.0
    await visitor.socket.close()


async def test_two_misses_escalate_and_after_hours_offer_a_callback(server: RunningServer,
                                                                    clients: Callable[[], Browserish]) -> None:
    admin = await clients().login(ADMIN)
    await set_demo_hours(admin, NEVER)
    browser = clients()
    visitor = await open_bot_visitor(server, browser, language="ja")
    ack = await visitor.socket.op({"op": "message.send", "body": "宇宙船の燃料を買いたい"})
    contact_id = ack["contact_id"]
    await visitor.socket.wait_for(lambda: len(bot_texts(visitor.socket, contact_id)) == 1, what="rephrase")
    await visitor.socket.op({"op": "message.send", "body": "火星行きの切符"})
    prompt = await visitor.socket.event("flow.prompt", contact_id=contact_id)
    assert [c["value"] for c in prompt["data"]["choices"]] == ["callback", "email", "bot"]
    restored = await browser.call("GET", "/api/v1/widget/prompt", expect=200, headers=visitor.headers)
    assert restored["prompt"]["choices"] == prompt["data"]["choices"]  # after a reload, the buttons come back

    await visitor.socket.op({"op": "message.send", "body": "電話で折り返してほしい"})
    await visitor.socket.wait_for(lambda: "お電話番号" in bot_texts(visitor.socket, contact_id)[-1], what="phone")
    await visitor.socket.op({"op": "message.send", "body": "０９０-１２３４-５６７８"})
    await visitor.socket.event("contact.changed", contact_id=contact_id, change="ended")
    assert "09012345678" in bot_texts(visitor.socket, contact_id)[-1]
    types = await event_types(server, contact_id)
    assert types == ["arrived", "flow_entered", "bot_unanswered", "bot_unanswered", "escalated",
                     "callback_requested", "flow_ended", "ended"], types

    unanswered = await admin.call("GET", "/api/v1/bot/unanswered", expect=200)
    assert {u["query"] for u in unanswered} == {"宇宙船の燃料を買いたい", "火星行きの切符"}
    kpi = await admin.call("GET", "/api/v1/bot/report", expect=200)
    assert kpi["callbacks"] == 1 and kpi["escalations"] == {"low_confidence": 1} and kpi["contained"] == 1
    await visitor.socket.close()


async def test_timeouts_end_an_idle_chat_and_close_left_sessions(server: RunningServer,
                                                                 clients: Callable[[], Browserish]) -> None:
    visitor = await open_bot_visitor(server, clients(), language="en")
    ack = await visitor.socket.op({"op": "message.send", "body": "When will my order arrive?"})
    contact_id = ack["contact_id"]
    await visitor.socket.event("flow.prompt", contact_id=contact_id)
    timers = FlowTimers(server.ctx.db, server.ctx.bot, Lease(server.ctx.db.engine, "test.flow_timers"))
    assert await timers.consume() == 0  # nothing is due yet
    async with server.ctx.db.uow() as uow:
        await uow.session.execute(update(FlowSession).where(FlowSession.contact_id == contact_id).values(
            deadline_at=uow.clock.now() - timedelta(seconds=1)))
    assert await timers.consume() == 1
    await visitor.socket.event("contact.changed", contact_id=contact_id, change="ended")
    async with server.ctx.db.read() as session:
        contact = await session.get(Contact, contact_id)
        flow_session = await session.scalar(select(FlowSession).where(FlowSession.contact_id == contact_id))
    assert contact is not None and contact.state == "ended" and contact.ended_by == "bot"
    assert flow_session is not None and flow_session.status == "ended" and flow_session.deadline_at is None
    types = await event_types(server, contact_id)
    assert types[-3:] == ["flow_timeout", "flow_ended", "ended"], types
    assert await timers.consume() == 0
    await visitor.socket.close()


async def test_entry_point_without_a_flow_queues_at_once(server: RunningServer,
                                                         clients: Callable[[], Browserish]) -> None:
    visitor = await open_visitor(server, clients())
    ack = await visitor.socket.op({"op": "message.send", "body": "オペレーターと話したい"})
    await visitor.socket.event("contact.changed", contact_id=ack["contact_id"], change="queued")
    assert await event_types(server, ack["contact_id"]) == ["arrived", "queued"]
    assert bot_texts(visitor.socket, ack["contact_id"]) == []
    await visitor.socket.close()


async def test_messages_sent_at_once_are_each_taken_once(server: RunningServer,
                                                         clients: Callable[[], Browserish]) -> None:
    import asyncio

    browser = clients()
    visitor = await open_bot_visitor(server, browser, language="ja")
    first = await visitor.socket.op({"op": "message.send", "body": "返品の方法を教えてください", "client_msg_id": "m1"})
    contact_id = first["contact_id"]
    await visitor.socket.event("flow.prompt", contact_id=contact_id)
    await asyncio.gather(*(browser.call("POST", "/api/v1/widget/messages", expect=201, headers=visitor.headers,
                                        json={"body": body, "client_msg_id": key})
                           for body, key in (("送料はいくらですか？", "m2"), ("支払い方法は何がありますか？", "m3"))))
    await browser.call("POST", "/api/v1/widget/messages", expect=201, headers=visitor.headers,
                       json={"body": "送料はいくらですか？", "client_msg_id": "m2"})  # a resend: taken once
    types = await event_types(server, contact_id)
    assert types.count("bot_answered") == 3, types
    await visitor.socket.close()
