"""The roll-up worker: folds new contact events and closed agent spans into legs, case facts and
roll-ups, then refreshes the wallboard (docs/reports.md §2). One per deployment, under a lease.

A batch is computed from a read-only session, then written in one short transaction that starts
with a compare-and-set on the cursor row, so the SQLite write lock is held only for the writes and
a recompute that ran meanwhile makes the batch start over instead of counting twice."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from sqlalchemy import CursorResult, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from madoguchi.db.leases import Lease
from madoguchi.db.uow import Database
from madoguchi.kernel.events import Envelope
from madoguchi.reports import engine
from madoguchi.reports.columns import EVENT_TYPES, CaseFacts, LegColumns, SpanColumns, Vocab, epoch_ms, from_ms
from madoguchi.reports.config import engine_thresholds, load_queue_reporting
from madoguchi.reports.cube import Cube, Days, rollup
from madoguchi.reports.models import CURSORS, ReportCursor
from madoguchi.reports.store import Store

logger = logging.getLogger(__name__)

EVENTS, SPANS = "events", "spans"
WAKE_ON = frozenset({"contact.changed", "agent.state_changed", "csat.recorded", "queue.changed",
                     "report.definition_changed"})
BATCH = 5_000
IDLE_TICK_S = 2.0
DEBOUNCE_S = 0.05
#: A batch has a fixed cost (the cursor, the spans closed in the last minute, the queues'
#: definitions, the writes) besides its contacts, so in a flood (an email storm, a campaign) many
#: small batches cost more than a few large ones: the pause before the next batch grows with the
#: last one's cost, at most MAX_PAUSE_S so the wallboard, which follows the batches, still moves
#: within a second. Measured on the email ingest benchmark (SQLite): 50 ms pauses 167–186
#: messages/s, cost-paced 200+.
PACE_FACTOR = 4.0
MAX_PAUSE_S = 0.3
QUIET_REFRESH_S = 30.0
#: How long an id the cursor passed may still commit (PostgreSQL), and how far back closed spans
#: are looked for again (a transaction may commit a little after the time it wrote).
LATE_MS = 60_000


class _Stale(Exception):
    """The cursor moved (a recompute) while the batch was computed."""


@dataclass
class Position:
    events: int
    generation: int
    gaps: list[list[int]]  # [first id, last id, first missed at (epoch ms)]
    spans_ms: int


async def ensure_cursors(session: AsyncSession, now: Any) -> None:
    table = CURSORS
    dialect = session.get_bind().dialect.name
    statement = (pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)).on_conflict_do_nothing()
    await session.execute(statement, [{"name": name, "position": 0, "generation": 0, "gaps": [], "updated_at": now}
                                      for name in (EVENTS, SPANS)])


async def read_position(session: AsyncSession) -> Position:
    rows = {r.name: r for r in (await session.scalars(select(ReportCursor))).all()}
    events, spans = rows[EVENTS], rows[SPANS]
    return Position(events=events.position, generation=events.generation, gaps=list(events.gaps or []),
                    spans_ms=spans.position)


def _remaining_gaps(gaps: list[list[int]], found: set[int], now_ms: int) -> list[list[int]]:
    out: list[list[int]] = []
    for first, last, seen in gaps:
        if now_ms - seen > LATE_MS:
            continue  # never committed: a rolled-back transaction
        start = first
        for found_id in sorted(i for i in found if first <= i <= last):
            if found_id > start:
                out.append([start, found_id - 1, seen])
            start = found_id + 1
        if start <= last:
            out.append([start, last, seen])
    return out


def _new_gaps(after: int, ids: Sequence[int], now_ms: int) -> list[list[int]]:
    out, expected = [], after + 1
    for event_id in ids:
        if event_id > expected:
            out.append([expected, event_id - 1, now_ms])
        expected = event_id + 1
    return out


def _sorted_legs(legs: LegColumns) -> LegColumns:
    return legs.take(np.lexsort((legs.leg, legs.contact_id)))


@dataclass
class Delta:
    contact_ids: list[int]
    legs: LegColumns
    case_ids: list[int]
    cases: CaseFacts
    spans: SpanColumns
    cube: Cube
    vocab: Vocab


class RollupWorker:
    name = "report_rollups"

    def __init__(self, db: Database, *, lease: Lease, timezone: str, fcr_window_days: int, short_abandon_s: int,
                 after_batch: Callable[[], Awaitable[None]] | None = None) -> None:
        self.db = db
        self.lease = lease
        self.days = Days(timezone)
        self.window_ms = fcr_window_days * 86_400_000
        self.short_abandon_s = short_abandon_s
        self.after_batch = after_batch
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._prepared = False
        self.batches = 0

    def wake(self) -> None:
        self._wake.set()

    def _on_event(self, envelope: Envelope) -> None:
        if envelope.type in WAKE_ON:
            self._wake.set()

    async def prepare(self) -> None:
        async with self.db.uow() as uow:
            await ensure_cursors(uow.session, uow.clock.now())

    async def start(self) -> None:
        # The server must start (and answer /healthz with 503) while the database is away; the
        # loop prepares its cursors once it can reach it.
        self._prepared = False
        self._unsubscribe = self.db.bus.subscribe(self._on_event)
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.lease.release()

    async def drain(self) -> int:
        """Fold everything there is now (tests, the CLI); returns the rows folded."""
        await self.prepare()
        total = 0
        while (done := await self.consume()) > 0:
            total += done
        return total

    async def consume(self) -> int:
        """One batch; 0 when there was nothing new."""
        now_ms = epoch_ms(self.db.clock.now())
        async with self.db.read() as session:
            position = await read_position(session)
            fresh = (await session.execute(text(
                "SELECT id, contact_id, type FROM contact_events WHERE id > :after ORDER BY id LIMIT :n"),
                {"after": position.events, "n": BATCH})).all()
            late: list[Any] = []
            for first, last, _ in position.gaps:
                late.extend((await session.execute(text(
                    "SELECT id, contact_id, type FROM contact_events WHERE id BETWEEN :a AND :b"),
                    {"a": first, "b": last})).all())
            store = Store(session)
            spans = await store.closed_spans_since(from_ms(position.spans_ms - LATE_MS))
            gaps = _remaining_gaps(position.gaps, {r[0] for r in late}, now_ms)
            new_position = fresh[-1][0] if fresh else position.events
            gaps += _new_gaps(position.events, [r[0] for r in fresh], now_ms)
            if not fresh and not late and not len(spans) and gaps == position.gaps:
                return 0
            contact_ids = sorted({r[1] for r in (*fresh, *late) if r[2] in EVENT_TYPES})
            delta = await self._delta(session, contact_ids, spans)
        spans_ms = max([position.spans_ms, *delta.spans.end_ms.tolist()])
        try:
            async with self.db.uow() as uow:
                claimed = await uow.session.execute(
                    update(ReportCursor).where(ReportCursor.name == EVENTS,
                                               ReportCursor.position == position.events,
                                               ReportCursor.generation == position.generation)
                    .values(position=new_position, gaps=gaps, updated_at=uow.clock.now()))
                if cast(CursorResult[Any], claimed).rowcount != 1:
                    raise _Stale
                await uow.session.execute(update(ReportCursor).where(ReportCursor.name == SPANS)
                                          .values(position=spans_ms, updated_at=uow.clock.now()))
                await self._write(Store(uow.session), delta)
        except _Stale:
            logger.info("report cursor moved under a batch (recompute); computing it again")
            return 1
        self.batches += 1
        return len(fresh) + len(late) + len(delta.spans) or 1

    async def _delta(self, session: AsyncSession, contact_ids: list[int], spans: SpanColumns) -> Delta:
        store = Store(session)
        vocab = Vocab()
        reporting = await load_queue_reporting(session, short_abandon_s=self.short_abandon_s)
        contacts = await store.contacts(contact_ids, vocab)
        new_legs = engine.legs(await store.events_of(contact_ids), contacts)
        old_legs = await store.stored_legs(contact_ids, vocab)
        case_ids = sorted(set(contacts.case_id.tolist()))
        case_contacts = await store.contacts_of_cases(case_ids, vocab)
        mine = set(contact_ids)
        others = await store.stored_legs([c for c in case_contacts.id.tolist() if c not in mine], vocab)
        case_legs = _sorted_legs(LegColumns.concat([new_legs, others]))
        new_cases = engine.case_facts(await store.cases(case_ids), case_contacts, case_legs, window_ms=self.window_ms)
        old_cases = await store.stored_cases(case_ids, vocab)
        ones = np.ones
        cube = rollup(
            legs=LegColumns.concat([new_legs, old_legs]),
            leg_weight=np.concatenate([ones(len(new_legs), np.int64), -ones(len(old_legs), np.int64)]),
            cases=CaseFacts.concat([new_cases, old_cases]),
            case_weight=np.concatenate([ones(len(new_cases), np.int64), -ones(len(old_cases), np.int64)]),
            spans=spans, thresholds=engine_thresholds(reporting, short_abandon_s=self.short_abandon_s),
            days=self.days)
        return Delta(contact_ids=contact_ids, legs=new_legs, case_ids=case_ids, cases=new_cases, spans=spans,
                     cube=cube, vocab=vocab)

    @staticmethod
    async def _write(store: Store, delta: Delta) -> None:
        await store.replace_legs(delta.contact_ids, delta.legs, delta.vocab)
        await store.replace_cases(delta.case_ids, delta.cases, delta.vocab)
        await store.add(delta.cube, delta.vocab)
        await store.advance_span_cursors(delta.spans)

    async def _run(self) -> None:
        woken, refreshed = True, 0.0
        while True:
            try:
                if not await self.lease.try_acquire():
                    await asyncio.sleep(2.0)
                    continue
                if not self._prepared:
                    await self.prepare()
                    self._prepared = True
                self._wake.clear()
                started = time.monotonic()
                consumed = 0
                while done := await self.consume():
                    consumed += done
                # The wallboard follows what changed; on a quiet tick (nothing woke us, nothing
                # new) it is rebuilt only now and then, for the day's turn: a snapshot reads every
                # live contact, and doing that every idle tick stalled the loop under chat load.
                if self.after_batch is not None and (woken or consumed or started - refreshed >= QUIET_REFRESH_S):
                    await self.after_batch()
                    refreshed = started
                took = time.monotonic() - started
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("report roll-up batch failed; retrying")
                took = 0.0
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=IDLE_TICK_S)
                woken = True
            except TimeoutError:
                woken = False
            # let a burst of events land in one batch, the longer the more batches cost
            await asyncio.sleep(min(MAX_PAUSE_S, max(DEBOUNCE_S, PACE_FACTOR * took)))
