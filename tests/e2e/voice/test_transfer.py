"""End to end, real SIP peers: a caller (sipp) talks to one agent's phone (baresip), the agent
transfers the call from the desktop to a colleague by name, the first phone is hung up, the
colleague's phone (a second baresip) rings and answers, and the caller talks on with the
colleague, audio relayed both ways, until the caller hangs up. One contact throughout."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
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
from tests.e2e.voice.test_sip_calls import HERE, _sipp_trace, baresip_config, free_udp_port
from tests.support import Browserish, RunningServer, require_service, start_server

pytestmark = pytest.mark.e2e


async def test_a_call_transferred_from_the_desktop_rings_the_colleagues_phone(sqlite_url: str,
                                                                            tmp_path: Path) -> None:
    for tool in ("sipp", "baresip"):
        require_service(tool, shutil.which(tool) is not None, "apt-get install sip-tester baresip")
    sip_port, base = free_udp_port(), 30000 + (free_udp_port() % 300) * 100
    server = await start_server(Settings(database_url=sqlite_url, redis_url=None, sip_port=sip_port,
                                         rtp_ports=f"{base}-{base + 99}", voice_prompts_dir=str(tmp_path / "prompts")))
    first, second = Browserish(server.base_url), Browserish(server.base_url)
    phones: list[asyncio.subprocess.Process] = []
    try:
        await _transfer(server, first, second, phones, sip_port, base, tmp_path)
    finally:
        for phone in phones:
            phone.terminate()
            await phone.wait()
        await first.close()
        await second.close()
        await server.stop()


async def _phone(user: str, sip_port: int, tmp_path: Path, level: float) -> asyncio.subprocess.Process:
    directory = tmp_path / user
    directory.mkdir()
    wav = directory / "voice.wav"  # baresip hangs up when its audio ends: longer than the call
    write_wav(wav, tone((330.0 if user == "tanaka" else 550.0,), 40_000, level=level))
    baresip_config(directory, sip_port=free_udp_port(), server_port=sip_port, wav=wav, user=user)
    return await asyncio.create_subprocess_exec("baresip", "-f", str(directory), stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.DEVNULL, stdin=asyncio.subprocess.DEVNULL)


async def _transfer(server: RunningServer, first: Browserish, second: Browserish,
                    phones: list[asyncio.subprocess.Process], sip_port: int, base: int, tmp_path: Path) -> None:
    async with server.ctx.db.uow() as uow:
        support = await uow.session.scalar(select(Queue).where(Queue.name == "Support"))
        assert support is not None
        await do_create_entry_point(uow, actor=None, data=EntryPointCreate(
            name="e2e line", channel_kind="voice", queue_id=support.id,
            settings=VoiceChannel.check_settings({"uri": "sip:e2e@127.0.0.1", "language": "en",
                                                  "greeting": "Hello.", "menu": {"2": "Support"}})))
    await agent_on_duty(server, first, "tanaka@demo.madoguchi.test")
    await agent_on_duty(server, second, "suzuki@demo.madoguchi.test")
    await second.call("PUT", "/api/v1/agents/me/state", expect=200, json={"state": "break", "reason": "meeting"})
    colleague = (await second.call("GET", "/api/v1/me", expect=200))["id"]
    channel = server.ctx.channels.get("voice")
    assert isinstance(channel, VoiceChannel)
    for user, level in (("tanaka", 0.2), ("suzuki", 0.3)):
        phones.append(await _phone(user, sip_port, tmp_path, level))
    for _ in range(200):
        if channel.telephony.is_registered("tanaka") and channel.telephony.is_registered("suzuki"):
            break
        await asyncio.sleep(0.05)
    assert channel.telephony.is_registered("tanaka") and channel.telephony.is_registered("suzuki")

    sipp = await asyncio.create_subprocess_exec(
        "sipp", f"127.0.0.1:{sip_port}", "-sf", str(HERE / "uac_ivr.xml"), "-s", "e2e", "-i", "127.0.0.1",
        "-p", str(free_udp_port()), "-mi", "127.0.0.1", "-mp", str(base - 1000), "-m", "1", "-d", "14000",
        "-timeout", "45", "-timeout_error", "-trace_msg", cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL, stdin=asyncio.subprocess.DEVNULL)
    steps: list[str] = []
    talked: dict[str, int] = {}  # agent phone → packets relayed from it to the caller
    first_leg_ended = False
    while sipp.returncode is None:
        agent_legs = {leg.callee: leg for leg in channel.telephony.legs if not leg.inbound}
        for user, leg in agent_legs.items():
            talked[user] = max(talked.get(user, 0), leg.rtp.relayed)
        contact_id = next(iter(channel.service.calls), None)
        if not steps and talked.get("tanaka", 0) > 25 and contact_id is not None:
            await second.call("PUT", "/api/v1/agents/me/state", expect=200, json={"state": "available"})
            await first.call("POST", f"/api/v1/contacts/{contact_id}/transfer", expect=200,
                             json={"agent_id": colleague})
            steps.append("transferred")
        if steps == ["transferred"] and "tanaka" not in agent_legs:
            first_leg_ended = True
        if steps == ["transferred"] and talked.get("suzuki", 0) > 25:
            steps.append("talking with the colleague")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(sipp.wait(), 0.1)
    assert sipp.returncode == 0, _sipp_trace(tmp_path)[-3000:]
    assert steps == ["transferred", "talking with the colleague"], (steps, talked)
    assert first_leg_ended

    for _ in range(100):
        if not channel.telephony.legs and not channel.service.calls:
            break
        await asyncio.sleep(0.05)
    async with server.ctx.db.read() as session:
        call = await session.scalar(select(VoiceCall).order_by(VoiceCall.id.desc()))
        assert call is not None
        contact = await session.get(Contact, call.contact_id)
        events = list((await session.scalars(select(ContactEvent.type).where(
            ContactEvent.contact_id == call.contact_id).order_by(ContactEvent.id))).all())
    assert contact is not None and contact.state == "ended" and contact.ended_by == "customer"
    assert contact.agent_id == colleague and call.agent_id == colleague
    assert events[events.index("transferred"):] == ["transferred", "queued", "offered", "accepted", "ended"], events
    assert not channel.telephony.legs
