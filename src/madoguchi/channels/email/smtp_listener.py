"""The built-in SMTP listener (aiosmtpd) for addresses pointed at the platform. It refuses
recipients no email entry point owns, and answers 250 only once the exact bytes are committed."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from aiosmtpd.smtp import SMTP, Envelope, Session

from madoguchi.channels.email.directory import Directory
from madoguchi.channels.email.inbox import Inbox, Receipt

logger = logging.getLogger(__name__)


class _Handler:
    def __init__(self, inbox: Inbox, directory: Directory) -> None:
        self.inbox = inbox
        self.directory = directory

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        try:
            entry_point_id = await self.directory.resolve(address)
        except Exception:
            logger.exception("looking up recipient %s failed", address)
            return "451 4.3.0 temporary failure; try again later"
        if entry_point_id is None:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content
        if not isinstance(raw, bytes):
            return "554 5.6.0 no message content"
        by_entry_point: dict[int, list[str]] = defaultdict(list)
        for address in envelope.rcpt_tos:
            entry_point_id = await self.directory.resolve(address)
            if entry_point_id is not None:
                by_entry_point[entry_point_id].append(address.lower())
        try:
            ids = [await self.inbox.receive(Receipt(entry_point_id=ep_id, source="smtp",
                                                    mail_from=(envelope.mail_from or "").lower(),
                                                    rcpt_to=tuple(rcpts), raw=raw))
                   for ep_id, rcpts in by_entry_point.items()]
        except Exception:
            logger.exception("storing a received email failed; the sender will retry")
            return "451 4.3.0 could not store the message; try again later"
        return f"250 2.0.0 OK queued as {','.join(map(str, ids))}"


class SmtpListener:
    def __init__(self, inbox: Inbox, directory: Directory, *, host: str, port: int, max_bytes: int) -> None:
        self.handler = _Handler(inbox, directory)
        self.host = host
        self.port = port
        self.max_bytes = max_bytes
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self.handler, data_size_limit=self.max_bytes, enable_SMTPUTF8=True, hostname=self.host,
                         ident="Madoguchi ESMTP"),
            host=self.host, port=self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        logger.info("SMTP listener on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
