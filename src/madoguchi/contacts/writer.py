"""The chat message path with group commit.

Messages from many conversations arrive at once; writing each in its own transaction makes the
database's commit the bottleneck. The writer drains what is waiting, validates each post against
its contact, writes the batch in one transaction, and only after the commit publishes the events
and answers the senders. A post that fails validation fails alone; the others land.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import operator
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import orjson
from sqlalchemy import Table, and_, bindparam, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from madoguchi.contacts import events
from madoguchi.contacts.models import Contact, Message
from madoguchi.contacts.states import HANDLING_STATES, OPEN_STATES
from madoguchi.db import sqlite_driver
from madoguchi.db.bulk import insert_returning_ids
from madoguchi.db.sqlite_rows import SqliteRows, loaded, result_processors
from madoguchi.db.uow import FEED_TABLE, Database, enveloped, feed_rows
from madoguchi.identity.models import User
from madoguchi.identity.permissions import Perm, has
from madoguchi.kernel import jsontext
from madoguchi.kernel.errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied
from madoguchi.kernel.events import Envelope, Event

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MessagePost:
    contact_id: int
    author_kind: str                 # "customer" or "agent"
    body: str
    kind: str = "text"               # "text" or "note" (internal, agents only)
    author: User | None = None
    client_msg_id: str | None = None


@dataclass(frozen=True, slots=True)
class WrittenMessage:
    """A committed chat message as the writer hands it back (same fields as the ``messages`` row)."""

    id: int
    contact_id: int
    kind: str
    author_kind: str
    author_user_id: int | None
    body: str
    client_msg_id: str | None
    created_at: datetime


_TABLE = cast(Table, Message.__table__)
_COLUMNS = tuple(_TABLE.c[name] for name in WrittenMessage.__slots__)


GATHER_BELOW = 16  # messages already waiting at which the writer no longer waits for more


@dataclass
class _Pending:
    post: MessagePost
    future: asyncio.Future[WrittenMessage] = field(repr=False)


@dataclass(frozen=True, slots=True)
class ContactFacts:
    """The few columns of a contact that decide whether a message may be written to it and who
    hears of it (read as a row, not an ORM object: one per message at full load)."""

    id: int
    state: str
    agent_id: int | None
    customer_topic: str | None


_CONTACT_COLUMNS = tuple(getattr(Contact, name) for name in ContactFacts.__slots__)
# Statements built once: building a select or an insert costs more Python time than running it
# (about 90 µs for the select below), and the writer runs one transaction per batch. (SQLite's
# batch has its own SQL: _SqliteBatch.)
_CONTACTS_BY_ID = select(*_CONTACT_COLUMNS).where(Contact.id.in_(bindparam("ids", expanding=True)))
_KEYED_INSERT = (pg_insert(_TABLE).on_conflict_do_nothing(index_elements=["contact_id", "client_msg_id"])
                 .returning(_TABLE.c.id, _TABLE.c.contact_id, _TABLE.c.client_msg_id))


def _turn_away(batch: list[_Pending]) -> None:
    """Answers posts the stopping server will not write."""
    for pending in batch:
        if not pending.future.done():
            pending.future.set_exception(Conflict("the server is shutting down; send again"))


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_post(post: MessagePost, contact: ContactFacts | None, *, max_chars: int) -> None:
    """Whether ``post`` may be written to ``contact``; raises the typed error that says why not."""
    if contact is None:
        raise NotFound("contact", post.contact_id)
    body = post.body.strip()
    if not body:
        raise InvalidInput("a message needs some text", field="body")
    if not _is_text(post.body) or (post.client_msg_id is not None and not _is_text(post.client_msg_id)):
        # JSON may spell a lone surrogate (\ud800); no database stores it, and it would fail the batch.
        raise InvalidInput("a message must be valid Unicode text", field="body")
    if len(post.body) > max_chars:
        raise InvalidInput(f"a message may have at most {max_chars} characters", field="body")
    if post.author_kind == "customer":
        if post.kind != "text":
            raise PermissionDenied("customers send text messages only")
        if contact.state not in OPEN_STATES:
            raise Conflict("this conversation has ended", state=contact.state)
        return
    author = post.author
    if author is None:
        raise PermissionDenied("an agent message needs its author")
    if post.kind == "note":
        if contact.agent_id != author.id and not has(author.role, Perm.READ_ALL_CONTACTS):
            raise PermissionDenied("only the handling agent or a supervisor may add notes here")
        return
    if contact.agent_id != author.id:
        raise PermissionDenied("you are not handling this contact")
    if contact.state not in HANDLING_STATES:
        raise Conflict("this contact is not active", state=contact.state)


class MessageWriter:
    def __init__(self, db: Database, *, max_chars: int, max_batch: int = 500, gather_s: float = 0.0) -> None:
        self.db = db
        self.max_chars = max_chars
        self.max_batch = max_batch
        self.gather_s = gather_s
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._connection: AsyncConnection | None = None
        self._sqlite: _SqliteBatch | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="message-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while not self._queue.empty():
            _turn_away([self._queue.get_nowait()])
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None

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
        while True:
            batch = [await self._queue.get()]
            if self.gather_s > 0 and self._queue.qsize() < GATHER_BELOW:
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
                logger.exception("message batch of %s failed", len(batch))
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(exc)

    async def _write(self, batch: list[_Pending]) -> None:
        connection = await self._held_connection()
        if connection.dialect.name == "sqlite":
            await self._write_sqlite(connection, batch)
            return
        # Core statements, not ORM objects: at a few thousand messages a second the ORM's per-row
        # bookkeeping (instrumented __init__, unit-of-work flush) was most of the server's CPU.
        posts = [p.post for p in batch]
        async with self.db.uow(bind=connection) as uow:
            ids = {post.contact_id for post in posts}
            found = await uow.session.execute(_CONTACTS_BY_ID, {"ids": list(ids)})
            contacts = {row[0]: ContactFacts(*row) for row in found}
            plan = _plan(posts, contacts, uow.clock.now(), self.max_chars)
            stored = await _insert(uow.session, plan.rows)
            earlier = await _stored(uow.session, _resend_keys(posts, plan, stored))
            written = _written(plan, stored, earlier)
            for event in _events(plan, contacts, stored, written):
                uow.emit(event)
            # Commit (and publish) here and answer the senders before the session is closed: the
            # close is another trip to the database, and a sender's ack should leave in the same
            # turn of the loop as the events it follows, so the hub can send them in one batch.
            await uow.commit()
            _answer(batch, _answers(posts, plan, written, earlier))

    async def _write_sqlite(self, connection: AsyncConnection, batch: list[_Pending]) -> None:
        """The same transaction as ``_write`` in one trip to the SQLite connection's thread, instead
        of a trip per statement, each waking that thread and then the event loop again. At full load
        those trips and SQLAlchemy's per-row work on the event loop's thread were a third of the
        server's CPU per message (``bench/chat_path.py`` profiles)."""
        if self._sqlite is None:
            self._sqlite = _SqliteBatch(connection.dialect)
        raw = (await connection.get_raw_connection()).driver_connection
        if not isinstance(raw, sqlite_driver.Connection):
            raise RuntimeError("the SQLite engine must connect through madoguchi.db.sqlite_driver")
        batch_sqlite = self._sqlite
        posts = [p.post for p in batch]
        now = self.db.clock.now()
        envelopes, answers = await raw.run_on_connection(
            lambda conn: batch_sqlite.write(conn, posts, now, self.max_chars))
        for envelope in envelopes:
            await self.db.bus.publish(envelope)
        _answer(batch, answers)


