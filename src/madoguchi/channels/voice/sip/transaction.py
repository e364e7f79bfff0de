"""RFC 3261 §17 transactions over UDP, on an injectable timer source.

Each class is the state machine of one figure of §17: INVITE client (fig. 5), non-INVITE client
(fig. 6), INVITE server (fig. 7), non-INVITE server (fig. 8). They send through a callable and
tell their owner (the transaction user) through callbacks; they never raise out of a timer."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Callable
from enum import StrEnum
from typing import Protocol

from madoguchi.channels.voice.sip.message import Headers, SipRequest, SipResponse

logger = logging.getLogger(__name__)

T1 = 0.5  # §17.1.1.1: RTT estimate
T2 = 4.0  # maximum retransmit interval for non-INVITE requests and INVITE responses
T4 = 5.0  # maximum time a message stays in the network
Address = tuple[str, int]
Send = Callable[[bytes, Address], None]


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Timers(Protocol):
    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle: ...


class LoopTimers:
    """Timers on the running asyncio loop."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        return asyncio.get_running_loop().call_later(delay, callback)


class _FakeHandle:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeTimers:
    """A virtual clock for tests: ``advance`` runs every timer that falls due, in order."""

    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[tuple[float, int, _FakeHandle, Callable[[], None]]] = []
        self._seq = itertools.count()

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        handle = _FakeHandle()
        heapq.heappush(self._heap, (self.now + delay, next(self._seq), handle, callback))
        return handle

    def advance(self, seconds: float) -> None:
        until = self.now + seconds
        while self._heap and self._heap[0][0] <= until:
            due, _, handle, callback = heapq.heappop(self._heap)
            self.now = due
            if not handle.cancelled:
                callback()
        self.now = until

    @property
    def pending(self) -> int:
        return sum(1 for _, _, h, _ in self._heap if not h.cancelled)


class TxState(StrEnum):
    CALLING = "calling"
    TRYING = "trying"
    PROCEEDING = "proceeding"
    COMPLETED = "completed"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


class _Transaction:
    def __init__(self, request: SipRequest, peer: Address, *, send: Send, timers: Timers,
                 on_terminated: Callable[[_Transaction], None] | None = None) -> None:
        self.request = request
        self.peer = peer
        self.send = send
        self.timers = timers
        self.state = TxState.TRYING
        self._handles: dict[str, TimerHandle] = {}
        self._on_terminated = on_terminated

    @property
    def branch(self) -> str:
        return self.request.top_via.branch

    def _start(self, name: str, delay: float, callback: Callable[[], None]) -> None:
        self._stop(name)

        def fire() -> None:
            self._handles.pop(name, None)
            if self.state is TxState.TERMINATED:
                return
            try:
                callback()
            except Exception:  # a timer must never take the loop down
                logger.exception("SIP timer %s failed", name)

        self._handles[name] = self.timers.call_later(delay, fire)

    def _stop(self, *names: str) -> None:
        for name in names:
            handle = self._handles.pop(name, None)
            if handle is not None:
                handle.cancel()

    def terminate(self) -> None:
        if self.state is TxState.TERMINATED:
            return
        self.state = TxState.TERMINATED
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()
        if self._on_terminated is not None:
            self._on_terminated(self)


# --- server ----------------------------------------------------------------------------------------

class ServerInviteTransaction(_Transaction):
    """§17.2.1 (fig. 7). A 2xx ends it; the dialog retransmits the 2xx until the ACK (§13.3.1.4)."""

    def __init__(self, request: SipRequest, peer: Address, *, send: Send, timers: Timers,
                 on_terminated: Callable[[_Transaction], None] | None = None,
                 on_timeout: Callable[[], None] | None = None) -> None:
        super().__init__(request, peer, send=send, timers=timers, on_terminated=on_terminated)
        self.state = TxState.PROCEEDING
        self.last_response: SipResponse | None = None
        self._on_timeout = on_timeout

    def respond(self, response: SipResponse) -> None:
        if self.state is not TxState.PROCEEDING:
            return
        self.last_response = response
        data = response.to_bytes()
        self.send(data, self.peer)
        if response.status < 200:
            return
        if response.status < 300:
            self.terminate()
            return
        self.state = TxState.COMPLETED
        self._retransmit_g(data, T1)
        self._start("H", 64 * T1, self._timer_h)

    def _retransmit_g(self, data: bytes, interval: float) -> None:
        def fire() -> None:
            if self.state is TxState.COMPLETED:
                self.send(data, self.peer)
                self._retransmit_g(data, min(2 * interval, T2))

        self._start("G", interval, fire)

    def _timer_h(self) -> None:
        logger.info("no ACK for a final response to INVITE %s", self.request.call_id)
        self.terminate()
        if self._on_timeout is not None:
            self._on_timeout()

    def on_retransmission(self) -> None:
        if self.state in (TxState.PROCEEDING, TxState.COMPLETED) and self.last_response is not None:
            self.send(self.last_response.to_bytes(), self.peer)

    def on_ack(self) -> None:
        if self.state is TxState.COMPLETED:
            self.state = TxState.CONFIRMED
            self._stop("G", "H")
            self._start("I", T4, self.terminate)


