"""Queue opening hours with a public-holiday calendar: closed on the country's holidays and on
extra closed dates, open on dates an admin keeps open; bad calendars are refused by the API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from madoguchi.routing.policy import OpeningHours
from tests.support import Browserish

TOKYO = ZoneInfo("Asia/Tokyo")
WEEKDAYS = {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


def at(day: str, clock: str = "10:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}:00").replace(tzinfo=TOKYO).astimezone(UTC)


def test_japanese_holidays_close_a_weekday_queue() -> None:
    hours = OpeningHours.model_validate({"days": WEEKDAYS, "holidays": "JP"})
    assert hours.is_open(at("2026-01-13"), TOKYO)          # a Tuesday
    assert not hours.is_open(at("2026-01-12"), TOKYO)      # 成人の日 (Coming of Age Day), a Monday
    assert not hours.is_open(at("2026-11-03"), TOKYO)      # 文化の日 (Culture Day), a Tuesday
    assert not hours.is_open(at("2026-01-13", "18:00"), TOKYO)  # the end of a span is closed
    without = OpeningHours.model_validate({"days": WEEKDAYS})
    assert without.is_open(at("2026-01-12"), TOKYO)        # no calendar: weekly hours only


def test_closed_and_open_dates_override_the_week_and_the_calendar() -> None:
    hours = OpeningHours.model_validate({"days": WEEKDAYS, "holidays": "JP", "closed": ["2026-12-30"],
                                         "open": ["2026-11-03"]})
    assert not hours.is_open(at("2026-12-30"), TOKYO)      # a Wednesday, closed for the year end
    assert hours.is_open(at("2026-11-03"), TOKYO)          # a holiday the center works
    assert not hours.is_open(at("2026-11-08"), TOKYO)      # "open" keeps the weekly hours: Sunday stays shut


def test_unknown_calendars_are_refused() -> None:
    for country in ("XX", "jp", "JPN"):
        with pytest.raises(ValidationError):
            OpeningHours.model_validate({"days": WEEKDAYS, "holidays": country})


async def test_the_api_stores_a_queue_calendar_and_refuses_a_bad_one(clients: Callable[[], Browserish]) -> None:
    admin = await clients().login("admin@demo.madoguchi.test")
    queue = await admin.call("POST", "/api/v1/queues", expect=201, json={"name": "Holidays", "agent_ids": []})
    hours = {"days": WEEKDAYS, "holidays": "JP", "closed": ["2026-12-31"]}
    updated = await admin.call("PATCH", f"/api/v1/queues/{queue['id']}", expect=200, json={"hours": hours})
    assert updated["hours"]["holidays"] == "JP" and updated["hours"]["closed"] == ["2026-12-31"]
    refused = await admin.call("PATCH", f"/api/v1/queues/{queue['id']}", expect=422,
                               json={"hours": {**hours, "holidays": "XX"}})
    assert "XX" in str(refused)
