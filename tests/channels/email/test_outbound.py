"""Agent replies leave through the durable outbox to a real SMTP server (the sink): threading
headers as a mail client reads them, CC/BCC, attachments, retries, and a final failure the agent sees."""

from __future__ import annotations

import base64
import email.utils
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from madoguchi.channels.email.models import EmailOutbox
from madoguchi.contacts.models import ContactEvent
from tests.api.flow import agent_on_duty
from tests.channels.email.support import Captured, SmtpSink, compose, eventually, processed, send
from tests.conftest import ServerFactory
from tests.support import Browserish, RunningServer, Socket


async def _take_email(server: RunningServer, agent: Browserish, socket: Socket, contact_id: int) -> None:
    offer = await socket.event("offer.created", contact_id=contact_id)
    assert offer["data"]["channel_kind"] == "email"
    await agent.call("POST", f"/api/v1/offers/{offer['data']['offer_id']}/accept", expect=200)


async def _incoming(server: RunningServer, **fields: Any) -> tuple[Any, int]:
    msg = compose(**fields)
    await send(server, msg)
    rows = await processed(server, 1)
    assert rows[-1].contact_id is not None
    return msg, rows[-1].contact_id


def _ids(value: str | None) -> list[str]:
    return [v.strip("<>") for v in (value or "").split()]


async def test_reply_threads_with_cc_bcc_attachment_and_counts_first_response(
        mail_server: RunningServer, sink: SmtpSink, clients: Callable[[], Browserish]) -> None:
    agent = clients()
    socket = await agent_on_duty(mail_server, agent, "tanaka@demo.madoguchi.test")
    first, contact_id = await _incoming(mail_server, subject="返品について", body="返品したいです。",
                                        References="<older@example.jp>")
    [ack] = await sink.wait(1)
    assert ack.message["Auto-Submitted"] == "auto-replied"
    await _take_email(mail_server, agent, socket, contact_id)

    templates = await agent.call("GET", "/api/v1/email/templates?language=ja", expect=200)
    thanks = next(t for t in templates if t["name"] == "thanks")
    rendered = await agent.call("POST", f"/api/v1/contacts/{contact_id}/email/render", expect=200,
                                json={"template_id": thanks["id"]})
    assert "Aiko Sato 様" in rendered["body"] and "田中 太郎" in rendered["body"]

    reply = await agent.call("POST", f"/api/v1/contacts/{contact_id}/email/replies", expect=201, json={
        "body_text": rendered["body"] + "返品フォームをお送りします。",
        "body_html": "<p>返品<b>フォーム</b><script>x()</script></p>",
        "cc": ["boss@example.jp"], "bcc": ["audit@demo.madoguchi.test"],
        "attachments": [{"filename": "form.pdf", "content_type": "application/pdf",
                         "data_base64": base64.b64encode(b"%PDF-1.4 demo").decode()}]})
    assert reply["direction"] == "outbound" and reply["delivery_status"] == "pending"
    await socket.event("message.created", contact_id=contact_id, author_kind="agent")

    delivered: Captured = (await sink.wait(2))[1]
    mail = delivered.message
    assert sorted(delivered.rcpt_to) == ["aiko@example.jp", "audit@demo.madoguchi.test", "boss@example.jp"]
    assert mail["Bcc"] is None                                           # envelope only
    assert mail["In-Reply-To"].strip("<>") == first["Message-ID"].strip("<>")
    assert _ids(mail["References"]) == ["older@example.jp", first["Message-ID"].strip("<>")]
    async with mail_server.ctx.db.read() as session:
        case_id = (await session.scalar(select(ContactEvent).where(ContactEvent.contact_id == contact_id)))
    assert mail["Subject"].startswith("Re: 返品について [#")
    assert str(mail["From"]).endswith("<support@demo.madoguchi.test>")
    assert str(mail["Reply-To"]).split("<")[1].startswith("reply+")
    assert mail["Message-ID"].strip("<>") == reply["message_id"]
    assert email.utils.parseaddr(str(mail["To"]))[1] == "aiko@example.jp"
    html = mail.get_body(("html",)).get_content()
    assert "<b>フォーム</b>" in html and "script" not in html
    [pdf] = list(mail.iter_attachments())
    assert (pdf.get_filename(), pdf.get_content()) == ("form.pdf", b"%PDF-1.4 demo")
    assert case_id is not None

    # The customer answers the reply in a real client: it threads into the same contact.
    await send(mail_server, compose(subject=str(mail["Subject"]), body="ありがとうございます",
                                    In_Reply_To=mail["Message-ID"],
                                    References=f"{mail['References']} {mail['Message-ID']}"))
    rows = await processed(mail_server, 2)
    assert rows[-1].contact_id == contact_id

    async def sent() -> bool:
        thread = await agent.call("GET", f"/api/v1/contacts/{contact_id}/email", expect=200)
        return any(e["id"] == reply["id"] and e["delivery_status"] == "sent" for e in thread["emails"])

    await eventually(sent, what="the reply marked sent")
    async with mail_server.ctx.db.read() as session:
        first_response = await session.scalar(select(ContactEvent).where(
            ContactEvent.contact_id == contact_id, ContactEvent.type == "first_response"))
    assert first_response is not None and first_response.data["met"] is True


