"""Erlang B, Erlang C and Erlang A (Palm): the queue's figures for a load and a number of agents,
and the fewest agents that meet a service-level target.

Symbols: ``A`` offered load in Erlangs (calls × AHT ÷ interval), ``N`` agents, ``T`` the answer
time of the service level, ``AHT`` the mean handle time, ``patience`` the customers' mean patience.

* Erlang B by its recursion ``1/B(n) = 1 + (n/A)·1/B(n−1)``, ``B(0) = 1`` (Cooper, *Introduction to
  Queueing Theory*, 2nd ed., §2.4). No factorials, no powers: it neither overflows nor cancels, so it
  is exact to rounding from 1 to many thousand agents.
* Erlang C from B: ``P(wait) = N·B / (N − A(1 − B)) = N / (A + (N − A)/B)``; ``SL(T) = 1 − P(wait)·
  e^{−(N − A)T/AHT}``; ``ASA = P(wait)·AHT / (N − A)``; occupancy ``A/N`` (Cooper §5.2; the same
  formulas as callcentrehelper.com's "Erlang C formula – made simple"). With ``N ≤ A`` the queue
  has no steady state: ``P(wait) = 1``, SL 0, ASA infinite.
* Erlang A (M/M/N+M, exponential patience), after Palm (1943), in the form of Mandelbaum & Zeltyn,
  "The M/M/n+G queue: summary of performance measures" (Technion, 2009) and Garnett, Mandelbaum &
  Reiman, "Designing a call center with impatient customers", M&SOM 4(3), 2002: with ``x = N·patience/
  AHT``, ``y = A·patience/AHT`` and ``A(x, y) = Σ_{j≥0} y^j / ((x+1)(x+2)…(x+j))``,
  ``P(wait) = A(x,y)·B / (1 + (A(x,y) − 1)·B)`` and ``P(abandon | wait) = 1/(ρ·A(x,y)) + 1 − 1/ρ``.
  Given that it waits, ``U = e^{−V/patience}`` (V the wait it is offered) has the density
  ``x·u^{x−1}·e^{y(1−u)} / A(x,y)`` on (0, 1) — the mixture over the queue it finds of Beta(x, j+1)
  laws — which gives the service level and ASA below in closed form plus one series. The series is
  summed in log space from its largest term, so neither it nor ``e^y`` overflows.

Service level and abandon rate follow ``shared/KPI.md``: SL = answered within T ÷ (answered +
abandoned after T), abandon rate = abandoned ÷ offered, short abandons (within 5 s) excluded from both.
Under Erlang C nobody abandons, so SL is plain ``P(W ≤ T)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Terms smaller than this share of the sum are left off (below double precision).
_EPS = 1e-17
_INV_B_MAX = 1e300


@dataclass(frozen=True)
class QueueMetrics:
    """A queue's expected figures; probabilities are fractions (0.8884, not 88.84)."""

    agents: int
    load: float
    p_wait: float
    service_level: float
    asa: float                  # seconds; math.inf when the queue has no steady state
    occupancy: float
    abandon_rate: float = 0.0   # Erlang A only


def offered_load(*, calls: float, interval_s: float, aht_s: float) -> float:
    """Erlangs: the agents the work would keep busy with no waiting at all."""
    return calls * aht_s / interval_s


def scheduled_agents(agents: int, shrinkage: float) -> int:
    """Staff to schedule so that ``agents`` remain after ``shrinkage`` (breaks, training, absence)."""
    if not 0.0 <= shrinkage < 1.0:
        raise ValueError("shrinkage must be in [0, 1)")
    # The tolerance keeps 14 / 0.7 at 20 where binary fractions land a hair above it.
    return math.ceil(agents / (1.0 - shrinkage) - 1e-9)


# -- Erlang B and C ---------------------------------------------------------------------------------

