"""CSAT (KPI.md): a 1–5 survey, answered in the chat widget after the conversation ended or
through a link in an email reply. The answer is stored on the contact's survey row and recorded as
a ``csat`` contact event, from which the roll-ups count it."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from madoguchi.channels.models import WidgetSession
from madoguchi.contacts.actions import get_contact, record_event
from madoguchi.contacts.models import Contact
from madoguchi.db.uow import UnitOfWork
from madoguchi.identity.actions import token_digest
from madoguchi.kernel.clock import as_utc
from madoguchi.kernel.errors import Conflict, NotFound
from madoguchi.kernel.events import SUPERVISORS, Event
from madoguchi.reports.models import CsatSurvey
from madoguchi.reports.schemas import CsatIn, CsatSurveyOut

CSAT_RECORDED = "csat.recorded"
LINK_TTL = timedelta(days=14)
#: A chat can be rated once it is over and an agent handled it.
RATEABLE = ("ended", "closed")


async def _survey(uow: UnitOfWork, contact: Contact, channel: str) -> CsatSurvey:
    survey = await uow.session.get(CsatSurvey, contact.id, with_for_update=True)
    if survey is None:
        survey = CsatSurvey(contact_id=contact.id, channel=channel, created_at=uow.clock.now())
        uow.session.add(survey)
    return survey


def do_answer(uow: UnitOfWork, *, contact: Contact, survey: CsatSurvey, data: CsatIn) -> CsatSurvey:
    """Caller holds the contact and survey rows."""
    if survey.score is not None:
        raise Conflict("this survey has been answered")
    survey.score = data.score
    survey.comment = data.comment
    survey.answered_at = uow.clock.now()
    record_event(uow, contact, "csat", agent_id=contact.agent_id, score=data.score, channel=survey.channel)
    uow.emit(Event(CSAT_RECORDED, {"contact_id": contact.id, "queue_id": contact.queue_id,
                                   "agent_id": contact.agent_id, "score": data.score}, (SUPERVISORS,), durable=False))
    return survey


async def check_widget_answer(uow: UnitOfWork, *, session: WidgetSession, data: CsatIn) -> CsatSurvey:
    """The visitor rates the conversation of this widget session, once it ended."""
    if session.contact_id is None:
        raise NotFound("conversation", "of this session")
    contact = await get_contact(uow, session.contact_id)
    if contact.state not in RATEABLE or contact.agent_id is None:
        raise Conflict("only a conversation an agent handled can be rated, once it has ended", state=contact.state)
    return do_answer(uow, contact=contact, survey=await _survey(uow, contact, "webchat"), data=data)


async def do_create_link(uow: UnitOfWork, *, contact: Contact) -> tuple[str, datetime]:
    """A new survey link for an email reply (placeholder until the email templates carry it); a
    link made before stops working. Returns the token and when it expires."""
    survey = await _survey(uow, contact, "email")
    if survey.score is not None:
        raise Conflict("this contact has been rated already")
    token = "csat_" + secrets.token_urlsafe(24)
    survey.token_hash = token_digest(token)
    survey.expires_at = uow.clock.now() + LINK_TTL
    return token, survey.expires_at


async def _by_token(session: AsyncSession, token: str) -> CsatSurvey:
    survey = await session.scalar(select(CsatSurvey).where(CsatSurvey.token_hash == token_digest(token)))
    if survey is None:
        raise NotFound("survey", "for this link")
    return survey


async def survey_for_token(session: AsyncSession, token: str, now: datetime) -> CsatSurveyOut:
    survey = await _by_token(session, token)
    contact = await session.get(Contact, survey.contact_id)
    expired = survey.expires_at is not None and as_utc(survey.expires_at) <= now
    return CsatSurveyOut(subject=contact.subject if contact else None, answered=survey.score is not None,
                         expired=expired)


async def check_link_answer(uow: UnitOfWork, *, token: str, data: CsatIn) -> CsatSurvey:
    survey = await _by_token(uow.session, token)
    if survey.expires_at is not None and as_utc(survey.expires_at) <= uow.clock.now():
        raise Conflict("this survey link has expired")
    contact = await get_contact(uow, survey.contact_id)
    survey = await _survey(uow, contact, survey.channel)
    return do_answer(uow, contact=contact, survey=survey, data=data)
