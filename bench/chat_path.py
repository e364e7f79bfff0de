"""Web-chat message path benchmark against a real ``madoguchi serve`` process.

    .venv/bin/python bench/chat_path.py [--db sqlite|postgres|both] [--chats 100,500] [--duration 20]
        [--rates 1000,2000] [--workers 2] [--json] [--timeline] [--profile-dir DIR] [--serve-cmd CMD]

``--db both`` skips PostgreSQL (saying so) when it is not reachable; ``--db postgres`` fails then.

For each database and number of concurrent chats it starts a fresh server with the demo data, opens
that many web chats (each accepted by a logged-in agent on a WebSocket), and then drives customer
messages in two ways:

* ``saturate`` (closed loop): each visitor sends its next message as soon as the previous one is
  acked. Gives the most messages per second the server delivers to agents, and the latency at that
  load (mostly queueing: with every chat in flight, Little's law sets it).
* ``open@R`` (open loop): all visitors together send R messages per second on a fixed schedule,
  whatever the server does. The latency is what a visitor sees at that rate; a server that cannot
  keep up shows it as delivered < offered and a growing p99, not as a quietly lower send rate.

Latency is one way, customer send → agent receive: the send time travels in the message body and
both ends read the same host-wide CLOCK_MONOTONIC, even across processes.

The ceiling is bench/echo_server.py (the same uvicorn/Starlette stack echoing text frames) driven by
the same load generator with the same number of connections; its latency is a round trip.

The load generator runs in several processes (``--workers``), each owning a slice of the agents and
visitors, because on a 2-core host one Python client process would be the bottleneck before the
server is. Each result row says how many CPU cores the server, the database, the load generator and
everything else on the host used during the measured window, so a disturbed run is visible.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import multiprocessing as mp
import os
import random
import secrets
import shlex
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

try:
    import orjson  # type: ignore[import-not-found,unused-ignore]

    def dumps(value: Any) -> str:
        text: str = orjson.dumps(value).decode()
        return text

    loads: Callable[[str | bytes], Any] = orjson.loads
    JSON_LIB = "orjson"
except ImportError:  # the project does not depend on orjson; the stdlib's C decoder is the fallback
    import json

    def dumps(value: Any) -> str:
        return json.dumps(value, separators=(",", ":"))

    loads = json.loads
    JSON_LIB = "json"

BENCH_DIR = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
DEMO_ADMIN = ("admin@demo.madoguchi.test", "madoguchi-demo")
DEMO_PUBLIC_KEY = "pk_demo_shop"
SUPPORT_QUEUE = "Support"
SESSION_COOKIE = "madoguchi_session"
# Clients ask for batched frames as the product's own pages do; --no-batch measures one frame per
# WebSocket message. An environment variable, so the spawned load-generator processes see it too.
BATCH = os.environ.get("CHAT_PATH_BATCH", "1") != "0"
AGENT_PASSWORD = "bench-agent-password"
CHATS_PER_AGENT = 3          # DEFAULT_CAPACITY["chat"] in src/madoguchi/agents/schemas.py
SPARE_AGENTS = 3             # so the last chats never wait for an agent to free a slot
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Thresholds from the issue, checked at the largest concurrency.
TARGET_MSGS_PER_S = 2000.0
TARGET_P99_MS = 50.0
TARGET_ECHO_RATIO = 0.25


# ---------------------------------------------------------------------------------------------
# Small helpers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(sorted_values: Sequence[int], p: float) -> float:
    """Nearest-rank percentile of nanosecond samples, in milliseconds (NaN when there are none)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1] / 1e6


def message_frame(sent_ns: int, msg_id: str, padding: str) -> str:
    # The ref carries the send time too, so the ack's round trip needs no lookup table.
    return dumps({"op": "message.send", "body": f"t{sent_ns} {padding}", "client_msg_id": msg_id,
                  "ref": str(sent_ns)})


def frames_of(raw: str | bytes) -> list[dict[str, Any]]:
    """The frames in one WebSocket message: a batch (see docs/realtime.md) or a single frame."""
    frame = loads(raw)
    if frame.get("op") == "batch":
        frames: list[dict[str, Any]] = frame["frames"]
        return frames
    return [frame]


def sent_ns_of(body: str) -> int | None:
    if not body.startswith("t"):
        return None
    end = body.find(" ")
    try:
        return int(body[1:end] if end > 0 else body[1:])
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# CPU accounting from /proc: who got the cores during the measured window


def _proc_jiffies(pid: int) -> int:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    # Fields after the parenthesised command name; utime and stime are the 14th and 15th fields.
    fields = raw[raw.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def _host_busy_jiffies() -> int:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values[:8]) - idle


def _postgres_backends(database: str) -> list[int]:
    """PostgreSQL backends serving ``database``: their process title names it."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if cmdline.startswith(b"postgres: ") and f" {database} ".encode() in cmdline:
            pids.append(int(entry.name))
    return pids


def _descendants(pid: int) -> list[int]:
    """Processes started by ``pid``, and by those, from each process's parent id in /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The name field may hold spaces and parentheses: the fields after its last ")" are plain.
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


@dataclass
class CpuSample:
    at_ns: int
    host_busy: int
    groups: dict[str, dict[int, int]]


