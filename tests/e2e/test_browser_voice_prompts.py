"""Recorded prompts in a real browser: the admin uploads a WAV on the flows page, sees it listed
with its length and a player, gets a clear error for a file that is not a WAV, and deletes it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from madoguchi.channels.voice.audio import tone, write_wav
from tests.e2e.pages import DEMO_PASSWORD, JsErrors, open_page
from tests.support import RunningServer

pytestmark = pytest.mark.e2e


async def test_admin_uploads_and_deletes_a_recorded_prompt(live_server: RunningServer, browser: Browser,
                                                           js_errors: JsErrors, tmp_path: Path) -> None:
    base = live_server.base_url
    page = await open_page(browser, js_errors, "admin", locale="en-US")
    await page.goto(base + "/login")
    await page.locator("#email").fill("admin@demo.madoguchi.test")
    await page.locator("#password").fill(DEMO_PASSWORD)
    await page.locator("#login-submit").click()
    await page.wait_for_url(re.compile(r".*/(desktop|admin.*|supervisor.*|wallboard.*)$"))
    await page.goto(base + "/admin/flows")
    prompts = page.locator("#voice-prompts li")
    await expect(prompts).to_have_text(["No recorded prompts yet"])

    good, bad = tmp_path / "welcome.wav", tmp_path / "notes.wav"
    write_wav(good, tone((440.0,), 1500), rate=8000)
    bad.write_bytes(b"this is not audio")
    await page.locator("#prompt-name").fill("welcome")
    await page.locator("#prompt-language").select_option("en")
    await page.locator("#prompt-file").set_input_files(str(good))
    await page.locator("#prompt-upload button[type=submit]").click()
    await expect(page.locator("#flow-notice")).to_have_text("Uploaded welcome (1.5 s).")
    await expect(prompts).to_have_count(1)
    await expect(prompts.first).to_contain_text("welcome en · 1.5 s")
    await expect(prompts.first.locator("audio")).to_have_attribute("src", "/api/v1/voice/prompts/welcome/en")

    await page.locator("#prompt-name").fill("notes")
    await page.locator("#prompt-file").set_input_files(str(bad))
    await page.locator("#prompt-upload button[type=submit]").click()
    await expect(page.locator("#flow-notice")).to_contain_text("not a PCM WAV file")
    await expect(prompts).to_have_count(1)

    await prompts.first.locator("button[data-delete]").click()
    await expect(prompts).to_have_text(["No recorded prompts yet"])
