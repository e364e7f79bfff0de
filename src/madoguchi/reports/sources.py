"""The SQL that turns the sources (contact events, contacts, cases, closed spans) into engine
columns. One statement per source and dialect, used alike by the live worker (a few contacts) and
the full recompute (everything), so both read the very same values."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from madoguchi.reports.columns import (
    EVENT_TYPES,
    NULL,
    SPAN_STATES,
    CaseColumns,
    ContactColumns,
    EventColumns,
    Ints,
    SpanColumns,
    Vocab,
)

CHUNK = 900  # ids per IN list


def epoch_ms(column: str, dialect: str) -> str:
    """Epoch milliseconds of a timestamp column, floored (what ``columns.epoch_ms`` computes)."""
    if dialect == "postgresql":
        return f"floor(extract(epoch FROM {column}) * 1000)::bigint"
    # SQLite stores 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC): whole seconds plus the first three digits.
    return f"(CAST(strftime('%s', {column}) AS INTEGER) * 1000 + CAST(substr({column}, 21, 3) AS INTEGER))"


def _json_text(column: str, key: str, dialect: str) -> str:
    return f"({column}->>'{key}')" if dialect == "postgresql" else f"json_extract({column}, '$.{key}')"


def _case(column: str, codes: dict[str, int]) -> str:
    whens = " ".join(f"WHEN '{name}' THEN {code}" for name, code in codes.items())
    return f"CASE {column} {whens} ELSE 0 END"


def events_sql(dialect: str, where: str) -> str:
    auto = _json_text("e.data", "auto", dialect)
    score = _json_text("e.data", "score", dialect)
    auto_true = f"{auto} = 'true'" if dialect == "postgresql" else f"{auto} IN (1, 'true')"
    score_int = f"({score})::int" if dialect == "postgresql" else f"CAST({score} AS INTEGER)"
    types = ", ".join(f"'{t}'" for t in EVENT_TYPES)
    return (
        f"SELECT e.id, e.contact_id, {_case('e.type', EVENT_TYPES)}, {epoch_ms('e.at', dialect)}, "
        "COALESCE(e.queue_id, 0), COALESCE(e.agent_id, 0), COALESCE(d.id, 0), "
        f"CASE WHEN e.type = 'wrapped_up' AND {auto_true} THEN 1 ELSE 0 END, "
        f"CASE WHEN e.type = 'csat' THEN COALESCE({score_int}, 0) ELSE 0 END "
        "FROM contact_events e LEFT JOIN dispositions d "
        f"ON e.type = 'wrapped_up' AND d.code = {_json_text('e.data', 'disposition', dialect)} "
        f"WHERE e.type IN ({types}){where} ORDER BY e.id"
    )


def contacts_sql(dialect: str, where: str) -> str:
    return (f"SELECT id, channel_kind, CASE WHEN direction = 'inbound' THEN 1 ELSE 0 END, case_id, "
            f"{epoch_ms('created_at', dialect)}, COALESCE(disposition_id, 0) FROM contacts{where} ORDER BY id")


def cases_sql(dialect: str, where: str) -> str:
    return (f"SELECT id, CASE WHEN status = 'resolved' AND resolved_at IS NOT NULL "
            f"THEN {epoch_ms('resolved_at', dialect)} ELSE {NULL} END FROM cases{where} ORDER BY id")


def spans_sql(dialect: str, where: str) -> str:
    return (f"SELECT s.id, s.agent_id, {_case('s.state', SPAN_STATES)}, {epoch_ms('s.started_at', dialect)}, "
            f"{epoch_ms('s.ended_at', dialect)} FROM agent_state_spans s WHERE s.ended_at IS NOT NULL{where} "
            "ORDER BY s.id")


def matrix(rows: Sequence[Sequence[Any]], width: int) -> Ints:
    if not rows:
        return np.zeros((0, width), dtype=np.int64)
    return np.asarray(rows, dtype=np.int64).reshape(len(rows), width)


def event_columns(m: Ints) -> EventColumns:
    return EventColumns(id=m[:, 0], contact_id=m[:, 1], type=m[:, 2], at_ms=m[:, 3], queue_id=m[:, 4],
                        agent_id=m[:, 5], disposition_id=m[:, 6], auto=m[:, 7], score=m[:, 8])


def contact_columns(rows: Iterable[Sequence[Any]], vocab: Vocab) -> ContactColumns:
    listed = [(r[0], vocab.code(r[1]), r[2], r[3], r[4], r[5]) for r in rows]
    m = matrix(listed, 6)
    return ContactColumns(id=m[:, 0], channel=m[:, 1], inbound=m[:, 2], case_id=m[:, 3], created_ms=m[:, 4],
                          disposition_id=m[:, 5])


def case_columns(m: Ints) -> CaseColumns:
    return CaseColumns(id=m[:, 0], resolved_ms=m[:, 1])


def span_columns(m: Ints) -> SpanColumns:
    return SpanColumns(id=m[:, 0], agent_id=m[:, 1], state=m[:, 2], start_ms=m[:, 3], end_ms=m[:, 4])


def chunks(ids: Sequence[int], size: int = CHUNK) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]
