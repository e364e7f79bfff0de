"""Reads and writes of the report tables for a few contacts at a time (the live worker): sources
into engine columns, stored legs and case facts back into columns, and roll-up deltas added in
place (``INSERT … ON CONFLICT DO UPDATE SET m = m + excluded.m`` on SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import bindparam, delete, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from madoguchi.db.base import UtcDateTime
from madoguchi.reports import sources
from madoguchi.reports.columns import (
    NULL,
    OUTCOME_NAMES,
    CaseColumns,
    CaseFacts,
    ContactColumns,
    EventColumns,
    LegColumns,
    SpanColumns,
    Vocab,
    ints,
)
from madoguchi.reports.cube import DIMS, GRAINS, MEASURES, Cube
from madoguchi.reports.models import CASES, LEGS, ROLLUPS, SPAN_CURSORS, ReportSpanCursor

OUTCOME_CODES = {name: code for code, name in OUTCOME_NAMES.items()}
LEG_TIMES = ("left_ms", "wait_ms", "answered_ms", "ended_ms", "wrapped_ms", "hold_ms", "talk_ms", "acw_ms",
             "handle_ms")
LEG_COLUMNS = ("contact_id", "leg", "queue_id", "channel", "inbound", "arrived_ms", "queued_ms", "outcome",
               *LEG_TIMES, "agent_id", "transferred", "disposition_id", "auto_wrap", "offers", "csat")
CASE_COLUMNS = ("case_id", "resolved_ms", "queue_id", "channel", "agent_id", "inbound", "reopened", "fcr")


def _nullable(value: int) -> int | None:
    return None if value == NULL else value


def leg_rows(legs: LegColumns, vocab: Vocab) -> list[dict[str, Any]]:
    """Legs as table rows (NULL for missing times, names for codes)."""
    cols = {name: getattr(legs, name).tolist() for name in LEG_COLUMNS}
    rows = []
    for i in range(len(legs)):
        row = {name: cols[name][i] for name in LEG_COLUMNS}
        for name in LEG_TIMES:
            row[name] = _nullable(row[name])
        row["channel"] = vocab.word(row["channel"])
        row["outcome"] = OUTCOME_NAMES[row["outcome"]]
        for name in ("inbound", "transferred", "auto_wrap"):
            row[name] = bool(row[name])
        rows.append(row)
    return rows


def legs_from_rows(rows: Sequence[Any], vocab: Vocab) -> LegColumns:
    data: dict[str, list[int]] = {name: [] for name in LEG_COLUMNS}
    for row in rows:
        for name, value in zip(LEG_COLUMNS, row, strict=True):
            if name == "channel":
                value = vocab.code(value)
            elif name == "outcome":
                value = OUTCOME_CODES[value]
            elif value is None:
                value = NULL
            data[name].append(int(value))
    return LegColumns(**{name: ints(values) for name, values in data.items()})


def case_rows(facts: CaseFacts, vocab: Vocab) -> list[dict[str, Any]]:
    cols = {name: getattr(facts, name).tolist() for name in CASE_COLUMNS}
    rows = []
    for i in range(len(facts)):
        row = {name: cols[name][i] for name in CASE_COLUMNS}
        row["channel"] = vocab.word(row["channel"])
        row["reopened"], row["fcr"] = bool(row["reopened"]), bool(row["fcr"])
        rows.append(row)
    return rows


def cube_rows(cube: Cube, vocab: Vocab) -> list[dict[str, Any]]:
    rows = []
    for piece in cube.pieces:
        keys = {k: v.tolist() for k, v in piece.keys.items()}
        sums = {m: v.tolist() for m, v in piece.sums.items()}
        zeros = {m: 0 for m in MEASURES if m not in sums}
        grain = GRAINS[piece.grain]
        for i in range(len(piece)):
            row: dict[str, Any] = {"grain": grain, "dim": DIMS[keys["dim"][i]],
                                   "channel": vocab.word(keys["channel"][i]), "bucket_ms": keys["bucket_ms"][i],
                                   "queue_id": keys["queue_id"][i], "agent_id": keys["agent_id"][i],
                                   "disposition_id": keys["disposition_id"][i], **zeros}
            for m, values in sums.items():
                row[m] = values[i]
            rows.append(row)
    return rows


def leg_tuples(legs: LegColumns, vocab: Vocab) -> list[tuple[Any, ...]]:
    """Legs as tuples in LEG_COLUMNS order, built column by column (bulk writes)."""
    columns: list[list[Any]] = []
    for name in LEG_COLUMNS:
        values = getattr(legs, name).tolist()
        if name in LEG_TIMES:
            values = [None if v == NULL else v for v in values]
        elif name == "channel":
            values = [vocab.word(v) for v in values]
        elif name == "outcome":
            values = [OUTCOME_NAMES[v] for v in values]
        elif name in ("inbound", "transferred", "auto_wrap"):
            values = [bool(v) for v in values]
        columns.append(values)
    return list(zip(*columns, strict=True))


def cube_tuples(cube: Cube, vocab: Vocab, columns: Sequence[str]) -> list[tuple[Any, ...]]:
    """Roll-up rows as tuples in ``columns`` order, built column by column (bulk writes)."""
    out: list[tuple[Any, ...]] = []
    for piece in cube.pieces:
        n = len(piece)
        values: list[Any] = []
        for column in columns:
            if column == "grain":
                values.append(itertools.repeat(GRAINS[piece.grain], n))
            elif column == "dim":
                values.append([DIMS[d] for d in piece.keys["dim"].tolist()])
            elif column == "channel":
                values.append([vocab.word(c) for c in piece.keys["channel"].tolist()])
            elif column in piece.keys:
                values.append(piece.keys[column].tolist())
            elif column in piece.sums:
                values.append(piece.sums[column].tolist())
            else:
                values.append(itertools.repeat(0, n))
        out.extend(zip(*values, strict=False))
    return out


class Store:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name

    async def _rows(self, sql: str, ids: Sequence[int] | None = None, **params: Any) -> list[Any]:
        if ids is None:
            return list((await self.session.execute(text(sql), params)).all())
        out: list[Any] = []
        statement = text(sql).bindparams(bindparam("ids", expanding=True))
        for chunk in sources.chunks(list(ids)):
            out.extend((await self.session.execute(statement, {"ids": list(chunk), **params})).all())
        return out

    async def events_of(self, contact_ids: Sequence[int]) -> EventColumns:
        rows = await self._rows(sources.events_sql(self.dialect, " AND e.contact_id IN :ids"), contact_ids)
        rows.sort(key=lambda r: r[0])
        return sources.event_columns(sources.matrix(rows, 9))

    async def contacts(self, contact_ids: Sequence[int], vocab: Vocab) -> ContactColumns:
        rows = await self._rows(sources.contacts_sql(self.dialect, " WHERE id IN :ids"), contact_ids)
        rows.sort(key=lambda r: r[0])
        return sources.contact_columns(rows, vocab)

    async def contacts_of_cases(self, case_ids: Sequence[int], vocab: Vocab) -> ContactColumns:
        rows = await self._rows(sources.contacts_sql(self.dialect, " WHERE case_id IN :ids"), case_ids)
        rows.sort(key=lambda r: r[0])
        return sources.contact_columns(rows, vocab)

    async def cases(self, case_ids: Sequence[int]) -> CaseColumns:
        rows = await self._rows(sources.cases_sql(self.dialect, " WHERE id IN :ids"), case_ids)
        rows.sort(key=lambda r: r[0])
        return sources.case_columns(sources.matrix(rows, 2))

    async def stored_legs(self, contact_ids: Sequence[int], vocab: Vocab) -> LegColumns:
        table = LEGS
        statement = select(*(table.c[n] for n in LEG_COLUMNS)).where(
            table.c.contact_id.in_(bindparam("ids", expanding=True)))
        rows: list[Any] = []
        for chunk in sources.chunks(list(contact_ids)):
            rows.extend((await self.session.execute(statement, {"ids": list(chunk)})).all())
        rows.sort(key=lambda r: (r[0], r[1]))
        return legs_from_rows(rows, vocab) if rows else LegColumns.empty()

    async def stored_cases(self, case_ids: Sequence[int], vocab: Vocab) -> CaseFacts:
        table = CASES
        statement = select(*(table.c[n] for n in CASE_COLUMNS)).where(
            table.c.case_id.in_(bindparam("ids", expanding=True)))
        rows: list[Any] = []
        for chunk in sources.chunks(list(case_ids)):
            rows.extend((await self.session.execute(statement, {"ids": list(chunk)})).all())
        if not rows:
            return CaseFacts.empty()
        m = sources.matrix([(r[0], r[1], r[2], vocab.code(r[3]), r[4], r[5], int(r[6]), int(r[7])) for r in rows], 8)
        return CaseFacts(**{name: m[:, i] for i, name in enumerate(CASE_COLUMNS)})

    async def replace_legs(self, contact_ids: Sequence[int], legs: LegColumns, vocab: Vocab) -> None:
        table = LEGS
        for chunk in sources.chunks(list(contact_ids)):
            await self.session.execute(delete(table).where(table.c.contact_id.in_(list(chunk))))
        rows = leg_rows(legs, vocab)
        if rows:
            await self.session.execute(insert(table), rows)

    async def replace_cases(self, case_ids: Sequence[int], facts: CaseFacts, vocab: Vocab) -> None:
        table = CASES
        for chunk in sources.chunks(list(case_ids)):
            await self.session.execute(delete(table).where(table.c.case_id.in_(list(chunk))))
        rows = case_rows(facts, vocab)
        if rows:
            await self.session.execute(insert(table), rows)

    async def add(self, cube: Cube, vocab: Vocab) -> None:
        """Add the cube's sums to the stored roll-ups (new keys are inserted)."""
        rows = cube_rows(cube, vocab)
        if not rows:
            return
        table = ROLLUPS
        statement = (pg_insert(table) if self.dialect == "postgresql" else sqlite_insert(table))
        statement = statement.on_conflict_do_update(
            index_elements=[c.name for c in table.primary_key.columns],
            set_={m: table.c[m] + statement.excluded[m] for m in MEASURES})
        await self.session.execute(statement, rows)

    async def closed_spans_since(self, since: datetime) -> SpanColumns:
        """Spans closed at or after ``since`` that the roll-ups do not hold yet (per agent cursor)."""
        statement = text(sources.spans_sql(self.dialect, " AND s.ended_at >= :since")).bindparams(
            bindparam("since", type_=UtcDateTime()))
        rows = (await self.session.execute(statement, {"since": since})).all()
        spans = sources.span_columns(sources.matrix(rows, 5))
        if not len(spans):
            return spans
        agents = sorted(set(spans.agent_id.tolist()))
        cursors = dict((await self.session.execute(
            select(ReportSpanCursor.agent_id, ReportSpanCursor.last_span_id).where(
                ReportSpanCursor.agent_id.in_(agents)))).all())
        last = np.asarray([cursors.get(a, 0) for a in spans.agent_id.tolist()], dtype=np.int64)
        return spans.take(np.flatnonzero(spans.id > last))

    async def advance_span_cursors(self, spans: SpanColumns) -> None:
        latest: dict[int, int] = {}
        for agent, span_id in zip(spans.agent_id.tolist(), spans.id.tolist(), strict=True):
            latest[agent] = max(span_id, latest.get(agent, 0))
        if not latest:
            return
        table = SPAN_CURSORS
        statement = pg_insert(table) if self.dialect == "postgresql" else sqlite_insert(table)
        statement = statement.on_conflict_do_update(index_elements=["agent_id"],
                                                    set_={"last_span_id": statement.excluded.last_span_id})
        await self.session.execute(statement, [{"agent_id": a, "last_span_id": s} for a, s in latest.items()])
