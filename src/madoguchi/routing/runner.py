"""Runs the Router: a singleton loop (under a lease) that wakes on routing-relevant events and on
the next offer deadline, expires lapsed offers and makes new ones, one transaction per step."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from madoguchi.db.leases import Lease
from madoguchi.db.uow import Database
from madoguchi.kernel.clock import as_utc
from madoguchi.kernel.events import Envelope
from madoguchi.routing.offers import do_expire_due, do_make_offer
from madoguchi.routing.queries import load_snapshot, next_offer_deadline
from madoguchi.routing.router import Router

logger = logging.getLogger(__name__)

WAKE_ON = frozenset({"contact.changed", "agent.state_changed", "queue.changed", "offer.closed"})
IDLE_TICK_S = 1.0


class RouterRunner:
    def __init__(self, db: Database, router: Router, *, offer_timeout_s: float, lease: Lease) -> None:
        self.db = db
        self.router = router
        self.offer_timeout_s = offer_timeout_s
        self.lease = lease
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: object = None
        self.steps = 0

    def wake(self) -> None:
        self._wake.set()

    def _on_event(self, envelope: Envelope) -> None:
        if envelope.type in WAKE_ON:
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
        """Expire, decide, offer. Returns seconds until the next offer deadline (capped)."""
        async with self.db.uow() as uow:
            await do_expire_due(uow)
            snapshot = await load_snapshot(uow.session, uow.clock.now())
            for decision in self.router.decide(snapshot):
                await do_make_offer(uow, decision=decision, default_timeout_s=self.offer_timeout_s)
            await uow.session.flush()
            deadline = await next_offer_deadline(uow.session)
            now = uow.clock.now()
        self.steps += 1
        if deadline is None:
            return IDLE_TICK_S
        return max(0.01, min(IDLE_TICK_S, (as_utc(deadline) - now).total_seconds()))

    async def _run(self) -> None:
        while True:
            try:
                if not await self.lease.try_acquire():
                    await asyncio.sleep(2.0)
                    continue
                self._wake.clear()
                wait = await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("router step failed; retrying")
                wait = IDLE_TICK_S
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
