"""Reports benchmark (issue 7): 10 million synthetic contacts over 30 days in 20 queues.

    .venv/bin/python bench/reports.py [--contacts 10000000] [--db-contacts 1000000] [--db sqlite,postgres]
                                      [--repeat 5] [--json]

What it measures, on the same data in the same run:

1. **Full recompute, compute step**: the report engine (reports/engine.py, reports/cube.py) turns every
   raw contact event, agent span and case into legs, case facts and all roll-ups (15 min and day;
   queue, agent and disposition dimensions) — from columns in memory.
2. **duckdb** on the same raw events, loaded into its own tables beforehand: the 30-day queue ×
   30-minute report straight from the events (legs by window function, then per queue and interval:
   offered, handled, answered within T, abandons, short abandons, flow-outs, wait and handle sums).
   Its counts are checked against the engine's: the two must agree.
3. **The 30-day queue × 30-minute report from roll-ups** on PostgreSQL and SQLite
   (reports/queries.py: SQL sums per interval and queue, then every KPI for every row, as the API
   does before JSON), best of ``--repeat`` warm runs. The roll-ups are the ones step 1 computed.
4. **End to end on a database** (``--db-contacts``, smaller by default): the raw rows loaded into
   PostgreSQL (COPY) and SQLite (executemany), then ``madoguchi reports recompute``'s code path
   (read from the database, compute, write legs, case facts, roll-ups), and its roll-ups compared with
   the in-memory computation of the same data.

The machine is a shared 2-core host: every figure comes with the load average at the time.
``duckdb`` is in the ``bench`` extra (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reports_data import CHANNELS, DISPOSITIONS, Synthetic, generate

from madoguchi.bus.memory import MemoryBus
from madoguchi.db.engine import make_engine, make_sessionmaker
from madoguchi.db.uow import Database
from madoguchi.kernel.clock import SystemClock
from madoguchi.migrate import migrate
from madoguchi.reports import bulk
from madoguchi.reports.columns import (
    EVENT_TYPES,
    NULL,
    CaseColumns,
    ContactColumns,
    EventColumns,
    SpanColumns,
    Vocab,
)
from madoguchi.reports.config import load_queue_reporting
from madoguchi.reports.cube import Days, Thresholds
from madoguchi.reports.intervals import Window
from madoguchi.reports.queries import queue_table
from madoguchi.reports.recompute import ROLLUP_COLUMNS, Sources, compute, recompute
from madoguchi.reports.store import cube_tuples

TZ = "Asia/Tokyo"
T_MS, SHORT_MS = 60_000, 5_000  # every bench queue: service_level_s 60, short abandons ≤ 5 s
PG_ADMIN = os.environ.get("MADOGUCHI_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
T = TypeVar("T")


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def sources_of(data: Synthetic) -> Sources:
    vocab = Vocab(sorted(CHANNELS))
    codes = np.asarray([vocab.code(c) for c in CHANNELS], np.int64)
    n_events = len(data.ev_type)
    events = EventColumns(id=np.arange(1, n_events + 1, dtype=np.int64), contact_id=data.ev_contact,
                          type=data.ev_type, at_ms=data.ev_at, queue_id=data.ev_queue, agent_id=data.ev_agent,
                          disposition_id=data.ev_disposition, auto=data.ev_auto, score=data.ev_score)
    n = data.contacts
    contacts = ContactColumns(id=np.arange(1, n + 1, dtype=np.int64), channel=codes[data.contact_channel],
                              inbound=np.ones(n, np.int64), case_id=data.contact_case, created_ms=data.contact_arrived,
                              disposition_id=data.contact_disposition)
    cases = CaseColumns(id=np.arange(1, n + 1, dtype=np.int64),
                        resolved_ms=np.where(data.case_resolved >= 0, data.case_resolved, NULL))
    closed = data.span_state >= 0
    spans = SpanColumns(id=np.arange(1, len(data.span_agent) + 1, dtype=np.int64)[closed],
                        agent_id=data.span_agent[closed], state=data.span_state[closed],
                        start_ms=data.span_start[closed], end_ms=data.span_end[closed])
    return Sources(events=events, contacts=contacts, cases=cases, spans=spans, vocab=vocab)


# -- duckdb ------------------------------------------------------------------------------------------

DUCK_REPORT = f"""
WITH e AS (
  SELECT contact_id, id, type, at_ms, queue_id,
         SUM(CASE WHEN type IN ({EVENT_TYPES['queued']}, {EVENT_TYPES['requeued']}) THEN 1 ELSE 0 END)
           OVER (PARTITION BY contact_id ORDER BY id ROWS UNBOUNDED PRECEDING) AS leg
  FROM events),
