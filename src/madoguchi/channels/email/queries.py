"""Email reads: a contact's emails (for the desktop), attachments, raw messages, templates."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.interfaces import ORMOption

from madoguchi.channels.email.directory import email_entry_point
from madoguchi.channels.email.models import (
    EmailAttachment,
    EmailInbound,
    EmailMessage,
    EmailOutbox,
    EmailTemplate,
    EmailThread,
)
from madoguchi.channels.email.schemas import AttachmentOut, EmailOut, EmailThreadOut
from madoguchi.channels.models import EntryPoint
from madoguchi.contacts.models import Contact
from madoguchi.kernel.errors import NotFound

API = "/api/v1/email"


def attachment_url(attachment_id: int) -> str:
    return f"{API}/attachments/{attachment_id}"


def _inline_images(html: str, attachments: list[EmailAttachment]) -> str:
    """``cid:`` references → this server's attachment URLs. The sanitizer writes attribute values
    in double quotes, so an exact replacement cannot open a new attribute."""
    for attachment in attachments:
        if attachment.content_id:
            html = html.replace(f'src="cid:{attachment.content_id}"', f'src="{attachment_url(attachment.id)}"')
    return html


async def thread_of(session: AsyncSession, contact: Contact) -> EmailThreadOut:
    """Every email of the contact's case (earlier contacts of the same case too), oldest first."""
    rows = list((await session.scalars(
        select(EmailMessage).join(Contact, Contact.id == EmailMessage.contact_id)
        .where(Contact.case_id == contact.case_id).order_by(EmailMessage.id))).all())
    ids = [r.id for r in rows]
    attachments: dict[int, list[EmailAttachment]] = {}
    outbox: dict[int, EmailOutbox] = {}
    raw_ids: set[int] = set()
    if ids:
        for attachment in await session.scalars(select(EmailAttachment).where(
                EmailAttachment.email_message_id.in_(ids)).order_by(EmailAttachment.id)):
            attachments.setdefault(attachment.email_message_id, []).append(attachment)
        for item in await session.scalars(select(EmailOutbox).where(EmailOutbox.email_message_id.in_(ids))):
            outbox[item.email_message_id] = item
        raw_ids = {r.id for r in rows if r.inbound_id is not None}
    emails = []
    for row in rows:
        parts = attachments.get(row.id, [])
        sending = outbox.get(row.id)
        emails.append(EmailOut(
            id=row.id, contact_id=row.contact_id, message_row_id=row.message_row_id, direction=row.direction,
            message_id=row.message_id, in_reply_to=row.in_reply_to, references=row.references, subject=row.subject,
            from_addr=row.from_addr, from_name=row.from_name, to=row.to_addrs, cc=row.cc_addrs, bcc=row.bcc_addrs,
            reply_to=row.reply_to, sent_date=row.sent_date, text=row.text_body,
            html=_inline_images(row.html_body, parts) if row.html_body else None, charset=row.charset,
            auto_kind=row.auto_kind, defects=row.defects, parse_error=row.parse_error,
            author_user_id=row.author_user_id, created_at=row.created_at,
            delivery_status=sending.status if sending else None, delivery_error=sending.last_error if sending else None,
            raw_url=f"{API}/messages/{row.id}/raw" if row.id in raw_ids else None,
            attachments=[AttachmentOut(id=a.id, filename=a.filename, content_type=a.content_type, size=a.size,
                                       content_id=a.content_id, disposition=a.disposition,
                                       url=attachment_url(a.id)) for a in parts]))
    thread = await session.get(EmailThread, contact.id)
    reply_address = None
    if thread is not None:
        ep_row = await session.get(EntryPoint, thread.entry_point_id)
        ep = email_entry_point(ep_row) if ep_row else None
        reply_address = ep.reply_address(thread.reply_token) if ep else None
    return EmailThreadOut(contact_id=contact.id, case_id=contact.case_id, reply_address=reply_address,
                          first_response_due_at=thread.first_response_due_at if thread else None,
                          first_responded_at=thread.first_responded_at if thread else None, emails=emails)


async def attachment(session: AsyncSession, attachment_id: int) -> tuple[EmailAttachment, int]:
    """The attachment and the contact it belongs to (for the access check)."""
    row = (await session.execute(select(EmailAttachment, EmailMessage.contact_id).join(
        EmailMessage, EmailMessage.id == EmailAttachment.email_message_id)
        .where(EmailAttachment.id == attachment_id))).first()
    if row is None:
        raise NotFound("attachment", attachment_id)
    return row[0], row[1]


async def raw_message(session: AsyncSession, email_message_id: int) -> tuple[bytes, int]:
    row = (await session.execute(select(EmailInbound.raw, EmailMessage.contact_id).join(
        EmailMessage, EmailMessage.inbound_id == EmailInbound.id).where(EmailMessage.id == email_message_id))).first()
    if row is None:
        raise NotFound("email", email_message_id)
    return row[0], row[1]


async def templates(session: AsyncSession, *, language: str | None) -> list[EmailTemplate]:
    stmt = select(EmailTemplate).where(EmailTemplate.active)
    if language:
        stmt = stmt.where(EmailTemplate.language == language)
    return list((await session.scalars(stmt.order_by(EmailTemplate.name, EmailTemplate.language))).all())


async def inbound(session: AsyncSession, *, status: str | None, limit: int, before_id: int | None,
                  options: tuple[ORMOption, ...] = ()) -> list[EmailInbound]:
    stmt = select(EmailInbound).options(*options)
    if status:
        stmt = stmt.where(EmailInbound.status == status)
    if before_id is not None:
        stmt = stmt.where(EmailInbound.id < before_id)
    return list((await session.scalars(stmt.order_by(EmailInbound.id.desc()).limit(limit))).all())
