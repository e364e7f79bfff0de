"""Mail in through the real SMTP listener (smtplib client): contacts, customers, attachments,
threading, refusals, duplicates, screening and the parse-failure path, on SQLite and PostgreSQL."""

from __future__ import annotations

import smtplib
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from madoguchi.channels.email.mime import parse_message
from madoguchi.channels.email.models import EmailMessage, EmailOutbox, EmailThread
from madoguchi.contacts.models import Case, Contact, ContactEvent
from madoguchi.customers.models import Identity
from tests.channels.email.support import compose, processed, send
from tests.conftest import ServerFactory
from tests.support import Browserish, RunningServer


async def _contact(server: RunningServer, contact_id: int) -> Contact:
    async with server.ctx.db.read() as session:
        contact = await session.get(Contact, contact_id)
    assert contact is not None
    return contact


async def test_email_becomes_a_queued_contact_with_body_sender_and_attachment(
        mail_server: RunningServer, clients: Callable[[], Browserish]) -> None:
    msg = compose(sender="山田 花子 <Hanako.Yamada@example.jp>", subject="領収書について",
                  body="領収書を添付しました。ご確認ください。")
    msg.add_attachment("明細,金額\nA,100\n".encode(), maintype="text", subtype="csv", filename="明細.csv")
    await send(mail_server, msg, mail_from="hanako.yamada@example.jp")
    [inbound] = await processed(mail_server)
    assert inbound.status == "processed" and inbound.source == "smtp"
    assert inbound.raw.replace(b"\r\n", b"\n") == msg.as_bytes().replace(b"\r\n", b"\n")  # the exact message

    contact = await _contact(mail_server, inbound.contact_id or 0)
    assert (contact.channel_kind, contact.state, contact.subject) == ("email", "queued", "領収書について")
    async with mail_server.ctx.db.read() as session:
        identity = await session.scalar(select(Identity).where(Identity.address == "hanako.yamada@example.jp"))
        events = list((await session.scalars(select(ContactEvent.type).where(
            ContactEvent.contact_id == contact.id).order_by(ContactEvent.id))).all())
        thread = await session.get(EmailThread, contact.id)
    assert identity is not None and identity.customer_id == contact.customer_id  # the demo customer, by address
    assert events[:2] == ["arrived", "queued"]
    assert thread is not None and thread.first_response_due_at is not None

    supervisor = await clients().login("supervisor@demo.madoguchi.test")
    detail = await supervisor.call("GET", f"/api/v1/contacts/{contact.id}", expect=200)
    assert detail["customer"]["display_name"] == "山田 花子"
    assert [m["body"] for m in detail["messages"] if m["author_kind"] == "customer"] == [
        "領収書を添付しました。ご確認ください。"]
    emails = await supervisor.call("GET", f"/api/v1/contacts/{contact.id}/email", expect=200)
    [mail] = [e for e in emails["emails"] if e["direction"] == "inbound"]
    assert (mail["from_addr"], mail["from_name"], mail["subject"]) == ("hanako.yamada@example.jp", "山田 花子",
                                                                       "領収書について")
    assert mail["text"].strip() == "領収書を添付しました。ご確認ください。"
    [attachment] = mail["attachments"]
    assert (attachment["filename"], attachment["content_type"]) == ("明細.csv", "text/csv")
    response = await supervisor.http.get(attachment["url"])
    assert response.status_code == 200 and response.content == "明細,金額\nA,100\n".encode()
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"
    raw = await supervisor.http.get(mail["raw_url"])
    assert raw.content == inbound.raw

    agent = await clients().login("emma@demo.madoguchi.test")  # no offer, not handling: sees nothing
    await agent.call("GET", f"/api/v1/contacts/{contact.id}/email", expect=404)
    await agent.call("GET", attachment["url"], expect=404)


