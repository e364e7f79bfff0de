"""What the Router reads and writes: queue policies, waiting contacts, agent snapshots and offer
decisions, as plain frozen values, with the rules that order a line (see ``router.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

ROUTABLE_STATES = frozenset({"available", "busy"})
EXCLUSIVE_CHANNELS = frozenset({"voice"})
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def micros(moment: datetime) -> int:
    """Whole microseconds since the epoch: exact, so waits computed from them equal
    ``timedelta.total_seconds()`` to the last bit, as the relaxation thresholds need."""
    return (moment - EPOCH) // _MICROSECOND


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


# WaitingContact and OfferDecision are made for every contact routed, and a frozen dataclass sets
# each field through object.__setattr__ (2.4 µs for a WaitingContact even compiled, a seventh of a
# simulated contact's whole cost). They are values all the same: nothing mutates one once made
# (``dataclasses.replace`` makes changed copies), and neither is used as a key.
@dataclass
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


@dataclass
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
    """Smaller is served first; fixed while the contact waits (see ``router.py``'s docstring)."""
    return ((contact.enqueued_at - EPOCH).total_seconds() - credit_s(contact, policy), contact.contact_id)


def line_order(contact: WaitingContact) -> tuple[float, int]:
    return line_key(contact)


def requirements_of(contact: WaitingContact, policy: QueuePolicy, now: datetime) -> tuple[
        tuple[SkillRequirement, ...], Scope]:
    waited = (now - contact.enqueued_at).total_seconds()
    requirements, scope = policy.rule_at(waited)
    if contact.requirements is not None and not any(waited >= s.after_s for s in policy.relaxation):
        requirements = contact.requirements
    return requirements, scope
