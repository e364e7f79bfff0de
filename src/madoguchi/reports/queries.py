"""Report reads from the roll-ups: interval tables by queue, channel, agent, team and disposition,
as columns (a 30-day × 30-minute × 20-queue table is ~29,000 rows: no per-row Python on the way)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from madoguchi.agents.models import AgentStateSpan
from madoguchi.identity.models import Team, User
from madoguchi.reports import kpis
from madoguchi.reports.bulk import load_matrix, load_rows
from madoguchi.reports.columns import SPAN_STATES, Ints, SpanColumns, Vocab, epoch_ms
from madoguchi.reports.config import QueueReporting
from madoguchi.reports.cube import BUCKET_MS, GRAINS, MEASURES, Days, Thresholds, group_ids, rollup
from madoguchi.reports.intervals import Window

QueueView = Literal["queue", "channel", "all"]
AgentView = Literal["agent", "team"]
VALUES = (*MEASURES, *kpis.PARTS)


@dataclass
class Table:
    """Report rows as columns: ``keys`` (``interval_ms`` first), summed ``values`` (measures and
    service-level parts) and derived ``kpis``."""

    keys: dict[str, Ints]
    values: dict[str, Ints]
    kpis: dict[str, kpis.Floats] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(next(iter(self.values.values())))

    def rows(self, window: Window, labels: Mapping[str, Mapping[int, str]] | None = None) -> list[dict[str, Any]]:
        keys = {k: v.tolist() for k, v in self.keys.items()}
        values = {k: v.tolist() for k, v in self.values.items()}
        derived = {k: [None if np.isnan(x) else float(x) for x in v] for k, v in self.kpis.items()}
        out = []
        for i in range(len(self)):
            row: dict[str, Any] = {}
            for k, column in keys.items():
                if k == "interval_ms":
                    row["interval_start"] = window.label(column[i]) if column[i] >= 0 else None
                else:
                    row[k] = column[i]
                    if labels and k in labels:
                        row[k.removesuffix("_id") + "_name"] = labels[k].get(column[i], "")
            row.update({k: v[i] for k, v in values.items()})
            row.update({k: v[i] for k, v in derived.items()})
            out.append(row)
        return out


def regroup(table: Table, keys: Sequence[str]) -> Table:
    """Sum the rows that share ``keys`` and derive the KPIs."""
    n = len(table)
    key_columns = [table.keys[k] for k in keys] if keys else [np.zeros(n, dtype=np.int64)]
    if n == 0:
        return Table(keys={k: np.zeros(0, np.int64) for k in keys},
                     values={k: np.zeros(0, np.int64) for k in VALUES}, kpis=kpis.ratios(
                         {k: np.zeros(0, np.int64) for k in VALUES}))
    gid, distinct = group_ids(key_columns)
    groups = len(distinct[0])
    values = {k: np.bincount(gid, weights=v.astype(np.float64), minlength=groups).round().astype(np.int64)
              for k, v in table.values.items()}
    out_keys = dict(zip(keys, distinct, strict=False))
    return Table(keys=out_keys, values=values, kpis=kpis.ratios(values))


SPAN_MEASURES = ("available_ms", "busy_ms", "wrap_ms", "break_ms", "logged_in_ms")
#: What each dimension's rows can hold (agent state time only on agent rows).
DIM_MEASURES = {"agent": MEASURES, **{d: tuple(m for m in MEASURES if m not in SPAN_MEASURES)
                                      for d in ("queue", "channel", "disposition")}}


async def _fetch(conn: AsyncConnection, window: Window, *, dim: str, group: Sequence[str], where: str,
                 params: Mapping[str, Any]) -> Sequence[Sequence[Any]] | Ints:
    """Sums per bucket of the window's grain and ``group``; the grouping follows the roll-up key,
    so the database streams it without sorting. Integer keys come back as one matrix (PostgreSQL:
    binary COPY), no Python object per value."""
    sums = ", ".join(f"CAST(SUM({m}) AS BIGINT)" for m in DIM_MEASURES[dim])
    cols = ", ".join(["bucket_ms", *group])
    sql = _bind(f"SELECT {cols}, {sums} FROM report_rollups WHERE dim = '{dim}' AND grain = '{window.grain}' "
                f"AND bucket_ms >= {window.start_ms} AND bucket_ms < {window.end_ms}{where} GROUP BY {cols}", params)
    if "channel" in group:
        return await load_rows(conn, sql)
    return await load_matrix(conn, sql, len(group) + 1 + len(DIM_MEASURES[dim]))


def _bind(sql: str, params: Mapping[str, Any]) -> str:
    """Inline the few filter values (integers and a checked channel word) into the SQL."""
    for name, value in params.items():
        if isinstance(value, list | tuple):
            literal = ", ".join(str(int(v)) for v in value) or "NULL"
        elif isinstance(value, int):
            literal = str(value)
        else:
            text = str(value)
            if not text.replace("_", "").replace("-", "").isalnum():
                raise ValueError(f"bad filter value {text!r}")
            literal = f"'{text}'"
        sql = sql.replace(f":{name}", literal)
    return sql


def _to_table(rows: Sequence[Sequence[Any]] | Ints, names: Sequence[str], window: Window, *, dim: str,
              text_columns: Mapping[str, Vocab] | None = None) -> Table:
    measures = DIM_MEASURES[dim]
    width = len(names) + 1 + len(measures)
    if text_columns:
        rows = [tuple(text_columns[n].code(v) if n in text_columns else v
                      for n, v in zip(("interval_ms", *names), r[:len(names) + 1], strict=True)) +
                tuple(r[len(names) + 1:]) for r in rows]
    m = rows if isinstance(rows, np.ndarray) else np.asarray(rows, dtype=np.int64).reshape(len(rows), width)
    interval = m[:, 0] if window.grain != "day" else window.fold_days(m[:, 0])
    keys = {"interval_ms": interval, **{n: m[:, i + 1] for i, n in enumerate(names)}}
    found = {name: m[:, len(names) + 1 + i] for i, name in enumerate(measures)}
    zero = np.zeros(len(m), dtype=np.int64)
    return Table(keys=keys, values={name: found.get(name, zero) for name in MEASURES})


def _with_parts(table: Table, reporting: Mapping[int, QueueReporting]) -> Table:
    """Each row's service-level and abandon parts under its queue's definition."""
    queue_ids = table.keys["queue_id"]
    size = max([0, *reporting, int(queue_ids.max()) if len(queue_ids) else 0]) + 1
    per_queue = kpis.Options.of([reporting[q].definition if q in reporting else None for q in range(size)])
    options = kpis.Options(*(getattr(per_queue, f.name)[queue_ids] for f in fields(kpis.Options)))
    return Table(keys=table.keys, values={**table.values, **kpis.parts(table.values, options)})


async def queue_table(conn: AsyncConnection, window: Window, *, reporting: Mapping[int, QueueReporting],
                      view: QueueView = "queue", queue_ids: Sequence[int] = (), channel: str | None = None,
                      totals: bool = False) -> tuple[Table, Vocab]:
    """Intervals × queue (or channel, or all queues); ``totals`` drops the interval."""
    where, params = "", dict[str, Any]()
    if queue_ids:
        where += " AND queue_id IN (:queues)"
        params["queues"] = list(queue_ids)
    if channel:
        where += " AND channel = :channel"
        params["channel"] = channel
    vocab = Vocab()
    group = ["queue_id", "channel"] if view == "channel" else ["queue_id"]
    dim = "channel" if view == "channel" or channel else "queue"
    rows = await _fetch(conn, window, dim=dim, group=group, where=where, params=params)
    fine = _with_parts(_to_table(rows, group, window, dim=dim,
                                 text_columns={"channel": vocab} if view == "channel" else None), reporting)
    keys = {"queue": ["queue_id"], "channel": ["channel"], "all": []}[view]
    return regroup(fine, keys if totals else ["interval_ms", *keys]), vocab


async def agent_table(conn: AsyncConnection, window: Window, *, view: AgentView = "agent",
                      queue_ids: Sequence[int] = (), channel: str | None = None, team_id: int | None = None,
                      agent_ids: Sequence[int] = (), open_spans: SpanColumns | None = None,
                      teams: Mapping[int, int] | None = None, totals: bool = False) -> Table:
    """Intervals × agent (or team). Filters on queue and channel narrow the contact figures; state
    time belongs to the agent whatever the queue. ``open_spans`` (clipped to now) add the time of
    the states agents are in now."""
    where, params = "", dict[str, Any]()
    if queue_ids:
        where += " AND (queue_id IN (:queues) OR queue_id = 0)"
        params["queues"] = list(queue_ids)
    if channel:
        where += " AND (channel = :channel OR channel = '')"
        params["channel"] = channel
    if agent_ids:
        where += " AND agent_id IN (:agents)"
        params["agents"] = list(agent_ids)
    if team_id is not None:
        where += " AND agent_id IN (SELECT id FROM users WHERE team_id = :team)"
        params["team"] = team_id
    rows = await _fetch(conn, window, dim="agent", group=["agent_id"], where=where, params=params)
    fine = _to_table(rows, ["agent_id"], window, dim="agent")
    if open_spans is not None and len(open_spans):
        fine = _concat(fine, _live_spans(open_spans, window))
    fine = Table(keys=fine.keys, values={**fine.values, **{p: np.zeros(len(fine), np.int64) for p in kpis.PARTS}})
    if view == "team":
        mapping = teams or {}
        fine.keys["team_id"] = np.asarray([mapping.get(a, 0) for a in fine.keys["agent_id"].tolist()], np.int64)
    key = "team_id" if view == "team" else "agent_id"
    return regroup(fine, [key] if totals else ["interval_ms", key])


def _concat(a: Table, b: Table) -> Table:
    return Table(keys={k: np.concatenate([a.keys[k], b.keys[k]]) for k in a.keys},
                 values={k: np.concatenate([a.values[k], b.values[k]]) for k in a.values})


def _live_spans(spans: SpanColumns, window: Window) -> Table:
    """The open spans' time so far, in the window's grain."""
    cube = rollup(spans=spans, thresholds=Thresholds(), days=Days(window.timezone))
    bucket = cube.keys["bucket_ms"]
    keep = (cube.grain == GRAINS.index(window.grain)) & (bucket >= window.start_ms) & (bucket < window.end_ms)
    bucket = bucket[keep]
    interval = bucket if window.grain != "day" else window.fold_days(bucket)
    return Table(keys={"interval_ms": interval, "agent_id": cube.keys["agent_id"][keep]},
                 values={m: cube.measures[m][keep] for m in MEASURES})


async def disposition_table(conn: AsyncConnection, window: Window, *, queue_ids: Sequence[int] = (),
                            channel: str | None = None, totals: bool = False) -> Table:
    where, params = "", dict[str, Any]()
    if queue_ids:
        where += " AND queue_id IN (:queues)"
        params["queues"] = list(queue_ids)
    if channel:
        where += " AND channel = :channel"
        params["channel"] = channel
    rows = await _fetch(conn, window, dim="disposition", group=["disposition_id"], where=where, params=params)
    fine = _to_table(rows, ["disposition_id"], window, dim="disposition")
    fine = Table(keys=fine.keys, values={**fine.values, **{p: np.zeros(len(fine), np.int64) for p in kpis.PARTS}})
    return regroup(fine, ["disposition_id"] if totals else ["interval_ms", "disposition_id"])


async def open_spans(session: AsyncSession, *, now_ms: int, agent_ids: Sequence[int] | None = None) -> SpanColumns:
    """Every agent's current span, ending now."""
    statement = select(AgentStateSpan.id, AgentStateSpan.agent_id, AgentStateSpan.state,
                       AgentStateSpan.started_at).where(AgentStateSpan.ended_at.is_(None))
    if agent_ids:
        statement = statement.where(AgentStateSpan.agent_id.in_(list(agent_ids)))
    rows = (await session.execute(statement)).all()
    return SpanColumns(id=np.asarray([r[0] for r in rows], np.int64),
                       agent_id=np.asarray([r[1] for r in rows], np.int64),
                       state=np.asarray([SPAN_STATES.get(r[2], 0) for r in rows], np.int64),
                       start_ms=np.asarray([epoch_ms(r[3]) for r in rows], np.int64),
                       end_ms=np.full(len(rows), now_ms, np.int64))


async def team_of_agents(session: AsyncSession) -> tuple[dict[int, int], dict[int, str], dict[int, str]]:
    """agent → team, agent → name, team → name."""
    users = (await session.execute(select(User.id, User.team_id, User.display_name))).all()
    teams = dict((await session.execute(select(Team.id, Team.name))).all())
    return ({u: t or 0 for u, t, _ in users}, {u: n for u, _, n in users}, {int(k): str(v) for k, v in teams.items()})


__all__ = ["BUCKET_MS", "Table", "agent_table", "disposition_table", "queue_table"]
