"""Bot API: KPIs, unanswered questions, a contact's flow summary, and the widget's pending prompt."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from pydantic import BaseModel
from sqlalchemy import select

from madoguchi.api.deps import CtxDep, public, require
from madoguchi.bot import reports
from madoguchi.channels.webchat.actions import current_contact, session_for_token
from madoguchi.contacts.access import access_contact
from madoguchi.contacts.models import ContactEvent
from madoguchi.contacts.states import ContactState
from madoguchi.flows.models import Flow, FlowSession, FlowVersion
from madoguchi.identity.models import User
from madoguchi.identity.permissions import Perm

router = APIRouter(tags=["bot"])
TokenHeader = Annotated[str | None, Header(alias="X-Widget-Token", max_length=200)]
_FACTS = ("flow_entered", "bot_answered", "bot_suggested", "bot_unanswered", "bot_feedback", "escalated",
          "callback_requested", "flow_ended")


class FlowSummary(BaseModel):
    contact_id: int
    flow_id: int
    flow_name: str
    flow_version: int
    status: str
    escalation_reason: str | None
    variables: dict[str, str]
    handoff: dict[str, Any] | None
    facts: list[dict[str, Any]]


class WidgetPrompt(BaseModel):
    prompt: dict[str, Any] | None


@router.get("/bot/report", response_model=reports.BotReport)
async def bot_report(ctx: CtxDep, _user: Annotated[User, require(Perm.READ_BOT_REPORTS)],
                     since: datetime | None = None, until: datetime | None = None) -> reports.BotReport:
    async with ctx.db.read() as session:
        return await reports.bot_report(session, since=since, until=until)


@router.get("/bot/unanswered", response_model=list[reports.UnansweredQuestion])
async def unanswered(ctx: CtxDep, _user: Annotated[User, require(Perm.READ_BOT_REPORTS)],
                     since: datetime | None = None,
                     limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[reports.UnansweredQuestion]:
    async with ctx.db.read() as session:
        return await reports.unanswered(session, since=since, limit=limit)


@router.get("/contacts/{contact_id}/flow", response_model=FlowSummary | None)
async def contact_flow(contact_id: int, ctx: CtxDep,
                       user: Annotated[User, require(Perm.READ_QUEUES)]) -> FlowSummary | None:
    """What the bot learnt before the hand-off; null when the contact met no flow."""
    async with ctx.db.read() as session:
        await access_contact(session, user, contact_id)
        row = (await session.execute(
            select(FlowSession, FlowVersion, Flow).join(FlowVersion, FlowVersion.id == FlowSession.flow_version_id)
            .join(Flow, Flow.id == FlowVersion.flow_id).where(FlowSession.contact_id == contact_id))).first()
        if row is None:
            return None
        flow_session, version, flow = row
        facts = (await session.execute(select(ContactEvent.type, ContactEvent.at, ContactEvent.data).where(
            ContactEvent.contact_id == contact_id, ContactEvent.type.in_(_FACTS)).order_by(ContactEvent.id))).all()
    state = flow_session.state or {}
    variables = {k: str(v) for k, v in (state.get("vars") or {}).items() if k not in ("last_input",)}
    return FlowSummary(contact_id=contact_id, flow_id=flow.id, flow_name=flow.name, flow_version=version.version,
                       status=flow_session.status, escalation_reason=variables.get("escalation_reason"),
                       variables=variables, handoff=state.get("handoff"),
                       facts=[{"type": t, "at": at.isoformat(), **(d or {})} for t, at, d in facts])


@router.get("/widget/prompt", response_model=WidgetPrompt,
            dependencies=[public("web-chat visitors authenticate with the widget token")])
async def widget_prompt(ctx: CtxDep, token: TokenHeader = None) -> WidgetPrompt:
    """After a reload: the bot's pending choices (the place in line comes with the session)."""
    async with ctx.db.uow() as uow:
        widget = await session_for_token(uow, token)
        contact = await current_contact(uow, widget)
        prompt = None
        if contact is not None and contact.state == ContactState.NEW:
            flow_session = await uow.session.scalar(select(FlowSession).where(FlowSession.contact_id == contact.id))
            if flow_session is not None and flow_session.status == "waiting":
                prompt = (flow_session.state or {}).get("prompt")
    return WidgetPrompt(prompt=prompt)
