"""From a number to the contacts behind it: the legs a figure counted (same attribution as the
roll-ups: the interval in which the leg entered the queue), and one row per contact for exports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import ColumnElement, and_, case, func, literal, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from madoguchi.contacts.models import Contact, Disposition
from madoguchi.identity.models import User
from madoguchi.reports.columns import from_ms
from madoguchi.reports.config import QueueReporting
from madoguchi.reports.models import ReportCase, ReportLeg

Metric = Literal[
    "offered", "handled", "handled_in_t", "handled_after_t", "abandoned", "abandoned_short", "abandoned_long",
    "abandoned_in_t", "abandoned_after_t", "flowed_out", "waiting", "transferred", "handle", "csat", "csat_good",
    "cases_resolved", "cases_fcr", "cases_not_fcr",
]
METRICS: tuple[str, ...] = get_args(Metric)
L = ReportLeg


@dataclass(frozen=True)
class LegFilter:
    start_ms: int
    end_ms: int
    queue_ids: Sequence[int] = ()
    channel: str | None = None
    agent_ids: Sequence[int] = ()
    team_id: int | None = None
    disposition_id: int | None = None


def _threshold(reporting: Mapping[int, QueueReporting], attr: str, default_ms: int) -> ColumnElement[int]:
    whens = [(L.queue_id == q, getattr(r.definition, attr)) for q, r in reporting.items()]
    if not whens:
        return literal(default_ms)
    return case(*whens, else_=default_ms)


def metric_condition(metric: str, reporting: Mapping[int, QueueReporting]) -> ColumnElement[bool]:
    t = _threshold(reporting, "threshold_ms", 60_000)
    short = _threshold(reporting, "short_ms", 5_000)
    handled, abandoned = L.outcome == "handled", L.outcome == "abandoned"
    conditions: dict[str, ColumnElement[bool]] = {
        "offered": true(), "handled": handled, "handled_in_t": and_(handled, L.wait_ms <= t),
        "handled_after_t": and_(handled, L.wait_ms > t), "abandoned": abandoned,
        "abandoned_short": and_(abandoned, L.wait_ms <= short), "abandoned_long": and_(abandoned, L.wait_ms > short),
        "abandoned_in_t": and_(abandoned, L.wait_ms <= t), "abandoned_after_t": and_(abandoned, L.wait_ms > t),
        "flowed_out": L.outcome == "flowed_out", "waiting": L.outcome == "waiting",
        "transferred": L.transferred.is_(True),
        "handle": L.handle_ms.is_not(None), "csat": L.csat > 0, "csat_good": L.csat >= 4,
    }
    return conditions[metric]


def _filters(f: LegFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.queue_ids:
        where.append(L.queue_id.in_(list(f.queue_ids)))
    if f.channel:
        where.append(L.channel == f.channel)
    if f.agent_ids:
        where.append(L.agent_id.in_(list(f.agent_ids)))
    if f.team_id is not None:
        where.append(L.agent_id.in_(select(User.id).where(User.team_id == f.team_id)))
    if f.disposition_id is not None:
        where.append(and_(L.disposition_id == f.disposition_id, L.wrapped_ms.is_not(None)))
    return where


def _case_filters(f: LegFilter, metric: str) -> list[ColumnElement[bool]]:
    c = ReportCase
    where: list[ColumnElement[bool]] = [c.resolved_ms >= f.start_ms, c.resolved_ms < f.end_ms]
    if f.queue_ids:
        where.append(c.queue_id.in_(list(f.queue_ids)))
    if f.channel:
        where.append(c.channel == f.channel)
    if f.agent_ids:
        where.append(c.agent_id.in_(list(f.agent_ids)))
    if f.team_id is not None:
        where.append(c.agent_id.in_(select(User.id).where(User.team_id == f.team_id)))
    if metric == "cases_fcr":
        where.append(c.fcr.is_(True))
    elif metric == "cases_not_fcr":
        where.append(~c.fcr)
    return where


def leg_conditions(f: LegFilter, metric: str, reporting: Mapping[int, QueueReporting]) -> list[ColumnElement[bool]]:
    if metric.startswith("cases_"):
        cases = select(ReportCase.case_id).where(*_case_filters(f, metric))
        return [L.contact_id.in_(select(Contact.id).where(Contact.case_id.in_(cases)))]
    return [L.queued_ms >= f.start_ms, L.queued_ms < f.end_ms, *_filters(f), metric_condition(metric, reporting)]


def _seconds(ms: int | None) -> float | None:
    return None if ms is None else ms / 1000


def _time(ms: int | None, zone: Any) -> datetime | None:
    return None if ms is None else from_ms(ms).astimezone(zone)


async def drill(session: AsyncSession, f: LegFilter, *, metric: str, reporting: Mapping[int, QueueReporting],
                zone: Any, language: str, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
    where = leg_conditions(f, metric, reporting)
    total = int(await session.scalar(select(func.count()).select_from(L).where(*where)) or 0)
    statement = (select(L, Contact.case_id, Contact.customer_id, User.display_name, Disposition.code)
                 .outerjoin(Contact, Contact.id == L.contact_id).outerjoin(User, User.id == L.agent_id)
                 .outerjoin(Disposition, Disposition.id == L.disposition_id)
                 .where(*where).order_by(L.queued_ms, L.contact_id, L.leg).limit(limit).offset(offset))
    rows = []
    for leg, case_id, customer_id, agent_name, disposition in (await session.execute(statement)).all():
        queue = reporting.get(leg.queue_id)
        rows.append({
            "contact_id": leg.contact_id, "leg": leg.leg, "case_id": case_id, "customer_id": customer_id,
            "queue_id": leg.queue_id, "queue_name": queue.label(language) if queue else str(leg.queue_id),
            "channel": leg.channel, "outcome": leg.outcome, "agent_id": leg.agent_id or None,
            "agent_name": agent_name, "arrived_at": _time(leg.arrived_ms, zone),
            "queued_at": _time(leg.queued_ms, zone), "left_queue_at": _time(leg.left_ms, zone),
            "answered_at": _time(leg.answered_ms, zone), "ended_at": _time(leg.ended_ms, zone),
            "wrapped_up_at": _time(leg.wrapped_ms, zone), "wait_s": _seconds(leg.wait_ms),
            "talk_s": _seconds(leg.talk_ms), "hold_s": _seconds(leg.hold_ms), "acw_s": _seconds(leg.acw_ms),
            "handle_s": _seconds(leg.handle_ms), "transferred": leg.transferred,
            "disposition": disposition if leg.wrapped_ms is not None else None, "csat": leg.csat or None,
        })
    return total, rows


CONTACT_COLUMNS = (
    "contact_id", "case_id", "customer_id", "channel", "queues", "agents", "legs", "outcome", "arrived_at",
    "first_queued_at", "answered_at", "ended_at", "wrapped_up_at", "wait_s", "talk_s", "hold_s", "acw_s", "handle_s",
    "offers", "transfers", "disposition", "csat",
)


async def contact_rows(session: AsyncSession, f: LegFilter, *, reporting: Mapping[int, QueueReporting],
                       language: str, page: int = 2_000) -> AsyncIterator[dict[str, Any]]:
    """One row per contact that had a leg in the window (matching the filters), with the times of
    all its legs: the sums of waits and handle parts, first answer, last end and wrap-up."""
    chosen = select(L.contact_id).where(L.queued_ms >= f.start_ms, L.queued_ms < f.end_ms, *_filters(f)).distinct()
    after = -1
    names = dict((await session.execute(select(User.id, User.display_name))).all())
    codes = dict((await session.execute(select(Disposition.id, Disposition.code))).all())
    while True:
        ids = [r[0] for r in (await session.execute(
            chosen.where(L.contact_id > after).order_by(L.contact_id).limit(page))).all()]
        if not ids:
            return
        after = ids[-1]
        contacts = {c.id: c for c in (await session.scalars(select(Contact).where(Contact.id.in_(ids)))).all()}
        legs: dict[int, list[ReportLeg]] = {}
        for leg in (await session.scalars(select(L).where(L.contact_id.in_(ids)).order_by(L.contact_id, L.leg))):
            legs.setdefault(leg.contact_id, []).append(leg)
        for contact_id in ids:
            yield _contact_row(contacts.get(contact_id), legs.get(contact_id, []), reporting, names, codes, language)


def _sum(values: Sequence[int | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / 1000 if present else None


def _contact_row(contact: Contact | None, legs: list[ReportLeg], reporting: Mapping[int, QueueReporting],
                 names: Mapping[int, str], codes: Mapping[int, str], language: str) -> dict[str, Any]:
    first, last = legs[0], legs[-1]
    answered = [leg.answered_ms for leg in legs if leg.answered_ms is not None]
    ended = [leg.ended_ms for leg in legs if leg.ended_ms is not None]
    queue_names = [reporting[leg.queue_id].label(language) if leg.queue_id in reporting else str(leg.queue_id)
                   for leg in legs]
    final = [leg for leg in legs if leg.handle_ms is not None]
    return {
        "contact_id": first.contact_id, "case_id": contact.case_id if contact else None,
        "customer_id": contact.customer_id if contact else None, "channel": first.channel,
        "queues": " > ".join(queue_names), "agents": " > ".join(names.get(leg.agent_id, "") for leg in legs
                                                                 if leg.agent_id),
        "legs": len(legs), "outcome": last.outcome, "arrived_at": first.arrived_ms,
        "first_queued_at": first.queued_ms, "answered_at": answered[0] if answered else None,
        "ended_at": ended[-1] if ended else None, "wrapped_up_at": last.wrapped_ms,
        "wait_s": _sum([leg.wait_ms for leg in legs]), "talk_s": _sum([leg.talk_ms for leg in final]),
        "hold_s": _sum([leg.hold_ms for leg in final]), "acw_s": _sum([leg.acw_ms for leg in final]),
        "handle_s": _sum([leg.handle_ms for leg in final]), "offers": sum(leg.offers for leg in legs),
        "transfers": sum(1 for leg in legs if leg.transferred),
        "disposition": codes.get(last.disposition_id) if last.wrapped_ms is not None else None,
        "csat": max((leg.csat for leg in legs), default=0) or None,
    }