async def test_replies_thread_by_headers_reply_address_and_case_tag(mail_server: RunningServer) -> None:
    first = compose(subject="Where is my order?", body="Order 1234 has not arrived.")
    await send(mail_server, first)
    [inbound] = await processed(mail_server)
    contact_id = inbound.contact_id

    by_header = compose(subject="Re: Where is my order?", body="Any news?", In_Reply_To=first["Message-ID"],
                        References=first["Message-ID"])
    await send(mail_server, by_header)
    async with mail_server.ctx.db.read() as session:
        thread = await session.get(EmailThread, contact_id)
        case_id = (await session.get(Contact, contact_id)).case_id  # type: ignore[union-attr]
    assert thread is not None
    reply_address = f"reply+{thread.reply_token}@demo.madoguchi.test"
    await send(mail_server, compose(to=reply_address, subject="no headers, but our address", body="Third"),
               rcpt_to=[reply_address])
    await send(mail_server, compose(subject=f"Again [#{case_id}]", body="Fourth, by the case tag"))
    rows = await processed(mail_server, 4)
    assert [r.contact_id for r in rows] == [contact_id] * 4

    async with mail_server.ctx.db.read() as session:
        count = await session.scalar(select(func.count(Contact.id)).where(Contact.case_id == case_id))
    assert count == 1


async def test_case_tag_of_another_customer_opens_a_new_case(mail_server: RunningServer) -> None:
    await send(mail_server, compose(sender="john.miller@example.com", body="mine"), mail_from="john.miller@example.com")
    [first] = await processed(mail_server)
    case_id = (await _contact(mail_server, first.contact_id or 0)).case_id
    await send(mail_server, compose(sender="mallory@example.net", subject=f"Re: [#{case_id}]", body="let me in"),
               mail_from="mallory@example.net")
    second = (await processed(mail_server, 2))[1]
    assert second.contact_id != first.contact_id
    assert (await _contact(mail_server, second.contact_id or 0)).case_id != case_id


async def test_reply_to_a_closed_contact_reopens_its_case_in_a_new_contact(mail_server: RunningServer) -> None:
    first = compose(body="first question")
    await send(mail_server, first)
    [inbound] = await processed(mail_server)
    async with mail_server.ctx.db.uow() as uow:
        contact = await uow.session.get(Contact, inbound.contact_id)
        assert contact is not None
        contact.state = "closed"   # as after wrap-up
        case = await uow.session.get(Case, contact.case_id)
        assert case is not None
        case.status = "resolved"
    await send(mail_server, compose(body="follow-up", In_Reply_To=first["Message-ID"]))
    second = (await processed(mail_server, 2))[1]
    assert second.contact_id != inbound.contact_id
    new = await _contact(mail_server, second.contact_id or 0)
    assert new.case_id == contact.case_id and new.state == "queued"
    async with mail_server.ctx.db.read() as session:
        reopened = await session.get(Case, contact.case_id)
    assert reopened is not None and reopened.status == "open"


async def test_unknown_recipient_is_refused_at_rcpt(mail_server: RunningServer) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        await send(mail_server, compose(to="nobody@demo.madoguchi.test"), rcpt_to=["nobody@demo.madoguchi.test"])
    assert refused.value.recipients["nobody@demo.madoguchi.test"][0] == 550
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        await send(mail_server, compose(to="reply+unknowntoken1@demo.madoguchi.test"),
                   rcpt_to=["reply+unknowntoken1@demo.madoguchi.test"])


async def test_unparseable_message_still_becomes_a_contact_with_the_error(
        mail_server: RunningServer, clients: Callable[[], Browserish]) -> None:
    garbage = b"\x00\xff\xfe not a header line at all\r\n\x81\x82 binary \xe3\x81\r\n"
    await send(mail_server, garbage, mail_from="broken@example.org")
    [inbound] = await processed(mail_server)
    assert inbound.status == "processed" and inbound.contact_id is not None
    supervisor = await clients().login("supervisor@demo.madoguchi.test")
    thread = await supervisor.call("GET", f"/api/v1/contacts/{inbound.contact_id}/email", expect=200)
    [mail] = [e for e in thread["emails"] if e["direction"] == "inbound"]
    assert mail["parse_error"] == "the message has no header block"
    assert mail["from_addr"] == "broken@example.org"       # from the envelope
    assert "not a header line" in mail["text"]
    assert (await supervisor.http.get(mail["raw_url"])).content == inbound.raw


async def test_same_message_id_twice_is_one_email(mail_server: RunningServer) -> None:
    msg = compose(body="sent twice by a retrying server")
    await send(mail_server, msg)
    await send(mail_server, msg)
    rows = await processed(mail_server, 2)
    assert [r.status for r in rows] == ["processed", "duplicate"]
    assert rows[0].contact_id == rows[1].contact_id
    async with mail_server.ctx.db.read() as session:
        assert await session.scalar(select(func.count(EmailMessage.id)).where(
            EmailMessage.inbound_id.is_not(None))) == 1


