"""Discrete-event simulation of a contact center routed by the real ``AcdRouter``.

Time is virtual: a float of seconds from the start, kept in a heap of events (arrival, end of a
contact, customer hangs up, a skill-relaxation step comes due). The Router only sees datetimes —
``START + seconds`` — through its incremental API, exactly as the server drives it:

* a contact arrives → ``add_contact``; it waits until ``decide_now`` offers it to an agent;
* an offer is accepted at once → ``put_agent`` with the contact in the agent's load;
* the agent finishes → ``put_agent`` with the load lowered (``idle_since`` now when it reaches 0);
* the customer's patience runs out while in line → ``remove_contact``: an abandon.

After every change the Router is asked for decisions, so its strategies, skill requirements,
relaxation, priorities and capacities decide who gets what. With a seed the run is deterministic.
KPIs follow ``shared/KPI.md`` (see ``kpis.py``).
"""

from __future__ import annotations

import heapq
import math
import random
from datetime import UTC, datetime, timedelta

from madoguchi.routing.router import AcdRouter, AgentSnapshot, QueuePolicy, WaitingContact
from madoguchi.workforce.kpis import ContactRecord, QueueTally, SimulationResult, result_of
from madoguchi.workforce.models import QueueModel, Scenario

#: Virtual time 0 (a Monday, UTC). The Router's datetimes are ``START + timedelta(0, t)``: the
#: positional form parses its arguments faster than ``seconds=t`` (two per contact).
START = datetime(2026, 1, 5, tzinfo=UTC)

_ARRIVAL, _DONE, _ABANDON, _RELAX = 0, 1, 2, 3
#: Relaxation checks run a hair after the step: the Router sees times rounded to microseconds.
_RELAX_MARGIN_S = 2e-6


class _Agent:
    __slots__ = ("agent_id", "busy_since", "busy_total_s", "capacity", "idle_since", "load", "queue_ids",
                 "skills", "team_id", "total")

    def __init__(self, agent_id: int, queue_ids: frozenset[int], skills: dict[str, int],
                 capacity: dict[str, int], team_id: int | None) -> None:
        self.agent_id = agent_id
        self.queue_ids = queue_ids
        self.skills = skills
        self.capacity = capacity
        self.team_id = team_id
        self.load: dict[str, int] = {}
        self.total = 0
        self.busy_since = 0.0
        self.busy_total_s = 0.0
        self.idle_since = START

    def occupancy(self, t: float) -> float:
        busy = self.busy_total_s + (t - self.busy_since if self.total else 0.0)
        return busy / t if t > 0.0 else 0.0

    def snapshot(self, t: float) -> AgentSnapshot:
        busy = self.busy_total_s + (t - self.busy_since if self.total else 0.0)
        return AgentSnapshot(agent_id=self.agent_id, state="busy" if self.total else "available",
                             queue_ids=self.queue_ids, capacity=self.capacity, load=dict(self.load),
                             idle_since=self.idle_since, skills=self.skills, team_id=self.team_id,
                             occupancy=busy / t if t > 0.0 else 0.0)


def run(scenario: Scenario, router: AcdRouter | None = None, *,
        log: list[ContactRecord] | None = None) -> SimulationResult:
    """Simulate ``scenario`` through ``router`` (a fresh AcdRouter by default) until every contact
    has been answered and handled or has abandoned. With ``log``, each counted contact's fate is
    appended to it (answered or abandoned, when, by whom)."""
    return _Simulation(scenario, router if router is not None else AcdRouter(), log).run()