l AS (
  SELECT contact_id, leg,
    arg_min(at_ms, id) FILTER (WHERE type IN ({EVENT_TYPES['queued']}, {EVENT_TYPES['requeued']})) AS queued,
    arg_min(queue_id, id) FILTER (WHERE type IN ({EVENT_TYPES['queued']}, {EVENT_TYPES['requeued']})) AS queue_id,
    MIN(id) FILTER (WHERE type = {EVENT_TYPES['accepted']}) AS acc_id,
    MIN(at_ms) FILTER (WHERE type = {EVENT_TYPES['accepted']}) AS acc,
    MIN(id) FILTER (WHERE type = {EVENT_TYPES['abandoned']}) AS ab_id,
    MIN(at_ms) FILTER (WHERE type = {EVENT_TYPES['abandoned']}) AS ab,
    MIN(id) FILTER (WHERE type IN ({EVENT_TYPES['flowed_out']}, {EVENT_TYPES['callback_requested']})) AS fo_id,
    MIN(at_ms) FILTER (WHERE type IN ({EVENT_TYPES['flowed_out']}, {EVENT_TYPES['callback_requested']})) AS fo,
    MIN(id) FILTER (WHERE type = {EVENT_TYPES['ended']}) AS end_id,
    MIN(at_ms) FILTER (WHERE type = {EVENT_TYPES['ended']}) AS ended,
    MIN(id) FILTER (WHERE type = {EVENT_TYPES['transferred']}) AS tr_id,
    MIN(at_ms) FILTER (WHERE type = {EVENT_TYPES['transferred']}) AS tr,
    MIN(at_ms) FILTER (WHERE type = {EVENT_TYPES['wrapped_up']}) AS wrapped,
    COALESCE(SUM(at_ms) FILTER (WHERE type = {EVENT_TYPES['held']}), 0) AS held_sum,
    COUNT(*) FILTER (WHERE type = {EVENT_TYPES['held']}) AS held_n,
    COALESCE(SUM(at_ms) FILTER (WHERE type = {EVENT_TYPES['resumed']}), 0) AS resumed_sum,
    COUNT(*) FILTER (WHERE type = {EVENT_TYPES['resumed']}) AS resumed_n
  FROM e WHERE leg > 0 GROUP BY contact_id, leg),
o AS (
  SELECT *, LEAST(COALESCE(acc_id, 9e18), COALESCE(ab_id, 9e18), COALESCE(fo_id, 9e18), COALESCE(end_id, 9e18))
    AS left_id FROM l),
f AS (
  SELECT queue_id, queued,
    CASE WHEN left_id = acc_id THEN 1 WHEN left_id = ab_id THEN 2 WHEN left_id = fo_id THEN 3
         WHEN left_id = end_id THEN 4 ELSE 0 END AS outcome,
    CASE WHEN left_id = acc_id THEN acc WHEN left_id = ab_id THEN ab WHEN left_id = fo_id THEN fo
         WHEN left_id = end_id THEN ended END - queued AS wait,
    LEAST(COALESCE(end_id, 9e18), COALESCE(tr_id, 9e18)) AS done_id, tr_id, end_id, ended, tr, acc, wrapped,
    resumed_sum - held_sum + (held_n - resumed_n) * CASE WHEN COALESCE(tr_id, 9e18) < COALESCE(end_id, 9e18)
      THEN tr ELSE ended END AS hold
  FROM o)
