"""The report page, the wallboard and the widget's survey in a real browser: numbers, charts,
drill-down and language on the report page; the wallboard following the floor over its WebSocket;
the customer rating a chat once it ended."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import quote

import pytest
from playwright.async_api import Browser, Page, expect

from madoguchi.demo import DEMO_PASSWORD
from madoguchi.kernel.events import SUPERVISORS, Envelope
from tests.e2e.pages import JsErrors, Widget, open_page
from tests.reports.scenario import advance, create_base
from tests.support import Browserish, RunningServer

pytestmark = pytest.mark.e2e


async def log_in(page: Page, base: str, email: str, then: str) -> None:
    await page.goto(base + "/login?next=" + quote(then, safe="/"))
    await page.locator("#email").fill(email)
    await page.locator("#password").fill(DEMO_PASSWORD)
    await page.locator("#login-submit").click()
    await expect(page).to_have_url(re.compile(re.escape(base + then.split("?")[0])))


async def test_report_page_numbers_charts_and_drill_down(live_server: RunningServer, browser: Browser,
                                                         js_errors: JsErrors) -> None:
    async with live_server.ctx.db.uow() as uow:
        built = await create_base(uow.session)
        await advance(uow.session, built, 10**7)
    await live_server.ctx.bus.publish(Envelope(id=None, type="report.definition_changed", data={},
                                               audience=(SUPERVISORS,)))
    base = live_server.base_url
    page = await open_page(browser, js_errors, "manager", locale="en-GB")
    query = f"?kind=queues&start=2026-03-02&end=2026-03-02&interval=30m&queue_id={built.queues['A']}"
    await log_in(page, base, "manager@demo.madoguchi.test", "/reports" + query)
    table = page.locator("#report")
    row = table.locator("tbody tr", has_text="FixA").first
    await expect(row).to_contain_text("60.0%")       # service level 3 ÷ 5
    await expect(row).to_contain_text("212.5")       # AHT
    await expect(page.locator("#definitions")).to_contain_text("answered within 20 s")
    charts = page.locator("#charts img")
    await expect(charts).to_have_count(4)
    for i in range(4):
        await expect(charts.nth(i)).to_have_js_property("complete", True)
        assert await charts.nth(i).evaluate("img => img.naturalWidth") > 0

    # A number opens the contacts behind it: three abandons in queue A at 10:00.
    header = await table.locator("thead th").all_text_contents()
    abandoned = header.index("Abandoned")
    await row.locator("td").nth(abandoned).locator("a.drill").click()
    drill = page.locator("#drill")
    await expect(drill).to_be_visible()
    await expect(drill.locator("tbody tr")).to_have_count(3)
    await expect(page.locator("#drill-count")).to_have_text("3 of 3 shown")
    await page.locator("#drill-close").click()
    assert (await page.locator("#export").get_attribute("href") or "").startswith("/api/v1/reports/queues.csv?")

    # Japanese labels.
    await page.goto(base + "/reports" + query + "&lang=ja")
    await expect(page.locator("#report thead")).to_contain_text("サービスレベル")
    await expect(page.locator("#definitions")).to_contain_text("20 秒以内の応答")
    js_errors.assert_none()


async def test_wallboard_and_the_customer_survey(live_server: RunningServer, browser: Browser,
                                                 js_errors: JsErrors) -> None:
    base = live_server.base_url
    board = await open_page(browser, js_errors, "supervisor", locale="en-GB")
    await log_in(board, base, "supervisor@demo.madoguchi.test", "/supervisor")
    support = board.locator('#queue-tiles article[data-queue-id]:has(h3:text-is("Support"))')
    await expect(support.locator(".offered")).to_have_text("0")

    agent = Browserish(base)
    try:
        await agent.login("tanaka@demo.madoguchi.test")
        await agent.call("PUT", "/api/v1/agents/me/state", expect=200, json={"state": "available"})
        row = board.locator(f'#agents tr[data-agent-id="{agent.id}"]')
        await expect(row).to_contain_text("Available")

        shop = await open_page(browser, js_errors, "customer", locale="en-GB")
        await shop.goto(base + "/demo/shop")
        widget = Widget(shop)
        await widget.open_and_introduce(name="Rate Me", email="rate.me@example.com")
        await widget.send("Hello there")
        await expect(support.locator(".offered")).to_have_text("1")
        offers = await agent.call("GET", "/api/v1/offers", expect=200)
        for _ in range(100):
            if offers:
                break
            await asyncio.sleep(0.05)
            offers = await agent.call("GET", "/api/v1/offers", expect=200)
        contact = await agent.call("POST", f"/api/v1/offers/{offers[0]['id']}/accept", expect=200)
        await expect(row).to_contain_text("Busy")
        await expect(row.locator("a.open-contact")).to_have_text(f"#{contact['id']}")

        # The supervisor opens the live contact.
        await row.locator("a.open-contact").click()
        await expect(board.locator("#contact-messages")).to_contain_text("Hello there")
        await board.locator("#contact-close").click()

        await agent.call("POST", f"/api/v1/contacts/{contact['id']}/end", expect=200)
        survey = widget.root.locator("#csat")
        await expect(survey).to_be_visible()
        await survey.locator('button.score[data-score="4"]').click()
        await expect(survey).to_have_text("Thank you for your feedback!")
        events = await agent.call("GET", f"/api/v1/contacts/{contact['id']}/events", expect=200)
        assert [e["data"]["score"] for e in events if e["type"] == "csat"] == [4]

        # The supervisor puts the agent on a break from the wallboard.
        await row.locator("select.set-state").select_option("break:lunch")
        await expect(row).to_contain_text("Break · Lunch")
        js_errors.assert_none()
    finally:
        await agent.close()
