"""Browser tests: the real app on a free port and Debian's Chromium driven by Playwright.

Playwright never downloads a browser here: it drives the system Chromium (``MADOGUCHI_TEST_CHROMIUM``
names another binary)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright, expect

from madoguchi.settings import Settings
from tests.e2e.pages import JsErrors
from tests.support import RunningServer, require_service, start_server

CHROMIUM = os.environ.get("MADOGUCHI_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]

# Every expect() waits this long at most: long enough for a server round trip plus a WebSocket event on
# a loaded CI machine, short enough that a real failure reports quickly.
expect.set_options(timeout=10_000)


@pytest.fixture
async def live_server(sqlite_url: str) -> AsyncIterator[RunningServer]:
    """The whole app (router, message writer, WebSockets) on a fresh seeded demo database."""
    running = await start_server(Settings(database_url=sqlite_url, redis_url=None))
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
def chromium() -> str:
    require_service("Chromium", Path(CHROMIUM).is_file(), CHROMIUM)
    return CHROMIUM


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
def js_errors() -> Iterator[JsErrors]:
    """Collects uncaught exceptions and console errors of every page a test opens with it. Tests
    assert on it at the end; when one fails before that, the report shows what the pages said."""
    errors = JsErrors()
    yield errors
    if errors.seen or errors.http:
        print("what the pages reported:", *errors.seen, *(line for _, _, line in errors.http), sep="\n")