async def test_block_list_and_sender_rate_limit_keep_mail_without_contacts(make_server: ServerFactory) -> None:
    server = await make_server(smtp_port=0, email_sender_limit_per_hour=2)
    await send(server, compose(sender="ads@spam.example", body="buy"), mail_from="ads@spam.example")
    for n in range(3):
        await send(server, compose(sender="chatty@example.com", body=f"message {n}"), mail_from="chatty@example.com")
    rows = await processed(server, 4)
    assert [(r.status, r.reason) for r in rows] == [("suppressed", "blocked"), ("processed", None),
                                                    ("processed", None), ("suppressed", "rate_limited")]
    assert rows[0].contact_id is None and rows[3].contact_id is None


async def test_acknowledgement_once_and_an_auto_reply_to_it_gets_none(mail_server: RunningServer) -> None:
    await send(mail_server, compose(subject="Question", body="Hello, a question."))
    [inbound] = await processed(mail_server)
    async with mail_server.ctx.db.read() as session:
        acks = list((await session.scalars(select(EmailOutbox).where(EmailOutbox.kind == "auto_ack"))).all())
        ack_mail = await session.get(EmailMessage, acks[0].email_message_id)
    assert len(acks) == 1 and ack_mail is not None
    assert b"Auto-Submitted: auto-replied" in acks[0].raw

    out_of_office = compose(sender="aiko@example.jp", subject="Out of office: Re: Question",
                            body="I am away until Monday.", In_Reply_To=f"<{ack_mail.message_id}>",
                            Auto_Submitted="auto-replied")
    await send(mail_server, out_of_office)
    # An auto-reply that does not even thread (no In-Reply-To) opens a contact, but is not answered either.
    await send(mail_server, compose(sender="robot@example.org", subject="Automatic reply", body="robot",
                                    X_Autoreply="yes"), mail_from="robot@example.org")
    rows = await processed(mail_server, 3)
    assert rows[1].contact_id == inbound.contact_id
    async with mail_server.ctx.db.read() as session:
        kinds = list((await session.scalars(select(EmailMessage.auto_kind).where(
            EmailMessage.inbound_id.is_not(None)).order_by(EmailMessage.id))).all())
        assert await session.scalar(select(func.count(EmailOutbox.id)).where(EmailOutbox.kind == "auto_ack")) == 1
    assert kinds == [None, "auto_reply", "auto_reply"]


async def test_oversized_names_are_bounded_not_lost(mail_server: RunningServer,
                                                    clients: Callable[[], Browserish]) -> None:
    """A display name longer than a customer's name column and an attachment name longer than a
    file name column: the mail still becomes a contact, with the values cut and a defect noted."""
    name = "Kaito " + "Verylongsurname" * 20
    msg = compose(sender=f"{name} <kaito@example.jp>", body="see the attached file")
    msg.add_attachment(b"%PDF-1.4 tiny", maintype="application", subtype="pdf",
                       filename="invoice-" + "x" * 300 + ".pdf")
    await send(mail_server, msg, mail_from="kaito@example.jp")
    [inbound] = await processed(mail_server)
    assert inbound.status == "processed" and inbound.contact_id is not None
    supervisor = await clients().login("supervisor@demo.madoguchi.test")
    thread = await supervisor.call("GET", f"/api/v1/contacts/{inbound.contact_id}/email", expect=200)
    [mail] = [e for e in thread["emails"] if e["direction"] == "inbound"]
    assert mail["from_addr"] == "kaito@example.jp" and mail["from_name"] == name[:200]
    assert "from_nameTooLong" in mail["defects"]
    [attachment] = mail["attachments"]
    assert attachment["filename"].endswith(".pdf") and len(attachment["filename"]) == 200
    contact = await _contact(mail_server, inbound.contact_id)
    customer = await supervisor.call("GET", f"/api/v1/customers/{contact.customer_id}", expect=200)
    assert customer["display_name"] == name[:200]


def test_a_message_id_longer_than_a_header_line_is_dropped_for_the_bytes_hash() -> None:
    raw = (b"From: a@example.jp\r\nTo: support@demo.madoguchi.test\r\nSubject: hi\r\n"
           b"Message-ID: <" + b"x" * 1200 + b"@example.jp>\r\n\r\nhello\r\n")
    parsed = parse_message(raw)
    assert parsed.message_id is None and parsed.text.strip() == "hello"
