"""The hand-built correctness fixture (issue 7): contacts and agent spans whose KPIs are worked out
by hand in test_correctness.py. Times are seconds after Monday 2026-03-02 10:00 in Tokyo.

Queue FixA (T = 20 s, short abandon ≤ 5 s), queue FixB (T = 60 s); agents X and Y in team Fixture.

Contacts (events at seconds; the legs they make):

* c1: queued 0 (A), offered 5, accepted 10 (X), held 60, resumed 90, ended 310, wrapped 370 resolved,
  csat 5. A: wait 10, talk 270, hold 30, ACW 60.
* c2: queued 120 (A), offered 130, rejected 140, offered 145, accepted 150 (X), ended 390, wrapped 420
  resolved, csat 3. A: wait 30, talk 240, ACW 30.
* c3: queued 180 (A), abandoned 183. A: a short abandon (3 s).
* c4: queued 240 (A), offered 245, abandoned 255. A: an abandon of 15 s (within T).
* c5: queued 300 (A), abandoned 345. A: an abandon of 45 s (after T).
* c6: queued 360 (A), flowed_out 385, requeued 385 (B), accepted 390 (Y), ended 450, wrapped 460 spam.
  A: a flow-out after 25 s; B: wait 5, talk 60, ACW 10.
* c7: queued 420 (A), offered 430, accepted 440 (X), transferred 540, queued 540 (B), offered 545,
  accepted 552 (Y), held 560, resumed 570, ended 612, wrapped 622 information, csat 4.
  A: wait 20, talk 100, transferred; B: wait 12, talk 50, hold 10, ACW 10.
* c8: queued 600 (A), accepted 608 (X), ended 708, wrapped 728 follow_up. A: wait 8, talk 100, ACW 20.
* c10 (c8's case): queued 900 (B), accepted 910 (Y), ended 970, wrapped 980 resolved.
  B: wait 10, talk 60, ACW 10.
* c9 (c2's case, two days later): queued (B), abandoned after 2 s.

Agent spans: X available 0–600, busy 600–1500, wrap-up 1500–1800, break (lunch) 1800–2400, then
offline; Y available 0–1200, busy 1200–1800, then offline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from madoguchi.agents.models import AgentStateSpan
from madoguchi.contacts.models import Case, Contact, ContactEvent, Disposition
from madoguchi.customers.models import Customer
from madoguchi.identity.models import Team, User
from madoguchi.routing.models import Queue

BASE = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
TWO_DAYS = 2 * 86_400

# (type, second, queue "A"/"B", agent "X"/"Y"/None, data)
Step = tuple[str, int, str, str | None, dict[str, object]]


def _c(*steps: tuple[str, int, str, str | None] | tuple[str, int, str, str | None, dict[str, object]]) -> list[Step]:
    return [(s[0], s[1], s[2], s[3], s[4] if len(s) > 4 else {}) for s in steps]  # type: ignore[misc]


CONTACTS: dict[str, list[Step]] = {
    "c1": _c(("arrived", 0, "A", None), ("queued", 0, "A", None), ("offered", 5, "A", "X"), ("accepted", 10, "A", "X"),
             ("held", 60, "A", "X"), ("resumed", 90, "A", "X"), ("ended", 310, "A", "X"),
             ("wrapped_up", 370, "A", "X", {"disposition": "resolved"}), ("csat", 400, "A", "X", {"score": 5})),
    "c2": _c(("arrived", 120, "A", None), ("queued", 120, "A", None), ("offered", 130, "A", "X"),
             ("rejected", 140, "A", "X"), ("offered", 145, "A", "X"), ("accepted", 150, "A", "X"),
             ("ended", 390, "A", "X"), ("wrapped_up", 420, "A", "X", {"disposition": "resolved"}),
             ("csat", 450, "A", "X", {"score": 3})),
    "c3": _c(("arrived", 180, "A", None), ("queued", 180, "A", None),
             ("abandoned", 183, "A", None, {"reason": "customer_left"})),
    "c4": _c(("arrived", 240, "A", None), ("queued", 240, "A", None), ("offered", 245, "A", "X"),
             ("abandoned", 255, "A", None, {"reason": "customer_left"})),
    "c5": _c(("arrived", 300, "A", None), ("queued", 300, "A", None),
             ("abandoned", 345, "A", None, {"reason": "customer_left"})),
    "c6": _c(("arrived", 360, "A", None), ("queued", 360, "A", None), ("flowed_out", 385, "A", None),
             ("requeued", 385, "B", None), ("offered", 388, "B", "Y"), ("accepted", 390, "B", "Y"),
             ("ended", 450, "B", "Y"), ("wrapped_up", 460, "B", "Y", {"disposition": "spam"})),
    "c7": _c(("arrived", 420, "A", None), ("queued", 420, "A", None), ("offered", 430, "A", "X"),
             ("accepted", 440, "A", "X"), ("transferred", 540, "B", "X"), ("queued", 540, "B", None),
             ("offered", 545, "B", "Y"), ("accepted", 552, "B", "Y"), ("held", 560, "B", "Y"),
             ("resumed", 570, "B", "Y"), ("ended", 612, "B", "Y"),
             ("wrapped_up", 622, "B", "Y", {"disposition": "information"}), ("csat", 700, "B", "Y", {"score": 4})),
    "c8": _c(("arrived", 600, "A", None), ("queued", 600, "A", None), ("offered", 602, "A", "X"),
             ("accepted", 608, "A", "X"), ("ended", 708, "A", "X"),
             ("wrapped_up", 728, "A", "X", {"disposition": "follow_up"})),
    "c10": _c(("arrived", 900, "B", None), ("queued", 900, "B", None), ("offered", 905, "B", "Y"),
              ("accepted", 910, "B", "Y"), ("ended", 970, "B", "Y"),
              ("wrapped_up", 980, "B", "Y", {"disposition": "resolved"})),
    "c9": _c(("arrived", TWO_DAYS, "B", None), ("queued", TWO_DAYS, "B", None),
             ("abandoned", TWO_DAYS + 2, "B", None, {"reason": "customer_left"})),
}
#: Which contacts share a case with an earlier one.
SAME_CASE = {"c10": "c8", "c9": "c2"}
#: When each case is resolved (by the wrap-up with a resolving disposition).
RESOLVED_AT = {"c1": 370, "c2": 420, "c6": 460, "c7": 622, "c8": 980}

SPANS = {
    "X": [("available", None, 0, 600), ("busy", None, 600, 1500), ("wrap_up", None, 1500, 1800),
          ("break", "lunch", 1800, 2400), ("offline", None, 2400, None)],
    "Y": [("available", None, 0, 1200), ("busy", None, 1200, 1800), ("offline", None, 1800, None)],
}


def at(second: int) -> datetime:
    return (BASE + timedelta(seconds=second)).astimezone(ZoneInfo("UTC"))


@dataclass
class Built:
    queues: dict[str, int] = field(default_factory=dict)
    agents: dict[str, int] = field(default_factory=dict)
    contacts: dict[str, int] = field(default_factory=dict)
    cases: dict[str, int] = field(default_factory=dict)
    team_id: int = 0
    events_done: set[tuple[str, int]] = field(default_factory=set)
    spans: dict[tuple[str, int], int] = field(default_factory=dict)


async def create_base(session: AsyncSession) -> Built:
    built = Built()
    now = at(0)
    team = Team(name="Fixture", created_at=now)
    session.add(team)
    await session.flush()
    built.team_id = team.id
    for key, name in (("X", "Agent X"), ("Y", "Agent Y")):
        user = User(email=f"{key.lower()}@fixture.test", display_name=name, role="agent", password_hash="!",
                    team_id=team.id, active=True, created_at=now)
        session.add(user)
        await session.flush()
        built.agents[key] = user.id
    for key, sl in (("A", 20), ("B", 60)):
        queue = Queue(name=f"Fix{key}", priority=0, service_level_s=sl, created_at=now)
        session.add(queue)
        await session.flush()
        built.queues[key] = queue.id
    return built


async def advance(session: AsyncSession, built: Built, cutoff: int) -> None:
    """Bring the database to what it holds at ``cutoff`` seconds: events, case resolutions and
    spans up to then, in time order (so ids follow time, as in production)."""
    dispositions = dict((await session.execute(select(Disposition.code, Disposition.id))).all())
    for key, steps in CONTACTS.items():
        if key in built.contacts or steps[0][1] > cutoff:
            continue
        customer = Customer(display_name=key, attributes={}, created_at=at(steps[0][1]), updated_at=at(steps[0][1]))
        session.add(customer)
        await session.flush()
        if key in SAME_CASE:
            case_id = built.cases[SAME_CASE[key]]
        else:
            case = Case(customer_id=customer.id, subject=key, status="open", priority=0, created_at=at(steps[0][1]))
            session.add(case)
            await session.flush()
            case_id = case.id
        built.cases[key] = case_id
        contact = Contact(customer_id=customer.id, case_id=case_id, channel_kind="webchat", direction="inbound",
                          state="closed", priority=0, subject=key, created_at=at(steps[0][1]))
        session.add(contact)
        await session.flush()
        built.contacts[key] = contact.id
    pending = sorted((step[1], key, i) for key, steps in CONTACTS.items() for i, step in enumerate(steps)
                     if step[1] <= cutoff and (key, i) not in built.events_done)
    for _, key, i in pending:
        kind, second, queue, agent, data = CONTACTS[key][i]
        session.add(ContactEvent(contact_id=built.contacts[key], type=kind, at=at(second),
                                 queue_id=built.queues[queue], agent_id=built.agents[agent] if agent else None,
                                 data=dict(data)))
        if kind == "wrapped_up":
            contact = await session.get(Contact, built.contacts[key])
            assert contact is not None
            contact.disposition_id = dispositions[str(data["disposition"])]
        await session.flush()
        built.events_done.add((key, i))
    for key, second in RESOLVED_AT.items():
        if key not in built.cases:
            continue
        case = await session.get(Case, built.cases[key])
        if case is not None and second <= cutoff and case.status != "resolved":
            case.status, case.resolved_at = "resolved", at(second)
    for agent, spans in SPANS.items():
        for i, (state, reason, start, end) in enumerate(spans):
            if start > cutoff:
                continue
            span_id = built.spans.get((agent, i))
            if span_id is None:
                span = AgentStateSpan(agent_id=built.agents[agent], state=state, reason=reason, started_at=at(start))
                session.add(span)
                await session.flush()
                built.spans[(agent, i)] = span_id = span.id
            if end is not None and end <= cutoff:
                row = await session.get(AgentStateSpan, span_id)
                assert row is not None
                row.ended_at = at(end)
    await session.flush()
