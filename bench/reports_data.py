"""Synthetic contact-center history for bench/reports.py: contacts, their contact events, cases and
agent state spans, as numpy columns (seeded, vectorised: 10 million contacts in about a minute).

Each contact arrives over ``days`` days (busier 09:00–21:00 Tokyo time) in one of ``queues`` queues
(Zipf-like volumes), on web chat (85 %) or email. Of them 10 % abandon (patience ~ Exp(60 s), so a
few are short abandons), 3 % flow out after 30–90 s to another queue where they are answered, 3 %
are answered and transferred to another queue and answered again, the rest are answered after a
wait ~ Exp(20 s). Talk ~ 20 s + Exp(240 s), 10 % with one hold, ACW ~ 5 s + Exp(40 s), a disposition
out of five, 3 % wrapped up by the clock, 20 % answer the survey; 5 % of contacts come back on an
earlier contact's case. Agents (``agents``) work shifts of available / busy / wrap-up / break spans.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from madoguchi.reports.columns import EVENT_TYPES, SPAN_STATES

Ints = np.ndarray
DAY_MS = 86_400_000
START = datetime(2026, 3, 1, tzinfo=ZoneInfo("Asia/Tokyo"))
DISPOSITIONS = (("resolved", True), ("follow_up", False), ("escalated", False), ("information", True),
                ("spam", True))
CHANNELS = ("webchat", "email")


@dataclass
class Synthetic:
    start_ms: int
    days: int
    queues: int
    agents: int
    # contacts (id = index + 1)
    contact_arrived: Ints
    contact_channel: Ints  # index into CHANNELS
    contact_case: Ints
    contact_disposition: Ints  # 1-based into DISPOSITIONS, 0 none
    # events, in id order (id = index + 1)
    ev_contact: Ints
    ev_type: Ints
    ev_at: Ints
    ev_queue: Ints
    ev_agent: Ints
    ev_disposition: Ints
    ev_auto: Ints
    ev_score: Ints
    # cases (id = index + 1)
    case_resolved: Ints  # epoch ms, or -1 open
    # closed spans
    span_agent: Ints
    span_state: Ints  # SPAN_STATES code
    span_start: Ints
    span_end: Ints

    @property
    def contacts(self) -> int:
        return len(self.contact_arrived)


def _exp(rng: np.random.Generator, mean_s: float, n: int) -> Ints:
    return (rng.exponential(mean_s * 1000, n)).astype(np.int64)


def generate(contacts: int, *, days: int = 30, queues: int = 20, agents: int = 500, seed: int = 7) -> Synthetic:
    rng = np.random.default_rng(seed)
    n = contacts
    start_ms = int(START.timestamp() * 1000)
    hour_weight = np.array([1, 1, 1, 1, 1, 2, 3, 5, 8, 12, 14, 14, 13, 14, 14, 13, 12, 11, 10, 9, 8, 6, 4, 2], float)
    hour = rng.choice(24, n, p=hour_weight / hour_weight.sum())
    arrived = np.sort(start_ms + rng.integers(0, days, n) * DAY_MS + hour * 3_600_000 + rng.integers(0, 3_600_000, n))
    weights = 1 / np.arange(1, queues + 1) ** 0.7
    q1 = rng.choice(queues, n, p=weights / weights.sum()) + 1
    q2 = (q1 + rng.integers(1, queues, n) - 1) % queues + 1
    channel = (rng.random(n) < 0.15).astype(np.int64)
    pool = agents // queues
    agent1 = (q1 - 1) * pool + rng.integers(0, pool, n) + 1
    agent2 = (q2 - 1) * pool + rng.integers(0, pool, n) + 1
    roll = rng.random(n)
    abandoned, flowed, transferred = roll < 0.10, (roll >= 0.10) & (roll < 0.13), (roll >= 0.13) & (roll < 0.16)
    answered = ~abandoned
    queued = arrived + rng.integers(0, 2_000, n)

    parts: list[tuple[Ints, int, Ints, Ints, Ints, int]] = []  # contact index, type, at, queue, agent, seq

    def add(mask: Ints, kind: str, at: Ints, queue: Ints, agent: Ints | int, seq: int) -> None:
        idx = np.flatnonzero(mask)
        agents_of = agent[idx] if isinstance(agent, np.ndarray) else np.full(len(idx), agent, np.int64)
        parts.append((idx, EVENT_TYPES[kind], at[idx], queue[idx], agents_of, seq))

    every = np.ones(n, dtype=bool)
    add(every, "arrived", arrived, q1, 0, 0)
    add(every, "queued", queued, q1, 0, 1)
    abandon_at = queued + _exp(rng, 60, n)
    add(abandoned, "abandoned", abandon_at, q1, 0, 15)
    flow_at = queued + rng.integers(30_000, 90_000, n)
    add(flowed, "flowed_out", flow_at, q1, 0, 2)
    add(flowed, "requeued", flow_at, q2, 0, 3)
    # The leg that gets answered first.
    leg_start = np.where(flowed, flow_at, queued)
    accepted = leg_start + np.where(flowed, _exp(rng, 10, n), _exp(rng, 20, n))
    first_queue = np.where(flowed, q2, q1)
    first_agent = np.where(flowed, agent2, agent1)
    offered = np.maximum(leg_start, accepted - rng.integers(1_000, 5_000, n))
    add(answered, "offered", offered, first_queue, first_agent, 4)
    add(answered, "accepted", accepted, first_queue, first_agent, 5)
    talk = 20_000 + _exp(rng, 240, n)
    held = answered & (rng.random(n) < 0.10)
    held_at = accepted + talk // 3
    hold = _exp(rng, 30, n)
    add(held, "held", held_at, first_queue, first_agent, 6)
    add(held, "resumed", held_at + hold, first_queue, first_agent, 7)
    first_end = accepted + talk + np.where(held, hold, 0)
    # Transfers: the first leg ends in a transfer, a second leg in another queue is answered.
    add(transferred, "transferred", first_end, q2, agent1, 8)
    add(transferred, "queued", first_end, q2, 0, 9)
    accepted2 = first_end + _exp(rng, 10, n)
    add(transferred, "offered", np.maximum(first_end, accepted2 - 2_000), q2, agent2, 10)
    add(transferred, "accepted", accepted2, q2, agent2, 11)
    talk2 = 20_000 + _exp(rng, 120, n)
    last_queue = np.where(transferred, q2, first_queue)
    last_agent = np.where(transferred, agent2, first_agent)
    ended = np.where(transferred, accepted2 + talk2, first_end)
    add(answered, "ended", ended, last_queue, last_agent, 12)
    wrapped = ended + 5_000 + _exp(rng, 40, n)
    disposition = np.where(answered, rng.integers(1, len(DISPOSITIONS) + 1, n), 0)
    auto = answered & (rng.random(n) < 0.03)
    disposition = np.where(auto, 0, disposition)
    add(answered, "wrapped_up", wrapped, last_queue, last_agent, 13)
    rated = answered & (rng.random(n) < 0.20)
    add(rated, "csat", wrapped + 30_000, last_queue, last_agent, 14)

    contact = np.concatenate([p[0] for p in parts])
    at = np.concatenate([p[2] for p in parts])
    seq = np.concatenate([np.full(len(p[0]), p[5], np.int64) for p in parts])
    order = np.argsort(at * 16 + seq, kind="stable")  # ids follow time, as in production
    contact = contact[order]
    types = np.concatenate([np.full(len(p[0]), p[1], np.int8) for p in parts])[order]
    wrap_mask = types == EVENT_TYPES["wrapped_up"]
    csat_mask = types == EVENT_TYPES["csat"]
    scores = rng.choice(5, n, p=[0.05, 0.08, 0.17, 0.35, 0.35]) + 1

    case = np.arange(1, n + 1, dtype=np.int64)
    repeat = rng.random(n) < 0.05
    repeat[:50] = False
    case[repeat] = case[np.flatnonzero(repeat) - 50]
    resolves = np.array([False, *(r for _, r in DISPOSITIONS)])[disposition]
    case_resolved = np.full(n, -1, np.int64)
    first_of_case = ~repeat & resolves
    case_resolved[np.flatnonzero(first_of_case)] = wrapped[first_of_case]

    span_agent, span_state, span_start, span_end = _spans(rng, start_ms, days, agents)
    return Synthetic(
        start_ms=start_ms, days=days, queues=queues, agents=agents, contact_arrived=arrived, contact_channel=channel,
        contact_case=case, contact_disposition=disposition,
        ev_contact=(contact + 1).astype(np.int64), ev_type=types.astype(np.int64), ev_at=at[order],
        ev_queue=np.concatenate([p[3] for p in parts])[order].astype(np.int64),
        ev_agent=np.concatenate([p[4] for p in parts])[order].astype(np.int64),
        ev_disposition=np.where(wrap_mask, disposition[contact], 0).astype(np.int64),
        ev_auto=np.where(wrap_mask, auto[contact], 0).astype(np.int64),
        ev_score=np.where(csat_mask, scores[contact], 0).astype(np.int64),
        case_resolved=case_resolved, span_agent=span_agent, span_state=span_state, span_start=span_start,
        span_end=span_end)


def _spans(rng: np.random.Generator, start_ms: int, days: int, agents: int) -> tuple[Ints, Ints, Ints, Ints]:
    """Eight-hour shifts: available, busy, wrap-up, with a break every two hours; offline between."""
    cycle = [("available", 10), ("busy", 35), ("wrap_up", 5), ("available", 5), ("busy", 35), ("wrap_up", 5),
             ("break", 25)]
    agent_ids, states, starts, ends = [], [], [], []
    shift_start = rng.integers(7, 14, agents) * 3_600_000
    for day in range(days):
        at = start_ms + day * DAY_MS + shift_start
        for _ in range(4):
            for state, minutes in cycle:
                length = (minutes * 60_000 * rng.uniform(0.5, 1.5, agents)).astype(np.int64)
                agent_ids.append(np.arange(1, agents + 1))
                states.append(np.full(agents, SPAN_STATES[state]))
                starts.append(at)
                ends.append(at + length)
                at = at + length
        agent_ids.append(np.arange(1, agents + 1))
        states.append(np.zeros(agents, np.int64))  # offline until the next shift (ends at the next day)
        starts.append(at)
        ends.append(start_ms + (day + 1) * DAY_MS + shift_start)
    agent = np.concatenate(agent_ids).astype(np.int64)
    start = np.concatenate(starts).astype(np.int64)
    order = np.lexsort((start, agent))
    return agent[order], np.concatenate(states).astype(np.int64)[order], start[order], np.concatenate(ends)[order]
