"""The chat message path with group commit.

Messages from many conversations arrive at once; writing each in its own transaction makes the
database's commit the bottleneck. The writer drains what is waiting, validates each post against
its contact, writes the batch in one transaction, and only after the commit publishes the events
and answers the senders. A post that fails validation fails alone; the others land.

The batch runs in a child process (``contacts/writer_process.py``); where that is switched off,
not possible (an in-memory SQLite database) or keeps failing, in this process. What each post
becomes is decided in ``contacts/message_batch.py`` either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from madoguchi.contacts.message_batch import (
    CONTACT_COLUMNS,
    MESSAGES,
    Answer,
    ContactFacts,
    MessagePost,
    SqliteBatch,
    WrittenMessage,
    answers,
    created_events,
    plan,
    resend_keys,
    written,
)
from madoguchi.contacts.models import Contact
from madoguchi.contacts.writer_process import BatchFailed, ChildLost, WriterProcess
from madoguchi.db import sqlite_driver
from madoguchi.db.bulk import insert_returning_ids
from madoguchi.db.uow import Database
from madoguchi.kernel.errors import DomainError, Unavailable

__all__ = ["MessagePost", "MessageWriter", "WrittenMessage"]

logger = logging.getLogger(__name__)

CHILD_LOSSES = 3  # lost children in a row after which the writer stays in this process
# Batches on their way through the child at once: with two, it starts the next while this process
# publishes the last; more would only split the waiting messages into smaller batches.
CHILD_BATCHES = 2


def sqlite_file(url: URL) -> str | None:
    """The database file of a SQLite URL, as an absolute path; None for anything else (another
    database, an in-memory one, a URI filename), which a second process could not open the same."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:") or url.query.get("mode") == "memory":
        return None
    return os.path.abspath(database)


def child_url(url: URL) -> str | None:
    """The URL the writer's child process opens: the same database as ``url``. None where a second
    process could not open the same database (an in-memory SQLite one)."""
    if url.get_backend_name() == "sqlite":
        file = sqlite_file(url)
        return None if file is None else f"sqlite+aiosqlite:///{file}"
    if url.get_backend_name() == "postgresql":
        return url.render_as_string(hide_password=False)
    return None


_TABLE = MESSAGES
_COLUMNS = tuple(_TABLE.c[name] for name in WrittenMessage.__slots__)


GATHER_BELOW = 16  # messages already waiting at which the writer no longer waits for more


@dataclass
class _Pending:
    post: MessagePost
    future: asyncio.Future[WrittenMessage] = field(repr=False)


# Statements built once: building a select or an insert costs more Python time than running it
# (about 90 µs for the select below), and the writer runs one transaction per batch. (SQLite's
# batch has its own SQL: SqliteBatch.)
_CONTACTS_BY_ID = select(*CONTACT_COLUMNS).where(Contact.id.in_(bindparam("ids", expanding=True)))
_KEYED_INSERT = (pg_insert(_TABLE).on_conflict_do_nothing(index_elements=["contact_id", "client_msg_id"])
                 .returning(_TABLE.c.id, _TABLE.c.contact_id, _TABLE.c.client_msg_id))


def _turn_away(batch: list[_Pending]) -> None:
    """Answers posts the stopping server will not write."""
    for pending in batch:
        if not pending.future.done():
            pending.future.set_exception(Unavailable("the server is shutting down; send again"))


