"""The email channel end to end in a real browser: a customer's email arrives over SMTP at the app's
listener, an agent takes it on the desktop, reads it (its HTML defanged), answers with a canned
response, and the reply leaves through the outbox to a real SMTP server, threaded to the customer's mail."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, expect

from madoguchi.settings import Settings
from tests.channels.email.support import SmtpSink, compose, processed, send
from tests.e2e.pages import Desktop, JsErrors, open_page
from tests.support import RunningServer, start_server

pytestmark = pytest.mark.e2e

AGENT_EMAIL = "tanaka@demo.madoguchi.test"
AGENT_NAME = "田中 太郎"
CUSTOMER_NAME = "佐藤 愛子"
CUSTOMER_ADDRESS = "aiko.sato@example.jp"
SUBJECT = "割れた湯呑みについて"
BODY_TEXT = "届いた湯呑みが割れていました。交換をお願いできますか？"
# Both ways the HTML of a mail could run code in the agent's page: a script element and an event
# handler on an image that is sure to fail. Each would set a flag on the desktop's window.
HOSTILE_HTML = (f"<p>{BODY_TEXT}</p><script>parent.window.__emailXss = 'script';</script>"
                "<img src=\"x\" onerror=\"parent.window.__emailXss = 'onerror'\">")


@pytest.fixture
async def sink() -> AsyncIterator[SmtpSink]:
    running = await SmtpSink().start()
    yield running
    await running.stop()


@pytest.fixture
async def mail_live_server(sqlite_url: str, sink: SmtpSink) -> AsyncIterator[RunningServer]:
    """The whole app with its SMTP listener on a free port and the sink as its outbound relay."""
    running = await start_server(Settings(database_url=sqlite_url, redis_url=None, smtp_port=0,
                                          smtp_relay_host="127.0.0.1", smtp_relay_port=sink.port,
                                          email_retry_base_s=0.2))
    try:
        yield running
    finally:
        await running.stop()


def _ids(value: object) -> list[str]:
    return [v.strip("<>") for v in str(value or "").split()]


async def test_agent_reads_and_answers_an_email_in_the_browser(mail_live_server: RunningServer, sink: SmtpSink,
                                                               browser: Browser, js_errors: JsErrors) -> None:
    server = mail_live_server
    desk = Desktop(await open_page(browser, js_errors, "agent", locale="ja-JP"))
    await desk.log_in(server.base_url, AGENT_EMAIL)
    await desk.go_available()

    customer_mail = compose(sender=f"{CUSTOMER_NAME} <{CUSTOMER_ADDRESS}>", subject=SUBJECT, body=BODY_TEXT,
                            References="<earlier-order@shop.example.jp>")
    customer_mail.add_alternative(HOSTILE_HTML, subtype="html")
    await send(server, customer_mail, mail_from=CUSTOMER_ADDRESS)
    [inbound] = await processed(server)
    assert inbound.status == "processed"

    offer = desk.offers.filter(has_text=CUSTOMER_NAME)
    await expect(offer).to_have_count(1)
    await expect(offer).to_contain_text("メール")
    await offer.locator("button.accept").click()
    await expect(desk.offers).to_have_count(0)
    await expect(desk.title).to_have_text(re.compile(rf"^#{inbound.contact_id} "))

    # The email is shown: its subject in the header, its (sanitized) HTML in the sandboxed frame.
    panel = desk.page.locator("#email-panel")
    await expect(panel).to_be_visible()
    received = panel.locator("li.email-item.inbound")
    await expect(received).to_have_count(1)
    await expect(received.locator(".email-subject")).to_contain_text(SUBJECT)
    await expect(received.locator("header")).to_contain_text(CUSTOMER_ADDRESS)
    frame = received.frame_locator("iframe")
    await expect(frame.locator("body")).to_contain_text(BODY_TEXT)
    await expect(frame.locator("script")).to_have_count(0)
    await expect(frame.locator("[onerror]")).to_have_count(0)
    assert await desk.page.evaluate("() => window.__emailXss === undefined")
    # In an email contact the chat composer only writes internal notes.
    await expect(desk.page.locator('#composer input[name="kind"][value="note"]')).to_be_checked()

    # A canned response, filled in by the server with the customer's and the agent's names.
    reply_form = panel.locator("#email-reply")
    await expect(reply_form).to_be_visible()
    await expect(panel.locator("#email-to")).to_have_value(CUSTOMER_ADDRESS)
    # The subject is left to the server's default, shown but not entered.
    await expect(panel.locator("#email-subject")).to_have_value("")
    await expect(panel.locator("#email-subject")).to_have_attribute("placeholder", f"Re: {SUBJECT}")
    await panel.locator("#email-template").select_option(label="thanks (ja)")
    await panel.locator("#email-insert").click()
    editor = panel.locator("#email-body")
    await expect(editor).to_contain_text(f"{CUSTOMER_NAME} 様")
    await expect(editor).to_contain_text(AGENT_NAME)
    written = await editor.inner_text()
    await panel.locator("#email-send").click()
    await expect(panel.locator("#email-notice")).to_have_text("送信キューに入れました。")
    await expect(panel.locator("#email-error")).to_be_empty()
    # The entry point acknowledged the mail too; both outbound emails end up sent, as the delivery
    # worker reports back to the desktop.
    outbound = panel.locator("li.email-item.outbound")
    await expect(outbound).to_have_count(2)
    await expect(outbound.filter(has=desk.page.locator(".email-badge.sent"))).to_have_count(2)
    # The editor's rich text went as HTML too, so the reply shows in a frame like the customer's mail.
    await expect(outbound.last.frame_locator("iframe").locator("body")).to_contain_text(f"{CUSTOMER_NAME} 様")

    # What the relay got: the agent's text, to the customer, threaded to the customer's mail.
    delivered = [c for c in await sink.wait(2) if c.message["Auto-Submitted"] is None]
    assert len(delivered) == 1, [c.message["Subject"] for c in sink.received]
    mail = delivered[0].message
    assert delivered[0].rcpt_to == [CUSTOMER_ADDRESS]
    assert mail["In-Reply-To"].strip("<>") == customer_mail["Message-ID"].strip("<>")
    assert _ids(mail["References"]) == ["earlier-order@shop.example.jp", customer_mail["Message-ID"].strip("<>")]
    assert re.fullmatch(rf"Re: {SUBJECT} \[#\d+\]", str(mail["Subject"])), mail["Subject"]
    text = mail.get_body(("plain",)).get_content()
    assert f"{CUSTOMER_NAME} 様" in text and AGENT_NAME in text
    assert written.strip().splitlines()[0] in text

    # The image of the hostile HTML may be fetched (this server's images are allowed); only that fails.
    js_errors.assert_none(allow_http={(404, "/x")})