SELECT queue_id,
  (queued + {{offset}}) // 1800000 * 1800000 - {{offset}} AS bucket,
  COUNT(*) AS offered,
  COUNT(*) FILTER (WHERE outcome = 1) AS handled,
  COUNT(*) FILTER (WHERE outcome = 1 AND wait <= {T_MS}) AS handled_in_t,
  COUNT(*) FILTER (WHERE outcome = 2) AS abandoned,
  COUNT(*) FILTER (WHERE outcome = 2 AND wait <= {SHORT_MS}) AS abandoned_short,
  COUNT(*) FILTER (WHERE outcome = 2 AND wait <= {T_MS}) AS abandoned_in_t,
  COUNT(*) FILTER (WHERE outcome = 3) AS flowed_out,
  COALESCE(SUM(wait) FILTER (WHERE outcome = 1), 0) AS wait_handled_ms,
  COUNT(*) FILTER (WHERE outcome = 1 AND (tr_id < COALESCE(end_id, 9e18) OR wrapped IS NOT NULL)) AS handle_n,
  COALESCE(SUM(CASE WHEN tr_id < COALESCE(end_id, 9e18) THEN tr - acc
                    WHEN wrapped IS NOT NULL THEN wrapped - acc END) FILTER (WHERE outcome = 1), 0) AS handle_ms
