"""Helpers for the browser tests: pages that report their JavaScript errors, and the two actors of
the chat flow (a customer on the demo shop's widget, an agent on the desktop)."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from playwright.async_api import Browser, ConsoleMessage, Error, Locator, Page, Response, expect

from madoguchi.demo import DEMO_PASSWORD


@dataclass
class JsErrors:
    """What went wrong in the pages: uncaught exceptions and ``console.error`` lines, and HTTP
    responses of 400 and up (Chromium also logs those to the console; they are kept apart so a test
    can allow the ones it provokes). Each entry starts with the page's role."""

    seen: list[str] = field(default_factory=list)
    http: list[tuple[int, str, str]] = field(default_factory=list)

    def watch(self, page: Page, name: str) -> None:
        def on_page_error(error: Error) -> None:
            self.seen.append(f"{name}: uncaught {error.name}: {error.message}\n{error.stack or ''}")

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error" and not message.text.startswith("Failed to load resource"):
                self.seen.append(f"{name}: console.error {message.text} at {message.location}")

        def on_response(response: Response) -> None:
            if response.status >= 400:
                self.http.append((response.status, urlsplit(response.url).path,
                                  f"{name}: {response.request.method} {response.url} -> {response.status}"))

        page.on("pageerror", on_page_error)
        page.on("console", on_console)
        page.on("response", on_response)

    def assert_none(self, *, allow_http: Collection[tuple[int, str]] = ()) -> None:
        problems = self.seen + [line for status, path, line in self.http if (status, path) not in allow_http]
        assert not problems, "errors in the pages:\n" + "\n".join(problems)


async def open_page(browser: Browser, errors: JsErrors, name: str, *, locale: str) -> Page:
    """A page in its own browser context (own cookies and storage: a separate person)."""
    context = await browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    errors.watch(page, name)
    return page


class Widget:
    """The chat widget on the demo shop, inside the open shadow root of ``#madoguchi-widget``
    (Playwright's CSS selectors pierce open shadow roots)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.root = page.locator("#madoguchi-widget")
        self.launcher = self.root.locator("#launcher")
        self.panel = self.root.locator("#panel")
        self.prechat = self.root.locator("#prechat")
        self.chat = self.root.locator("#chat")
        self.input = self.root.locator("#input")
        self.log = self.root.locator("#log")
        self.status = self.root.locator("#status")

    async def open_and_introduce(self, *, name: str, email: str) -> None:
        await expect(self.launcher).to_be_visible()
        await self.launcher.click()
        await expect(self.prechat).to_be_visible()
        await self.prechat.locator("#name").fill(name)
        await self.prechat.locator("#email").fill(email)
        await self.prechat.locator("#start").click()
        await expect(self.chat).to_be_visible()
        await expect(self.prechat).to_be_hidden()

    async def send(self, text: str) -> None:
        await self.input.fill(text)
        await self.input.press("Enter")
        await expect(self.input).to_have_value("")
        # The bubble shows at once as pending and settles when the server's copy comes back.
        await expect(self.messages("customer", text)).to_have_count(1)
        await expect(self.messages("customer", text)).not_to_have_class(re.compile(r"\bpending\b"))

    def messages(self, author_kind: str, text: str | None = None) -> Locator:
        found = self.log.locator(f"li.{author_kind}")
        return found.filter(has_text=text) if text is not None else found


class Desktop:
    """The agent desktop."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.state = page.locator("#my-state")
        self.offers = page.locator("#offers li.offer")
        self.title = page.locator("#conv-title")
        self.messages = page.locator("#messages li.msg")
        self.typing = page.locator("#typing")
        self.reply = page.locator("#reply")
        self.customer_name = page.locator("#customer-name")
        self.history = page.locator("#timeline li.timeline-item")
        self.wrap_up = page.locator("#wrap-up")
        self.error = page.locator("#desk-error")

    async def log_in(self, base_url: str, email: str) -> None:
        await self.page.goto(base_url + "/login")
        await self.page.locator("#email").fill(email)
        await self.page.locator("#password").fill(DEMO_PASSWORD)
        await self.page.locator("#login-submit").click()
        await expect(self.page).to_have_url(base_url + "/desktop")
        # The desktop has drawn the agent's state: its script and the API are up.
        await expect(self.state).to_have_attribute("data-state", re.compile(r"^(offline|available|break)$"))

    async def go_available(self) -> None:
        await self.page.locator("#go-available").click()
        await expect(self.state).to_have_attribute("data-state", "available")

    async def send_reply(self, text: str) -> None:
        await self.reply.fill(text)
        await self.page.locator("#send").click()
        await expect(self.messages.and_(self.page.locator(".agent")).filter(has_text=text)).to_have_count(1)

    async def open_contact_id(self) -> int:
        text = await self.title.text_content() or ""
        match = re.match(r"#(\d+) ", text)
        assert match, f"no contact id in the conversation title {text!r}"
        return int(match.group(1))