class MessageWriter:
    def __init__(self, db: Database, *, max_chars: int, max_batch: int = 500, gather_s: float = 0.0,
                 child_process: bool = True) -> None:
        self.db = db
        self.max_chars = max_chars
        self.max_batch = max_batch
        self.gather_s = gather_s
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._connection: AsyncConnection | None = None
        self._sqlite: SqliteBatch | None = None
        self._child_url = child_url(db.engine.url) if child_process else None
        self._child: WriterProcess | None = None
        self._child_losses = 0
        self._in_flight: deque[list[_Pending]] = deque()  # batches sent to the child, oldest first

    @property
    def child_pid(self) -> int | None:
        """The process id of the child writing the batches, while one runs."""
        return None if self._child is None else self._child.pid

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="message-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while self._in_flight:
            _turn_away(self._in_flight.popleft())  # they may have committed: a keyed resend is safe
        while not self._queue.empty():
            _turn_away([self._queue.get_nowait()])
        if self._child is not None:
            await self._child.stop()
            self._child = None
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None

    async def _child_process(self) -> WriterProcess | None:
        """The running child, started when there is none; None when batches run in this process."""
        if self._child is not None and not self._child.lost:
            return self._child
        while self._in_flight:
            await self._finish_child_batch()  # the lost child's batches first, in order
        if self._child is not None:
            await self._child.stop()
            self._child = None
        if self._child_url is None:
            return None
        child = WriterProcess(self._child_url, max_chars=self.max_chars)
        try:
            await child.start()
        except ChildLost:
            logger.exception("message writer: no child process; batches run in this process")
            self._child_url = None
            return None
        self._child = child
        return child

    async def _held_connection(self) -> AsyncConnection:
        """The writer keeps one connection across its transactions: checking one out of the pool
        for each (with PostgreSQL's pre-ping round trip) cost more than a one-message transaction's
        statements. A connection the database dropped is invalidated by the failed statement, and
        the next call replaces it (the batch is written again, see ``_run``)."""
        connection = self._connection
        if connection is None or connection.closed or connection.invalidated:
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.close()
            connection = self._connection = await self.db.engine.connect()
        return connection

    async def post(self, post: MessagePost) -> WrittenMessage:
        """Write one message; returns it once it is committed (and its event is published)."""
        if self._task is None:
            raise RuntimeError("message writer not started")
        future: asyncio.Future[WrittenMessage] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(post, future))
        return await future

    async def _run(self) -> None:
        # Started before the first message arrives: the child needs a second or so to import.
        await self._child_process()
        in_flight = self._in_flight
        while True:
            if in_flight and (len(in_flight) >= CHILD_BATCHES or self._queue.empty()):
                await self._finish_child_batch()
                continue
            batch = await self._collect(gather=not in_flight)
            child = await self._child_process()
            if child is not None:
                in_flight.append(batch)
                try:
                    child.send([p.post for p in batch], self.db.clock.now())
                except ChildLost:
                    await self._finish_child_batch()  # answers it, with whatever else was on the way
                continue
            try:
                try:
                    await self._write(batch)
                except DBAPIError as exc:
                    if not exc.connection_invalidated:
                        raise
                    # The database dropped a pooled connection (restart, failover) and the pool now
                    # hands out fresh ones. Had the batch committed after all (a drop during COMMIT),
                    # its keyed messages are found stored and answered as resends.
                    logger.warning("message batch met a dropped database connection; writing it again")
                    await self._write(batch)
            except Exception as exc:
                _fail(batch, exc)

    async def _collect(self, *, gather: bool) -> list[_Pending]:
        batch = [await self._queue.get()]
        if gather and self.gather_s > 0 and self._queue.qsize() < GATHER_BELOW:
            # A transaction has a fixed cost (about 0.5 ms of the server's CPU on SQLite, more
            # on PostgreSQL) that a batch of one pays alone. At a steady moderate rate messages
            # arrive one by one, so without a window nearly every message was its own
            # transaction; a couple of milliseconds gathers several (as PostgreSQL's
            # commit_delay does). Under full load the queue is already long and nobody waits.
            try:
                await asyncio.sleep(self.gather_s)
            except asyncio.CancelledError:
                _turn_away(batch)  # stopping: told, as those still queued are
                raise
        while len(batch) < self.max_batch and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return batch

    async def _finish_child_batch(self) -> None:
        """Receive the oldest batch on its way through the child, publish its events and answer its
        senders. If the child was lost, every batch still on the way is rescued, in order."""
        batch = self._in_flight.popleft()
        child = self._child
        try:
            if child is None:
                raise ChildLost("no child process")
            envelopes, told = await child.receive()
        except ChildLost:
            self._lose_child(len(batch))
            for lost in (batch, *self._in_flight):
                await self._rescue(lost)
            self._in_flight.clear()
            return
        except BatchFailed as exc:
            _fail(batch, exc)
            return
        self._child_losses = 0
        try:
            for envelope in envelopes:
                await self.db.bus.publish(envelope)
        except Exception as exc:
            _fail(batch, exc)
            return
        _answer(batch, told)

    def _lose_child(self, batch_size: int) -> None:
        self._child_losses += 1
        if self._child_losses >= CHILD_LOSSES:
            logger.error("message writer: %s child processes lost in a row; batches now run in this "
                         "process", self._child_losses)
            self._child_url = None
        else:
            logger.warning("message writer: child process lost during a batch of %s", batch_size)

    async def _write(self, batch: list[_Pending]) -> None:
        if self.db.engine.dialect.name == "sqlite":
            await self._write_sqlite(await self._held_connection(), batch)
            return
        connection = await self._held_connection()
        # Core statements, not ORM objects: at a few thousand messages a second the ORM's per-row
        # bookkeeping (instrumented __init__, unit-of-work flush) was most of the server's CPU.
        posts = [p.post for p in batch]
        async with self.db.uow(bind=connection) as uow:
            ids = {post.contact_id for post in posts}
            found = await uow.session.execute(_CONTACTS_BY_ID, {"ids": list(ids)})
            contacts = {row[0]: ContactFacts(*row) for row in found}
            planned = plan(posts, contacts, uow.clock.now(), self.max_chars)
            stored = await _insert(uow.session, planned.rows)
            earlier = await _stored(uow.session, resend_keys(posts, planned, stored))
            messages = written(planned, stored, earlier)
            for event in created_events(planned, contacts, stored, messages):
                uow.emit(event)
            # Commit (and publish) here and answer the senders before the session is closed: the
            # close is another trip to the database, and a sender's ack should leave in the same
            # turn of the loop as the events it follows, so the hub can send them in one batch.
            await uow.commit()
            _answer(batch, answers(posts, planned, messages, earlier))

    async def _write_sqlite(self, connection: AsyncConnection, batch: list[_Pending]) -> None:
        """The same transaction as ``_write`` in one trip to the SQLite connection's thread, instead
        of a trip per statement, each waking that thread and then the event loop again. At full load
        those trips and SQLAlchemy's per-row work on the event loop's thread were a third of the
        server's CPU per message (``bench/chat_path.py`` profiles)."""
        if self._sqlite is None:
            self._sqlite = SqliteBatch(connection.dialect)
        raw = (await connection.get_raw_connection()).driver_connection
        if not isinstance(raw, sqlite_driver.Connection):
            raise RuntimeError("the SQLite engine must connect through madoguchi.db.sqlite_driver")
        batch_sqlite = self._sqlite
        posts = [p.post for p in batch]
        now = self.db.clock.now()
        envelopes, told = await raw.run_on_connection(
            lambda conn: batch_sqlite.write(conn, posts, now, self.max_chars))
        for envelope in envelopes:
            await self.db.bus.publish(envelope)
        _answer(batch, told)

    async def _rescue(self, batch: list[_Pending]) -> None:
        """A batch whose child was lost: it may or may not have committed. A post with a
        client_msg_id is written again (in this process), which answers it with the stored message
        if it had; one without cannot be told from a new one, so its sender is asked to send again
        rather than have it stored twice."""
        keyed = [pending for pending in batch if pending.post.client_msg_id]
        for pending in batch:
            if not pending.post.client_msg_id and not pending.future.done():
                pending.future.set_exception(Unavailable("the message may not have been saved; send it again"))
        if keyed:
            try:
                await self._write(keyed)
            except Exception as exc:
                _fail(keyed, exc)


