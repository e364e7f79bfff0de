from __future__ import annotations

import pytest

from madoguchi.agents.states import BREAK_REASONS, ROUTABLE, AgentMove, AgentState, check_break_reason, move
from madoguchi.kernel.errors import IllegalTransition, InvalidInput


def test_a_shift() -> None:
    state = AgentState.OFFLINE
    for step, expected in [(AgentMove.LOG_IN, "available"), (AgentMove.START_WORK, "busy"),
                           (AgentMove.WORK_DONE, "wrap_up"), (AgentMove.ALL_DONE, "available"),
                           (AgentMove.TAKE_BREAK, "break"), (AgentMove.GO_AVAILABLE, "available"),
                           (AgentMove.LOG_OUT, "offline")]:
        state = move(state, step)
        assert state == expected


def test_work_cannot_start_on_break_or_offline() -> None:
    for state in ("break", "offline"):
        with pytest.raises(IllegalTransition):
            move(state, AgentMove.START_WORK)


def test_only_available_and_busy_are_routable() -> None:
    assert {AgentState.AVAILABLE, AgentState.BUSY} == ROUTABLE


def test_break_needs_a_known_reason() -> None:
    assert check_break_reason("lunch") == "lunch"
    for bad in (None, "", "nap", "LUNCH"):
        with pytest.raises(InvalidInput):
            check_break_reason(bad)
    assert "other" in BREAK_REASONS
