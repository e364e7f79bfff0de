"""Agent state as an explicit state machine.

The agent chooses available, break (with a reason) or offline. busy and wrap_up follow the work:
busy while the agent handles at least one contact, wrap_up while none is active but at least one
ended contact waits for its disposition. A break or offline chosen while busy takes effect for
routing at once (no new offers); the work in hand continues.
"""

from __future__ import annotations

from enum import StrEnum

from madoguchi.kernel.errors import IllegalTransition, InvalidInput


class AgentState(StrEnum):
    OFFLINE = "offline"
    AVAILABLE = "available"
    BUSY = "busy"
    WRAP_UP = "wrap_up"
    BREAK = "break"


class AgentMove(StrEnum):
    LOG_IN = "log_in"           # → available
    GO_AVAILABLE = "go_available"
    TAKE_BREAK = "take_break"
    LOG_OUT = "log_out"
    START_WORK = "start_work"   # first contact accepted
    WORK_DONE = "work_done"     # no contact left active; some wait for wrap-up
    ALL_DONE = "all_done"       # nothing active, nothing to wrap up


A, AM = AgentState, AgentMove

TRANSITIONS: dict[tuple[AgentState, AgentMove], AgentState] = {
    (A.OFFLINE, AM.LOG_IN): A.AVAILABLE,
    (A.OFFLINE, AM.GO_AVAILABLE): A.AVAILABLE,
    (A.OFFLINE, AM.TAKE_BREAK): A.BREAK,
    (A.AVAILABLE, AM.TAKE_BREAK): A.BREAK,
    (A.AVAILABLE, AM.LOG_OUT): A.OFFLINE,
    (A.AVAILABLE, AM.START_WORK): A.BUSY,
    (A.AVAILABLE, AM.GO_AVAILABLE): A.AVAILABLE,
    (A.BREAK, AM.GO_AVAILABLE): A.AVAILABLE,
    (A.BREAK, AM.TAKE_BREAK): A.BREAK,
    (A.BREAK, AM.LOG_OUT): A.OFFLINE,
    (A.BUSY, AM.START_WORK): A.BUSY,
    (A.BUSY, AM.GO_AVAILABLE): A.BUSY,
    (A.BUSY, AM.WORK_DONE): A.WRAP_UP,
    (A.BUSY, AM.ALL_DONE): A.AVAILABLE,
    (A.BUSY, AM.TAKE_BREAK): A.BREAK,
    (A.BUSY, AM.LOG_OUT): A.OFFLINE,
    (A.WRAP_UP, AM.START_WORK): A.BUSY,
    (A.WRAP_UP, AM.ALL_DONE): A.AVAILABLE,
    (A.WRAP_UP, AM.TAKE_BREAK): A.BREAK,
    (A.WRAP_UP, AM.LOG_OUT): A.OFFLINE,
    (A.WRAP_UP, AM.GO_AVAILABLE): A.AVAILABLE,
}

#: States in which the router may offer new contacts.
ROUTABLE = frozenset({A.AVAILABLE, A.BUSY})

BREAK_REASONS = ("break", "lunch", "training", "meeting", "coaching", "other")
#: Set by the system, not chosen: too many offers in a row let lapse.
MISSED_REASON = "missed"
#: Set by the system on a busy colleague whose phone is in a consultation (voice): the router
#: counts it as a call in hand, so no other call rings that phone meanwhile.
CONSULT_REASON = "consult"


def move(state: str, action: AgentMove) -> AgentState:
    try:
        return TRANSITIONS[(AgentState(state), action)]
    except (KeyError, ValueError):
        raise IllegalTransition("agent", state, action.value) from None


def check_break_reason(reason: str | None) -> str:
    if reason not in BREAK_REASONS:
        raise InvalidInput(f"break reason must be one of {', '.join(BREAK_REASONS)}", field="reason")
    return reason
