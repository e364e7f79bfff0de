"""The message writer's transaction for PostgreSQL on a plain asyncpg connection.

Run in the writer's child process (``contacts/writer_process.py``). It writes what
``MessageWriter._write`` writes through SQLAlchemy, but each statement takes its rows as a few
arrays (``unnest``), so the per-row work is asyncpg's array encoding instead of SQLAlchemy's
parameter processing, which made PostgreSQL's CPU per message about 35 µs higher than SQLite's
(docs/realtime.md). Values are what the SQLAlchemy types store: UTC ``timestamptz``, JSON text
from ``kernel/jsontext.py`` (the engine's ``json_serializer``), topics from ``db/feed.py``.

New ids come back in insert order: the rows are inserted ``ORDER BY`` their position and take
their ids from the sequence in that order, so the returned ids, sorted, follow the rows (the
assumption SQLAlchemy's own ordered ``RETURNING`` on PostgreSQL makes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from madoguchi.contacts.message_batch import (
    Answer,
    ContactFacts,
    MessagePost,
    WrittenMessage,
    answers,
    created_events,
    plan,
    resend_keys,
    written,
)
from madoguchi.db.uow import FEED_LOCK_KEY, enveloped, feed_rows
from madoguchi.kernel import jsontext
from madoguchi.kernel.clock import as_utc
from madoguchi.kernel.events import Envelope

_CONTACTS = "SELECT id, state, agent_id, customer_topic FROM contacts WHERE id = ANY($1::bigint[])"
_INSERT_MESSAGES = (
    "INSERT INTO messages (contact_id, kind, author_kind, author_user_id, body, client_msg_id, created_at) "
    "SELECT c, k, a, u, b, m, t FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], "
    "$6::text[], $7::timestamptz[]) WITH ORDINALITY AS r(c, k, a, u, b, m, t, n) ORDER BY n "
    "ON CONFLICT (contact_id, client_msg_id) DO NOTHING RETURNING id, contact_id, client_msg_id")
_STORED = (
    "SELECT id, contact_id, kind, author_kind, author_user_id, body, client_msg_id, created_at FROM messages "
    "WHERE (contact_id, client_msg_id) IN (SELECT * FROM unnest($1::bigint[], $2::text[]))")
_FEED_LOCK = "SELECT pg_advisory_xact_lock($1)"
_INSERT_FEED = (
    "INSERT INTO realtime_feed (type, topics, data, created_at) "
    "SELECT t, p, d::json, c FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) "
    "WITH ORDINALITY AS r(t, p, d, c, n) ORDER BY n RETURNING id")


async def _insert_messages(conn: asyncpg.Connection, rows: list[dict[str, Any]]) -> list[int | None]:
    """Each row's new id in order, or None where its (contact_id, client_msg_id) was stored before."""
    if not rows:
        return []
    columns = ("contact_id", "kind", "author_kind", "author_user_id", "body", "client_msg_id", "created_at")
    inserted = await conn.fetch(_INSERT_MESSAGES, *([row[c] for row in rows] for c in columns))
    kept = {(r["contact_id"], r["client_msg_id"]) for r in inserted if r["client_msg_id"] is not None}
    new_ids = iter(sorted(r["id"] for r in inserted))
    ids: list[int | None] = []
    for row in rows:
        # A keyed row not among those returned was skipped by the unique key; NULL keys never are.
        skipped = row["client_msg_id"] is not None and (row["contact_id"], row["client_msg_id"]) not in kept
        ids.append(None if skipped else next(new_ids))
    if next(new_ids, None) is not None:
        raise RuntimeError("rows inserted into messages do not match the batch")
    return ids


async def _stored(conn: asyncpg.Connection, keys: list[tuple[int, str]]) -> dict[tuple[int, str], WrittenMessage]:
    if not keys:
        return {}
    found = await conn.fetch(_STORED, [c for c, _ in keys], [m for _, m in keys])
    messages = [WrittenMessage(row["id"], row["contact_id"], row["kind"], row["author_kind"], row["author_user_id"],
                               row["body"], row["client_msg_id"], as_utc(row["created_at"])) for row in found]
    return {(m.contact_id, m.client_msg_id or ""): m for m in messages}


async def write(conn: asyncpg.Connection, posts: list[MessagePost], now: datetime,
                max_chars: int) -> tuple[list[Envelope], list[Answer]]:
    """One batch in one transaction; the envelopes to publish and each post's answer."""
    async with conn.transaction():
        found = await conn.fetch(_CONTACTS, sorted({post.contact_id for post in posts}))
        contacts = {row[0]: ContactFacts(*row) for row in found}
        planned = plan(posts, contacts, now, max_chars)
        stored = await _insert_messages(conn, planned.rows)
        earlier = await _stored(conn, resend_keys(posts, planned, stored))
        messages = written(planned, stored, earlier)
        emitted = created_events(planned, contacts, stored, messages)
        feed = feed_rows(emitted, now)
        feed_ids: list[int] = []
        if feed:
            # Feed ids in commit order, as the unit of work takes them (db/uow.py).
            await conn.execute(_FEED_LOCK, FEED_LOCK_KEY)
            rows = await conn.fetch(_INSERT_FEED, [r["type"] for r in feed], [r["topics"] for r in feed],
                                    [jsontext.dumps(r["data"]) for r in feed], [r["created_at"] for r in feed])
            feed_ids = sorted(r["id"] for r in rows)
    return enveloped(emitted, feed_ids), answers(posts, planned, messages, earlier)
