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

from madoguchi.channels.voice.audio import tone, write_wav
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


async def test_a_call_transferred_from_the_desktop_rings_the_colleagues_phone(sqlite_url: str,
                                                                            tmp_path: Path) -> None:
    for tool in ("sipp", "baresip"):
        require_service(tool, shutil.which(tool) is not None, "apt-get install sip-tester baresip")
    server, sip_port, base = await voice_server(sqlite_url, tmp_path)
    first, second = Browserish(server.base_url), Browserish(server.base_url)
    phones: list[asyncio.subprocess.Process] = []
    try:
        await _transfer(server, first, second, phones, sip_port, base, tmp_path)
    finally:
        for process in phones:
            process.terminate()
            await process.wait()
        await first.close()
        await second.close()
        await server.stop()


async def _transfer(server: RunningServer, first: Browserish, second: Browserish,
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