def _inverse_b(agents: int, load: float) -> float:
    """``1/B(agents, load)``. The recursion forgets its start below the load (each step multiplies an
    error by n/A < 1), so it starts 9√A + 10 below min(N, A), where ∏ n/A < e^−40, from the bound
    A/(A − n) ≥ 1/B(n) instead of at 0: the start's error (< √A/9) ends below 1e-17 × 1/B, O(√A)
    steps near the load instead of O(N), and as exact."""
    if agents <= 0:
        return 1.0
    if load <= 0.0:
        return math.inf
    start = max(0, math.floor(min(agents, load) - 9.0 * math.sqrt(load) - 10.0))
    inv = load / (load - start) if start else 1.0
    scale = 1.0 / load
    middle = min(agents, math.ceil(load))
    for n in range(start + 1, middle + 1):
        inv = 1.0 + inv * n * scale
    for n in range(middle + 1, agents + 1):  # past the load 1/B only grows: stop once B is below 1e-300
        inv = 1.0 + inv * n * scale
        if inv > _INV_B_MAX:
            return math.inf
    return inv


def erlang_b(agents: int, load: float) -> float:
    """Probability that a call finds all ``agents`` busy in a loss system (no queue)."""
    return 1.0 / _inverse_b(agents, load)


def _p_wait_from_inverse_b(agents: int, load: float, inv_b: float) -> float:
    if load <= 0.0:
        return 0.0
    if agents <= load:
        return 1.0
    return min(1.0, agents / (load + (agents - load) * inv_b))


def erlang_c(agents: int, load: float) -> float:
    """P(wait): the share of calls that find every agent busy and wait (1 when ``agents ≤ load``)."""
    if load <= 0.0:
        return 0.0
    if agents <= load:
        return 1.0
    return _p_wait_from_inverse_b(agents, load, _inverse_b(agents, load))


def service_level(agents: int, load: float, *, aht_s: float, answer_time_s: float) -> float:
    """Erlang C: share of calls answered within ``answer_time_s``."""
    return _c_service_level(agents, load, erlang_c(agents, load), aht_s=aht_s, answer_time_s=answer_time_s)


def _c_service_level(agents: int, load: float, p_wait: float, *, aht_s: float, answer_time_s: float) -> float:
    if load <= 0.0:
        return 1.0
    if agents <= load:
        return 0.0
    return max(0.0, 1.0 - p_wait * math.exp(-(agents - load) * answer_time_s / aht_s))


def asa(agents: int, load: float, *, aht_s: float) -> float:
    """Erlang C: mean wait of all calls in seconds (infinite when ``agents ≤ load``)."""
    if load <= 0.0:
        return 0.0
    if agents <= load:
        return math.inf
    return erlang_c(agents, load) * aht_s / (agents - load)


def occupancy(agents: int, load: float) -> float:
    """Share of agents' available time spent handling (Erlang C: nothing is lost, so ``A/N``, at most 1)."""
    if agents <= 0:
        return 0.0
    return min(1.0, load / agents)


def erlang_c_metrics(agents: int, load: float, *, aht_s: float, answer_time_s: float) -> QueueMetrics:
    return _c_metrics(agents, load, _inverse_b(agents, load), aht_s=aht_s, answer_time_s=answer_time_s)


def _c_metrics(agents: int, load: float, inv_b: float, *, aht_s: float, answer_time_s: float) -> QueueMetrics:
    p_wait = _p_wait_from_inverse_b(agents, load, inv_b)
    if load <= 0.0:
        wait = 0.0
    elif agents <= load:
        wait = math.inf
    else:
        wait = p_wait * aht_s / (agents - load)
    return QueueMetrics(agents=agents, load=load, p_wait=p_wait,
                        service_level=_c_service_level(agents, load, p_wait, aht_s=aht_s,
                                                       answer_time_s=answer_time_s),
                        asa=wait, occupancy=occupancy(agents, load))


# -- Erlang A -----------------------------------------------------------------------------------------

def _digamma(z: float) -> float:
    """ψ(z) for z > 0: shift up to z ≥ 6, then the asymptotic series (error < 1e-13)."""
    result = 0.0
    while z < 6.0:
        result -= 1.0 / z
        z += 1.0
    f = 1.0 / (z * z)
    return result + math.log(z) - 0.5 / z - f * (1 / 12 - f * (1 / 120 - f * (1 / 252 - f * (1 / 240 - f / 132))))


