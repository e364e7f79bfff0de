"""The vectorised engine against the one-contact-at-a-time oracle, over random contact lives that
follow the contact state machine (interleaved as a real event log is), and the roll-up's algebra:
adding the new legs and taking away the old ones equals summing the new legs from scratch."""

from __future__ import annotations

import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from madoguchi.reports import engine
from madoguchi.reports.columns import (
    EVENT_TYPES,
    NULL,
    OUTCOME_NAMES,
    ContactColumns,
    EventColumns,
    LegColumns,
    ints,
)
from madoguchi.reports.cube import Cube, Days, Thresholds, rollup
from tests.reports.oracle import Ev, legs_of


def life(rng: random.Random, contact_id: int, start: int) -> list[Ev]:
    """One contact's events as the state machine allows them, cut off at a random point."""
    t = start
    queue = rng.randint(1, 3)
    out = [Ev("arrived", t, queue)]

    def step(kind: str, **extra: int) -> None:
        nonlocal t
        t += rng.choice((0, 1, 7, 900, 4_000, 61_000))
        out.append(Ev(kind, t, queue, **extra))

    step("queued")
    for _ in range(rng.randint(1, 6)):
        roll = rng.random()
        if roll < 0.15:
            step("abandoned")
            return out
        if roll < 0.25:
            step("flowed_out")
            queue = rng.randint(1, 3)
            step("requeued")
            continue
        step("offered", agent_id=7)
        if rng.random() < 0.3:
            step(rng.choice(("rejected", "offer_timed_out")), agent_id=7)
            continue
        agent = rng.randint(5, 9)
        step("accepted", agent_id=agent)
        for _ in range(rng.randint(0, 2)):
            step("held", agent_id=agent)
            if rng.random() < 0.8:
                step("resumed", agent_id=agent)
            else:
                break
        if rng.random() < 0.25:
            step("transferred", agent_id=agent)
            queue = rng.randint(1, 3)
            step("queued")
            continue
        if rng.random() < 0.1:
            return out  # still being handled
        step("ended", agent_id=agent)
        if rng.random() < 0.85:
            step("wrapped_up", agent_id=agent, disposition_id=rng.choice((0, 1, 2)), auto=rng.choice((0, 0, 1)))
        if rng.random() < 0.4:
            step("csat", agent_id=agent, score=rng.randint(1, 5))
        return out
    return out


def columns(lives: dict[int, list[Ev]]) -> tuple[EventColumns, ContactColumns]:
    rows = sorted(((ev.at, cid, seq, ev) for cid, evs in lives.items() for seq, ev in enumerate(evs)),
                  key=lambda r: (r[0], r[1], r[2]))
    events = EventColumns(
        id=ints(range(1, len(rows) + 1)), contact_id=ints(r[1] for r in rows),
        type=ints(EVENT_TYPES.get(r[3].type, 0) for r in rows),
        at_ms=ints(r[0] for r in rows), queue_id=ints(r[3].queue_id for r in rows),
        agent_id=ints(r[3].agent_id for r in rows), disposition_id=ints(r[3].disposition_id for r in rows),
        auto=ints(r[3].auto for r in rows), score=ints(r[3].score for r in rows))
    ids = sorted(lives)
    contacts = ContactColumns(id=ints(ids), channel=ints(1 for _ in ids), inbound=ints(1 for _ in ids),
                              case_id=ints(ids), created_ms=ints(lives[c][0].at for c in ids),
                              disposition_id=ints(3 for _ in ids))
    return events, contacts


def leg_dicts(legs: LegColumns) -> list[dict[str, object]]:
    out = []
    for i in range(len(legs)):
        row: dict[str, object] = {}
        for name in ("leg", "queue_id", "queued_ms", "left_ms", "wait_ms", "agent_id", "answered_ms", "ended_ms",
                     "wrapped_ms", "hold_ms", "talk_ms", "acw_ms", "handle_ms", "disposition_id", "auto_wrap",
                     "offers", "csat"):
            value = int(getattr(legs, name)[i])
            row[name] = None if value == NULL else value
        row["outcome"] = OUTCOME_NAMES[int(legs.outcome[i])]
        row["transferred"] = bool(legs.transferred[i])
        row["contact_id"] = int(legs.contact_id[i])
        out.append(row)
    return out


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=2**32), st.integers(min_value=1, max_value=40))
def test_engine_legs_equal_the_oracle(seed: int, n_contacts: int) -> None:
    rng = random.Random(seed)
    lives = {cid: life(rng, cid, rng.randint(0, 3_600_000)) for cid in range(100, 100 + n_contacts)}
    events, contacts = columns(lives)
    got = leg_dicts(engine.legs(events, contacts))
    expected = []
    for cid in sorted(lives):
        for leg in legs_of(lives[cid], fallback_disposition=3):
            row = leg.as_dict()
            row["contact_id"] = cid
            expected.append(row)
    assert got == expected


