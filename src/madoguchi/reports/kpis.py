"""KPI formulas of ../shared/KPI.md over summed roll-up measures, pure and vectorised (one row per
interval and queue, or one row for a wallboard tile).

Service level and abandonment depend on the queue's definition, so each fine row first gets its
numerator and denominator under its own queue's definition (``parts``); rows that are then added
together (all queues, a channel) add those parts. A ratio whose denominator is zero is NaN (None
in JSON): no contacts is not 0 %."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from madoguchi.reports.cube import MEASURES
from madoguchi.reports.definitions import SlDefinition

Floats = npt.NDArray[np.float64]
Column = npt.NDArray[Any]
PARTS = ("sl_num", "sl_den", "ab_num", "ab_den")
RATIOS = ("answer_rate", "service_level", "asa_s", "avg_wait_s", "abandon_rate", "abandon_rate_all", "aht_s",
          "avg_talk_s", "avg_hold_s", "avg_acw_s", "transfer_rate", "occupancy", "utilization", "fcr_rate", "csat",
          "csat_mean")


@dataclass(frozen=True)
class Options:
    """The definitions of each row, as columns: abandons 0 after T / 1 all / 2 none; flags 0/1."""

    abandons: Column
    short_included: Column
    flow_outs_included: Column
    removed: Column
    has_definition: Column

    @classmethod
    def of(cls, definitions: Sequence[SlDefinition | None]) -> Options:
        codes = {"after_threshold": 0, "all": 1, "none": 2}

        def col(values: Iterable[int]) -> Column:
            return np.fromiter(values, dtype=np.int64, count=len(definitions))

        return cls(
            abandons=col(codes[d.abandons] if d else 2 for d in definitions),
            short_included=col(int(d is not None and d.short_abandons == "include") for d in definitions),
            flow_outs_included=col(int(d is not None and d.flow_outs == "include") for d in definitions),
            removed=col(int(d is not None and d.method == "removed") for d in definitions),
            has_definition=col(int(d is not None) for d in definitions))


def parts(m: Mapping[str, Column], o: Options) -> dict[str, Column]:
    """Service-level and abandon-rate numerator and denominator of each row under its definition."""
    short = np.where(o.short_included == 1, 0, m["abandoned_short"])
    counted = o.abandons != 2
    # Answered within T ÷ (answered + the abandons and flow-outs the definition counts).
    den_answered = (m["handled"]
                    + np.where(o.abandons == 0, m["abandoned"] - m["abandoned_in_t"]
                               + np.where(o.short_included == 1, m["abandoned_short"], 0), 0)
                    + np.where(o.abandons == 1, m["abandoned"] - short, 0)
                    + np.where(o.flow_outs_included == 1, m["flowed_out"], 0))
    # Amazon-style: left the queue within T ÷ entered it.
    num_removed = (m["handled_in_t"] + np.where(counted, m["abandoned_in_t"] - short, 0)
                   + np.where(o.flow_outs_included == 1, m["flowed_out_in_t"], 0))
    den_removed = (m["offered"] - np.where(counted, short, m["abandoned"])
                   - np.where(o.flow_outs_included == 1, 0, m["flowed_out"]))
    removed = o.removed == 1
    keep = o.has_definition == 1
    return {
        "sl_num": np.where(keep, np.where(removed, num_removed, m["handled_in_t"]), 0),
        "sl_den": np.where(keep, np.where(removed, den_removed, den_answered), 0),
        "ab_num": np.where(keep, m["abandoned"] - short, 0),
        "ab_den": np.where(keep, m["offered"] - short, 0),
    }


def _ratio(numerator: Column, denominator: Column, scale: float = 1.0) -> Floats:
    num = np.asarray(numerator, dtype=np.float64)
    den = np.asarray(denominator, dtype=np.float64)
    out = np.full(num.shape, np.nan)
    np.divide(num, den * scale, out=out, where=den != 0)
    return out


def ratios(m: Mapping[str, Column]) -> dict[str, Floats]:
    """KPIs of summed measures and parts."""
    left = m["handled"] + m["abandoned"] + m["flowed_out"]
    working = m["busy_ms"] + m["wrap_ms"]
    return {
        "answer_rate": _ratio(m["handled"], m["offered"]),
        "service_level": _ratio(m["sl_num"], m["sl_den"]),
        "asa_s": _ratio(m["wait_handled_ms"], m["handled"], 1000),
        "avg_wait_s": _ratio(m["wait_left_ms"], left, 1000),
        "abandon_rate": _ratio(m["ab_num"], m["ab_den"]),
        "abandon_rate_all": _ratio(m["abandoned"], m["offered"]),
        "aht_s": _ratio(m["handle_ms"], m["handle_n"], 1000),
        "avg_talk_s": _ratio(m["talk_ms"], m["handle_n"], 1000),
        "avg_hold_s": _ratio(m["hold_ms"], m["handle_n"], 1000),
        "avg_acw_s": _ratio(m["acw_ms"], m["handle_n"], 1000),
        "transfer_rate": _ratio(m["transferred"], m["handled"]),
        "occupancy": _ratio(working, working + m["available_ms"]),
        "utilization": _ratio(working, m["logged_in_ms"]),
        "fcr_rate": _ratio(m["cases_fcr"], m["cases_resolved"]),
        "csat": _ratio(m["csat_good"], m["csat_n"]),
        "csat_mean": _ratio(m["csat_sum"], m["csat_n"]),
    }


def plain(value: Any) -> Any:
    """A numpy scalar as JSON: NaN → None, integers as int."""
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def figures(groups: Iterable[tuple[Mapping[str, int], SlDefinition | None]]) -> dict[str, Any]:
    """Counts and KPIs of a few groups added together, each under its own definition (tiles,
    tests)."""
    listed = list(groups)
    measures = {name: np.asarray([int(g.get(name, 0)) for g, _ in listed], dtype=np.int64) for name in MEASURES}
    summed: dict[str, Column] = {k: v.sum(keepdims=True) for k, v in measures.items()}
    for name, column in parts(measures, Options.of([d for _, d in listed])).items():
        summed[name] = column.sum(keepdims=True)
    out = {name: plain(column[0]) for name, column in summed.items()}
    out.update({name: plain(column[0]) for name, column in ratios(summed).items()})
    return out
