"""Offer lifecycle: pending → accepted | rejected | timed_out | cancelled (contact abandoned)."""

from __future__ import annotations

from enum import StrEnum

from madoguchi.kernel.errors import IllegalTransition


class OfferState(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"


FINAL = frozenset({OfferState.ACCEPTED, OfferState.REJECTED, OfferState.TIMED_OUT, OfferState.CANCELLED})


def decide(state: str, outcome: OfferState) -> OfferState:
    if state != OfferState.PENDING or outcome not in FINAL:
        raise IllegalTransition("offer", state, outcome.value)
    return outcome
