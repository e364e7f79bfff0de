"""Report tables put together for the API, the CSV exports and the charts: rows per interval,
totals per key, the overall figure, labels in the caller's language, and the service-level
definition of every queue the report covers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select

from madoguchi.contacts.models import Disposition
from madoguchi.db.uow import Database
from madoguchi.kernel.errors import InvalidInput
from madoguchi.reports import queries
from madoguchi.reports.columns import epoch_ms
from madoguchi.reports.config import QueueReporting, load_queue_reporting
from madoguchi.reports.intervals import Interval, Window
from madoguchi.reports.schemas import CHANNEL_PATTERN, ReportOut
from madoguchi.settings import Settings

Kind = Literal["queues", "agents", "dispositions"]
VIEWS: dict[str, tuple[str, ...]] = {"queues": ("queue", "channel", "all"), "agents": ("agent", "team"),
                                     "dispositions": ("disposition",)}
MAX_DAYS = 400
MAX_QUARTER_DAYS = 93


class ReportParams(BaseModel):
    """Filters every report takes; dates are local days of MADOGUCHI_TIMEZONE, both included."""

    model_config = ConfigDict(extra="forbid")

    start: date | None = None
    end: date | None = None
    interval: Interval = "30m"
    view: str | None = None
    queue_id: list[int] = Field(default_factory=list, max_length=200)
    channel: str | None = Field(default=None, pattern=CHANNEL_PATTERN)
    team_id: int | None = None
    agent_id: list[int] = Field(default_factory=list, max_length=500)
    lang: Literal["ja", "en"] | None = None

    @model_validator(mode="after")
    def _range(self) -> ReportParams:
        if self.start and self.end and self.end < self.start:
            raise ValueError("end is before start")
        if self.start and self.end:
            days = (self.end - self.start).days + 1
            if days > MAX_DAYS or (self.interval in ("15m", "30m", "60m") and days > MAX_QUARTER_DAYS):
                raise ValueError("the date range is too long for this interval")
        return self


def window_of(params: ReportParams, settings: Settings, now: datetime) -> Window:
    today = now.astimezone(Window(start=now.date(), end=now.date(), interval="day",
                                  timezone=settings.timezone).zone).date()
    start = params.start or params.end or today
    end = params.end or start
    return Window(start=start, end=end, interval=params.interval, timezone=settings.timezone)


def _view(kind: Kind, params: ReportParams) -> str:
    view = params.view or VIEWS[kind][0]
    if view not in VIEWS[kind]:
        raise InvalidInput(f"view must be one of {', '.join(VIEWS[kind])}", field="view")
    return view


def definitions(reporting: dict[int, QueueReporting], queue_ids: list[int]) -> list[dict[str, Any]]:
    chosen = queue_ids or list(reporting)
    return [{"queue_id": q, "queue_name": reporting[q].name, "queue_name_ja": reporting[q].name_ja,
             **reporting[q].definition.stated()} for q in chosen if q in reporting]


async def build_report(db: Database, settings: Settings, kind: Kind, params: ReportParams, *,
                       language: str) -> ReportOut:
    now = db.clock.now()
    window = window_of(params, settings, now)
    view = _view(kind, params)
    async with db.read() as session:
        reporting = await load_queue_reporting(session, short_abandon_s=settings.short_abandon_s)
        teams, agent_names, team_names = await queries.team_of_agents(session)
        dispositions = {d.id: (d.label_ja if language == "ja" else d.label_en, d.code)
                        for d in (await session.scalars(select(Disposition))).all()}
        open_spans = None
        if kind == "agents" and window.start_ms <= epoch_ms(now) < window.end_ms + 86_400_000:
            open_spans = await queries.open_spans(session, now_ms=epoch_ms(now), agent_ids=params.agent_id or None)
    labels: dict[str, dict[int, str]] = {
        "queue_id": {q: r.label(language) for q, r in reporting.items()},
        "agent_id": agent_names, "team_id": team_names,
        "disposition_id": {d: label for d, (label, _) in dispositions.items()},
    }
    channel_word: Callable[[int], str] | None = None
    async with db.engine.connect() as conn:
        if kind == "queues":
            queue_view = cast(queries.QueueView, view)
            table, vocab = await queries.queue_table(conn, window, reporting=reporting, view=queue_view,
                                                     queue_ids=params.queue_id, channel=params.channel)
            totals, _ = await queries.queue_table(conn, window, reporting=reporting, view=queue_view, totals=True,
                                                  queue_ids=params.queue_id, channel=params.channel)
            overall, _ = await queries.queue_table(conn, window, reporting=reporting, view="all", totals=True,
                                                   queue_ids=params.queue_id, channel=params.channel)
            channel_word = vocab.word
        elif kind == "agents":
            agent_view = cast(queries.AgentView, view)
            found = [await queries.agent_table(
                conn, window, view=agent_view, totals=whole, queue_ids=params.queue_id, channel=params.channel,
                team_id=params.team_id, agent_ids=params.agent_id, open_spans=open_spans, teams=teams)
                for whole in (False, True)]
            table, totals = found
            overall = queries.regroup(totals, [])
        else:
            found = [await queries.disposition_table(conn, window, totals=whole, queue_ids=params.queue_id,
                                                     channel=params.channel) for whole in (False, True)]
            table, totals = found
            overall = queries.regroup(totals, [])
    rows, total_rows = table.rows(window, labels), totals.rows(window, labels)
    for row in (*rows, *total_rows):
        if "channel" in row and channel_word is not None:
            row["channel"] = channel_word(row["channel"])
        if "disposition_id" in row:
            row["disposition_code"] = dispositions.get(row["disposition_id"], ("", ""))[1]
    overall_rows = overall.rows(window)
    return ReportOut(kind=kind, view=view, timezone=settings.timezone, interval=window.interval, start=window.start,
                     end=window.end, generated_at=now, definitions=definitions(reporting, params.queue_id),
                     rows=rows, totals=total_rows, overall=overall_rows[0] if overall_rows else {})
