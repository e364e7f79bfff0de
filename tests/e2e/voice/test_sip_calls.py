"""End to end with real SIP peers on 127.0.0.1: sipp calls in, hears the menu, presses 2 (bytes
from sipp's RFC 4733 capture), is queued; baresip, registered as the agent's phone with auto
answer, rings after the ACD's offer; RTP flows both ways through our relay; the caller's BYE ends
the agent leg and the contact."""

from __future__ import annotations

import array
import asyncio
import contextlib
import math
import wave
from pathlib import Path

import pytest

from madoguchi.channels.voice.adapter import VoiceChannel
from madoguchi.channels.voice.audio import tone, write_wav
from tests.api.flow import agent_on_duty
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


async def test_a_caller_goes_through_the_menu_and_talks_to_the_agents_phone(
        sqlite_url: str, tmp_path: Path) -> None:
    require_sip_peers()
    server, sip_port, base = await voice_server(sqlite_url, tmp_path,
                                                voice_recordings_dir=str(tmp_path / "recordings"))
    agent = Browserish(server.base_url)
    try:
        await _call_through(server, agent, sip_port, base, tmp_path)
    finally:
        await agent.close()
        await server.stop()


async def _call_through(server: RunningServer, agent: Browserish, sip_port: int, base: int, tmp_path: Path) -> None:
    support = await add_line(server, {"1": "Sales", "2": "Support"})
    desk = await agent_on_duty(server, agent, "tanaka@demo.madoguchi.test")
    channel = voice_channel(server)

    wav = tmp_path / "agent.wav"  # baresip hangs up when its audio file ends: longer than the call
    write_wav(wav, tone((330.0,), 30_000, level=0.2))
    agent_phone = await phone(tmp_path / "baresip", user="tanaka", server_port=sip_port, wav=wav)
    try:
        await registered(channel, "tanaka")
        sipp = await call_in(sip_port, base, tmp_path, talk_ms=9000)
        legs_seen: dict[str, tuple[int, int, int, int]] = {}
        hold_steps: list[str] = []
        while sipp.returncode is None:
            for leg in channel.telephony.legs:
                legs_seen[leg.leg_id] = (int(leg.inbound), leg.rtp.stats.packets, leg.rtp.sent, leg.rtp.relayed)
            await _hold_and_resume_from_the_desktop(channel, agent, hold_steps)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sipp.wait(), 0.1)
        assert sipp.returncode == 0, sipp_trace(tmp_path)[-3000:]
    finally:
        await stop_process(agent_phone)

    call, contact, events = await finished_call(server)
    assert contact.state == "ended" and contact.ended_by == "customer"
    assert contact.queue_id == support.id and call.digits == "2" and call.caller == "+81311112222"
    assert hold_steps == ["held", "resumed"], hold_steps
    assert events == ["arrived", "flow_entered", "ivr_input", "escalated", "queued", "offered", "accepted",
                            "held", "resumed", "ended"]
    caller_leg = [v for v in legs_seen.values() if v[0] == 1]
    agent_leg = [v for v in legs_seen.values() if v[0] == 0]
    assert caller_leg and agent_leg
    # the caller heard the prompt and the agent (sent), the agent heard the caller (relayed to it)
    assert caller_leg[0][1] > 50 and caller_leg[0][2] > 50 and caller_leg[0][3] > 20
    assert agent_leg[0][1] > 20 and agent_leg[0][3] > 20  # the phone's audio went to the caller
    assert not channel.telephony.legs  # the caller's BYE ended the agent leg too
    await _recordings_of_both_legs(server, agent, contact.id, contact.agent_id, tmp_path / "recordings")
    # CTI: the desk heard the phone ring with the customer found by the caller's number, then the answer
    ringing = await desk.event("voice.call", state="ringing", contact_id=contact.id)
    assert ringing["data"]["customer_id"] == contact.customer_id and ringing["data"]["caller"] == "+81311112222"
    await desk.event("voice.call", state="answered", contact_id=contact.id)
    await desk.close()


async def _hold_and_resume_from_the_desktop(channel: VoiceChannel, agent: Browserish, steps: list[str]) -> None:
    """Once the call is bridged and has talked a little, the agent holds it on the desktop (the
    phone gets a re-INVITE with sendonly and answers it), then resumes it (sendrecv)."""
    agent_legs = [leg for leg in channel.telephony.legs if not leg.inbound and leg.bridged is not None]
    if steps == ["held", "resumed"] or not (agent_legs or steps):
        return
    contact_id = next(iter(channel.service.calls), None)
    if not steps and agent_legs and agent_legs[0].rtp.relayed > 25 and contact_id is not None:
        await agent.call("POST", f"/api/v1/contacts/{contact_id}/hold", expect=200)
        steps.append("hold")
    elif steps == ["hold"]:
        held = [leg for leg in channel.telephony.legs if not leg.inbound and leg.local_held]
        if held and held[0].reinvites_answered == 1:
            steps[-1] = "held"
            await agent.call("POST", f"/api/v1/contacts/{contact_id}/resume", expect=200)
            steps.append("resume")
    elif steps == ["held", "resume"]:
        agent_leg = [leg for leg in channel.telephony.legs if not leg.inbound]
        if agent_leg and agent_leg[0].reinvites_answered == 2 and agent_leg[0].bridged is not None:
            steps[-1] = "resumed"


async def _recordings_of_both_legs(server: RunningServer, agent: Browserish, contact_id: int, agent_id: int | None,
                                   root: Path) -> None:
    """Each leg's WAV holds audio on both channels (what it heard, what it was sent), and the agent
    who took the call plays them from the contact; another agent cannot."""
    names = sorted(p.name for p in (root / f"contact-{contact_id}").iterdir())
    assert names == ["agent-" + str(agent_id) + ".wav", "caller.wav"]
    for name in names:
        heard, sent = _channel_levels(root / f"contact-{contact_id}" / name)
        assert heard > 100 and sent > 100, (name, heard, sent)
    listed = await agent.call("GET", f"/api/v1/contacts/{contact_id}/recordings", expect=200)
    assert [(r["name"], r["leg"]) for r in listed] == [(f"agent-{agent_id}.wav", "agent"), ("caller.wav", "caller")]
    response = await agent.http.get(listed[1]["url"])
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"
    assert response.content[:4] == b"RIFF"
    await agent.call("GET", f"/api/v1/contacts/{contact_id}/recordings/..%2Fx.wav", expect=404)
    other = Browserish(server.base_url)
    try:
        await other.login("suzuki@demo.madoguchi.test")
        await other.call("GET", f"/api/v1/contacts/{contact_id}/recordings", expect=404)
        await other.call("GET", listed[1]["url"], expect=404)
    finally:
        await other.close()


def _channel_levels(path: Path) -> tuple[float, float]:
    """RMS of the left and right channels of a 16-bit stereo WAV."""
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 8000)
        samples = array.array("h", wav.readframes(wav.getnframes()))
    left, right = samples[0::2], samples[1::2]
    return (math.sqrt(sum(x * x for x in left) / max(1, len(left))),
            math.sqrt(sum(x * x for x in right) / max(1, len(right))))
