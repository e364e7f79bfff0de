"""Hands the outbox to the SMTP relay (aiosmtplib): claims due rows, sends outside any transaction,
then records sent / retry-later / failed. Woken through the bus when something is queued."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import aiosmtplib

from madoguchi.bus.base import EventBus
from madoguchi.channels.email.outbox import OUTBOX_QUEUED, claim_due, do_mark_attempt_failed, do_mark_sent, next_due
from madoguchi.db.uow import Database
from madoguchi.workers.woken import EventWokenWorker

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Relay:
    host: str
    port: int
    security: str = "none"          # none | starttls | ssl
    username: str | None = None
    password: str | None = None
    timeout_s: float = 30.0


class SendError(Exception):
    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


async def send(relay: Relay, *, mail_from: str, rcpt_to: list[str], raw: bytes) -> None:
    try:
        refused, _ = await aiosmtplib.send(
            raw, sender=mail_from, recipients=rcpt_to, hostname=relay.host, port=relay.port,
            use_tls=relay.security == "ssl", start_tls=relay.security == "starttls",
            username=relay.username, password=relay.password, timeout=relay.timeout_s)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        raise SendError(f"recipients refused: {exc}", permanent=all(c >= 500 for c in codes)) from exc
    except aiosmtplib.SMTPResponseException as exc:
        raise SendError(f"{exc.code} {exc.message}", permanent=exc.code >= 500) from exc
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise SendError(f"{type(exc).__name__}: {exc}", permanent=False) from exc
    if refused:
        logger.warning("relay refused some recipients: %s", ", ".join(refused))


class DeliveryWorker(EventWokenWorker):
    name = "email_delivery"
    wake_on = frozenset({OUTBOX_QUEUED})

    def __init__(self, db: Database, bus: EventBus, *, relay: Relay, max_attempts: int, retry_base_s: float,
                 batch: int = 20, lease_s: float = 300.0, idle_s: float = 30.0) -> None:
        super().__init__(bus)
        self.db = db
        self.relay = relay
        self.max_attempts = max_attempts
        self.retry_base_s = retry_base_s
        self.batch = batch
        self.lease_s = lease_s
        self.idle_s = idle_s


    async def consume(self) -> int:
        """Send one batch of due messages; returns how many it tried."""
        async with self.db.uow() as uow:
            rows = await claim_due(uow, limit=self.batch, lease_s=self.lease_s,
                                   skip_locked=self.db.engine.dialect.name == "postgresql")
            jobs = [(r.id, r.mail_from, list(r.rcpt_to), r.raw) for r in rows]
        for outbox_id, mail_from, rcpt_to, raw in jobs:
            try:
                await send(self.relay, mail_from=mail_from, rcpt_to=rcpt_to, raw=raw)
            except SendError as error:
                logger.warning("email %s not sent: %s", outbox_id, error.message)
                async with self.db.uow() as uow:
                    await do_mark_attempt_failed(uow, outbox_id=outbox_id, error=error.message,
                                                 permanent=error.permanent, max_attempts=self.max_attempts,
                                                 base_s=self.retry_base_s)
                continue
            async with self.db.uow() as uow:
                await do_mark_sent(uow, outbox_id=outbox_id)
        return len(jobs)

    async def _sleep_s(self) -> float:
        async with self.db.uow() as uow:
            due = await next_due(uow)
            now = uow.clock.now()
        if due is None:
            return self.idle_s
        return min(max((due - now).total_seconds(), 0.05), self.idle_s)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                if await self.consume() >= self.batch:
                    continue
                wait = await self._sleep_s()
            except Exception:
                logger.exception("email delivery round failed; retrying")
                wait = 1.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
