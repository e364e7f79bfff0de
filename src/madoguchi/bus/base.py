"""EventBus protocol. Subscribers are plain callables that must not block (they enqueue)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from madoguchi.kernel.events import Envelope

Subscriber = Callable[[Envelope], None]


class EventBus(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, envelope: Envelope) -> None: ...

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Register; returns the function that unsubscribes."""
        ...


def envelope_to_json(envelope: Envelope) -> dict[str, Any]:
    return {"id": envelope.id, "type": envelope.type, "data": envelope.data, "audience": list(envelope.audience)}


def envelope_from_json(raw: dict[str, Any]) -> Envelope:
    return Envelope(id=raw.get("id"), type=str(raw["type"]), data=dict(raw.get("data") or {}),
                    audience=tuple(raw.get("audience") or ()))
