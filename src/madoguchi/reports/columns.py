"""Column containers the report engine works on: events, contacts, legs, spans, cases.

Times are integer epoch milliseconds (``at`` floored to the millisecond) and durations integer
milliseconds, so every sum is exact and the live roll-ups and the full recompute agree to the unit.
``NULL`` marks a time or duration that does not exist (yet)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any, Self

import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]
Flags = npt.NDArray[np.bool_]

NULL = np.iinfo(np.int64).min
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MS = timedelta(milliseconds=1)

#: Contact event types the engine reads; any other type is ignored (code 0).
EVENT_TYPES: dict[str, int] = {
    "arrived": 1, "queued": 2, "requeued": 3, "offered": 4, "accepted": 5, "held": 6, "resumed": 7,
    "transferred": 8, "ended": 9, "wrapped_up": 10, "abandoned": 11, "flowed_out": 12,
    "callback_requested": 13, "csat": 14,
}
#: Agent states as span codes; offline (and anything unknown) is 0.
SPAN_STATES: dict[str, int] = {"available": 1, "busy": 2, "wrap_up": 3, "break": 4}


class Outcome(IntEnum):
    """How a leg left the queue."""

    WAITING = 0
    HANDLED = 1
    ABANDONED = 2
    FLOWED_OUT = 3
    OTHER = 4


OUTCOME_NAMES = {o.value: o.name.lower() for o in Outcome}


def epoch_ms(value: datetime) -> int:
    """Floor an aware datetime to epoch milliseconds (the SQL loaders compute the same)."""
    return (value - EPOCH) // MS


def from_ms(value: int) -> datetime:
    return EPOCH + timedelta(milliseconds=value)


def ints(values: Iterable[Any] | Sequence[Any] = ()) -> Ints:
    return np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=np.int64)


class Vocab:
    """Small integer codes for strings (channel kinds), shared by everything computed together."""

    def __init__(self, words: Iterable[str] = ()) -> None:
        self.words: list[str] = [""]
        self._codes: dict[str, int] = {"": 0}
        for word in words:
            self.code(word)

    def code(self, word: str | None) -> int:
        key = word or ""
        found = self._codes.get(key)
        if found is None:
            found = self._codes[key] = len(self.words)
            self.words.append(key)
        return found

    def codes(self, words: Iterable[str | None]) -> Ints:
        return ints(self.code(w) for w in words)

    def word(self, code: int) -> str:
        return self.words[code]


class _Columns:
    """Equal-length numpy columns; ``take`` selects rows, ``concat`` stacks."""

    def __len__(self) -> int:
        first = fields(self)[0]  # type: ignore[arg-type]
        return len(getattr(self, first.name))

    def take(self, index: npt.NDArray[Any]) -> Self:
        return type(self)(**{f.name: getattr(self, f.name)[index] for f in fields(self)})  # type: ignore[arg-type]

    @classmethod
    def concat(cls, parts: Sequence[Self]) -> Self:
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts])
                      for f in fields(cls)})  # type: ignore[arg-type]

    @classmethod
    def empty(cls) -> Self:
        return cls(**{f.name: np.zeros(0, dtype=np.int64) for f in fields(cls)})  # type: ignore[arg-type]


@dataclass(frozen=True)
class EventColumns(_Columns):
    """Contact events in id order. ``disposition_id``, ``auto`` and ``score`` come from ``data``
    (wrapped_up, csat); 0 where there is none."""

    id: Ints
    contact_id: Ints
    type: Ints
    at_ms: Ints
    queue_id: Ints
    agent_id: Ints
    disposition_id: Ints
    auto: Ints
    score: Ints


@dataclass(frozen=True)
class ContactColumns(_Columns):
    """Contacts sorted by id; ``channel`` is a Vocab code, ``disposition_id`` the fallback for a
    wrap-up event that names none."""

    id: Ints
    channel: Ints
    inbound: Ints
    case_id: Ints
    created_ms: Ints
    disposition_id: Ints


@dataclass(frozen=True)
class LegColumns(_Columns):
    """One row per stay of a contact in a queue (docs/reports.md §1)."""

    contact_id: Ints
    leg: Ints
    queue_id: Ints
    channel: Ints
    inbound: Ints
    arrived_ms: Ints
    queued_ms: Ints
    outcome: Ints
    left_ms: Ints
    wait_ms: Ints
    agent_id: Ints
    answered_ms: Ints
    ended_ms: Ints
    wrapped_ms: Ints
    hold_ms: Ints
    talk_ms: Ints
    acw_ms: Ints
    handle_ms: Ints
    transferred: Ints
    disposition_id: Ints
    auto_wrap: Ints
    offers: Ints
    csat: Ints


@dataclass(frozen=True)
class SpanColumns(_Columns):
    """Closed agent state spans; ``state`` is a SPAN_STATES code."""

    id: Ints
    agent_id: Ints
    state: Ints
    start_ms: Ints
    end_ms: Ints


@dataclass(frozen=True)
class CaseColumns(_Columns):
    """Cases; ``resolved_ms`` is NULL for an open case."""

    id: Ints
    resolved_ms: Ints


@dataclass(frozen=True)
class CaseFacts(_Columns):
    """One row per resolved case: where it counts and whether it was resolved at first contact."""

    case_id: Ints
    resolved_ms: Ints
    queue_id: Ints
    channel: Ints
    agent_id: Ints
    inbound: Ints
    reopened: Ints
    fcr: Ints
