"""Email HTTP API (docs/email.md). Thin: parse, authorise, one action or query, serialise."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy.orm import defer

from madoguchi.api.deps import CtxDep, require
from madoguchi.channels.email import actions, queries
from madoguchi.channels.email.models import EmailInbound, EmailTemplate
from madoguchi.channels.email.schemas import (
    EmailOut,
    EmailThreadOut,
    ImapIn,
    ImapOut,
    InboundOut,
    QueueSlaIn,
    RenderedOut,
    RenderIn,
    ReplyIn,
    TemplateCreate,
    TemplateOut,
)
from madoguchi.channels.email.templates import render_template
from madoguchi.contacts.access import access_contact
from madoguchi.identity.models import User
from madoguchi.identity.permissions import Perm
from madoguchi.kernel.errors import NotFound

router = APIRouter(tags=["email"])

#: Types a browser may show inline from an email; anything else (SVG, HTML …) is a download.
INLINE_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


@router.get("/contacts/{contact_id}/email", response_model=EmailThreadOut)
async def contact_emails(contact_id: int, ctx: CtxDep,
                         user: Annotated[User, require(Perm.READ_QUEUES)]) -> EmailThreadOut:
    async with ctx.db.read() as session:
        contact = await access_contact(session, user, contact_id)
        return await queries.thread_of(session, contact)


@router.post("/contacts/{contact_id}/email/replies", response_model=EmailOut, status_code=201)
async def reply(contact_id: int, body: ReplyIn, ctx: CtxDep,
                user: Annotated[User, require(Perm.HANDLE_CONTACTS)]) -> EmailOut:
    async with ctx.db.uow() as uow:
        email = await actions.check_reply(uow, actor=user, contact_id=contact_id, data=body,
                                          timezone=ctx.settings.timezone)
        email_id = email.id
    async with ctx.db.read() as session:
        contact = await access_contact(session, user, contact_id)
        thread = await queries.thread_of(session, contact)
    return next(e for e in thread.emails if e.id == email_id)


@router.post("/contacts/{contact_id}/email/render", response_model=RenderedOut)
async def render(contact_id: int, body: RenderIn, ctx: CtxDep,
                 user: Annotated[User, require(Perm.READ_QUEUES)]) -> RenderedOut:
    async with ctx.db.uow() as uow:
        contact = await access_contact(uow.session, user, contact_id)
        template = await uow.session.get(EmailTemplate, body.template_id)
        if template is None or not template.active:
            raise NotFound("template", body.template_id)
        variables = await actions.variables_for(uow, contact=contact, agent_name=user.display_name)
        rendered = render_template(template, variables)
    return RenderedOut(subject=rendered.subject, body=rendered.body, variables=variables)


@router.get("/email/attachments/{attachment_id}")
async def download_attachment(attachment_id: int, ctx: CtxDep,
                              user: Annotated[User, require(Perm.READ_QUEUES)]) -> Response:
    async with ctx.db.read() as session:
        attachment, contact_id = await queries.attachment(session, attachment_id)
        await access_contact(session, user, contact_id)
    inline = attachment.content_type.lower() in INLINE_IMAGES
    disposition = "inline" if inline else "attachment"
    return Response(attachment.data, media_type=attachment.content_type if inline else "application/octet-stream",
                    headers={"content-disposition": f"{disposition}; filename*=UTF-8''{quote(attachment.filename)}",
                             "x-content-type-options": "nosniff", "content-security-policy": "sandbox",
                             "cache-control": "private, max-age=3600"})


@router.get("/email/messages/{email_id}/raw")
async def download_raw(email_id: int, ctx: CtxDep, user: Annotated[User, require(Perm.READ_QUEUES)]) -> Response:
    async with ctx.db.read() as session:
        raw, contact_id = await queries.raw_message(session, email_id)
        await access_contact(session, user, contact_id)
    return Response(raw, media_type="message/rfc822",
                    headers={"content-disposition": f'attachment; filename="email-{email_id}.eml"',
                             "x-content-type-options": "nosniff", "content-security-policy": "sandbox"})


@router.get("/email/templates", response_model=list[TemplateOut])
async def list_templates(ctx: CtxDep, _user: Annotated[User, require(Perm.READ_QUEUES)],
                         language: Literal["ja", "en"] | None = None) -> list[TemplateOut]:
    async with ctx.db.read() as session:
        return [TemplateOut.model_validate(t) for t in await queries.templates(session, language=language)]


@router.post("/email/templates", response_model=TemplateOut, status_code=201)
async def create_template(body: TemplateCreate, ctx: CtxDep,
                          user: Annotated[User, require(Perm.MANAGE_ENTRY_POINTS)]) -> TemplateOut:
    async with ctx.db.uow() as uow:
        return TemplateOut.model_validate(await actions.check_create_template(uow, actor=user, data=body))


@router.get("/email/inbound", response_model=list[InboundOut])
async def list_inbound(ctx: CtxDep, _user: Annotated[User, require(Perm.MANAGE_ENTRY_POINTS)],
                       status: Annotated[str | None, Query(max_length=12)] = None,
                       limit: Annotated[int, Query(ge=1, le=500)] = 100,
                       before_id: int | None = None) -> list[InboundOut]:
    async with ctx.db.read() as session:
        rows = await queries.inbound(session, status=status, limit=limit, before_id=before_id,
                                     options=(defer(EmailInbound.raw),))
        return [InboundOut.model_validate(r) for r in rows]


@router.put("/entry-points/{entry_point_id}/imap", response_model=ImapOut)
async def set_imap(entry_point_id: int, body: ImapIn, ctx: CtxDep,
                   user: Annotated[User, require(Perm.MANAGE_ENTRY_POINTS)]) -> ImapOut:
    async with ctx.db.uow() as uow:
        return ImapOut.model_validate(await actions.check_set_imap(uow, actor=user, entry_point_id=entry_point_id,
                                                                   data=body))


@router.put("/queues/{queue_id}/email-sla", response_model=QueueSlaIn)
async def set_queue_sla(queue_id: int, body: QueueSlaIn, ctx: CtxDep,
                        user: Annotated[User, require(Perm.MANAGE_QUEUES)]) -> QueueSlaIn:
    async with ctx.db.uow() as uow:
        row = await actions.check_set_queue_sla(uow, actor=user, queue_id=queue_id,
                                                first_response_s=body.first_response_s)
        return QueueSlaIn(first_response_s=row.first_response_s)