FROM f GROUP BY 1, 2
"""
DUCK_COLUMNS = ("offered", "handled", "handled_in_t", "abandoned", "abandoned_short", "abandoned_in_t", "flowed_out",
                "wait_handled_ms", "handle_n", "handle_ms")


def duckdb_report(src: Sources, repeat: int) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads TO 2")
    e = src.events
    columns = {"id": e.id, "contact_id": e.contact_id, "type": e.type.astype(np.int8), "at_ms": e.at_ms,
               "queue_id": e.queue_id.astype(np.int32)}
    con.register("raw_events", columns)
    _, load_s = timed(lambda: con.execute("CREATE TABLE events AS SELECT * FROM raw_events"))
    con.unregister("raw_events")
    offset = int(datetime(2026, 3, 1, tzinfo=Days(TZ).zone).utcoffset().total_seconds() * 1000)  # type: ignore[union-attr]
    sql = DUCK_REPORT.replace("{offset}", str(offset))
    runs = []
    rows: list[Any] = []
    for _ in range(repeat):
        rows, seconds = timed(lambda: con.execute(sql).fetchall())
        runs.append(seconds)
    con.close()
    return {"load_s": round(load_s, 3), "query_s": round(min(runs), 3), "runs_s": [round(r, 3) for r in runs],
            "rows": rows}


def engine_queue_report(cube: Any) -> dict[tuple[int, int], tuple[int, ...]]:
    """The engine's queue × 30-minute sums, keyed like duckdb's rows (Tokyo has a constant offset)."""
    keys, measures = cube.keys, cube.measures
    mask = (cube.grain == 0) & (keys["dim"] == 0)
    bucket = keys["bucket_ms"][mask]
    offset = 9 * 3_600_000
    half = (bucket + offset) // 1_800_000 * 1_800_000 - offset
    out: dict[tuple[int, int], np.ndarray] = {}
    cols = np.stack([measures[c][mask] for c in DUCK_COLUMNS], axis=1)
    for q, b, row in zip(keys["queue_id"][mask].tolist(), half.tolist(), cols, strict=True):
        out[(q, b)] = out.get((q, b), 0) + row
    # Rows with only case or survey figures (counted when the case was resolved) are not in duckdb's.
    return {k: tuple(int(x) for x in v) for k, v in out.items() if np.any(v)}


# -- databases ---------------------------------------------------------------------------------------

async def fresh_database(kind: str, workdir: Path, name: str) -> str:
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{workdir / name}.db"  # a fresh temporary directory per run
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return PG_ADMIN.rpartition("/")[0].replace("postgresql://", "postgresql+asyncpg://") + "/" + name


def database(url: str) -> Database:
    engine = make_engine(url)
    return Database(engine=engine, sessions=make_sessionmaker(engine), clock=SystemClock(), bus=MemoryBus())


async def base_rows(db: Database, data: Synthetic) -> None:
    """Team, agents, queues and dispositions with the ids the synthetic data uses."""
    sqlite = db.engine.dialect.name == "sqlite"
    now: Any = _sqlite_ts(np.asarray([data.start_ms]))[0] if sqlite else datetime.now(UTC)
    async with db.engine.begin() as conn:
        await bulk.write_rows(conn, "teams", ("id", "name", "created_at"), [(1, "Bench", now)])
        await bulk.write_rows(conn, "users", ("id", "email", "display_name", "role", "password_hash", "team_id",
                                              "active", "created_at"),
                              [(i, f"a{i}@bench.test", f"Agent {i}", "agent", "!", 1, True, now)
                               for i in range(1, data.agents + 1)])
        await bulk.write_rows(conn, "queues", ("id", "name", "priority", "service_level_s", "strategy", "requirements",
                                               "relaxation", "overflow", "priority_step_s", "default_aht_s",
                                               "created_at"),
                              [(i, f"Q{i:02d}", 0, T_MS // 1000, "longest_idle", "[]", "[]", "[]", 60, 300, now)
                               for i in range(1, data.queues + 1)])
        await bulk.write_rows(conn, "dispositions", ("id", "code", "label_en", "label_ja", "resolves_case", "active",
                                                     "created_at"),
                              [(i + 1, code, code, code, resolves, True, now)
                               for i, (code, resolves) in enumerate(DISPOSITIONS)])
        if conn.dialect.name == "postgresql":
            for table in ("teams", "users", "queues", "dispositions"):
                await conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                           f"(SELECT MAX(id) FROM {table}))")


def _ts(ms: np.ndarray) -> list[datetime]:
    base = datetime(1970, 1, 1, tzinfo=UTC)
    return [base + timedelta(milliseconds=v) for v in ms.tolist()]


def _sqlite_ts(ms: np.ndarray) -> list[str]:
    """What SQLAlchemy writes for a UTC datetime on SQLite: 'YYYY-MM-DD HH:MM:SS.ffffff'."""
    text = np.datetime_as_string(ms.astype("datetime64[ms]").astype("datetime64[us]"), unit="us")
    return [s.replace("T", " ") for s in text.tolist()]


async def load_raw(db: Database, data: Synthetic) -> dict[str, float]:
    """Customers, cases, contacts, contact events and spans, the fastest way each database takes."""
    timings: dict[str, float] = {}
    n = data.contacts
    sqlite = db.engine.dialect.name == "sqlite"
    stamp = _sqlite_ts if sqlite else _ts
    codes = {v: k for k, v in EVENT_TYPES.items()}
    disposition_codes = ["", *(c for c, _ in DISPOSITIONS)]
    async with db.engine.begin() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        if sqlite:
            await raw.execute("PRAGMA foreign_keys=OFF")
        else:
            await raw.execute("SET session_replication_role = replica")  # no FK triggers during the load
        started = time.perf_counter()
        customers = max(1, n // 10)
        created = stamp(data.contact_arrived[::10][:customers])
        await bulk.write_rows(conn, "customers", ("id", "display_name", "attributes", "created_at", "updated_at"),
                              [(i + 1, None, "{}", created[i], created[i]) for i in range(customers)])
        arrived = stamp(data.contact_arrived)
        resolved = data.case_resolved
        resolved_at = stamp(np.maximum(resolved, 0))
        await bulk.write_rows(conn, "cases", ("id", "customer_id", "subject", "status", "priority", "created_at",
                                              "resolved_at"),
                              [(i + 1, i // 10 + 1, "bench", "resolved" if resolved[i] >= 0 else "open", 0, arrived[i],
                                resolved_at[i] if resolved[i] >= 0 else None) for i in range(n)])
        channel = [CHANNELS[c] for c in data.contact_channel.tolist()]
        disposition = data.contact_disposition.tolist()
        await bulk.write_rows(conn, "contacts", ("id", "customer_id", "case_id", "channel_kind", "direction", "state",
                                                 "priority", "disposition_id", "created_at"),
                              [(i + 1, i // 10 + 1, int(data.contact_case[i]), channel[i], "inbound", "closed", 0,
                                disposition[i] or None, arrived[i]) for i in range(n)])
        timings["contacts_s"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        at = stamp(data.ev_at)
        types = [codes[t] for t in data.ev_type.tolist()]
        queue, agent = data.ev_queue.tolist(), data.ev_agent.tolist()
        disp, auto, score = data.ev_disposition.tolist(), data.ev_auto.tolist(), data.ev_score.tolist()

        def payload(i: int) -> str:
            kind = types[i]
            if kind == "wrapped_up":
                return json.dumps({"disposition": None, "auto": True} if auto[i] else
                                  {"disposition": disposition_codes[disp[i]]})
            if kind == "csat":
                return json.dumps({"score": score[i]})
            return "{}"

        step = 2_000_000
        for lo in range(0, len(types), step):
            hi = min(len(types), lo + step)
            await bulk.write_rows(conn, "contact_events", ("id", "contact_id", "type", "at", "queue_id", "agent_id",
                                                           "data"),
                                  [(i + 1, int(data.ev_contact[i]), types[i], at[i], queue[i] or None,
                                    agent[i] or None, payload(i)) for i in range(lo, hi)])
        timings["events_s"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        states = {0: "offline", 1: "available", 2: "busy", 3: "wrap_up", 4: "break"}
        starts, ends = stamp(data.span_start), stamp(data.span_end)
        await bulk.write_rows(conn, "agent_state_spans", ("id", "agent_id", "state", "reason", "started_at",
                                                          "ended_at"),
                              [(i + 1, int(a), states[s], "lunch" if s == 4 else None, starts[i], ends[i])
                               for i, (a, s) in enumerate(zip(data.span_agent.tolist(), data.span_state.tolist(),
                                                              strict=True))])
        timings["spans_s"] = round(time.perf_counter() - started, 1)
    if not sqlite:
        async with db.engine.connect() as conn:
            await conn.exec_driver_sql("ANALYZE")
            await conn.commit()
    return timings


async def write_rollups(db: Database, cube: Any, vocab: Vocab) -> float:
    rows = cube_tuples(cube, vocab, ROLLUP_COLUMNS)
    started = time.perf_counter()
    async with db.engine.begin() as conn:
        await conn.exec_driver_sql("DELETE FROM report_rollups")
        await bulk.write_rows(conn, "report_rollups", ROLLUP_COLUMNS, rows)
    async with db.engine.connect() as conn:
        await conn.exec_driver_sql("ANALYZE")
        await conn.commit()
    return time.perf_counter() - started


async def report_from_rollups(db: Database, data: Synthetic, repeat: int) -> dict[str, Any]:
    """The 30-day queue × 30-minute report, as the API builds it (SQL sums, then KPIs per row)."""
    first = datetime.fromtimestamp(data.start_ms / 1000, Days(TZ).zone).date()
    window = Window(start=first, end=first + timedelta(days=data.days - 1), interval="30m", timezone=TZ)
    async with db.read() as session:
        reporting = await load_queue_reporting(session, short_abandon_s=SHORT_MS // 1000)
    runs = []
    rows = 0
    for _ in range(repeat):
        started = time.perf_counter()
        async with db.engine.connect() as conn:
            table, _ = await queue_table(conn, window, reporting=reporting)
        runs.append(time.perf_counter() - started)
        rows = len(table)
    return {"seconds": round(min(runs), 4), "runs_s": [round(r, 4) for r in runs], "rows": rows}


async def rollup_rows(db: Database) -> set[tuple[Any, ...]]:
    async with db.engine.connect() as conn:
        return set(await bulk.load_rows(conn, "SELECT " + ", ".join(ROLLUP_COLUMNS) + " FROM report_rollups"))


# -- main ----------------------------------------------------------------------------------------------

async def run(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"host": {"cpus": os.cpu_count(), "load_average_start": load_average()},
                           "contacts": args.contacts, "days": args.days, "queues": args.queues}
    data, gen_s = timed(lambda: generate(args.contacts, days=args.days, queues=args.queues, agents=args.agents))
    src = sources_of(data)
    out["generated"] = {"seconds": round(gen_s, 1), "events": len(src.events), "spans": len(src.spans)}
    thresholds = Thresholds(default_t_ms=T_MS, default_short_ms=SHORT_MS)
    days = Days(TZ)
    result, compute_s = timed(lambda: compute(src, thresholds=thresholds, days=days, window_ms=7 * 86_400_000))
    out["engine"] = {"full_recompute_compute_s": round(compute_s, 3), "legs": len(result.legs),
                     "rollup_rows": len(result.cube), "load_average": load_average()}
    duck = duckdb_report(src, args.repeat)
    ours = engine_queue_report(result.cube)
    theirs = {(int(r[0]), int(r[1])): tuple(int(x) for x in r[2:]) for r in duck.pop("rows")}
    out["duckdb"] = {**duck, "agrees_with_engine": ours == theirs, "rows": len(theirs),
                     "load_average": load_average()}
    out["engine"]["ratio_to_duckdb"] = round(compute_s / duck["query_s"], 2)

    workdir = Path(tempfile.mkdtemp(prefix="mdg-bench-reports-"))
    for kind in args.db:
        url = await fresh_database(kind, workdir, "mdg_bench_reports")
        db = database(url)
        try:
            await migrate(db.engine)
            await base_rows(db, data)
            write_s = await write_rollups(db, result.cube, src.vocab)
            report = await report_from_rollups(db, data, args.repeat)
            out[kind] = {"rollups_written_s": round(write_s, 1), "report_30d_queue_30m": report,
                         "load_average": load_average()}
        finally:
            await db.engine.dispose()

    small = data if args.db_contacts >= args.contacts else generate(args.db_contacts, days=args.days,
                                                                     queues=args.queues, agents=args.agents)
    small_src = sources_of(small)
    expected = compute(small_src, thresholds=thresholds, days=days, window_ms=7 * 86_400_000)
    expected_rows = set(cube_tuples(expected.cube, small_src.vocab, ROLLUP_COLUMNS))
    for kind in args.db:
        url = await fresh_database(kind, workdir, "mdg_bench_reports_e2e")
        db = database(url)
        try:
            await migrate(db.engine)
            await base_rows(db, small)
            loaded = await load_raw(db, small)
            timings = await recompute(db, timezone=TZ, fcr_window_days=7, short_abandon_s=SHORT_MS // 1000)
            stored = await rollup_rows(db)
            out[f"{kind}_end_to_end"] = {"contacts": small.contacts, "raw_load_s": loaded,
                                         "recompute_s": timings.seconds, "rows": timings.rows,
                                         "same_rollups_as_in_memory": stored == expected_rows,
                                         "load_average": load_average()}
        finally:
            await db.engine.dispose()
    out["host"]["load_average_end"] = load_average()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=10_000_000)
    parser.add_argument("--db-contacts", type=int, default=1_000_000, help="size of the end-to-end database run")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--queues", type=int, default=20)
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--db", type=lambda s: [x for x in s.split(",") if x], default=["postgres", "sqlite"])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    args.db = ["postgresql" if d == "postgres" else d for d in args.db]
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return 0
    e, d = result["engine"], result["duckdb"]
    print(f"{args.contacts:,} contacts, {result['generated']['events']:,} events, {result['generated']['spans']:,} "
          f"spans over {args.days} days, {args.queues} queues (generated in {result['generated']['seconds']} s)")
    print(f"full recompute, compute step: {e['full_recompute_compute_s']} s "
          f"({e['legs']:,} legs, {e['rollup_rows']:,} roll-up rows)")
    print(f"duckdb, same report from the raw events: {d['query_s']} s (best of {args.repeat}; load {d['load_s']} s); "
          f"agrees with the engine: {d['agrees_with_engine']}")
    print(f"recompute ÷ duckdb: {e['ratio_to_duckdb']} (target ≤ 2)")
    for kind in args.db:
        r = result[kind]["report_30d_queue_30m"]
        print(f"{kind}: 30-day queue × 30-minute report from roll-ups: {r['seconds']} s, {r['rows']:,} rows "
              f"(best of {args.repeat}: {r['runs_s']}; target < 0.2 s)")
    for kind in args.db:
        r = result[f"{kind}_end_to_end"]
        print(f"{kind} end to end, {r['contacts']:,} contacts: load raw {r['raw_load_s']}; recompute "
              f"{r['recompute_s']}; same roll-ups as in memory: {r['same_rollups_as_in_memory']}")
    print(f"load average {result['host']['load_average_start']} → {result['host']['load_average_end']} "
          f"on {result['host']['cpus']} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
