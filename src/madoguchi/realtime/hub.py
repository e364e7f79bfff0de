"""The one WebSocket protocol, for agents, supervisors and web-chat visitors alike.

Client → server: ``{"op": "hello", "last_event_id": N | null}`` first, then ops the caller's
handler understands (``message.send``, ``typing``, ``ping`` …), each with an optional ``ref``.
Server → client: ``{"op": "ready", "last_event_id": N}`` after the replay,
``{"op": "event", "id", "type", "data"}`` for each event of the client's topics (ids increase; an
ephemeral event such as typing has ``id: null``), ``{"op": "ack"|"error", "ref", …}`` for each op
that carries a ``ref``. A client that says ``"batch": true`` in its hello may also get
``{"op": "batch", "frames": [...]}``: the frames that were ready together, in order, in one
WebSocket message (one write and one wake-up at each end instead of one per frame).

On hello the client is registered first (live events buffer), then everything after its
``last_event_id`` is replayed from the durable feed, then the buffer is drained minus what the
replay already sent: nothing missed, nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.types import Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from madoguchi.kernel import jsontext
from madoguchi.kernel.events import Envelope
from madoguchi.realtime.states import ClientState, move

logger = logging.getLogger(__name__)

Replay = Callable[[tuple[str, ...], int], Awaitable[list[Envelope]]]
LatestId = Callable[[], Awaitable[int]]
OpHandler = Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]]
SendText = Callable[[str], Awaitable[None]]

HELLO_TIMEOUT_S = 15.0
MAX_FRAME_BYTES = 64_000
CLIENT_BUFFER = 5_000
REPLAY_PAGE = 1_000
BATCH_FRAMES = 64
BATCH_CHARS = 256_000
# api/wire.py puts the server's own ASGI send here for WebSocket scopes (see there why).
RAW_SEND_KEY = "madoguchi.websocket_send"


class Outbox:
    """The frames waiting for one client's socket, and the wake-up of its sender.

    Cheaper than an ``asyncio.Queue`` on the hottest path of a chat message (two or three frames
    per message at full load): a put appends to a deque, and a waiting sender is woken once for
    everything that arrives in the same turn of the event loop. The wake-up is deferred one turn
    (``call_soon``), so a sender's ack, queued by the task that the writer's commit resumes, joins
    the events of that commit instead of leaving in a write of its own. ``None`` is the
    close marker."""

    __slots__ = ("_frames", "_limit", "_waiter", "_waking")

    def __init__(self, limit: int) -> None:
        self._frames: deque[str | None] = deque()
        self._limit = limit
        self._waiter: asyncio.Future[None] | None = None
        self._waking = False

    def __len__(self) -> int:
        return len(self._frames)

    def put(self, frame: str | None) -> bool:
        """False when the outbox is full (the frame is not kept); a close marker always fits."""
        if frame is not None and len(self._frames) >= self._limit:
            return False
        self._frames.append(frame)
        if self._waiter is not None and not self._waking:
            self._waking = True
            asyncio.get_running_loop().call_soon(self._wake)
        return True

    def clear(self) -> None:
        self._frames.clear()

    def _wake(self) -> None:
        self._waking = False
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def take(self, max_frames: int, max_chars: int) -> list[str | None]:
        """The frames waiting, oldest first, at least one (after waiting for it): at most
        ``max_frames`` or, past the first, about ``max_chars`` characters; a close marker ends
        the list."""
        while not self._frames:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        frames = self._frames
        taken: list[str | None] = []
        size = 0
        while frames and len(taken) < max_frames and size < max_chars:
            frame = frames.popleft()
            taken.append(frame)
            if frame is None:
                break
            size += len(frame)
        return taken


@dataclass(eq=False)
class Client:
    topics: tuple[str, ...]
    outbox: Outbox = field(default_factory=lambda: Outbox(CLIENT_BUFFER))
    state: ClientState = ClientState.CONNECTED
    buffered: list[Envelope] = field(default_factory=list)
    replayed_to: int = 0
    overflowed: bool = False
    batch: bool = False

    def push(self, envelope: Envelope) -> None:
        if self.state == ClientState.CONNECTED:
            self.buffered.append(envelope)
            return
        if envelope.id is not None and envelope.id <= self.replayed_to:
            return  # the replay already sent it
        self.enqueue(envelope.wire_text)

    def enqueue(self, frame: str) -> None:
        if self.overflowed:
            return
        if not self.outbox.put(frame):
            # Too slow to keep up: empty the outbox and close. Nothing after the last frame the
            # client actually received is sent, so its last_event_id stays a true cursor and the
            # resume replays the rest from the feed without a gap.
            self.overflowed = True
            self.outbox.clear()
            self.outbox.put(None)


class Hub:
    def __init__(self, *, replay: Replay, latest_id: LatestId) -> None:
        self._replay = replay
        self._latest_id = latest_id
        self._by_topic: dict[str, set[Client]] = defaultdict(set)

    @property
    def client_count(self) -> int:
        return len({c for clients in self._by_topic.values() for c in clients})

    def on_event(self, envelope: Envelope) -> None:
        """Bus subscriber: hand the envelope to every local client with a topic in its audience."""
        seen: set[Client] = set()
        for topic in envelope.audience:
            for client in self._by_topic.get(topic, ()):
                if client not in seen:
                    seen.add(client)
                    client.push(envelope)

    def _register(self, client: Client) -> None:
        for topic in client.topics:
            self._by_topic[topic].add(client)

    def _unregister(self, client: Client) -> None:
        for topic in client.topics:
            clients = self._by_topic.get(topic)
            if clients is not None:
                clients.discard(client)
                if not clients:
                    del self._by_topic[topic]

    async def serve(self, websocket: WebSocket, *, topics: tuple[str, ...], handle: OpHandler) -> None:
        """Run one accepted WebSocket until it closes."""
        client = Client(topics=topics)
        try:
            hello = await asyncio.wait_for(_receive(websocket), timeout=HELLO_TIMEOUT_S)
        except (TimeoutError, WebSocketDisconnect, ValueError):
            with contextlib.suppress(Exception):
                await websocket.close(code=1008)
            return
        if hello.get("op") != "hello":
            await _send(websocket, {"op": "error", "error_id": "protocol", "message": "send hello first"})
            await websocket.close(code=1008)
            return
        last = hello.get("last_event_id")
        client.batch = hello.get("batch") is True
        send = _text_sender(websocket)
        self._register(client)
        try:
            await self._start(send, client, last if isinstance(last, int) and last >= 0 else None)
            sender = asyncio.create_task(self._pump(websocket, send, client))
            try:
                await self._read_ops(websocket, send, client, handle, sender)
            finally:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await sender
        except WebSocketDisconnect:
            pass
        finally:
            client.state = ClientState.CLOSED
            self._unregister(client)

    async def _start(self, send: SendText, client: Client, last: int | None) -> None:
        if last is None:
            last = await self._latest_id()
        else:
            while True:
                page = await self._replay(client.topics, last)
                step = BATCH_FRAMES if client.batch else 1
                for start in range(0, len(page), step):
                    await send(_joined([envelope.wire_text for envelope in page[start:start + step]]))
                for envelope in page:
                    last = max(last, envelope.id or last)
                if len(page) < REPLAY_PAGE:
                    break
        client.replayed_to = last
        client.state = move(client.state, ClientState.READY)
        pending, client.buffered = client.buffered, []
        for envelope in pending:
            client.push(envelope)
        await send(_dumps({"op": "ready", "last_event_id": last}))

    async def _pump(self, websocket: WebSocket, send: SendText, client: Client) -> None:
        outbox = client.outbox
        limit = BATCH_FRAMES if client.batch else 1
        while True:
            frames = await outbox.take(limit, BATCH_CHARS)
            closing = frames[-1] is None
            ready = [frame for frame in frames if frame is not None]
            if ready:
                await send(_joined(ready))
            if closing:
                await websocket.close(code=1013)
                return

    async def _read_ops(self, websocket: WebSocket, send: SendText, client: Client, handle: OpHandler,
                        sender: asyncio.Task[None]) -> None:
        async def reply(frame: dict[str, Any]) -> None:
            text = _dumps(frame)
            if client.batch:
                client.enqueue(text)  # behind the events already waiting, so the order holds
            else:
                await send(text)

        while not sender.done():
            try:
                op = await _receive(websocket)
            except ValueError as exc:
                await reply({"op": "error", "ref": None, "error_id": "malformed_frame", "message": str(exc)})
                continue
            ref = op.get("ref")
            if op.get("op") == "ping":
                await reply({"op": "pong", "ref": ref})
                continue
            answer = await handle(op)
            if answer is not None:
                await reply({**answer, "ref": ref})
            elif ref is not None:
                await reply({"op": "ack", "ref": ref})


def _text_sender(websocket: WebSocket) -> SendText:
    """Frames go straight to the server's ASGI send when api/wire.py left it in the scope: the
    middleware wrappers in between only look at HTTP messages, and at full chat load passing every
    frame through them costs a few per cent of the server's time."""
    raw: Send | None = websocket.scope.get(RAW_SEND_KEY)
    if raw is None:
        return websocket.send_text

    async def send_text(text: str) -> None:
        try:
            await raw({"type": "websocket.send", "text": text})
        except OSError:
            raise WebSocketDisconnect(code=1006) from None  # as Starlette's own send reports it

    return send_text


def _joined(frames: list[str]) -> str:
    if len(frames) == 1:
        return frames[0]
    # Each frame is already a JSON object's text, so the batch is built without parsing them again.
    return '{"op":"batch","frames":[' + ",".join(frames) + "]}"


async def _receive(websocket: WebSocket) -> dict[str, Any]:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    raw = message.get("text")
    if raw is None and message.get("bytes") is not None:
        raw = message["bytes"].decode("utf-8", errors="replace")
    if raw is None:
        raise ValueError("empty frame")
    if len(raw) > MAX_FRAME_BYTES:
        raise ValueError(f"frame larger than {MAX_FRAME_BYTES} bytes")
    try:
        # orjson also refuses what would fail later: text with lone surrogates, NaN.
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ValueError("frame is not valid JSON") from None
    if not isinstance(value, dict):
        raise ValueError("frame must be a JSON object")
    return value


async def _send(websocket: WebSocket, frame: dict[str, Any]) -> None:
    await websocket.send_text(_dumps(frame))


def _dumps(frame: dict[str, Any]) -> str:
    return jsontext.dumps(frame)
