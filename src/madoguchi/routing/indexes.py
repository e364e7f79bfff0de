"""The Router's working records: mutable and slotted, so a decision changes a field or two instead
of rebuilding frozen snapshots, and times are whole microseconds (ints) instead of datetimes.

Nothing here is part of the Router's interface: ``router.py`` takes and returns the frozen values of
``snapshots.py`` and keeps these in step with them."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from madoguchi.routing.snapshots import (
    EXCLUSIVE_CHANNELS,
    ROUTABLE_STATES,
    AgentSnapshot,
    QueuePolicy,
    Scope,
    SkillRequirement,
    WaitingContact,
    micros,
)

#: How far a queue's rules in force reach beyond its members (ordered: a wider scope is larger).
IN_QUEUE, IN_TEAM, ANYONE = 0, 1, 2
_REACH = {Scope.QUEUE: IN_QUEUE, Scope.TEAM: IN_TEAM, Scope.ANY: ANYONE}
_MICROS_PER_S = 1_000_000


class QueueRules:
    """A queue policy prepared for the hot path. Rule 0 is the queue's requirements, rule i + 1
    relaxation step i; an agent's skills are summed up per queue as a bit mask of the rules met."""

    __slots__ = ("after", "anyone_fits", "in_force", "policy", "reach", "rules", "scope", "widest")

    def __init__(self, policy: QueuePolicy) -> None:
        steps = policy.relaxation
        order = sorted(range(len(steps)), key=lambda i: steps[i].after_s)
        self.policy = policy
        self.rules: tuple[tuple[SkillRequirement, ...], ...] = (
            policy.requirements, *(s.requirements for s in steps))
        self.scope = tuple(s.scope for s in steps)
        #: thresholds in increasing order; after c of them have passed …
        self.after = [steps[i].after_s for i in order]
        #: … the step in force is the last one *in the policy's order* among them (as ``rule_at``),
        self.in_force: list[int] = []
        #: the rules some contact of a line may be under (the newest may still be under rule 0),
        self.reach: list[int] = [1]
        #: and how far beyond the queue's members those rules reach.
        self.widest: list[int] = [IN_QUEUE]
        last, reach, widest = -1, 1, IN_QUEUE
        for i in order:
            last = max(last, i)
            reach |= 1 << (i + 1)
            widest = max(widest, _REACH[steps[i].scope])
            self.in_force.append(last)
            self.reach.append(reach)
            self.widest.append(widest)
        #: per number of thresholds passed: some rule in reach asks for no skill at all
        self.anyone_fits = [any(not self.rules[i] for i in range(len(self.rules)) if reach_ & (1 << i))
                            for reach_ in self.reach]

    @property
    def wide(self) -> bool:
        return self.widest[-1] != IN_QUEUE

    def passed(self, waited_s: float) -> int:
        """How many relaxation thresholds a wait of ``waited_s`` has reached."""
        return bisect_right(self.after, waited_s) if self.after else 0

    def mask(self, skills: Mapping[str, int]) -> int:
        met = 0
        for i, requirements in enumerate(self.rules):
            if all(r.met_by(skills) for r in requirements):
                met |= 1 << i
        return met


def waited_s(now_us: int, since_us: int) -> float:
    """Equal to ``(now - since).total_seconds()`` (an exact integer division, correctly rounded)."""
    return (now_us - since_us) / _MICROS_PER_S


