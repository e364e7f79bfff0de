"""The Router: pure. Waiting contacts, agents and queue policies go in, decisions come out.

No I/O and no clock of its own (``now`` is passed in), so tests, property checks, the server's
runner and the workforce simulator all drive the very same code. Two ways in:

* ``decide(snapshot)`` — the whole picture at once (the server rebuilds it from the database each
  step, so a restart loses nothing);
* the incremental API (``add_contact`` / ``remove_contact`` / ``put_agent`` / ``decide_now``) —
  what the simulator and the benchmark use to route millions of contacts without rebuilding.

Order in line: a contact's rank is ``(queue priority + contact priority) × priority_step_s`` seconds
of credit plus its time in line. Every contact ages at the same rate, so that order never changes
while contacts wait (it is a fixed key: ``enqueued_at − credit``), and a low-priority contact is
never starved: it gains on everyone as it waits. Equal priority is first come, first served.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

ROUTABLE_STATES = frozenset({"available", "busy"})
EXCLUSIVE_CHANNELS = frozenset({"voice"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Strategy(StrEnum):
    LONGEST_IDLE = "longest_idle"
    MOST_SKILLED = "most_skilled"
    LEAST_OCCUPIED = "least_occupied"
    ROUND_ROBIN = "round_robin"


class Scope(StrEnum):
    QUEUE = "queue"   # members of the queue
    TEAM = "team"     # anyone in a team that has a member in the queue
    ANY = "any"       # any agent who can take the channel


@dataclass(frozen=True)
class SkillRequirement:
    skill: str
    min_level: int = 1

    def met_by(self, skills: Mapping[str, int]) -> bool:
        return skills.get(self.skill, 0) >= self.min_level


@dataclass(frozen=True)
class RelaxStep:
    """After ``after_s`` seconds in line the contact's requirements become ``requirements`` and the
    agents considered widen to ``scope`` (in the manner of Wazo's skill rule sets)."""

    after_s: float
    requirements: tuple[SkillRequirement, ...] = ()
    scope: Scope = Scope.QUEUE


@dataclass(frozen=True)
class QueuePolicy:
    queue_id: int
    strategy: Strategy = Strategy.LONGEST_IDLE
    priority: int = 0
    requirements: tuple[SkillRequirement, ...] = ()
    relaxation: tuple[RelaxStep, ...] = ()      # sorted by after_s
    priority_step_s: float = 60.0               # one priority point is worth this much waiting

    def rule_at(self, waited_s: float) -> tuple[tuple[SkillRequirement, ...], Scope]:
        requirements, scope = self.requirements, Scope.QUEUE
        for step in self.relaxation:
            if waited_s >= step.after_s:
                requirements, scope = step.requirements, step.scope
        return requirements, scope


DEFAULT_POLICY = QueuePolicy(queue_id=0)


@dataclass(frozen=True)
class WaitingContact:
    contact_id: int
    queue_id: int
    channel: str
    enqueued_at: datetime
    priority: int = 0
    queue_priority: int = 0
    declined_by: frozenset[int] = frozenset()   # agents who rejected it or let an offer lapse
    requirements: tuple[SkillRequirement, ...] | None = None  # None: the queue's
    sticky_agent_id: int | None = None          # the customer's last agent …
    sticky_until: datetime | None = None        # … preferred until then, when available
    target_agent_id: int | None = None          # a transfer to one named agent


@dataclass(frozen=True)
class AgentSnapshot:
    agent_id: int
    state: str
    queue_ids: frozenset[int]
    capacity: Mapping[str, int]
    load: Mapping[str, int] = field(default_factory=dict)   # contacts in hand per capacity class
    idle_since: datetime | None = None
    pending_offer: bool = False
    skills: Mapping[str, int] = field(default_factory=dict)
    team_id: int | None = None
    occupancy: float = 0.0                       # today's, 0..1, for least-occupied
    last_offer_at: datetime | None = None        # for round robin
    voice_exclusive: bool = True                 # on a call, nothing else
    _total: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Asked for at every comparison between candidates: worth computing once.
        object.__setattr__(self, "_total", sum(self.load.values()))

    def total_load(self) -> int:
        return self._total

    def can_take(self, channel: str) -> bool:
        if self.state not in ROUTABLE_STATES or self.pending_offer:
            return False
        if self.voice_exclusive:
            if any(self.load.get(ch, 0) for ch in EXCLUSIVE_CHANNELS if ch != channel):
                return False  # an agent on a call gets nothing else
            if channel in EXCLUSIVE_CHANNELS and self.total_load():
                return False
        return self.load.get(channel, 0) < self.capacity.get(channel, 0)


@dataclass(frozen=True)
class Snapshot:
    now: datetime
    contacts: tuple[WaitingContact, ...]
    agents: tuple[AgentSnapshot, ...]
    queues: Mapping[int, QueuePolicy] = field(default_factory=dict)


@dataclass(frozen=True)
class OfferDecision:
    contact_id: int
    agent_id: int
    queue_id: int


class Router(Protocol):
    def decide(self, snapshot: Snapshot) -> list[OfferDecision]:
        """Offers to make now. At most one per contact and one per agent."""
        ...


def credit_s(contact: WaitingContact, policy: QueuePolicy) -> float:
    return (contact.queue_priority + contact.priority) * policy.priority_step_s


def line_key(contact: WaitingContact, policy: QueuePolicy = DEFAULT_POLICY) -> tuple[float, int]:
    """Smaller is served first; fixed while the contact waits (see the module docstring)."""
    return ((contact.enqueued_at - _EPOCH).total_seconds() - credit_s(contact, policy), contact.contact_id)


def line_order(contact: WaitingContact) -> tuple[float, int]:
    return line_key(contact)


def requirements_of(contact: WaitingContact, policy: QueuePolicy, now: datetime) -> tuple[
        tuple[SkillRequirement, ...], Scope]:
    waited = (now - contact.enqueued_at).total_seconds()
    requirements, scope = policy.rule_at(waited)
    if contact.requirements is not None and not any(waited >= s.after_s for s in policy.relaxation):
        requirements = contact.requirements
    return requirements, scope


Line = tuple[int, str]  # (queue id, class of work)


class _LineState:
    """One queue's contacts of one class of work: in rank order, and by arrival (for the oldest)."""

    __slots__ = ("by_arrival", "custom", "ranked")

    def __init__(self) -> None:
        self.ranked: list[tuple[float, int]] = []
        self.by_arrival: list[tuple[float, int]] = []
        self.custom = 0  # contacts with their own requirements


class AcdRouter:
    """Skills-based router with per-queue strategies, priority with aging, skill relaxation,
    sticky agents and named-agent transfers.

    It keeps indexes so one decision costs little with thousands of contacts waiting: contacts in
    a sorted line per (queue, class of work), and the free agents who could take a class of work
    now, per queue and overall. A decision step walks only the lines that some free agent could
    serve, in rank order, and drops a line the moment nobody free is left for it."""

    def __init__(self) -> None:
        self._clear()

    def _clear(self) -> None:
        self.policies: dict[int, QueuePolicy] = {}
        self._contacts: dict[int, WaitingContact] = {}
        self._keys: dict[int, tuple[float, int]] = {}
        self._lines: dict[Line, _LineState] = {}
        self._agents: dict[int, AgentSnapshot] = {}
        self._members: dict[int, set[int]] = {}              # queue → agent ids
        self._team_of_queue: dict[int, set[int]] = {}         # queue → team ids of its members
        self._free_line: dict[Line, set[int]] = {}            # (queue, class) → free agents able to take it
        self._free_class: dict[str, set[int]] = {}            # class → free agents able to take it
        self._free_for: dict[int, set[str]] = {}              # agent → classes they can take now
        self._rr: dict[int, int] = {}                         # round-robin pointer per queue
        self._targeted: dict[int, WaitingContact] = {}        # transfers to a named agent
        self._wide_queues: set[int] = set()                   # relaxation reaching beyond members
        self._classes_of_queue: dict[int, set[str]] = {}      # queue → classes with a line

    # -- state ------------------------------------------------------------------------------------
    def set_policy(self, policy: QueuePolicy) -> None:
        old = self.policies.get(policy.queue_id)
        self.policies[policy.queue_id] = policy
        if any(step.scope != Scope.QUEUE for step in policy.relaxation):
            self._wide_queues.add(policy.queue_id)
        else:
            self._wide_queues.discard(policy.queue_id)
        if old is not None and old.priority_step_s != policy.priority_step_s:
            for contact in [c for c in self._contacts.values() if c.queue_id == policy.queue_id]:
                self.remove_contact(contact.contact_id)
                self.add_contact(contact)

    def policy(self, queue_id: int) -> QueuePolicy:
        return self.policies.get(queue_id) or QueuePolicy(queue_id=queue_id)

    def add_contact(self, contact: WaitingContact) -> None:
        if contact.contact_id in self._contacts:
            self.remove_contact(contact.contact_id)
        key = line_key(contact, self.policy(contact.queue_id))
        self._contacts[contact.contact_id] = contact
        self._keys[contact.contact_id] = key
        if contact.target_agent_id is not None:
            self._targeted[contact.contact_id] = contact
        line = self._lines.get((contact.queue_id, contact.channel))
        if line is None:
            line = self._lines[(contact.queue_id, contact.channel)] = _LineState()
            self._classes_of_queue.setdefault(contact.queue_id, set()).add(contact.channel)
        bisect.insort(line.ranked, key)
        bisect.insort(line.by_arrival, (_ts(contact.enqueued_at), contact.contact_id))
        if contact.requirements is not None:
            line.custom += 1

    def remove_contact(self, contact_id: int) -> WaitingContact | None:
        contact = self._contacts.pop(contact_id, None)
        if contact is None:
            return None
        key = self._keys.pop(contact_id)
        self._targeted.pop(contact_id, None)
        line = self._lines[(contact.queue_id, contact.channel)]
        _discard(line.ranked, key)
        _discard(line.by_arrival, (_ts(contact.enqueued_at), contact_id))
        if contact.requirements is not None:
            line.custom -= 1
        return contact

    def put_agent(self, agent: AgentSnapshot) -> None:
        old = self._agents.get(agent.agent_id)
        if old is not None:
            self._unfree(old)
            if old.queue_ids != agent.queue_ids or old.team_id != agent.team_id:
                self._unindex(old)
                old = None
        self._agents[agent.agent_id] = agent
        if old is None:
            for q in agent.queue_ids:
                self._members.setdefault(q, set()).add(agent.agent_id)
                if agent.team_id is not None:
                    self._team_of_queue.setdefault(q, set()).add(agent.team_id)
        self._refree(agent)

    def remove_agent(self, agent_id: int) -> None:
        agent = self._agents.pop(agent_id, None)
        if agent is not None:
            self._unfree(agent)
            self._unindex(agent)

    def _refree(self, agent: AgentSnapshot) -> None:
        classes = {ch for ch in agent.capacity if agent.can_take(ch)}
        if not classes:
            return
        self._free_for[agent.agent_id] = classes
        for ch in classes:
            self._free_class.setdefault(ch, set()).add(agent.agent_id)
            for q in agent.queue_ids:
                self._free_line.setdefault((q, ch), set()).add(agent.agent_id)

    def _unfree(self, agent: AgentSnapshot) -> None:
        for ch in self._free_for.pop(agent.agent_id, ()):
            self._free_class.get(ch, set()).discard(agent.agent_id)
            for q in agent.queue_ids:
                self._free_line.get((q, ch), set()).discard(agent.agent_id)

    def _unindex(self, agent: AgentSnapshot) -> None:
        for q in agent.queue_ids:
            self._members.get(q, set()).discard(agent.agent_id)
        if agent.team_id is not None:
            for q in agent.queue_ids:
                teams = {self._agents[a].team_id for a in self._members.get(q, ()) if a in self._agents}
                self._team_of_queue[q] = {t for t in teams if t is not None}

    def waiting(self, queue_id: int) -> list[WaitingContact]:
        keys = sorted(k for (q, _), line in self._lines.items() if q == queue_id for k in line.ranked)
        return [self._contacts[cid] for _, cid in keys]

    def agent(self, agent_id: int) -> AgentSnapshot | None:
        return self._agents.get(agent_id)

    # -- decisions --------------------------------------------------------------------------------
    def decide(self, snapshot: Snapshot) -> list[OfferDecision]:
        self.reset(snapshot)
        return self.decide_now(snapshot.now)

    def reset(self, snapshot: Snapshot) -> None:
        rr = self._rr
        self._clear()
        self._rr = rr  # the round-robin pointer outlives a rebuild from the database
        for policy in snapshot.queues.values():
            self.set_policy(policy)
        for agent in snapshot.agents:
            self.put_agent(agent)
        for contact in snapshot.contacts:
            self.add_contact(contact)

    def _eligible(self, agent: AgentSnapshot, contact: WaitingContact,
                  requirements: tuple[SkillRequirement, ...], scope: Scope) -> bool:
        if contact.target_agent_id is not None and agent.agent_id != contact.target_agent_id:
            return False
        if contact.target_agent_id is None:
            if scope == Scope.QUEUE and contact.queue_id not in agent.queue_ids:
                return False
            if scope == Scope.TEAM and contact.queue_id not in agent.queue_ids and (
                    agent.team_id is None or agent.team_id not in self._team_of_queue.get(contact.queue_id, ())):
                return False
        if not agent.can_take(contact.channel):
            return False
        return all(r.met_by(agent.skills) for r in requirements)

    def _pick(self, contact: WaitingContact, candidates: list[AgentSnapshot], policy: QueuePolicy,
              requirements: tuple[SkillRequirement, ...], now: datetime) -> AgentSnapshot:
        sticky = contact.sticky_agent_id
        if sticky is not None and contact.sticky_until is not None and now < contact.sticky_until:
            for a in candidates:
                if a.agent_id == sticky:
                    return a
        if len(candidates) == 1:
            return candidates[0]
        strategy = policy.strategy
        declined = contact.declined_by

        if strategy == Strategy.MOST_SKILLED:
            def skill_sum(a: AgentSnapshot) -> int:
                return sum(a.skills.get(r.skill, 0) for r in requirements) if requirements else sum(a.skills.values())
            return min(candidates, key=lambda a: (a.agent_id in declined, -skill_sum(a), a.total_load(),
                                                  a.idle_since or _EPOCH, a.agent_id))
        if strategy == Strategy.LEAST_OCCUPIED:
            return min(candidates, key=lambda a: (a.agent_id in declined, a.total_load(), a.occupancy,
                                                  a.idle_since or _EPOCH, a.agent_id))
        if strategy == Strategy.ROUND_ROBIN:
            last = self._rr.get(contact.queue_id, -1)
            # The next agent id after the last one served, wrapping around.
            return min(candidates, key=lambda a: (a.agent_id in declined, a.agent_id <= last, a.agent_id))
        return min(candidates, key=lambda a: (a.agent_id in declined, a.total_load(), a.idle_since or _EPOCH,
                                              a.agent_id))

    def _pool(self, line: Line, now: datetime) -> set[int] | None:
        """The free agents who might serve some contact of this line now, or None when nobody can
        (then the whole line is skipped). Relaxation only ever applies to contacts that have
        waited long enough, and the line's oldest contact has waited longest."""
        state = self._lines.get(line)
        if state is None or not state.ranked:
            return None
        queue_id, channel = line
        policy = self.policy(queue_id)
        waited = now.timestamp() - state.by_arrival[0][0]
        steps = [s for s in policy.relaxation if waited >= s.after_s]
        wide = any(s.scope != Scope.QUEUE for s in steps)
        pool = self._free_class.get(channel) if wide else self._free_line.get(line)
        if not pool:
            return None
        if state.custom:
            return pool  # contacts with their own requirements: no shortcut
        rules = [policy.requirements, *(s.requirements for s in steps)]
        for agent_id in pool:
            skills = self._agents[agent_id].skills
            if any(all(r.met_by(skills) for r in reqs) for reqs in rules):
                return pool
        return None

    def decide_now(self, now: datetime) -> list[OfferDecision]:
        """Offers for the current state; the chosen agents are marked as holding an offer and the
        contacts leave the line, as the caller will make those offers."""
        if not self._free_for or not self._contacts:
            return []
        decisions: list[OfferDecision] = []
        taken: list[int] = []
        if self._targeted:
            self._decide_targeted(now, decisions, taken)
        # A heap of line heads: (rank key, contact id, line, index in line). A line leaves the heap
        # as soon as no free agent is left who could serve it.
        heap: list[tuple[float, int, Line, int]] = []
        pools: dict[Line, set[int]] = {}
        for line in self._candidate_lines():
            state = self._lines[line]
            pool = self._pool(line, now)
            if pool:
                pools[line] = pool
                key, cid = state.ranked[0]
                heap.append((key, cid, line, 0))
        heapq.heapify(heap)
        while heap and self._free_for:
            _, cid, line, index = heapq.heappop(heap)
            pool = pools[line]
            if not pool:
                continue  # nobody left for this line: it leaves the walk
            state = self._lines[line]
            if index + 1 < len(state.ranked):
                heapq.heappush(heap, (*state.ranked[index + 1], line, index + 1))
            contact = self._contacts[cid]
            if contact.target_agent_id is not None or cid in taken:
                continue
            policy = self.policy(contact.queue_id)
            requirements, scope = requirements_of(contact, policy, now)
            if scope == Scope.QUEUE:
                # The line's pool holds only members free for this class of work: skills remain.
                agents = self._agents
                candidates = ([agents[i] for i in pool] if not requirements else
                              [a for a in (agents[i] for i in pool) if all(r.met_by(a.skills) for r in requirements)])
            else:
                candidates = [a for a in (self._agents[i] for i in pool)
                              if self._eligible(a, contact, requirements, scope)]
            if not candidates:
                continue
            best = self._pick(contact, candidates, policy, requirements, now)
            self._offer(best, contact, now, decisions, taken)
        for cid in taken:  # after the walk: the heap reads the lines being walked
            self.remove_contact(cid)
        return decisions

    def _candidate_lines(self) -> set[Line]:
        """Lines some free agent is a member of, plus lines of queues whose relaxation may reach
        beyond their members."""
        lines: set[Line] = set()
        for agent_id, classes in self._free_for.items():
            for q in self._agents[agent_id].queue_ids:
                for ch in classes:
                    if (q, ch) in self._lines:
                        lines.add((q, ch))
        for q in self._wide_queues:
            for ch in self._classes_of_queue.get(q, ()):
                lines.add((q, ch))
        return {line for line in lines if self._lines[line].ranked}

    def _decide_targeted(self, now: datetime, decisions: list[OfferDecision], taken: list[int]) -> None:
        for contact in sorted(self._targeted.values(), key=lambda c: self._keys[c.contact_id]):
            agent = self._agents.get(contact.target_agent_id or -1)
            if agent is None or agent.agent_id not in self._free_for or not agent.can_take(contact.channel):
                continue
            self._offer(agent, contact, now, decisions, taken)

    def _offer(self, agent: AgentSnapshot, contact: WaitingContact, now: datetime,
               decisions: list[OfferDecision], taken: list[int]) -> None:
        decisions.append(OfferDecision(contact.contact_id, agent.agent_id, contact.queue_id))
        if self.policy(contact.queue_id).strategy == Strategy.ROUND_ROBIN:
            self._rr[contact.queue_id] = agent.agent_id
        taken.append(contact.contact_id)
        self._unfree(agent)
        self._agents[agent.agent_id] = _with_offer(agent, now)


def _ts(moment: datetime) -> float:
    return (moment - _EPOCH).total_seconds()


def _discard(items: list[tuple[float, int]], item: tuple[float, int]) -> None:
    at = bisect.bisect_left(items, item)
    if at < len(items) and items[at] == item:
        del items[at]


def _with_offer(agent: AgentSnapshot, now: datetime) -> AgentSnapshot:
    return AgentSnapshot(agent_id=agent.agent_id, state=agent.state, queue_ids=agent.queue_ids,
                         capacity=agent.capacity, load=agent.load, idle_since=agent.idle_since, pending_offer=True,
                         skills=agent.skills, team_id=agent.team_id, occupancy=agent.occupancy, last_offer_at=now,
                         voice_exclusive=agent.voice_exclusive)


#: The walking skeleton's name for the default behaviour (longest idle, FIFO per queue).
LongestIdleRouter = AcdRouter


def queue_positions(router: AcdRouter, queue_id: int) -> dict[int, int]:
    """1-based position of each contact in its queue's line."""
    return {c.contact_id: i for i, c in enumerate(router.waiting(queue_id), start=1)}


def estimated_wait_s(position: int, aht_s: float, agents: int) -> float:
    """Contacts ahead (position − 1, plus this one's own turn) served by ``agents`` in parallel,
    each taking ``aht_s``: ``position × AHT / agents``. A rough but standard announcement figure."""
    if agents <= 0:
        return float("inf")
    return position * aht_s / agents


def seconds(value: float) -> timedelta:
    return timedelta(seconds=value)