def sample_cpu(groups: dict[str, list[int]]) -> CpuSample:
    return CpuSample(at_ns=time.monotonic_ns(), host_busy=_host_busy_jiffies(),
                     groups={name: {pid: _proc_jiffies(pid) for pid in pids} for name, pids in groups.items()})


def cores_used(before: CpuSample, after: CpuSample) -> dict[str, float]:
    seconds = (after.at_ns - before.at_ns) / 1e9
    out: dict[str, float] = {}
    accounted = 0
    for name, pids in after.groups.items():
        jiffies = sum(j - before.groups.get(name, {}).get(pid, 0) for pid, j in pids.items())
        accounted += jiffies
        out[name] = jiffies / CLK_TCK / seconds
    busy = after.host_busy - before.host_busy
    out["other"] = max(0.0, (busy - accounted) / CLK_TCK / seconds)
    out["host"] = busy / CLK_TCK / seconds
    return out


# ---------------------------------------------------------------------------------------------
# Load-generator worker process


@dataclass
class RunSpec:
    kind: str            # "chat" or "echo"
    mode: str            # "saturate" or "open"
    rate: float          # this worker's share of the offered messages per second (open mode)
    start_ns: int
    warmup_s: float
    duration_s: float
    drain_s: float
    body_bytes: int


@dataclass
class WorkerResult:
    sent: int = 0                      # sends inside the measured window
    delivered: int = 0                 # agent receipts (or echoes) inside the measured window
    latencies: list[int] = field(default_factory=list)
    received_at: list[int] = field(default_factory=list)   # ns after the window start, one per latency
    ack_latencies: list[int] = field(default_factory=list)
    lag_ns: list[int] = field(default_factory=list)   # open loop: how late the generator sent
    errors: int = 0
    first_error: str | None = None
    stalled: int = 0


class Window:
    """Counts only what happens between the end of the warm-up and the end of the run."""

    def __init__(self, start_ns: int, end_ns: int) -> None:
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.result = WorkerResult()

    def inside(self, now: int) -> bool:
        return self.start_ns <= now < self.end_ns

    def delivered(self, sent_ns: int) -> None:
        now = time.monotonic_ns()
        if self.start_ns <= now < self.end_ns:
            self.result.delivered += 1
            self.result.latencies.append(now - sent_ns)
            self.result.received_at.append(now - self.start_ns)

    def acked(self, sent_ns: int) -> None:
        now = time.monotonic_ns()
        if self.start_ns <= now < self.end_ns:
            self.result.ack_latencies.append(now - sent_ns)

    def error(self, frame: dict[str, Any]) -> None:
        self.result.errors += 1
        if self.result.first_error is None:
            self.result.first_error = f"{frame.get('error_id')}: {frame.get('message')}"


