"""The message writer's batches in a child process.

At full chat load one server process is bound by Python time under its one GIL, not by the
database (docs/realtime.md, "What bounds the saturated rate"): the batch and the event loop took
turns at the same lock. A child process with a database connection of its own runs the batch (the
checks, the inserts, the feed rows and each event's frame) beside the event loop instead. The
database orders the child's transactions and the server's own as between any two connections
(SQLite's file lock; on PostgreSQL the feed's advisory lock, db/uow.py).

On SQLite the child runs ``SqliteBatch`` on a plain ``sqlite3`` connection, on PostgreSQL
``contacts/pg_batch.py`` on a plain asyncpg connection (with one retry on a new connection after
a dropped one, as the writer does in the server).

The child is this module run by the server's own interpreter (``python -m``, no ``multiprocessing``:
nothing of the server's ``__main__`` is imported again). It talks over its stdin and stdout in
frames of a 4-byte big-endian length and a pickle; both ends are this module, so what is unpickled
was pickled by the same code. The child's stdout is kept for frames only (fd 1 points at stderr),
and it ends when its stdin closes, so it never outlives the server.

The first request is ``("config", database url, max chars)``: on stdin, not the command line,
where a password in the URL would show in the process list. Then each request is ``(now,
posts)``; each post is a tuple (``_post_tuple``). Replies:

* ``("ready",)`` once, when the child has set up;
* ``("written", envelopes, answers)`` for a committed batch: per envelope ``(id, type, data,
  audience, wire_text)``; per post ``(True, message fields)`` or ``(False, (error class, message,
  details))``;
* ``("failed", text)`` when the database refused the batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
import operator
import os
import pickle
import signal
import sqlite3
import struct
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from madoguchi.contacts.message_batch import Answer, MessagePost, SqliteBatch, WrittenMessage
from madoguchi.kernel import errors
from madoguchi.kernel.errors import DomainError
from madoguchi.kernel.events import Envelope

logger = logging.getLogger(__name__)

_FRAME = struct.Struct(">I")
_PICKLE = pickle.HIGHEST_PROTOCOL
START_TIMEOUT_S = 60.0  # importing the package on a busy 2-core host takes a second or two
STOP_TIMEOUT_S = 5.0


class ChildLost(Exception):
    """The child ended, or did not start. Whether a batch it was writing committed is unknown."""


class BatchFailed(Exception):
    """The child's database refused the batch; none of it committed."""


# ---------------------------------------------------------------------------------------------
# The server's side


def _post_tuple(post: MessagePost) -> tuple[Any, ...]:
    author = post.author
    return (post.contact_id, post.author_kind, post.body, post.kind, post.client_msg_id,
            None if author is None else (author.id, author.role, author.display_name))


def _domain_error(name: str, message: str, details: dict[str, Any]) -> DomainError:
    """The error the check raised in the child, rebuilt as the same class with the same fields."""
    cls = getattr(errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, DomainError)):
        cls = DomainError
    error = cls.__new__(cls)
    # DomainError's own __init__ for every class: subclasses' constructors take other arguments
    # (NotFound(kind, key)) and compose the message the child already composed.
    DomainError.__init__(error, message, **details)
    return error


def _answer(raw: tuple[bool, tuple[Any, ...]]) -> Answer:
    ok, fields = raw
    if ok:
        return WrittenMessage(*fields)
    name, message, details = fields
    return _domain_error(name, message, details)


