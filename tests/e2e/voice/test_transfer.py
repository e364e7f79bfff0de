"""End to end, real SIP peers: a caller (sipp) talks to one agent's phone (baresip), the agent
transfers the call from the desktop to a colleague by name, the first phone is hung up, the
colleague's phone (a second baresip) rings and answers, and the caller talks on with the
colleague, audio relayed both ways, until the caller hangs up. One contact throughout."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from tests.e2e.voice.harness import TwoAgents, call_in, finished_call, sipp_trace, two_agents

pytestmark = pytest.mark.e2e


async def test_a_call_transferred_from_the_desktop_rings_the_colleagues_phone(sqlite_url: str,
                                                                            tmp_path: Path) -> None:
    async with two_agents(sqlite_url, tmp_path) as stage:
        await _transfer(stage, tmp_path)


async def _transfer(stage: TwoAgents, tmp_path: Path) -> None:
    server, channel, first, second, colleague = stage.server, stage.channel, stage.first, stage.second, stage.colleague
    sip_port, base = stage.sip_port, stage.base
    sipp = await call_in(sip_port, base, tmp_path, talk_ms=14000, timeout_s=45)
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
    assert sipp.returncode == 0, sipp_trace(tmp_path)[-3000:]
    assert steps == ["transferred", "talking with the colleague"], (steps, talked)
    assert first_leg_ended

    call, contact, events = await finished_call(server)
    assert contact.state == "ended" and contact.ended_by == "customer"
    assert contact.agent_id == colleague and call.agent_id == colleague
    assert events[events.index("transferred"):] == ["transferred", "queued", "offered", "accepted", "ended"], events
    assert not channel.telephony.legs
