"""Roll-up rows from legs, case facts and agent spans (docs/reports.md §2), pure and vectorised.

A set of legs with weights (+1 for the new state of a contact, −1 for the old one) turns into
additive sums per (grain, bucket, dimension, keys); the live worker adds such deltas and the full
recompute writes the sums of everything with weight +1. Same code, same numbers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from madoguchi.reports.columns import NULL, CaseFacts, Ints, LegColumns, Outcome, SpanColumns, epoch_ms

BUCKET_MS = 900_000  # 15 minutes; every real UTC offset is a multiple of it
GRAINS = ("15m", "30m", "60m", "day")
QUARTER, HALF, HOUR, DAY = 0, 1, 2, 3
#: ``queue`` sums every channel of a queue; ``channel`` splits it by channel.
DIMS = ("queue", "agent", "disposition", "channel")
QUEUE, AGENT, DISPOSITION, CHANNEL = 0, 1, 2, 3
KEYS = ("dim", "bucket_ms", "queue_id", "channel", "agent_id", "disposition_id")

MEASURES = (
    "offered", "handled", "handled_in_t", "abandoned", "abandoned_short", "abandoned_in_t", "flowed_out",
    "flowed_out_in_t", "wait_handled_ms", "wait_left_ms", "transferred", "handle_n", "handle_ms", "talk_ms",
    "hold_ms", "acw_ms", "csat_n", "csat_sum", "csat_good", "cases_resolved", "cases_fcr", "available_ms",
    "busy_ms", "wrap_ms", "break_ms", "logged_in_ms",
)
SPAN_MEASURES = {1: "available_ms", 2: "busy_ms", 3: "wrap_ms", 4: "break_ms"}


@dataclass(frozen=True)
class Thresholds:
    """Per queue: T and the short-abandon limit, in ms. Legs of a queue without its own use the
    defaults."""

    default_t_ms: int = 60_000
    default_short_ms: int = 5_000
    by_queue: Mapping[int, tuple[int, int]] = field(default_factory=dict)

    def lookup(self, queue_ids: Ints) -> tuple[Ints, Ints]:
        size = max([*self.by_queue, int(queue_ids.max()) if len(queue_ids) else 0]) + 1
        t = np.full(size, self.default_t_ms, dtype=np.int64)
        s = np.full(size, self.default_short_ms, dtype=np.int64)
        for queue_id, (t_ms, short_ms) in self.by_queue.items():
            t[queue_id], s[queue_id] = t_ms, short_ms
        safe = np.maximum(queue_ids, 0)
        return t[safe], s[safe]


class Days:
    """Local intervals of one time zone as epoch ms: 30 and 60 minutes and days (the grains'
    buckets), folded from UTC quarter hours."""

    def __init__(self, timezone: str) -> None:
        self.zone = ZoneInfo(timezone)

    def start_ms(self, day: date) -> int:
        return epoch_ms(datetime.combine(day, time(0), self.zone))

    def day_of(self, ms: int) -> date:
        return (datetime.fromtimestamp(ms / 1000, self.zone)).date()

    def floor(self, ms: Ints) -> Ints:
        """The local midnight at or before each time."""
        if len(ms) == 0:
            return ms.copy()
        first, last = self.day_of(int(ms.min())), self.day_of(int(ms.max()))
        edges = np.asarray([self.start_ms(first + timedelta(days=i)) for i in range((last - first).days + 2)],
                           dtype=np.int64)
        return edges[np.searchsorted(edges, ms, side="right") - 1]

    def floor_minutes(self, ms: Ints, width_ms: int) -> Ints:
        """The start of the local ``width_ms`` interval (30 or 60 min) of each quarter-hour bucket."""
        if len(ms) == 0:
            return ms.copy()
        low = int(ms.min())
        quarters = (int(ms.max()) - low) // BUCKET_MS + 1
        if quarters <= len(ms):
            # One offset per quarter hour of the range (a recompute: many rows, a bounded range).
            offsets = np.asarray([self._offset_ms(low + i * BUCKET_MS) for i in range(quarters)], np.int64)
            offset = offsets[(ms - low) // BUCKET_MS]
        else:
            # One per distinct bucket (a live batch: few rows, maybe far apart).
            distinct, inverse = np.unique(ms, return_inverse=True)
            offset = np.asarray([self._offset_ms(v) for v in distinct.tolist()], np.int64)[inverse]
        return ms - (ms + offset) % width_ms

    def _offset_ms(self, ms: int) -> int:
        delta = datetime.fromtimestamp(ms / 1000, self.zone).utcoffset() or timedelta(0)
        return int(delta.total_seconds() * 1000)

    def bucket_of(self, grain: int) -> Callable[[Ints], Ints]:
        if grain == DAY:
            return self.floor
        width = {HALF: 1_800_000, HOUR: 3_600_000}[grain]
        return lambda ms: self.floor_minutes(ms, width)


@dataclass
class Piece:
    """Roll-up rows of one grain and dimension, with the measures that dimension carries (the
    others are zero)."""

    grain: int
    keys: dict[str, Ints]
    sums: dict[str, Ints]

    def __len__(self) -> int:
        return len(self.keys["dim"])


class Cube:
    """Roll-up rows: keys (``grain`` 0 = 15m, 1 = day; ``dim`` QUEUE/AGENT/DISPOSITION; ``channel``
    a Vocab code) and one column per measure. Kept as pieces; ``grain``, ``keys`` and ``measures``
    put them together (zeros where a piece has no such measure) when asked."""

    def __init__(self, pieces: list[Piece]) -> None:
        self.pieces = pieces

    def __len__(self) -> int:
        return sum(len(p) for p in self.pieces)

    @cached_property
    def grain(self) -> Ints:
        return np.concatenate([np.full(len(p), p.grain, np.int64) for p in self.pieces] or [np.zeros(0, np.int64)])

    @cached_property
    def keys(self) -> dict[str, Ints]:
        return {k: np.concatenate([p.keys[k] for p in self.pieces] or [np.zeros(0, np.int64)]) for k in KEYS}

    @cached_property
    def measures(self) -> dict[str, Ints]:
        return {m: np.concatenate([p.sums[m] if m in p.sums else np.zeros(len(p), np.int64) for p in self.pieces]
                                  or [np.zeros(0, np.int64)]) for m in MEASURES}


@dataclass
class _Part:
    """Rows of one dimension: keys, a weight (+1 / −1), 0/1 ``flags`` (each counts the weight) and
    ``sums`` (already weighted)."""

    keys: dict[str, Ints]
    weight: Ints
    flags: dict[str, npt.NDArray[np.bool_]]
    sums: dict[str, Ints]

    def __len__(self) -> int:
        return len(self.weight)


QUEUE_FLAGS = ("offered", "handled", "handled_in_t", "abandoned", "abandoned_short", "abandoned_in_t", "flowed_out",
               "flowed_out_in_t", "transferred", "handle_n", "csat_n", "csat_good")
HANDLE_SUMS = ("handle_ms", "talk_ms", "hold_ms", "acw_ms")
#: What each dimension counts of a leg: queues everything; agents what they handled; dispositions
#: the handle time of the legs wrapped up with them.
DIM_FLAGS = {QUEUE: QUEUE_FLAGS, CHANNEL: QUEUE_FLAGS,
             AGENT: ("handled", "handled_in_t", "transferred", "handle_n", "csat_n", "csat_good"),
             DISPOSITION: ("handle_n", "csat_n", "csat_good")}
DIM_SUMS = {QUEUE: ("wait_handled_ms", "wait_left_ms", *HANDLE_SUMS, "csat_sum"),
            CHANNEL: ("wait_handled_ms", "wait_left_ms", *HANDLE_SUMS, "csat_sum"),
            AGENT: ("wait_handled_ms", *HANDLE_SUMS, "csat_sum"),
            DISPOSITION: (*HANDLE_SUMS, "csat_sum")}


def _leg_parts(legs: LegColumns, weight: Ints, thresholds: Thresholds) -> list[_Part]:
    if len(legs) == 0:
        return []
    t_ms, short_ms = thresholds.lookup(legs.queue_id)
    wait = legs.wait_ms
    handled = legs.outcome == Outcome.HANDLED
    abandoned = legs.outcome == Outcome.ABANDONED
    flowed = legs.outcome == Outcome.FLOWED_OUT
    in_t = (wait != NULL) & (wait <= t_ms)
    final = legs.handle_ms != NULL
    rated = legs.csat > 0
    flags = {
        "offered": np.ones(len(legs), dtype=bool), "handled": handled, "handled_in_t": handled & in_t,
        "abandoned": abandoned, "abandoned_short": abandoned & (wait <= short_ms), "abandoned_in_t": abandoned & in_t,
        "flowed_out": flowed, "flowed_out_in_t": flowed & in_t, "transferred": legs.transferred == 1,
        "handle_n": final, "csat_n": rated, "csat_good": legs.csat >= 4,
    }

    def weighted(flag: npt.NDArray[np.bool_], value: Ints) -> Ints:
        return np.where(flag, value * weight, 0)

    sums = {"wait_handled_ms": weighted(handled, wait), "wait_left_ms": weighted(handled | abandoned | flowed, wait),
            "handle_ms": weighted(final, legs.handle_ms), "talk_ms": weighted(final, legs.talk_ms),
            "hold_ms": weighted(final, legs.hold_ms), "acw_ms": weighted(final, legs.acw_ms),
            "csat_sum": weighted(rated, legs.csat)}
    bucket = legs.queued_ms - legs.queued_ms % BUCKET_MS
    zero = np.zeros(len(legs), dtype=np.int64)

    def part(dim: int, rows: npt.NDArray[np.bool_] | None, agent: Ints, disposition: Ints) -> _Part:
        def pick(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
            return values if rows is None else values[rows]

        keys = {"dim": np.full(len(pick(bucket)), dim, dtype=np.int64), "bucket_ms": pick(bucket),
                "queue_id": pick(legs.queue_id), "channel": pick(zero if dim == QUEUE else legs.channel),
                "agent_id": pick(agent), "disposition_id": pick(disposition)}
        return _Part(keys, pick(weight), {n: pick(flags[n]) for n in DIM_FLAGS[dim]},
                     {n: pick(sums[n]) for n in DIM_SUMS[dim]})

    return [part(QUEUE, None, zero, zero), part(CHANNEL, None, zero, zero),
            part(AGENT, legs.agent_id > 0, legs.agent_id, zero),
            part(DISPOSITION, legs.wrapped_ms != NULL, zero, legs.disposition_id)]


def _case_parts(cases: CaseFacts, weight: Ints) -> list[_Part]:
    if len(cases) == 0:
        return []
    bucket = cases.resolved_ms - cases.resolved_ms % BUCKET_MS
    flags = {"cases_resolved": np.ones(len(cases), dtype=bool), "cases_fcr": cases.fcr == 1}
    zero = np.zeros(len(cases), dtype=np.int64)

    def part(dim: int, rows: npt.NDArray[np.bool_], agent: Ints) -> _Part:
        keys = {"dim": np.full(int(rows.sum()), dim, dtype=np.int64), "bucket_ms": bucket[rows],
                "queue_id": cases.queue_id[rows], "channel": (zero if dim == QUEUE else cases.channel)[rows],
                "agent_id": agent[rows], "disposition_id": zero[rows]}
        return _Part(keys, weight[rows], {n: f[rows] for n, f in flags.items()}, {})

    every = np.ones(len(cases), dtype=bool)
    return [part(QUEUE, every, zero), part(CHANNEL, every, zero), part(AGENT, cases.agent_id > 0, cases.agent_id)]


def _span_parts(spans: SpanColumns) -> list[_Part]:
    """State time per agent and 15-minute bucket: each span split at the bucket edges."""
    keep = (spans.end_ms > spans.start_ms) & (spans.state > 0)
    if not keep.any():
        return []
    s = spans.take(np.flatnonzero(keep))
    first = s.start_ms // BUCKET_MS
    pieces = (s.end_ms - 1) // BUCKET_MS - first + 1
    owner = np.repeat(np.arange(len(s)), pieces)
    offset = np.arange(len(owner)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    bucket = (first[owner] + offset) * BUCKET_MS
    duration = np.minimum(s.end_ms[owner], bucket + BUCKET_MS) - np.maximum(s.start_ms[owner], bucket)
    state = s.state[owner]
    sums = {name: np.where(state == code, duration, 0) for code, name in SPAN_MEASURES.items()}
    sums["logged_in_ms"] = duration
    zero = np.zeros(len(owner), dtype=np.int64)
    keys = {"dim": np.full(len(owner), AGENT, dtype=np.int64), "bucket_ms": bucket, "queue_id": zero,
            "channel": zero, "agent_id": s.agent_id[owner], "disposition_id": zero}
    return [_Part(keys, np.ones(len(owner), dtype=np.int64), {}, sums)]


PRESENCE_LIMIT = 1 << 25


def _dense(codes: Ints, size: int) -> tuple[Ints, int]:
    """Codes in [0, size) renumbered 0 … k−1 in code order: a presence table (no sort) while the
    table is not much larger than the data, else a sort."""
    if size <= PRESENCE_LIMIT and size <= 16 * len(codes) + 65_536:
        present = np.zeros(size, dtype=bool)
        present[codes] = True
        distinct = np.flatnonzero(present)
        number = np.empty(size, dtype=np.int64)
        number[distinct] = np.arange(len(distinct))
        return number[codes], len(distinct)
    distinct, inverse = np.unique(codes, return_inverse=True)
    return inverse.astype(np.int64), len(distinct)


def group_ids(keys: list[Ints]) -> tuple[Ints, list[Ints]]:
    """Dense group id of every row and the distinct key tuples.

    Constant columns cost nothing; the others are packed into one number, fewest distinct values
    first, and renumbered densely whenever the packed range would outgrow a presence table, so
    the numbers stay small (no sort) while the key combinations that occur are few — as in
    roll-ups, where agents work few queues."""
    n = len(keys[0])
    if n == 0:
        return np.zeros(0, dtype=np.int64), [k[:0] for k in keys]
    columns: list[tuple[Ints, int]] = []
    for k in keys:
        low, high = int(k.min()), int(k.max())
        if low == high:
            continue
        shifted = k - low
        if high - low >= PRESENCE_LIMIT and not (shifted % BUCKET_MS).any():
            shifted = shifted // BUCKET_MS  # bucket starts are multiples of 15 minutes
        span = int(shifted.max()) + 1
        columns.append(_dense(shifted, span) if span > PRESENCE_LIMIT else (shifted, span))
    gid = np.zeros(n, dtype=np.int64)
    card = 1
    for codes, size in sorted(columns, key=lambda c: c[1]):
        if card * size > PRESENCE_LIMIT:
            gid, card = _dense(gid, card)
        gid = gid * size + codes if card > 1 else codes
        card *= size
    gid, card = _dense(gid, card)
    representative = np.empty(card, dtype=np.int64)
    representative[gid] = np.arange(n)  # any row of a group will do: they share the keys
    return gid, [k[representative] for k in keys]


def _sum(gid: Ints, values: Ints, groups: int) -> Ints:
    if not values.any():
        return np.zeros(groups, dtype=np.int64)
    # Weighted bincount in float64 is exact for integer sums below 2**53 (≈ 285,000 years in ms).
    return np.rint(np.bincount(gid, weights=values.astype(np.float64), minlength=groups)).astype(np.int64)


def _flag_sums(gid: Ints, groups: int, weight: Ints, flags: dict[str, npt.NDArray[np.bool_]]) -> dict[str, Ints]:
    """Weighted counts of many 0/1 flags in one pass: each row's flags form a pattern, the weights
    are counted per (group, pattern), and each flag sums the patterns that have it."""
    names = list(flags)
    code = np.zeros(len(weight), dtype=np.int64)
    for bit, name in enumerate(names):
        code |= flags[name].astype(np.int64) << bit
    pattern, n_patterns = _dense(code, 1 << len(names))
    if groups * n_patterns > PRESENCE_LIMIT:
        return {name: _sum(gid, np.where(flag, weight, 0), groups) for name, flag in flags.items()}
    patterns = np.zeros(n_patterns, dtype=np.int64)
    patterns[pattern] = code
    counts = np.rint(np.bincount(gid * n_patterns + pattern, weights=weight.astype(np.float64),
                                 minlength=groups * n_patterns)).astype(np.int64).reshape(groups, n_patterns)
    bits = (patterns[:, None] >> np.arange(len(names))[None, :]) & 1
    summed = counts @ bits
    return {name: summed[:, i] for i, name in enumerate(names)}


def _reduce(part: _Part, bucket_of: Callable[[Ints], Ints] | None) -> tuple[dict[str, Ints], dict[str, Ints]]:
    keys = dict(part.keys)
    if bucket_of is not None:
        keys["bucket_ms"] = bucket_of(keys["bucket_ms"])
    gid, distinct = group_ids([keys[k] for k in KEYS])
    groups = len(distinct[0])
    sums = _flag_sums(gid, groups, part.weight, part.flags) if part.flags else {}
    sums.update({name: _sum(gid, values, groups) for name, values in part.sums.items()})
    return dict(zip(KEYS, distinct, strict=True)), sums


def _group(parts: list[_Part], bucket_of: Callable[[Ints], Ints] | None = None) -> tuple[dict[str, Ints],
                                                                                         dict[str, Ints]]:
    """Sum the rows of all parts per key. Each part (legs of one dimension, cases, spans) is reduced
    on its own first; the reduced parts are then added together."""
    reduced = [_reduce(p, bucket_of) for p in parts if len(p)]
    if not reduced:
        return {k: np.zeros(0, np.int64) for k in KEYS}, {}
    if len(reduced) == 1:
        keys, sums = reduced[0]
    else:
        sizes = [len(r[0]["dim"]) for r in reduced]
        merged = {k: np.concatenate([r[0][k] for r in reduced]) for k in KEYS}
        gid, distinct = group_ids([merged[k] for k in KEYS])
        groups = len(distinct[0])
        keys = dict(zip(KEYS, distinct, strict=True))
        sums = {}
        start = 0
        for (_, part_sums), size in zip(reduced, sizes, strict=True):
            rows = gid[start:start + size]
            for name, values in part_sums.items():
                total = sums.setdefault(name, np.zeros(groups, dtype=np.int64))
                np.add.at(total, rows, values) if len(rows) < 1024 else total.__iadd__(
                    _sum(rows, values, groups))
            start += size
    nonzero = np.zeros(len(keys["dim"]), dtype=bool)
    for v in sums.values():
        nonzero |= v != 0
    if nonzero.all():
        return keys, sums
    return {k: d[nonzero] for k, d in keys.items()}, {m: v[nonzero] for m, v in sums.items()}


def rollup(*, legs: LegColumns | None = None, leg_weight: Ints | None = None, cases: CaseFacts | None = None,
           case_weight: Ints | None = None, spans: SpanColumns | None = None, thresholds: Thresholds,
           days: Days) -> Cube:
    """Sums per 15, 30 and 60 minutes and per local day over everything given (weights default to +1)."""
    parts: list[_Part] = []
    if legs is not None and len(legs):
        parts += _leg_parts(legs, leg_weight if leg_weight is not None else np.ones(len(legs), np.int64), thresholds)
    if cases is not None and len(cases):
        parts += _case_parts(cases, case_weight if case_weight is not None else np.ones(len(cases), np.int64))
    if spans is not None and len(spans):
        parts += _span_parts(spans)
    pieces: list[Piece] = []
    # Dimensions never share keys: each is summed on its own, with only the measures it carries.
    for dim in sorted({int(p.keys["dim"][0]) for p in parts if len(p)}):
        quarter_keys, quarter = _group([p for p in parts if len(p) and int(p.keys["dim"][0]) == dim])
        pieces.append(Piece(QUARTER, quarter_keys, quarter))
        # Longer intervals are summed from the quarter hours: a quarter hour never straddles a local
        # half hour, hour or midnight (every real UTC offset is a multiple of 15 minutes).
        folded = _Part(quarter_keys, np.ones(len(quarter_keys["dim"]), np.int64), {}, quarter)
        for grain in (HALF, HOUR, DAY):
            keys, sums = _group([folded], days.bucket_of(grain))
            pieces.append(Piece(grain, keys, sums))
    return Cube(pieces)
