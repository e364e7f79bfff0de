"""Real server processes: a kill -9 loses nothing (line order, agent states, offers), and with
PostgreSQL a second instance takes the router over within seconds when the first dies."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import Browserish, Socket, free_port

pytestmark = [pytest.mark.e2e]

MADOGUCHI = str(Path(sys.executable).with_name("madoguchi"))


class ServerProcess:
    def __init__(self, db_url: str, **env: str) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        # Listeners on fixed ports (SMTP, SIP) are off: several servers run side by side here.
        self.env = {**os.environ, "MADOGUCHI_DATABASE_URL": db_url, "MADOGUCHI_LOG_LEVEL": "WARNING",
                    "MADOGUCHI_SMTP_PORT": "off", "MADOGUCHI_SIP_PORT": "off", **env}
        self.env.pop("MADOGUCHI_REDIS_URL", None)
        self.proc: subprocess.Popen[bytes] | None = None

    def _launch(self) -> None:
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop(), outlives this call
        self.proc = subprocess.Popen([MADOGUCHI, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                                     env=self.env, stdout=subprocess.DEVNULL, stderr=self.log)

    def _log_text(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-4000:]

    async def start(self) -> ServerProcess:
        self._launch()
        assert self.proc is not None
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient(base_url=self.base_url) as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited: {self._log_text()}")
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError("server did not come up")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc is not None:
            self.log.close()

    async def router_state(self) -> str:
        async with httpx.AsyncClient(base_url=self.base_url) as http:
            state: str = (await http.get("/healthz")).json().get("router", "?")
            return state


@asynccontextmanager
async def processes() -> AsyncIterator[Callable[..., ServerProcess]]:
    made: list[ServerProcess] = []

    def factory(db_url: str, **env: str) -> ServerProcess:
        proc = ServerProcess(db_url, **env)
        made.append(proc)
        return proc

    try:
        yield factory
    finally:
        for proc in made:
            proc.stop()


def _sync_url(db_url: str) -> str:
    return db_url.replace("+aiosqlite", "").replace("+asyncpg", "")


async def _wait(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out: {what}")


async def test_kill_9_loses_no_place_in_line(db_url: str) -> None:
    async with processes() as spawn:
        first = await spawn(_sync_url(db_url)).start()
        admin = await Browserish(first.base_url).login("admin@demo.madoguchi.test")
        agent = await Browserish(first.base_url).login("suzuki@demo.madoguchi.test")
        queue = await admin.call("POST", "/api/v1/queues", expect=201,
                                 json={"name": "Durable", "agent_ids": [agent.id], "offer_timeout_s": 30})
        entry = await admin.call("POST", "/api/v1/entry-points", expect=201,
                                 json={"name": "durable chat", "channel_kind": "webchat", "queue_id": queue["id"]})
        await agent.call("PUT", "/api/v1/agents/me/state", expect=200, json={"state": "break", "reason": "lunch"})
        contact_ids = []
        for n in range(4):
            session = await admin.call("POST", "/api/v1/widget/sessions", expect=201,
                                       json={"public_key": entry["public_key"], "name": f"Customer {n}"})
            visitor = await Socket.open(f"{first.ws_url}/ws/widget?token={session['token']}")
            contact_ids.append((await visitor.op({"op": "message.send", "body": f"#{n}"}))["contact_id"])
            await visitor.close()
        first.kill()

        second = await spawn(_sync_url(db_url)).start()
        for client in (admin, agent):
            client.http.base_url = httpx.URL(second.base_url)
        me = await agent.call("GET", "/api/v1/agents/me", expect=200)
        assert (me["state"], me["break_reason"]) == ("break", "lunch")
        places = [(await admin.call("GET", f"/api/v1/contacts/{cid}/position", expect=200))["position"]
                  for cid in contact_ids]
        assert places == [1, 2, 3, 4]

        sock = await Socket.open(f"{second.ws_url}/ws", cookie=agent.cookie)
        await agent.call("PUT", "/api/v1/agents/me/state", expect=200, json={"state": "available"})
        served = []
        for _ in range(3):  # chat capacity 3: offered one at a time, in the original order
            offer = await sock.wait_for(lambda: [f for f in sock.events if f["type"] == "offer.created"
                                                 and f["data"]["contact_id"] not in served], what="next offer")
            served.append(offer[0]["data"]["contact_id"])
            await agent.call("POST", f"/api/v1/offers/{offer[0]['data']['offer_id']}/accept", expect=200)
        assert served == contact_ids[:3]

        # An offer outstanding at the moment of a crash still times out and goes to the next agent.
        await agent.call("POST", f"/api/v1/contacts/{served[0]}/end", expect=200)
        pending = await sock.wait_for(lambda: [f for f in sock.events if f["type"] == "offer.created"
                                               and f["data"]["contact_id"] == contact_ids[3]], what="4th offer")
        await sock.close()
        second.kill()
        third = await spawn(_sync_url(db_url)).start()
        agent.http.base_url = httpx.URL(third.base_url)
        offers = await agent.call("GET", "/api/v1/offers", expect=200)
        assert [o["id"] for o in offers if o["state"] == "pending"] == [pending[0]["data"]["offer_id"]]
        await agent.call("POST", f"/api/v1/offers/{pending[0]['data']['offer_id']}/accept", expect=200)
        await admin.close()
        await agent.close()


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_router_fails_over_to_another_instance(db_url: str) -> None:
    async with processes() as spawn:
        one = await spawn(_sync_url(db_url)).start()
        two = await spawn(_sync_url(db_url)).start()
        states = await _wait(lambda: _leaders(one, two), 10, "one leader")
        leader, standby = (one, two) if states == ("active", "standby") else (two, one)
        admin = await Browserish(standby.base_url).login("admin@demo.madoguchi.test")
        agent = await Browserish(standby.base_url).login("tanaka@demo.madoguchi.test")
        sock = await Socket.open(f"{standby.ws_url}/ws", cookie=agent.cookie)
        await agent.call("PUT", "/api/v1/agents/me/state", expect=200, json={"state": "available"})

        started = time.monotonic()
        leader.kill()
        await _wait(lambda: _is_active(standby), 15, "the standby to take over")
        took_over = time.monotonic() - started
        assert took_over < 10, f"takeover took {took_over:.1f}s"

        session = await admin.call("POST", "/api/v1/widget/sessions", expect=201, json={"public_key": "pk_demo_shop"})
        visitor = await Socket.open(f"{standby.ws_url}/ws/widget?token={session['token']}")
        contact_id = (await visitor.op({"op": "message.send", "body": "after failover"}))["contact_id"]
        await sock.event("offer.created", contact_id=contact_id)
        for closeable in (sock, visitor):
            await closeable.close()
        await admin.close()
        await agent.close()


async def _leaders(one: ServerProcess, two: ServerProcess) -> tuple[str, str] | None:
    states = (await one.router_state(), await two.router_state())
    return states if sorted(states) == ["active", "standby"] else None


async def _is_active(proc: ServerProcess) -> bool:
    return await proc.router_state() == "active"
