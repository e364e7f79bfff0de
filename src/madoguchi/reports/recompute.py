"""The full recompute: every contact event, closed span, contact and case read into columns, the
same engine as the live worker, and legs, case facts and roll-ups replaced in one transaction
(docs/reports.md §2). Also the narrower re-derivation of one queue after its T changed."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from madoguchi.db.uow import Database
from madoguchi.reports import bulk, engine, sources
from madoguchi.reports.columns import CaseFacts, ContactColumns, EventColumns, LegColumns, SpanColumns, Vocab
from madoguchi.reports.config import engine_thresholds, load_queue_reporting
from madoguchi.reports.cube import Cube, Days, Thresholds, rollup
from madoguchi.reports.models import (
    ROLLUPS,
    ReportCase,
    ReportCursor,
    ReportLeg,
    ReportRollup,
    ReportSpanCursor,
)
from madoguchi.reports.rollups import EVENTS, SPANS, ensure_cursors
from madoguchi.reports.store import CASE_COLUMNS, LEG_COLUMNS, Store, case_rows, cube_tuples, leg_tuples

ROLLUP_COLUMNS = tuple(c.name for c in ROLLUPS.columns)


@dataclass
class Sources:
    events: EventColumns
    contacts: ContactColumns
    cases: Any
    spans: SpanColumns
    vocab: Vocab


@dataclass
class Result:
    legs: LegColumns
    cases: CaseFacts
    cube: Cube
    vocab: Vocab


@dataclass
class Timings:
    seconds: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    def lap(self, name: str, since: float) -> float:
        now = time.perf_counter()
        self.seconds[name] = round(now - since, 3)
        return now


async def load_sources(conn: AsyncConnection, *, last_event_id: int) -> Sources:
    """Events up to ``last_event_id`` first, then the contacts, cases and spans (read after them,
    so every contact an event names is there)."""
    dialect = conn.dialect.name
    events = sources.event_columns(await bulk.load_matrix(
        conn, sources.events_sql(dialect, f" AND e.id <= {int(last_event_id)}"), 9))
    kinds = [r[0] for r in await bulk.load_rows(conn, "SELECT DISTINCT channel_kind FROM contacts")]
    vocab = Vocab(sorted(k for k in kinds if k))
    channel = ("CASE channel_kind " + " ".join(f"WHEN '{k}' THEN {vocab.code(k)}" for k in vocab.words[1:])
               + " ELSE 0 END") if len(vocab.words) > 1 else "0"
    contacts_sql = sources.contacts_sql(dialect, "").replace("SELECT id, channel_kind,", f"SELECT id, {channel},", 1)
    c = await bulk.load_matrix(conn, contacts_sql, 6)
    contacts = ContactColumns(id=c[:, 0], channel=c[:, 1], inbound=c[:, 2], case_id=c[:, 3], created_ms=c[:, 4],
                              disposition_id=c[:, 5])
    cases = sources.case_columns(await bulk.load_matrix(conn, sources.cases_sql(dialect, ""), 2))
    spans = sources.span_columns(await bulk.load_matrix(conn, sources.spans_sql(dialect, ""), 5))
    return Sources(events=events, contacts=contacts, cases=cases, spans=spans, vocab=vocab)


def compute(src: Sources, *, thresholds: Thresholds, days: Days, window_ms: int) -> Result:
    legs = engine.legs(src.events, src.contacts)
    cases = engine.case_facts(src.cases, src.contacts, legs, window_ms=window_ms)
    cube = rollup(legs=legs, cases=cases, spans=src.spans, thresholds=thresholds, days=days)
    return Result(legs=legs, cases=cases, cube=cube, vocab=src.vocab)


def _tuples(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
    return [tuple(row[c] for c in columns) for row in rows]


async def write_result(conn: AsyncConnection, result: Result, *, events_position: int, spans_position: int,
                       spans: SpanColumns, now: Any) -> None:
    for table in (ReportLeg, ReportCase, ReportRollup, ReportSpanCursor):
        await conn.execute(delete(table))
    await bulk.write_rows(conn, "report_legs", LEG_COLUMNS, leg_tuples(result.legs, result.vocab))
    await bulk.write_rows(conn, "report_cases", CASE_COLUMNS, _tuples(case_rows(result.cases, result.vocab),
                                                                       CASE_COLUMNS))
    await bulk.write_rows(conn, "report_rollups", ROLLUP_COLUMNS, cube_tuples(result.cube, result.vocab,
                                                                              ROLLUP_COLUMNS))
    latest: dict[int, int] = {}
    for agent, span_id in zip(spans.agent_id.tolist(), spans.id.tolist(), strict=True):
        latest[agent] = max(span_id, latest.get(agent, 0))
    await bulk.write_rows(conn, "report_span_cursors", ("agent_id", "last_span_id"), list(latest.items()))
    await conn.execute(update(ReportCursor).where(ReportCursor.name == EVENTS).values(
        position=events_position, gaps=[], generation=ReportCursor.generation + 1, updated_at=now))
    await conn.execute(update(ReportCursor).where(ReportCursor.name == SPANS).values(
        position=spans_position, updated_at=now))


async def recompute(db: Database, *, timezone: str, fcr_window_days: int, short_abandon_s: int) -> Timings:
    """Rebuild legs, case facts and roll-ups from the raw events.

    Reading and computing take no lock; only the write is one transaction (it bumps the cursor
    generation, so a live batch computed meanwhile is computed again). Events written after the
    read are folded by the live worker on top, as usual."""
    timings = Timings()
    started = time.perf_counter()
    async with db.uow() as uow:
        await ensure_cursors(uow.session, uow.clock.now())
    async with db.read() as session:
        reporting = await load_queue_reporting(session, short_abandon_s=short_abandon_s)
    async with db.engine.connect() as conn:
        last_event_id = int((await conn.exec_driver_sql(
            "SELECT COALESCE(MAX(id), 0) FROM contact_events")).scalar_one())
        at = timings.lap("prepare", started)
        src = await load_sources(conn, last_event_id=last_event_id)
        await conn.rollback()
    at = timings.lap("load", at)
    result = compute(src, thresholds=engine_thresholds(reporting, short_abandon_s=short_abandon_s),
                     days=Days(timezone), window_ms=fcr_window_days * 86_400_000)
    at = timings.lap("compute", at)
    async with db.engine.begin() as conn:
        await write_result(conn, result, events_position=last_event_id,
                           spans_position=int(src.spans.end_ms.max()) if len(src.spans) else 0,
                           spans=src.spans, now=db.clock.now())
    timings.lap("write", at)
    timings.rows = {"events": len(src.events), "contacts": len(src.contacts), "spans": len(src.spans),
                    "legs": len(result.legs), "cases": len(result.cases), "rollups": len(result.cube)}
    timings.seconds["total"] = round(time.perf_counter() - started, 3)
    return timings


async def rederive_queue(session: AsyncSession, *, queue_id: int, thresholds: Thresholds, days: Days) -> int:
    """Recount one queue's roll-ups from its stored legs and case facts (T or the short-abandon
    limit changed). Caller commits, and bumps the cursor generation in the same transaction."""
    store = Store(session)
    vocab = Vocab()
    leg_ids = [r[0] for r in (await session.execute(
        select(ReportLeg.contact_id).where(ReportLeg.queue_id == queue_id).distinct())).all()]
    legs = await store.stored_legs(leg_ids, vocab)
    legs = legs.take(np.flatnonzero(legs.queue_id == queue_id))
    case_ids = [r[0] for r in (await session.execute(
        select(ReportCase.case_id).where(ReportCase.queue_id == queue_id))).all()]
    cases = await store.stored_cases(case_ids, vocab)
    await session.execute(delete(ReportRollup).where(ReportRollup.queue_id == queue_id))
    cube = rollup(legs=legs, cases=cases, thresholds=thresholds, days=days)
    await store.add(cube, vocab)
    await session.execute(update(ReportCursor).where(ReportCursor.name == EVENTS).values(
        generation=ReportCursor.generation + 1))
    return len(legs)
