"""Bot KPIs from contact events (KPI.md): containment, escalation reasons, unanswered questions."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from madoguchi.contacts.models import ContactEvent
from madoguchi.kb.text import normalise

BOT_EVENTS = ("flow_entered", "queued", "ended", "abandoned", "escalated", "bot_answered", "bot_feedback",
              "callback_requested", "bot_unanswered")


class BotReport(BaseModel):
    since: datetime | None
    until: datetime | None
    entered: int
    contained: int
    containment_rate: float | None
    resolved_by_bot: int
    in_flow_now: int
    escalations: dict[str, int]
    answers: int
    helpful: int
    not_helpful: int
    callbacks: int


class UnansweredQuestion(BaseModel):
    query: str
    count: int
    last_at: datetime


def _window(stmt: Any, since: datetime | None, until: datetime | None) -> Any:
    if since is not None:
        stmt = stmt.where(ContactEvent.at >= since)
    if until is not None:
        stmt = stmt.where(ContactEvent.at < until)
    return stmt


async def bot_report(session: AsyncSession, *, since: datetime | None, until: datetime | None) -> BotReport:
    """Contacts that entered a flow in the window, and what became of them (whenever it happened)."""
    entered = list((await session.scalars(_window(
        select(ContactEvent.contact_id).where(ContactEvent.type == "flow_entered"), since, until))).all())
    by_contact: dict[int, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for start in range(0, len(entered), 500):
        chunk = entered[start:start + 500]
        rows = await session.execute(select(ContactEvent.contact_id, ContactEvent.type, ContactEvent.data)
                                     .where(ContactEvent.contact_id.in_(chunk), ContactEvent.type.in_(BOT_EVENTS))
                                     .order_by(ContactEvent.id))
        for contact_id, type_, data in rows.all():
            by_contact[contact_id].append((type_, data or {}))
    contained = resolved = in_flow = answers = helpful = not_helpful = callbacks = 0
    reasons: Counter[str] = Counter()
    for contact_id in entered:
        events = by_contact.get(contact_id, [])
        types = {t for t, _ in events}
        if "queued" not in types and types & {"ended", "abandoned"}:
            contained += 1
            if any(t == "bot_feedback" and d.get("helpful") for t, d in events):
                resolved += 1
        elif not types & {"queued", "ended", "abandoned"}:
            in_flow += 1
        for type_, data in events:
            if type_ == "escalated":
                reasons[str(data.get("reason"))] += 1
            elif type_ == "bot_answered":
                answers += 1
            elif type_ == "bot_feedback":
                helpful += 1 if data.get("helpful") else 0
                not_helpful += 0 if data.get("helpful") else 1
            elif type_ == "callback_requested":
                callbacks += 1
    finished = len(entered) - in_flow
    return BotReport(since=since, until=until, entered=len(entered), contained=contained,
                     containment_rate=round(contained / finished, 4) if finished else None,
                     resolved_by_bot=resolved, in_flow_now=in_flow, escalations=dict(reasons), answers=answers,
                     helpful=helpful, not_helpful=not_helpful, callbacks=callbacks)


async def unanswered(session: AsyncSession, *, since: datetime | None, limit: int) -> list[UnansweredQuestion]:
    rows = await session.execute(_window(select(ContactEvent.data, ContactEvent.at)
                                         .where(ContactEvent.type == "bot_unanswered"), since, None)
                                 .order_by(ContactEvent.id.desc()).limit(20_000))
    counts: Counter[str] = Counter()
    shown: dict[str, str] = {}
    last: dict[str, datetime] = {}
    for data, at in rows.all():
        query = str((data or {}).get("query") or "").strip()
        if not query:
            continue
        key = normalise(query)
        counts[key] += 1
        shown.setdefault(key, query)
        last[key] = max(last.get(key, at), at)
    return [UnansweredQuestion(query=shown[k], count=n, last_at=last[k]) for k, n in counts.most_common(limit)]
