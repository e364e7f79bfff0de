"""Receiving: the exact bytes are stored before anyone parses them. Receipts that arrive together
are written in one transaction (group commit); the SMTP listener answers 250 only after it."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from dataclasses import dataclass, field

from sqlalchemy import select

from madoguchi.channels.email.models import EmailInbound
from madoguchi.db.uow import Database, UnitOfWork
from madoguchi.kernel.events import Event

logger = logging.getLogger(__name__)

#: Published on the bus (to no client) after receipts are committed; wakes the ingest worker.
EMAIL_RECEIVED = "email.received"


@dataclass(frozen=True)
class Receipt:
    entry_point_id: int
    source: str                      # smtp | imap
    mail_from: str
    rcpt_to: tuple[str, ...]
    raw: bytes
    source_ref: str | None = None    # imap:<uidvalidity>:<uid>


async def do_store_receipts(uow: UnitOfWork, receipts: list[Receipt]) -> list[int | None]:
    """Insert the receipts; one already stored under the same (entry point, source_ref) is skipped
    (None in its place), which makes fetching an IMAP batch again harmless."""
    refs = [(r.entry_point_id, r.source_ref) for r in receipts if r.source_ref]
    seen: set[tuple[int, str | None]] = set()
    if refs:
        rows = await uow.session.execute(select(EmailInbound.entry_point_id, EmailInbound.source_ref).where(
            EmailInbound.source_ref.in_([ref for _, ref in refs])))
        seen = {(ep, ref) for ep, ref in rows}
    now = uow.clock.now()
    stored: list[EmailInbound | None] = []
    for receipt in receipts:
        key = (receipt.entry_point_id, receipt.source_ref)
        if receipt.source_ref and key in seen:
            stored.append(None)
            continue
        seen.add(key)
        row = EmailInbound(entry_point_id=receipt.entry_point_id, source=receipt.source,
                           source_ref=receipt.source_ref, mail_from=receipt.mail_from[:320],
                           rcpt_to=list(receipt.rcpt_to), raw=receipt.raw, size=len(receipt.raw),
                           sha256=hashlib.sha256(receipt.raw).hexdigest(), status="received", received_at=now)
        uow.session.add(row)
        stored.append(row)
    await uow.session.flush()
    if any(stored):
        uow.emit(Event(EMAIL_RECEIVED, {}, (), durable=False))
    return [row.id if row is not None else None for row in stored]


@dataclass
class _Waiting:
    receipt: Receipt
    future: asyncio.Future[int] = field(repr=False)


class Inbox:
    """Group commit for receipts from many SMTP sessions at once."""

    def __init__(self, db: Database, *, max_batch: int = 200) -> None:
        self.db = db
        self.max_batch = max_batch
        self._queue: asyncio.Queue[_Waiting] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="email-inbox")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty():
            waiting = self._queue.get_nowait()
            if not waiting.future.done():
                waiting.future.set_exception(ConnectionAbortedError("shutting down"))

    async def receive(self, receipt: Receipt) -> int:
        """Store one message; returns its email_inbound id once committed."""
        if self._task is None:
            raise RuntimeError("inbox not started")
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Waiting(receipt, future))
        return await future

    async def receive_many(self, receipts: list[Receipt]) -> list[int | None]:
        """Store a batch in one transaction of its own (IMAP); see do_store_receipts."""
        async with self.db.uow() as uow:
            return await do_store_receipts(uow, receipts)

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                async with self.db.uow() as uow:
                    ids = await do_store_receipts(uow, [w.receipt for w in batch])
            except Exception as exc:
                logger.exception("storing %s received emails failed", len(batch))
                for waiting in batch:
                    if not waiting.future.done():
                        waiting.future.set_exception(exc)
                continue
            for waiting, inbound_id in zip(batch, ids, strict=True):
                if not waiting.future.done():
                    waiting.future.set_result(inbound_id or 0)
