"""A caller who gives up while waiting unanswered in the queue: sipp sends CANCEL before anyone
answered. The INVITE gets 487, the contact is abandoned (reason ``cancelled``), the KPI facts say
so, and the voice call row keeps why it ended."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from madoguchi.channels.actions import do_create_entry_point
from madoguchi.channels.schemas import EntryPointCreate
from madoguchi.channels.voice.adapter import VoiceChannel
from madoguchi.channels.voice.models import VoiceCall
from madoguchi.contacts.models import Contact, ContactEvent
from madoguchi.routing.models import Queue
from madoguchi.settings import Settings
from tests.e2e.voice.harness import free_udp_port
from tests.support import require_service, start_server

HERE = Path(__file__).parent
pytestmark = pytest.mark.e2e


def sipp_errors(directory: Path) -> list[Path]:
    return list(directory.glob("*errors.log"))


async def test_a_caller_who_cancels_while_queued_unanswered_is_an_abandon(sqlite_url: str, tmp_path: Path) -> None:
    require_service("sipp", shutil.which("sipp") is not None, "apt-get install sip-tester")
    sip_port, base = free_udp_port(), 30000 + (free_udp_port() % 300) * 100
    server = await start_server(Settings(database_url=sqlite_url, redis_url=None, sip_port=sip_port,
                                         rtp_ports=f"{base}-{base + 99}", voice_prompts_dir=str(tmp_path / "prompts")))
    try:
        async with server.ctx.db.uow() as uow:
            support = await uow.session.scalar(select(Queue).where(Queue.name == "Support"))
            assert support is not None
            # No greeting and no menu: the call waits in the queue still ringing (nobody is on duty).
            await do_create_entry_point(uow, actor=None, data=EntryPointCreate(
                name="wait line", channel_kind="voice", queue_id=support.id,
                settings=VoiceChannel.check_settings({"uri": "sip:wait@127.0.0.1", "language": "en"})))
        sipp = await asyncio.create_subprocess_exec(
            "sipp", f"127.0.0.1:{sip_port}", "-sf", str(HERE / "uac_cancel.xml"), "-s", "wait", "-i", "127.0.0.1",
            "-p", str(free_udp_port()), "-mi", "127.0.0.1", "-mp", str(base - 1000), "-m", "1", "-d", "1500",
            "-timeout", "20", "-timeout_error", "-trace_err", cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL, stdin=asyncio.subprocess.DEVNULL)
        assert await asyncio.wait_for(sipp.wait(), 30) == 0, "".join(
            p.read_text(errors="replace") for p in sipp_errors(tmp_path))[-3000:]
        channel = server.ctx.channels.get("voice")
        assert isinstance(channel, VoiceChannel)
        for _ in range(100):
            if not channel.service.calls:
                break
            await asyncio.sleep(0.05)
        async with server.ctx.db.read() as session:
            call = await session.scalar(select(VoiceCall).where(VoiceCall.callee == "wait"))
            assert call is not None
            contact = await session.get(Contact, call.contact_id)
            events = (await session.execute(select(ContactEvent.type, ContactEvent.data)
                                            .where(ContactEvent.contact_id == call.contact_id)
                                            .order_by(ContactEvent.id))).all()
    finally:
        await server.stop()
    assert contact is not None and contact.state == "abandoned" and contact.queue_id == support.id
    assert [type_ for type_, _ in events] == ["arrived", "queued", "abandoned"]
    assert events[-1][1]["reason"] == "cancelled"
    assert call.end_reason == "cancelled" and call.bridged_at is None and call.answered_at is None
