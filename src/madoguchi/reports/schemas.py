"""Request and response models of the reports API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from madoguchi.reports.definitions import Abandons, Include, Method, WallboardThresholds
from madoguchi.reports.intervals import Interval

CHANNEL_PATTERN = r"^[a-z0-9_-]{1,20}$"


class DefinitionIn(BaseModel):
    """Any subset of a queue's service-level definition and its wallboard thresholds."""

    model_config = ConfigDict(extra="forbid")

    threshold_s: int | None = Field(default=None, ge=1, le=7 * 86_400)
    short_abandon_s: int | None = Field(default=None, ge=0, le=3_600)
    abandons: Abandons | None = None
    short_abandons: Include | None = None
    flow_outs: Include | None = None
    method: Method | None = None
    thresholds: WallboardThresholds | None = None


class DefinitionOut(BaseModel):
    queue_id: int
    queue_name: str
    custom: bool
    definition: dict[str, Any]
    thresholds: WallboardThresholds


class ReportOut(BaseModel):
    """A report table: ``rows`` per interval and key, ``totals`` per key over the whole window,
    ``overall`` for everything; every figure of KPI.md with its counts, and the definitions used."""

    kind: str
    view: str
    timezone: str
    interval: Interval
    start: date
    end: date
    generated_at: datetime
    definitions: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    totals: list[dict[str, Any]]
    overall: dict[str, Any]


class LegOut(BaseModel):
    """One leg behind a number: the contact, its queue and agent, and all its times (center time)."""

    contact_id: int
    leg: int
    case_id: int | None
    customer_id: int | None
    queue_id: int
    queue_name: str
    channel: str
    outcome: str
    agent_id: int | None
    agent_name: str | None
    arrived_at: datetime | None
    queued_at: datetime
    left_queue_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    wrapped_up_at: datetime | None
    wait_s: float | None
    talk_s: float | None
    hold_s: float | None
    acw_s: float | None
    handle_s: float | None
    transferred: bool
    disposition: str | None
    csat: int | None


class DrillOut(BaseModel):
    metric: str
    total: int
    legs: list[LegOut]


class CsatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    score: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)


class CsatOut(BaseModel):
    contact_id: int
    score: int | None
    answered_at: datetime | None


class CsatLinkOut(BaseModel):
    contact_id: int
    url: str
    token: str
    expires_at: datetime


class CsatSurveyOut(BaseModel):
    """What a survey link shows its customer (nothing personal)."""

    subject: str | None
    answered: bool
    expired: bool


class RecomputeOut(BaseModel):
    seconds: dict[str, float]
    rows: dict[str, int]
