"""Property tests over random event sequences driving the router's incremental API, as the
simulator and the server do: arrivals, offers, accepts, rejects, finishes, state changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from madoguchi.routing.router import (
    AcdRouter,
    AgentSnapshot,
    QueuePolicy,
    RelaxStep,
    SkillRequirement,
    Strategy,
    WaitingContact,
    line_key,
    requirements_of,
)

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CAPACITY = {"chat": 2, "voice": 1, "email": 3}
SKILLS = ("ja", "en", "billing")


class RouterMachine(RuleBasedStateMachine):
    @initialize(strategies=st.lists(st.sampled_from(list(Strategy)), min_size=3, max_size=3))
    def setup(self, strategies: list[Strategy]) -> None:
        self.router = AcdRouter()
        self.now = T0
        self.next_contact = 1
        self.agents: dict[int, AgentSnapshot] = {}
        self.waiting: dict[int, WaitingContact] = {}
        self.offers: dict[int, int] = {}           # contact → agent, pending
        self.handling: dict[int, tuple[int, str]] = {}   # contact → (agent, channel)
        for queue_id, strategy in zip((1, 2, 3), strategies, strict=True):
            policy = QueuePolicy(queue_id=queue_id, strategy=strategy,
                                 requirements=(SkillRequirement("ja", 3),) if queue_id == 3 else (),
                                 relaxation=(RelaxStep(after_s=30, requirements=()),) if queue_id == 3 else ())
            self.router.set_policy(policy)

    def _load(self, agent_id: int) -> dict[str, int]:
        load: dict[str, int] = {}
        for holder, channel in self.handling.values():
            if holder == agent_id:
                load[channel] = load.get(channel, 0) + 1
        return load

    def _put(self, agent_id: int, state: str | None = None) -> None:
        old = self.agents[agent_id]
        agent = AgentSnapshot(agent_id=agent_id, state=state or old.state, queue_ids=old.queue_ids,
                              capacity=CAPACITY, load=self._load(agent_id), idle_since=old.idle_since,
                              pending_offer=agent_id in self.offers.values(), skills=old.skills)
        self.agents[agent_id] = agent
        self.router.put_agent(agent)

    @rule(agent_id=st.integers(1, 6), queues=st.sets(st.integers(1, 3), min_size=1),
          ja=st.integers(0, 5), state=st.sampled_from(["available", "break", "offline"]))
    def agent_logs_in_or_changes(self, agent_id: int, queues: set[int], ja: int, state: str) -> None:
        old = self.agents.get(agent_id)
        agent = AgentSnapshot(agent_id=agent_id, state=state if not self._load(agent_id) else "busy",
                              queue_ids=old.queue_ids if old else frozenset(queues), capacity=CAPACITY,
                              load=self._load(agent_id), idle_since=self.now,
                              pending_offer=agent_id in self.offers.values(),
                              skills=old.skills if old else {"ja": ja})
        self.agents[agent_id] = agent
        self.router.put_agent(agent)

    @rule(queue_id=st.integers(1, 3), channel=st.sampled_from(["chat", "voice", "email"]),
          priority=st.integers(0, 2))
    def contact_arrives(self, queue_id: int, channel: str, priority: int) -> None:
        contact = WaitingContact(contact_id=self.next_contact, queue_id=queue_id, channel=channel,
                                 enqueued_at=self.now, priority=priority)
        self.next_contact += 1
        self.waiting[contact.contact_id] = contact
        self.router.add_contact(contact)

    @rule(seconds=st.integers(1, 40))
    def time_passes(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @rule()
    def decide(self) -> None:
        decisions = self.router.decide_now(self.now)
        contacts = [d.contact_id for d in decisions]
        agents = [d.agent_id for d in decisions]
        assert len(set(contacts)) == len(contacts), "a contact offered twice in one step"
        assert len(set(agents)) == len(agents), "an agent got two offers in one step"
        for d in decisions:
            assert d.contact_id not in self.offers, "offered while an offer is pending"
            assert d.agent_id not in self.offers.values(), "agent already holds an offer"
            contact = self.waiting.pop(d.contact_id)
            agent = self.agents[d.agent_id]
            assert agent.state in ("available", "busy")
            assert self._load(d.agent_id).get(contact.channel, 0) < CAPACITY[contact.channel]
            self.offers[d.contact_id] = d.agent_id
            self.handling_channel = contact.channel
            self._offered_channel = getattr(self, "_offered_channel", {})
            self._offered_channel[d.contact_id] = contact.channel
            self._put(d.agent_id)
        self._check_nobody_left_beside_a_free_agent()

    def _check_nobody_left_beside_a_free_agent(self) -> None:
        policies = self.router.policies
        for contact in self.waiting.values():
            requirements, _ = requirements_of(contact, policies[contact.queue_id], self.now)
            for agent in self.agents.values():
                able = (contact.queue_id in agent.queue_ids and agent.can_take(contact.channel)
                        and all(r.met_by(agent.skills) for r in requirements))
                assert not able, f"contact {contact.contact_id} waits beside free agent {agent.agent_id}"

    @precondition(lambda self: bool(getattr(self, "offers", None)))
    @rule(data=st.data(), accept=st.booleans())
    def agent_answers_offer(self, data: st.DataObject, accept: bool) -> None:
        contact_id = data.draw(st.sampled_from(sorted(self.offers)))
        agent_id = self.offers.pop(contact_id)
        channel = self._offered_channel.pop(contact_id)
        if accept:
            self.handling[contact_id] = (agent_id, channel)
            self._put(agent_id, state="busy")
        else:
            original = next(c for c in self._all_arrivals() if c == contact_id)
            back = WaitingContact(contact_id=original, queue_id=1, channel=channel, enqueued_at=T0,
                                  declined_by=frozenset({agent_id}))
            self.waiting[contact_id] = back
            self.router.add_contact(back)
            self._put(agent_id)

    def _all_arrivals(self) -> range:
        return range(1, self.next_contact)

    @precondition(lambda self: bool(getattr(self, "handling", None)))
    @rule(data=st.data())
    def agent_finishes(self, data: st.DataObject) -> None:
        contact_id = data.draw(st.sampled_from(sorted(self.handling)))
        agent_id, _ = self.handling.pop(contact_id)
        self._put(agent_id, state="busy" if self._load(agent_id) else "available")

    @invariant()
    def capacity_never_exceeded(self) -> None:
        for agent_id in getattr(self, "agents", {}):
            for channel, n in self._load(agent_id).items():
                assert n <= CAPACITY[channel]
            if self._load(agent_id).get("voice"):
                assert sum(self._load(agent_id).values()) == 1, "a call is exclusive"


RouterMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestRouterSequences = RouterMachine.TestCase


def test_fifo_within_equal_priority_and_skills() -> None:
    router = AcdRouter()
    policy = QueuePolicy(queue_id=1)
    router.set_policy(policy)
    contacts = [WaitingContact(contact_id=i, queue_id=1, channel="chat", enqueued_at=T0 + timedelta(seconds=s))
                for i, s in [(5, 30), (2, 10), (9, 20), (4, 40)]]
    for c in contacts:
        router.add_contact(c)
    served = []
    for agent_id in range(1, 5):
        router.put_agent(AgentSnapshot(agent_id=agent_id, state="available", queue_ids=frozenset({1}),
                                       capacity=CAPACITY, idle_since=T0))
        served += [d.contact_id for d in router.decide_now(T0 + timedelta(minutes=1))]
    assert served == [c.contact_id for c in sorted(contacts, key=lambda c: line_key(c, policy))] == [2, 9, 5, 4]
