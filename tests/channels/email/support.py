"""Helpers for the email tests: real SMTP both ways. ``send`` speaks to the app's listener with
smtplib; ``SmtpSink`` is an aiosmtpd server that captures (or refuses) what the outbox delivers."""

from __future__ import annotations

import asyncio
import email
import smtplib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage as MimeMessage
from typing import Any, TypeVar

from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select

from madoguchi.channels.email.adapter import EmailChannel
from madoguchi.channels.email.models import EmailInbound
from tests.support import RunningServer

SUPPORT = "support@demo.madoguchi.test"
T = TypeVar("T")


def listener_port(server: RunningServer) -> int:
    channel = server.ctx.channels.get("email")
    assert isinstance(channel, EmailChannel) and channel.listener is not None
    return channel.listener.port


def compose(*, sender: str = "Aiko Sato <aiko@example.jp>", to: str = SUPPORT, subject: str = "配送について",
            body: str = "注文した商品がまだ届きません。", **headers: str) -> MimeMessage:
    msg = MimeMessage(policy=policy.SMTP)
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = email.utils.make_msgid(domain="example.jp")
    msg["Date"] = email.utils.formatdate()
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def _send(port: int, raw: bytes, mail_from: str, rcpt_to: list[str]) -> dict[str, tuple[int, bytes]]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        refused: dict[str, tuple[int, bytes]] = client.sendmail(mail_from, rcpt_to, raw)
        return refused


async def send(server: RunningServer, message: MimeMessage | bytes, *, mail_from: str = "aiko@example.jp",
               rcpt_to: list[str] | None = None) -> None:
    raw = message if isinstance(message, bytes) else message.as_bytes(policy=policy.SMTP)
    await asyncio.to_thread(_send, listener_port(server), raw, mail_from, rcpt_to or [SUPPORT])


async def eventually(check: Callable[[], Awaitable[T | None]], *, timeout: float = 10,
                     what: str = "condition") -> T:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def processed(server: RunningServer, count: int = 1) -> list[EmailInbound]:
    """The receipts once ``count`` of them have left the ``received`` status, oldest first."""
    async def check() -> list[EmailInbound] | None:
        async with server.ctx.db.read() as session:
            rows = list((await session.scalars(select(EmailInbound).order_by(EmailInbound.id))).all())
        done = [r for r in rows if r.status != "received"]
        return done if len(done) >= count else None

    return await eventually(check, what=f"{count} processed emails")


@dataclass
class Captured:
    mail_from: str
    rcpt_to: list[str]
    raw: bytes

    @property
    def message(self) -> Any:
        return email.message_from_bytes(self.raw, policy=policy.default)


@dataclass
class SmtpSink:
    """A real SMTP server for the outbox to deliver to. ``refuse`` answers the next DATA commands
    with these replies (e.g. "451 4.3.0 busy", "550 5.1.1 no such user") before accepting again."""

    port: int = 0
    received: list[Captured] = field(default_factory=list)
    refuse: list[str] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _server: asyncio.Server | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse:
            return self.refuse.pop(0)
        assert isinstance(envelope.original_content, bytes)
        self.received.append(Captured(envelope.mail_from or "", list(envelope.rcpt_tos), envelope.original_content))
        self.arrived.set()
        return "250 OK"

    async def start(self) -> SmtpSink:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: SMTP(self, hostname="sink.test"), "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def wait(self, count: int = 1, timeout: float = 10) -> list[Captured]:
        async def check() -> list[Captured] | None:
            return self.received if len(self.received) >= count else None

        return await eventually(check, timeout=timeout, what=f"{count} delivered emails")

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
