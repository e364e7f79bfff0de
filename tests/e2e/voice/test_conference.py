"""End to end, real SIP peers: a caller (sipp) talks to one agent's phone (baresip); the agent
consults a colleague from the desktop (the caller hears music, the colleague's baresip rings and
the two phones talk), brings all three into a conference (the media mixer sends each leg the
others' audio), then hands the call over: the first phone is hung up and the caller talks on
with the colleague until the caller hangs up. One contact throughout, an ordinary transfer in
the KPIs."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from pathlib import Path

import pytest

from madoguchi.channels.voice.audio import tone, write_wav
from madoguchi.channels.voice.sip_telephony import SipLeg
from tests.api.flow import agent_on_duty
from tests.e2e.voice.harness import (
    add_line,
    call_in,
    finished_call,
    phone,
    registered,
    sipp_trace,
    voice_channel,
    voice_server,
)
from tests.support import Browserish, RunningServer, require_service

pytestmark = pytest.mark.e2e


async def test_consult_conference_and_hand_over_with_real_phones(sqlite_url: str, tmp_path: Path) -> None:
    for tool in ("sipp", "baresip"):
        require_service(tool, shutil.which(tool) is not None, "apt-get install sip-tester baresip")
    server, sip_port, base = await voice_server(sqlite_url, tmp_path)
    first, second = Browserish(server.base_url), Browserish(server.base_url)
    phones: list[asyncio.subprocess.Process] = []
    try:
        await _conference(server, first, second, phones, sip_port, base, tmp_path)
    finally:
        for process in phones:
            process.terminate()
            await process.wait()
        await first.close()
        await second.close()
        await server.stop()


async def _conference(server: RunningServer, first: Browserish, second: Browserish,
                      phones: list[asyncio.subprocess.Process], sip_port: int, base: int, tmp_path: Path) -> None:
    await add_line(server, {"2": "Support"})
    await agent_on_duty(server, first, "tanaka@demo.madoguchi.test")
    await agent_on_duty(server, second, "suzuki@demo.madoguchi.test")
    await second.call("PUT", "/api/v1/agents/me/state", expect=200, json={"state": "break", "reason": "meeting"})
    colleague = (await second.call("GET", "/api/v1/me", expect=200))["id"]
    channel = voice_channel(server)
    for user, pitch in (("tanaka", 330.0), ("suzuki", 550.0)):
        wav = tmp_path / f"{user}.wav"  # longer than the call: baresip hangs up when it ends
        write_wav(wav, tone((pitch,), 40_000, level=0.2))
        phones.append(await phone(tmp_path / user, user=user, server_port=sip_port, wav=wav))
    await registered(channel, "tanaka", "suzuki")

    sipp = await call_in(sip_port, base, tmp_path, talk_ms=16000, timeout_s=50)
    steps: list[str] = []
    mark: dict[str, int] = {}
    while sipp.returncode is None:
        legs: dict[str, SipLeg] = {leg.callee: leg for leg in channel.telephony.legs if not leg.inbound}
        caller = next((leg for leg in channel.telephony.legs if leg.inbound), None)
        contact_id = next(iter(channel.service.calls), None)
        tanaka, suzuki = legs.get("tanaka"), legs.get("suzuki")
        if not steps and tanaka is not None and tanaka.rtp.relayed > 25 and contact_id is not None:
            await second.call("PUT", "/api/v1/agents/me/state", expect=200, json={"state": "available"})
            await first.call("POST", f"/api/v1/contacts/{contact_id}/voice/consult", expect=202,
                             json={"agent_id": colleague})
            steps.append("consulting")
        elif steps == ["consulting"] and suzuki is not None and tanaka is not None and suzuki.bridged is tanaka:
            mark["consult"] = suzuki.rtp.relayed
            if suzuki.rtp.relayed > mark.get("consult_start", suzuki.rtp.relayed) + 25:
                assert caller is not None and caller.rtp.playing  # the caller hears music meanwhile
                await first.call("POST", f"/api/v1/contacts/{contact_id}/voice/consult/conference", expect=202)
                steps.append("conference")
            mark.setdefault("consult_start", suzuki.rtp.relayed)
        elif steps == ["consulting", "conference"] and caller is not None and caller.rtp.mixer is not None:
            mixer = caller.rtp.mixer
            mark.setdefault("mixed_start", mixer.mixed)
            if mixer.mixed > mark["mixed_start"] + 3 * 50 and len(mixer.members) == 3:
                await first.call("POST", f"/api/v1/contacts/{contact_id}/voice/consult/complete", expect=202)
                steps.append("handed over")
        elif steps == ["consulting", "conference", "handed over"] and tanaka is None and suzuki is not None \
                and caller is not None and caller.bridged is suzuki:
            mark.setdefault("after", suzuki.rtp.relayed)
            if suzuki.rtp.relayed > mark["after"] + 25:
                steps.append("talking with the colleague")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(sipp.wait(), 0.1)
    assert sipp.returncode == 0, sipp_trace(tmp_path)[-3000:]
    assert steps == ["consulting", "conference", "handed over", "talking with the colleague"], (steps, mark)

    call, contact, events = await finished_call(server)
    assert contact.state == "ended" and contact.ended_by == "customer"
    assert contact.agent_id == colleague and call.agent_id == colleague
    tail = events[events.index("consult_requested"):]
    assert tail == ["consult_requested", "held", "consult_started", "resumed", "conference_started",
                    "transferred", "queued", "offered", "accepted", "conference_ended", "ended"], events
    assert not channel.telephony.legs