class WriterProcess:
    """A running child. Batches are sent and their replies received in the same order; more than
    one may be on the way, so the child starts the next batch while the server publishes the last.
    Requests are written without waiting for the pipe to drain: a child writing a long reply is
    not reading, and a server waiting for it to read would never read that reply."""

    def __init__(self, url: str, *, max_chars: int) -> None:
        self.url = url
        self.max_chars = max_chars
        self._process: asyncio.subprocess.Process | None = None
        self._broken = False

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def lost(self) -> bool:
        """Ended, or out of step with this side (a reply was cut off): of no further use."""
        return self._broken or self._process is None or self._process.returncode is not None

    async def start(self) -> None:
        try:
            self._process = process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", __name__, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
            if process.stdin is None:
                raise OSError("no pipe to the child")
            config = pickle.dumps(("config", self.url, self.max_chars), protocol=_PICKLE)
            process.stdin.write(_FRAME.pack(len(config)) + config)
            reply = await asyncio.wait_for(self._receive(), START_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            await self.stop()
            raise ChildLost(f"the message writer's child process did not start: {exc}") from exc
        except ChildLost:
            await self.stop()
            raise
        except asyncio.CancelledError:
            await self.kill()  # the server stops while the child starts: it has written nothing
            raise
        if reply != ("ready",):
            await self.stop()
            raise ChildLost(f"the message writer's child process answered {reply!r} on start")

    def send(self, posts: Sequence[MessagePost], now: datetime) -> None:
        """Queue a batch for the child; ``receive`` gives its result (after any sent before it)."""
        process = self._process
        if self.lost or process is None or process.stdin is None or process.stdin.is_closing():
            self._broken = True
            raise ChildLost("the message writer's child process is not running")
        request = pickle.dumps((now, [_post_tuple(post) for post in posts]), protocol=_PICKLE)
        process.stdin.write(_FRAME.pack(len(request)) + request)

    async def receive(self) -> tuple[list[Envelope], list[Answer]]:
        """The result of the oldest batch sent; raises ``BatchFailed`` if the database refused it."""
        reply = await self._receive()
        try:
            if reply[0] == "failed":
                raise BatchFailed(reply[1])
            _, envelopes, answers = reply
            return ([Envelope.encoded(*envelope) for envelope in envelopes], [_answer(answer) for answer in answers])
        except BatchFailed:
            raise
        except Exception as exc:  # a reply this side cannot read: a child it cannot trust
            self._broken = True
            raise ChildLost(f"the message writer's child process answered {type(reply).__name__}") from exc

    async def _receive(self) -> Any:
        process = self._process
        if self._broken or process is None or process.stdout is None:
            raise ChildLost("the message writer's child process is not running")
        self._broken = True  # until a whole frame is in: a read cut short leaves the stream mid-frame
        try:
            head = await process.stdout.readexactly(_FRAME.size)
            body = await process.stdout.readexactly(_FRAME.unpack(head)[0])
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise ChildLost("the message writer's child process ended") from exc
        try:
            reply = pickle.loads(body)
        except Exception as exc:
            raise ChildLost("the message writer's child process sent a frame that does not read") from exc
        self._broken = False
        return reply

    async def kill(self) -> None:
        """End it now, and wait for that: until its exit is seen, its pipes stay open."""
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()

    async def stop(self) -> None:
        """Close its stdin (it ends after the batch in hand) and wait; kill it if it does not end."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            self._process = process
            await self.kill()


# ---------------------------------------------------------------------------------------------
# The child's side


@dataclass(frozen=True, slots=True)
class _Author:
    id: int
    role: str
    display_name: str


def _post(raw: tuple[Any, ...]) -> MessagePost:
    contact_id, author_kind, body, kind, client_msg_id, author = raw
    return MessagePost(contact_id=contact_id, author_kind=author_kind, body=body, kind=kind,
                       client_msg_id=client_msg_id, author=None if author is None else _Author(*author))


_message_fields = operator.attrgetter(*WrittenMessage.__slots__)


def _answer_tuple(answer: Answer) -> tuple[bool, tuple[Any, ...]]:
    if isinstance(answer, DomainError):
        return False, (type(answer).__name__, answer.message, answer.details)
    return True, _message_fields(answer)


def _read_frame(stream: IO[bytes]) -> bytes | None:
    head = stream.read(_FRAME.size)
    if len(head) < _FRAME.size:
        return None
    size = _FRAME.unpack(head)[0]
    body = stream.read(size)
    return body if len(body) == size else None


def _send(stream: IO[bytes], reply: Any) -> None:
    body = pickle.dumps(reply, protocol=_PICKLE)
    stream.write(_FRAME.pack(len(body)) + body)
    stream.flush()


def _written_reply(envelopes: list[Envelope], answers: Sequence[Answer]) -> tuple[Any, ...]:
    return ("written", [(e.id, e.type, e.data, e.audience, e.wire_text) for e in envelopes],
            [_answer_tuple(answer) for answer in answers])


def _settle_garbage() -> None:
    gc.freeze()  # what setting up allocated is never garbage
    gc.set_threshold(10_000)


def _connect(url: str) -> tuple[sqlite3.Connection, SqliteBatch]:
    from madoguchi.db.engine import make_engine  # the server's dialect settings (JSON, datetimes)

    engine = make_engine(url).sync_engine
    args, params = engine.dialect.create_connect_args(engine.url)
    connect: Any = sqlite3.connect  # the dialect's arguments are not typed for sqlite3's overloads
    conn: sqlite3.Connection = connect(*args, **{**params, "timeout": 30})
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000"):
        conn.execute(f"PRAGMA {pragma}")
    return conn, SqliteBatch(engine.dialect)


def _serve_sqlite(url: str, max_chars: int, requests: IO[bytes], replies: IO[bytes]) -> None:
    conn, batch = _connect(url)
    _settle_garbage()
    _send(replies, ("ready",))
    while (frame := _read_frame(requests)) is not None:
        now, raw_posts = pickle.loads(frame)
        try:
            envelopes, answers = batch.write(conn, [_post(raw) for raw in raw_posts], now, max_chars)
        except sqlite3.Error as exc:
            _send(replies, ("failed", f"{type(exc).__name__}: {exc}"))
            continue
        _send(replies, _written_reply(envelopes, answers))
    conn.close()


def _asyncpg_dsn(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _serve_postgres(url: str, max_chars: int, requests: IO[bytes], replies: IO[bytes]) -> None:
    import asyncpg  # type: ignore[import-untyped]

    from madoguchi.contacts import pg_batch

    dsn = _asyncpg_dsn(url)
    conn: asyncpg.Connection | None = None
    _settle_garbage()
    _send(replies, ("ready",))
    loop = asyncio.get_running_loop()
    try:
        while (frame := await loop.run_in_executor(None, _read_frame, requests)) is not None:
            now, raw_posts = pickle.loads(frame)
            posts = [_post(raw) for raw in raw_posts]
            reply: tuple[Any, ...] = ("failed", "not written")
            # A connection the database dropped (restart, failover) fails its statement: the batch is
            # written once more on a new one. Keyed messages that did commit come back as resends.
            for attempt in (1, 2):
                try:
                    if conn is None or conn.is_closed():
                        conn = await asyncpg.connect(dsn)
                    envelopes, answers = await pg_batch.write(conn, posts, now, max_chars)
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    reply = ("failed", f"{type(exc).__name__}: {exc}")
                    dropped = conn is None or conn.is_closed() or isinstance(
                        exc, OSError | asyncpg.PostgresConnectionError | asyncpg.InterfaceError)
                    if not dropped or attempt == 2:
                        break
                    logging.getLogger(__name__).warning("message batch met a dropped database connection; "
                                                        "writing it again")
                    if conn is not None:
                        conn.terminate()
                    conn = None
                else:
                    reply = _written_reply(envelopes, answers)
                    break
            _send(replies, reply)
    finally:
        if conn is not None:
            await conn.close()


def main(argv: list[str]) -> int:
    # The server decides when the child ends (by closing its stdin); a Ctrl-C at the terminal
    # reaches the whole process group and must not cut a batch short here.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print must not corrupt a frame
    # Every table, as in the server: a column typed by its foreign key (messages.author_user_id)
    # takes its type from the table it points at, which must be known.
    importlib.import_module("madoguchi.models")
    requests = sys.stdin.buffer
    first = _read_frame(requests)
    if first is None:
        return 0  # the server went away before it said what to open
    _, url, max_chars = pickle.loads(first)
    if url.startswith("sqlite"):
        _serve_sqlite(url, max_chars, requests, replies)
    else:
        asyncio.run(_serve_postgres(url, max_chars, requests, replies))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