def _fail(batch: list[_Pending], exc: Exception) -> None:
    logger.error("message batch of %s failed", len(batch), exc_info=exc)
    for pending in batch:
        if not pending.future.done():
            pending.future.set_exception(exc)


def _answer(batch: list[_Pending], told: list[Answer]) -> None:
    for pending, answer in zip(batch, told, strict=True):
        if pending.future.done():
            continue
        if isinstance(answer, DomainError):
            pending.future.set_exception(answer)
        else:
            pending.future.set_result(answer)


async def _insert(session: AsyncSession, rows: list[dict[str, Any]]) -> list[int | None]:
    """Insert the rows; each one's new id, or None where the same (contact, client_msg_id) exists.

    A resend after a lost ack is rare, so it is not looked for first: the unique constraint finds
    it (ON CONFLICT DO NOTHING), which also holds when two servers take the same resend at once."""
    if not rows:
        return []
    result: list[int | None] = [None] * len(rows)
    keyed = [i for i, r in enumerate(rows) if r["client_msg_id"] is not None]
    plain = [i for i, r in enumerate(rows) if r["client_msg_id"] is None]
    if plain:
        for i, new_id in zip(plain, await insert_returning_ids(session, _TABLE, [rows[i] for i in plain]),
                             strict=True):
            result[i] = new_id
    if keyed:
        new = {(c, m): i for i, c, m in await session.execute(_KEYED_INSERT, [rows[i] for i in keyed])}
        for i in keyed:
            result[i] = new.get((rows[i]["contact_id"], rows[i]["client_msg_id"]))
    return result


async def _stored(session: AsyncSession, keys: list[tuple[int, str]]) -> dict[tuple[int, str], WrittenMessage]:
    if not keys:
        return {}
    # Spelled as OR of pairs, not a row-value IN: SQLite answers the latter by scanning the whole
    # index, the former with one index seek per pair.
    stmt = select(*_COLUMNS).where(or_(*(and_(_TABLE.c.contact_id == c, _TABLE.c.client_msg_id == m)
                                         for c, m in keys)))
    found = {}
    for row in await session.execute(stmt):
        message = WrittenMessage(*row)
        found[(message.contact_id, message.client_msg_id or "")] = message
    return found