class ServerNonInviteTransaction(_Transaction):
    """§17.2.2 (fig. 8)."""

    def __init__(self, request: SipRequest, peer: Address, *, send: Send, timers: Timers,
                 on_terminated: Callable[[_Transaction], None] | None = None) -> None:
        super().__init__(request, peer, send=send, timers=timers, on_terminated=on_terminated)
        self.last_response: SipResponse | None = None

    def respond(self, response: SipResponse) -> None:
        if self.state not in (TxState.TRYING, TxState.PROCEEDING):
            return
        self.last_response = response
        self.send(response.to_bytes(), self.peer)
        if response.status < 200:
            self.state = TxState.PROCEEDING
        else:
            self.state = TxState.COMPLETED
            self._start("J", 64 * T1, self.terminate)

    def on_retransmission(self) -> None:
        if self.last_response is not None and self.state in (TxState.PROCEEDING, TxState.COMPLETED):
            self.send(self.last_response.to_bytes(), self.peer)


# --- client ----------------------------------------------------------------------------------------

OnResponse = Callable[[SipResponse], None]


class ClientInviteTransaction(_Transaction):
    """§17.1.1 (fig. 5). ACKs a non-2xx final itself (§17.1.1.3); a 2xx goes to the dialog."""

    def __init__(self, request: SipRequest, peer: Address, *, send: Send, timers: Timers, on_response: OnResponse,
                 on_timeout: Callable[[], None], on_terminated: Callable[[_Transaction], None] | None = None) -> None:
        super().__init__(request, peer, send=send, timers=timers, on_terminated=on_terminated)
        self._on_response = on_response
        self._on_timeout = on_timeout
        self._ack: bytes | None = None

    def start(self) -> None:
        self.state = TxState.CALLING
        data = self.request.to_bytes()
        self.send(data, self.peer)
        self._timer_a(data, T1)
        self._start("B", 64 * T1, self._timeout)

    def _timer_a(self, data: bytes, interval: float) -> None:
        def fire() -> None:
            if self.state is TxState.CALLING:
                self.send(data, self.peer)
                self._timer_a(data, 2 * interval)

        self._start("A", interval, fire)

    def _timeout(self) -> None:
        self.terminate()
        self._on_timeout()

    def on_response(self, response: SipResponse) -> None:
        if self.state in (TxState.CALLING, TxState.PROCEEDING):
            if response.status < 200:
                self.state = TxState.PROCEEDING
                self._stop("A", "B")
                self._on_response(response)
            elif response.status < 300:
                self.terminate()
                self._on_response(response)
            else:
                self._ack = build_ack_for_failure(self.request, response).to_bytes()
                self.send(self._ack, self.peer)
                self.state = TxState.COMPLETED
                self._stop("A", "B")
                self._start("D", 32.0, self.terminate)
                self._on_response(response)
        elif self.state is TxState.COMPLETED and response.status >= 300 and self._ack is not None:
            self.send(self._ack, self.peer)  # the response was retransmitted: our ACK was lost


class ClientNonInviteTransaction(_Transaction):
    """§17.1.2 (fig. 6)."""

    def __init__(self, request: SipRequest, peer: Address, *, send: Send, timers: Timers, on_response: OnResponse,
                 on_timeout: Callable[[], None], on_terminated: Callable[[_Transaction], None] | None = None) -> None:
        super().__init__(request, peer, send=send, timers=timers, on_terminated=on_terminated)
        self._on_response = on_response
        self._on_timeout = on_timeout

    def start(self) -> None:
        self.state = TxState.TRYING
        data = self.request.to_bytes()
        self.send(data, self.peer)
        self._timer_e(data, T1)
        self._start("F", 64 * T1, self._timeout)

    def _timer_e(self, data: bytes, interval: float) -> None:
        def fire() -> None:
            if self.state in (TxState.TRYING, TxState.PROCEEDING):
                self.send(data, self.peer)
                self._timer_e(data, T2 if self.state is TxState.PROCEEDING else min(2 * interval, T2))

        self._start("E", interval, fire)

    def _timeout(self) -> None:
        self.terminate()
        self._on_timeout()

    def on_response(self, response: SipResponse) -> None:
        if self.state not in (TxState.TRYING, TxState.PROCEEDING):
            return
        if response.status < 200:
            self.state = TxState.PROCEEDING
            self._on_response(response)
            return
        self.state = TxState.COMPLETED
        self._stop("E", "F")
        self._start("K", T4, self.terminate)
        self._on_response(response)


def build_ack_for_failure(invite: SipRequest, response: SipResponse) -> SipRequest:
    """§17.1.1.3: same Request-URI, Call-ID, From, CSeq number and top Via; To from the response."""
    headers = Headers()
    headers.add("via", invite.headers.get_all("via")[0])
    for route in invite.headers.get_all("route"):
        headers.add("route", route)
    headers.add("max-forwards", "70")
    headers.add("from", invite.headers.get("from") or "")
    headers.add("to", response.headers.get("to") or "")
    headers.add("call-id", invite.call_id)
    headers.add("cseq", f"{invite.cseq[0]} ACK")
    return SipRequest(headers=headers, body=b"", method="ACK", uri=invite.uri)
