"""Report tables. Legs, case facts and roll-ups are derived: the full recompute rebuilds them from
contact events, spans, contacts and cases, so they carry no foreign keys (bulk rebuilds stay fast
and a deleted queue does not block history). Times are epoch milliseconds (docs/reports.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, SmallInteger, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from madoguchi.agents.models import AgentStateSpan
from madoguchi.db.base import Base
from madoguchi.reports.cube import MEASURES


class ReportLeg(Base):
    """One stay of a contact in a queue, with all its times (docs/reports.md §1)."""

    __tablename__ = "report_legs"

    contact_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    leg: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    queue_id: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(20))
    inbound: Mapped[bool] = mapped_column(Boolean)
    arrived_ms: Mapped[int] = mapped_column(BigInteger)
    queued_ms: Mapped[int] = mapped_column(BigInteger)
    outcome: Mapped[str] = mapped_column(String(12))
    left_ms: Mapped[int | None] = mapped_column(BigInteger)
    wait_ms: Mapped[int | None] = mapped_column(BigInteger)
    agent_id: Mapped[int] = mapped_column(Integer)
    answered_ms: Mapped[int | None] = mapped_column(BigInteger)
    ended_ms: Mapped[int | None] = mapped_column(BigInteger)
    wrapped_ms: Mapped[int | None] = mapped_column(BigInteger)
    hold_ms: Mapped[int | None] = mapped_column(BigInteger)
    talk_ms: Mapped[int | None] = mapped_column(BigInteger)
    acw_ms: Mapped[int | None] = mapped_column(BigInteger)
    handle_ms: Mapped[int | None] = mapped_column(BigInteger)
    transferred: Mapped[bool] = mapped_column(Boolean)
    disposition_id: Mapped[int] = mapped_column(Integer)
    auto_wrap: Mapped[bool] = mapped_column(Boolean)
    offers: Mapped[int] = mapped_column(Integer)
    csat: Mapped[int] = mapped_column(SmallInteger)

    __table_args__ = (
        Index("ix_report_legs_queue_queued", "queue_id", "queued_ms"),
        Index("ix_report_legs_agent_queued", "agent_id", "queued_ms"),
    )


class ReportCase(Base):
    """A resolved case: where it counts and its FCR verdict."""

    __tablename__ = "report_cases"

    case_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    resolved_ms: Mapped[int] = mapped_column(BigInteger)
    queue_id: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(20))
    agent_id: Mapped[int] = mapped_column(Integer)
    inbound: Mapped[int] = mapped_column(Integer)
    reopened: Mapped[bool] = mapped_column(Boolean)
    fcr: Mapped[bool] = mapped_column(Boolean)


class ReportRollup(Base):
    """Additive sums per grain, bucket and dimension (docs/reports.md §2). Clustered by its key on
    SQLite (WITHOUT ROWID), so an interval report is one range scan."""

    __tablename__ = "report_rollups"

    dim: Mapped[str] = mapped_column(String(12), primary_key=True)
    grain: Mapped[str] = mapped_column(String(4), primary_key=True)
    bucket_ms: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    queue_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    agent_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    disposition_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)

    __table_args__ = ({"sqlite_with_rowid": False},)


for _measure in MEASURES:
    setattr(ReportRollup, _measure, mapped_column(_measure, BigInteger, nullable=False, default=0))


class ReportCursor(Base):
    """How far the roll-up worker has read the contact events; ``gaps`` are ids it passed that may
    still commit (PostgreSQL), with the time it first missed them; ``generation`` changes on every
    full recompute, so a batch computed before one is not applied after it."""

    __tablename__ = "report_cursors"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    gaps: Mapped[list[Any]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime]


class ReportSpanCursor(Base):
    """The last closed state span of each agent already in the roll-ups (an agent's spans close in
    id order: each closes in the transaction that opens the next)."""

    __tablename__ = "report_span_cursors"

    agent_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_span_id: Mapped[int] = mapped_column(BigInteger)


class ReportQueueConfig(Base):
    """A queue's service-level definition and wallboard thresholds; no row means the defaults."""

    __tablename__ = "report_queue_configs"

    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True)
    threshold_s: Mapped[int] = mapped_column(Integer)
    short_abandon_s: Mapped[int] = mapped_column(Integer)
    abandons: Mapped[str] = mapped_column(String(20))
    short_abandons: Mapped[str] = mapped_column(String(10))
    flow_outs: Mapped[str] = mapped_column(String(10))
    method: Mapped[str] = mapped_column(String(10))
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime]


class CsatSurvey(Base):
    """The satisfaction survey of one contact (KPI.md CSAT): answered in the widget after the chat,
    or through a link in an email reply. The answer is also a ``csat`` contact event."""

    __tablename__ = "csat_surveys"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    score: Mapped[int | None] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]


# The roll-up worker finds newly closed state spans by their end time (docs/reports.md §2).
Index("ix_agent_state_spans_ended_at", AgentStateSpan.ended_at)

#: The tables as Core objects, for bulk statements.
LEGS = cast(Table, ReportLeg.__table__)
CASES = cast(Table, ReportCase.__table__)
ROLLUPS = cast(Table, ReportRollup.__table__)
CURSORS = cast(Table, ReportCursor.__table__)
SPAN_CURSORS = cast(Table, ReportSpanCursor.__table__)
