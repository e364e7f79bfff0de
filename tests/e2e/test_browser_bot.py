"""The FAQ bot in a real browser: the customer asks on the demo shop's assistant, the bot answers
with buttons, the customer asks for a person, and the agent accepts and sees the bot transcript, the
hand-off reason and suggested articles."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from tests.bot.flow import ALL_DAY, set_demo_hours
from tests.e2e.pages import Desktop, JsErrors, Widget, open_page
from tests.support import Browserish, RunningServer

pytestmark = pytest.mark.e2e

AGENT_EMAIL = "tanaka@demo.madoguchi.test"
CUSTOMER = "青木 さくら"


async def test_bot_answers_and_hands_off_to_an_agent(live_server: RunningServer, browser: Browser,
                                                     js_errors: JsErrors) -> None:
    base = live_server.base_url
    admin = await Browserish(base).login("admin@demo.madoguchi.test")
    await set_demo_hours(admin, ALL_DAY)  # the hand-off must not depend on the time the test runs
    await admin.close()

    desk = Desktop(await open_page(browser, js_errors, "agent", locale="ja-JP"))
    await desk.log_in(base, AGENT_EMAIL)
    await desk.go_available()

    shop = await open_page(browser, js_errors, "customer", locale="ja-JP")
    await shop.goto(base + "/demo/shop?bot=1")
    widget = Widget(shop)
    await widget.open_and_introduce(name=CUSTOMER, email="sakura.aoki@example.jp")
    await widget.send("返品の方法を教えてください")
    answer = widget.messages("bot", "14日以内")
    await expect(answer).to_have_count(1)
    await expect(answer).to_contain_text("アシスタント")
    buttons = widget.root.locator("#choices button")
    await expect(buttons).to_have_text(["はい", "いいえ"])
    await expect(desk.offers).to_have_count(0)  # the bot handles it: no agent is bothered yet

    await widget.send("オペレーターと話したい")
    await expect(buttons).to_have_count(0)
    await expect(widget.messages("bot", "担当者におつなぎします")).to_have_count(1)
    await expect(widget.status).to_have_text(re.compile("番目|担当者が対応します"))

    offer = desk.offers.filter(has_text=CUSTOMER)
    await expect(offer).to_have_count(1)
    await offer.locator("button.accept").click()
    await expect(desk.title).to_have_text(re.compile(rf"^#\d+ {CUSTOMER}$"))
    bot_lines = desk.page.locator("#messages li.msg.bot")
    await expect(bot_lines).to_have_count(3)
    await expect(bot_lines.first).to_contain_text("ボット")
    await expect(desk.messages.filter(has_text="返品の方法を教えてください")).to_have_count(1)
    await expect(desk.messages.filter(has_text="オペレーターと話したい")).to_have_count(1)
    await expect(desk.page.locator("#bot-card")).to_be_visible()
    await expect(desk.page.locator("#bot-summary")).to_contain_text("お客様がオペレーターを希望")
    await expect(widget.messages("system", "田中 太郎 が会話に参加しました")).to_have_count(1)

    # Agent assist: the suggested article goes into the reply box, and out to the customer.
    suggestion = desk.page.locator("#suggestions li.suggestion").first
    await expect(suggestion).to_contain_text("返品の方法を教えてください")
    await suggestion.locator("button.insert").click()
    await expect(desk.reply).to_have_value(re.compile("^商品到着後14日以内"))
    await desk.page.locator("#send").click()
    await expect(widget.messages("agent", "商品到着後14日以内")).to_have_count(1)
    await expect(desk.error).to_be_empty()
    js_errors.assert_none()
