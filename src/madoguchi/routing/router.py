"""The Router: pure. A snapshot of waiting contacts and agents goes in, offers come out.

No I/O and no clock of its own (``Snapshot.now``), so tests, property checks and the workforce
simulator drive it directly. The ACD grows new strategies behind the same ``Router`` protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

ROUTABLE_STATES = frozenset({"available", "busy"})
EXCLUSIVE_CHANNELS = frozenset({"voice"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class WaitingContact:
    contact_id: int
    queue_id: int
    channel: str
    enqueued_at: datetime
    priority: int = 0
    queue_priority: int = 0
    declined_by: frozenset[int] = frozenset()   # agents who rejected it or let an offer lapse


@dataclass(frozen=True)
class AgentSnapshot:
    agent_id: int
    state: str
    queue_ids: frozenset[int]
    capacity: Mapping[str, int]
    load: Mapping[str, int] = field(default_factory=dict)   # contacts in hand (and pending offers) per channel
    idle_since: datetime | None = None
    pending_offer: bool = False

    def total_load(self) -> int:
        return sum(self.load.values())

    def can_take(self, channel: str) -> bool:
        if self.state not in ROUTABLE_STATES or self.pending_offer:
            return False
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


@dataclass(frozen=True)
class OfferDecision:
    contact_id: int
    agent_id: int
    queue_id: int


class Router(Protocol):
    def decide(self, snapshot: Snapshot) -> list[OfferDecision]:
        """Offers to make now. At most one per contact and one per agent."""
        ...


def line_order(contact: WaitingContact) -> tuple[int, int, datetime, int]:
    """Higher queue priority, then higher contact priority, then first come first served."""
    return (-contact.queue_priority, -contact.priority, contact.enqueued_at, contact.contact_id)


class LongestIdleRouter:
    """The first strategy: to the least-loaded agent who has been idle longest, FIFO per queue.

    An agent who already declined or missed this contact is tried only when nobody else can take it.
    """

    def decide(self, snapshot: Snapshot) -> list[OfferDecision]:
        free = {a.agent_id: a for a in snapshot.agents if a.state in ROUTABLE_STATES and not a.pending_offer}
        decisions: list[OfferDecision] = []
        for contact in sorted(snapshot.contacts, key=line_order):
            candidates = [a for a in free.values()
                          if contact.queue_id in a.queue_ids and a.can_take(contact.channel)]
            if not candidates:
                continue
            best = min(candidates, key=lambda a: (a.agent_id in contact.declined_by, a.total_load(),
                                                  a.idle_since or _EPOCH, a.agent_id))
            decisions.append(OfferDecision(contact.contact_id, best.agent_id, contact.queue_id))
            del free[best.agent_id]
        return decisions
