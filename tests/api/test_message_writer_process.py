"""The message writer's child process, on SQLite and PostgreSQL: it is used, it answers as the
batch in the server's own process does, a child that dies mid-batch is replaced without losing or
doubling a keyed message, and it ends with the server."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from madoguchi.contacts.models import Message
from madoguchi.contacts.writer import MessagePost, MessageWriter, child_url, sqlite_file
from madoguchi.kernel.errors import Conflict, InvalidInput, NotFound, Unavailable
from madoguchi.settings import Settings
from tests.api.flow import open_visitor
from tests.support import Browserish, RunningServer, Socket, start_server


async def _child_of(writer: MessageWriter) -> int:
    for _ in range(600):  # the child imports the package first: a second or two on a busy host
        if writer.child_pid is not None:
            return writer.child_pid
        await asyncio.sleep(0.05)
    raise AssertionError("the message writer started no child process")


def _command_line(pid: int) -> list[bytes]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def _bodies(server: RunningServer, contact_id: int) -> list[str]:
    async with server.ctx.db.read() as session:
        rows = await session.scalars(select(Message.body).where(Message.contact_id == contact_id)
                                     .order_by(Message.id))
        return list(rows)


@pytest.fixture(params=[True, False], ids=["child", "in-process"])
async def writer_server(request: pytest.FixtureRequest, db_url: str) -> AsyncIterator[RunningServer]:
    running = await start_server(Settings(database_url=db_url, redis_url=None,
                                          message_writer_process=request.param))
    yield running
    await running.stop()


async def test_both_places_write_and_refuse_alike(writer_server: RunningServer) -> None:
    server = writer_server
    writer = server.ctx.writer
    in_child = server.ctx.settings.message_writer_process
    if in_child:
        pid = await _child_of(writer)
        assert _alive(pid) and pid != os.getpid()
        command = _command_line(pid)
        assert b"madoguchi.contacts.writer_process" in command
        assert not any(b"postgresql" in part or b"sqlite" in part for part in command)  # no URL, no password
    else:
        assert writer.child_pid is None

    client = Browserish(server.base_url)
    try:
        visitor = await open_visitor(server, client, name="Child Writer")
        first = await visitor.socket.op({"op": "message.send", "body": "こんにちは", "client_msg_id": "c-1"})
        contact_id = first["contact_id"]
        again = await visitor.socket.op({"op": "message.send", "body": "こんにちは", "client_msg_id": "c-1"})
        assert again["message_id"] == first["message_id"]

        message = await writer.post(MessagePost(contact_id=contact_id, author_kind="customer", body="two"))
        assert message.body == "two" and message.contact_id == contact_id and message.created_at.tzinfo
        with pytest.raises(NotFound) as missing:
            await writer.post(MessagePost(contact_id=987654, author_kind="customer", body="x"))
        assert missing.value.details == {"kind": "contact", "key": "987654"}
        with pytest.raises(InvalidInput):
            await writer.post(MessagePost(contact_id=contact_id, author_kind="customer", body="   "))
        with pytest.raises(InvalidInput):
            await writer.post(MessagePost(contact_id=contact_id, author_kind="customer", body="x" * 5000))

        await visitor.socket.op({"op": "leave"})
        with pytest.raises(Conflict) as ended:
            await writer.post(MessagePost(contact_id=contact_id, author_kind="customer", body="late"))
        assert ended.value.details["state"] in ("abandoned", "ended")

        assert await _bodies(server, contact_id) == ["こんにちは", "two"]
        created = [f for f in visitor.socket.events if f["type"] == "message.created"]
        assert [f["data"]["body"] for f in created] == ["こんにちは", "two"]
        # The feed rows hold what was published: a reconnect from before them replays the same.
        replay = await Socket.open(f"{server.ws_url}/ws/widget?token={visitor.token}",
                                   last_event_id=visitor.session["last_event_id"])
        await replay.wait_for(lambda: sum(f["type"] == "message.created" for f in replay.events) == 2,
                              what="replayed messages")
        assert [f for f in replay.events if f["type"] == "message.created"] == created
        await replay.close()
        await visitor.socket.close()
    finally:
        await client.close()


async def test_a_lost_child_is_replaced_and_keyed_posts_are_rescued(db_url: str) -> None:
    server = await start_server(Settings(database_url=db_url, redis_url=None))
    client = Browserish(server.base_url)
    try:
        writer = server.ctx.writer
        pid = await _child_of(writer)
        visitor = await open_visitor(server, client, name="Lost Child")
        first = await visitor.socket.op({"op": "message.send", "body": "before", "client_msg_id": "k-0"})
        contact_id = first["contact_id"]

        # The child takes the next batch and dies before answering: stopped first, so the batch
        # is certainly sent and certainly not written, then killed.
        os.kill(pid, signal.SIGSTOP)
        keyed = asyncio.create_task(writer.post(MessagePost(
            contact_id=contact_id, author_kind="customer", body="keyed", client_msg_id="k-1")))
        plain = asyncio.create_task(writer.post(MessagePost(
            contact_id=contact_id, author_kind="customer", body="plain")))
        await asyncio.sleep(0.3)
        assert not keyed.done() and not plain.done()
        os.kill(pid, signal.SIGKILL)

        rescued = await asyncio.wait_for(keyed, 30)
        assert rescued.body == "keyed" and rescued.client_msg_id == "k-1"
        with pytest.raises(Unavailable):
            await asyncio.wait_for(plain, 30)  # could not be told from a new message: sent again by its author

        after = await visitor.socket.op({"op": "message.send", "body": "after", "client_msg_id": "k-2"})
        assert after["message_id"] > rescued.id
        new_pid = await _child_of(writer)
        assert new_pid != pid and _alive(new_pid)
        assert await _bodies(server, contact_id) == ["before", "keyed", "after"]
        await visitor.socket.op({"op": "ping"})
        created = [f["data"]["body"] for f in visitor.socket.events if f["type"] == "message.created"]
        assert created == ["before", "keyed", "after"]
        await visitor.socket.close()
    finally:
        await client.close()
        await server.stop()
    assert not _alive(new_pid)  # it ends with the server


def test_the_child_opens_the_same_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    file: Callable[[str], str | None] = lambda url: sqlite_file(make_url(url))  # noqa: E731
    assert file("sqlite+aiosqlite:///chat.db") == str(tmp_path / "chat.db")
    assert file(f"sqlite+aiosqlite:///{tmp_path}/x.db") == str(tmp_path / "x.db")
    assert file("sqlite+aiosqlite:///:memory:") is None
    assert file("sqlite+aiosqlite://") is None
    assert file("sqlite+aiosqlite:///file:chat?mode=memory&uri=true") is None
    assert file("postgresql+asyncpg://postgres@127.0.0.1/test") is None
    opened: Callable[[str], str | None] = lambda url: child_url(make_url(url))  # noqa: E731
    assert opened("sqlite+aiosqlite:///chat.db") == f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"
    assert opened("sqlite+aiosqlite:///:memory:") is None
    # The password travels to the child (over its stdin, never its command line).
    assert opened("postgresql+asyncpg://app:s3cret@127.0.0.1:5432/cc") == "postgresql+asyncpg://app:s3cret@127.0.0.1:5432/cc"