class Sender:
    """One connection that sends messages: a web-chat visitor or an echo client."""

    def __init__(self, worker: LoadWorker, ws: ClientConnection, name: str) -> None:
        self.worker = worker
        self.ws = ws
        self.name = name
        self.seq = 0
        self.waiter: asyncio.Future[None] | None = None
        self.accepted = asyncio.Event()
        self.reader: asyncio.Task[None] | None = None

    def release(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def read_visitor(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                for frame in frames_of(raw):
                    op = frame.get("op")
                    window = self.worker.window
                    if op == "ack":
                        if window is not None:
                            ref = frame.get("ref")
                            if isinstance(ref, str) and ref.isdigit():
                                window.acked(int(ref))
                        self.release()
                    elif op == "error":
                        if window is not None:
                            window.error(frame)
                        self.release()
                    elif (op == "event" and frame.get("type") == "contact.changed"
                          and frame["data"].get("change") == "accepted"):
                        self.accepted.set()
        self.release()

    async def read_echo(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                frame = loads(raw)
                window = self.worker.window
                if window is not None:
                    sent = sent_ns_of(frame.get("body", ""))
                    if sent is not None:
                        window.delivered(sent)
                self.release()
        self.release()

    async def send_one(self, padding: str) -> int:
        self.seq += 1
        now = time.monotonic_ns()
        await self.ws.send(message_frame(now, f"{self.name}-{self.seq}", padding))
        return now

    async def saturate(self, window: Window, stop_ns: int, padding: str) -> None:
        loop = asyncio.get_running_loop()
        while time.monotonic_ns() < stop_ns:
            self.waiter = loop.create_future()
            sent = await self.send_one(padding)
            if window.inside(sent):
                window.result.sent += 1
            try:
                # A lost ack must not hang the run; after this long the chat is counted as stalled.
                async with asyncio.timeout(max(0.0, (stop_ns - sent) / 1e9) + 10.0):
                    await self.waiter
            except TimeoutError:
                window.result.stalled += 1
                return

    async def open_loop(self, window: Window, start_ns: int, stop_ns: int, interval_ns: int,
                        padding: str) -> None:
        # A random phase spreads the visitors over the interval instead of sending in bursts.
        due = start_ns + random.randrange(max(1, interval_ns))
        while due < stop_ns:
            delay = due - time.monotonic_ns()
            if delay > 0:
                await asyncio.sleep(delay / 1e9)
            sent = await self.send_one(padding)
            if window.inside(sent):
                window.result.sent += 1
                window.result.lag_ns.append(max(0, sent - due))
            due += interval_ns


class Agent:
    def __init__(self, worker: LoadWorker, agent_id: int, cookie: str, csrf: str) -> None:
        self.worker = worker
        self.agent_id = agent_id
        self.cookie = cookie
        self.csrf = csrf
        self.ws: ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None
        self.accepting: set[asyncio.Task[None]] = set()
        self.accepted = 0

    @property
    def headers(self) -> dict[str, str]:
        return {"Cookie": f"{SESSION_COOKIE}={self.cookie}", "x-csrf-token": self.csrf}

    async def read(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                for frame in frames_of(raw):
                    if frame.get("op") != "event":
                        continue
                    kind = frame.get("type")
                    data = frame["data"]
                    if kind == "message.created":
                        window = self.worker.window
                        if window is not None and data.get("author_kind") == "customer":
                            sent = sent_ns_of(data.get("body", ""))
                            if sent is not None:
                                window.delivered(sent)
                    elif kind == "offer.created" and data.get("agent_id") == self.agent_id:
                        task = asyncio.create_task(self.accept(int(data["offer_id"])))
                        self.accepting.add(task)
                        task.add_done_callback(self.accepting.discard)

    async def accept(self, offer_id: int) -> None:
        response = await self.worker.http.post(f"/api/v1/offers/{offer_id}/accept", headers=self.headers)
        # A 409 means the offer lapsed or was taken back; the router offers the chat again.
        if response.status_code == 200:
            self.accepted += 1


class LoadWorker:
    def __init__(self, index: int) -> None:
        self.index = index
        self.window: Window | None = None
        self.agents: list[Agent] = []
        self.senders: list[Sender] = []
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        assert self._http is not None, "connect_agents first"
        return self._http

    async def _handshake(self, ws: ClientConnection) -> None:
        await ws.send(dumps({"op": "hello", "last_event_id": None, "batch": BATCH}))
        async with asyncio.timeout(60):
            while True:
                if any(frame.get("op") == "ready" for frame in frames_of(await ws.recv())):
                    return

    async def connect_agents(self, base_url: str, logins: list[tuple[int, str, str]]) -> dict[str, Any]:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=120,
                                       limits=httpx.Limits(max_connections=32, max_keepalive_connections=32))
        ws_base = base_url.replace("http://", "ws://")
        gate = asyncio.Semaphore(16)

        async def one(agent: Agent) -> None:
            async with gate:
                ws = await connect(f"{ws_base}/ws", additional_headers={"Cookie": f"{SESSION_COOKIE}={agent.cookie}"},
                                   compression=None, ping_interval=None, open_timeout=120, max_size=2**20)
                await self._handshake(ws)
                agent.ws = ws
                agent.reader = asyncio.create_task(agent.read(ws))
                response = await self.http.put("/api/v1/agents/me/state", json={"state": "available"},
                                               headers=agent.headers)
                response.raise_for_status()

        self.agents = [Agent(self, agent_id, cookie, csrf) for agent_id, cookie, csrf in logins]
        await asyncio.gather(*(one(agent) for agent in self.agents))
        return {"agents": len(self.agents)}

    async def open_chats(self, base_url: str, count: int, timeout_s: float) -> dict[str, Any]:
        ws_base = base_url.replace("http://", "ws://")
        gate = asyncio.Semaphore(16)

        async def one(i: int) -> Sender:
            async with gate:
                response = await self.http.post("/api/v1/widget/sessions",
                                                 json={"public_key": DEMO_PUBLIC_KEY,
                                                       "name": f"Bench visitor {self.index}-{i}"})
                response.raise_for_status()
                token = response.json()["token"]
                ws = await connect(f"{ws_base}/ws/widget?token={token}", compression=None, ping_interval=None,
                                   open_timeout=120, max_size=2**20)
                await self._handshake(ws)
                sender = Sender(self, ws, f"v{self.index}-{i}")
                sender.reader = asyncio.create_task(sender.read_visitor())
                # The first message creates the contact and puts it in the Support queue.
                loop = asyncio.get_running_loop()
                sender.waiter = loop.create_future()
                await sender.send_one("hello")
                async with asyncio.timeout(120):
                    await sender.waiter
                return sender

        self.senders = list(await asyncio.gather(*(one(i) for i in range(count))))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await asyncio.gather(*(s.accepted.wait() for s in self.senders))
        return {"accepted": sum(s.accepted.is_set() for s in self.senders), "visitors": len(self.senders),
                "accepts_made": sum(a.accepted for a in self.agents)}

    async def connect_echo(self, url: str, count: int) -> dict[str, Any]:
        gate = asyncio.Semaphore(32)

        async def one(i: int) -> Sender:
            async with gate:
                ws = await connect(url, compression=None, ping_interval=None, open_timeout=120, max_size=2**20)
                sender = Sender(self, ws, f"e{self.index}-{i}")
                sender.reader = asyncio.create_task(sender.read_echo())
                return sender

        self.senders = list(await asyncio.gather(*(one(i) for i in range(count))))
        return {"connected": len(self.senders)}

    async def run(self, spec: RunSpec) -> WorkerResult:
        window_start = spec.start_ns + int(spec.warmup_s * 1e9)
        stop_ns = window_start + int(spec.duration_s * 1e9)
        window = Window(window_start, stop_ns)
        padding = "x" * max(0, spec.body_bytes - 21)   # "t" + 19-digit ns + space ≈ 21 bytes
        delay = spec.start_ns - time.monotonic_ns()
        if delay > 0:
            await asyncio.sleep(delay / 1e9)
        self.window = window
        if spec.mode == "saturate":
            tasks = [s.saturate(window, stop_ns, padding) for s in self.senders]
        else:
            interval_ns = int(len(self.senders) / spec.rate * 1e9) if spec.rate > 0 else stop_ns
            tasks = [s.open_loop(window, spec.start_ns, stop_ns, interval_ns, padding) for s in self.senders]
        await asyncio.gather(*tasks)
        # Messages still in flight at the end belong to no window; let them land before the next run.
        await asyncio.sleep(spec.drain_s)
        self.window = None
        return window.result

    async def disconnect(self) -> dict[str, Any]:
        connections = [s.ws for s in self.senders] + [a.ws for a in self.agents if a.ws is not None]
        readers = [s.reader for s in self.senders] + [a.reader for a in self.agents]
        await asyncio.gather(*(ws.close() for ws in connections), return_exceptions=True)
        for task in readers:
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in readers if t is not None), return_exceptions=True)
        self.senders, self.agents = [], []
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        return {}

    async def serve(self, conn: Connection) -> None:
        loop = asyncio.get_running_loop()
        while True:
            command, args = await loop.run_in_executor(None, conn.recv)
            try:
                if command == "close":
                    await self.disconnect()
                    conn.send(("ok", {}))
                    return
                handlers: dict[str, Callable[..., Coroutine[Any, Any, Any]]] = {
                    "connect_agents": self.connect_agents, "open_chats": self.open_chats,
                    "connect_echo": self.connect_echo, "run": self.run, "disconnect": self.disconnect,
                }
                handler = handlers[command]
                conn.send(("ok", await handler(*args)))
            except Exception as exc:
                conn.send(("error", f"worker {self.index}: {command}: {type(exc).__name__}: {exc}"))


def worker_main(conn: Connection, index: int) -> None:
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        runner.run(LoadWorker(index).serve(conn))


class WorkerPool:
    """The load generator's processes, driven in lock step: every command goes to all of them."""

    def __init__(self, count: int) -> None:
        ctx = mp.get_context("spawn")   # a clean interpreter: no inherited event loop or sockets
        self.conns: list[Connection] = []
        self.processes: list[mp.process.BaseProcess] = []
        for index in range(count):
            parent, child = ctx.Pipe()
            process = ctx.Process(target=worker_main, args=(child, index), daemon=True, name=f"loadgen-{index}")
            process.start()
            self.conns.append(parent)
            self.processes.append(process)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.pid is not None]

    def __len__(self) -> int:
        return len(self.conns)

    async def call(self, command: str, per_worker_args: Iterable[tuple[Any, ...]]) -> list[Any]:
        for conn, args in zip(self.conns, per_worker_args, strict=True):
            conn.send((command, args))
        loop = asyncio.get_running_loop()
        replies = await asyncio.gather(*(loop.run_in_executor(None, conn.recv) for conn in self.conns))
        failures = [value for status, value in replies if status != "ok"]
        if failures:
            raise RuntimeError("; ".join(failures))
        return [value for _, value in replies]

    async def broadcast(self, command: str, *args: Any) -> list[Any]:
        return await self.call(command, [args] * len(self.conns))

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.broadcast("close")
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