async def test_temporary_failures_are_retried_and_a_permanent_one_is_shown(
        make_server: ServerFactory, sink: SmtpSink) -> None:
    server = await make_server(smtp_port=0, smtp_relay_host="127.0.0.1", smtp_relay_port=sink.port,
                               email_retry_base_s=0.1, email_max_attempts=3)
    agent = Browserish(server.base_url)
    try:
        await _retries_and_failures(server, sink, agent)
    finally:
        await agent.close()


async def _retries_and_failures(server: RunningServer, sink: SmtpSink, agent: Browserish) -> None:
    socket = await agent_on_duty(server, agent, "tanaka@demo.madoguchi.test")
    sink.refuse = ["451 4.3.0 busy"]                   # the acknowledgement is refused once
    _, contact_id = await _incoming(server, body="help")
    await sink.wait(1)
    await _take_email(server, agent, socket, contact_id)

    sink.refuse = ["550 5.1.1 no such user"]
    reply = await agent.call("POST", f"/api/v1/contacts/{contact_id}/email/replies", expect=201,
                             json={"body_text": "Hello"})
    failed = await socket.event("email.delivery_changed", email_message_id=reply["id"], status="failed")
    assert "550" in failed["data"]["error"]
    await socket.event("message.created", contact_id=contact_id, body="email.send_failed")
    async with server.ctx.db.read() as session:
        rows = {r.kind: r for r in (await session.scalars(select(EmailOutbox))).all()}
    assert (rows["auto_ack"].status, rows["auto_ack"].attempts) == ("sent", 2)
    assert (rows["reply"].status, rows["reply"].attempts) == ("failed", 1)

    # Without a relay answering at all, attempts run out: failed, not lost.
    await sink.stop()
    again = await agent.call("POST", f"/api/v1/contacts/{contact_id}/email/replies", expect=201,
                             json={"body_text": "Hello again"})
    gone = await socket.event("email.delivery_changed", email_message_id=again["id"], status="failed")
    assert gone["data"]["error"]


async def test_only_the_handling_agent_replies(mail_server: RunningServer, clients: Callable[[], Browserish]) -> None:
    _, contact_id = await _incoming(mail_server, body="hello")
    other = await clients().login("supervisor@demo.madoguchi.test")
    await other.call("POST", f"/api/v1/contacts/{contact_id}/email/replies", expect=403,
                     json={"body_text": "not mine"})
    await other.call("POST", f"/api/v1/contacts/{contact_id}/email/replies", expect=422,
                     json={"body_text": "x", "cc": ["not an address"]})
