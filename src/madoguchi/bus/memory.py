"""In-process bus for the embedded default (one instance)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from madoguchi.bus.base import Subscriber
from madoguchi.kernel.events import Envelope

logger = logging.getLogger(__name__)


class MemoryBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, envelope: Envelope) -> None:
        deliver(self._subscribers, envelope)

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)


def deliver(subscribers: list[Subscriber], envelope: Envelope) -> None:
    for subscriber in list(subscribers):
        try:
            subscriber(envelope)
        except Exception:
            # One faulty subscriber must not stop the others; the data is in the database anyway.
            logger.exception("bus subscriber failed on %s", envelope.type)