# ---------------------------------------------------------------------------------------------
# Servers under test


class ServerProcess:
    """A server subprocess with its log in a temporary file (shown when it fails to come up)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.port = port
        self.process: asyncio.subprocess.Process | None = None
        self.log: IO[bytes] = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=False)  # noqa: SIM115

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self, timeout_s: float = 120.0) -> None:
        self.process = await asyncio.create_subprocess_exec(*self.argv, env=self.env, stdout=self.log,
                                                            stderr=asyncio.subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process.returncode is not None:
                    break
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.base_url}/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.2)
        log_tail = self.tail()
        await self.stop()
        raise RuntimeError(f"{self.name} did not become healthy; log: {self.log.name}\n{log_tail}")

    def tail(self, lines: int = 30) -> str:
        if not self.log.closed:
            self.log.flush()
        return "\n".join(Path(self.log.name).read_text(errors="replace").splitlines()[-lines:])

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), timeout=15)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        self.log.close()


@dataclass
class Database:
    kind: str
    url: str
    cleanup: Callable[[], Coroutine[Any, Any, None]]
    pg_name: str | None = None


async def make_database(kind: str, pg_admin_url: str) -> Database:
    suffix = secrets.token_hex(4)
    if kind == "sqlite":
        path = Path(tempfile.gettempdir()) / f"bench-{suffix}.db"

        async def drop_file() -> None:
            for extra in ("", "-wal", "-shm"):
                await asyncio.to_thread(Path(f"{path}{extra}").unlink, missing_ok=True)

        return Database("sqlite", f"sqlite:///{path}", drop_file)
    import asyncpg  # type: ignore[import-untyped,unused-ignore]  # only the postgres runs need it

    name = f"bench_{suffix}"
    admin = await asyncpg.connect(pg_admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()

    async def drop_database() -> None:
        admin = await asyncpg.connect(pg_admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    base = pg_admin_url.rsplit("/", 1)[0]
    return Database("postgres", f"{base}/{name}", drop_database, pg_name=name)


async def postgres_reachable(pg_admin_url: str) -> str | None:
    """None when reachable, else why not."""
    try:
        import asyncpg  # type: ignore[import-untyped,unused-ignore]

        conn = await asyncio.wait_for(asyncpg.connect(pg_admin_url), timeout=5)
        await conn.close()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def madoguchi_server(db: Database, serve_cmd: str | None) -> ServerProcess:
    port = free_port()
    env = dict(os.environ)
    env.pop("MADOGUCHI_REDIS_URL", None)   # the embedded in-memory bus: one instance, no Redis hop measured
    env.update({"MADOGUCHI_DATABASE_URL": db.url, "MADOGUCHI_LOGIN_ATTEMPTS_PER_MINUTE": "1000000",
                "MADOGUCHI_LOG_LEVEL": "WARNING",
                # Not on the chat path, and their fixed ports (2525, 5060) collide with any other
                # server on the host; the semantic KB model only costs start-up time here.
                "MADOGUCHI_SMTP_PORT": "off", "MADOGUCHI_SIP_PORT": "off", "MADOGUCHI_KB_SEMANTIC": "off"})
    # --serve-cmd swaps the executable for A/B runs of a patched server; the arguments stay the same.
    command = shlex.split(serve_cmd) if serve_cmd else [str(VENV_BIN / "madoguchi")]
    argv = [*command, "serve", "--host", "127.0.0.1", "--port", str(port), "--demo"]
    return ServerProcess(f"madoguchi-{db.kind}", argv, env, port)


def echo_server() -> ServerProcess:
    port = free_port()
    # The same uvicorn settings as `madoguchi serve` (src/madoguchi/cli.py), so only the app differs.
    argv = [sys.executable, "-m", "uvicorn", "echo_server:app", "--app-dir", str(BENCH_DIR), "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning", "--ws-max-size", "1000000", "--no-proxy-headers"]
    return ServerProcess("echo", argv, dict(os.environ), port)


# ---------------------------------------------------------------------------------------------
# Staff setup over the public API


async def create_agents(base_url: str, count: int) -> list[tuple[int, str, str]]:
    """Creates ``count`` agents in the Support queue (keeping its members) and logs each in.
    Returns (user id, session cookie, csrf token) per agent."""
    async with httpx.AsyncClient(base_url=base_url, timeout=300) as admin:
        response = await admin.post("/api/v1/auth/login", json={"email": DEMO_ADMIN[0], "password": DEMO_ADMIN[1]})
        response.raise_for_status()
        admin_headers = {"x-csrf-token": response.json()["csrf_token"]}
        queues = (await admin.get("/api/v1/queues")).raise_for_status().json()
        support = next(q for q in queues if q["name"] == SUPPORT_QUEUE)
        # Password hashing is deliberately slow and runs on the server's one event loop; more
        # concurrency than a few only queues requests there.
        gate = asyncio.Semaphore(4)

        async def create(i: int) -> int:
            async with gate:
                created = await admin.post("/api/v1/users", headers=admin_headers, json={
                    "email": f"bench-agent-{i}@bench.madoguchi.test", "display_name": f"Bench Agent {i}",
                    "password": AGENT_PASSWORD, "role": "agent"})
                created.raise_for_status()
                user_id: int = created.json()["id"]
                return user_id

        ids = list(await asyncio.gather(*(create(i) for i in range(count))))
        members = sorted(set(support["agent_ids"]) | set(ids))
        (await admin.put(f"/api/v1/queues/{support['id']}/members", headers=admin_headers,
                         json={"agent_ids": members})).raise_for_status()

    async with httpx.AsyncClient(base_url=base_url, timeout=300) as client:
        async def login(i: int, user_id: int) -> tuple[int, str, str]:
            async with gate:
                response = await client.post("/api/v1/auth/login", json={
                    "email": f"bench-agent-{i}@bench.madoguchi.test", "password": AGENT_PASSWORD})
                response.raise_for_status()
                cookie = response.cookies.get(SESSION_COOKIE)
                assert cookie, "login set no session cookie"
                return user_id, cookie, str(response.json()["csrf_token"])

        return list(await asyncio.gather(*(login(i, user_id) for i, user_id in enumerate(ids))))


# ---------------------------------------------------------------------------------------------
# Runs and results


@dataclass
class Row:
    target: str          # "sqlite", "postgres" or "echo"
    chats: int
    load: str            # "saturate" or "open@R"
    offered_per_s: float
    msgs_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    ack_p50_ms: float
    ack_p99_ms: float
    gen_lag_p99_ms: float
    errors: int
    first_error: str | None
    stalled: int
    cores: dict[str, float]
    # Per second of the window: [delivered, p50 ms, max ms]. Stalls (a checkpoint, a slow query,
    # a GC pause) show up here as a second with few deliveries and a high max.
    timeline: list[tuple[int, float, float]]

    @property
    def server_us_per_msg(self) -> float:
        """Server plus database CPU per delivered message. Unlike msgs/s it hardly moves when other
        work on the host takes cores away, so it is the number to compare across noisy runs."""
        if not self.msgs_per_s:
            return math.nan
        return (self.cores.get("server", 0.0) + self.cores.get("db", 0.0)) / self.msgs_per_s * 1e6


async def measure(pool: WorkerPool, *, target: str, chats: int, mode: str, rate: float, args: argparse.Namespace,
                  server_pid: int, pg_name: str | None) -> Row:
    kind = "echo" if target == "echo" else "chat"
    start_ns = time.monotonic_ns() + 1_000_000_000   # time for every worker to get the command
    shares = split(chats, len(pool))
    specs = [(RunSpec(kind=kind, mode=mode, rate=rate * share / chats, start_ns=start_ns, warmup_s=args.warmup,
                      duration_s=args.duration, drain_s=2.0, body_bytes=args.body_bytes),) for share in shares]
    window_start = start_ns + int(args.warmup * 1e9)
    window_end = window_start + int(args.duration * 1e9)

    async def sample_at(at_ns: int) -> CpuSample:
        await asyncio.sleep(max(0.0, (at_ns - time.monotonic_ns()) / 1e9))
        # The server's own children (the SQLite message writer's process) are the server's CPU too.
        groups = {"server": [server_pid, *_descendants(server_pid)], "loadgen": pool.pids, "bench": [os.getpid()]}
        if pg_name is not None:
            # Looked up at each sample: the server's pool may open backends during the run.
            groups["db"] = _postgres_backends(pg_name)
        return sample_cpu(groups)

    results_task = asyncio.ensure_future(pool.call("run", specs))
    before = await sample_at(window_start)
    profiler = await start_profiler(args, server_pid, f"{target}-{chats}-{mode}")
    after = await sample_at(window_end)
    results: list[WorkerResult] = await results_task
    if profiler is not None:
        await profiler.wait()
    latencies = sorted(v for r in results for v in r.latencies)
    acks = sorted(v for r in results for v in r.ack_latencies)
    lags = sorted(v for r in results for v in r.lag_ns)
    errors = [r.first_error for r in results if r.first_error]
    per_second: list[list[int]] = [[] for _ in range(max(1, math.ceil(args.duration)))]
    for result in results:
        for at, latency in zip(result.received_at, result.latencies, strict=True):
            per_second[min(len(per_second) - 1, at // 1_000_000_000)].append(latency)
    timeline = []
    for bucket in per_second:
        bucket.sort()
        timeline.append((len(bucket), percentile(bucket, 50), percentile(bucket, 100)))
    cores = cores_used(before, after)
    cores.setdefault("db", 0.0)
    return Row(target=target, chats=chats, load="saturate" if mode == "saturate" else f"open@{rate:g}",
               offered_per_s=sum(r.sent for r in results) / args.duration,
               msgs_per_s=sum(r.delivered for r in results) / args.duration,
               p50_ms=percentile(latencies, 50), p90_ms=percentile(latencies, 90), p99_ms=percentile(latencies, 99),
               max_ms=percentile(latencies, 100), ack_p50_ms=percentile(acks, 50), ack_p99_ms=percentile(acks, 99),
               gen_lag_p99_ms=percentile(lags, 99), errors=sum(r.errors for r in results),
               first_error=errors[0] if errors else None, stalled=sum(r.stalled for r in results), cores=cores,
               timeline=timeline)


async def start_profiler(args: argparse.Namespace, pid: int, name: str) -> asyncio.subprocess.Process | None:
    """py-spy on the server for the measured window, as collapsed stacks (one line per stack with
    its sample count: grep-able, and flamegraph.pl reads it). It costs CPU on a small host, so
    profiled numbers are for finding hot spots, not for the table."""
    if not args.profile_dir:
        return None
    out = Path(args.profile_dir) / f"{name}.txt"
    await asyncio.to_thread(out.parent.mkdir, parents=True, exist_ok=True)
    return await asyncio.create_subprocess_exec(
        args.py_spy, "record", "--pid", str(pid), "--duration", str(max(1, int(args.duration))), "--rate", "250",
        "--format", "raw", "--nonblocking", "--output", str(out), stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def log_row(row: Row, args: argparse.Namespace) -> None:
    log(f"  {format_row(row)}")
    if args.timeline:
        log("    per second: " + "  ".join(f"{n}/{p50:.0f}/{top:.0f}" for n, p50, top in row.timeline)
            + "   (delivered/p50 ms/max ms)")


async def bench_echo(pool: WorkerPool, args: argparse.Namespace, loads: list[tuple[str, float]]) -> list[Row]:
    server = echo_server()
    await server.start()
    rows = []
    try:
        for chats in args.chat_counts:
            await pool.call("connect_echo", [(f"ws://127.0.0.1:{server.port}/ws", n) for n in split(chats, len(pool))])
            for mode, rate in loads:
                rows.append(await measure(pool, target="echo", chats=chats, mode=mode, rate=rate, args=args,
                                          server_pid=server.pid, pg_name=None))
                log_row(rows[-1], args)
            await pool.broadcast("disconnect")
    finally:
        await server.stop()
        await asyncio.to_thread(Path(server.log.name).unlink, missing_ok=True)
    return rows


async def bench_chat(pool: WorkerPool, args: argparse.Namespace, db_kind: str, chats: int,
                     loads: list[tuple[str, float]]) -> list[Row]:
    db = await make_database(db_kind, args.pg_admin_url)
    server = madoguchi_server(db, args.serve_cmd)
    rows = []
    try:
        await server.start()
        started = time.monotonic()
        agents = await create_agents(server.base_url, math.ceil(chats / CHATS_PER_AGENT) + SPARE_AGENTS)
        await pool.call("connect_agents", [(server.base_url, agents[i::len(pool)]) for i in range(len(pool))])
        opened = await pool.call("open_chats", [(server.base_url, n, args.setup_timeout)
                                                for n in split(chats, len(pool))])
        accepted = sum(o["accepted"] for o in opened)
        log(f"  {db_kind} {chats} chats: {len(agents)} agents, {accepted}/{chats} chats accepted "
            f"in {time.monotonic() - started:.1f}s of setup")
        if accepted < chats:
            log(f"  WARNING: only {accepted} of {chats} chats were accepted; measuring those anyway")
        for mode, rate in loads:
            rows.append(await measure(pool, target=db_kind, chats=chats, mode=mode, rate=rate, args=args,
                                      server_pid=server.pid, pg_name=db.pg_name))
            log_row(rows[-1], args)
        await pool.broadcast("disconnect")
    except BaseException:
        log(f"server log ({server.log.name}):\n{server.tail()}")
        raise
    finally:
        await server.stop()
        if args.keep_db:
            log(f"  kept database {db.url}")
        else:
            await db.cleanup()
    if not args.keep_logs:
        await asyncio.to_thread(Path(server.log.name).unlink, missing_ok=True)
    return rows


HEADER = (f"{'target':<9} {'chats':>5} {'load':<10} {'offered/s':>9} {'msgs/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'max ms':>7} {'ack p99':>7} {'errors':>6} {'srv us/msg':>10}  cores srv/db/gen/other")


def format_row(row: Row) -> str:
    c = row.cores
    return (f"{row.target:<9} {row.chats:>5} {row.load:<10} {row.offered_per_s:>9.0f} {row.msgs_per_s:>8.0f} "
            f"{row.p50_ms:>7.1f} {row.p99_ms:>7.1f} {row.max_ms:>7.1f} {row.ack_p99_ms:>7.1f} {row.errors:>6} "
            f"{row.server_us_per_msg:>10.0f}  "
            f"{c.get('server', 0):.2f}/{c.get('db', 0):.2f}/{c.get('loadgen', 0):.2f}/{c.get('other', 0):.2f}")


def report(rows: list[Row], args: argparse.Namespace) -> str:
    echo = {(r.chats, r.load): r for r in rows if r.target == "echo"}
    lines = [
        f"Web-chat path: customer send -> agent receive, one way. Echo: round trip. Host: {os.cpu_count()} cores; "
        f"server: 1 uvicorn process (srv: with its children, e.g. the message writer); "
        f"load generator: {args.workers} processes ({JSON_LIB}, "
        f"{'one frame per message' if args.no_batch else 'batch frames'}); "
        f"{args.duration:g}s measured after {args.warmup:g}s warm-up; body {args.body_bytes} bytes.",
        "",
        f"{HEADER} | {'echo/s':>7} {'e p50':>6} {'e p99':>6} {'vs echo':>7}",
    ]
    for row in rows:
        if row.target == "echo":
            continue
        ceiling = echo.get((row.chats, row.load))
        tail = ""
        if ceiling is not None:
            ratio = row.msgs_per_s / ceiling.msgs_per_s if ceiling.msgs_per_s else math.nan
            tail = (f" | {ceiling.msgs_per_s:>7.0f} {ceiling.p50_ms:>6.1f} {ceiling.p99_ms:>6.1f} "
                    f"{ratio:>7.2f}")
        lines.append(format_row(row) + tail)
    lines += ["", "Echo ceiling rows:", HEADER] + [format_row(r) for r in rows if r.target == "echo"]
    top = max(args.chat_counts)
    lines.append("")
    for target in dict.fromkeys(r.target for r in rows if r.target != "echo"):
        saturate = next((r for r in rows if r.target == target and r.chats == top and r.load == "saturate"), None)
        # The open-loop run at the target rate if there is one, else the fastest one.
        opens = [r for r in rows if r.target == target and r.chats == top and r.load.startswith("open")]
        opened = next((r for r in opens if r.load == f"open@{TARGET_MSGS_PER_S:g}"), opens[-1] if opens else None)
        verdicts = []
        if saturate is not None:
            ceiling = echo.get((top, "saturate"))
            ratio = saturate.msgs_per_s / ceiling.msgs_per_s if ceiling and ceiling.msgs_per_s else math.nan
            verdicts.append(f"max {saturate.msgs_per_s:.0f} msgs/s "
                            f"({'meets' if saturate.msgs_per_s >= TARGET_MSGS_PER_S else 'MISSES'} "
                            f">= {TARGET_MSGS_PER_S:.0f})")
            if not math.isnan(ratio):
                verdicts.append(f"{ratio:.2f} of echo ({'meets' if ratio >= TARGET_ECHO_RATIO else 'MISSES'} "
                                f">= {TARGET_ECHO_RATIO})")
        if opened is not None:
            rate = float(opened.load.split("@", 1)[1])
            kept_up = opened.msgs_per_s >= 0.98 * opened.offered_per_s and opened.offered_per_s >= 0.98 * rate
            ok = kept_up and opened.p99_ms < TARGET_P99_MS and rate >= TARGET_MSGS_PER_S
            verdicts.append(f"at {opened.load}: {opened.msgs_per_s:.0f} delivered/s, p99 {opened.p99_ms:.1f} ms "
                            f"({'meets' if ok else 'MISSES'} p99 < {TARGET_P99_MS:.0f} ms at "
                            f">= {TARGET_MSGS_PER_S:.0f}/s)")
        lines.append(f"Target at {top} chats, {target}: " + "; ".join(verdicts))
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--chats", default="100,500", help="comma-separated concurrent chat counts")
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds before each window")
    parser.add_argument("--rates", default=f"1000,{TARGET_MSGS_PER_S:g}",
                        help="comma-separated messages per second offered (all visitors together), one open-loop "
                             "run each")
    parser.add_argument("--modes", default="saturate,open", help="saturate (closed loop), open (open loop at --rates)")
    parser.add_argument("--workers", type=int, default=2, help="load-generator processes")
    parser.add_argument("--body-bytes", type=int, default=64, help="customer message length")
    parser.add_argument("--setup-timeout", type=float, default=300.0, help="seconds to wait for all chats accepted")
    parser.add_argument("--pg-admin-url", default=os.environ.get("MADOGUCHI_TEST_PG_URL", PG_ADMIN_URL),
                        help="PostgreSQL database to connect to for CREATE/DROP DATABASE")
    parser.add_argument("--no-echo", action="store_true", help="skip the echo ceiling")
    parser.add_argument("--timeline", action="store_true", help="log deliveries and latency per second of each run")
    parser.add_argument("--keep-db", action="store_true", help="keep each database for a post-mortem")
    parser.add_argument("--keep-logs", action="store_true", help="keep server logs in the temp directory")
    parser.add_argument("--serve-cmd", help="run this instead of .venv/bin/madoguchi (it gets `serve --host ...`)")
    parser.add_argument("--profile-dir", help="record py-spy profiles of the server per run into this folder")
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy", help="py-spy executable")
    parser.add_argument("--no-batch", action="store_true",
                        help="clients ask for one frame per WebSocket message (no batch frames)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    args = parser.parse_args(argv)
    args.chat_counts = [int(c) for c in args.chats.split(",") if c.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for mode in modes:
        if mode not in ("saturate", "open"):
            parser.error(f"unknown mode {mode!r}")
    args.rate_list = [float(r) for r in args.rates.split(",") if r.strip()]
    args.loads = ([("saturate", 0.0)] if "saturate" in modes else []) + (
        [("open", rate) for rate in args.rate_list] if "open" in modes else [])
    return args


def _finite(value: Any) -> Any:
    """NaN (no samples) as null: the stdlib would write NaN, which is not JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


