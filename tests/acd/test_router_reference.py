"""The Router's indexes change how fast it decides, never what: over random queues (every
strategy, relaxation to team and to anyone, contacts with their own requirements, sticky agents,
transfers to a named agent) and random event sequences, its decisions equal those of a plain
reference that walks every waiting contact in rank order and gives each the best free agent."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from madoguchi.routing.router import (
    AcdRouter,
    AgentSnapshot,
    OfferDecision,
    QueuePolicy,
    RelaxStep,
    Scope,
    SkillRequirement,
    Strategy,
    WaitingContact,
    line_key,
    requirements_of,
)

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CAPACITY = {"chat": 2, "voice": 1, "email": 3}
SKILLS = ("ja", "en", "billing")


def reference(policies: dict[int, QueuePolicy], agents: dict[int, AgentSnapshot],
              contacts: dict[int, WaitingContact], now: datetime, rr: dict[int, int]) -> list[OfferDecision]:
    """The documented behaviour, with no index at all (``docs/acd.md``, "A decision step")."""
    free = {a.agent_id: a for a in agents.values() if any(a.can_take(ch) for ch in a.capacity)}
    teams = {q: {a.team_id for a in agents.values() if q in a.queue_ids and a.team_id is not None}
             for q in policies}
    line = sorted(contacts.values(), key=lambda c: line_key(c, policies[c.queue_id]))
    decisions: list[OfferDecision] = []

    def offer(contact: WaitingContact, agent: AgentSnapshot) -> None:
        decisions.append(OfferDecision(contact.contact_id, agent.agent_id, contact.queue_id))
        if policies[contact.queue_id].strategy == Strategy.ROUND_ROBIN:
            rr[contact.queue_id] = agent.agent_id
        del free[agent.agent_id]

    for c in line:
        target = free.get(c.target_agent_id or -1)
        if target is not None and target.can_take(c.channel):
            offer(c, target)
    for c in line:
        if not free:
            break
        if c.target_agent_id is not None:
            continue
        requirements, scope = requirements_of(c, policies[c.queue_id], now)
        candidates = [a for a in free.values() if a.can_take(c.channel)
                      and all(r.met_by(a.skills) for r in requirements)
                      and (scope == Scope.ANY or c.queue_id in a.queue_ids
                           or (scope == Scope.TEAM and a.team_id in teams[c.queue_id]))]
        if candidates:
            offer(c, pick(c, candidates, policies[c.queue_id], requirements, now, rr))
    return decisions


def pick(c: WaitingContact, candidates: list[AgentSnapshot], policy: QueuePolicy,
         requirements: tuple[SkillRequirement, ...], now: datetime, rr: dict[int, int]) -> AgentSnapshot:
    if c.sticky_agent_id is not None and c.sticky_until is not None and now < c.sticky_until:
        for a in candidates:
            if a.agent_id == c.sticky_agent_id:
                return a
    idle = {a.agent_id: a.idle_since or datetime(1970, 1, 1, tzinfo=UTC) for a in candidates}
    if policy.strategy == Strategy.MOST_SKILLED:
        def skill_sum(a: AgentSnapshot) -> int:
            return sum(a.skills.get(r.skill, 0) for r in requirements) if requirements else sum(a.skills.values())
        return min(candidates, key=lambda a: (a.agent_id in c.declined_by, -skill_sum(a), a.total_load(),
                                              idle[a.agent_id], a.agent_id))
    if policy.strategy == Strategy.LEAST_OCCUPIED:
        return min(candidates, key=lambda a: (a.agent_id in c.declined_by, a.total_load(), a.occupancy,
                                              idle[a.agent_id], a.agent_id))
    if policy.strategy == Strategy.ROUND_ROBIN:
        last = rr.get(c.queue_id, -1)
        return min(candidates, key=lambda a: (a.agent_id in c.declined_by, a.agent_id <= last, a.agent_id))
    return min(candidates, key=lambda a: (a.agent_id in c.declined_by, a.total_load(), idle[a.agent_id],
                                          a.agent_id))


def assert_same_agent(router: AcdRouter, expected: AgentSnapshot) -> None:
    seen = router.agent(expected.agent_id)
    assert seen is not None and not seen.pending_offer
    assert {k: v for k, v in seen.load.items() if v} == expected.load
    assert (seen.idle_since, seen.occupancy) == (expected.idle_since, expected.occupancy)


requirements_st = st.lists(st.builds(SkillRequirement, st.sampled_from(SKILLS), st.integers(1, 4)),
                           max_size=2, unique_by=lambda r: r.skill).map(tuple)
step_st = st.builds(RelaxStep, after_s=st.sampled_from([0, 15, 30, 60]), requirements=requirements_st,
                    scope=st.sampled_from(list(Scope)))
policy_st = st.tuples(st.sampled_from(list(Strategy)), requirements_st, st.lists(step_st, max_size=2),
                      st.integers(0, 2), st.sampled_from([30.0, 60.0]))
agent_st = st.tuples(st.sets(st.integers(1, 3), max_size=3), st.integers(0, 3),
                     st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5)),
                     st.sampled_from(["available", "available", "busy", "break"]),
                     st.integers(0, 600), st.sampled_from([0.1, 0.5, 0.9]))
event_st = st.tuples(st.sampled_from(["arrive", "arrive", "free", "decide", "reject", "leave"]),
                     st.integers(1, 3), st.sampled_from(["chat", "voice", "email"]), st.integers(0, 2),
                     st.integers(0, 40), st.integers(0, 99), requirements_st | st.none())


@settings(max_examples=250, deadline=None)
@given(policies=st.lists(policy_st, min_size=3, max_size=3), agents=st.lists(agent_st, min_size=1, max_size=7),
       events=st.lists(event_st, min_size=1, max_size=40))
def test_decisions_equal_the_reference_walk(policies: list[tuple], agents: list[tuple],  # type: ignore[type-arg]
                                            events: list[tuple]) -> None:  # type: ignore[type-arg]
    router = AcdRouter()
    by_queue: dict[int, QueuePolicy] = {}
    for queue_id, (strategy, reqs, steps, priority, step_s) in enumerate(policies, start=1):
        by_queue[queue_id] = QueuePolicy(queue_id=queue_id, strategy=strategy, priority=priority, requirements=reqs,
                                         relaxation=tuple(sorted(steps, key=lambda s: s.after_s)),
                                         priority_step_s=step_s)
        router.set_policy(by_queue[queue_id])
    state: dict[int, AgentSnapshot] = {}
    for agent_id, (queues, team, skills, status, idle_s, occupancy) in enumerate(agents, start=1):
        state[agent_id] = AgentSnapshot(agent_id=agent_id, state=status, queue_ids=frozenset(queues),
                                        capacity=CAPACITY, idle_since=T0 - timedelta(seconds=idle_s),
                                        skills=skills, team_id=team or None, occupancy=occupancy)
        router.put_agent(state[agent_id])
    waiting: dict[int, WaitingContact] = {}
    rr: dict[int, int] = {}
    now, next_id = T0, 1
    for kind, queue_id, channel, priority, seconds, n, own in events:
        now += timedelta(seconds=seconds)
        agent_id = n % len(state) + 1
        if kind == "arrive":
            contact = WaitingContact(
                contact_id=next_id, queue_id=queue_id, channel=channel, enqueued_at=now, priority=priority,
                requirements=own if n % 3 == 0 else None,
                sticky_agent_id=agent_id if n % 4 == 1 else None, sticky_until=now + timedelta(seconds=45),
                target_agent_id=agent_id if n % 11 == 5 else None)
            next_id += 1
            waiting[contact.contact_id] = contact
            router.add_contact(contact)
        elif kind == "free" and state[agent_id].load:
            load = dict(state[agent_id].load)
            held = next(iter(load))
            load[held] -= 1
            routable = state[agent_id].state in ("available", "busy")
            state[agent_id] = replace(state[agent_id], load={k: v for k, v in load.items() if v},
                                      state="available" if sum(load.values()) == 0 else "busy", idle_since=now)
            if routable and n % 2:  # the load-only update must leave the Router where put_agent does
                router.set_agent_load(agent_id, held, load[held], idle_since=now)
                assert_same_agent(router, state[agent_id])
            else:
                router.put_agent(state[agent_id])
        elif kind == "leave" and waiting:
            gone = sorted(waiting)[n % len(waiting)]
            del waiting[gone]
            assert router.remove_contact(gone) is not None
        elif kind in ("decide", "reject"):
            expected = reference(by_queue, state, waiting, now, rr)
            assert router.decide_now(now) == expected
            for d in expected:
                contact = waiting.pop(d.contact_id)
                agent = state[d.agent_id]
                if kind == "reject":  # back in line with its place, this agent tried last
                    back = replace(contact, declined_by=contact.declined_by | {d.agent_id})
                    waiting[d.contact_id] = back
                    router.add_contact(back)
                else:
                    load = dict(agent.load)
                    load[contact.channel] = load.get(contact.channel, 0) + 1
                    state[d.agent_id] = replace(agent, load=load, state="busy")
                    if n % 2:
                        router.set_agent_load(d.agent_id, contact.channel, load[contact.channel])
                        assert_same_agent(router, state[d.agent_id])
                        continue
                router.put_agent(state[d.agent_id])
    assert router.decide_now(now) == reference(by_queue, state, waiting, now, rr)
