"""Business hours with a public-holiday calendar (Japan by default, from the ``holidays`` package,
which knows substitute holidays and citizens' holidays). Pure: the caller gives the time."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib
from pydantic import BaseModel, ConfigDict, Field, field_validator

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
_DATE = re.compile(r"^(\d{4}-)?\d{2}-\d{2}$")

Span = Annotated[list[str], Field(min_length=2, max_length=2)]


def _minutes(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


class BusinessHours(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str = "Asia/Tokyo"
    weekly: dict[str, list[Span]] = Field(default_factory=dict)
    holidays: str | None = "JP"
    closed: list[str] = Field(default_factory=list)
    open: list[str] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("weekly")
    @classmethod
    def _weekly(cls, value: dict[str, list[list[str]]]) -> dict[str, list[list[str]]]:
        for day, spans in value.items():
            if day not in DAYS:
                raise ValueError(f"unknown day {day!r} (use {', '.join(DAYS)})")
            for start, end in spans:
                for clock in (start, end):
                    if not _CLOCK.match(clock):
                        raise ValueError(f"{day}: {clock!r} is not a time HH:MM")
                if _minutes(start) >= _minutes(end):
                    raise ValueError(f"{day}: {start}–{end} ends before it starts")
        return value

    @field_validator("holidays")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is not None and value not in holidays_lib.list_supported_countries():
            raise ValueError(f"no holiday calendar for {value!r}")
        return value

    @field_validator("closed", "open")
    @classmethod
    def _dates(cls, value: list[str]) -> list[str]:
        for item in value:
            if not _DATE.match(item):
                raise ValueError(f"{item!r} is not YYYY-MM-DD or MM-DD")
        return value

    def is_holiday(self, day: date) -> bool:
        return self.holidays is not None and day in _calendar(self.holidays, day.year)

    def _listed(self, day: date, dates: list[str]) -> bool:
        return day.isoformat() in dates or day.strftime("%m-%d") in dates

    def spans(self, day: date) -> list[tuple[int, int]]:
        """Open minutes of the day, local time."""
        if self._listed(day, self.closed):
            return []
        if self.is_holiday(day) and not self._listed(day, self.open):
            return []
        return [(_minutes(s), _minutes(e)) for s, e in self.weekly.get(DAYS[day.weekday()], [])]

    def is_open(self, now: datetime) -> bool:
        local = now.astimezone(ZoneInfo(self.timezone))
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.spans(local.date()))

    def next_open(self, now: datetime, *, horizon_days: int = 366) -> datetime | None:
        """When it opens next (now, if open); None when closed for the whole horizon."""
        zone = ZoneInfo(self.timezone)
        local = now.astimezone(zone)
        for offset in range(horizon_days):
            day = local.date() + timedelta(days=offset)
            for start, end in sorted(self.spans(day)):
                opens = datetime.combine(day, time(0), tzinfo=zone) + timedelta(minutes=start)
                closes = datetime.combine(day, time(0), tzinfo=zone) + timedelta(minutes=end)
                if closes > local:
                    return max(opens, local)
        return None


@lru_cache(maxsize=64)
def _calendar(country: str, year: int) -> holidays_lib.HolidayBase:
    return holidays_lib.country_holidays(country, years=year)


def is_public_holiday(day: date, country: str = "JP") -> bool:
    return day in _calendar(country, day.year)
