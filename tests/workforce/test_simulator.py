"""The simulator drives the real AcdRouter: M/M/c agrees with Erlang C, M/M/c+M with Erlang A, and
the Router's skill rules, relaxation and priorities visibly shape the result.

The 200,000-contact run that must land within 1 percentage point of Erlang C is in
``bench/simulator.py`` (about 10 s); here 60,000 contacts keep the suite fast, so the tolerance is
2 points (the spread of service level over seeds at that size is about 0.9 point)."""

from __future__ import annotations

import math

import pytest

from madoguchi.routing.router import AcdRouter, QueuePolicy, RelaxStep, SkillRequirement
from madoguchi.workforce.erlang import erlang_a_metrics, erlang_c_metrics
from madoguchi.workforce.kpis import ContactRecord
from madoguchi.workforce.models import (
    AgentGroup,
    Arrivals,
    Exponential,
    LogNormal,
    QueueModel,
    Scenario,
)
from madoguchi.workforce.simulator import run

AHT = 180.0


def mmc(agents: int, load: float, contacts: int, *, patience_s: float | None = None, seed: int = 1) -> Scenario:
    return Scenario(
        queues=(QueueModel(queue_id=1, arrivals=Arrivals(rates_per_s=(load / AHT,)), handle=Exponential(AHT),
                           patience=Exponential(patience_s) if patience_s else None),),
        agents=(AgentGroup(count=agents, queue_ids=frozenset({1})),), contacts=contacts, warmup_s=3600, seed=seed)


def test_mmc_agrees_with_erlang_c() -> None:
    result = run(mmc(14, 10.0, 60_000))
    expected = erlang_c_metrics(14, 10.0, aht_s=AHT, answer_time_s=20)
    kpis = result.total
    assert kpis.service_level == pytest.approx(expected.service_level, abs=0.02)
    assert kpis.p_wait == pytest.approx(expected.p_wait, abs=0.02)
    assert kpis.asa == pytest.approx(expected.asa, rel=0.2)
    assert result.occupancy == pytest.approx(expected.occupancy, abs=0.01)
    assert kpis.aht == pytest.approx(AHT, rel=0.02)
    assert (kpis.abandoned, kpis.abandon_rate, kpis.waiting_at_end) == (0, 0.0, 0)
    assert kpis.handled == kpis.contacts


def test_impatient_customers_agree_with_erlang_a() -> None:
    kpis = run(mmc(12, 10.0, 60_000, patience_s=120)).total
    expected = erlang_a_metrics(12, 10.0, aht_s=AHT, patience_s=120, answer_time_s=20)
    assert kpis.abandoned > 0 and kpis.short_abandons > 0
    assert kpis.service_level == pytest.approx(expected.service_level, abs=0.015)
    assert kpis.p_wait == pytest.approx(expected.p_wait, abs=0.015)
    assert kpis.abandon_rate == pytest.approx(expected.abandon_rate, abs=0.005)
    assert kpis.asa == pytest.approx(expected.asa, rel=0.1)


def test_same_seed_same_run_other_seed_other_run() -> None:
    first, again, other = (run(mmc(5, 4.0, 3_000, patience_s=60, seed=s)) for s in (7, 7, 8))
    assert first == again
    assert first.total != other.total


def test_contact_log_lets_every_figure_be_recomputed() -> None:
    log: list[ContactRecord] = []
    scenario = mmc(3, 2.5, 2_000, patience_s=90)
    kpis = run(scenario, log=log).total
    handled = [r for r in log if r.agent_id is not None]
    assert len(log) == kpis.contacts and len(handled) == kpis.handled
    assert kpis.asa == pytest.approx(math.fsum(r.wait_s for r in handled) / len(handled))
    assert kpis.aht == pytest.approx(math.fsum(r.handle_s for r in handled) / len(handled))
    in_time = sum(r.wait_s <= 20 for r in handled)
    late_abandons = sum(r.agent_id is None and r.wait_s > 20 for r in log)
    assert kpis.service_level == pytest.approx(in_time / (len(handled) + late_abandons))