class _Simulation:
    def __init__(self, scenario: Scenario, router: AcdRouter, log: list[ContactRecord] | None) -> None:
        self.scenario = scenario
        self.router = router
        self.log = log
        self.rng = random.Random(scenario.seed)
        self.queues: tuple[QueueModel, ...] = scenario.queues
        self.tallies = [QueueTally() for _ in self.queues]
        self.relax_after: list[tuple[float, ...]] = []
        self.queue_priority: list[int] = []
        for q in self.queues:
            policy = q.policy or QueuePolicy(queue_id=q.queue_id)
            if policy.queue_id != q.queue_id:
                raise ValueError(f"queue {q.queue_id} has the policy of queue {policy.queue_id}")
            router.set_policy(policy)
            self.relax_after.append(tuple(step.after_s for step in policy.relaxation))
            self.queue_priority.append(policy.priority)  # the server copies it onto each contact too
        self.agents: list[_Agent] = []
        for group in scenario.agents:
            for _ in range(group.count):
                agent = _Agent(len(self.agents) + 1, group.queue_ids, dict(group.skills), dict(group.capacity),
                               group.team_id)
                self.agents.append(agent)
                router.put_agent(agent.snapshot(0.0))
        self.events: list[tuple[float, int, int, int, int]] = []
        self.seq = 0
        # contact id → (arrived at, queue index, handle time). The handle time is drawn at arrival
        # (and the patience too), so a run's random numbers do not depend on routing: M/M/c results
        # are the same whichever free agent the Router picks (common random numbers).
        self.waiting: dict[int, tuple[float, int, float]] = {}
        self.arrived = 0
        self.arrivals_open = True
        self.horizon = scenario.horizon_s if scenario.horizon_s is not None else math.inf
        self.end_of_arrivals = self.horizon
        self.busy_in_window_s = 0.0
        self.processed = 0
        self.clock = 0.0

    def push(self, t: float, kind: int, a: int, b: int) -> None:
        self.seq += 1
        heapq.heappush(self.events, (t, self.seq, kind, a, b))

    def run(self) -> SimulationResult:
        if self.scenario.contacts != 0:
            for index, q in enumerate(self.queues):
                first = q.arrivals.next_after(0.0, self.rng)
                if first < self.horizon:
                    self.push(first, _ARRIVAL, index, 0)
        events, pop = self.events, heapq.heappop
        while events:
            t, _, kind, a, b = pop(events)
            self.clock = t
            self.processed += 1
            if kind == _ARRIVAL:
                self.arrive(t, a)
            elif kind == _DONE:
                self.finish(t, self.agents[a], self.queues[b].channel)
            elif kind == _ABANDON:
                self.abandon(t, a)
            elif a in self.waiting:  # _RELAX: a step came due for a contact still in line
                self.route(t, START + timedelta(0, t))
        end = self.end_of_arrivals if not math.isinf(self.end_of_arrivals) else self.clock
        window = max(0.0, end - self.scenario.warmup_s) * len(self.agents)
        for _, queue_index, _ in self.waiting.values():
            self.tallies[queue_index].waiting_at_end += 1
        return result_of(self.scenario, self.tallies, occupancy=self.busy_in_window_s / window if window else 0.0,
                         agents=len(self.agents), simulated_s=self.clock, events=self.processed)

    # -- events ------------------------------------------------------------------------------------
    def arrive(self, t: float, queue_index: int) -> None:
        if not self.arrivals_open:
            return
        q = self.queues[queue_index]
        self.arrived += 1
        contact_id = self.arrived
        limit = self.scenario.contacts
        if limit is not None and self.arrived >= limit:
            self.arrivals_open = False
            self.end_of_arrivals = t
        else:
            following = q.arrivals.next_after(t, self.rng)
            if following < self.horizon:
                self.push(following, _ARRIVAL, queue_index, 0)
        if t >= self.scenario.warmup_s:
            self.tallies[queue_index].offered += 1
        self.waiting[contact_id] = (t, queue_index, q.handle.sample(self.rng))
        patience_s = q.patience.sample(self.rng) if q.patience is not None else math.inf
        now = START + timedelta(0, t)
        self.router.add_contact(WaitingContact(contact_id=contact_id, queue_id=q.queue_id, channel=q.channel,
                                               enqueued_at=now, priority=q.contact_priority,
                                               queue_priority=self.queue_priority[queue_index]))
        self.route(t, now)
        if contact_id in self.waiting:  # not answered at once: it may hang up, and may be relaxed
            if patience_s < math.inf:
                self.push(t + patience_s, _ABANDON, contact_id, 0)
            for after_s in self.relax_after[queue_index]:
                self.push(t + after_s + _RELAX_MARGIN_S, _RELAX, contact_id, 0)

    def finish(self, t: float, agent: _Agent, channel: str) -> None:
        agent.load[channel] -= 1
        agent.total -= 1
        now = START + timedelta(0, t)
        if not agent.total:
            self.close_busy(agent, t)
            agent.idle_since = now
        self.router.set_agent_load(agent.agent_id, channel, agent.load[channel],
                                   idle_since=None if agent.total else now, occupancy=agent.occupancy(t))
        if self.waiting:
            self.route(t, now)

    def abandon(self, t: float, contact_id: int) -> None:
        entry = self.waiting.pop(contact_id, None)
        if entry is None:
            return  # answered before the customer's patience ran out
        self.router.remove_contact(contact_id)
        arrived, queue_index, _ = entry
        if arrived >= self.scenario.warmup_s:
            self.tallies[queue_index].abandon(t - arrived, answer_time_s=self.scenario.answer_time_s,
                                              short_abandon_s=self.scenario.short_abandon_s)
            if self.log is not None:
                self.log.append(ContactRecord(contact_id=contact_id, queue_id=self.queues[queue_index].queue_id,
                                              arrived_s=arrived, left_queue_s=t))

    # -- routing -----------------------------------------------------------------------------------
    def route(self, t: float, now: datetime) -> None:
        decisions = self.router.decide_now(now)
        for decision in decisions:
            arrived, queue_index, handle_s = self.waiting.pop(decision.contact_id)
            q = self.queues[queue_index]
            agent = self.agents[decision.agent_id - 1]
            if arrived >= self.scenario.warmup_s:
                self.tallies[queue_index].answer(t - arrived, handle_s, answer_time_s=self.scenario.answer_time_s)
                if self.log is not None:
                    self.log.append(ContactRecord(contact_id=decision.contact_id, queue_id=q.queue_id,
                                                  arrived_s=arrived, left_queue_s=t, agent_id=agent.agent_id,
                                                  handle_s=handle_s))
            if not agent.total:
                agent.busy_since = t
            count = agent.load[q.channel] = agent.load.get(q.channel, 0) + 1
            agent.total += 1
            # The offer is accepted at once.
            self.router.set_agent_load(agent.agent_id, q.channel, count, occupancy=agent.occupancy(t))
            self.push(t + handle_s, _DONE, agent.agent_id - 1, queue_index)

    def close_busy(self, agent: _Agent, t: float) -> None:
        start = agent.busy_since
        agent.busy_total_s += t - start
        low, high = self.scenario.warmup_s, self.end_of_arrivals
        overlap = min(t, high) - max(start, low)
        if overlap > 0.0:
            self.busy_in_window_s += overlap
