"""Router benchmark: decisions per second and decision latency of the AcdRouter's incremental API
in a busy steady state — 1,000 agents, 50 skills, 100 queues, 10,000 contacts waiting.

    .venv/bin/python bench/router.py [--steps 3000] [--relaxation none|skills|team] [--channels voice|mixed]
                                     [--updates load|snapshot]
                                     [--json] [--profile]

Set-up (seeded): 100 queues (voice, or with ``--channels mixed`` voice, chat and email with capacities
1, 3 and 5), each requiring one or two of 50 skills at
level 1–3, strategies in rotation (longest idle, most skilled, least occupied, round robin); 1,000
agents with 4–8 skills at level 1–5 in 20 teams, each a member of every queue whose requirements it
meets (queues nobody meets get the five most skilled agents); all agents busy; 10,000 contacts in
line, spread over the queues.

Each step is what happens when an agent finishes a contact: the Router is told of the lower load,
then ``decide_now`` — the agent usually gets the best contact among its queues at once — then of
the accepted offer (the load raised) and of a new arrival (``add_contact``) to keep 10,000 waiting.
A decision latency is one load change + ``decide_now`` pair; decisions per second count every
decision over the whole loop, bookkeeping included (also per CPU-second of this process, which a
busy shared host disturbs less than wall clock).

``--updates``: ``load`` (default) tells the Router of each change of load with ``set_agent_load``, as
the simulator does; ``snapshot`` hands it a whole new ``AgentSnapshot`` through ``put_agent`` each
time (the heavier way, kept for comparison).

``--relaxation``: ``none``; ``skills`` (after 30 s any level of the same skills); ``team`` (also, after
120 s, anyone in a team of the queue's members) — with 10,000 waiting, every contact is past its steps.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import json
import pstats
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from madoguchi.routing.router import (
    AcdRouter,
    AgentSnapshot,
    QueuePolicy,
    RelaxStep,
    Scope,
    SkillRequirement,
    Strategy,
    WaitingContact,
)

AGENTS, SKILLS, QUEUES, WAITING, TEAMS = 1_000, 50, 100, 10_000, 20
CAPACITY = {"voice": 1, "chat": 3, "email": 5}
MIXED = ("voice", "voice", "chat", "email")
STRATEGIES = tuple(Strategy)
START = datetime(2026, 1, 5, tzinfo=UTC)


class Bench:
    def __init__(self, *, seed: int, relaxation: str, channels: str = "voice", by_load: bool = False) -> None:
        self.by_load = by_load
        self.rng = rng = random.Random(seed)
        self.router = AcdRouter()
        self.channel: dict[int, str] = {}
        self.policies: list[QueuePolicy] = []
        for q in range(1, QUEUES + 1):
            reqs = tuple(SkillRequirement(f"s{s:02d}", rng.randint(1, 3))
                         for s in rng.sample(range(SKILLS), rng.choice((1, 1, 2))))
            steps: tuple[RelaxStep, ...] = ()
            if relaxation in ("skills", "team"):
                steps = (RelaxStep(after_s=30, requirements=tuple(SkillRequirement(r.skill, 1) for r in reqs)),)
            if relaxation == "team":
                steps += (RelaxStep(after_s=120, requirements=(), scope=Scope.TEAM),)
            policy = QueuePolicy(queue_id=q, strategy=STRATEGIES[q % len(STRATEGIES)], priority=rng.choice((0, 0, 1)),
                                 requirements=reqs, relaxation=steps)
            self.policies.append(policy)
            self.router.set_policy(policy)
            self.channel[q] = MIXED[q % len(MIXED)] if channels == "mixed" else "voice"
        self.skills = [{f"s{s:02d}": rng.randint(1, 5) for s in rng.sample(range(SKILLS), rng.randint(4, 8))}
                       for _ in range(AGENTS)]
        members: list[set[int]] = [set() for _ in range(AGENTS)]
        for policy in self.policies:
            qualified = [a for a in range(AGENTS) if all(r.met_by(self.skills[a]) for r in policy.requirements)]
            if not qualified:  # nobody meets it: the five most skilled in its first skill (and raise them)
                first = policy.requirements[0]
                qualified = sorted(range(AGENTS), key=lambda a: -self.skills[a].get(first.skill, 0))[:5]
                for a in qualified:
                    for r in policy.requirements:
                        self.skills[a][r.skill] = max(self.skills[a].get(r.skill, 0), r.min_level)
            for a in qualified:
                members[a].add(policy.queue_id)
        self.queue_ids = [frozenset(m) for m in members]
        self.load: list[dict[str, int]] = []
        self.handling: list[list[int]] = [[] for _ in range(AGENTS)]  # queue of each contact in hand
        self.clock = 3600.0  # the line built below arrived over the last hour
        self.next_contact = 0
        for a in range(AGENTS):  # everyone busy with one contact of one of their queues
            q = rng.choice(sorted(self.queue_ids[a])) if self.queue_ids[a] else 1
            self.load.append({self.channel[q]: 1})
            self.handling[a].append(q)
            self.router.put_agent(self.snapshot(a))
        weights = [1.0 + len([m for m in self.queue_ids if p.queue_id in m]) for p in self.policies]
        # The same draws as choices(weights=...), which would add them up again at every arrival.
        self.cum_weights = list(itertools.accumulate(weights))
        self.at = self.now()
        for _ in range(WAITING):
            self.arrive(back_s=rng.uniform(0, 3600))

    def now(self) -> datetime:
        return START + timedelta(seconds=self.clock)

    def snapshot(self, a: int, *, idle: bool = False) -> AgentSnapshot:
        return AgentSnapshot(agent_id=a + 1, state="busy" if sum(self.load[a].values()) else "available",
                             queue_ids=self.queue_ids[a], capacity=CAPACITY, load=dict(self.load[a]),
                             idle_since=self.at if idle else START, skills=self.skills[a],
                             team_id=a % TEAMS, occupancy=0.8)

    def arrive(self, back_s: float = 0.0) -> None:
        q = self.rng.choices(range(1, QUEUES + 1), cum_weights=self.cum_weights)[0]
        self.next_contact += 1
        self.router.add_contact(WaitingContact(
            contact_id=self.next_contact, queue_id=q, channel=self.channel[q],
            enqueued_at=self.at - timedelta(seconds=back_s) if back_s else self.at,
            priority=self.rng.choice((0, 0, 0, 1))))

    def accept(self, decisions: list[Any]) -> None:
        for d in decisions:
            a = d.agent_id - 1
            ch = self.channel[d.queue_id]
            self.load[a][ch] = self.load[a].get(ch, 0) + 1
            self.handling[a].append(d.queue_id)
            if self.by_load:
                self.router.set_agent_load(d.agent_id, ch, self.load[a][ch])
            else:
                self.router.put_agent(self.snapshot(a))
            self.arrive()

    def step(self, latencies: list[int]) -> int:
        """One agent finishes a contact and (usually) gets the next one."""
        self.clock += 0.3
        self.at = self.now()  # the step's time, worked out once
        a = self.rng.randrange(AGENTS)
        if not self.handling[a]:
            return 0
        q = self.handling[a].pop(self.rng.randrange(len(self.handling[a])))
        ch = self.channel[q]
        self.load[a][ch] -= 1
        if not self.load[a][ch]:
            del self.load[a][ch]
        idle = not self.load[a]
        started = time.perf_counter_ns()
        if self.by_load:
            self.router.set_agent_load(a + 1, ch, self.load[a].get(ch, 0), idle_since=self.at if idle else None)
        else:
            self.router.put_agent(self.snapshot(a, idle=idle))
        decisions = self.router.decide_now(self.at)
        latencies.append(time.perf_counter_ns() - started)
        self.accept(decisions)
        return len(decisions)


def build_of_router() -> str:
    """``make compile`` (mypyc) or the Python source: the figures differ by about two."""
    from madoguchi.routing import router

    return "compiled (mypyc)" if router.__file__ and router.__file__.endswith(".so") else "Python source"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3_000)
    parser.add_argument("--relaxation", choices=("none", "skills", "team"), default="none")
    parser.add_argument("--channels", choices=("voice", "mixed"), default="voice")
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--updates", choices=("load", "snapshot"), default="load",
                        help="tell the Router of a change of load with set_agent_load (as the simulator does) or"
                             " with a whole new AgentSnapshot through put_agent")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--profile", action="store_true", help="print the cProfile of the measured loop")
    args = parser.parse_args()
    bench = Bench(seed=args.seed, relaxation=args.relaxation, channels=args.channels, by_load=args.updates == "load")
    warm: list[int] = []
    for _ in range(args.warmup):
        bench.step(warm)
    latencies: list[int] = []
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    started, cpu_started = time.perf_counter(), time.process_time()
    decisions = sum(bench.step(latencies) for _ in range(args.steps))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    if profiler:
        profiler.disable()
    latencies.sort()
    q = statistics.quantiles(latencies, n=100)
    report = {
        "agents": AGENTS, "skills": SKILLS, "queues": QUEUES, "waiting": WAITING, "relaxation": args.relaxation,
        "channels": args.channels, "updates": args.updates,
        "steps": args.steps, "decisions": decisions, "decisions_per_s": round(decisions / elapsed),
        "decisions_per_cpu_s": round(decisions / cpu),
        "decide_p50_ms": round(q[49] / 1e6, 4), "decide_p99_ms": round(q[98] / 1e6, 4),
        "decide_max_ms": round(latencies[-1] / 1e6, 4),
        "still_waiting": len([c for p in bench.policies for c in bench.router.waiting(p.queue_id)]),
        "targets": {"decisions_per_s": 50_000, "p99_ms": 1.0},
        "build": build_of_router(),
    }
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{AGENTS} agents, {SKILLS} skills, {QUEUES} queues, ~{WAITING:,} waiting,"
              f" relaxation={args.relaxation}, channels={args.channels}, updates={args.updates},"
              f" Router: {report['build']}")
        print(f"  {decisions:,} decisions in {args.steps:,} steps, {elapsed:.2f} s:"
              f" {report['decisions_per_s']:,} decisions/s (target ≥ 50,000);"
              f" {report['decisions_per_cpu_s']:,} per CPU-second of this process")
        update = "set_agent_load" if bench.by_load else "put_agent"
        print(f"  {update} + decide_now latency: p50 {report['decide_p50_ms']} ms, p99 {report['decide_p99_ms']} ms"
              f" (target < 1 ms), max {report['decide_max_ms']} ms")
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