def test_per_interval_rates_and_lognormal_handle_times() -> None:
    arrivals = Arrivals.per_interval((100.0, 0.0, 400.0), interval_s=1800)
    scenario = Scenario(queues=(QueueModel(queue_id=1, arrivals=arrivals, handle=LogNormal(300, 200)),),
                        agents=(AgentGroup(count=40, queue_ids=frozenset({1})),), horizon_s=3 * 1800, seed=3)
    log: list[ContactRecord] = []
    kpis = run(scenario, log=log).total
    per_interval = [sum(1 for r in log if k * 1800 <= r.arrived_s < (k + 1) * 1800) for k in range(3)]
    assert per_interval[1] == 0
    assert per_interval[0] == pytest.approx(100, abs=35) and per_interval[2] == pytest.approx(400, abs=70)
    assert kpis.aht == pytest.approx(300, rel=0.15)
    assert LogNormal(300, 200).mu_sigma[1] > 0


SENIOR_JA, JUNIOR_JA = 101, 201  # first agent id of each group (groups are numbered in order)


def _skills_scenario(policy: QueuePolicy) -> Scenario:
    """One Japanese queue that wants ja ≥ 3; 2 seniors meet it, 6 juniors (ja 1) are members but
    do not. A load of 2.5 Erlangs is too much for the seniors alone."""
    return Scenario(
        queues=(QueueModel(queue_id=1, arrivals=Arrivals(rates_per_s=(2.5 / AHT,)), handle=Exponential(AHT),
                           patience=Exponential(600), policy=policy),),
        agents=(AgentGroup(count=2, queue_ids=frozenset({1}), skills={"ja": 4}),
                AgentGroup(count=6, queue_ids=frozenset({1}), skills={"ja": 1})),
        contacts=3_000, seed=5)


def test_skill_requirements_keep_unqualified_agents_out() -> None:
    log: list[ContactRecord] = []
    strict = QueuePolicy(queue_id=1, requirements=(SkillRequirement("ja", 3),))
    kpis = run(_skills_scenario(strict), log=log).total
    assert {r.agent_id for r in log if r.agent_id is not None} == {1, 2}  # only the seniors answer
    assert kpis.abandon_rate > 0.1  # two agents for 2.5 Erlangs


def test_relaxation_widens_the_agents_after_the_contact_waited() -> None:
    log: list[ContactRecord] = []
    relaxed = QueuePolicy(queue_id=1, requirements=(SkillRequirement("ja", 3),),
                          relaxation=(RelaxStep(after_s=30, requirements=(SkillRequirement("ja", 1),)),))
    kpis = run(_skills_scenario(relaxed), log=log).total
    by_juniors = [r for r in log if r.agent_id is not None and r.agent_id > 2]
    assert by_juniors, "juniors take contacts once the requirement relaxes"
    assert min(r.wait_s for r in by_juniors) >= 30  # … and never before the step
    assert kpis.abandon_rate < 0.05


def test_queue_priority_serves_the_vip_queue_first() -> None:
    rate = 4.5 / AHT / 2
    queues = tuple(QueueModel(queue_id=q, arrivals=Arrivals(rates_per_s=(rate,)), handle=Exponential(AHT),
                              policy=QueuePolicy(queue_id=q, priority=p, priority_step_s=600))
                   for q, p in ((1, 0), (2, 1)))
    result = run(Scenario(queues=queues, agents=(AgentGroup(count=5, queue_ids=frozenset({1, 2})),),
                          contacts=20_000, seed=2))
    assert result.queues[2].asa < result.queues[1].asa / 3
    assert result.total.contacts == 20_000


def test_the_router_passed_in_is_the_one_driven() -> None:
    router = AcdRouter()
    run(mmc(2, 1.0, 50), router=router)
    assert router.agent(1) is not None and router.waiting(1) == []