def _as_rows(cube: Cube) -> set[tuple[int, ...]]:
    names = list(cube.keys)
    measures = list(cube.measures)
    return {tuple(int(cube.grain[i]), *(int(cube.keys[k][i]) for k in names),
                  *(int(cube.measures[m][i]) for m in measures)) for i in range(len(cube))}


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=0, max_value=2**32))
def test_rollup_of_a_delta_equals_the_rollup_from_scratch(seed: int) -> None:
    rng = random.Random(seed)
    lives = {cid: life(rng, cid, rng.randint(0, 86_400_000 * 2)) for cid in range(1, 30)}
    cut = {cid: evs[: rng.randint(1, len(evs))] for cid, evs in lives.items()}
    thresholds = Thresholds(default_t_ms=20_000, by_queue={2: (60_000, 5_000)})
    days = Days("Asia/Tokyo")
    old = engine.legs(*columns(cut))
    new = engine.legs(*columns(lives))
    both = LegColumns.concat([new, old])
    weight = np.concatenate([np.ones(len(new), np.int64), -np.ones(len(old), np.int64)])
    delta = rollup(legs=both, leg_weight=weight, thresholds=thresholds, days=days)
    base = rollup(legs=old, thresholds=thresholds, days=days)
    full = rollup(legs=new, thresholds=thresholds, days=days)
    # base + delta, summed per key, must equal full
    totals: dict[tuple[int, ...], np.ndarray] = {}
    for cube in (base, delta):
        for i in range(len(cube)):
            key = (int(cube.grain[i]), *(int(v[i]) for v in cube.keys.values()))
            vec = np.array([int(v[i]) for v in cube.measures.values()])
            totals[key] = totals.get(key, 0) + vec
    combined = {k: v for k, v in totals.items() if v.any()}
    expected = {(int(full.grain[i]), *(int(v[i]) for v in full.keys.values())):
                np.array([int(v[i]) for v in full.measures.values()]) for i in range(len(full))}
    assert combined.keys() == expected.keys()
    for key, vec in expected.items():
        assert (combined[key] == vec).all(), key


def _ms(text: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(text).timestamp() * 1000)


def test_local_intervals_across_a_dst_change_and_an_odd_offset() -> None:
    berlin = Days("Europe/Berlin")  # 2026-03-29 02:00 CET → 03:00 CEST
    quarters = ints([_ms("2026-03-29T00:45:00+00:00"), _ms("2026-03-29T01:00:00+00:00"),
                     _ms("2026-03-29T01:15:00+00:00")])
    hours = berlin.floor_minutes(quarters, 3_600_000)
    assert hours.tolist() == [_ms("2026-03-29T01:00:00+01:00"), _ms("2026-03-29T03:00:00+02:00"),
                              _ms("2026-03-29T03:00:00+02:00")]
    assert berlin.floor(quarters).tolist() == [_ms("2026-03-29T00:00:00+01:00")] * 3
    kathmandu = Days("Asia/Kathmandu")  # UTC+05:45: local hours start at a quarter past
    one = ints([_ms("2026-03-29T00:30:00+00:00")])
    assert kathmandu.floor_minutes(one, 3_600_000).tolist() == [_ms("2026-03-29T06:00:00+05:45")]
    assert kathmandu.floor_minutes(one, 1_800_000).tolist() == [_ms("2026-03-29T06:00:00+05:45")]
    later = ints([_ms("2026-03-29T00:45:00+00:00")])  # 06:30 local
    assert kathmandu.floor_minutes(later, 1_800_000).tolist() == [_ms("2026-03-29T06:30:00+05:45")]
    # Many rows over a short range take the per-quarter path: the same answers.
    many = np.repeat(quarters, 5)
    assert berlin.floor_minutes(many, 3_600_000).tolist() == np.repeat(hours, 5).tolist()
