"""Polls the IMAP mailboxes of email entry points. A batch is stored (committed) first and only then
flagged \\Seen or moved, so a crash in between fetches it again, and the stored source reference
(and the Message-ID) makes that harmless. IDLE where the server offers it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import select

from madoguchi.channels.email.imap import ImapSession, MailboxConfig, envelope_sender
from madoguchi.channels.email.inbox import Inbox, Receipt
from madoguchi.channels.email.mime import clean
from madoguchi.channels.email.models import EmailMailbox
from madoguchi.db.leases import Lease
from madoguchi.db.uow import Database

logger = logging.getLogger(__name__)

StoredHook = Callable[[list[int]], Awaitable[None]]


def config_of(row: EmailMailbox) -> MailboxConfig:
    return MailboxConfig(host=row.host, port=row.port, security=row.security, username=row.username,
                         password=row.password, folder=row.folder, processed_folder=row.processed_folder)


class ImapPoller:
    name = "imap_polling"

    def __init__(self, db: Database, inbox: Inbox, *, poll_s: float, batch: int = 50,
                 on_stored: StoredHook | None = None) -> None:
        """``on_stored`` runs between the commit and the flagging (the tests crash there)."""
        self.db = db
        self.inbox = inbox
        self.poll_s = poll_s
        self.batch = batch
        self.on_stored = on_stored
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._supervisor: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._supervisor = asyncio.create_task(self._supervise(), name=self.name)

    async def stop(self) -> None:
        tasks = [t for t in (self._supervisor, *self._tasks.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def poll_once(self, entry_point_id: int, session: ImapSession) -> int:
        """One batch from an open session; returns how many messages it stored and marked."""
        async with self.db.uow() as uow:
            row = await uow.session.get(EmailMailbox, entry_point_id)
            if row is None or not row.enabled:
                return 0
            if row.uidvalidity != session.uidvalidity:
                row.uidvalidity, row.last_uid = session.uidvalidity, 0   # the mailbox was rebuilt: start over
            last_uid, uidvalidity = row.last_uid, row.uidvalidity
            row.last_polled_at = uow.clock.now()
        uids = (await session.unseen_after(last_uid))[:self.batch]
        if not uids:
            return 0
        fetched = [(uid, await session.fetch(uid)) for uid in uids]
        stored = await self.inbox.receive_many([
            Receipt(entry_point_id=entry_point_id, source="imap", mail_from=envelope_sender(raw), rcpt_to=(),
                    raw=raw, source_ref=f"imap:{uidvalidity}:{uid}") for uid, raw in fetched])
        if self.on_stored is not None:
            await self.on_stored([i for i in stored if i is not None])
        await session.mark_processed(uids)
        async with self.db.uow() as uow:
            row = await uow.session.get(EmailMailbox, entry_point_id, with_for_update=True)
            if row is not None and row.uidvalidity == uidvalidity:
                row.last_uid = max(row.last_uid, *uids)
                row.last_error = None
        return len(uids)

    async def _mailbox(self, entry_point_id: int) -> MailboxConfig | None:
        async with self.db.read() as session:
            row = await session.get(EmailMailbox, entry_point_id)
            return config_of(row) if row is not None and row.enabled else None

    async def _record_error(self, entry_point_id: int, error: str) -> None:
        with contextlib.suppress(Exception):
            async with self.db.uow() as uow:
                row = await uow.session.get(EmailMailbox, entry_point_id)
                if row is not None:
                    row.last_error = clean(error[:2000])

    async def _follow(self, entry_point_id: int) -> None:
        """One mailbox for as long as it is enabled; on PostgreSQL one instance at a time (a lease)."""
        lease = Lease(self.db.engine, f"madoguchi.imap.{entry_point_id}")
        backoff = 1.0
        try:
            while True:
                if not await lease.try_acquire():
                    await asyncio.sleep(self.poll_s)
                    continue
                config = await self._mailbox(entry_point_id)
                if config is None:
                    return
                session = ImapSession(config)
                try:
                    await session.open()
                    backoff = 1.0
                    while True:
                        if await self.poll_once(entry_point_id, session) == 0:
                            await session.wait_for_mail(self.poll_s)
                        if await self._mailbox(entry_point_id) != config:
                            break   # settings changed: log in again with the new ones
                except asyncio.CancelledError:
                    session.abort()
                    raise
                except Exception as exc:
                    logger.warning("IMAP mailbox of entry point %s: %s", entry_point_id, exc)
                    await self._record_error(entry_point_id, f"{type(exc).__name__}: {exc}")
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 300.0)
                finally:
                    await session.close()
        finally:
            await lease.release()

    async def _supervise(self) -> None:
        while True:
            try:
                async with self.db.read() as session:
                    enabled = set((await session.scalars(select(EmailMailbox.entry_point_id)
                                                         .where(EmailMailbox.enabled))).all())
                for entry_point_id in enabled:
                    task = self._tasks.get(entry_point_id)
                    if task is None or task.done():
                        self._tasks[entry_point_id] = asyncio.create_task(
                            self._follow(entry_point_id), name=f"{self.name}:{entry_point_id}")
            except Exception:
                logger.exception("loading IMAP mailboxes failed")
            await asyncio.sleep(min(self.poll_s, 30.0))
