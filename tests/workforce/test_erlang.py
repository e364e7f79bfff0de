"""Erlang B / C / A: the callcentrehelper worked example to the digit, stability from 1 to 5,000
agents against an independent log-space formula, and Erlang A against the birth–death chain."""

from __future__ import annotations

import math

import pytest

from madoguchi.workforce.erlang import (
    asa,
    erlang_a_metrics,
    erlang_b,
    erlang_c,
    erlang_c_metrics,
    occupancy,
    offered_load,
    required_agents,
    scheduled_agents,
    service_level,
)

# callcentrehelper.com, "Erlang C formula – made simple with an easy worked example": 100 calls in
# 30 minutes, AHT 3 minutes, 80 % answered in 20 s.
LOAD = offered_load(calls=100, interval_s=1800, aht_s=180)


def test_worked_example_reproduces_the_reference_figures() -> None:
    assert LOAD == 10.0
    thirteen = erlang_c_metrics(13, LOAD, aht_s=180, answer_time_s=20)
    assert round(thirteen.p_wait, 4) == 0.2853
    assert round(thirteen.service_level * 100, 2) == 79.56
    fourteen = erlang_c_metrics(14, LOAD, aht_s=180, answer_time_s=20)
    assert round(fourteen.p_wait, 4) == 0.1741
    assert round(fourteen.service_level * 100, 2) == 88.84
    assert round(fourteen.asa, 2) == 7.84
    assert round(fourteen.occupancy * 100, 1) == 71.4
    staffed = required_agents(LOAD, aht_s=180, answer_time_s=20, target=0.8)
    assert staffed == fourteen
    assert scheduled_agents(staffed.agents, 0.3) == 20


def test_single_figure_functions_agree_with_the_metrics() -> None:
    m = erlang_c_metrics(14, LOAD, aht_s=180, answer_time_s=20)
    assert erlang_c(14, LOAD) == pytest.approx(m.p_wait, rel=1e-15)
    assert service_level(14, LOAD, aht_s=180, answer_time_s=20) == pytest.approx(m.service_level, rel=1e-15)
    assert asa(14, LOAD, aht_s=180) == pytest.approx(m.asa, rel=1e-15)
    assert occupancy(14, LOAD) == m.occupancy


def _log_space_erlang_b(agents: int, load: float) -> float:
    """Independent check: B = (A^N/N!) / Σ_k A^k/k!, each term in logs, summed from the largest."""
    logs = [k * math.log(load) - math.lgamma(k + 1) for k in range(agents + 1)]
    top = max(logs)
    return math.exp(logs[-1] - top) / math.fsum(math.exp(v - top) for v in logs)


@pytest.mark.parametrize("load", [0.5, 10.0, 99.5, 1000.0, 2500.0, 4990.3])
def test_stable_and_exact_from_1_to_5000_agents(load: float) -> None:
    previous = 1.0
    for agents in range(1, 5001):
        p_wait = erlang_c(agents, load)
        assert 0.0 <= p_wait <= 1.0
        assert p_wait <= previous  # more agents never wait more
        previous = p_wait
        if agents <= load:
            assert p_wait == 1.0
        if agents % 7 == 0:
            assert 0.0 <= erlang_b(agents, load) <= 1.0
    for agents in sorted({1, 2, int(load), int(load) + 1, int(load + 3 * math.sqrt(load)) + 1, 5000}):
        if agents >= 1:
            assert erlang_b(agents, load) == pytest.approx(_log_space_erlang_b(agents, load), rel=1e-9, abs=1e-300)


