"""The adapter interface every channel kind implements, and the normalized inbound message."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class InboundMessage:
    """What any channel hands the core: who wrote, where, what."""

    channel_kind: str
    entry_point_id: int
    sender_kind: str          # identity kind: "webchat", "email", "phone", …
    sender_address: str
    body: str
    received_at: datetime
    sender_name: str | None = None
    external_id: str | None = None
    attachments: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Capabilities:
    realtime: bool          # the customer is live (chat, voice) rather than asynchronous (email)
    typing: bool
    rich_text: bool
    attachments: bool


class Channel(Protocol):
    kind: str
    capabilities: Capabilities

    async def start(self) -> None:
        """Start listeners (SMTP, IMAP pollers, SIP); web chat has none of its own."""
        ...

    async def stop(self) -> None: ...


#: Agent capacity is set per class of work, not per channel: a web chat and a chat from an app
#: count against the same "chat" allowance; messaging apps share one.
CAPACITY_CLASSES = {"webchat": "chat", "chat": "chat", "email": "email", "voice": "voice", "sms": "messaging",
                    "line": "messaging", "messenger": "messaging", "whatsapp": "messaging"}


def capacity_class(channel_kind: str) -> str:
    return CAPACITY_CLASSES.get(channel_kind, channel_kind)
