"""First-response time in business hours (pure: no I/O). Opening hours are the queue's weekly
hours in the center's time zone; without hours every second counts."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from madoguchi.routing.policy import DAYS, OpeningHours

MAX_DAYS = 400


def _spans(day: datetime, hours: OpeningHours, zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The open spans of the local calendar day that ``day`` falls on, as aware datetimes."""
    local = day.astimezone(zone)
    spans = []
    for start, end in hours.days.get(DAYS[local.weekday()], []):
        opens = datetime.combine(local.date(), start, tzinfo=zone)
        closes = datetime.combine(local.date(), end, tzinfo=zone)
        spans.append((opens, closes))
    return sorted(spans)


def _next_day(moment: datetime, zone: ZoneInfo) -> datetime:
    local = moment.astimezone(zone)
    return datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), tzinfo=zone)


def business_seconds(start: datetime, end: datetime, hours: OpeningHours | None, zone: ZoneInfo) -> float:
    if end <= start:
        return 0.0
    if hours is None:
        return (end - start).total_seconds()
    total = 0.0
    cursor = start
    for _ in range(MAX_DAYS):
        if cursor >= end:
            break
        for opens, closes in _spans(cursor, hours, zone):
            lo, hi = max(opens, cursor), min(closes, end)
            if hi > lo:
                total += (hi - lo).total_seconds()
        cursor = _next_day(cursor, zone)
    return total


def due_at(start: datetime, seconds: float, hours: OpeningHours | None, zone: ZoneInfo) -> datetime:
    """When ``seconds`` of business time after ``start`` have passed."""
    if hours is None or not any(hours.days.values()):
        return start + timedelta(seconds=seconds)
    left = seconds
    cursor = start
    for _ in range(MAX_DAYS):
        for opens, closes in _spans(cursor, hours, zone):
            lo = max(opens, cursor)
            if closes <= lo:
                continue
            available = (closes - lo).total_seconds()
            if available >= left:
                return (lo + timedelta(seconds=left)).astimezone(start.tzinfo)
            left -= available
        cursor = _next_day(cursor, zone)
    return start + timedelta(seconds=seconds)
