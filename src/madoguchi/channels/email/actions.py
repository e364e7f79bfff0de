"""Email writes from people: agent replies, the auto-acknowledgement, templates, IMAP mailboxes,
per-queue first-response targets."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from madoguchi.channels.email import sla
from madoguchi.channels.email.directory import KIND, EmailEntryPoint, email_entry_point
from madoguchi.channels.email.models import EmailMailbox, EmailMessage, EmailQueueSla, EmailTemplate, EmailThread
from madoguchi.channels.email.outbound import Outgoing, OutgoingAttachment, thread_references
from madoguchi.channels.email.outbox import do_queue_email
from madoguchi.channels.email.schemas import ImapIn, ReplyIn, TemplateCreate
from madoguchi.channels.email.templates import find_template, render_template
from madoguchi.channels.email.threading import base_subject, case_tag, reply_subject
from madoguchi.channels.models import EntryPoint
from madoguchi.contacts.actions import do_add_message, get_contact, record_event
from madoguchi.contacts.models import Contact
from madoguchi.contacts.states import HANDLING_STATES
from madoguchi.customers.models import Customer
from madoguchi.db.uow import UnitOfWork
from madoguchi.identity.audit import do_audit
from madoguchi.identity.models import User
from madoguchi.kernel.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from madoguchi.routing.models import Queue
from madoguchi.routing.policy import hours_of

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


async def entry_point_of(uow: UnitOfWork, contact: Contact) -> EmailEntryPoint:
    row = await uow.session.get(EntryPoint, contact.entry_point_id) if contact.entry_point_id else None
    ep = email_entry_point(row) if row is not None else None
    if ep is None:
        raise Conflict("this contact's email entry point is missing or has no valid address")
    return ep


async def last_inbound(uow: UnitOfWork, contact: Contact) -> EmailMessage | None:
    """The newest inbound email of the contact's case: what a reply answers."""
    stmt = (select(EmailMessage).join(Contact, Contact.id == EmailMessage.contact_id)
            .where(Contact.case_id == contact.case_id, EmailMessage.direction == "inbound")
            .order_by(EmailMessage.id.desc()).limit(1))
    found: EmailMessage | None = await uow.session.scalar(stmt)
    return found