def test_edges_no_load_no_agents_and_a_load_equal_to_the_agents() -> None:
    assert erlang_c(5, 0.0) == 0.0
    assert erlang_c(0, 3.0) == 1.0
    assert erlang_c(10, 10.0) == 1.0
    assert 0.99 < erlang_c(11, 10.999) < 1.0
    unstable = erlang_c_metrics(8, 10.0, aht_s=180, answer_time_s=20)
    assert (unstable.p_wait, unstable.service_level, unstable.asa, unstable.occupancy) == (1.0, 0.0, math.inf, 1.0)
    assert erlang_b(5000, 1.0) == 0.0  # underflows to 0, never NaN
    assert required_agents(0.0, aht_s=180, answer_time_s=20, target=0.8).agents == 0
    assert required_agents(10.0, aht_s=180, answer_time_s=20, target=0.01).agents == 11
    assert required_agents(4990.3, aht_s=180, answer_time_s=20, target=0.8).agents > 4990
    assert scheduled_agents(14, 0.0) == 14
    with pytest.raises(ValueError):
        required_agents(10.0, aht_s=180, answer_time_s=20, target=1.0)
    with pytest.raises(ValueError):
        scheduled_agents(14, 1.0)


def _palm_chain(agents: int, load: float, *, aht_s: float, patience_s: float) -> tuple[float, float]:
    """P(wait) and P(abandon) of M/M/N+M from its birth–death chain, truncated far out."""
    lam, mu, theta = load / aht_s, 1 / aht_s, 1 / patience_s
    p = [1.0]
    for k in range(1, agents + 4000):
        p.append(p[-1] * lam / (min(k, agents) * mu + max(0, k - agents) * theta))
    total = math.fsum(p)
    wait = math.fsum(p[agents:]) / total
    abandon = math.fsum(v * (k - agents) * theta for k, v in enumerate(p) if k > agents) / total / lam
    return wait, abandon


@pytest.mark.parametrize(("agents", "load", "patience_s"),
                         [(8, 10.0, 120.0), (14, 10.0, 120.0), (12, 10.0, 30.0), (100, 110.0, 300.0), (1, 0.5, 60.0)])
def test_erlang_a_matches_the_birth_death_chain(agents: int, load: float, patience_s: float) -> None:
    m = erlang_a_metrics(agents, load, aht_s=180, patience_s=patience_s, answer_time_s=20, short_abandon_s=0)
    wait, abandon = _palm_chain(agents, load, aht_s=180, patience_s=patience_s)
    assert m.p_wait == pytest.approx(wait, rel=1e-9)
    assert m.abandon_rate == pytest.approx(abandon, rel=1e-9)
    assert m.occupancy == pytest.approx(load * (1 - abandon) / agents, rel=1e-9)


def test_erlang_a_becomes_erlang_c_as_patience_grows() -> None:
    a = erlang_a_metrics(14, LOAD, aht_s=180, patience_s=1e9, answer_time_s=20)
    c = erlang_c_metrics(14, LOAD, aht_s=180, answer_time_s=20)
    assert a.p_wait == pytest.approx(c.p_wait, rel=1e-6)
    assert a.service_level == pytest.approx(c.service_level, rel=1e-6)
    assert a.asa == pytest.approx(c.asa, rel=1e-5)


def test_erlang_a_is_stable_overloaded_and_with_thousands_of_agents() -> None:
    overloaded = erlang_a_metrics(3000, 4990.3, aht_s=180, patience_s=120, answer_time_s=20)
    assert overloaded.p_wait == 1.0
    assert 0.3 < overloaded.abandon_rate < 0.41  # the excess load (40 %) mostly leaves
    big = erlang_a_metrics(5000, 4990.3, aht_s=180, patience_s=120, answer_time_s=20)
    for m in (overloaded, big, erlang_a_metrics(0, 10.0, aht_s=180, patience_s=60, answer_time_s=20)):
        for value in (m.p_wait, m.service_level, m.abandon_rate, m.occupancy):
            assert 0.0 <= value <= 1.0


def test_erlang_a_staffing_needs_no_more_than_erlang_c() -> None:
    a = required_agents(LOAD, aht_s=180, answer_time_s=20, target=0.8, patience_s=120)
    assert a.service_level >= 0.8
    below = erlang_a_metrics(a.agents - 1, LOAD, aht_s=180, patience_s=120, answer_time_s=20)
    assert below.service_level < 0.8
    assert a.agents <= 14
