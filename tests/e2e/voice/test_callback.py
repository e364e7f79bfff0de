"""End to end, real SIP peers: a caller (sipp) waits in line, presses * to be called back, leaves a
message after the tone and hangs up; the contact keeps its place. When an agent comes on duty the
ACD offers it, the agent's phone (baresip) rings and answers, the customer's number is dialled
through the outbound route (a second sipp, answering as the customer's phone) and the two are
bridged until the agent hangs up."""

from __future__ import annotations

import asyncio
import contextlib
import wave
from pathlib import Path

import pytest
from sqlalchemy import select

from madoguchi.channels.voice.audio import tone, write_wav
from madoguchi.channels.voice.models import VoiceCall
from madoguchi.contacts.models import ContactEvent
from tests.api.flow import agent_on_duty
from tests.e2e.voice.harness import (
    add_line,
    call_in,
    finished_call,
    free_udp_port,
    phone,
    registered,
    require_sip_peers,
    sipp_trace,
    stop_process,
    voice_channel,
    voice_server,
)
from tests.support import Browserish, RunningServer

pytestmark = pytest.mark.e2e


async def test_a_callback_request_with_voicemail_is_dialled_back_when_an_agent_is_free(
        sqlite_url: str, tmp_path: Path) -> None:
    require_sip_peers()
    trunk_port = free_udp_port()
    server, sip_port, base = await voice_server(sqlite_url, tmp_path, sip_outbound=f"127.0.0.1:{trunk_port}",
                                                voice_recordings_dir=str(tmp_path / "recordings"))
    agent = Browserish(server.base_url)
    processes: list[asyncio.subprocess.Process] = []
    try:
        await _callback(server, agent, processes, sip_port, base, trunk_port, tmp_path)
    finally:
        for process in processes:
            await stop_process(process)
        await agent.close()
        await server.stop()


async def _callback(server: RunningServer, agent: Browserish, processes: list[asyncio.subprocess.Process],
                    sip_port: int, base: int, trunk_port: int, tmp_path: Path) -> None:
    await add_line(server, {"2": "Support"})
    channel = voice_channel(server)
    wav = tmp_path / "tanaka.wav"  # baresip hangs up when its file ends: the agent ends the callback
    write_wav(wav, tone((330.0,), 6000, level=0.2))
    processes.append(await phone(tmp_path / "tanaka", user="tanaka", server_port=sip_port, wav=wav))
    await registered(channel, "tanaka")

    caller_dir = tmp_path / "caller"
    caller_dir.mkdir()
    sipp = await call_in(sip_port, base, caller_dir, talk_ms=4000, timeout_s=50, scenario="uac_callback.xml")
    processes.append(sipp)
    assert await asyncio.wait_for(sipp.wait(), 60) == 0, sipp_trace(caller_dir)[-3000:]
    async with server.ctx.db.read() as session:
        call = await session.scalar(select(VoiceCall).order_by(VoiceCall.id.desc()))
        assert call is not None
    for _ in range(100):
        if not channel.service.calls:
            break
        await asyncio.sleep(0.05)
    async with server.ctx.db.read() as session:
        call = await session.get(VoiceCall, call.id)
        assert call is not None and call.state == "callback" and call.callback_number == "+81311112222"
    voicemail = tmp_path / "recordings" / f"contact-{call.contact_id}" / "voicemail.wav"
    with wave.open(str(voicemail)) as recorded:
        assert recorded.getnframes() > 8000  # more than a second of message

    trunk_dir = tmp_path / "trunk"
    trunk_dir.mkdir()
    trunk = await asyncio.create_subprocess_exec(
        "sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", str(trunk_port), "-mi", "127.0.0.1",
        "-mp", str(base - 2000), "-rtp_echo", "-m", "1", "-timeout", "40", "-timeout_error", "-trace_msg",
        cwd=trunk_dir, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        stdin=asyncio.subprocess.DEVNULL)
    processes.append(trunk)
    await asyncio.sleep(0.3)
    await agent_on_duty(server, agent, "tanaka@demo.madoguchi.test")
    relayed = 0
    while trunk.returncode is None:
        for leg in channel.telephony.legs:
            if leg.callee == "+81311112222":
                relayed = max(relayed, leg.rtp.relayed)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(trunk.wait(), 0.1)
    assert trunk.returncode == 0, sipp_trace(trunk_dir)[-3000:]
    assert relayed > 50  # the customer's phone's audio reached the agent

    call, contact, events = await finished_call(server)
    assert contact.state == "ended" and contact.ended_by == "agent"
    tail = [e for e in events[events.index("callback_requested"):] if e != "transcribed"]  # the voicemail's
    assert tail == ["callback_requested", "queued", "offered", "accepted", "callback_connected", "ended"], events
    async with server.ctx.db.read() as session:
        fact = await session.scalar(select(ContactEvent).where(ContactEvent.contact_id == contact.id,
                                                               ContactEvent.type == "callback_requested"))
    assert fact is not None and fact.data["voicemail"] == "voicemail.wav" and fact.data["source"] == "keypad"
    assert call.state == "ended"
