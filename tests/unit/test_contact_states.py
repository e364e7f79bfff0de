from __future__ import annotations

import pytest

from madoguchi.contacts.states import HANDLING_STATES, OPEN_STATES, TRANSITIONS, ContactState, Move, allowed_moves, move
from madoguchi.kernel.errors import IllegalTransition


def test_happy_path_of_a_chat() -> None:
    state = ContactState.NEW
    for step in (Move.QUEUE, Move.OFFER, Move.ACCEPT, Move.HOLD, Move.RESUME, Move.END, Move.WRAP_UP):
        state = move(state, step)
    assert state == ContactState.CLOSED


def test_rejected_offer_goes_back_in_line() -> None:
    assert move("offered", Move.REJECT) == ContactState.QUEUED


@pytest.mark.parametrize("state", ["closed", "abandoned"])
def test_final_states_allow_nothing(state: str) -> None:
    assert allowed_moves(state) == set()
    for step in Move:
        with pytest.raises(IllegalTransition):
            move(state, step)


def test_illegal_move_names_state_and_move() -> None:
    with pytest.raises(IllegalTransition) as err:
        move("queued", Move.ACCEPT)
    assert err.value.status == 409
    assert "queued" in err.value.message and "accept" in err.value.message


def test_unknown_state_is_illegal_not_a_crash() -> None:
    with pytest.raises(IllegalTransition):
        move("bogus", Move.QUEUE)


def test_every_state_is_reachable_from_new() -> None:
    seen = {ContactState.NEW}
    frontier = [ContactState.NEW]
    while frontier:
        state = frontier.pop()
        for step in allowed_moves(state):
            target = TRANSITIONS[(state, step)]
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(ContactState)


def test_handling_states_are_open() -> None:
    assert HANDLING_STATES <= OPEN_STATES
    assert ContactState.ENDED not in OPEN_STATES
