"""The real-time wallboard (docs/reports.md §5): one snapshot of the floor — per queue, overall,
per agent, and every live contact — from today's roll-ups, the open state spans and the live
contacts; and the diff between two snapshots, sent to supervisors as ``wallboard.updated``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from madoguchi.agents.models import AgentProfile
from madoguchi.contacts.models import Contact
from madoguchi.db.uow import Database
from madoguchi.identity.models import User
from madoguchi.identity.permissions import HANDLING_ROLES
from madoguchi.kernel.clock import as_utc
from madoguchi.kernel.events import SUPERVISORS, Envelope
from madoguchi.reports import kpis
from madoguchi.reports.columns import epoch_ms
from madoguchi.reports.config import QueueReporting, load_queue_reporting
from madoguchi.reports.cube import DAY, MEASURES, Days, Thresholds, rollup
from madoguchi.reports.queries import open_spans
from madoguchi.routing.models import QueueMember

logger = logging.getLogger(__name__)

WALLBOARD_UPDATED = "wallboard.updated"
LIVE_STATES = ("new", "queued", "offered", "active", "held", "ended")
WAITING_STATES = ("queued", "offered")
TILE_FIGURES = ("offered", "handled", "abandoned", "abandoned_short", "flowed_out", "service_level", "asa_s",
                "aht_s", "abandon_rate", "answer_rate", "csat")
MIN_INTERVAL_S = 0.1
#: A snapshot reads every live contact: with thousands in line (an email flood) it costs tens of
#: milliseconds, so the next one waits this many times as long as the last took (at most
#: MAX_INTERVAL_S, so a change still shows within a second), keeping the wallboard to a small
#: share of the process.
PACE_FACTOR = 4.0
MAX_INTERVAL_S = 0.5


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def _states(agents: list[dict[str, Any]]) -> dict[str, Any]:
    counts = Counter(a["state"] for a in agents)
    breaks = Counter(a["reason"] or "break" for a in agents if a["state"] == "break")
    return {"available": counts["available"], "busy": counts["busy"], "wrap_up": counts["wrap_up"],
            "break": counts["break"], "break_reasons": dict(sorted(breaks.items())), "offline": counts["offline"]}


async def _today(session: AsyncSession, day_ms: int) -> tuple[dict[int, dict[str, int]], dict[int, dict[str, int]]]:
    sums = ", ".join(f"SUM({m})" for m in MEASURES)
    rows = (await session.execute(text(
        f"SELECT dim, queue_id, agent_id, {sums} FROM report_rollups WHERE grain = 'day' AND bucket_ms = :day "
        "AND dim IN ('queue', 'agent') GROUP BY dim, queue_id, agent_id"), {"day": day_ms})).all()
    queues: dict[int, dict[str, int]] = {}
    agents: dict[int, dict[str, int]] = {}
    for dim, queue_id, agent_id, *values in rows:
        target = queues.setdefault(queue_id, dict.fromkeys(MEASURES, 0)) if dim == "queue" else \
            agents.setdefault(agent_id, dict.fromkeys(MEASURES, 0))
        for name, value in zip(MEASURES, values, strict=True):
            target[name] += int(value or 0)
    return queues, agents


def _tile(measures: Mapping[str, int], definition: Any) -> dict[str, Any]:
    figures = kpis.figures([(measures, definition)])
    return {k: figures[k] for k in TILE_FIGURES}


async def snapshot(db: Database, *, timezone: str, short_abandon_s: int) -> dict[str, Any]:
    now = db.clock.now()
    now_ms = epoch_ms(now)
    days = Days(timezone)
    day = days.day_of(now_ms)
    day_ms = days.start_ms(day)
    async with db.read() as session:
        reporting = await load_queue_reporting(session, short_abandon_s=short_abandon_s)
        queue_today, agent_today = await _today(session, day_ms)
        live = (await session.execute(select(
            Contact.id, Contact.state, Contact.channel_kind, Contact.queue_id, Contact.agent_id, Contact.created_at,
            Contact.enqueued_at, Contact.accepted_at, Contact.subject).where(Contact.state.in_(LIVE_STATES))
            .order_by(Contact.id))).all()
        people = (await session.execute(select(User.id, User.display_name, User.team_id, AgentProfile).outerjoin(
            AgentProfile, AgentProfile.user_id == User.id).where(
            User.role.in_([r.value for r in HANDLING_ROLES]), User.active).order_by(User.id))).all()
        members = (await session.execute(select(QueueMember.queue_id, QueueMember.agent_id))).all()
        spans = await open_spans(session, now_ms=now_ms)
    # Today's share of the states agents are in right now.
    spans.start_ms[:] = [max(s, day_ms) for s in spans.start_ms.tolist()]
    current = rollup(spans=spans, thresholds=Thresholds(), days=days)
    for i in range(len(current)):
        if current.grain[i] == DAY and current.keys["bucket_ms"][i] == day_ms:
            target = agent_today.setdefault(int(current.keys["agent_id"][i]), dict.fromkeys(MEASURES, 0))
            for name in ("available_ms", "busy_ms", "wrap_ms", "break_ms", "logged_in_ms"):
                target[name] += int(current.measures[name][i])

    contacts = [{"contact_id": c.id, "state": c.state, "channel": c.channel_kind, "queue_id": c.queue_id,
                 "agent_id": c.agent_id, "created_at": _iso(c.created_at), "enqueued_at": _iso(c.enqueued_at),
                 "accepted_at": _iso(c.accepted_at), "subject": c.subject} for c in live]
    in_hand: dict[int, list[int]] = {}
    for c in live:
        if c.agent_id is not None and c.state in ("active", "held", "ended"):
            in_hand.setdefault(c.agent_id, []).append(c.id)
    agents = []
    for user_id, name, team_id, profile in people:
        today = agent_today.get(user_id, dict.fromkeys(MEASURES, 0))
        figures = kpis.figures([(today, None)])
        agents.append({"agent_id": user_id, "name": name, "team_id": team_id,
                       "state": profile.state if profile else "offline",
                       "reason": profile.break_reason if profile else None,
                       "since": _iso(profile.state_since) if profile else None, "contacts": in_hand.get(user_id, []),
                       "handled": today["handled"], "aht_s": figures["aht_s"],
                       # Rounded: occupancy moves with the clock alone; a tenth of a percent is news.
                       "occupancy": None if figures["occupancy"] is None else round(figures["occupancy"], 3)})
    by_agent = {a["agent_id"]: a for a in agents}
    queue_agents: dict[int, list[dict[str, Any]]] = {}
    for queue_id, agent_id in members:
        if agent_id in by_agent:
            queue_agents.setdefault(queue_id, []).append(by_agent[agent_id])
    waiting_by_queue: dict[int | None, list[Any]] = {}
    for c in live:
        if c.state in WAITING_STATES:
            waiting_by_queue.setdefault(c.queue_id, []).append(c)
    queues = [_queue_tile(q, reporting[q], queue_today.get(q, {}), waiting_by_queue.get(q, []),
                          queue_agents.get(q, []))
              for q in reporting]
    overall = {**kpis.figures([(queue_today.get(q, {}), r.definition) for q, r in reporting.items()]),
               "waiting": sum(t["waiting"] for t in queues),
               "oldest_enqueued_at": min((t["oldest_enqueued_at"] for t in queues if t["oldest_enqueued_at"]),
                                         default=None),
               "agents": _states(agents)}
    return {"now": now.isoformat(), "day": day.isoformat(), "timezone": timezone,
            "queues": queues, "overall": {k: overall[k] for k in (*TILE_FIGURES, "waiting", "oldest_enqueued_at",
                                                                   "agents")},
            "agents": agents, "contacts": contacts}


def _queue_tile(queue_id: int, reporting: QueueReporting, today: Mapping[str, int], waiting: list[Any],
                agents: list[dict[str, Any]]) -> dict[str, Any]:
    oldest = min((c.enqueued_at or c.created_at for c in waiting), default=None)
    return {"queue_id": queue_id, "name": reporting.name, "name_ja": reporting.name_ja,
            "waiting": len(waiting), "oldest_enqueued_at": _iso(oldest),
            **_tile({m: today.get(m, 0) for m in MEASURES}, reporting.definition),
            "agents": _states(agents), "thresholds": reporting.thresholds.model_dump(exclude_none=True),
            "definition": {"en": reporting.definition.sentence("en"), "ja": reporting.definition.sentence("ja")}}


def diff(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any] | None:
    """What changed between two snapshots, keyed by id; None when nothing did."""
    out: dict[str, Any] = {"now": after["now"], "day": after["day"]}
    old = before or {"queues": [], "agents": [], "contacts": [], "overall": None, "day": None}
    changed = False
    for name, key in (("queues", "queue_id"), ("agents", "agent_id"), ("contacts", "contact_id")):
        was = {item[key]: item for item in old[name]}
        now = {item[key]: item for item in after[name]}
        out[name] = [item for k, item in now.items() if was.get(k) != item]
        out[f"removed_{name}"] = [k for k in was if k not in now]
        changed = changed or bool(out[name] or out[f"removed_{name}"])
    if old["overall"] != after["overall"] or old.get("day") != after["day"]:
        out["overall"] = after["overall"]
        changed = True
    return out if changed else None


class WallboardPublisher:
    """Keeps the last snapshot and publishes what changed (ephemeral: a reconnecting page fetches
    the snapshot again). Runs where the roll-up worker runs, right after each batch."""

    name = "wallboard"

    def __init__(self, db: Database, *, timezone: str, short_abandon_s: int) -> None:
        self.db = db
        self.timezone = timezone
        self.short_abandon_s = short_abandon_s
        self.last: dict[str, Any] | None = None
        self._last_at = 0.0
        self._interval = MIN_INTERVAL_S
        self._due: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.published = 0

    async def refresh(self) -> None:
        """Called after every roll-up round. Too soon after the last snapshot, it leaves one
        publication due at the end of the interval (in a task of its own) and returns at once, so
        a slow snapshot never holds the roll-ups up and a change still shows within a second."""
        loop = asyncio.get_running_loop()
        wait = self._last_at + self._interval - loop.time()
        if wait > 0:
            if self._due is None or self._due.done():
                self._due = loop.create_task(self._publish_after(wait), name="wallboard-due")
            return
        await self._publish()

    async def _publish_after(self, wait: float) -> None:
        await asyncio.sleep(wait)
        try:
            await self._publish()
        except Exception:
            logger.exception("wallboard refresh failed")

    async def start(self) -> None:
        """(Nothing to start: the roll-up worker calls ``refresh``.)"""

    async def stop(self) -> None:
        if self._due is not None:
            self._due.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._due

    async def _publish(self) -> None:
        async with self._lock:
            loop = asyncio.get_running_loop()
            self._last_at = started = loop.time()
            current = await snapshot(self.db, timezone=self.timezone, short_abandon_s=self.short_abandon_s)
            # Wall time, which under load also counts others' turns: the pace only gets gentler then.
            self._interval = min(MAX_INTERVAL_S, max(MIN_INTERVAL_S, PACE_FACTOR * (loop.time() - started)))
            changes = diff(self.last, current)
            self.last = current
            if changes is not None:
                self.published += 1
                await self.db.bus.publish(Envelope(id=None, type=WALLBOARD_UPDATED, data=changes,
                                                   audience=(SUPERVISORS,)))