async def amain(args: argparse.Namespace) -> int:
    targets = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    skipped: dict[str, str] = {}
    if "postgres" in targets:
        why = await postgres_reachable(args.pg_admin_url)
        if why is not None:
            if args.db == "postgres":
                log(f"PostgreSQL at {args.pg_admin_url} is not reachable: {why}")
                return 2
            skipped["postgres"] = why
            targets.remove("postgres")
    if args.no_batch:
        os.environ["CHAT_PATH_BATCH"] = "0"
    pool = WorkerPool(args.workers)
    rows: list[Row] = []
    try:
        if not args.no_echo:
            log("echo ceiling")
            rows += await bench_echo(pool, args, args.loads)
        for target in targets:
            for chats in args.chat_counts:
                log(f"{target}, {chats} chats")
                rows += await bench_chat(pool, args, target, chats, args.loads)
    finally:
        await pool.close()
    if args.json:
        print(dumps(_finite({"host_cores": os.cpu_count(), "workers": args.workers, "json_lib": JSON_LIB,
                          "batch": not args.no_batch,
                     "duration_s": args.duration, "warmup_s": args.warmup, "rates": args.rate_list,
                     "body_bytes": args.body_bytes, "skipped": skipped,
                     "targets": {"msgs_per_s": TARGET_MSGS_PER_S, "p99_ms": TARGET_P99_MS,
                                 "echo_ratio": TARGET_ECHO_RATIO},
                     "rows": [{**asdict(r), "server_us_per_msg": r.server_us_per_msg} for r in rows]})))
    else:
        print(report(rows, args))
        for target, why in skipped.items():
            print(f"{target}: skipped ({why})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(amain(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
