"""Bad input from outside gets a clear 4xx with an error_id, and nothing is half-written."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import func, select
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from madoguchi.channels.models import WidgetSession
from madoguchi.channels.webchat.signing import sign_identity
from madoguchi.contacts.models import Contact, Message
from madoguchi.customers.models import Customer
from madoguchi.demo import DEMO_SECRET
from tests.api.flow import open_visitor
from tests.support import Browserish, RunningServer, Socket


async def _count(server: RunningServer, model: type) -> int:
    async with server.ctx.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_malformed_json_and_wrong_shapes(server: RunningServer, clients: Callable[[], Browserish]) -> None:
    admin = await clients().login("admin@demo.madoguchi.test")
    broken = await admin.http.post("/api/v1/queues", content=b'{"name": "Sales"', headers={
        "content-type": "application/json"})
    assert broken.status_code == 400 and broken.json()["error_id"] == "malformed_json"

    wrong = await admin.call("POST", "/api/v1/queues", expect=422, json={"name": "", "priority": "high"})
    assert wrong["error_id"] == "invalid_input"
    assert {f["field"] for f in wrong["details"]["fields"]} == {"name", "priority"}

    extra = await admin.call("POST", "/api/v1/dispositions", expect=422, json={
        "code": "Bad Code!", "label_en": "x", "label_ja": "x"})
    assert extra["error_id"] == "invalid_input"
    not_object = await admin.call("POST", "/api/v1/users", expect=422, json=[1, 2, 3])
    assert not_object["error_id"] == "invalid_input"
    bad_state = await admin.call("PUT", "/api/v1/agents/me/state", expect=422, json={"state": "asleep"})
    assert bad_state["error_id"] == "invalid_input"
    no_reason = await admin.call("PUT", "/api/v1/agents/me/state", expect=422, json={"state": "break"})
    assert no_reason["details"].get("field") == "reason"


async def test_unknown_ids(server: RunningServer, clients: Callable[[], Browserish]) -> None:
    supervisor = await clients().login("supervisor@demo.madoguchi.test")
    for path in ("/api/v1/contacts/999999", "/api/v1/customers/999999", "/api/v1/customers/999999/timeline",
                 "/api/v1/contacts/999999/events"):
        body = await supervisor.call("GET", path, expect=404)
        assert body["error_id"] == "not_found", path
    assert (await supervisor.call("POST", "/api/v1/offers/999999/accept", expect=404))["error_id"] == "not_found"
    assert (await supervisor.call("GET", "/api/v1/contacts/not-a-number", expect=422))["error_id"] == "invalid_input"
    assert (await supervisor.call("GET", "/api/v1/no/such/route", expect=404))["error_id"] == "not_found"
    wrap = await supervisor.call("POST", "/api/v1/contacts/999999/wrap-up", expect=404,
                                 json={"disposition_code": "resolved"})
    assert wrap["error_id"] == "not_found"


async def test_oversized_messages_are_refused_whole(server: RunningServer, clients: Callable[[], Browserish]) -> None:
    visitor = await open_visitor(server, clients(), name="Big Talker")
    limit = server.ctx.settings.max_message_chars
    before = await _count(server, Message)

    too_long = await visitor.socket.op({"op": "message.send", "body": "あ" * (limit + 1)})
    assert too_long["op"] == "error" and too_long["error_id"] == "invalid_input"
    http = clients()
    response = await http.http.post("/api/v1/widget/messages", json={"body": "x" * (limit + 1)},
                                    headers=visitor.headers)
    assert response.status_code == 422 and response.json()["error_id"] == "invalid_input"
    huge = await http.http.post("/api/v1/widget/messages", content=json.dumps({"body": "x" * 2_000_000}),
                                headers={**visitor.headers, "content-type": "application/json"})
    assert huge.status_code == 413 and huge.json()["error_id"] == "payload_too_large"
    blank = await visitor.socket.op({"op": "message.send", "body": "   "})
    assert blank["op"] == "error"
    assert await _count(server, Message) == before  # nothing half-written
    assert await _count(server, Contact) == await _count(server, Contact)

    ok = await visitor.socket.op({"op": "message.send", "body": "あ" * limit})
    assert ok["op"] == "ack"
    await visitor.socket.close()


async def test_forged_widget_identity_is_refused(server: RunningServer, clients: Callable[[], Browserish]) -> None:
    http = clients()
    customers_before = await _count(server, Customer)
    sessions_before = await _count(server, WidgetSession)
    forged = await http.call("POST", "/api/v1/widget/sessions", expect=403, json={
        "public_key": "pk_demo_shop", "identity": {"identifier": "user-7", "signature": "0" * 64}})
    assert forged["error_id"] == "identity_rejected"
    other_secret = sign_identity("not-the-secret", "user-7")
    await http.call("POST", "/api/v1/widget/sessions", expect=403, json={
        "public_key": "pk_demo_shop", "identity": {"identifier": "user-7", "signature": other_secret}})
    malformed = await http.call("POST", "/api/v1/widget/sessions", expect=422, json={
        "public_key": "pk_demo_shop", "identity": {"identifier": "user-7", "signature": "xyz"}})
    assert malformed["error_id"] == "invalid_input"
    assert await _count(server, Customer) == customers_before
    assert await _count(server, WidgetSession) == sessions_before

    good = await http.call("POST", "/api/v1/widget/sessions", expect=201, json={
        "public_key": "pk_demo_shop", "name": "Verified Vera",
        "identity": {"identifier": "user-7", "signature": sign_identity(DEMO_SECRET, "user-7")}})
    again = await http.call("POST", "/api/v1/widget/sessions", expect=201, json={
        "public_key": "pk_demo_shop",
        "identity": {"identifier": "user-7", "signature": sign_identity(DEMO_SECRET, "user-7")}})
    assert again["customer_id"] == good["customer_id"]  # the same site user, recognised


async def test_entry_point_that_demands_verification(server: RunningServer,
                                                     clients: Callable[[], Browserish]) -> None:
    admin = await clients().login("admin@demo.madoguchi.test")
    queues = await admin.call("GET", "/api/v1/queues", expect=200)
    ep = await admin.call("POST", "/api/v1/entry-points", expect=201, json={
        "name": "Members chat", "channel_kind": "webchat", "queue_id": queues[0]["id"],
        "require_verified_identity": True})
    assert ep["secret"] and ep["public_key"]
    listed = await admin.call("GET", "/api/v1/entry-points", expect=200)
    assert all("secret" not in item for item in listed)
    anonymous = await admin.call("POST", "/api/v1/widget/sessions", expect=403,
                                 json={"public_key": ep["public_key"], "name": "Anon"})
    assert anonymous["error_id"] == "identity_rejected"
    signed = await admin.call("POST", "/api/v1/widget/sessions", expect=201, json={
        "public_key": ep["public_key"],
        "identity": {"identifier": "member-1", "signature": sign_identity(ep["secret"], "member-1")}})
    assert signed["token"]
    unknown_key = await admin.call("POST", "/api/v1/widget/sessions", expect=404, json={"public_key": "pk_nope"})
    assert unknown_key["error_id"] == "not_found"


async def test_widget_token_and_socket_checks(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        missing = await http.get("/api/v1/widget/session")
        assert missing.status_code == 401 and missing.json()["error_id"] == "not_authenticated"
        wrong = await http.get("/api/v1/widget/session", headers={"x-widget-token": "wgt_forged"})
        assert wrong.status_code == 401
    async with connect(f"{server.ws_url}/ws/widget?token=wgt_forged") as conn:
        with pytest.raises(ConnectionClosed):
            await conn.recv()
        assert conn.close_code == 4401  # accepted then closed, so the widget learns to start over


async def test_staff_socket_refuses_strangers_and_foreign_origins(server: RunningServer,
                                                                  clients: Callable[[], Browserish]) -> None:
    agent = await clients().login("tanaka@demo.madoguchi.test")
    for kwargs in ({}, {"cookie": agent.cookie, "headers": {"Origin": "https://evil.example"}}):
        refused = False
        try:
            sock = await Socket.open(f"{server.ws_url}/ws", **kwargs)  # type: ignore[arg-type]
            await sock.close()
        except Exception:
            refused = True
        assert refused, kwargs
    sock = await Socket.open(f"{server.ws_url}/ws", cookie=agent.cookie)
    garbage = await sock.op({"op": "message.send", "contact_id": "x", "body": "hi"})
    assert garbage["op"] == "error" and garbage["error_id"] == "invalid_input"
    unknown = await sock.op({"op": "explode", "contact_id": 1})
    assert unknown["error_id"] == "unknown_op"
    await sock.conn.send("{not json")
    await sock.conn.send("[1,2]")
    still = await sock.op({"op": "ping"})
    assert still["op"] == "pong"
    await sock.close()


async def test_claimed_email_does_not_hand_over_someone_elses_chat(
        server: RunningServer, clients: Callable[[], Browserish]) -> None:
    victim = await open_visitor(server, clients(), name="Real Owner", email="owner@example.jp",
                                visitor_id="visitor-owner-0001")
    ack = await victim.socket.op({"op": "message.send", "body": "my card number ends 1234"})
    intruder = await clients().call("POST", "/api/v1/widget/sessions", expect=201, json={
        "public_key": "pk_demo_shop", "email": "owner@example.jp", "visitor_id": "visitor-intruder-01"})
    assert intruder["contact_id"] is None and intruder["messages"] == []
    assert intruder["customer_name"] is None  # not even whose address it is
    restored = await clients().call("GET", "/api/v1/widget/session", expect=200,
                                    headers={"x-widget-token": intruder["token"]})
    assert restored["messages"] == [] and restored["customer_name"] is None

    # The owner's conversation still reaches the owner, and a new tab of the same browser resumes it.
    again = await clients().call("POST", "/api/v1/widget/sessions", expect=201, json={
        "public_key": "pk_demo_shop", "visitor_id": "visitor-owner-0001"})
    assert again["contact_id"] == ack["contact_id"]
    assert [m["body"] for m in again["messages"]] == ["my card number ends 1234"]

    # The agent sees the claimed address as unverified.
    supervisor = await clients().login("supervisor@demo.madoguchi.test")
    detail = await supervisor.call("GET", f"/api/v1/contacts/{ack['contact_id']}", expect=200)
    email_ids = [i for i in detail["customer"]["identities"] if i["kind"] == "email"]
    assert email_ids and not any(i["verified"] for i in email_ids)
    await victim.socket.close()


async def test_lone_surrogates_are_refused_and_fail_nothing_else(server: RunningServer,
                                                                 clients: Callable[[], Browserish]) -> None:
    """JSON can spell text no database stores (a lone surrogate): refused alone, with a clear error."""
    visitor = await open_visitor(server, clients(), name="Odd Text")
    before = await _count(server, Message)
    # A frame that cannot be parsed has no ref to answer by: its error comes with "ref": null.
    refused: asyncio.Future[dict[str, object]] = asyncio.get_running_loop().create_future()
    visitor.socket._replies[None] = refused  # type: ignore[index]
    await visitor.socket.conn.send('{"op": "message.send", "body": "a\\ud800b", "ref": "odd"}')
    assert (await asyncio.wait_for(refused, 10))["error_id"] == "malformed_frame"
    http = clients()
    response = await http.http.post("/api/v1/widget/messages", content=b'{"body": "x\\udfffy"}',
                                    headers={**visitor.headers, "content-type": "application/json"})
    assert response.status_code == 422 and response.json()["error_id"] == "invalid_input"
    ok = await visitor.socket.op({"op": "message.send", "body": "still fine"})
    assert ok["op"] == "ack"
    assert await _count(server, Message) == before + 1
