"""PostgreSQL drops every connection (a restart, a failover): the chat keeps working, and the
message sent into the dropped connection is written once, not lost."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
import pytest
from sqlalchemy import func, select

from madoguchi.contacts.models import Message
from tests.api.flow import agent_on_duty, open_visitor
from tests.conftest import _pg_admin_dsn
from tests.support import Browserish, RunningServer


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_messages_survive_dropped_connections(db_url: str, server: RunningServer,
                                                    clients: Callable[[], Browserish]) -> None:
    agent = clients()
    agent_socket = await agent_on_duty(server, agent, "tanaka@demo.madoguchi.test")
    visitor = await open_visitor(server, clients(), name="Drop Test")
    first = await visitor.socket.op({"op": "message.send", "body": "before", "client_msg_id": "d-0"})
    contact_id = first["contact_id"]
    offer = await agent_socket.event("offer.created", contact_id=contact_id)
    await agent.call("POST", f"/api/v1/offers/{offer['data']['offer_id']}/accept", expect=200)

    database = db_url.rpartition("/")[2]
    admin = await asyncpg.connect(_pg_admin_dsn())
    try:
        dropped = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1", database)
    finally:
        await admin.close()
    assert dropped >= 1  # the server's pooled connections were there and are gone now

    after = await visitor.socket.op({"op": "message.send", "body": "after", "client_msg_id": "d-1"})
    assert after["op"] == "ack"
    seen = await agent_socket.event("message.created", contact_id=contact_id, client_msg_id="d-1")
    assert seen["data"]["body"] == "after"
    detail = await agent.call("GET", f"/api/v1/contacts/{contact_id}", expect=200)
    assert [m["body"] for m in detail["messages"] if m["author_kind"] == "customer"] == ["before", "after"]
    async with server.ctx.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Message)
                                    .where(Message.client_msg_id == "d-1")) == 1
