"""Runs the Router: a singleton loop (under a lease) that wakes on routing-relevant events and on
the next offer deadline, expires lapsed offers and makes new ones, one transaction per step."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from madoguchi.agents.work import do_auto_wrap_up
from madoguchi.contacts.actions import get_contact
from madoguchi.db.leases import Lease
from madoguchi.db.uow import Database, UnitOfWork
from madoguchi.kernel.clock import as_utc
from madoguchi.kernel.events import Envelope, Event
from madoguchi.routing.actions import do_overflow, do_overflow_callback
from madoguchi.routing.models import Offer
from madoguchi.routing.offers import do_expire_due, do_make_offer
from madoguchi.routing.overflow import overflow_moves
from madoguchi.routing.policy import hours_of, overflow_of
from madoguchi.routing.position import LinePosition, positions
from madoguchi.routing.queries import (
    aht_by_queue,
    callback_asked,
    default_aht,
    load_snapshot,
    next_offer_deadline,
    overflow_hops,
    queue_rows,
    wrap_up_overdue,
)
from madoguchi.routing.router import Router, Snapshot
from madoguchi.routing.states import OfferState

logger = logging.getLogger(__name__)

WAKE_ON = frozenset({"contact.changed", "agent.state_changed", "queue.changed", "offer.closed"})
#: Contact changes that only add demand: while nobody is free they cannot lead to an offer, so they
#: wait for the next regular step (at most IDLE_TICK_S) instead of waking the router each time.
DEMAND_ONLY = frozenset({"queued"})
IDLE_TICK_S = 1.0
AHT_REFRESH_S = 60.0
MAX_PACE_S = 0.5


def anyone_free(snapshot: Snapshot) -> bool:
    """Some agent could take some class of work now; otherwise deciding is skipped (with a flood of
    emails in line and nobody free, rebuilding the Router's indexes would decide nothing)."""
    return any(a.can_take(ch) for a in snapshot.agents for ch in a.capacity)


class RouterRunner:
    def __init__(self, db: Database, router: Router, *, offer_timeout_s: float, lease: Lease,
                 missed_limit: int = 0, timezone: str = "UTC") -> None:
        self.db = db
        self.router = router
        self.offer_timeout_s = offer_timeout_s
        self.missed_limit = missed_limit
        self.zone = ZoneInfo(timezone)
        self.lease = lease
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: object = None
        self.steps = 0
        self.positions: dict[int, LinePosition] = {}
        self._aht: dict[int, float] = {}
        self._aht_at: datetime | None = None
        self._nobody_free = False  # as of the last step

    def wake(self) -> None:
        self._wake.set()

    def _on_event(self, envelope: Envelope) -> None:
        if envelope.type not in WAKE_ON:
            return
        if (self._nobody_free and envelope.type == "contact.changed"
                and envelope.data.get("change") in DEMAND_ONLY):
            return  # a flood of new contacts with every agent busy: the next tick will do
        self._wake.set()

    async def start(self) -> None:
        self._unsubscribe = self.db.bus.subscribe(self._on_event)
        self._task = asyncio.create_task(self._run(), name="router")

    async def stop(self) -> None:
        if callable(self._unsubscribe):
            self._unsubscribe()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.lease.release()

    async def step(self) -> float:
        """Expire lapsed offers, close overdue wrap-ups, overflow, decide, offer; then tell waiting
        customers where they stand. Returns seconds until the next deadline (capped)."""
        async with self.db.uow() as uow:
            now = uow.clock.now()
            await do_expire_due(uow, missed_limit=self.missed_limit)
            for contact_id in await wrap_up_overdue(uow.session, now):
                contact = await get_contact(uow, contact_id)
                await do_auto_wrap_up(uow, contact=contact)
            topics: dict[int, str] = {}
            snapshot = await load_snapshot(uow.session, now, topics=topics)
            if await self._overflow(uow, snapshot):
                topics.clear()
                snapshot = await load_snapshot(uow.session, now, topics=topics)
            self._nobody_free = not anyone_free(snapshot)
            if snapshot.contacts and not self._nobody_free:
                for decision in self.router.decide(snapshot):
                    await do_make_offer(uow, decision=decision, default_timeout_s=self.offer_timeout_s)
                await uow.session.flush()
            deadline = await next_offer_deadline(uow.session)
            await self._announce_positions(uow, snapshot, now, topics)
        self.steps += 1
        if deadline is None:
            return IDLE_TICK_S
        return max(0.01, min(IDLE_TICK_S, (as_utc(deadline) - now).total_seconds()))

    async def _overflow(self, uow: UnitOfWork, snapshot: Snapshot) -> bool:
        queues = await queue_rows(uow.session)
        rules = {qid: overflow_of(q) for qid, q in queues.items() if q.overflow}
        if not rules or not snapshot.contacts:
            return False
        open_now = {}
        for qid, queue in queues.items():
            hours = hours_of(queue)
            open_now[qid] = hours.is_open(snapshot.now, self.zone) if hours else True
        waiting = [c.contact_id for c in snapshot.contacts]
        hops = await overflow_hops(uow.session, waiting)
        callbacks = any(r.action == "callback" for queue_rules in rules.values() for r in queue_rules)
        called_back = await callback_asked(uow.session, waiting) if callbacks else set()
        moves = overflow_moves(snapshot, rules, open_now, hops, set(queues), called_back)
        for move in moves:
            if move.to_queue_id is None:
                await do_overflow_callback(uow, contact_id=move.contact_id, reason=move.reason)
            else:
                await do_overflow(uow, contact_id=move.contact_id, to_queue=queues[move.to_queue_id],
                                  reason=move.reason)
        if moves:
            await uow.session.flush()
        return bool(moves)

    async def _announce_positions(self, uow: UnitOfWork, snapshot: Snapshot, now: datetime,
                                  topics: dict[int, str]) -> None:
        """Ephemeral ``queue.position`` events to customers who watch (``topics``: a live chat) and
        whose place or estimate changed. The others (an email) are counted in the line all the same."""
        if not topics:
            self.positions = {}
            return
        if self._aht_at is None or (now - self._aht_at).total_seconds() > AHT_REFRESH_S:
            self._aht = await aht_by_queue(uow.session)
            self._aht_at = now
        # Contacts just offered are not in line any more.
        pending = set((await uow.session.scalars(select(Offer.contact_id).where(
            Offer.state == OfferState.PENDING))).all())
        in_line = Snapshot(now=now, contacts=tuple(c for c in snapshot.contacts if c.contact_id not in pending),
                           agents=snapshot.agents, queues=snapshot.queues)
        current = {cid: p for cid, p in positions(in_line, {**(await default_aht(uow.session)), **self._aht}).items()
                   if cid in topics}
        changed = [p for cid, p in current.items() if self.positions.get(cid) != p]
        self.positions = current
        for p in changed:
            uow.emit(Event("queue.position", {
                "contact_id": p.contact_id, "queue_id": p.queue_id, "position": p.position,
                "estimated_wait_s": round(p.estimated_wait_s) if p.estimated_wait_s is not None else None},
                (topics[p.contact_id],), durable=False))

    async def _run(self) -> None:
        while True:
            try:
                if not await self.lease.try_acquire():
                    await asyncio.sleep(2.0)
                    continue
                self._wake.clear()
                started = time.monotonic()
                wait = await self.step()
                took = time.monotonic() - started
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("router step failed; retrying")
                wait, took = IDLE_TICK_S, 0.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            # A step reads the whole line, so stepping on every event of a burst (a thousand emails,
            # a wave of calls) costs the square of the burst. Resting as long as the last step took
            # lets the events of a burst gather into one step and keeps the router at most about
            # half of the process's time, at the price of one step's time of extra wait.
            await asyncio.sleep(min(took, MAX_PACE_S))
