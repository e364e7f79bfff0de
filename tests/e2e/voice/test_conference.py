"""End to end, real SIP peers: a caller (sipp) talks to one agent's phone (baresip); the agent
consults a colleague from the desktop (the caller hears music, the colleague's baresip rings and
the two phones talk), brings all three into a conference (the media mixer sends each leg the
others' audio), then hands the call over: the first phone is hung up and the caller talks on
with the colleague until the caller hangs up. One contact throughout, an ordinary transfer in
the KPIs."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from madoguchi.channels.voice.sip_telephony import SipLeg
from tests.e2e.voice.harness import TwoAgents, call_in, finished_call, sipp_trace, two_agents

pytestmark = pytest.mark.e2e


async def test_consult_conference_and_hand_over_with_real_phones(sqlite_url: str, tmp_path: Path) -> None:
    async with two_agents(sqlite_url, tmp_path) as stage:
        await _conference(stage, tmp_path)


async def _conference(stage: TwoAgents, tmp_path: Path) -> None:
    server, channel, first, second, colleague = stage.server, stage.channel, stage.first, stage.second, stage.colleague
    sip_port, base = stage.sip_port, stage.base
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
