"""Typed realtime events. Each carries its audience: the topics of the clients that may see it.

Topics are plain strings: ``user:<id>`` (one staff member), ``supervisors`` (every supervisor,
manager and admin), ``visitor:<widget session id>`` (one web-chat visitor). The action that emits an
event computes its audience; the WebSocket fan-out never guesses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from madoguchi.kernel import jsontext

SUPERVISORS = "supervisors"


def user_topic(user_id: int) -> str:
    return f"user:{user_id}"


def visitor_topic(widget_session_id: int) -> str:
    return f"visitor:{widget_session_id}"


@dataclass(frozen=True)
class Event:
    """A fact to tell clients about, after it is committed.

    ``durable`` events are stored in the realtime feed (so a reconnecting client gets them again);
    ephemeral ones (typing indicators) are published only.
    """

    type: str
    data: dict[str, Any]
    audience: tuple[str, ...]
    durable: bool = True


@dataclass(frozen=True)
class Envelope:
    """An event as it travels on the bus; ``id`` is the feed id (None for ephemeral events)."""

    id: int | None
    type: str
    data: dict[str, Any]
    audience: tuple[str, ...] = field(default_factory=tuple)

    def to_wire(self) -> dict[str, Any]:
        return {"op": "event", "id": self.id, "type": self.type, "data": self.data}

    @cached_property
    def wire_text(self) -> str:
        """The WebSocket frame, encoded once however many clients receive it."""
        return jsontext.dumps(self.to_wire())

    @classmethod
    def encoded(cls, id: int | None, type: str, data: dict[str, Any], audience: tuple[str, ...],
                wire_text: str) -> Envelope:
        """An envelope whose frame was encoded elsewhere (the message writer's child process)."""
        envelope = cls(id, type, data, audience)
        envelope.__dict__["wire_text"] = wire_text  # where cached_property keeps its value
        return envelope
