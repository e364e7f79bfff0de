"""Two instances on one PostgreSQL database with the Redis bus: an agent on one instance talks to a
customer on the other; only one instance runs the router."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from madoguchi.settings import Settings
from tests.api.flow import agent_on_duty, open_visitor
from tests.support import REDIS_URL, Browserish, require_service, start_server

pytestmark = [pytest.mark.redis]


async def _redis_ok() -> bool:
    client = aioredis.from_url(REDIS_URL)
    try:
        return bool(await client.ping())
    except (OSError, aioredis.RedisError):
        return False
    finally:
        await client.aclose()


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_chat_across_two_instances_over_redis(db_url: str) -> None:
    require_service("Redis", await _redis_ok(), REDIS_URL)
    one = await start_server(Settings(database_url=db_url, redis_url=REDIS_URL))
    two = await start_server(Settings(database_url=db_url, redis_url=REDIS_URL))
    browsers: list[Browserish] = []

    def client(base: str) -> Browserish:
        b = Browserish(base)
        browsers.append(b)
        return b

    try:
        agent = client(one.base_url)
        agent_socket = await agent_on_duty(one, agent, "tanaka@demo.madoguchi.test")
        visitor = await open_visitor(two, client(two.base_url), name="Cross Instance")
        contact_id = (await visitor.socket.op({"op": "message.send", "body": "via two"}))["contact_id"]
        offer = await agent_socket.event("offer.created", contact_id=contact_id)
        await agent.call("POST", f"/api/v1/offers/{offer['data']['offer_id']}/accept", expect=200)
        await agent_socket.op({"op": "message.send", "contact_id": contact_id, "body": "from one"})
        reply = await visitor.socket.event("message.created", author_kind="agent")
        assert reply["data"]["body"] == "from one"
        await visitor.socket.op({"op": "message.send", "body": "back to one"})
        await agent_socket.event("message.created", body="back to one")

        await asyncio.sleep(0.5)
        leaders = [s for s in (one, two) if s.ctx.router.lease.held]
        assert len(leaders) == 1, "exactly one instance holds the router lease"
        await agent_socket.close()
        await visitor.socket.close()
    finally:
        for b in browsers:
            await b.close()
        await two.stop()
        await one.stop()

