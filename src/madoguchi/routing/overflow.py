"""Overflow, decided purely: which waiting contacts leave their queue for another, and why.

A contact that overflows is a flow-out of the queue it leaves (../shared/KPI.md: not an abandon)
and keeps its original enqueue time in the next queue, so it does not lose its place."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from madoguchi.routing.policy import OverflowRule
from madoguchi.routing.router import DEFAULT_POLICY, QueuePolicy, Snapshot, WaitingContact, line_key

#: A contact is moved at most this often, so two queues that overflow into each other cannot
#: bounce it for ever.
MAX_HOPS = 3


@dataclass(frozen=True)
class OverflowMove:
    contact_id: int
    from_queue_id: int
    to_queue_id: int | None   # None: a callback (``action``)
    reason: str
    action: str = "queue"


def staffed(snapshot: Snapshot, queue_id: int) -> bool:
    """Someone logged in (any state but offline) is a member and meets the queue's requirements."""
    policy = snapshot.queues.get(queue_id, DEFAULT_POLICY)
    return any(queue_id in a.queue_ids and all(r.met_by(a.skills) for r in policy.requirements)
               for a in snapshot.agents if a.state != "offline")


def overflow_moves(snapshot: Snapshot, rules: Mapping[int, list[OverflowRule]], open_now: Mapping[int, bool],
                   hops: Mapping[int, int], known_queues: set[int],
                   called_back: frozenset[int] | set[int] = frozenset()) -> list[OverflowMove]:
    """``called_back``: contacts already turned into callbacks (a callback rule skips them)."""
    now: datetime = snapshot.now
    lines: dict[int, list[WaitingContact]] = defaultdict(list)
    for contact in snapshot.contacts:
        if contact.target_agent_id is None:
            lines[contact.queue_id].append(contact)
    moves: list[OverflowMove] = []
    for queue_id, line in lines.items():
        queue_rules = rules.get(queue_id)
        if not queue_rules:
            continue
        policy: QueuePolicy = snapshot.queues.get(queue_id, DEFAULT_POLICY)
        line.sort(key=lambda c: line_key(c, policy))
        has_staff = staffed(snapshot, queue_id)
        for position, contact in enumerate(line, start=1):
            if hops.get(contact.contact_id, 0) >= MAX_HOPS:
                continue
            for rule in queue_rules:
                if rule.action == "callback":
                    if contact.channel != "voice" or contact.contact_id in called_back:
                        continue  # only a caller on the line can be offered a callback, and once
                elif rule.to_queue_id == queue_id or rule.to_queue_id not in known_queues:
                    continue
                waited = (now - contact.enqueued_at).total_seconds()
                if ((rule.when == "closed" and not open_now.get(queue_id, True))
                        or (rule.when == "no_agents" and not has_staff)
                        or (rule.when == "wait_over" and rule.limit is not None and waited > rule.limit)
                        or (rule.when == "length_over" and rule.limit is not None and position > rule.limit)):
                    moves.append(OverflowMove(contact.contact_id, queue_id, rule.to_queue_id, rule.when,
                                              rule.action))
                    break
    return moves
