"""What a simulation is made of: queues with their arrivals, handle times and patience, and groups
of agents with their skills. Plain frozen values; ``simulator.run(scenario)`` does the work."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from madoguchi.routing.router import QueuePolicy


@dataclass(frozen=True)
class Exponential:
    """Memoryless times of mean ``mean_s`` (handle times of M/M/c, Erlang A's patience)."""

    mean_s: float

    def __post_init__(self) -> None:
        if not self.mean_s > 0:
            raise ValueError("the mean must be positive")

    def sample(self, rng: random.Random) -> float:
        return rng.expovariate(1.0 / self.mean_s)


@dataclass(frozen=True)
class LogNormal:
    """Log-normal times given by their mean and standard deviation in seconds (real handle times
    have this long right tail)."""

    mean_s: float
    sd_s: float

    def __post_init__(self) -> None:
        if not (self.mean_s > 0 and self.sd_s > 0):
            raise ValueError("mean and standard deviation must be positive")

    @property
    def mu_sigma(self) -> tuple[float, float]:
        sigma2 = math.log1p((self.sd_s / self.mean_s) ** 2)
        return math.log(self.mean_s) - sigma2 / 2.0, math.sqrt(sigma2)

    def sample(self, rng: random.Random) -> float:
        mu, sigma = self.mu_sigma
        return rng.lognormvariate(mu, sigma)


Distribution = Exponential | LogNormal


@dataclass(frozen=True)
class Arrivals:
    """Poisson arrivals whose rate is constant within each interval: ``rates_per_s[k]`` holds in
    [k·interval_s, (k+1)·interval_s); the last rate holds on after the last interval."""

    rates_per_s: tuple[float, ...]
    interval_s: float = 1800.0

    def __post_init__(self) -> None:
        if not self.rates_per_s or any(r < 0 or not math.isfinite(r) for r in self.rates_per_s):
            raise ValueError("rates must be finite and not negative, at least one")
        if not self.interval_s > 0:
            raise ValueError("interval_s must be positive")

    @classmethod
    def per_interval(cls, counts: tuple[float, ...], interval_s: float = 1800.0) -> Arrivals:
        """From expected contacts per interval (a forecast)."""
        return cls(rates_per_s=tuple(c / interval_s for c in counts), interval_s=interval_s)

    def next_after(self, t: float, rng: random.Random) -> float:
        """The next arrival after ``t`` (math.inf when none comes). Exact for piecewise-constant
        rates: an exponential gap that crosses into the next interval is drawn again from the
        boundary with that interval's rate, which memorylessness allows."""
        rates, interval = self.rates_per_s, self.interval_s
        last = len(rates) - 1
        while True:
            k = min(int(t // interval), last)
            rate = rates[k]
            end = (k + 1) * interval if k < last else math.inf
            if rate > 0.0:
                candidate = t + rng.expovariate(rate)
                if candidate < end:
                    return candidate
            if math.isinf(end):
                return math.inf
            t = end


@dataclass(frozen=True)
class QueueModel:
    """One queue: its contacts' arrivals, channel, handle times and patience (None: they never
    hang up), and the routing policy the Router applies (default: the queue's plain policy)."""

    queue_id: int
    arrivals: Arrivals
    handle: Distribution
    channel: str = "voice"
    patience: Exponential | None = None
    policy: QueuePolicy | None = None
    contact_priority: int = 0


@dataclass(frozen=True)
class AgentGroup:
    """``count`` identical agents, logged in and available for the whole run."""

    count: int
    queue_ids: frozenset[int]
    skills: Mapping[str, int] = field(default_factory=dict)
    capacity: Mapping[str, int] = field(default_factory=lambda: {"voice": 1})
    team_id: int | None = None


@dataclass(frozen=True)
class Scenario:
    """Arrivals stop after ``contacts`` contacts in all or at ``horizon_s``, whichever comes first
    (at least one is needed); the run then drains. Contacts arriving before ``warmup_s`` are served
    but not counted, and occupancy is measured from ``warmup_s`` to the end of arrivals."""

    queues: tuple[QueueModel, ...]
    agents: tuple[AgentGroup, ...]
    contacts: int | None = None
    horizon_s: float | None = None
    answer_time_s: float = 20.0
    short_abandon_s: float = 5.0
    warmup_s: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.contacts is None and self.horizon_s is None:
            raise ValueError("give contacts, horizon_s or both")
        if self.contacts is not None and self.contacts < 0:
            raise ValueError("contacts must not be negative")
        if len({q.queue_id for q in self.queues}) != len(self.queues):
            raise ValueError("queue ids must be unique")
        if any(g.count < 0 for g in self.agents):
            raise ValueError("agent counts must not be negative")