class AgentEntry:
    """One agent as the Router keeps it: the last snapshot, the figures the strategies compare,
    the classes of work the agent is free for now, and the skill masks per queue (computed when
    first needed, dropped when skills or a queue's rules change)."""

    __slots__ = ("agent_id", "free", "idle_since", "idle_us", "lines", "lines_seen", "load", "masks", "occupancy",
                 "offered_at", "open_classes", "queue_ids", "skills", "snapshot", "stale", "team_id", "total")

    def __init__(self, snapshot: AgentSnapshot) -> None:
        self.agent_id = snapshot.agent_id
        self.queue_ids = snapshot.queue_ids
        self.team_id = snapshot.team_id
        self.skills = snapshot.skills
        self.masks: dict[int, int] = {}
        self.free: tuple[str, ...] = ()
        self.offered_at: datetime | None = None
        self.idle_since: datetime | None = None
        self.idle_us = 0
        self.lines: list[Line] = []   # the lines of its queues, as of …
        self.lines_seen = -1           # … this many lines in all
        self.load: dict[str, int] = {}
        self.stale = False             # load, idle_since or occupancy changed since ``snapshot``
        self.snapshot = snapshot
        self.open_classes = _open_classes(snapshot.capacity)
        self.update(snapshot)

    def update(self, snapshot: AgentSnapshot) -> None:
        if snapshot.skills is not self.skills and snapshot.skills != self.skills:
            self.masks = {}
        if snapshot.capacity is not self.snapshot.capacity:
            self.open_classes = _open_classes(snapshot.capacity)
        self.snapshot = snapshot
        self.stale = False
        self.skills = snapshot.skills
        self.load = dict(snapshot.load)
        self.total = snapshot.total_load()
        self.occupancy = snapshot.occupancy
        if snapshot.idle_since is not self.idle_since:  # callers often hand the same one back
            self.idle_since = snapshot.idle_since
            self.idle_us = micros(snapshot.idle_since) if snapshot.idle_since is not None else 0
        self.offered_at = None

    def set_load(self, channel: str, count: int, idle_since: datetime | None, occupancy: float | None) -> None:
        self.total += count - self.load.get(channel, 0)
        self.load[channel] = count
        if idle_since is not None and idle_since is not self.idle_since:
            self.idle_since = idle_since
            self.idle_us = micros(idle_since)
        if occupancy is not None:
            self.occupancy = occupancy
        self.offered_at = None
        self.stale = True

    def current(self) -> AgentSnapshot:
        """The snapshot as it stands after any ``set_load`` since the last one handed in."""
        if self.stale:
            self.snapshot = replace(self.snapshot, load=dict(self.load), idle_since=self.idle_since,
                                    occupancy=self.occupancy, pending_offer=False)
            self.stale = False
        return self.snapshot

    def free_classes(self) -> tuple[str, ...]:
        """The classes of work ``snapshot.can_take`` now, in one pass over the load."""
        snapshot = self.snapshot
        if snapshot.state not in ROUTABLE_STATES or (snapshot.pending_offer and not self.stale):
            return ()
        load, capacity = self.load, snapshot.capacity
        if not snapshot.voice_exclusive:
            return tuple(ch for ch, most in capacity.items() if load.get(ch, 0) < most)
        total = self.total
        if not total:  # empty hands: anything up to its capacity
            return self.open_classes
        on = [ch for ch in EXCLUSIVE_CHANNELS if load.get(ch, 0)]  # on a call: nothing else …
        if on and total:
            return ()
        return tuple(ch for ch, most in capacity.items()
                     if not any(x != ch for x in on) and not (total and ch in EXCLUSIVE_CHANNELS)
                     and load.get(ch, 0) < most)


def _open_classes(capacity: Mapping[str, int]) -> tuple[str, ...]:
    """What an agent with empty hands is free for (asked every time one finishes a contact)."""
    return tuple(ch for ch, most in capacity.items() if most > 0)


class Line:
    """One queue's contacts of one class of work: in rank order, and by arrival (for the oldest).
    ``free`` is the shared set of the queue's members free for this class of work now."""

    __slots__ = ("by_arrival", "channel", "custom", "free", "queue_id", "ranked")

    def __init__(self, queue_id: int, channel: str, free: set[int]) -> None:
        self.queue_id = queue_id
        self.channel = channel
        self.free = free
        self.ranked: list[tuple[float, int]] = []
        self.by_arrival: list[tuple[int, int]] = []
        self.custom = 0  # contacts with their own requirements


class Waiting:
    """A contact in line: the value handed in, its arrival in microseconds, and its rank key
    (``line_key``: arrival in seconds less its priority credit, computed from the same exact
    microseconds as ``timedelta.total_seconds()``)."""

    __slots__ = ("contact", "enqueued_us", "key", "line")

    def __init__(self, contact: WaitingContact, line: Line, credit_s: float) -> None:
        self.contact = contact
        self.line = line
        self.enqueued_us = micros(contact.enqueued_at)
        self.key = (self.enqueued_us / _MICROS_PER_S - credit_s, contact.contact_id)
