"""IMAP in, against a real Dovecot the test starts: messages are imported exactly once, also across
a poller that dies between storing a batch and flagging it; new mail arrives through IDLE."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import func, select

from madoguchi.app import build_context
from madoguchi.channels.email.imap import ImapSession
from madoguchi.channels.email.inbound import IngestPolicy
from madoguchi.channels.email.inbox import Inbox
from madoguchi.channels.email.models import EmailInbound, EmailMailbox, EmailMessage
from madoguchi.context import AppContext
from madoguchi.settings import Settings
from madoguchi.workers.email_ingest import IngestWorker
from madoguchi.workers.imap_polling import ImapPoller, config_of
from tests.channels.email import dovecot
from tests.channels.email.support import SUPPORT, compose, eventually
from tests.support import Browserish, RunningServer, require_service


@pytest.fixture
def imap_server() -> AsyncIterator[dovecot.Dovecot]:
    require_service("Dovecot (dovecot-imapd)", dovecot.available(), dovecot.DOVECOT)
    server = dovecot.start()
    yield server
    server.stop()


def _messages(count: int, prefix: str) -> list[bytes]:
    return [compose(subject=f"{prefix} {n}", body=f"IMAP message {n}").as_bytes() for n in range(count)]


async def _entry_point(ctx: AppContext) -> int:
    channel = ctx.channels.get("email")
    entry_point_id: int | None = await channel.directory.resolve(SUPPORT)  # type: ignore[attr-defined]
    assert entry_point_id is not None
    return entry_point_id


async def test_poller_imports_once_across_a_crash_between_store_and_flag(
        db_url: str, imap_server: dovecot.Dovecot) -> None:
    imap_server.append(*_messages(3, "batch"))
    ctx = build_context(Settings(database_url=db_url))
    try:
        ep_id = await _entry_point(ctx)
        async with ctx.db.uow() as uow:
            uow.session.add(EmailMailbox(entry_point_id=ep_id, host="127.0.0.1", port=imap_server.port,
                                         security="none", username=dovecot.USER, password=dovecot.PASSWORD,
                                         folder="INBOX", last_uid=0, enabled=True))
        async with ctx.db.read() as session:
            config = config_of(await session.get(EmailMailbox, ep_id))  # type: ignore[arg-type]
        inbox = Inbox(ctx.db)

        class Crash(Exception):
            pass

        async def crash(stored: list[int]) -> None:
            assert len(stored) == 3
            raise Crash

        first = ImapSession(config)
        await first.open()
        with pytest.raises(Crash):      # stored and committed, never flagged: the process "died" here
            await ImapPoller(ctx.db, inbox, poll_s=1, on_stored=crash).poll_once(ep_id, first)
        await first.close()
        assert len(imap_server.unseen()) == 3

        restarted = ImapSession(config)
        await restarted.open()
        poller = ImapPoller(ctx.db, inbox, poll_s=1)
        assert await poller.poll_once(ep_id, restarted) == 3      # fetched again, stored once, now flagged
        assert imap_server.unseen() == []
        assert await poller.poll_once(ep_id, restarted) == 0
        await restarted.close()

        worker = IngestWorker(ctx.db, ctx.bus, policy=IngestPolicy(sender_limit_per_hour=100,
                                                                   first_response_s=3600, timezone="Asia/Tokyo"))
        assert await worker.consume() == 3
        async with ctx.db.read() as session:
            rows = list((await session.scalars(select(EmailInbound).order_by(EmailInbound.id))).all())
            mailbox = await session.get(EmailMailbox, ep_id)
        assert [(r.source, r.status) for r in rows] == [("imap", "processed")] * 3
        assert len({r.contact_id for r in rows}) == 3
        assert mailbox is not None and mailbox.last_uid == 3 and mailbox.uidvalidity is not None
    finally:
        await ctx.db.engine.dispose()


async def test_configured_mailbox_is_polled_by_the_server_with_idle(
        make_server: Callable[..., object], imap_server: dovecot.Dovecot) -> None:
    imap_server.append(*_messages(2, "waiting"))
    server: RunningServer = await make_server(imap_poll_s=0.5)  # type: ignore[misc]
    admin = Browserish(server.base_url)
    try:
        await admin.login("admin@demo.madoguchi.test")
        ep_id = await _entry_point(server.ctx)
        mailbox = await admin.call("PUT", f"/api/v1/entry-points/{ep_id}/imap", expect=200, json={
            "host": "127.0.0.1", "port": imap_server.port, "security": "none", "username": dovecot.USER,
            "password": dovecot.PASSWORD, "processed_folder": None})
        assert "password" not in mailbox

        async def imported(count: int) -> int | None:
            async with server.ctx.db.read() as session:
                n = await session.scalar(select(func.count(EmailMessage.id)).where(
                    EmailMessage.inbound_id.is_not(None)))
            return n if n == count else None

        await eventually(lambda: imported(2), timeout=15, what="the waiting messages")
        imap_server.append(*_messages(1, "new"))             # arrives while the poller idles
        await eventually(lambda: imported(3), timeout=15, what="the new message")
        assert imap_server.unseen() == []
        audit = await admin.call("GET", "/api/v1/audit", expect=200)
        assert dovecot.PASSWORD not in str(audit)
    finally:
        await admin.close()
