"""The rules of docs/reports.md §1 stated one contact at a time, in plain Python: the oracle the
vectorised engine is held to (test_engine.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WAIT_ENDS = {"accepted": "handled", "abandoned": "abandoned", "flowed_out": "flowed_out",
             "callback_requested": "flowed_out", "ended": "other"}


@dataclass
class Ev:
    type: str
    at: int
    queue_id: int = 0
    agent_id: int = 0
    disposition_id: int = 0
    auto: int = 0
    score: int = 0


@dataclass
class Leg:
    leg: int
    queue_id: int
    queued_ms: int
    outcome: str = "waiting"
    left_ms: int | None = None
    wait_ms: int | None = None
    agent_id: int = 0
    answered_ms: int | None = None
    ended_ms: int | None = None
    wrapped_ms: int | None = None
    hold_ms: int | None = None
    talk_ms: int | None = None
    acw_ms: int | None = None
    handle_ms: int | None = None
    transferred: bool = False
    disposition_id: int = 0
    auto_wrap: int = 0
    offers: int = 0
    csat: int = 0
    events: list[Ev] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = dict(vars(self))
        out.pop("events")
        return out


def legs_of(events: list[Ev], *, fallback_disposition: int = 0) -> list[Leg]:
    legs: list[Leg] = []
    for ev in events:
        if ev.type in ("queued", "requeued"):
            legs.append(Leg(leg=len(legs), queue_id=ev.queue_id, queued_ms=ev.at))
        elif legs:
            legs[-1].events.append(ev)
    for leg in legs:
        _fold(leg, fallback_disposition)
    return legs


def _fold(leg: Leg, fallback_disposition: int) -> None:
    held_at: int | None = None
    hold = 0
    for ev in leg.events:
        if ev.type == "offered":
            leg.offers += 1
        if ev.type == "csat" and not leg.csat:
            leg.csat = ev.score
        if leg.outcome == "waiting":
            if ev.type in WAIT_ENDS:
                leg.outcome = WAIT_ENDS[ev.type]
                leg.left_ms = ev.at
                leg.wait_ms = ev.at - leg.queued_ms
                if ev.type == "accepted":
                    leg.agent_id = ev.agent_id
                    leg.answered_ms = ev.at
            continue
        if leg.outcome != "handled":
            continue
        if leg.ended_ms is None:
            if ev.type == "held":
                held_at = ev.at
            elif ev.type == "resumed" and held_at is not None:
                hold += ev.at - held_at
                held_at = None
            elif ev.type in ("ended", "transferred"):
                leg.ended_ms = ev.at
                if held_at is not None:
                    hold += ev.at - held_at
                leg.hold_ms = hold
                assert leg.answered_ms is not None
                leg.talk_ms = ev.at - leg.answered_ms - hold
                if ev.type == "transferred":
                    leg.transferred = True
                    leg.acw_ms = 0
                    leg.handle_ms = leg.talk_ms + hold
        elif ev.type == "wrapped_up" and not leg.transferred and leg.wrapped_ms is None:
            leg.wrapped_ms = ev.at
            leg.acw_ms = ev.at - leg.ended_ms
            assert leg.talk_ms is not None
            leg.handle_ms = leg.talk_ms + hold + leg.acw_ms
            leg.disposition_id = ev.disposition_id or fallback_disposition
            leg.auto_wrap = ev.auto
