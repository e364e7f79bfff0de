"""Report windows in the center's time zone: which roll-up grain to read (15, 30, 60 minutes or
days, all stored in local alignment) and how days fold into weeks (ISO, Monday) and months."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np

from madoguchi.kernel.errors import InvalidInput
from madoguchi.reports.columns import Ints, epoch_ms, from_ms

Interval = Literal["15m", "30m", "60m", "day", "week", "month", "total"]
INTERVALS: tuple[Interval, ...] = ("15m", "30m", "60m", "day", "week", "month", "total")
WIDTH_MS = {"15m": 900_000, "30m": 1_800_000, "60m": 3_600_000}


@dataclass(frozen=True)
class Window:
    start: date
    end: date  # inclusive
    interval: Interval
    timezone: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def midnight_ms(self, day: date) -> int:
        return epoch_ms(datetime.combine(day, time(0), self.zone))

    @property
    def start_ms(self) -> int:
        return self.midnight_ms(self.start)

    @property
    def end_ms(self) -> int:
        return self.midnight_ms(self.end + timedelta(days=1))

    @property
    def grain(self) -> str:
        """The roll-up grain to read: the interval itself up to an hour, else days."""
        return self.interval if self.interval in WIDTH_MS else "day"

    def fold_days(self, day_ms: Ints) -> Ints:
        """Interval start (epoch ms) of each day bucket for day, week, month and total."""
        if self.interval == "day" or len(day_ms) == 0:
            return day_ms
        starts: dict[int, int] = {}
        for value in set(day_ms.tolist()):
            local = from_ms(value).astimezone(self.zone).date()
            if self.interval == "week":
                first = local - timedelta(days=local.weekday())
            elif self.interval == "month":
                first = local.replace(day=1)
            else:
                first = self.start
            starts[value] = self.midnight_ms(first)
        return np.asarray([starts[v] for v in day_ms.tolist()], dtype=np.int64)

    def interval_bounds(self, start: str) -> tuple[int, int]:
        """The epoch-ms range of the interval a report row names by its ``interval_start``."""
        try:
            parsed = datetime.fromisoformat(start)
        except ValueError:
            raise InvalidInput("interval_start must be an ISO date-time", field="interval_start") from None
        local = (parsed if parsed.tzinfo else parsed.replace(tzinfo=self.zone)).astimezone(self.zone)
        lo = epoch_ms(local)
        if self.interval in WIDTH_MS:
            hi = lo + WIDTH_MS[self.interval]
        elif self.interval == "day":
            hi = self.midnight_ms(local.date() + timedelta(days=1))
        elif self.interval == "week":
            hi = self.midnight_ms(local.date() + timedelta(days=7))
        elif self.interval == "month":
            first = local.date().replace(day=1)
            hi = self.midnight_ms((first + timedelta(days=32)).replace(day=1))
        else:
            lo, hi = self.start_ms, self.end_ms
        return max(lo, self.start_ms), min(hi, self.end_ms)

    def label(self, ms: int) -> str:
        return from_ms(ms).astimezone(self.zone).isoformat()
