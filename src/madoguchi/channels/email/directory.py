"""Which email entry point an address belongs to: its own address, an alias, or a reply address
``reply+<token>@<domain>`` of one of its contacts."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from madoguchi.channels.email.models import EmailThread
from madoguchi.channels.email.schemas import EmailSettings, settings_of
from madoguchi.channels.models import EntryPoint
from madoguchi.db.uow import Database

KIND = "email"
REPLY_PREFIX = "reply+"
_REPLY = re.compile(r"^reply\+([a-z0-9]{8,40})@(.+)$")


@dataclass(frozen=True)
class EmailEntryPoint:
    id: int
    name: str
    queue_id: int | None
    settings: EmailSettings

    @property
    def addresses(self) -> tuple[str, ...]:
        return (self.settings.address, *self.settings.aliases)

    def reply_address(self, token: str) -> str:
        return f"{REPLY_PREFIX}{token}@{self.settings.domain}"


def reply_token(address: str) -> str | None:
    match = _REPLY.match(address.strip().lower()) if address else None
    return match.group(1) if match else None


def email_entry_point(ep: EntryPoint) -> EmailEntryPoint | None:
    settings = settings_of(ep.settings) if ep.channel_kind == KIND and ep.active else None
    return EmailEntryPoint(ep.id, ep.name, ep.queue_id, settings) if settings else None


async def load_entry_points(session: AsyncSession) -> dict[int, EmailEntryPoint]:
    rows = await session.scalars(select(EntryPoint).where(EntryPoint.channel_kind == KIND, EntryPoint.active))
    found = {}
    for row in rows:
        email_ep = email_entry_point(row)
        if email_ep is not None:
            found[row.id] = email_ep
    return found


class Directory:
    """Recipient → entry point, with the entry points cached for a few seconds (the SMTP listener
    asks for every RCPT)."""

    def __init__(self, db: Database, *, ttl_s: float = 5.0) -> None:
        self.db = db
        self.ttl_s = ttl_s
        self._by_address: dict[str, int] = {}
        self._domains: set[str] = set()
        self._loaded_at = float("-inf")

    async def _refresh(self) -> None:
        if time.monotonic() - self._loaded_at < self.ttl_s:
            return
        async with self.db.read() as session:
            eps = await load_entry_points(session)
        self._by_address = {address: ep.id for ep in eps.values() for address in ep.addresses}
        self._domains = {ep.settings.domain for ep in eps.values()}
        self._loaded_at = time.monotonic()

    def forget(self) -> None:
        self._loaded_at = float("-inf")

    async def resolve(self, recipient: str) -> int | None:
        address = recipient.strip().strip("<>").lower()
        await self._refresh()
        if address in self._by_address:
            return self._by_address[address]
        token = reply_token(address)
        if token is None or address.rpartition("@")[2] not in self._domains:
            return None
        async with self.db.read() as session:
            entry_point_id: int | None = await session.scalar(
                select(EmailThread.entry_point_id).where(EmailThread.reply_token == token))
        return entry_point_id
