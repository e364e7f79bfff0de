"""The email workers a process runs, built from the settings (app.py starts and stops them)."""

from __future__ import annotations

from typing import Protocol

from madoguchi.channels.email.adapter import EmailChannel
from madoguchi.channels.email.inbound import IngestPolicy
from madoguchi.context import AppContext
from madoguchi.workers.email_delivery import DeliveryWorker, Relay
from madoguchi.workers.email_ingest import IngestWorker
from madoguchi.workers.imap_polling import ImapPoller


class Worker(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def email_workers(ctx: AppContext) -> list[Worker]:
    settings = ctx.settings
    channel = ctx.channels.get("email")
    if not isinstance(channel, EmailChannel):
        return []
    workers: list[Worker] = [IngestWorker(ctx.db, ctx.bus, policy=IngestPolicy(
        sender_limit_per_hour=settings.email_sender_limit_per_hour,
        first_response_s=settings.email_first_response_s, timezone=settings.timezone)),
        ImapPoller(ctx.db, channel.inbox, poll_s=settings.imap_poll_s)]
    if settings.smtp_relay_host:
        workers.append(DeliveryWorker(
            ctx.db, ctx.bus, relay=Relay(host=settings.smtp_relay_host, port=settings.smtp_relay_port,
                                         security=settings.smtp_relay_security,
                                         username=settings.smtp_relay_username,
                                         password=settings.smtp_relay_password),
            max_attempts=settings.email_max_attempts, retry_base_s=settings.email_retry_base_s))
    return workers
