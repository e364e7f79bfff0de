"""The email channel as the registry sees it: it owns the inbox (raw receipts) and the SMTP
listener. The workers that process receipts, deliver the outbox and poll IMAP are in workers/."""

from __future__ import annotations

from typing import Any

from madoguchi.channels.base import Capabilities
from madoguchi.channels.email.directory import KIND, Directory
from madoguchi.channels.email.inbox import Inbox
from madoguchi.channels.email.schemas import EmailSettings
from madoguchi.channels.email.smtp_listener import SmtpListener
from madoguchi.db.uow import Database
from madoguchi.kernel.errors import InvalidInput


class EmailChannel:
    kind = KIND
    capabilities = Capabilities(realtime=False, typing=False, rich_text=True, attachments=True)

    def __init__(self, db: Database, *, smtp_host: str, smtp_port: int | None, max_bytes: int) -> None:
        self.inbox = Inbox(db)
        self.directory = Directory(db)
        self.listener = (SmtpListener(self.inbox, self.directory, host=smtp_host, port=smtp_port,
                                      max_bytes=max_bytes) if smtp_port is not None else None)

    @staticmethod
    def check_settings(settings: dict[str, Any]) -> dict[str, Any]:
        """Entry point settings for email: validated, normalised (lower-case addresses)."""
        try:
            checked = EmailSettings.model_validate(settings)
        except ValueError as exc:
            raise InvalidInput(f"email entry point settings: {exc}", field="settings") from None
        return {**settings, **checked.model_dump(exclude_none=True)}

    async def start(self) -> None:
        await self.inbox.start()
        if self.listener is not None:
            await self.listener.start()

    async def stop(self) -> None:
        if self.listener is not None:
            await self.listener.stop()
        await self.inbox.stop()