def _log_a(x: float, y: float) -> float:
    """log A(x, y), A(x, y) = Σ_{j≥0} y^j / ((x+1)…(x+j))."""
    return _series(x, y, weighted=False)[0]


def _series(x: float, y: float, *, weighted: bool) -> tuple[float, float]:
    """(log A(x, y), Σ_j t_j·c_j / A(x, y)) with ``c_j = x/(x+j+1)·Σ_{i=1}^{j+1} 1/(x+i)``, which is
    ``E[V·U | j ahead]·θ``: the served part of the wait (the ASA series). Terms are summed relative to
    the largest (at j = ⌊y − x⌋), walking down and up from it until they no longer count."""
    if y <= 0.0:
        return 0.0, (x / (x + 1.0)) / (x + 1.0) if weighted else 0.0
    peak = max(0, math.floor(y - x))
    log_peak = peak * math.log(y) - (math.lgamma(x + peak + 1.0) - math.lgamma(x + 1.0)) if peak else 0.0
    if weighted:
        h_peak = (_digamma(x + peak + 2.0) - _digamma(x + 1.0)) if peak > 32 else math.fsum(
            1.0 / (x + i) for i in range(1, peak + 2))
    else:
        h_peak = 0.0
    total = 1.0
    moment = x / (x + peak + 1.0) * h_peak
    term, h, j = 1.0, h_peak, peak
    while j > 0:  # down from the peak
        term *= (x + j) / y
        h -= 1.0 / (x + j + 1.0)
        j -= 1
        total += term
        if weighted:
            moment += term * x / (x + j + 1.0) * h
        if term < _EPS * total:
            break
    term, h, j = 1.0, h_peak, peak
    while True:  # up from the peak: the ratio y/(x+j) falls below 1 and keeps falling
        j += 1
        term *= y / (x + j)
        h += 1.0 / (x + j + 1.0)
        total += term
        if weighted:
            moment += term * x / (x + j + 1.0) * h
        if term < _EPS * total:
            break
    return log_peak + math.log(total), moment / total


@dataclass(frozen=True)
class _Palm:
    """One M/M/N+M queue: x, y as in the module docstring, θ = 1/patience."""

    agents: int
    x: float
    y: float
    theta: float
    log_a: float
    log_a1: float   # log A(x + 1, y)

    def served_by(self, t: float) -> float:
        """P(answered within t | waits) = E[U·1{U ≥ e^{−θt}}]."""
        full = math.exp(self.log_a1 - self.log_a)
        if math.isinf(t):
            return self.x / (self.x + 1.0) * full
        u = math.exp(-self.theta * t)
        rest = math.exp(-(self.x + 1.0) * self.theta * t + self.y * (1.0 - u) + _log_a(self.x + 1.0, self.y * u)
                        - self.log_a)
        return max(0.0, self.x / (self.x + 1.0) * (full - rest))

    def offered_over(self, t: float) -> float:
        """P(the wait offered exceeds t | waits) = P(U < e^{−θt})."""
        u = math.exp(-self.theta * t)
        return min(1.0, math.exp(-self.x * self.theta * t + self.y * (1.0 - u) + _log_a(self.x, self.y * u)
                                 - self.log_a))

    def abandoned_by(self, t: float) -> float:
        """P(abandons within t | waits) = 1 − E[max(U, e^{−θt})]."""
        u = math.exp(-self.theta * t)
        return min(1.0, max(0.0, 1.0 - self.served_by(t) - u * self.offered_over(t)))


