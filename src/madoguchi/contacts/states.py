"""The contact lifecycle as an explicit state machine.

    new ──queue──► queued ──offer──► offered ──accept──► active ──end──► ended ──wrap_up──► closed
                     ▲                  │                  │  ▲
                     └──reject/timeout──┘                  │  └─resume── held ◄─hold─┘
                     └───────────────transfer──────────────┘
    new/queued/offered ──abandon──► abandoned      new ──end──► ended (self-served)

An illegal move raises IllegalTransition naming the state and the move.
"""

from __future__ import annotations

from enum import StrEnum

from madoguchi.kernel.errors import IllegalTransition


class ContactState(StrEnum):
    NEW = "new"
    QUEUED = "queued"
    OFFERED = "offered"
    ACTIVE = "active"
    HELD = "held"
    ENDED = "ended"
    CLOSED = "closed"
    ABANDONED = "abandoned"


class Move(StrEnum):
    QUEUE = "queue"
    OFFER = "offer"
    REJECT = "reject"
    ACCEPT = "accept"
    HOLD = "hold"
    RESUME = "resume"
    TRANSFER = "transfer"
    END = "end"
    WRAP_UP = "wrap_up"
    ABANDON = "abandon"


S, M = ContactState, Move

TRANSITIONS: dict[tuple[ContactState, Move], ContactState] = {
    (S.NEW, M.QUEUE): S.QUEUED,
    (S.NEW, M.END): S.ENDED,
    (S.NEW, M.ABANDON): S.ABANDONED,
    (S.QUEUED, M.OFFER): S.OFFERED,
    (S.QUEUED, M.ABANDON): S.ABANDONED,
    (S.OFFERED, M.REJECT): S.QUEUED,
    (S.OFFERED, M.ACCEPT): S.ACTIVE,
    (S.OFFERED, M.ABANDON): S.ABANDONED,
    (S.ACTIVE, M.HOLD): S.HELD,
    (S.HELD, M.RESUME): S.ACTIVE,
    (S.ACTIVE, M.TRANSFER): S.QUEUED,
    (S.HELD, M.TRANSFER): S.QUEUED,
    (S.ACTIVE, M.END): S.ENDED,
    (S.HELD, M.END): S.ENDED,
    (S.ENDED, M.WRAP_UP): S.CLOSED,
}

#: States in which the contact is still with us and can receive customer messages.
OPEN_STATES = frozenset({S.NEW, S.QUEUED, S.OFFERED, S.ACTIVE, S.HELD})
#: States in which an agent owns the contact.
HANDLING_STATES = frozenset({S.ACTIVE, S.HELD})


def move(state: str, action: Move) -> ContactState:
    try:
        return TRANSITIONS[(ContactState(state), action)]
    except (KeyError, ValueError):
        raise IllegalTransition("contact", state, action.value) from None


def allowed_moves(state: str) -> set[Move]:
    return {m for (s, m) in TRANSITIONS if s == state}
