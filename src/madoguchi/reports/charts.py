"""Server-side SVG charts for the report page: no chart library, no CDN, nothing to run in the
browser. Bars (stacked) on the left axis, lines on the right axis; every text is escaped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from madoguchi.reports.schemas import ReportOut

COLORS = {"handled": "#2f5d50", "abandoned": "#c0392b", "flowed_out": "#d68910", "service_level": "#1f618d",
          "abandon_rate": "#c0392b", "talk": "#2f5d50", "hold": "#d68910", "acw": "#7d3c98", "aht": "#1f618d",
          "occupancy": "#2f5d50", "utilization": "#1f618d"}


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    color: str
    label: str


@dataclass(frozen=True)
class Axis:
    label: str
    percent: bool = False
    maximum: float | None = None


def _nice(top: float) -> float:
    if top <= 0:
        return 1.0
    for step in (1, 2, 2.5, 5, 10):
        magnitude = 10 ** (len(str(int(top))) - 1)
        if step * magnitude >= top:
            return float(step * magnitude)
    return float(top)


def _fmt(value: float, percent: bool) -> str:
    return f"{value * 100:.0f}%" if percent else (f"{value:.0f}" if value >= 10 else f"{value:.1f}")


def render(*, title: str, labels: Sequence[str], bars: Sequence[Series] = (), lines: Sequence[Series] = (),
           left: Axis, right: Axis | None = None, width: int = 860, height: int = 280, empty: str = "") -> str:
    pad_l, pad_r, pad_t, pad_b = 56, 56 if right else 16, 34, 64
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b
    n = max(len(labels), 1)
    slot = plot_w / n
    stacked = [sum(s.values[i] or 0 for s in bars) for i in range(len(labels))]
    left_top = left.maximum or _nice(max(stacked, default=0))
    right_values = [v for s in lines for v in s.values if v is not None]
    right_top = (right.maximum if right and right.maximum else _nice(max(right_values, default=0))) if right else 1
    line_axis = right or left
    line_top = right_top if right else left_top
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{escape(title)}" font-family="system-ui, sans-serif" font-size="11">',
           f'<title>{escape(title)}</title>',
           f'<text x="{pad_l}" y="18" font-size="13" font-weight="600">{escape(title)}</text>']
    for k in range(5):
        y = pad_t + plot_h - plot_h * k / 4
        out.append(f'<line x1="{pad_l}" x2="{pad_l + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e0"/>')
        out.append(f'<text x="{pad_l - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">'
                   f'{escape(_fmt(left_top * k / 4, left.percent))}</text>')
        if right:
            out.append(f'<text x="{pad_l + plot_w + 6}" y="{y + 4:.1f}" fill="#555">'
                       f'{escape(_fmt(right_top * k / 4, right.percent))}</text>')
    if not labels:
        out.append(f'<text x="{pad_l + plot_w / 2}" y="{pad_t + plot_h / 2}" text-anchor="middle" fill="#888">'
                   f'{escape(empty)}</text>')
    for i in range(len(labels)):
        base = 0.0
        for s in bars:
            value = s.values[i] or 0
            if value <= 0:
                continue
            h = plot_h * value / left_top
            y = pad_t + plot_h - plot_h * (base + value) / left_top
            out.append(f'<rect class="bar {escape(s.name)}" x="{pad_l + i * slot + slot * 0.15:.1f}" y="{y:.1f}" '
                       f'width="{slot * 0.7:.1f}" height="{h:.1f}" fill="{s.color}">'
                       f'<title>{escape(labels[i])} {escape(s.label)}: {escape(_fmt(value, left.percent))}'
                       '</title></rect>')
            base += value
    for s in lines:
        points = [(pad_l + (i + 0.5) * slot, pad_t + plot_h - plot_h * min(v, line_top) / line_top)
                  for i, v in enumerate(s.values) if v is not None]
        if points:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            out.append(f'<polyline class="line {escape(s.name)}" points="{path}" fill="none" stroke="{s.color}" '
                       'stroke-width="2"/>')
            out.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{s.color}"/>' for x, y in points)
    every = max(1, len(labels) // 16)
    for i, label in enumerate(labels):
        if i % every == 0:
            x = pad_l + (i + 0.5) * slot
            out.append(f'<text x="{x:.1f}" y="{pad_t + plot_h + 14}" text-anchor="end" fill="#555" '
                       f'transform="rotate(-35 {x:.1f} {pad_t + plot_h + 14})">{escape(label)}</text>')
    legend_x = pad_l
    for s in (*bars, *lines):
        out.append(f'<rect x="{legend_x}" y="{height - 14}" width="10" height="10" fill="{s.color}"/>'
                   f'<text x="{legend_x + 14}" y="{height - 5}">{escape(s.label)}</text>')
        legend_x += 24 + 7 * len(s.label)
    out.append(f'<text x="8" y="{pad_t - 8}" fill="#555">{escape(left.label)}</text>')
    if right:
        out.append(f'<text x="{width - 8}" y="{pad_t - 8}" text-anchor="end" fill="#555">'
                   f'{escape(line_axis.label)}</text>')
    out.append("</svg>")
    return "".join(out)


def _short(label: str | None, interval: str) -> str:
    if not label:
        return ""
    # 2026-03-02T10:30:00+09:00 → "03-02 10:30" (or the day alone for days and longer)
    day, _, rest = label.partition("T")
    return day[5:] + (" " + rest[:5] if interval in ("15m", "30m", "60m") else "")


def chart(report: ReportOut, name: str, t: Any) -> str:
    """``t`` translates a locale key."""
    rows = report.rows
    labels = [_short(r.get("interval_start"), report.interval) for r in rows]

    def col(key: str, scale: float = 1.0) -> list[float | None]:
        return [None if r.get(key) is None else float(r[key]) * scale for r in rows]

    empty = t("reports.no_data")
    if name == "service_level":
        return render(title=t("reports.chart.service_level"), labels=labels, empty=empty,
                      bars=[Series("offered", col("offered"), "#a9c7bd", t("report.col.offered"))],
                      lines=[Series("service_level", col("service_level"), COLORS["service_level"],
                                    t("report.col.service_level"))],
                      left=Axis(t("report.col.offered")), right=Axis(t("report.col.service_level"), percent=True,
                                                                      maximum=1.0))
    if name == "volume":
        return render(title=t("reports.chart.volume"), labels=labels, empty=empty, left=Axis(t("reports.contacts")),
                      bars=[Series(k, col(k), COLORS[k], t(f"report.col.{k}"))
                            for k in ("handled", "abandoned", "flowed_out")])
    if name == "abandon":
        return render(title=t("reports.chart.abandon"), labels=labels, empty=empty,
                      left=Axis(t("report.col.abandon_rate"), percent=True),
                      lines=[Series("abandon_rate", col("abandon_rate"), COLORS["abandon_rate"],
                                    t("report.col.abandon_rate"))])
    if name == "aht":
        return render(title=t("reports.chart.aht"), labels=labels, empty=empty, left=Axis(t("reports.seconds")),
                      bars=[Series(k, col(f"avg_{k}_s"), COLORS[k], t(f"report.col.avg_{k}_s"))
                            for k in ("talk", "hold", "acw")])
    if name == "occupancy":
        totals = report.totals
        names = [str(r.get("agent_name") or r.get("team_name") or r.get("agent_id") or "") for r in totals]
        return render(title=t("reports.chart.occupancy"), labels=names, empty=empty,
                      left=Axis(t("report.col.occupancy"), percent=True, maximum=1.0),
                      bars=[Series("occupancy", [r.get("occupancy") for r in totals], COLORS["occupancy"],
                                   t("report.col.occupancy"))],
                      lines=[Series("utilization", [r.get("utilization") for r in totals], COLORS["utilization"],
                                    t("report.col.utilization"))])
    raise KeyError(name)


CHARTS = ("service_level", "volume", "abandon", "aht", "occupancy")