@dataclass
class _Plan:
    """A batch checked against its contacts: the rows to insert and what each post becomes."""

    outcomes: list[DomainError | _Later]
    rows: list[dict[str, Any]]
    authors: list[str | None]


def _plan(posts: list[MessagePost], contacts: dict[int, ContactFacts], now: datetime, max_chars: int) -> _Plan:
    outcomes: list[DomainError | _Later] = []
    rows: list[dict[str, Any]] = []
    authors: list[str | None] = []
    first_row: dict[tuple[int, str], int] = {}
    for post in posts:
        key = (post.contact_id, post.client_msg_id) if post.client_msg_id else None
        if key is not None and key in first_row:
            outcomes.append(_Later(first_row[key]))  # the same resend twice in this batch
            continue
        try:
            check_post(post, contacts.get(post.contact_id), max_chars=max_chars)
        except DomainError as error:
            outcomes.append(error)
            continue
        if key is not None:
            first_row[key] = len(rows)
        outcomes.append(_Later(len(rows)))
        rows.append({"contact_id": post.contact_id, "kind": post.kind, "author_kind": post.author_kind,
                     "author_user_id": post.author.id if post.author else None, "body": post.body,
                     "client_msg_id": post.client_msg_id, "created_at": now})
        authors.append(post.author.display_name if post.author else None)
    return _Plan(outcomes, rows, authors)


def _resend_keys(posts: list[MessagePost], plan: _Plan, stored: list[int | None]) -> list[tuple[int, str]]:
    """The stored messages to look up: rows the unique key skipped (resends after a lost ack), and
    refused posts with a client_msg_id. Resends are answered with the stored message even where the
    checks now refuse the post (a resend after the conversation ended returns the original, never
    an error)."""
    keys = [(r["contact_id"], r["client_msg_id"]) for r, new_id in zip(plan.rows, stored, strict=True)
            if new_id is None]
    keys += [(post.contact_id, post.client_msg_id) for post, outcome in zip(posts, plan.outcomes, strict=True)
             if isinstance(outcome, DomainError) and post.client_msg_id]
    return keys


