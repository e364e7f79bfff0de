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

import heapq
from bisect import bisect_left, insort
from collections.abc import Iterator
from datetime import datetime, timedelta
from operator import attrgetter

from madoguchi.routing.indexes import IN_QUEUE, IN_TEAM, AgentEntry, Line, QueueRules, Waiting, waited_s
from madoguchi.routing.snapshots import (
    DEFAULT_POLICY,
    EXCLUSIVE_CHANNELS,
    ROUTABLE_STATES,
    AgentSnapshot,
    OfferDecision,
    QueuePolicy,
    RelaxStep,
    Router,
    Scope,
    SkillRequirement,
    Snapshot,
    Strategy,
    WaitingContact,
    credit_s,
    line_key,
    line_order,
    micros,
    requirements_of,
)

__all__ = [
    "DEFAULT_POLICY", "EXCLUSIVE_CHANNELS", "ROUTABLE_STATES", "AcdRouter", "AgentSnapshot", "LongestIdleRouter",
    "OfferDecision", "QueuePolicy", "RelaxStep", "Router", "Scope", "SkillRequirement", "Snapshot", "Strategy",
    "WaitingContact", "credit_s", "estimated_wait_s", "line_key", "line_order", "queue_positions",
    "requirements_of", "seconds",
]

LineId = tuple[int, str]  # (queue id, class of work)
_Head = tuple[float, int, int, Line]  # a wide line's head: rank key, contact id, push number, line
_Step = tuple[float, int, Line, int]  # the walk: rank key, contact id, line, index in the line


