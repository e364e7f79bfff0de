"""The web chat end to end in a real browser: a returning customer writes from the demo shop's
widget, an agent takes the chat on the desktop, and the contact's KPI events land in order."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select

from madoguchi.contacts.models import ContactEvent
from tests.e2e.pages import Desktop, JsErrors, Widget, open_page
from tests.support import RunningServer

pytestmark = pytest.mark.e2e

AGENT_EMAIL = "tanaka@demo.madoguchi.test"
AGENT_NAME = "田中 太郎"
# A demo customer with earlier, closed contacts: the screen pop has history to show.
CUSTOMER_NAME = "山田 花子"
CUSTOMER_EMAIL = "hanako.yamada@example.jp"


async def test_customer_and_agent_chat_through_the_browser(live_server: RunningServer, browser: Browser,
                                                           js_errors: JsErrors) -> None:
    base = live_server.base_url
    desk = Desktop(await open_page(browser, js_errors, "agent", locale="ja-JP"))
    await desk.log_in(base, AGENT_EMAIL)
    await desk.go_available()

    shop = await open_page(browser, js_errors, "customer", locale="ja-JP")
    await shop.goto(base + "/demo/shop")
    widget = Widget(shop)
    await widget.open_and_introduce(name=CUSTOMER_NAME, email=CUSTOMER_EMAIL)
    question = "注文した緑茶セットはいつ届きますか？"
    await widget.send(question)
    await expect(widget.status).to_have_text(re.compile("担当者が対応します"))

    # The offer names the customer; accepting opens the conversation and the screen pop.
    offer = desk.offers.filter(has_text=CUSTOMER_NAME)
    await expect(offer).to_have_count(1)
    await offer.locator("button.accept").click()
    await expect(desk.offers).to_have_count(0)
    await expect(desk.title).to_have_text(re.compile(rf"^#\d+ {CUSTOMER_NAME}$"))
    contact_id = await desk.open_contact_id()
    await expect(desk.customer_name).to_have_text(CUSTOMER_NAME)
    await expect(desk.page.locator("#customer")).to_contain_text(CUSTOMER_EMAIL)
    await expect(desk.history.nth(1)).to_be_visible()  # her earlier contacts (chats, and email in the demo)
    await expect(desk.history.first).to_contain_text("完了")
    await expect(desk.messages.filter(has_text=question)).to_have_count(1)
    await expect(desk.state).to_have_attribute("data-state", "busy")
    await expect(widget.messages("system", f"{AGENT_NAME} が会話に参加しました")).to_have_count(1)

    # The customer types: the agent sees the indicator; it goes when the message arrives.
    await expect(desk.typing).to_be_hidden()
    await widget.input.press_sequentially("ありが")
    await expect(desk.typing).to_be_visible()
    await widget.input.fill("")
    await widget.send("よろしくお願いします。")
    await expect(desk.messages.filter(has_text="よろしくお願いします。")).to_have_count(1)
    await expect(desk.typing).to_be_hidden()

    answer = "お調べします。明日お届けの予定です。"
    await desk.send_reply(answer)
    await expect(widget.messages("agent", answer)).to_have_count(1)
    await expect(widget.messages("agent", answer)).to_contain_text(AGENT_NAME)

    # A reload keeps the conversation: the widget opens again with every message restored.
    await shop.reload()
    await expect(widget.chat).to_be_visible()
    await expect(widget.messages("customer")).to_have_text([re.compile(question), re.compile("よろしくお願いします。")])
    await expect(widget.messages("agent", answer)).to_contain_text(AGENT_NAME)
    await expect(widget.messages("system", f"{AGENT_NAME} が会話に参加しました")).to_have_count(1)
    # … and it is live again: a new message still reaches the agent.
    await widget.send("ありがとうございます。")
    await expect(desk.messages.filter(has_text="ありがとうございます。")).to_have_count(1)

    # The agent ends the contact and wraps it up with a disposition.
    await desk.page.locator("#end-contact").click()
    await expect(desk.wrap_up).to_be_visible()
    await expect(desk.state).to_have_attribute("data-state", "wrap_up")
    await expect(widget.status).to_have_text(re.compile("この会話は終了しました"))
    await expect(widget.messages("system", "オペレーターが会話を終了しました")).to_have_count(1)
    await desk.page.locator("#disposition").select_option("resolved")
    await desk.page.locator("#wrap-note").fill("配送日をご案内")
    await desk.page.locator("#complete-wrap-up").click()
    await expect(desk.page.locator("#conversation-body")).to_be_hidden()
    await expect(desk.state).to_have_attribute("data-state", "available")
    await expect(desk.error).to_be_empty()

    async with live_server.ctx.db.read() as session:
        rows = (await session.scalars(select(ContactEvent).where(ContactEvent.contact_id == contact_id)
                                      .order_by(ContactEvent.id))).all()
    types = [row.type for row in rows]
    assert types == ["arrived", "queued", "offered", "accepted", "ended", "wrapped_up"], types
    assert rows[-1].data.get("disposition") == "resolved"

    js_errors.assert_none()


@pytest.mark.parametrize(("locale", "query", "title", "email_label", "switch"), [
    ("en-US", "", "Sign in", "Email", "日本語"),
    ("ja-JP", "", "ログイン", "メールアドレス", "English"),
    ("en-US", "?lang=ja", "ログイン", "メールアドレス", "English"),
    ("ja-JP", "?lang=en", "Sign in", "Email", "日本語"),
])
async def test_login_page_speaks_the_chosen_language(live_server: RunningServer, browser: Browser,
                                                     js_errors: JsErrors, locale: str, query: str, title: str,
                                                     email_label: str, switch: str) -> None:
    """Accept-Language picks the language; ``?lang=`` overrides it."""
    page = await open_page(browser, js_errors, "login", locale=locale)
    await page.goto(live_server.base_url + "/login" + query)
    lang = "ja" if title == "ログイン" else "en"
    await expect(page.locator("html")).to_have_attribute("lang", lang)
    await expect(page.locator("h1")).to_have_text(title)
    await expect(page.locator("label").filter(has=page.locator("#email"))).to_have_text(email_label)
    await expect(page.locator("#lang-switch")).to_have_text(switch)
    js_errors.assert_none()


async def test_language_switch_is_remembered(live_server: RunningServer, browser: Browser,
                                             js_errors: JsErrors) -> None:
    """The switch link changes the language and a cookie keeps it over Accept-Language."""
    page = await open_page(browser, js_errors, "login", locale="en-US")
    await page.goto(live_server.base_url + "/login")
    await expect(page.locator("h1")).to_have_text("Sign in")
    await page.locator("#lang-switch").click()
    await expect(page).to_have_url(re.compile(r"\?lang=ja$"))
    await expect(page.locator("h1")).to_have_text("ログイン")
    await expect(page.locator("#login-submit")).to_have_text("ログイン")
    await page.goto(live_server.base_url + "/login")
    await expect(page.locator("h1")).to_have_text("ログイン")
    # The failure message is in the chosen language too (it comes from the page's string table).
    await page.locator("#email").fill("nobody@example.jp")
    await page.locator("#password").fill("wrong-password")
    await page.locator("#login-submit").click()
    await expect(page.locator("#login-error")).to_have_text(re.compile("^ログインできませんでした: "))
    js_errors.assert_none(allow_http={(401, "/api/v1/auth/login")})


@pytest.mark.parametrize(("locale", "launcher", "start"), [
    ("en-US", "Chat with us", "Start chat"),
    ("ja-JP", "チャットで問い合わせ", "チャットを開始"),
])
async def test_widget_speaks_the_shop_pages_language(live_server: RunningServer, browser: Browser,
                                                     js_errors: JsErrors, locale: str, launcher: str,
                                                     start: str) -> None:
    page = await open_page(browser, js_errors, "customer", locale=locale)
    await page.goto(live_server.base_url + "/demo/shop")
    widget = Widget(page)
    await expect(widget.launcher).to_have_text(launcher)
    await widget.launcher.click()
    await expect(widget.prechat.locator("#start")).to_have_text(start)
    js_errors.assert_none()