def erlang_a_metrics(agents: int, load: float, *, aht_s: float, patience_s: float, answer_time_s: float,
                     short_abandon_s: float = 5.0) -> QueueMetrics:
    """Erlang A (Palm's M/M/N+M): customers leave after an exponential patience of mean ``patience_s``.
    The queue is stable at any load; ``asa`` is the mean wait of answered contacts."""
    if load <= 0.0:
        return QueueMetrics(agents=agents, load=load, p_wait=0.0, service_level=1.0, asa=0.0, occupancy=0.0)
    x, y = agents * patience_s / aht_s, load * patience_s / aht_s
    log_a, served_moment = _series(x, y, weighted=True)
    palm = _Palm(agents=agents, x=x, y=y, theta=1.0 / patience_s, log_a=log_a,
                 log_a1=_log_a(x + 1.0, y))
    b = erlang_b(agents, load)
    inv_a = math.exp(-log_a)
    p_wait = min(1.0, b / (inv_a + (1.0 - inv_a) * b)) if b > 0.0 else 0.0
    abandon = p_wait * (1.0 - palm.served_by(math.inf))
    short = p_wait * palm.abandoned_by(short_abandon_s)
    answered_in_time = (1.0 - p_wait) + p_wait * palm.served_by(answer_time_s)
    counted = 1.0 - p_wait * palm.abandoned_by(max(answer_time_s, short_abandon_s))
    served = 1.0 - abandon
    return QueueMetrics(
        agents=agents, load=load, p_wait=p_wait,
        service_level=min(1.0, answered_in_time / counted) if counted > 0.0 else 0.0,
        asa=p_wait * served_moment * patience_s / served if served > 0.0 else math.inf,
        occupancy=min(1.0, load * served / agents) if agents > 0 else 0.0,
        abandon_rate=max(0.0, (abandon - short) / (1.0 - short)) if short < 1.0 else 1.0)


# -- staffing -----------------------------------------------------------------------------------------

def required_agents(load: float, *, aht_s: float, answer_time_s: float, target: float,
                    patience_s: float | None = None, short_abandon_s: float = 5.0) -> QueueMetrics:
    """The fewest agents whose service level is at least ``target`` (0 < target < 1): Erlang C, or
    Erlang A when ``patience_s`` is given."""
    if not 0.0 < target < 1.0:
        raise ValueError("target must be in (0, 1)")
    if load <= 0.0:
        return QueueMetrics(agents=0, load=load, p_wait=0.0, service_level=1.0, asa=0.0, occupancy=0.0)
    if patience_s is not None:
        return _required_erlang_a(load, aht_s=aht_s, answer_time_s=answer_time_s, target=target,
                                  patience_s=patience_s, short_abandon_s=short_abandon_s)
    # Up from ceil(A), carrying 1/B along: one step of the recursion per agent added.
    agents = max(1, math.ceil(load))
    if agents <= load:  # an integer load: N = A has no steady state
        agents += 1
    inv_b = _inverse_b(agents, load)
    scale, decay = 1.0 / load, math.exp(-answer_time_s / aht_s)
    excess = math.exp(-(agents - load) * answer_time_s / aht_s)
    # SL(N) = 1 − P(wait)·e^{−(N−A)T/AHT}, P(wait) = N / (A + (N − A)/B): inlined, as staffing a
    # day of intervals runs this loop some 10,000 times.
    while 1.0 - agents / (load + (agents - load) * inv_b) * excess < target:
        agents += 1
        inv_b = 1.0 + inv_b * agents * scale
        excess *= decay
    return _c_metrics(agents, load, inv_b, aht_s=aht_s, answer_time_s=answer_time_s)


def _required_erlang_a(load: float, *, aht_s: float, answer_time_s: float, target: float, patience_s: float,
                       short_abandon_s: float) -> QueueMetrics:
    """Bisection: the service level grows with the agents; impatient callers can make fewer than
    ceil(A) agents enough, so the search starts at 1."""
    def metrics(n: int) -> QueueMetrics:
        return erlang_a_metrics(n, load, aht_s=aht_s, patience_s=patience_s, answer_time_s=answer_time_s,
                                short_abandon_s=short_abandon_s)

    high = max(1, math.ceil(load))
    best = metrics(high)
    while best.service_level < target:
        high *= 2
        best = metrics(high)
    low = 0  # service level below target (or no agents)
    while high - low > 1:
        middle = (low + high) // 2
        trial = metrics(middle)
        if trial.service_level >= target:
            high, best = middle, trial
        else:
            low = middle
    return best
