"""Keeping CPython's full garbage collections short in a long-running server.

A full (generation 2) collection walks every tracked object the process holds and stops the event
loop while it does: measured on the chat benchmark (500 chats, 2,000 messages/s), 25 ms at first,
growing past 140 ms as chats, sockets and caches accumulated, which was every latency spike over
50 ms. Objects that survive a full collection are nearly all long-lived (connections, contacts
in hand, caches), so after each full collection they are moved to the permanent generation
(``gc.freeze``) and the next full collection only walks what is newer. Reference counting still
frees frozen objects; only cycles among them wait. So every ``thaw_every_s`` everything is
unfrozen again, and the next full collection reclaims such cycles: one long pause in that
interval instead of one every few seconds.

Young collections are the other cost. CPython starts one whenever tracked objects allocated minus
those freed passes 700, and a chat server passes that within a few milliseconds under load: a write
batch holds thousands of objects at once (posts, rows, events, futures) that refcounting frees a
moment later. At 500 saturated chats the server ran about a hundred young collections a second, each
walking the objects in flight, and with the middle generation's passes they took 12 % of its time
(``gc.callbacks`` timing; ``perf`` showed the same share in ``gc_collect_main``). A threshold of
10,000 stays above one batch's transient objects, so such collections become rare, and one that does
run walks at most that many young objects: a few milliseconds."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from typing import Any

logger = logging.getLogger(__name__)


YOUNG_THRESHOLD = 10_000


class CollectorPacing:
    def __init__(self, *, freeze: bool = True, check_every_s: float = 2.0, thaw_every_s: float = 900.0,
                 young_threshold: int = YOUNG_THRESHOLD) -> None:
        """``freeze``: move survivors of full collections out of later ones (above);
        ``young_threshold``: 0 keeps CPython's own."""
        self.freeze = freeze
        self.check_every_s = check_every_s
        self.thaw_every_s = thaw_every_s
        self.young_threshold = young_threshold
        self._thresholds_before: tuple[int, int, int] | None = None
        self.full_collections = 0
        self.freezes = 0
        self._seen = 0
        self._task: asyncio.Task[None] | None = None

    def _on_collection(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info.get("generation") == 2:
            self.full_collections += 1  # an int increment: safe from any thread

    async def start(self) -> None:
        if self.young_threshold > 0:
            self._thresholds_before = gc.get_threshold()
            gc.set_threshold(self.young_threshold, *self._thresholds_before[1:])
        if not self.freeze:
            return
        gc.collect()
        gc.freeze()  # what start-up built lives as long as the process
        gc.callbacks.append(self._on_collection)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="madoguchi.collector")

    async def stop(self) -> None:
        if self._on_collection in gc.callbacks:
            gc.callbacks.remove(self._on_collection)
        if self._thresholds_before is not None:
            gc.set_threshold(*self._thresholds_before)
            self._thresholds_before = None
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
