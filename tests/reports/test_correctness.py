"""The correctness fixture of issue 7 on SQLite and PostgreSQL: hand-built contacts and spans
(tests/reports/scenario.py) whose KPIs are worked out by hand below. The live roll-ups (folded in
three steps, as events trickle in), the reports read from them, and the full recompute from the raw
events must all give those numbers, and the recompute must rebuild the very same rows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from sqlalchemy import text

from madoguchi.app import build_context
from madoguchi.context import AppContext
from madoguchi.db.leases import Lease
from madoguchi.identity.models import User
from madoguchi.reports.actions import check_set_definition
from madoguchi.reports.config import load_queue_reporting
from madoguchi.reports.cube import MEASURES
from madoguchi.reports.intervals import Interval, Window
from madoguchi.reports.queries import agent_table, disposition_table, queue_table
from madoguchi.reports.recompute import recompute
from madoguchi.reports.rollups import RollupWorker
from madoguchi.reports.schemas import DefinitionIn
from madoguchi.settings import Settings
from tests.reports.scenario import Built, advance, create_base

TZ = "Asia/Tokyo"
DAY = date(2026, 3, 2)
TEN = "2026-03-02T10:00:00+09:00"


@dataclass
class Fixture:
    ctx: AppContext
    built: Built
    worker: RollupWorker


@pytest.fixture
async def fixture(db_url: str) -> AsyncIterator[Fixture]:
    ctx = build_context(Settings(database_url=db_url, timezone=TZ))
    async with ctx.db.uow() as uow:
        built = await create_base(uow.session)
    worker = RollupWorker(ctx.db, lease=Lease(ctx.db.engine, "test.reports"), timezone=TZ, fcr_window_days=7,
                          short_abandon_s=5)
    try:
        yield Fixture(ctx, built, worker)
    finally:
        await ctx.db.engine.dispose()


async def fold_in_steps(fx: Fixture) -> None:
    for cutoff in (400, 1000, 10**7):
        async with fx.ctx.db.uow() as uow:
            await advance(uow.session, fx.built, cutoff)
        await fx.worker.drain()


async def stored(fx: Fixture) -> dict[str, set[tuple[Any, ...]]]:
    nonzero = " OR ".join(f"{m} <> 0" for m in MEASURES)
    async with fx.ctx.db.read() as session:
        return {
            "rollups": set((await session.execute(text(f"SELECT * FROM report_rollups WHERE {nonzero}"))).all()),
            "legs": set((await session.execute(text("SELECT * FROM report_legs"))).all()),
            "cases": set((await session.execute(text("SELECT * FROM report_cases"))).all()),
        }


async def queue_rows(fx: Fixture, interval: Interval = "30m", view: str = "queue", **kw: Any) -> list[dict[str, Any]]:
    window = Window(start=kw.pop("start", DAY), end=kw.pop("end", DAY), interval=interval, timezone=TZ)
    async with fx.ctx.db.read() as session:
        reporting = await load_queue_reporting(session, short_abandon_s=5)
    async with fx.ctx.db.engine.connect() as conn:
        table, _ = await queue_table(conn, window, reporting=reporting, view=view,  # type: ignore[arg-type]
                                     queue_ids=list(fx.built.queues.values()), **kw)
    return table.rows(window)


def pick(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    found = [r for r in rows if all(r.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (match, rows)
    return found[0]


def approx(value: float) -> Any:
    return pytest.approx(value, abs=1e-9)


async def check_report(fx: Fixture) -> None:
    q = fx.built.queues
    rows = await queue_rows(fx)
    a = pick(rows, interval_start=TEN, queue_id=q["A"])
    # Queue A, 10:00–10:30: eight legs entered (c1–c8).
    assert {k: a[k] for k in ("offered", "handled", "handled_in_t", "abandoned", "abandoned_short", "abandoned_in_t",
                              "flowed_out", "flowed_out_in_t", "transferred", "handle_n")} == {
        "offered": 8, "handled": 4, "handled_in_t": 3, "abandoned": 3, "abandoned_short": 1, "abandoned_in_t": 2,
        "flowed_out": 1, "flowed_out_in_t": 0, "transferred": 1, "handle_n": 4}
    # SL (default): answered within 20 s (c1 10 s, c7 20 s, c8 8 s) ÷ (4 answered + 1 abandoned after 20 s).
    assert a["service_level"] == approx(3 / 5)
    assert a["asa_s"] == approx((10 + 30 + 20 + 8) / 4)                       # 17 s
    assert a["avg_wait_s"] == approx((10 + 30 + 20 + 8 + 3 + 15 + 45 + 25) / 8)  # 19.5 s
    assert a["abandon_rate"] == approx((3 - 1) / (8 - 1))                       # short abandon out of both
    assert a["abandon_rate_all"] == approx(3 / 8)
    assert a["answer_rate"] == approx(4 / 8)
    # AHT with hold and ACW: c1 270+30+60, c2 240+0+30, c7 (transferred) 100, c8 100+20.
    assert a["aht_s"] == approx((360 + 270 + 100 + 120) / 4)                    # 212.5 s
    assert (a["avg_talk_s"], a["avg_hold_s"], a["avg_acw_s"]) == (approx(710 / 4), approx(30 / 4), approx(110 / 4))
    assert a["transfer_rate"] == approx(1 / 4)
    assert (a["csat"], a["csat_mean"]) == (approx(1 / 2), approx(4.0))          # c1 5, c2 3
    assert (a["cases_resolved"], a["cases_fcr"]) == (2, 1)                      # c2's case came back (c9)
    assert a["fcr_rate"] == approx(1 / 2)

    b = pick(rows, interval_start=TEN, queue_id=q["B"])
    # Queue B: c6 (after its flow-out), c7 (after its transfer), c10; T = 60 s.
    assert (b["offered"], b["handled"], b["handled_in_t"]) == (3, 3, 3)
    assert b["service_level"] == approx(1.0)
    assert b["asa_s"] == approx((5 + 12 + 10) / 3)
    assert b["aht_s"] == approx((70 + 70 + 70) / 3)                             # c7: 50 talk + 10 hold + 10 ACW
    assert b["avg_hold_s"] == approx(10 / 3)
    assert (b["csat"], b["csat_mean"]) == (approx(1.0), approx(4.0))
    assert b["fcr_rate"] == approx(2 / 3)                                       # c8+c10's case had two contacts

    everything = pick(await queue_rows(fx, view="all"), interval_start=TEN)
    assert (everything["offered"], everything["handled"]) == (11, 7)
    assert everything["service_level"] == approx((3 + 3) / (5 + 3))           # each queue under its own T
    assert everything["asa_s"] == approx((68 + 27) / 7)
    assert everything["aht_s"] == approx((850 + 210) / 7)
    assert everything["abandon_rate"] == approx(2 / 10)
    assert everything["fcr_rate"] == approx(3 / 5)
    assert (everything["csat"], everything["csat_mean"]) == (approx(2 / 3), approx(4.0))
    by_day = pick(await queue_rows(fx, interval="day", view="all"), interval_start="2026-03-02T00:00:00+09:00")
    assert by_day["offered"] == 11 and by_day["service_level"] == approx(6 / 8)
    # c9 came two days later: a short abandon, left out of the abandon rate (nothing left: no rate).
    later = pick(await queue_rows(fx, interval="day", view="queue", start=date(2026, 3, 4), end=date(2026, 3, 4)),
                 queue_id=q["B"])
    assert (later["offered"], later["abandoned_short"], later["abandon_rate"]) == (1, 1, None)

    await check_agents(fx)
    await check_dispositions(fx)


async def check_agents(fx: Fixture) -> None:
    x, y = fx.built.agents["X"], fx.built.agents["Y"]
    window = Window(start=DAY, end=DAY, interval="day", timezone=TZ)
    async with fx.ctx.db.engine.connect() as conn:
        agents = (await agent_table(conn, window, agent_ids=[x, y], totals=True)).rows(window)
        team = (await agent_table(conn, window, view="team", team_id=fx.built.team_id, totals=True,
                                  teams={x: fx.built.team_id, y: fx.built.team_id})).rows(window)
        quarter = Window(start=DAY, end=DAY, interval="15m", timezone=TZ)
        quarters = (await agent_table(conn, quarter, agent_ids=[x])).rows(quarter)
    ax, ay = pick(agents, agent_id=x), pick(agents, agent_id=y)
    assert (ax["handled"], ax["aht_s"]) == (4, approx(850 / 4))
    assert (ax["available_ms"], ax["busy_ms"], ax["wrap_ms"], ax["break_ms"], ax["logged_in_ms"]) == (
        600_000, 900_000, 300_000, 600_000, 2_400_000)
    assert ax["occupancy"] == approx((900 + 300) / (900 + 300 + 600))          # breaks excluded
    assert ax["utilization"] == approx((900 + 300) / 2400)                     # over logged-in time
    assert (ay["handled"], ay["aht_s"], ay["occupancy"], ay["utilization"]) == (
        3, approx(70.0), approx(600 / 1800), approx(600 / 1800))
    t = pick(team, team_id=fx.built.team_id)
    assert (t["handled"], t["occupancy"], t["utilization"]) == (7, approx(1800 / 3600), approx(1800 / 4200))
    # Spans split at quarter hours: X busy 10:10–10:25 is 5 min in the first quarter, 10 in the second.
    first = pick(quarters, interval_start=TEN)
    second = pick(quarters, interval_start="2026-03-02T10:15:00+09:00")
    assert (first["available_ms"], first["busy_ms"]) == (600_000, 300_000)
    assert (second["busy_ms"], second["wrap_ms"]) == (600_000, 300_000)


async def check_dispositions(fx: Fixture) -> None:
    window = Window(start=DAY, end=DAY, interval="total", timezone=TZ)
    async with fx.ctx.db.engine.connect() as conn:
        table = await disposition_table(conn, window, queue_ids=list(fx.built.queues.values()), totals=True)
        codes = dict((await conn.execute(text("SELECT id, code FROM dispositions"))).all())
    by_code = {codes[r["disposition_id"]]: r for r in table.rows(window)}
    assert {c: r["handle_n"] for c, r in by_code.items()} == {"resolved": 3, "spam": 1, "information": 1,
                                                               "follow_up": 1}
    assert by_code["resolved"]["aht_s"] == approx((360 + 270 + 70) / 3)


async def test_live_rollups_and_recompute_give_the_hand_computed_kpis(fixture: Fixture) -> None:
    await fold_in_steps(fixture)
    live = await stored(fixture)
    await check_report(fixture)
    # Fold again: nothing changes (idempotent).
    assert await fixture.worker.drain() == 0
    timings = await recompute(fixture.ctx.db, timezone=TZ, fcr_window_days=7, short_abandon_s=5)
    assert timings.rows["legs"] >= 13
    rebuilt = await stored(fixture)
    assert rebuilt["legs"] == live["legs"]
    assert rebuilt["cases"] == live["cases"]
    assert rebuilt["rollups"] == live["rollups"]
    await check_report(fixture)


DEFAULTS = {"threshold_s": 20, "short_abandon_s": 5, "abandons": "after_threshold", "short_abandons": "exclude",
            "flow_outs": "exclude", "method": "answered"}
OPTIONS: list[tuple[dict[str, Any], float]] = [
    # Genesys-style: every abandon counts, short ones still out: 3 ÷ (4 + 2).
    ({"abandons": "all"}, 3 / 6),
    # … and short abandons in as well: 3 ÷ (4 + 3).
    ({"abandons": "all", "short_abandons": "include"}, 3 / 7),
    # Abandons left out entirely: 3 ÷ 4.
    ({"abandons": "none"}, 3 / 4),
    # Flow-outs count as not answered in time: 3 ÷ (4 + 1 + 1).
    ({"flow_outs": "include"}, 3 / 6),
    # Amazon-style, removed from the queue within T ÷ entered, short abandons out of both:
    # (3 answered + 2 abandoned − 1 short) ÷ (8 − 1 short − 1 flow-out).
    ({"method": "removed"}, 4 / 6),
    ({"method": "removed", "flow_outs": "include"}, 4 / 7),
    # Back to the default: 3 ÷ 5.
    ({}, 3 / 5),
    # T = 30 s: c2 (30 s) now answered in time, c4 (15 s) still an abandon within T: 4 ÷ (4 + 1).
    ({"threshold_s": 30}, 4 / 5),
    # Short abandons up to 15 s: c4 becomes short too; the abandon rate drops to 1 ÷ 6.
    ({"threshold_s": 30, "short_abandon_s": 15, "abandons": "all"}, 4 / (4 + 1)),
]


async def test_service_level_under_each_definition_option(fixture: Fixture) -> None:
    await fold_in_steps(fixture)
    async with fixture.ctx.db.read() as session:
        admin = await session.scalar(text("SELECT id FROM users WHERE role = 'admin'"))
        actor = await session.get(User, admin)
    assert actor is not None
    queue_a = fixture.built.queues["A"]
    for change, expected in OPTIONS:
        async with fixture.ctx.db.uow() as uow:
            stated = await check_set_definition(uow, actor=actor, queue_id=queue_a,
                                                data=DefinitionIn(**{**DEFAULTS, **change}), short_abandon_s=5,
                                                timezone=TZ)
        a = pick(await queue_rows(fixture), interval_start=TEN, queue_id=queue_a)
        assert a["service_level"] == approx(expected), stated.definition.sentence("en")
    assert a["abandon_rate"] == approx((3 - 2) / (8 - 2))
    # The roll-ups after the changes of T are what a recompute gives.
    before = await stored(fixture)
    await recompute(fixture.ctx.db, timezone=TZ, fcr_window_days=7, short_abandon_s=5)
    assert (await stored(fixture))["rollups"] == before["rollups"]
