"""End to end: a real call whose agent speaks (baresip sending espeak-ng speech at 8 kHz) is
recorded, and after the caller hangs up the transcription worker of the running server puts the
agent's words on the contact, where the agent reads them through the API."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from madoguchi.channels.actions import do_create_entry_point
from madoguchi.channels.schemas import EntryPointCreate
from madoguchi.channels.voice.adapter import VoiceChannel
from madoguchi.channels.voice.audio import write_wav
from madoguchi.channels.voice.models import VoiceCall
from madoguchi.routing.models import Queue
from madoguchi.settings import Settings
from tests.api.flow import agent_on_duty
from tests.channels.voice.test_transcription import speech, words
from tests.e2e.voice.test_sip_calls import HERE, _sipp_trace, baresip_config, free_udp_port
from tests.support import Browserish, RunningServer, require_service, start_server

pytestmark = pytest.mark.e2e

SAID = "Thank you for calling. I can see your order here. It will arrive tomorrow morning."


async def test_the_agents_words_on_a_recorded_call_become_a_transcript(sqlite_url: str, tmp_path: Path) -> None:
    for tool in ("sipp", "baresip"):
        require_service(tool, shutil.which(tool) is not None, "apt-get install sip-tester baresip")
    sip_port, base = free_udp_port(), 30000 + (free_udp_port() % 300) * 100
    server = await start_server(Settings(
        database_url=sqlite_url, redis_url=None, sip_port=sip_port, rtp_ports=f"{base}-{base + 99}",
        voice_prompts_dir=str(tmp_path / "prompts"), voice_recordings_dir=str(tmp_path / "recordings"),
        voice_transcription="pocketsphinx"))
    agent = Browserish(server.base_url)
    try:
        await _call(server, agent, sip_port, base, tmp_path)
    finally:
        await agent.close()
        await server.stop()


async def _call(server: RunningServer, agent: Browserish, sip_port: int, base: int, tmp_path: Path) -> None:
    async with server.ctx.db.uow() as uow:
        support = await uow.session.scalar(select(Queue).where(Queue.name == "Support"))
        assert support is not None
        await do_create_entry_point(uow, actor=None, data=EntryPointCreate(
            name="e2e line", channel_kind="voice", queue_id=support.id,
            settings=VoiceChannel.check_settings({"uri": "sip:e2e@127.0.0.1", "language": "en",
                                                  "greeting": "Hello.", "menu": {"2": "Support"}})))
    desk = await agent_on_duty(server, agent, "tanaka@demo.madoguchi.test")
    channel = server.ctx.channels.get("voice")
    assert isinstance(channel, VoiceChannel)
    phone_dir = tmp_path / "baresip"
    phone_dir.mkdir()
    # The phone speaks at once on answer, then stays silent (baresip hangs up when the file ends).
    pcm = speech(tmp_path, SAID)
    wav = phone_dir / "agent.wav"
    write_wav(wav, np.concatenate([pcm, np.zeros(30 * 8000, dtype=np.int16)]).tobytes())
    baresip_config(phone_dir, sip_port=free_udp_port(), server_port=sip_port, wav=wav)
    phone = await asyncio.create_subprocess_exec("baresip", "-f", str(phone_dir), stdout=asyncio.subprocess.DEVNULL,
                                                 stderr=asyncio.subprocess.DEVNULL, stdin=asyncio.subprocess.DEVNULL)
    try:
        for _ in range(200):
            if channel.telephony.is_registered("tanaka"):
                break
            await asyncio.sleep(0.05)
        assert channel.telephony.is_registered("tanaka"), "baresip did not register"
        # Long enough after the answer for the whole sentence (about 5 s) to be said.
        sipp = await asyncio.create_subprocess_exec(
            "sipp", f"127.0.0.1:{sip_port}", "-sf", str(HERE / "uac_ivr.xml"), "-s", "e2e", "-i", "127.0.0.1",
            "-p", str(free_udp_port()), "-mi", "127.0.0.1", "-mp", str(base - 1000), "-m", "1", "-d", "12000",
            "-timeout", "45", "-timeout_error", "-trace_msg", cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL, stdin=asyncio.subprocess.DEVNULL)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(sipp.wait(), 60)
        assert sipp.returncode == 0, _sipp_trace(tmp_path)[-3000:]
    finally:
        phone.terminate()
        await phone.wait()

    async with server.ctx.db.read() as session:
        call = await session.scalar(select(VoiceCall).order_by(VoiceCall.id.desc()))
        assert call is not None and call.agent_id is not None
    url = f"/api/v1/contacts/{call.contact_id}/transcripts"
    listed: list[dict[str, object]] = []
    for _ in range(300):  # the worker decodes after the call, in its own thread
        listed = await agent.call("GET", url, expect=200)
        if len(listed) == 2 and all(t["status"] not in ("pending", "working") for t in listed):
            break
        await asyncio.sleep(0.2)
    by_speaker = {str(t["speaker"]): t for t in listed}
    assert set(by_speaker) == {"customer", "agent"}, listed
    said = by_speaker["agent"]
    assert said["status"] == "done" and said["recording"] == f"agent-{call.agent_id}.wav", said
    heard = words(str(said["text"]))
    assert len(heard & words(SAID)) >= 3, heard
    assert by_speaker["customer"]["status"] == "done"
    await desk.event("voice.transcribed", contact_id=call.contact_id, speaker="agent")
    await desk.close()
