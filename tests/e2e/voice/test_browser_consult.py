"""The agent desktop in a real browser on a real call: sipp calls in, the agent's baresip phone
answers, the desktop pops the caller; the agent picks a colleague in the call panel and consults,
the colleague's baresip answers, the panel says so, and "Hand over the call" leaves the caller
with the colleague while the agent's panel shows the call as ended for them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from madoguchi.channels.voice.audio import tone, write_wav
from tests.api.flow import agent_on_duty
from tests.e2e.pages import Desktop, JsErrors, open_page
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
from tests.support import Browserish

pytestmark = pytest.mark.e2e


async def test_consult_and_hand_over_from_the_desktop(sqlite_url: str, tmp_path: Path, browser: Browser,
                                                      js_errors: JsErrors) -> None:
    require_sip_peers()
    server, sip_port, base = await voice_server(sqlite_url, tmp_path)
    colleague = Browserish(server.base_url)
    phones: list[asyncio.subprocess.Process] = []
    sipp: asyncio.subprocess.Process | None = None
    try:
        await add_line(server, {"2": "Support"})
        channel = voice_channel(server)
        for user, pitch in (("tanaka", 330.0), ("suzuki", 550.0)):
            wav = tmp_path / f"{user}.wav"
            write_wav(wav, tone((pitch,), 40_000, level=0.2))
            phones.append(await phone(tmp_path / user, user=user, server_port=sip_port, wav=wav))
        await registered(channel, "tanaka", "suzuki")
        await agent_on_duty(server, colleague, "suzuki@demo.madoguchi.test")
        await colleague.call("PUT", "/api/v1/agents/me/state", expect=200, json={"state": "break", "reason": "meeting"})
        suzuki = (await colleague.call("GET", "/api/v1/me", expect=200))["id"]

        desk = Desktop(await open_page(browser, js_errors, "agent", locale="en-US"))
        await desk.log_in(server.base_url, "tanaka@demo.madoguchi.test")
        await desk.go_available()
        sipp = await call_in(sip_port, base, tmp_path, talk_ms=20000, timeout_s=60)

        banner = desk.page.locator("#voice-banner")
        await expect(banner).to_have_text("On the phone with +81311112222", timeout=30_000)
        await colleague.call("PUT", "/api/v1/agents/me/state", expect=200, json={"state": "available"})
        panel = desk.page.locator("#voice-consult")
        await expect(panel).to_be_visible()
        option = desk.page.locator(f'#voice-consult-agent option[value="a:{suzuki}"]')
        await expect(option).to_have_count(1)
        await desk.page.locator("#voice-consult-agent").focus()  # drawn again: the colleague is on duty now
        await expect(option).to_be_enabled()
        await desk.page.locator("#voice-consult-agent").select_option(f"a:{suzuki}")
        await desk.page.locator("#voice-consult-start").click()
        state = desk.page.locator("#voice-consult-state")
        await expect(state).to_have_text("Talking with your colleague; the caller is on hold", timeout=15_000)
        await desk.page.locator("#voice-consult-complete").click()
        await expect(banner).to_have_text("Call with +81311112222 ended", timeout=15_000)

        assert await asyncio.wait_for(sipp.wait(), 60) == 0, sipp_trace(tmp_path)[-3000:]
        call, contact, events = await finished_call(server)
        assert contact.agent_id == suzuki and call.agent_id == suzuki
        assert events[events.index("consult_requested"):] == [
            "consult_requested", "held", "consult_started", "transferred", "queued", "offered", "accepted",
            "consult_ended", "ended"], events
        assert not js_errors.seen
    finally:
        for process in ([sipp] if sipp is not None else []) + phones:
            await stop_process(process)
        await colleague.close()
        await server.stop()
