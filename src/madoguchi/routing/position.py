"""Where a waiting contact stands and roughly how long it will wait, for the widget (and, later,
IVR announcements)."""

from __future__ import annotations

from dataclasses import dataclass

from madoguchi.routing.router import QueuePolicy, Snapshot, WaitingContact, line_key


@dataclass(frozen=True)
class LinePosition:
    contact_id: int
    queue_id: int
    position: int               # 1 = next
    estimated_wait_s: float | None  # None: nobody logged in to serve it


def servers(snapshot: Snapshot, queue_id: int, channel: str) -> int:
    """Parallel capacity of the logged-in, routable members for this class of work."""
    return sum(a.capacity.get(channel, 0) for a in snapshot.agents
               if queue_id in a.queue_ids and a.state in ("available", "busy", "wrap_up"))


def positions(snapshot: Snapshot, aht_s: dict[int, float]) -> dict[int, LinePosition]:
    """Position in line and an estimate: ``position × AHT ÷ servers`` (each server finishes a
    contact every AHT on average, so the contacts ahead clear at servers ÷ AHT per second)."""
    by_queue: dict[int, list[WaitingContact]] = {}
    for contact in snapshot.contacts:
        by_queue.setdefault(contact.queue_id, []).append(contact)
    out: dict[int, LinePosition] = {}
    parallel: dict[tuple[int, str], int] = {}
    for queue_id, line in by_queue.items():
        policy = snapshot.queues.get(queue_id) or QueuePolicy(queue_id=queue_id)
        line.sort(key=lambda c: line_key(c, policy))
        for number, contact in enumerate(line, start=1):
            n = parallel.get((queue_id, contact.channel))
            if n is None:
                n = parallel[(queue_id, contact.channel)] = servers(snapshot, queue_id, contact.channel)
            estimate = number * aht_s.get(queue_id, 300.0) / n if n else None
            out[contact.contact_id] = LinePosition(contact.contact_id, queue_id, number, estimate)
    return out
