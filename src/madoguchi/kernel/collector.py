"""Keeping CPython's full garbage collections short in a long-running server.

A full (generation 2) collection walks every tracked object the process holds and stops the event
loop while it does: measured on the chat benchmark (500 chats, 2,000 messages/s), 25 ms at first,
growing past 140 ms as chats, sockets and caches accumulated, which was every latency spike over
50 ms. Objects that survive a full collection are nearly all long-lived (connections, contacts
in hand, caches), so after each full collection they are moved to the permanent generation
(``gc.freeze``) and the next full collection only walks what is newer. Reference counting still
frees frozen objects; only cycles among them wait. So every ``thaw_every_s`` everything is
unfrozen again, and the next full collection reclaims such cycles: one long pause in that
interval instead of one every few seconds."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from typing import Any

logger = logging.getLogger(__name__)


class CollectorPacing:
    def __init__(self, *, check_every_s: float = 2.0, thaw_every_s: float = 900.0) -> None:
        self.check_every_s = check_every_s
        self.thaw_every_s = thaw_every_s
        self.full_collections = 0
        self.freezes = 0
        self._seen = 0
        self._task: asyncio.Task[None] | None = None

    def _on_collection(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info.get("generation") == 2:
            self.full_collections += 1  # an int increment: safe from any thread

    async def start(self) -> None:
        gc.collect()
        gc.freeze()  # what start-up built lives as long as the process
        gc.callbacks.append(self._on_collection)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="madoguchi.collector")

    async def stop(self) -> None:
        if self._on_collection in gc.callbacks:
            gc.callbacks.remove(self._on_collection)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        thawed_at = loop.time()
        while True:
            await asyncio.sleep(self.check_every_s)
            if loop.time() - thawed_at >= self.thaw_every_s:
                gc.unfreeze()  # the next full collection reclaims cycles among the long-lived
                thawed_at = loop.time()
                self._seen = self.full_collections
                continue
            if self.full_collections != self._seen:
                self._seen = self.full_collections
                gc.freeze()
                self.freezes += 1
