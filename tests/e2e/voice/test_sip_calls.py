"""End to end with real SIP peers on 127.0.0.1: sipp calls in, hears the menu, presses 2 (bytes
from sipp's RFC 4733 capture), is queued; baresip, registered as the agent's phone with auto
answer, rings after the ACD's offer; RTP flows both ways through our relay; the caller's BYE ends
the agent leg and the contact."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
from pathlib import Path

import pytest
from sqlalchemy import select

from madoguchi.channels.actions import do_create_entry_point
from madoguchi.channels.schemas import EntryPointCreate
from madoguchi.channels.voice.adapter import VoiceChannel
from madoguchi.channels.voice.audio import tone, write_wav
from madoguchi.channels.voice.models import VoiceCall
from madoguchi.contacts.models import Contact, ContactEvent
from madoguchi.routing.models import Queue
from madoguchi.settings import Settings
from tests.api.flow import agent_on_duty
from tests.support import Browserish, RunningServer, require_service, start_server

HERE = Path(__file__).parent
pytestmark = pytest.mark.e2e


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def baresip_config(directory: Path, *, sip_port: int, server_port: int, wav: Path) -> None:
    (directory / "config").write_text(
        "poll_method poll\n"
        f"sip_listen 127.0.0.1:{sip_port}\n"
        f"audio_player aufile,{directory / 'heard.wav'}\n"
        f"audio_source aufile,{wav}\n"
        "audio_alert aufile,/dev/null\n"
        "module_path /usr/lib/baresip/modules\nmodule g711.so\nmodule aufile.so\n"
        "module_app account.so\nmodule_app menu.so\n")
    (directory / "accounts").write_text(
        f"<sip:tanaka@127.0.0.1:{server_port}>;auth_pass=madoguchi-demo;answermode=auto;regint=60;"
        "audio_codecs=PCMU,PCMA\n")


def _sipp_trace(directory: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in directory.glob("*_messages.log"))


async def test_a_caller_goes_through_the_menu_and_talks_to_the_agents_phone(
        sqlite_url: str, tmp_path: Path) -> None:
    for tool in ("sipp", "baresip"):
        require_service(tool, shutil.which(tool) is not None, "apt-get install sip-tester baresip")
    sip_port, base = free_udp_port(), 30000 + (free_udp_port() % 300) * 100
    server = await start_server(Settings(database_url=sqlite_url, redis_url=None, sip_port=sip_port,
                                         rtp_ports=f"{base}-{base + 99}", voice_prompts_dir=str(tmp_path / "prompts")))
    agent = Browserish(server.base_url)
    try:
        await _call_through(server, agent, sip_port, base, tmp_path)
    finally:
        await agent.close()
        await server.stop()


async def _call_through(server: RunningServer, agent: Browserish, sip_port: int, base: int, tmp_path: Path) -> None:
    async with server.ctx.db.uow() as uow:
        support = await uow.session.scalar(select(Queue).where(Queue.name == "Support"))
        assert support is not None
        await do_create_entry_point(uow, actor=None, data=EntryPointCreate(
            name="e2e line", channel_kind="voice", queue_id=support.id,
            settings=VoiceChannel.check_settings({"uri": "sip:e2e@127.0.0.1", "language": "en",
                                                  "greeting": "Hello.", "menu": {"1": "Sales", "2": "Support"}})))
    await agent_on_duty(server, agent, "tanaka@demo.madoguchi.test")
    channel = server.ctx.channels.get("voice")
    assert isinstance(channel, VoiceChannel)

    phone_dir = tmp_path / "baresip"
    phone_dir.mkdir()
    wav = phone_dir / "agent.wav"  # baresip hangs up when its audio file ends: longer than the call
    write_wav(wav, tone((330.0,), 30_000, level=0.2))
    baresip_config(phone_dir, sip_port=free_udp_port(), server_port=sip_port, wav=wav)
    phone = await asyncio.create_subprocess_exec("baresip", "-f", str(phone_dir), stdout=asyncio.subprocess.DEVNULL,
                                                 stderr=asyncio.subprocess.DEVNULL, stdin=asyncio.subprocess.DEVNULL)
    try:
        for _ in range(200):
            if channel.telephony.is_registered("tanaka"):
                break
            await asyncio.sleep(0.05)
        assert channel.telephony.is_registered("tanaka"), "baresip did not register"

        sipp = await asyncio.create_subprocess_exec(
            "sipp", f"127.0.0.1:{sip_port}", "-sf", str(HERE / "uac_ivr.xml"), "-s", "e2e", "-i", "127.0.0.1",
            "-p", str(free_udp_port()), "-mi", "127.0.0.1", "-mp", str(base - 1000), "-m", "1", "-d", "5000",
            "-timeout", "40", "-timeout_error", "-trace_msg", cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL, stdin=asyncio.subprocess.DEVNULL)
        legs_seen: dict[str, tuple[int, int, int, int]] = {}
        while sipp.returncode is None:
            for leg in channel.telephony.legs:
                legs_seen[leg.leg_id] = (int(leg.inbound), leg.rtp.stats.packets, leg.rtp.sent, leg.rtp.relayed)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sipp.wait(), 0.1)
        assert sipp.returncode == 0, _sipp_trace(tmp_path)[-3000:]
    finally:
        phone.terminate()
        await phone.wait()

    for _ in range(100):  # the caller's BYE is answered first; the contact ends right after
        if not channel.telephony.legs and not channel.service.calls:
            break
        await asyncio.sleep(0.05)
    async with server.ctx.db.read() as session:
        call = await session.scalar(select(VoiceCall).order_by(VoiceCall.id.desc()))
        assert call is not None
        contact = await session.get(Contact, call.contact_id)
        events = (await session.scalars(select(ContactEvent.type).where(ContactEvent.contact_id == call.contact_id)
                                        .order_by(ContactEvent.id))).all()
    assert contact is not None and contact.state == "ended" and contact.ended_by == "customer"
    assert contact.queue_id == support.id and call.digits == "2" and call.caller == "+81311112222"
    assert list(events) == ["arrived", "flow_entered", "ivr_input", "escalated", "queued", "offered", "accepted",
                            "ended"]
    caller_leg = [v for v in legs_seen.values() if v[0] == 1]
    agent_leg = [v for v in legs_seen.values() if v[0] == 0]
    assert caller_leg and agent_leg
    # the caller heard the prompt and the agent (sent), the agent heard the caller (relayed to it)
    assert caller_leg[0][1] > 50 and caller_leg[0][2] > 50 and caller_leg[0][3] > 20
    assert agent_leg[0][1] > 20 and agent_leg[0][3] > 20  # the phone's audio went to the caller
    assert not channel.telephony.legs  # the caller's BYE ended the agent leg too