def _attachments(data: ReplyIn) -> list[OutgoingAttachment]:
    files = []
    total = 0
    for item in data.attachments:
        try:
            content = base64.b64decode(item.data_base64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(f"attachment {item.filename!r} is not base64", field="attachments") from None
        total += len(content)
        if total > MAX_ATTACHMENT_BYTES:
            raise InvalidInput("attachments may total at most 10 MB", field="attachments")
        files.append(OutgoingAttachment(filename=item.filename.replace("/", "_").replace("\\", "_"),
                                        content_type=item.content_type, data=content))
    return files


async def _note_first_response(uow: UnitOfWork, *, contact: Contact, thread: EmailThread, timezone: str,
                               agent: User) -> None:
    if thread.first_responded_at is not None:
        return
    now = uow.clock.now()
    thread.first_responded_at = now
    queue = await uow.session.get(Queue, contact.queue_id) if contact.queue_id else None
    business = sla.business_seconds(contact.created_at, now, hours_of(queue) if queue else None, ZoneInfo(timezone))
    due = thread.first_response_due_at
    record_event(uow, contact, "first_response", agent_id=agent.id, business_s=round(business, 3),
                 due_at=due.isoformat() if due else None, met=due is None or now <= due)


async def check_reply(uow: UnitOfWork, *, actor: User, contact_id: int, data: ReplyIn, timezone: str) -> EmailMessage:
    contact = await get_contact(uow, contact_id)
    if contact.agent_id != actor.id:
        raise PermissionDenied("you are not handling this contact")
    if contact.channel_kind != KIND:
        raise Conflict("this contact is not an email", channel_kind=contact.channel_kind)
    if contact.state not in HANDLING_STATES:
        raise Conflict("this contact is not active", state=contact.state)
    ep = await entry_point_of(uow, contact)
    thread = await uow.session.get(EmailThread, contact.id)
    if thread is None:
        raise Conflict("this email contact has no thread")
    parent = await last_inbound(uow, contact)
    to = data.to or ([parent.reply_to or parent.from_addr] if parent and (parent.reply_to or parent.from_addr)
                     else [])
    if not to:
        raise InvalidInput("this email has no sender to reply to; give the address in 'to'", field="to")
    subject = reply_subject(data.subject or (parent.subject if parent else contact.subject or ""), contact.case_id)
    if data.subject and case_tag(contact.case_id) not in data.subject:
        subject = f"{base_subject(data.subject)} {case_tag(contact.case_id)}"
    timeline = await do_add_message(uow, contact=contact, kind="text", author_kind="agent", body=data.body_text,
                                    author=actor)
    out = Outgoing(from_addr=ep.settings.address, from_name=ep.settings.from_name or ep.name, to=to, cc=data.cc,
                   bcc=data.bcc, reply_to=ep.reply_address(thread.reply_token), subject=subject, text=data.body_text,
                   html=data.body_html, domain=ep.settings.domain, date=uow.clock.now(),
                   in_reply_to=parent.message_id if parent else None,
                   references=thread_references(parent.references, parent.message_id) if parent else [],
                   attachments=_attachments(data))
    email = await do_queue_email(uow, contact=contact, ep=ep, out=out, kind="reply", author=actor,
                                 timeline=timeline)
    await _note_first_response(uow, contact=contact, thread=thread, timezone=timezone, agent=actor)
    return email


async def variables_for(uow: UnitOfWork, *, contact: Contact, agent_name: str | None) -> dict[str, str]:
    customer = await uow.session.get(Customer, contact.customer_id)
    ep_row = await uow.session.get(EntryPoint, contact.entry_point_id) if contact.entry_point_id else None
    return {"customer_name": (customer.display_name or customer.email or "") if customer else "",
            "case_number": str(contact.case_id), "agent_name": agent_name or "",
            "subject": base_subject(contact.subject or ""), "entry_point": ep_row.name if ep_row else ""}


@dataclass(frozen=True)
class AckFacts:
    """What an acknowledgement is made of, from the new contact, its customer and the email it answers."""

    case_id: int
    contact_subject: str | None
    customer_name: str
    reply_token: str
    to: str
    subject: str
    message_id: str | None
    references: list[str]


def acknowledgement(*, ep: EmailEntryPoint, template: EmailTemplate, facts: AckFacts, now: datetime) -> Outgoing:
    """The auto-acknowledgement as an outgoing message (pure; the ORM path and the batch writer share it)."""
    variables = {"customer_name": facts.customer_name, "case_number": str(facts.case_id), "agent_name": "",
                 "subject": base_subject(facts.contact_subject or ""), "entry_point": ep.name}
    rendered = render_template(template, variables)
    return Outgoing(from_addr=ep.settings.address, from_name=ep.settings.from_name or ep.name, to=[facts.to],
                    reply_to=ep.reply_address(facts.reply_token),
                    subject=reply_subject(rendered.subject or facts.subject, facts.case_id), text=rendered.body,
                    domain=ep.settings.domain, date=now, in_reply_to=facts.message_id,
                    references=thread_references(facts.references, facts.message_id), auto_submitted=True)


async def do_auto_ack(uow: UnitOfWork, *, contact: Contact, ep: EmailEntryPoint, inbound: EmailMessage,
                      customer: Customer | None = None, thread: EmailThread | None = None,
                      templates: dict[tuple[str, str], EmailTemplate | None] | None = None) -> None:
    """Acknowledge a new case with the entry point's template in the customer's language. The
    customer, thread and a template cache may be handed in by a batch that already holds them."""
    customer = customer or await uow.session.get(Customer, contact.customer_id)
    thread = thread or await uow.session.get(EmailThread, contact.id)
    language = (customer.language if customer else None) or "en"
    template = await cached_template(uow, name=ep.settings.auto_ack_template, language=language,
                                     cache=templates if templates is not None else {})
    if template is None or thread is None or not inbound.from_addr:
        return
    facts = AckFacts(case_id=contact.case_id, contact_subject=contact.subject,
                     customer_name=(customer.display_name or customer.email or "") if customer else "",
                     reply_token=thread.reply_token, to=inbound.reply_to or inbound.from_addr,
                     subject=inbound.subject, message_id=inbound.message_id, references=inbound.references)
    out = acknowledgement(ep=ep, template=template, facts=facts, now=uow.clock.now())
    await do_queue_email(uow, contact=contact, ep=ep, out=out, kind="auto_ack", author=None)


async def cached_template(uow: UnitOfWork, *, name: str, language: str,
                          cache: dict[tuple[str, str], EmailTemplate | None]) -> EmailTemplate | None:
    if (name, language) not in cache:
        cache[(name, language)] = await find_template(uow, name=name, language=language)
    return cache[(name, language)]


async def check_create_template(uow: UnitOfWork, *, actor: User, data: TemplateCreate) -> EmailTemplate:
    if await uow.session.scalar(select(EmailTemplate.id).where(EmailTemplate.name == data.name,
                                                               EmailTemplate.language == data.language)):
        raise Conflict(f"template {data.name} ({data.language}) exists", field="name")
    row = EmailTemplate(name=data.name, language=data.language, subject=data.subject, body=data.body, active=True,
                        created_at=uow.clock.now())
    uow.session.add(row)
    await uow.session.flush()
    do_audit(uow, actor=actor, action="email_template.created", target=f"email_template:{row.id}")
    return row


async def check_set_imap(uow: UnitOfWork, *, actor: User, entry_point_id: int, data: ImapIn) -> EmailMailbox:
    ep = await uow.session.get(EntryPoint, entry_point_id)
    if ep is None or ep.channel_kind != KIND:
        raise NotFound("email entry point", entry_point_id)
    row = await uow.session.get(EmailMailbox, entry_point_id)
    if row is None:
        row = EmailMailbox(entry_point_id=entry_point_id, last_uid=0)
        uow.session.add(row)
    elif (row.host, row.username, row.folder) != (data.host, data.username, data.folder):
        row.uidvalidity, row.last_uid = None, 0   # another mailbox: start from its beginning
    for name in ("host", "port", "security", "username", "password", "folder", "processed_folder", "enabled"):
        setattr(row, name, getattr(data, name))
    row.last_error = None
    await uow.session.flush()
    # The password never reaches the audit log.
    do_audit(uow, actor=actor, action="email_mailbox.set", target=f"entry_point:{entry_point_id}",
             host=data.host, username=data.username, folder=data.folder)
    return row


async def check_set_queue_sla(uow: UnitOfWork, *, actor: User, queue_id: int, first_response_s: int) -> EmailQueueSla:
    if await uow.session.get(Queue, queue_id) is None:
        raise NotFound("queue", queue_id)
    row = await uow.session.get(EmailQueueSla, queue_id)
    if row is None:
        row = EmailQueueSla(queue_id=queue_id, first_response_s=first_response_s)
        uow.session.add(row)
    row.first_response_s = first_response_s
    do_audit(uow, actor=actor, action="email_sla.set", target=f"queue:{queue_id}", first_response_s=first_response_s)
    return row
