"""Turns stored receipts (email_inbound, status received) into emails in contacts, a batch per
transaction. Woken by the inbox through the bus; rescans now and then for receipts an earlier
process left. Idempotent: the Message-ID (else the bytes' hash) names a message once per entry point."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import select

from madoguchi.bus.base import EventBus
from madoguchi.channels.email.actions import do_auto_ack
from madoguchi.channels.email.directory import EmailEntryPoint, load_entry_points
from madoguchi.channels.email.inbound import (
    Admitted,
    IngestPolicy,
    dedupe_key,
    do_ingest,
    do_record_failure,
    prepare_batch,
    screen,
)
from madoguchi.channels.email.inbox import EMAIL_RECEIVED
from madoguchi.channels.email.intake import do_open_threads
from madoguchi.channels.email.mime import ParsedEmail, clean, parse_message
from madoguchi.channels.email.models import EmailInbound, EmailTemplate
from madoguchi.channels.email.threading import may_continue
from madoguchi.db.uow import Database, UnitOfWork
from madoguchi.workers.woken import EventWokenWorker

logger = logging.getLogger(__name__)


class IngestWorker(EventWokenWorker):
    name = "email_ingest"
    wake_on = frozenset({EMAIL_RECEIVED})

    def __init__(self, db: Database, bus: EventBus, *, policy: IngestPolicy, batch: int = 100,
                 rescan_s: float = 5.0) -> None:
        super().__init__(bus)
        self.db = db
        self.policy = policy
        self.batch = batch
        self.rescan_s = rescan_s


    async def _claim(self, uow: UnitOfWork, limit: int, only: int | None = None) -> list[EmailInbound]:
        stmt = select(EmailInbound).where(EmailInbound.status == "received").order_by(EmailInbound.id).limit(limit)
        if only is not None:
            stmt = stmt.where(EmailInbound.id == only)
        if self.db.engine.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        return list((await uow.session.scalars(stmt)).all())

    async def _process(self, uow: UnitOfWork, rows: list[EmailInbound], eps: dict[int, EmailEntryPoint]) -> None:
        """Emails that surely open a new thread are written together (intake.do_open_threads); the
        others (replies, duplicates within the batch) follow one by one through the ORM path, in
        order, so they can thread onto what the first step wrote."""
        parsed: list[ParsedEmail] = await asyncio.to_thread(lambda: [parse_message(r.raw) for r in rows])
        batch = await prepare_batch(uow, list(zip(rows, parsed, strict=True)))
        continues = await may_continue(uow, [(r.entry_point_id, [*r.rcpt_to, *p.to, *p.cc], p)
                                             for r, p in zip(rows, parsed, strict=True)])
        fresh: list[Admitted] = []
        later: list[tuple[EmailInbound, ParsedEmail, EmailEntryPoint]] = []
        keys: set[tuple[int, str]] = set()
        for row, message, maybe_reply in zip(rows, parsed, continues, strict=True):
            ep = eps.get(row.entry_point_id)
            if ep is None:
                row.status, row.error = "failed", "the email entry point is gone or has no valid address"
                continue
            key = (ep.id, dedupe_key(message, row))
            if maybe_reply or key in keys:
                later.append((row, message, ep))
                continue
            item = screen(uow, inbound=row, ep=ep, policy=self.policy, parsed=message, batch=batch)
            if isinstance(item, Admitted):
                fresh.append(item)
                keys.add(key)
        templates: dict[tuple[str, str], EmailTemplate | None] = {}
        await do_open_threads(uow, fresh, policy=self.policy, batch=batch, templates=templates)
        for row, message, ep in later:
            result = await do_ingest(uow, inbound=row, ep=ep, policy=self.policy, parsed=message, batch=batch)
            if result.acknowledge and result.contact is not None and result.email is not None:
                await do_auto_ack(uow, contact=result.contact, ep=ep, inbound=result.email, customer=result.customer,
                                  thread=result.thread, templates=templates)

    async def consume(self) -> int:
        """One batch; returns how many receipts it took."""
        try:
            async with self.db.uow() as uow:
                rows = await self._claim(uow, self.batch)
                if not rows:
                    return 0
                ids = [r.id for r in rows]
                await self._process(uow, rows, await load_entry_points(uow.session))
            return len(ids)
        except Exception:
            logger.exception("an email batch failed; processing its messages one by one")
        return await self._one_by_one()

    async def _one_by_one(self) -> int:
        async with self.db.read() as session:
            ids = list((await session.scalars(select(EmailInbound.id).where(EmailInbound.status == "received")
                                              .order_by(EmailInbound.id).limit(self.batch))).all())
        for inbound_id in ids:
            try:
                async with self.db.uow() as uow:
                    rows = await self._claim(uow, 1, only=inbound_id)
                    await self._process(uow, rows, await load_entry_points(uow.session))
            except Exception as exc:
                logger.exception("email %s could not be processed; it becomes a contact with the error", inbound_id)
                await self._fail(inbound_id, f"{type(exc).__name__}: {exc}")
        return len(ids)

    async def _fail(self, inbound_id: int, error: str) -> None:
        try:
            async with self.db.uow() as uow:
                rows = await self._claim(uow, 1, only=inbound_id)
                eps = await load_entry_points(uow.session)
                for row in rows:
                    ep = eps.get(row.entry_point_id)
                    if ep is not None:
                        await do_record_failure(uow, inbound=row, ep=ep, policy=self.policy, error=error)
                        return
        except Exception:
            logger.exception("email %s: even the failure contact could not be written", inbound_id)
        async with self.db.uow() as uow:   # last resort: the raw bytes stay, marked failed with the reason
            for row in await self._claim(uow, 1, only=inbound_id):
                row.status, row.error = "failed", clean(error[:2000])

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                taken = await self.consume()
            except Exception:
                logger.exception("email ingest round failed; retrying")
                taken = 0
                await asyncio.sleep(1.0)
            if taken >= self.batch:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.rescan_s)
