"""The narrow telephony interface the IVR and the contact-center logic use. ``SipTelephony``
implements it over SIP and RTP; ``FakeTelephony`` (fake.py) in memory, for tests."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from madoguchi.channels.voice.audio import Prompt
from madoguchi.kernel.errors import IllegalTransition


class LegState(StrEnum):
    RINGING = "ringing"      # inbound: not answered yet; outbound: calling or ringing
    ANSWERED = "answered"
    HELD = "held"
    ENDED = "ended"


_MOVES: dict[tuple[LegState, str], LegState] = {
    (LegState.RINGING, "answer"): LegState.ANSWERED,
    (LegState.RINGING, "end"): LegState.ENDED,
    (LegState.ANSWERED, "hold"): LegState.HELD,
    (LegState.HELD, "resume"): LegState.ANSWERED,
    (LegState.ANSWERED, "end"): LegState.ENDED,
    (LegState.HELD, "end"): LegState.ENDED,
}


def is_ended(leg: Leg) -> bool:
    """(A function, so type checkers do not keep a state narrowed across awaits.)"""
    return leg.state is LegState.ENDED


def move(state: LegState, action: str) -> LegState:
    try:
        return _MOVES[(state, action)]
    except KeyError:
        raise IllegalTransition("call leg", state.value, action) from None


class CallFailed(Exception):
    """An outbound call did not connect; ``reason`` is no_answer, busy, rejected, unreachable or failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


#: Why a leg ended.
END_REASONS = ("hangup", "cancelled", "no_answer", "busy", "rejected", "unreachable", "failed", "timeout",
               "not_found", "unavailable", "no_route")

LegEventHandler = Callable[[str], None]  # "held", "resumed" (by the far end's phone)


class Leg(Protocol):
    leg_id: str
    caller: str     # the calling party's user part (a phone number for customers)
    callee: str     # the called user part (the entry point's number or URI user)
    state: LegState
    end_reason: str | None

    async def answer(self) -> None: ...

    async def play(self, prompt: Prompt, *, barge_in: bool = False) -> None:
        """Return when the prompt has played, or at the first digit when ``barge_in``."""

    def start_music(self, prompt: Prompt) -> None: ...

    def stop_music(self) -> None: ...

    async def collect_digits(self, *, max_digits: int, timeout_s: float, terminator: str = "#") -> str:
        """Digits pressed (also those pressed during a prompt); "" on timeout. Stops at the
        terminator (not included), at ``max_digits``, or ``timeout_s`` after the last digit."""

    def on_event(self, handler: LegEventHandler) -> None: ...

    async def hold(self) -> None:
        """Put the far end on hold: a re-INVITE with ``a=sendonly`` (RFC 3264 §8.4); no-op unless answered."""

    async def resume(self) -> None:
        """Take the far end off hold: a re-INVITE with ``a=sendrecv``; no-op unless held by us."""

    def start_recording(self, path: Path) -> None: ...

    def pause_recording(self, paused: bool) -> None: ...

    async def hangup(self, reason: str = "hangup") -> None: ...

    async def wait_ended(self) -> str: ...


IncomingHandler = Callable[[Leg], Coroutine[Any, Any, None]]


class Telephony(Protocol):
    def on_incoming(self, handler: IncomingHandler) -> None: ...

    async def offer_call(self, *, aor: str, caller: str, caller_name: str | None, timeout_s: float) -> Leg:
        """Ring a registered phone; returns the answered leg or raises CallFailed. Cancelling the
        awaiting task cancels the call (CANCEL)."""

    async def dial(self, *, number: str, caller: str, timeout_s: float) -> Leg:
        """Call a customer's number through the outbound route (a callback); the answered leg or
        CallFailed (``no_route`` when there is none). Cancelling the awaiting task cancels the call."""

    def bridge(self, a: Leg, b: Leg) -> None: ...

    def conference(self, legs: list[Leg]) -> None:
        """Mix the legs together: each hears all the others (a leg leaves any bridge it was in)."""

    def unbridge(self, leg: Leg) -> None:
        """Take the leg out of its bridge or conference."""

    def is_registered(self, aor: str) -> bool: ...
