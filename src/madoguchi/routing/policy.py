"""Queue routing rules as stored (JSON on the queue row) ↔ the Router's QueuePolicy, with the
validation an admin's input goes through."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any, Literal
from zoneinfo import ZoneInfo

import holidays as holidays_lib
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from madoguchi.flows.hours import is_public_holiday
from madoguchi.routing.models import Queue
from madoguchi.routing.router import QueuePolicy, RelaxStep, Scope, SkillRequirement, Strategy

SKILL_PATTERN = r"^[a-z0-9_\-]{1,40}$"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class SkillRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    skill: str = Field(pattern=SKILL_PATTERN)
    min_level: int = Field(default=1, ge=1, le=5)


class RelaxRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after_s: int = Field(ge=1, le=86_400)
    requirements: list[SkillRule] = Field(default_factory=list, max_length=20)
    scope: Scope = Scope.QUEUE


class OverflowRule(BaseModel):
    """Leave this queue for ``to_queue_id`` (``action: queue``) or become a callback request that
    keeps its place, with a voicemail (``action: callback``; calls only, docs/voice.md) when: the
    contact waited over ``limit`` seconds (``wait_over``), the line is longer than ``limit``
    (``length_over``), no agent who meets the queue's requirements is logged in (``no_agents``), or
    the queue is outside its hours (``closed``)."""

    model_config = ConfigDict(extra="forbid")

    when: Literal["wait_over", "length_over", "no_agents", "closed"]
    limit: int | None = Field(default=None, ge=0, le=1_000_000)
    to_queue_id: int | None = None
    action: Literal["queue", "callback"] = "queue"

    @model_validator(mode="after")
    def _limit_needed(self) -> OverflowRule:
        if self.when in ("wait_over", "length_over") and self.limit is None:
            raise ValueError(f"'{self.when}' needs a limit")
        if self.action == "queue" and self.to_queue_id is None:
            raise ValueError("overflow to a queue needs to_queue_id")
        if self.action == "callback" and self.to_queue_id is not None:
            raise ValueError("a callback overflow goes to no other queue: leave out to_queue_id")
        return self


class OpeningHours(BaseModel):
    """Weekly hours in the center's time zone: ``{"mon": [["09:00", "18:00"]], …}``; a day not
    listed is closed. ``holidays`` (a country code of the python-holidays calendars, e.g. "JP")
    closes the queue on that country's public holidays; ``closed`` adds dates (year-end), and
    ``open`` keeps the weekly hours on dates that would otherwise be closed."""

    model_config = ConfigDict(extra="forbid")

    days: dict[str, list[tuple[time, time]]]
    holidays: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    closed: list[date] = Field(default_factory=list, max_length=366)
    open: list[date] = Field(default_factory=list, max_length=366)

    @field_validator("holidays")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is not None and value not in holidays_lib.list_supported_countries():
            raise ValueError(f"no public-holiday calendar for {value!r}")
        return value

    @field_validator("days")
    @classmethod
    def _days(cls, value: dict[str, list[tuple[time, time]]]) -> dict[str, list[tuple[time, time]]]:
        for day, spans in value.items():
            if day not in DAYS:
                raise ValueError(f"unknown day {day!r}; use {', '.join(DAYS)}")
            for start, end in spans:
                if end <= start:
                    raise ValueError(f"{day}: {start}–{end} ends before it starts")
        return value

    def is_open(self, now: datetime, zone: ZoneInfo) -> bool:
        local = now.astimezone(zone)
        day = local.date()
        if day not in self.open and (day in self.closed or (
                self.holidays is not None and is_public_holiday(day, self.holidays))):
            return False
        spans = self.days.get(DAYS[local.weekday()], [])
        return any(start <= local.time() < end for start, end in spans)


class QueueRouting(BaseModel):
    """What an admin may change about how a queue routes (PATCH /queues/{id})."""

    model_config = ConfigDict(extra="forbid")

    name_ja: str | None = Field(default=None, max_length=120)
    priority: int | None = Field(default=None, ge=-100, le=100)
    service_level_s: int | None = Field(default=None, ge=1, le=86_400)
    offer_timeout_s: int | None = Field(default=None, ge=3, le=600)
    strategy: Strategy | None = None
    requirements: list[SkillRule] | None = Field(default=None, max_length=20)
    relaxation: list[RelaxRule] | None = Field(default=None, max_length=10)
    overflow: list[OverflowRule] | None = Field(default=None, max_length=10)
    priority_step_s: int | None = Field(default=None, ge=1, le=86_400)
    sticky_window_s: int | None = Field(default=None, ge=0, le=90 * 86_400)
    wrap_up_limit_s: int | None = Field(default=None, ge=1, le=86_400)
    default_aht_s: int | None = Field(default=None, ge=1, le=86_400)
    hours: OpeningHours | None = None

    @field_validator("relaxation")
    @classmethod
    def _ordered(cls, value: list[RelaxRule] | None) -> list[RelaxRule] | None:
        if value is not None and [r.after_s for r in value] != sorted({r.after_s for r in value}):
            raise ValueError("relaxation steps must have increasing after_s")
        return value


def _requirements(raw: list[Any]) -> tuple[SkillRequirement, ...]:
    return tuple(SkillRequirement(r["skill"], int(r.get("min_level", 1))) for r in raw)


def policy_of(queue: Queue) -> QueuePolicy:
    return QueuePolicy(
        queue_id=queue.id, strategy=Strategy(queue.strategy or Strategy.LONGEST_IDLE), priority=queue.priority,
        requirements=_requirements(queue.requirements or []),
        relaxation=tuple(RelaxStep(after_s=float(step["after_s"]), requirements=_requirements(step["requirements"]),
                                   scope=Scope(step.get("scope", "queue")))
                         for step in (queue.relaxation or [])),
        priority_step_s=float(queue.priority_step_s or 60))


def hours_of(queue: Queue) -> OpeningHours | None:
    return OpeningHours.model_validate(queue.hours) if queue.hours else None


def overflow_of(queue: Queue) -> list[OverflowRule]:
    return [OverflowRule.model_validate(rule) for rule in (queue.overflow or [])]
