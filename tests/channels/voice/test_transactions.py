"""RFC 3261 §17 transactions on a fake clock: retransmissions, timeouts, ACK handling."""

from __future__ import annotations

import itertools

from madoguchi.channels.voice.sip.message import SipRequest, SipResponse, parse, response_to
from madoguchi.channels.voice.sip.transaction import (
    T1,
    T2,
    ClientInviteTransaction,
    ClientNonInviteTransaction,
    FakeTimers,
    ServerInviteTransaction,
    ServerNonInviteTransaction,
    TxState,
)

PEER = ("127.0.0.1", 5061)


def request(method: str) -> SipRequest:
    message = parse((f"{method} sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK1\r\n"
                     f"From: <sip:a@h>;tag=1\r\nTo: <sip:x@h>\r\nCall-ID: c\r\nCSeq: 1 {method}\r\n\r\n").encode())
    assert isinstance(message, SipRequest)
    return message


class Wire:
    def __init__(self) -> None:
        self.sent: list[tuple[float, bytes]] = []
        self.timers = FakeTimers()

    def send(self, data: bytes, address: tuple[str, int]) -> None:
        self.sent.append((self.timers.now, data))

    def times(self, start: bytes) -> list[float]:
        return [round(t, 3) for t, d in self.sent if d.startswith(start)]


def test_invite_client_retransmits_on_timer_a_doubling_and_times_out_at_b() -> None:
    wire, timeouts = Wire(), []
    tx = ClientInviteTransaction(request("INVITE"), PEER, send=wire.send, timers=wire.timers,
                                 on_response=lambda r: None, on_timeout=lambda: timeouts.append(1))
    tx.start()
    wire.timers.advance(64 * T1)
    assert wire.times(b"INVITE") == [0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]  # A: T1, 2T1, 4T1, …
    assert timeouts == [1] and tx.state is TxState.TERMINATED


def test_invite_client_stops_at_a_provisional_and_acks_a_failure_itself() -> None:
    wire, got = Wire(), []
    invite = request("INVITE")
    tx = ClientInviteTransaction(invite, PEER, send=wire.send, timers=wire.timers, on_response=got.append,
                                 on_timeout=lambda: None)
    tx.start()
    tx.on_response(response_to(invite, 180, "Ringing", to_tag="t"))
    wire.timers.advance(10)
    assert wire.times(b"INVITE") == [0] and tx.state is TxState.PROCEEDING
    busy = response_to(invite, 486, "Busy Here", to_tag="t")
    tx.on_response(busy)
    tx.on_response(busy)  # retransmitted: ACK again
    acks = [d for _, d in wire.sent if d.startswith(b"ACK")]
    assert len(acks) == 2 and b"branch=z9hG4bK1" in acks[0] and b"tag=t" in acks[0]  # §17.1.1.3
    assert [r.status for r in got] == [180, 486]
    wire.timers.advance(32)
    assert tx.state is TxState.TERMINATED


def test_non_invite_client_caps_timer_e_at_t2() -> None:
    wire = Wire()
    tx = ClientNonInviteTransaction(request("BYE"), PEER, send=wire.send, timers=wire.timers,
                                    on_response=lambda r: None, on_timeout=lambda: None)
    tx.start()
    wire.timers.advance(12)
    times = wire.times(b"BYE")
    assert times[:5] == [0, 0.5, 1.5, 3.5, 7.5]
    assert all(b - a <= T2 + 1e-9 for a, b in itertools.pairwise(times))
    tx.on_response(response_to(tx.request, 200, "OK"))
    sent = len(wire.sent)
    wire.timers.advance(5)
    assert len(wire.sent) == sent and tx.state is TxState.TERMINATED  # K = T4


def test_invite_server_retransmits_a_failure_until_ack_then_absorbs() -> None:
    wire = Wire()
    invite = request("INVITE")
    tx = ServerInviteTransaction(invite, PEER, send=wire.send, timers=wire.timers)
    tx.respond(response_to(invite, 100, "Trying"))
    tx.on_retransmission()
    assert wire.times(b"SIP/2.0 100") == [0, 0]
    tx.respond(response_to(invite, 486, "Busy Here", to_tag="t"))
    wire.timers.advance(2)
    assert wire.times(b"SIP/2.0 486") == [0, 0.5, 1.5]  # G
    tx.on_ack()
    assert tx.state is TxState.CONFIRMED
    wire.timers.advance(5)
    assert tx.state is TxState.TERMINATED and wire.times(b"SIP/2.0 486") == [0, 0.5, 1.5]


def test_invite_server_gives_up_at_timer_h_without_ack() -> None:
    wire, timeouts = Wire(), []
    invite = request("INVITE")
    tx = ServerInviteTransaction(invite, PEER, send=wire.send, timers=wire.timers,
                                 on_timeout=lambda: timeouts.append(1))
    tx.respond(response_to(invite, 603, "Decline", to_tag="t"))
    wire.timers.advance(64 * T1)
    assert timeouts == [1] and tx.state is TxState.TERMINATED
    assert max(b - a for a, b in itertools.pairwise(wire.times(b"SIP/2.0 603"))) == T2


def test_a_2xx_ends_the_invite_server_transaction() -> None:
    wire = Wire()
    invite = request("INVITE")
    tx = ServerInviteTransaction(invite, PEER, send=wire.send, timers=wire.timers)
    tx.respond(response_to(invite, 200, "OK", to_tag="t"))
    assert tx.state is TxState.TERMINATED and wire.timers.pending == 0


def test_non_invite_server_answers_retransmissions_and_ends_at_j() -> None:
    wire = Wire()
    tx = ServerNonInviteTransaction(request("BYE"), PEER, send=wire.send, timers=wire.timers)
    tx.respond(response_to(tx.request, 200, "OK"))
    tx.on_retransmission()
    assert len(wire.times(b"SIP/2.0 200")) == 2
    wire.timers.advance(64 * T1)
    assert tx.state is TxState.TERMINATED


def test_responses_parse_back() -> None:
    response = response_to(request("OPTIONS"), 200, "OK")
    assert isinstance(parse(response.to_bytes()), SipResponse)
