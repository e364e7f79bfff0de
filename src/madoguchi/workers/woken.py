"""A background loop that wakes on some bus events: what the workers share."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from madoguchi.bus.base import EventBus
from madoguchi.kernel.events import Envelope


class EventWokenWorker:
    """Subclasses set ``name`` and ``wake_on`` and write ``_run``, which waits on ``self._wake``."""

    name = "worker"
    wake_on: frozenset[str] = frozenset()

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None

    def _on_event(self, envelope: Envelope) -> None:
        if envelope.type in self.wake_on:
            self._wake.set()

    async def _run(self) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        self._unsubscribe = self.bus.subscribe(self._on_event)
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