def _written(plan: _Plan, stored: list[int | None],
             earlier: dict[tuple[int, str], WrittenMessage]) -> list[WrittenMessage]:
    """Each row's message: the new one, or for a resend the one stored before."""
    return [WrittenMessage(id=new_id, **values) if new_id is not None
            else earlier[(values["contact_id"], values["client_msg_id"])]
            for values, new_id in zip(plan.rows, stored, strict=True)]


def _events(plan: _Plan, contacts: dict[int, ContactFacts], stored: list[int | None],
            written: list[WrittenMessage]) -> list[Event]:
    """A ``message.created`` for each new row (none for a resend: its event went out the first time)."""
    return [events.message_created(contacts[message.contact_id], message, author)
            for message, new_id, author in zip(written, stored, plan.authors, strict=True) if new_id is not None]


def _answers(posts: list[MessagePost], plan: _Plan, written: list[WrittenMessage],
             earlier: dict[tuple[int, str], WrittenMessage]) -> list[WrittenMessage | DomainError]:
    answers: list[WrittenMessage | DomainError] = []
    for post, outcome in zip(posts, plan.outcomes, strict=True):
        if isinstance(outcome, _Later):
            answers.append(written[outcome.row])
        elif post.client_msg_id and (post.contact_id, post.client_msg_id) in earlier:
            answers.append(earlier[(post.contact_id, post.client_msg_id)])
        else:
            answers.append(outcome)
    return answers


def _answer(batch: list[_Pending], answers: list[WrittenMessage | DomainError]) -> None:
    for pending, answer in zip(batch, answers, strict=True):
        if pending.future.done():
            continue
        if isinstance(answer, DomainError):
            pending.future.set_exception(answer)
        else:
            pending.future.set_result(answer)


class _SqliteBatch:
    """``MessageWriter._write``'s transaction for SQLite, run in the connection's thread."""

    def __init__(self, dialect: Dialect) -> None:
        self.messages = SqliteRows(_TABLE, dialect, _MESSAGE_COLUMNS, unique=("contact_id", "client_msg_id"))
        self.feed = SqliteRows(FEED_TABLE, dialect, ("type", "topics", "data", "created_at"))
        self.feed_values = operator.itemgetter(*self.feed.columns)
        self.loaded = result_processors(_TABLE, dialect, WrittenMessage.__slots__)
        columns = ", ".join(c.name for c in _CONTACT_COLUMNS)
        # One fixed text for any number of ids (a JSON array in), so sqlite3 prepares it once, and
        # one JSON row out instead of a row (a step, a GIL release: db/sqlite_rows.py) per contact.
        self.contacts_sql = (f"SELECT json_group_array(json_array({columns})) FROM {Contact.__tablename__} "
                             "WHERE id IN (SELECT value FROM json_each(?))")
        self.stored_sql = (f"SELECT {', '.join(WrittenMessage.__slots__)} FROM {_TABLE.name} "
                           "WHERE contact_id = ? AND client_msg_id = ?")

    def write(self, conn: sqlite3.Connection, posts: list[MessagePost], now: datetime,
              max_chars: int) -> tuple[list[Envelope], list[WrittenMessage | DomainError]]:
        # IMMEDIATE: the write lock from the start, which SqliteRows.insert needs to know its ids.
        conn.execute("BEGIN IMMEDIATE")
        try:
            ids = jsontext.dumps(sorted({post.contact_id for post in posts}))
            found = orjson.loads(conn.execute(self.contacts_sql, (ids,)).fetchone()[0])
            contacts = {row[0]: ContactFacts(*row) for row in found}
            plan = _plan(posts, contacts, now, max_chars)
            stored = self.messages.insert(conn, [_message_values(r) for r in plan.rows])
            earlier: dict[tuple[int, str], WrittenMessage] = {}
            for key in _resend_keys(posts, plan, stored):
                row = conn.execute(self.stored_sql, key).fetchone()
                if row is not None:
                    earlier[key] = WrittenMessage(*loaded(row, self.loaded))
            written = _written(plan, stored, earlier)
            emitted = _events(plan, contacts, stored, written)
            # No unique columns: every feed row gets its id (SqliteRows.insert checks).
            feed_ids = cast(list[int], self.feed.insert(conn, [self.feed_values(r) for r in feed_rows(emitted, now)]))
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        envelopes = enveloped(emitted, feed_ids)
        return envelopes, _answers(posts, plan, written, earlier)


_MESSAGE_COLUMNS = ("contact_id", "kind", "author_kind", "author_user_id", "body", "client_msg_id", "created_at")
_message_values = operator.itemgetter(*_MESSAGE_COLUMNS)


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


@dataclass(frozen=True, slots=True)
class _Later:
    """The post's message is the batch's row number ``row``, known once the insert returns ids."""

    row: int
