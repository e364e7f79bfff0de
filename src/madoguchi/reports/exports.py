"""CSV exports: UTF-8 with a byte-order mark (so Excel in Japan opens them as UTF-8), headers in
the caller's language, times in the center's time zone, the service-level definition in a column."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from madoguchi.reports.columns import from_ms
from madoguchi.reports.cube import MEASURES
from madoguchi.reports.kpis import RATIOS
from madoguchi.reports.schemas import ReportOut

BOM = "\ufeff"
Translate = Callable[[str], str]
KEY_COLUMNS = ("interval_start", "queue_id", "queue_name", "channel", "agent_id", "agent_name", "team_id",
               "team_name", "disposition_id", "disposition_code", "disposition_name")


def _line(values: Sequence[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(["" if v is None else v for v in values])
    return buffer.getvalue()


def header(columns: Iterable[str], translate: Translate) -> list[str]:
    out = []
    for column in columns:
        label = translate(f"report.col.{column}")
        out.append(label if not label.startswith("report.col.") else column)
    return out


def report_csv(report: ReportOut, translate: Translate, *, language: str) -> str:
    """The report's rows (or its totals when the interval is ``total``) as CSV text with a BOM."""
    rows = report.rows or report.totals
    present = set().union(*(r.keys() for r in rows)) if rows else set()
    keys = [k for k in KEY_COLUMNS if k in present]
    columns = [*keys, *MEASURES, *RATIOS, "service_level_definition"]
    stated = {d["queue_id"]: d["text_ja" if language == "ja" else "text_en"] for d in report.definitions}
    every = translate("report.definition_each_queue")
    lines = [BOM + _line(header(columns, translate))]
    for row in rows:
        definition = stated.get(row["queue_id"], "") if "queue_id" in row else (every if report.kind == "queues"
                                                                                 else "")
        lines.append(_line([*(row.get(k) for k in keys), *(row.get(m) for m in MEASURES),
                            *(row.get(r) for r in RATIOS), definition]))
    return "".join(lines)


TIME_COLUMNS = ("arrived_at", "first_queued_at", "answered_at", "ended_at", "wrapped_up_at")


async def contacts_csv(rows: AsyncIterator[dict[str, Any]], columns: Sequence[str], translate: Translate, *,
                       timezone: str) -> AsyncIterator[str]:
    """One row per contact, streamed; times as ``YYYY-MM-DD HH:MM:SS`` in ``timezone``."""
    zone = ZoneInfo(timezone)
    head = [f"{label} ({timezone})" if column in TIME_COLUMNS else label
            for column, label in zip(columns, header(columns, translate), strict=True)]
    yield BOM + _line(head)
    async for row in rows:
        values = []
        for column in columns:
            value = row.get(column)
            if column in TIME_COLUMNS and value is not None:
                value = from_ms(value).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
            values.append(value)
        yield _line(values)