class AcdRouter:
    """Skills-based router with per-queue strategies, priority with aging, skill relaxation,
    sticky agents and named-agent transfers.

    It keeps indexes so one decision costs little with thousands of contacts waiting: contacts in
    a sorted line per (queue, class of work); the free agents who could take a class of work now,
    per queue and overall; the lines that have contacts and a free member (``_open``); and, for
    queues whose relaxation reaches beyond their members, a heap of their lines' heads, so a step
    visits those lines in rank order and stops at the first one someone free can serve."""

    def __init__(self) -> None:
        self._rr: dict[int, int] = {}  # round-robin pointer per queue; outlives a rebuild
        self._clear()

    def _clear(self) -> None:
        self.policies: dict[int, QueuePolicy] = {}
        self._rules: dict[int, QueueRules] = {}
        self._contacts: dict[int, Waiting] = {}
        self._lines: dict[LineId, Line] = {}
        self._lines_of_queue: dict[int, list[Line]] = {}
        self._agents: dict[int, AgentEntry] = {}
        self._members: dict[int, set[int]] = {}             # queue → agent ids
        self._team_of_queue: dict[int, set[int]] = {}        # queue → team ids of its members
        self._free_class: dict[str, set[int]] = {}           # class → free agents able to take it
        self._free: dict[int, AgentEntry] = {}               # agents free for some class of work
        self._open: set[Line] = set()                        # lines with contacts and a free member
        self._targeted: dict[int, Waiting] = {}              # transfers to a named agent
        self._wide: set[int] = set()                         # queues whose relaxation reaches beyond members
        self._heads: list[_Head] = []                        # their lines' heads (stale ones skipped)
        self._pushes = 0

    # -- state ------------------------------------------------------------------------------------
    def set_policy(self, policy: QueuePolicy) -> None:
        queue_id = policy.queue_id
        old = self.policies.get(queue_id)
        self.policies[queue_id] = policy
        rules = self._rules[queue_id] = QueueRules(policy)
        if old is None or (old.requirements, old.relaxation) != (policy.requirements, policy.relaxation):
            for agent in self._agents.values():
                agent.masks.pop(queue_id, None)
        if not rules.wide:
            self._wide.discard(queue_id)
        elif queue_id not in self._wide:
            self._wide.add(queue_id)
            for line in self._lines_of_queue.get(queue_id, ()):
                if line.ranked:
                    self._push_head(line)
        if old is not None and old.priority_step_s != policy.priority_step_s:
            for entry in [w for w in self._contacts.values() if w.contact.queue_id == queue_id]:
                self.remove_contact(entry.contact.contact_id)
                self.add_contact(entry.contact)

    def policy(self, queue_id: int) -> QueuePolicy:
        return self.policies.get(queue_id) or QueuePolicy(queue_id=queue_id)

    def _rules_of(self, queue_id: int) -> QueueRules:
        rules = self._rules.get(queue_id)
        if rules is None:
            rules = self._rules[queue_id] = QueueRules(QueuePolicy(queue_id=queue_id))
        return rules

    def add_contact(self, contact: WaitingContact) -> None:
        contact_id, queue_id, channel = contact.contact_id, contact.queue_id, contact.channel
        if contact_id in self._contacts:
            self.remove_contact(contact_id)
        line = self._lines.get((queue_id, channel))
        if line is None:
            free = {a for a in self._members.get(queue_id, ()) if channel in self._agents[a].free}
            line = self._lines[(queue_id, channel)] = Line(queue_id, channel, free)
            self._lines_of_queue.setdefault(queue_id, []).append(line)
        entry = Waiting(contact, line, credit_s(contact, self._rules_of(queue_id).policy))
        self._contacts[contact_id] = entry
        if contact.target_agent_id is not None:
            self._targeted[contact_id] = entry
        ranked = line.ranked
        insort(ranked, entry.key)
        insort(line.by_arrival, (entry.enqueued_us, contact_id))
        if contact.requirements is not None:
            line.custom += 1
        if len(ranked) == 1 and line.free:
            self._open.add(line)
        if queue_id in self._wide and ranked[0] == entry.key:
            self._push_head(line)

    def remove_contact(self, contact_id: int) -> WaitingContact | None:
        entry = self._contacts.pop(contact_id, None)
        if entry is None:
            return None
        self._targeted.pop(contact_id, None)
        line = entry.line
        ranked = line.ranked
        at = bisect_left(ranked, entry.key)
        del ranked[at]
        by_arrival = line.by_arrival
        del by_arrival[bisect_left(by_arrival, (entry.enqueued_us, contact_id))]
        if entry.contact.requirements is not None:
            line.custom -= 1
        if not ranked:
            self._open.discard(line)
        elif at == 0 and line.queue_id in self._wide:
            self._push_head(line)
        return entry.contact

    def put_agent(self, agent: AgentSnapshot) -> None:
        entry = self._agents.get(agent.agent_id)
        if entry is not None and (entry.queue_ids != agent.queue_ids or entry.team_id != agent.team_id):
            self.remove_agent(agent.agent_id)
            entry = None
        if entry is None:
            entry = self._agents[agent.agent_id] = AgentEntry(agent)
            for q in agent.queue_ids:
                self._members.setdefault(q, set()).add(agent.agent_id)
                if agent.team_id is not None:
                    self._team_of_queue.setdefault(q, set()).add(agent.team_id)
        else:
            entry.update(agent)
        free = entry.free_classes()
        if free != entry.free:
            self._unfree(entry)
            entry.free = free
            self._refree(entry)

    def set_agent_load(self, agent_id: int, channel: str, count: int, *, idle_since: datetime | None = None,
                       occupancy: float | None = None) -> None:
        """The agent now holds ``count`` contacts of ``channel`` (an offer was accepted, or a contact
        finished): ``put_agent`` for a change of load alone, without building a snapshot. Like
        ``put_agent``, it ends the agent's pending offer; ``idle_since`` and ``occupancy`` change
        only when given."""
        entry = self._agents.get(agent_id)
        if entry is None:
            raise KeyError(f"agent {agent_id} is not known to the router")
        entry.set_load(channel, count, idle_since, occupancy)
        free = entry.free_classes()
        if free != entry.free:
            self._unfree(entry)
            entry.free = free
            self._refree(entry)

    def remove_agent(self, agent_id: int) -> None:
        entry = self._agents.pop(agent_id, None)
        if entry is None:
            return
        self._unfree(entry)
        for q in entry.queue_ids:
            self._members.get(q, set()).discard(agent_id)
        if entry.team_id is not None:
            for q in entry.queue_ids:
                teams = (self._agents[a].team_id for a in self._members.get(q, ()))
                self._team_of_queue[q] = {t for t in teams if t is not None}

    def _refree(self, agent: AgentEntry) -> None:
        if not agent.free:
            return
        agent_id, classes = agent.agent_id, agent.free
        self._free[agent_id] = agent
        for ch in classes:
            self._free_class.setdefault(ch, set()).add(agent_id)
        for line in self._member_lines(agent):
            if line.channel in classes:
                pool = line.free
                if not pool and line.ranked:
                    self._open.add(line)
                pool.add(agent_id)

    def _unfree(self, agent: AgentEntry) -> None:
        if not agent.free:
            return
        agent_id, classes = agent.agent_id, agent.free
        del self._free[agent_id]
        for ch in classes:
            self._free_class[ch].discard(agent_id)
        for line in self._member_lines(agent):
            if line.channel in classes:
                pool = line.free
                pool.discard(agent_id)
                if not pool:
                    self._open.discard(line)
        agent.free = ()

    def _member_lines(self, agent: AgentEntry) -> list[Line]:
        """The lines of the agent's queues; recomputed only after a new line appeared (lines are
        never dropped, so their count tells)."""
        if agent.lines_seen != len(self._lines):
            agent.lines = [line for q in agent.queue_ids for line in self._lines_of_queue.get(q, ())]
            agent.lines_seen = len(self._lines)
        return agent.lines

    def waiting(self, queue_id: int) -> list[WaitingContact]:
        keys = sorted(key for line in self._lines_of_queue.get(queue_id, ()) for key in line.ranked)
        return [self._contacts[cid].contact for _, cid in keys]

    def agent(self, agent_id: int) -> AgentSnapshot | None:
        entry = self._agents.get(agent_id)
        if entry is None:
            return None
        if entry.offered_at is None:
            return entry.current()
        return _with_offer(entry.current(), entry.offered_at)

    # -- decisions --------------------------------------------------------------------------------
    def decide(self, snapshot: Snapshot) -> list[OfferDecision]:
        self.reset(snapshot)
        return self.decide_now(snapshot.now)

    def reset(self, snapshot: Snapshot) -> None:
        self._clear()
        for policy in snapshot.queues.values():
            self.set_policy(policy)
        for agent in snapshot.agents:
            self.put_agent(agent)
        for contact in snapshot.contacts:
            self.add_contact(contact)

    def decide_now(self, now: datetime) -> list[OfferDecision]:
        """Offers for the current state; the chosen agents are marked as holding an offer and the
        contacts leave the line, as the caller will make those offers.

        The result is that of walking every waiting contact in rank order and giving each the
        best eligible agent still free; the indexes only skip lines nobody free can serve."""
        if not self._free or not self._contacts:
            return []
        now_us = micros(now)
        decisions: list[OfferDecision] = []
        taken: list[int] = []
        if self._targeted:
            self._decide_targeted(now, decisions, taken)
        wide = self._wide
        # A line's pool is worked out when its head's turn comes: the walk usually ends (nobody
        # left free) before most lines are reached.
        walk: list[_Step] = []
        for line in self._open:
            if line.queue_id not in wide:  # those come through the heads heap, in rank order
                key, cid = line.ranked[0]
                walk.append((key, cid, line, 0))
        heapq.heapify(walk)
        pools: dict[Line, set[int] | None] = {}
        heads = self._wide_heads() if wide else iter(())
        head = next(heads, None)
        free = self._free
        while free:
            if head is not None and (not walk or (head[0], head[1]) < (walk[0][0], walk[0][1])):
                line = head[3]  # a wide line joins the walk when its head's turn comes
                head = next(heads, None)
                if line not in pools:
                    key, cid = line.ranked[0]
                    heapq.heappush(walk, (key, cid, line, 0))
                continue
            if not walk:
                break
            _, cid, line, index = heapq.heappop(walk)
            if index:
                pool = pools[line]
            elif line in pools:
                continue  # a wide line met twice
            elif not line.free and line.queue_id not in wide:
                continue  # its members were all taken earlier in this walk
            else:
                pool = pools[line] = self._pool(line, now_us)
            if not pool:
                continue  # nobody left for this line: it leaves the walk
            if index + 1 < len(line.ranked):
                key, following = line.ranked[index + 1]
                heapq.heappush(walk, (key, following, line, index + 1))
            entry = self._contacts[cid]
            if entry.contact.target_agent_id is not None or cid in taken:
                continue
            best = self._choose(entry, pool, now, now_us)
            if best is not None:
                self._offer(best, entry, now, decisions, taken)
        for cid in taken:  # after the walk: the walk reads the lines
            self.remove_contact(cid)
        return decisions

    def _pool(self, line: Line, now_us: int) -> set[int] | None:
        """The free agents who might serve some contact of this line now, or None when nobody can
        (then the whole line is skipped). Relaxation only ever applies to contacts that have
        waited long enough, and the line's oldest contact has waited longest."""
        if not line.ranked:
            return None
        queue_id = line.queue_id
        rules = self._rules_of(queue_id)
        passed = rules.passed(waited_s(now_us, line.by_arrival[0][0])) if rules.after else 0
        widest = rules.widest[passed]
        pool = line.free if widest == IN_QUEUE else self._free_class.get(line.channel)
        if not pool:
            return None
        if line.custom or (widest != IN_TEAM and rules.anyone_fits[passed]):
            return pool  # contacts with their own requirements, or a rule anyone meets: no shortcut
        reach = rules.reach[passed]
        teams = self._team_of_queue.get(queue_id, set()) if widest == IN_TEAM else None
        free = self._free
        for agent_id in pool:
            agent = free[agent_id]
            if teams is not None and queue_id not in agent.queue_ids and agent.team_id not in teams:
                continue
            if self._mask(agent, queue_id) & reach:
                return pool
        return None

    def _mask(self, agent: AgentEntry, queue_id: int) -> int:
        mask = agent.masks.get(queue_id)
        if mask is None:
            mask = agent.masks[queue_id] = self._rules_of(queue_id).mask(agent.skills)
        return mask

    def _choose(self, entry: Waiting, pool: set[int], now: datetime, now_us: int) -> AgentEntry | None:
        """The best free agent for this contact, among ``pool`` (which holds them all)."""
        contact, line = entry.contact, entry.line
        queue_id = line.queue_id
        rules = self._rules_of(queue_id)
        passed = rules.passed(waited_s(now_us, entry.enqueued_us)) if rules.after else 0
        free = self._free
        if passed:
            step = rules.in_force[passed - 1]
            requirements, scope, bit = rules.rules[step + 1], rules.scope[step], 1 << (step + 1)
            source = line.free if scope == Scope.QUEUE else pool
            candidates = [a for a in (free[i] for i in source) if self._mask(a, queue_id) & bit]
            if scope == Scope.TEAM:
                teams = self._team_of_queue.get(queue_id, set())
                candidates = [a for a in candidates if queue_id in a.queue_ids or a.team_id in teams]
        elif contact.requirements is not None:
            requirements = contact.requirements
            candidates = [a for a in (free[i] for i in line.free)
                          if all(r.met_by(a.skills) for r in requirements)]
        else:
            requirements = rules.rules[0]
            source = line.free
            if (not requirements and rules.policy.strategy == Strategy.LONGEST_IDLE
                    and contact.sticky_agent_id is None and not contact.declined_by):
                return _longest_idle(source, free)  # the common case, without a candidate list
            candidates = ([free[i] for i in source] if not requirements else
                          [a for a in (free[i] for i in source) if self._mask(a, queue_id) & 1])
        if not candidates:
            return None
        return self._pick(contact, candidates, rules.policy, requirements, now)

    def _pick(self, contact: WaitingContact, candidates: list[AgentEntry], policy: QueuePolicy,
              requirements: tuple[SkillRequirement, ...], now: datetime) -> AgentEntry:
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
            def skill_sum(a: AgentEntry) -> int:
                return sum(a.skills.get(r.skill, 0) for r in requirements) if requirements else sum(a.skills.values())
            return min(candidates, key=lambda a: (a.agent_id in declined, -skill_sum(a), a.total, a.idle_us,
                                                  a.agent_id))
        if strategy == Strategy.LEAST_OCCUPIED:
            return min(candidates, key=lambda a: (a.agent_id in declined, a.total, a.occupancy, a.idle_us,
                                                  a.agent_id))
        if strategy == Strategy.ROUND_ROBIN:
            last = self._rr.get(contact.queue_id, -1)
            # The next agent id after the last one served, wrapping around.
            return min(candidates, key=lambda a: (a.agent_id in declined, a.agent_id <= last, a.agent_id))
        if not declined:
            return min(candidates, key=_by_idle)
        return min(candidates, key=lambda a: (a.agent_id in declined, a.total, a.idle_us, a.agent_id))

    def _decide_targeted(self, now: datetime, decisions: list[OfferDecision], taken: list[int]) -> None:
        for entry in sorted(self._targeted.values(), key=lambda w: w.key):
            agent = self._free.get(entry.contact.target_agent_id or -1)
            if agent is None or entry.contact.channel not in agent.free:
                continue
            self._offer(agent, entry, now, decisions, taken)

    def _offer(self, agent: AgentEntry, entry: Waiting, now: datetime,
               decisions: list[OfferDecision], taken: list[int]) -> None:
        contact = entry.contact
        decisions.append(OfferDecision(contact.contact_id, agent.agent_id, contact.queue_id))
        if self._rules_of(contact.queue_id).policy.strategy == Strategy.ROUND_ROBIN:
            self._rr[contact.queue_id] = agent.agent_id
        taken.append(contact.contact_id)
        self._unfree(agent)
        agent.offered_at = now

    # -- heads of the lines of wide queues ----------------------------------------------------------
    def _push_head(self, line: Line) -> None:
        key, cid = line.ranked[0]
        self._pushes += 1
        heapq.heappush(self._heads, (key, cid, self._pushes, line))
        if len(self._heads) > 64 + 4 * len(self._lines):  # mostly stale: rebuild
            self._heads = []
            for q in self._wide:
                for each in self._lines_of_queue.get(q, ()):
                    if each.ranked:
                        self._pushes += 1
                        self._heads.append((*each.ranked[0], self._pushes, each))
            heapq.heapify(self._heads)

    def _is_head(self, head: _Head) -> bool:
        line = head[3]
        return line.queue_id in self._wide and bool(line.ranked) and line.ranked[0] == (head[0], head[1])

    def _wide_heads(self) -> Iterator[_Head]:
        """The current heads of the wide lines in rank order, read without taking the heap apart
        (a second small heap walks it from the root)."""
        heads = self._heads
        while heads and not self._is_head(heads[0]):
            heapq.heappop(heads)
        if not heads:
            return
        frontier = [(heads[0][0], heads[0][1], heads[0][2], 0)]
        size = len(heads)
        while frontier:
            at = heapq.heappop(frontier)[3]
            head = heads[at]
            if self._is_head(head):
                yield head
            for child in (2 * at + 1, 2 * at + 2):
                if child < size:
                    below = heads[child]
                    heapq.heappush(frontier, (below[0], below[1], below[2], child))


_by_idle = attrgetter("total", "idle_us", "agent_id")  # longest idle, nobody declined


def _longest_idle(ids: set[int], free: dict[int, AgentEntry]) -> AgentEntry | None:
    """``min(candidates, key=_by_idle)`` as a plain loop: no key tuples, and integer comparisons
    that the native build (``make compile``) turns into machine instructions."""
    best: AgentEntry | None = None
    for agent_id in ids:
        a = free[agent_id]
        if best is None or a.total < best.total or (a.total == best.total and (
                a.idle_us < best.idle_us or (a.idle_us == best.idle_us and a.agent_id < best.agent_id))):
            best = a
    return best


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
