"""Drops realtime feed rows older than the retention: a client away longer than that reloads its
state over REST instead of resuming."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from madoguchi.db import feed
from madoguchi.db.uow import Database

logger = logging.getLogger(__name__)


class FeedPruner:
    name = "feed_pruning"

    def __init__(self, db: Database, *, retention_hours: int, every_s: float = 600.0) -> None:
        self.db = db
        self.retention = timedelta(hours=retention_hours)
        self.every_s = every_s
        self._task: asyncio.Task[None] | None = None

    async def consume(self) -> int:
        async with self.db.uow() as uow:
            return await feed.prune(uow.session, uow.clock.now() - self.retention)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            try:
                removed = await self.consume()
                logger.info("pruned %s realtime feed rows", removed)
            except Exception:
                logger.exception("feed pruning failed; next round will retry")
