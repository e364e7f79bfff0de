"""One batch of chat messages: the checks, the rows, the events and each sender's answer.

The message writer (``contacts/writer.py``) collects the posts; this module decides what each one
becomes, independent of where the transaction runs: through SQLAlchemy on PostgreSQL, in the SQLite
connection's thread, or in the writer's child process (``contacts/writer_process.py``)."""

from __future__ import annotations

import operator
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

import orjson
from sqlalchemy import Table
from sqlalchemy.engine import Dialect

from madoguchi.contacts import events
from madoguchi.contacts.models import Contact, Message
from madoguchi.contacts.states import HANDLING_STATES, OPEN_STATES
from madoguchi.db.sqlite_rows import SqliteRows, loaded, result_processors
from madoguchi.db.uow import FEED_TABLE, enveloped, feed_rows
from madoguchi.identity.permissions import Perm, has
from madoguchi.kernel import jsontext
from madoguchi.kernel.errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied
from madoguchi.kernel.events import Envelope, Event


class Author(Protocol):
    """The staff member behind an agent's message (a ``User``, or the child process's copy)."""

    @property
    def id(self) -> int: ...
    @property
    def role(self) -> str: ...
    @property
    def display_name(self) -> str: ...


@dataclass(frozen=True)
class MessagePost:
    contact_id: int
    author_kind: str                 # "customer" or "agent"
    body: str
    kind: str = "text"               # "text" or "note" (internal, agents only)
    author: Author | None = None
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


MESSAGES = cast(Table, Message.__table__)


@dataclass(frozen=True, slots=True)
class ContactFacts:
    """The few columns of a contact that decide whether a message may be written to it and who
    hears of it (read as a row, not an ORM object: one per message at full load)."""

    id: int
    state: str
    agent_id: int | None
    customer_topic: str | None


CONTACT_COLUMNS = tuple(getattr(Contact, name) for name in ContactFacts.__slots__)


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


@dataclass(frozen=True, slots=True)
class Later:
    """The post's message is the batch's row number ``row``, known once the insert returns ids."""

    row: int


@dataclass
class Plan:
    """A batch checked against its contacts: the rows to insert and what each post becomes."""

    outcomes: list[DomainError | Later]
    rows: list[dict[str, Any]]
    authors: list[str | None]


def plan(posts: list[MessagePost], contacts: dict[int, ContactFacts], now: datetime, max_chars: int) -> Plan:
    outcomes: list[DomainError | Later] = []
    rows: list[dict[str, Any]] = []
    authors: list[str | None] = []
    first_row: dict[tuple[int, str], int] = {}
    for post in posts:
        key = (post.contact_id, post.client_msg_id) if post.client_msg_id else None
        if key is not None and key in first_row:
            outcomes.append(Later(first_row[key]))  # the same resend twice in this batch
            continue
        try:
            check_post(post, contacts.get(post.contact_id), max_chars=max_chars)
        except DomainError as error:
            outcomes.append(error)
            continue
        if key is not None:
            first_row[key] = len(rows)
        outcomes.append(Later(len(rows)))
        rows.append({"contact_id": post.contact_id, "kind": post.kind, "author_kind": post.author_kind,
                     "author_user_id": post.author.id if post.author else None, "body": post.body,
                     "client_msg_id": post.client_msg_id, "created_at": now})
        authors.append(post.author.display_name if post.author else None)
    return Plan(outcomes, rows, authors)


def resend_keys(posts: list[MessagePost], planned: Plan, stored: list[int | None]) -> list[tuple[int, str]]:
    """The stored messages to look up: rows the unique key skipped (resends after a lost ack), and
    refused posts with a client_msg_id. Resends are answered with the stored message even where the
    checks now refuse the post (a resend after the conversation ended returns the original, never
    an error)."""
    keys = [(r["contact_id"], r["client_msg_id"]) for r, new_id in zip(planned.rows, stored, strict=True)
            if new_id is None]
    keys += [(post.contact_id, post.client_msg_id) for post, outcome in zip(posts, planned.outcomes, strict=True)
             if isinstance(outcome, DomainError) and post.client_msg_id]
    return keys


