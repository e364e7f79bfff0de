"""Test helpers: a real server on a free loopback port, an HTTP client that logs in like a browser,
and a WebSocket client that speaks the realtime protocol."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect

from madoguchi.app import create_app
from madoguchi.context import AppContext
from madoguchi.demo import DEMO_PASSWORD
from madoguchi.settings import Settings

IN_CI = bool(os.environ.get("CI"))
PG_URL = os.environ.get("MADOGUCHI_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("MADOGUCHI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def require_service(name: str, available: bool, why: str = "") -> None:
    """Missing infrastructure fails in CI (where it must exist) and skips on a bare laptop."""
    if available:
        return
    message = f"{name} is not reachable{': ' + why if why else ''}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RunningServer:
    app: FastAPI
    port: int
    server: uvicorn.Server
    task: asyncio.Task[None]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def ctx(self) -> AppContext:
        ctx: AppContext = self.app.state.ctx
        return ctx

    async def stop(self) -> None:
        self.server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self.task, timeout=10)


async def start_server(settings: Settings) -> RunningServer:
    if "smtp_port" not in settings.model_fields_set:
        # The SMTP listener's default port (the demo's 2525) would be shared by every test server:
        # it runs only where a test asks for it (smtp_port=0 picks a free port).
        settings = settings.model_copy(update={"smtp_port": None})
    if "sip_port" not in settings.model_fields_set:
        settings = settings.model_copy(update={"sip_port": None})  # the same for SIP's 5060
    # Many servers come and go in one test process: freezing the heap would keep their cycles, and
    # servers that overlap would restore each other's collector thresholds (test_collector.py
    # covers both settings).
    settings = settings.model_copy(update={"gc_freeze": False, "gc_young_threshold": 0})
    app = create_app(settings)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                            ws_max_size=1_000_000)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    else:
        raise RuntimeError("server did not start")
    return RunningServer(app=app, port=port, server=server, task=task)


class Browserish:
    """An HTTP client that holds a session cookie and sends the CSRF header, as the pages do."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=10)
        self.user: dict[str, Any] = {}
        self.cookie: str | None = None

    async def login(self, email: str, password: str = DEMO_PASSWORD) -> Browserish:
        response = await self.http.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        body = response.json()
        self.user = body["user"]
        self.cookie = response.cookies.get("madoguchi_session")
        assert self.cookie
        self.http.headers["x-csrf-token"] = body["csrf_token"]
        self.http.cookies.set("madoguchi_session", self.cookie)
        return self

    @property
    def id(self) -> int:
        user_id: int = self.user["id"]
        return user_id

    async def call(self, method: str, path: str, expect: int | None = None, **kwargs: Any) -> Any:
        response = await self.http.request(method, path, **kwargs)
        if expect is not None:
            assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text}"
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    async def close(self) -> None:
        await self.http.aclose()


@dataclass
class Socket:
    """A realtime protocol client: events land in ``events``; ops are answered by ref."""

    conn: ClientConnection
    events: list[dict[str, Any]] = field(default_factory=list)
    ready: dict[str, Any] | None = None
    _replies: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _reader: asyncio.Task[None] | None = None
    _refs: int = 0
    closed: bool = False
    batches: int = 0               # WebSocket messages that were batch frames

    @classmethod
    async def open(cls, url: str, *, cookie: str | None = None, last_event_id: int | None = None,
                   headers: dict[str, str] | None = None, batch: bool = False) -> Socket:
        extra = dict(headers or {})
        if cookie:
            extra["Cookie"] = f"madoguchi_session={cookie}"
        conn = await connect(url, additional_headers=extra, open_timeout=10)
        sock = cls(conn=conn)
        sock._reader = asyncio.create_task(sock._read())
        hello: dict[str, Any] = {"op": "hello", "last_event_id": last_event_id}
        if batch:
            hello["batch"] = True
        await conn.send(json.dumps(hello))
        await sock.wait_for(lambda: sock.ready is not None, what="ready")
        return sock

    async def _read(self) -> None:
        try:
            async for raw in self.conn:
                received = json.loads(raw)
                if received.get("op") == "batch":
                    self.batches += 1
                    frames = received["frames"]
                    assert len(frames) > 1, "a batch holds at least two frames"
                else:
                    frames = [received]
                for frame in frames:
                    if frame.get("op") == "ready":
                        self.ready = frame
                    elif frame.get("op") == "event":
                        self.events.append(frame)
                    elif frame.get("ref") in self._replies:
                        self._replies.pop(frame["ref"]).set_result(frame)
                self._changed.set()
        except Exception:  # the connection dropped; tests look at .closed
            pass
        finally:
            self.closed = True
            self._changed.set()

    async def wait_for(self, check: Callable[[], Any], *, timeout: float = 10, what: str = "condition") -> Any:
        async def loop() -> Any:
            while True:
                result = check()
                if result:
                    return result
                if self.closed:
                    raise AssertionError(f"socket closed while waiting for {what}")
                self._changed.clear()
                await self._changed.wait()

        try:
            return await asyncio.wait_for(loop(), timeout)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}; events: {self.types()}") from None

    async def event(self, type_: str, timeout: float = 10, **match: Any) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            for frame in self.events:
                if frame["type"] == type_ and all(frame["data"].get(k) == v for k, v in match.items()):
                    return frame
            return None

        frame: dict[str, Any] = await self.wait_for(find, timeout=timeout, what=f"{type_} {match}")
        return frame

    def types(self) -> list[str]:
        return [f["type"] for f in self.events]

    async def op(self, op: dict[str, Any], timeout: float = 10) -> dict[str, Any]:
        self._refs += 1
        ref = f"t{self._refs}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[ref] = future
        await self.conn.send(json.dumps({**op, "ref": ref}))
        return await asyncio.wait_for(future, timeout)

    @property
    def last_event_id(self) -> int:
        ids = [f["id"] for f in self.events if f["id"] is not None]
        ready_id = self.ready["last_event_id"] if self.ready else 0
        return max([ready_id, *ids])

    async def close(self) -> None:
        await self.conn.close()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await self._reader
