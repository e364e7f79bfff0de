"""End to end: a real call whose agent speaks (baresip sending espeak-ng speech at 8 kHz) is
recorded, and after the caller hangs up the transcription worker of the running server puts the
agent's words on the contact, where the agent reads them through the API."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import numpy as np
import pytest

from madoguchi.channels.voice.audio import write_wav
from tests.api.flow import agent_on_duty
from tests.channels.voice.test_transcription import speech, words
from tests.e2e.voice.harness import (
    add_line,
    call_in,
    finished_call,
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

SAID = "Thank you for calling. I can see your order here. It will arrive tomorrow morning."


async def test_the_agents_words_on_a_recorded_call_become_a_transcript(sqlite_url: str, tmp_path: Path) -> None:
    require_sip_peers()
    server, sip_port, base = await voice_server(sqlite_url, tmp_path, voice_transcription="pocketsphinx",
                                                voice_recordings_dir=str(tmp_path / "recordings"))
    agent = Browserish(server.base_url)
    try:
        await _call(server, agent, sip_port, base, tmp_path)
    finally:
        await agent.close()
        await server.stop()


async def _call(server: RunningServer, agent: Browserish, sip_port: int, base: int, tmp_path: Path) -> None:
    await add_line(server, {"2": "Support"})
    desk = await agent_on_duty(server, agent, "tanaka@demo.madoguchi.test")
    channel = voice_channel(server)
    # The phone speaks at once on answer, then stays silent (baresip hangs up when the file ends).
    wav = tmp_path / "agent.wav"
    write_wav(wav, np.concatenate([speech(tmp_path, SAID), np.zeros(30 * 8000, dtype=np.int16)]).tobytes())
    agent_phone = await phone(tmp_path / "baresip", user="tanaka", server_port=sip_port, wav=wav)
    try:
        await registered(channel, "tanaka")
        # Long enough after the answer for the whole sentence (about 5 s) to be said.
        sipp = await call_in(sip_port, base, tmp_path, talk_ms=12000, timeout_s=45)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(sipp.wait(), 60)
        assert sipp.returncode == 0, sipp_trace(tmp_path)[-3000:]
    finally:
        await stop_process(agent_phone)

    call, _, _ = await finished_call(server)
    assert call.agent_id is not None
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
