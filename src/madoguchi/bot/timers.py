"""``ask`` and ``bot_answer`` timeouts: one small worker on the node that holds its lease."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import select

from madoguchi.bot.service import BotService
from madoguchi.db.leases import Lease
from madoguchi.db.uow import Database
from madoguchi.flows.models import FlowSession

logger = logging.getLogger(__name__)


class FlowTimers:
    name = "flow_timers"

    def __init__(self, db: Database, bot: BotService, lease: Lease, *, every_s: float = 1.0) -> None:
        self.db = db
        self.bot = bot
        self.lease = lease
        self.every_s = every_s
        self._task: asyncio.Task[None] | None = None

    async def consume(self) -> int:
        """Resume every session whose wait timed out; returns how many were due."""
        async with self.db.read() as session:
            due = (await session.execute(
                select(FlowSession.id, FlowSession.contact_id).where(
                    FlowSession.status == "waiting", FlowSession.deadline_at <= self.db.clock.now())
                .order_by(FlowSession.deadline_at).limit(200))).all()
        for session_id, contact_id in due:
            try:
                await self.bot.on_timeout(session_id, contact_id)
            except Exception:
                logger.exception("flow timeout of session %s failed; next round retries", session_id)
        return len(due)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.lease.release()

    async def _run(self) -> None:
        while True:
            try:
                if await self.lease.try_acquire():
                    await self.consume()
            except Exception:
                logger.exception("flow timers failed; retrying")
            await asyncio.sleep(self.every_s)