def written(planned: Plan, stored: list[int | None],
            earlier: dict[tuple[int, str], WrittenMessage]) -> list[WrittenMessage]:
    """Each row's message: the new one, or for a resend the one stored before."""
    return [WrittenMessage(id=new_id, **values) if new_id is not None
            else earlier[(values["contact_id"], values["client_msg_id"])]
            for values, new_id in zip(planned.rows, stored, strict=True)]


def created_events(planned: Plan, contacts: dict[int, ContactFacts], stored: list[int | None],
                   messages: list[WrittenMessage]) -> list[Event]:
    """A ``message.created`` for each new row (none for a resend: its event went out the first time)."""
    return [events.message_created(contacts[message.contact_id], message, author)
            for message, new_id, author in zip(messages, stored, planned.authors, strict=True)
            if new_id is not None]


Answer = WrittenMessage | DomainError


def answers(posts: list[MessagePost], planned: Plan, messages: list[WrittenMessage],
            earlier: dict[tuple[int, str], WrittenMessage]) -> list[Answer]:
    """What each post's sender is told, in the order of ``posts``."""
    told: list[Answer] = []
    for post, outcome in zip(posts, planned.outcomes, strict=True):
        if isinstance(outcome, Later):
            told.append(messages[outcome.row])
        elif post.client_msg_id and (post.contact_id, post.client_msg_id) in earlier:
            told.append(earlier[(post.contact_id, post.client_msg_id)])
        else:
            told.append(outcome)
    return told


_MESSAGE_COLUMNS = ("contact_id", "kind", "author_kind", "author_user_id", "body", "client_msg_id", "created_at")
_message_values = operator.itemgetter(*_MESSAGE_COLUMNS)


class SqliteBatch:
    """The writer's transaction for SQLite on a plain ``sqlite3`` connection: in the connection's
    thread, or in the writer's child process."""

    def __init__(self, dialect: Dialect) -> None:
        self.messages = SqliteRows(MESSAGES, dialect, _MESSAGE_COLUMNS, unique=("contact_id", "client_msg_id"))
        self.feed = SqliteRows(FEED_TABLE, dialect, ("type", "topics", "data", "created_at"))
        self.feed_values = operator.itemgetter(*self.feed.columns)
        self.loaded = result_processors(MESSAGES, dialect, WrittenMessage.__slots__)
        columns = ", ".join(c.name for c in CONTACT_COLUMNS)
        # One fixed text for any number of ids (a JSON array in), so sqlite3 prepares it once, and
        # one JSON row out instead of a row (a step, a GIL release: db/sqlite_rows.py) per contact.
        self.contacts_sql = (f"SELECT json_group_array(json_array({columns})) FROM {Contact.__tablename__} "
                             "WHERE id IN (SELECT value FROM json_each(?))")
        self.stored_sql = (f"SELECT {', '.join(WrittenMessage.__slots__)} FROM {MESSAGES.name} "
                           "WHERE contact_id = ? AND client_msg_id = ?")

    def write(self, conn: sqlite3.Connection, posts: list[MessagePost], now: datetime,
              max_chars: int) -> tuple[list[Envelope], list[Answer]]:
        # IMMEDIATE: the write lock from the start, which SqliteRows.insert needs to know its ids.
        conn.execute("BEGIN IMMEDIATE")
        try:
            ids = jsontext.dumps(sorted({post.contact_id for post in posts}))
            found = orjson.loads(conn.execute(self.contacts_sql, (ids,)).fetchone()[0])
            contacts = {row[0]: ContactFacts(*row) for row in found}
            planned = plan(posts, contacts, now, max_chars)
            stored = self.messages.insert(conn, [_message_values(r) for r in planned.rows])
            earlier: dict[tuple[int, str], WrittenMessage] = {}
            for key in resend_keys(posts, planned, stored):
                row = conn.execute(self.stored_sql, key).fetchone()
                if row is not None:
                    earlier[key] = WrittenMessage(*loaded(row, self.loaded))
            messages = written(planned, stored, earlier)
            emitted = created_events(planned, contacts, stored, messages)
            # No unique columns: every feed row gets its id (SqliteRows.insert checks).
            feed_ids = cast(list[int], self.feed.insert(conn, [self.feed_values(r) for r in feed_rows(emitted, now)]))
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        return enveloped(emitted, feed_ids), answers(posts, planned, messages, earlier)
