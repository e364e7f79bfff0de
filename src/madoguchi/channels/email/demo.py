"""Demo data for email: support@demo.madoguchi.test into Support, canned responses in Japanese and
English, and one finished email thread in a demo customer's history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from madoguchi.channels.actions import do_create_entry_point
from madoguchi.channels.email.directory import KIND
from madoguchi.channels.email.models import EmailMessage, EmailTemplate, EmailThread
from madoguchi.channels.email.threading import new_token, reply_subject
from madoguchi.channels.schemas import EntryPointCreate
from madoguchi.contacts.models import Case, Contact, ContactEvent, Message
from madoguchi.customers.models import Identity
from madoguchi.db.uow import UnitOfWork
from madoguchi.identity.models import User
from madoguchi.routing.models import Queue

DEMO_ADDRESS = "support@demo.madoguchi.test"

TEMPLATES = [
    ("auto_ack", "ja", "お問い合わせを受け付けました",
     "{customer_name} 様\n\nお問い合わせいただきありがとうございます。受付番号は {case_number} です。\n"
     "担当者より順次ご連絡いたします。このメールにそのまま返信いただくと、同じお問い合わせに追記されます。\n\n"
     "{entry_point}"),
    ("auto_ack", "en", "We have received your message",
     "Dear {customer_name},\n\nThank you for contacting us. Your case number is {case_number}.\n"
     "We will get back to you soon. Reply to this email to add to the same case.\n\n{entry_point}"),
    ("thanks", "ja", None,
     "{customer_name} 様\n\nお問い合わせありがとうございます。担当の{agent_name}です。\n\n\n\n"
     "今後ともよろしくお願いいたします。\n{entry_point}"),
    ("thanks", "en", None,
     "Dear {customer_name},\n\nThank you for your message. This is {agent_name}.\n\n\n\n"
     "Kind regards,\n{entry_point}"),
    ("shipping_delay", "ja", None,
     "{customer_name} 様\n\nご注文の商品の発送が遅れており、大変申し訳ございません。"
     "発送準備が整い次第、追跡番号をお知らせいたします（受付番号 {case_number}）。\n\n{agent_name}"),
    ("shipping_delay", "en", None,
     "Dear {customer_name},\n\nWe are sorry that your order has been delayed. We will send you the tracking "
     "number as soon as it ships (case {case_number}).\n\n{agent_name}"),
]


async def seed_demo(uow: UnitOfWork, *, queues: dict[str, Queue], users: dict[str, User]) -> None:
    support = queues["Support"]
    ep = await do_create_entry_point(uow, actor=None, data=EntryPointCreate(
        name="Demo shop support", channel_kind=KIND, queue_id=support.id,
        settings={"address": DEMO_ADDRESS, "from_name": "デモショップ サポート / Demo shop support",
                  "auto_ack": True, "auto_ack_template": "auto_ack", "block_list": ["@spam.example"]}))
    now = uow.clock.now()
    for name, language, subject, body in TEMPLATES:
        uow.session.add(EmailTemplate(name=name, language=language, subject=subject, body=body, active=True,
                                      created_at=now))
    identity = await uow.session.scalar(select(Identity).where(Identity.kind == "email",
                                                               Identity.address == "hanako.yamada@example.jp"))
    agent = users.get("tanaka@demo.madoguchi.test")
    if identity is None or agent is None:
        return
    await _history(uow, ep_id=ep.id, customer_id=identity.customer_id, agent=agent, queue=support, now=now)


async def _history(uow: UnitOfWork, *, ep_id: int, customer_id: int, agent: User, queue: Queue, now: Any) -> None:
    start = now - timedelta(days=5)
    subject = "領収書の再発行について"
    case = Case(customer_id=customer_id, subject=subject, status="resolved", priority=0, created_at=start,
                resolved_at=start + timedelta(hours=3))
    uow.session.add(case)
    await uow.session.flush()
    contact = Contact(customer_id=customer_id, case_id=case.id, channel_kind=KIND, direction="inbound",
                      entry_point_id=ep_id, queue_id=queue.id, agent_id=agent.id, state="closed", priority=0,
                      subject=subject, created_at=start, enqueued_at=start, accepted_at=start + timedelta(hours=1),
                      ended_at=start + timedelta(hours=2), wrapped_up_at=start + timedelta(hours=2, minutes=5),
                      ended_by="agent")
    uow.session.add(contact)
    await uow.session.flush()
    times = {"arrived": start, "queued": start, "offered": start + timedelta(minutes=50),
             "accepted": start + timedelta(hours=1), "first_response": start + timedelta(hours=1, minutes=10),
             "ended": start + timedelta(hours=2), "wrapped_up": start + timedelta(hours=2, minutes=5)}
    for kind, at in times.items():
        uow.session.add(ContactEvent(contact_id=contact.id, type=kind, at=at, queue_id=queue.id,
                                     agent_id=None if kind in ("arrived", "queued") else agent.id, data={}))
    uow.session.add(EmailThread(contact_id=contact.id, entry_point_id=ep_id, reply_token=new_token(),
                                first_response_due_at=start + timedelta(hours=4),
                                first_responded_at=times["first_response"]))
    asked = "先月の注文の領収書を再発行していただけますか。宛名は「山田商店」でお願いします。"
    answered = "山田様\n\n領収書を再発行し、添付にてお送りしました。ご確認ください。\n\n田中"
    lines = [("inbound", asked, start, "hanako.yamada@example.jp", "山田 花子", "customer", None),
             ("outbound", answered, times["first_response"], DEMO_ADDRESS, "Demo shop support", "agent", agent.id)]
    parent: str | None = None
    for direction, text, at, sender, name, author_kind, author_id in lines:
        message = Message(contact_id=contact.id, kind="text", author_kind=author_kind, author_user_id=author_id,
                          body=text, created_at=at)
        uow.session.add(message)
        await uow.session.flush()
        message_id = f"demo-{case.id}-{direction}@demo.madoguchi.test"
        uow.session.add(EmailMessage(
            contact_id=contact.id, message_row_id=message.id, entry_point_id=ep_id, direction=direction,
            message_id=message_id, dedupe_key=message_id, in_reply_to=parent, references=[parent] if parent else [],
            subject=subject if direction == "inbound" else reply_subject(subject, case.id), from_addr=sender,
            from_name=name, to_addrs=[DEMO_ADDRESS if direction == "inbound" else "hanako.yamada@example.jp"],
            cc_addrs=[], bcc_addrs=[], reply_to=None, sent_date=at, text_body=text, html_body=None, charset="utf-8",
            auto_kind=None, defects=[], parse_error=None, author_user_id=author_id, created_at=at))
        parent = message_id
