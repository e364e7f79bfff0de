"""An in-memory ``Telephony`` for tests of IVR and contact-center logic without sockets.

A test drives the far ends: ``press`` digits, ``hang_up`` as the caller, ``answer`` or
``decline`` as an agent phone. Everything a leg was asked to do is in ``log``."""

from __future__ import annotations

import asyncio
from pathlib import Path

from madoguchi.channels.voice.audio import Prompt
from madoguchi.channels.voice.telephony import CallFailed, IncomingHandler, Leg, LegEventHandler, LegState, move


class FakeLeg:
    def __init__(self, leg_id: str, *, caller: str, callee: str) -> None:
        self.leg_id = leg_id
        self.caller = caller
        self.callee = callee
        self.state = LegState.RINGING
        self.end_reason: str | None = None
        self.log: list[str] = []
        self.bridged: FakeLeg | None = None
        self.conference: list[FakeLeg] | None = None   # the members, itself included
        self.music = False
        self.recording: Path | None = None
        self._digits: asyncio.Queue[str] = asyncio.Queue()
        self._ended = asyncio.Event()
        self._handlers: list[LegEventHandler] = []

    # the far end
    def press(self, digits: str) -> None:
        for digit in digits:
            self._digits.put_nowait(digit)

    def hang_up(self, reason: str = "hangup") -> None:
        self._end(reason)

    def _end(self, reason: str) -> None:
        if self.state is LegState.ENDED:
            return
        self.state = LegState.ENDED
        self.end_reason = reason
        self.log.append(f"ended:{reason}")
        self._ended.set()
        for handler in self._handlers:
            handler("ended")

    # Leg
    async def answer(self) -> None:
        self.state = move(self.state, "answer")
        self.log.append("answer")

    async def play(self, prompt: Prompt, *, barge_in: bool = False) -> None:
        self.log.append(f"play:{prompt.name}")
        await asyncio.sleep(0)

    def start_music(self, prompt: Prompt) -> None:
        self.music = True
        self.log.append("music")

    def stop_music(self) -> None:
        self.music = False

    async def collect_digits(self, *, max_digits: int, timeout_s: float, terminator: str = "#") -> str:
        digits = ""
        while len(digits) < max_digits and self.state is not LegState.ENDED:
            try:
                digit = await asyncio.wait_for(self._digits.get(), timeout_s)
            except TimeoutError:
                break
            if digit == terminator:
                break
            digits += digit
        self.log.append(f"digits:{digits}")
        return digits

    def on_event(self, handler: LegEventHandler) -> None:
        self._handlers.append(handler)

    async def hold(self) -> None:
        if self.state is LegState.ANSWERED:
            self.state = move(self.state, "hold")
            self.log.append("hold")

    async def resume(self) -> None:
        if self.state is LegState.HELD:
            self.state = move(self.state, "resume")
            self.log.append("resume")

    def start_recording(self, path: Path) -> None:
        self.recording = path

    def pause_recording(self, paused: bool) -> None:
        self.log.append(f"recording_paused:{paused}")

    async def hangup(self, reason: str = "hangup") -> None:
        self._end(reason)

    async def wait_ended(self) -> str:
        await self._ended.wait()
        return self.end_reason or "hangup"


class FakeTelephony:
    def __init__(self) -> None:
        self._handler: IncomingHandler | None = None
        self.registered: set[str] = set()
        self.ringing: dict[str, asyncio.Future[FakeLeg]] = {}   # aor → the test answers or declines
        self.calls: list[asyncio.Task[None]] = []
        self.dialled: list[str] = []
        self._n = 0

    def on_incoming(self, handler: IncomingHandler) -> None:
        self._handler = handler

    def call_in(self, *, caller: str, callee: str) -> FakeLeg:
        """A customer calls; the handler runs as a task (see ``calls``)."""
        assert self._handler is not None
        self._n += 1
        leg = FakeLeg(f"in-{self._n}", caller=caller, callee=callee)
        self.calls.append(asyncio.create_task(self._handler(leg)))
        return leg

    async def offer_call(self, *, aor: str, caller: str, caller_name: str | None, timeout_s: float) -> Leg:
        if aor not in self.registered:
            raise CallFailed("unreachable")
        future: asyncio.Future[FakeLeg] = asyncio.get_running_loop().create_future()
        self.ringing[aor] = future
        try:
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            raise CallFailed("no_answer") from None
        finally:
            self.ringing.pop(aor, None)

    async def dial(self, *, number: str, caller: str, timeout_s: float) -> Leg:
        """A call to a customer: rings ``number`` like a phone (``answer``/``decline`` it by number)."""
        self.dialled.append(number)
        future: asyncio.Future[FakeLeg] = asyncio.get_running_loop().create_future()
        self.ringing[number] = future
        try:
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            raise CallFailed("no_answer") from None
        finally:
            self.ringing.pop(number, None)

    def answer(self, aor: str) -> FakeLeg:
        self._n += 1
        leg = FakeLeg(f"out-{self._n}", caller="", callee=aor)
        leg.state = LegState.ANSWERED
        self.ringing[aor].set_result(leg)
        return leg

    def decline(self, aor: str) -> None:
        self.ringing[aor].set_exception(CallFailed("rejected"))

    def bridge(self, a: Leg, b: Leg) -> None:
        assert isinstance(a, FakeLeg) and isinstance(b, FakeLeg)
        self.unbridge(a)
        self.unbridge(b)
        a.bridged, b.bridged = b, a
        a.music = b.music = False

    def conference(self, legs: list[Leg]) -> None:
        members: list[FakeLeg] = []
        for leg in legs:
            assert isinstance(leg, FakeLeg)
            self.unbridge(leg)
            leg.music = False
            members.append(leg)
        for leg in members:
            leg.conference = members

    def unbridge(self, leg: Leg) -> None:
        assert isinstance(leg, FakeLeg)
        if leg.conference is not None:
            leg.conference.remove(leg)
            leg.conference = None
        if leg.bridged is not None:
            leg.bridged.bridged = None
        leg.bridged = None

    def is_registered(self, aor: str) -> bool:
        return aor in self.registered
