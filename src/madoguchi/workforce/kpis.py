"""The simulator's KPIs, with the default definitions of ``shared/KPI.md``:

* service level: answered within T ÷ (answered + abandoned after T), short abandons excluded;
* P(wait): contacts that were not answered the moment they arrived ÷ offered;
* ASA: mean queue wait of handled contacts; average wait: of every contact that left the line;
* abandon rate: abandoned ÷ offered, short abandons (within ``short_abandon_s``) excluded from both;
* AHT: mean handle time of handled contacts;
* occupancy: agents' time handling ≥ 1 contact ÷ their logged-in available time (everyone is logged
  in for the whole run here), measured from the warm-up to the end of arrivals.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from madoguchi.workforce.models import Scenario


@dataclass
class QueueTally:
    """Counters one queue accumulates during a run."""

    offered: int = 0
    handled: int = 0
    waited: int = 0
    answered_in_time: int = 0
    abandoned: int = 0
    short_abandons: int = 0
    abandoned_after_t: int = 0
    wait_handled_s: float = 0.0
    wait_abandoned_s: float = 0.0
    handle_s: float = 0.0
    longest_wait_s: float = 0.0
    waiting_at_end: int = 0

    def answer(self, wait_s: float, handle_s: float, *, answer_time_s: float) -> None:
        self.handled += 1
        if wait_s > 0.0:
            self.waited += 1
        if wait_s <= answer_time_s:
            self.answered_in_time += 1
        self.wait_handled_s += wait_s
        self.handle_s += handle_s
        self.longest_wait_s = max(self.longest_wait_s, wait_s)

    def abandon(self, wait_s: float, *, answer_time_s: float, short_abandon_s: float) -> None:
        self.abandoned += 1
        self.waited += 1
        self.wait_abandoned_s += wait_s
        self.longest_wait_s = max(self.longest_wait_s, wait_s)
        if wait_s <= short_abandon_s:
            self.short_abandons += 1
        elif wait_s > answer_time_s:
            self.abandoned_after_t += 1

    def add(self, other: QueueTally) -> None:
        for name in (f.name for f in fields(QueueTally)):
            value = getattr(other, name)
            if name == "longest_wait_s":
                self.longest_wait_s = max(self.longest_wait_s, value)
            else:
                setattr(self, name, getattr(self, name) + value)


@dataclass(frozen=True)
class ContactRecord:
    """One contact's fate, for drilling into a run (``simulator.run(..., log=[])``)."""

    contact_id: int
    queue_id: int
    arrived_s: float
    left_queue_s: float           # answered or abandoned
    agent_id: int | None = None   # None: abandoned
    handle_s: float = 0.0

    @property
    def wait_s(self) -> float:
        return self.left_queue_s - self.arrived_s


@dataclass(frozen=True)
class QueueKpis:
    contacts: int            # offered (entered the queue)
    handled: int
    abandoned: int
    short_abandons: int
    waiting_at_end: int      # never answered nor abandoned (no agent could ever take them)
    p_wait: float
    service_level: float
    asa: float
    average_wait: float
    abandon_rate: float
    aht: float
    longest_wait: float

    @classmethod
    def of(cls, tally: QueueTally) -> QueueKpis:
        counted = tally.handled + tally.abandoned_after_t
        left = tally.handled + tally.abandoned
        offered_long = tally.offered - tally.short_abandons
        return cls(
            contacts=tally.offered, handled=tally.handled, abandoned=tally.abandoned,
            short_abandons=tally.short_abandons, waiting_at_end=tally.waiting_at_end,
            p_wait=_ratio(tally.waited, tally.offered),
            service_level=_ratio(tally.answered_in_time, counted, empty=1.0),
            asa=_ratio(tally.wait_handled_s, tally.handled),
            average_wait=_ratio(tally.wait_handled_s + tally.wait_abandoned_s, left),
            abandon_rate=_ratio(tally.abandoned - tally.short_abandons, offered_long),
            aht=_ratio(tally.handle_s, tally.handled), longest_wait=tally.longest_wait_s)


@dataclass(frozen=True)
class SimulationResult:
    total: QueueKpis
    queues: Mapping[int, QueueKpis]
    occupancy: float
    agents: int
    answer_time_s: float
    simulated_s: float
    events: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the totals at the top level, each queue under ``queues``."""
        out: dict[str, Any] = {**asdict(self.total), "occupancy": self.occupancy, "agents": self.agents,
                               "answer_time": self.answer_time_s, "simulated_s": self.simulated_s,
                               "events": self.events}
        out["queues"] = {str(q): asdict(k) for q, k in self.queues.items()}
        return out


def result_of(scenario: Scenario, tallies: Sequence[QueueTally], *, occupancy: float, agents: int,
              simulated_s: float, events: int) -> SimulationResult:
    total = QueueTally()
    for tally in tallies:
        total.add(tally)
    return SimulationResult(
        total=QueueKpis.of(total), occupancy=occupancy, agents=agents, answer_time_s=scenario.answer_time_s,
        queues={q.queue_id: QueueKpis.of(t) for q, t in zip(scenario.queues, tallies, strict=True)},
        simulated_s=simulated_s, events=events)


def _ratio(part: float, whole: float, *, empty: float = 0.0) -> float:
    return part / whole if whole else empty


def finite_or_none(value: float) -> float | None:
    """JSON has no infinity: an unbounded figure (ASA of a queue without steady state) is null."""
    return value if math.isfinite(value) else None
