"""RTP headers, jitter, G.711, and RFC 4733 digits decoded from sipp's own capture files."""

from __future__ import annotations

import math

import pytest

from madoguchi.channels.voice import g711
from madoguchi.channels.voice.audio import pcm_from_samples
from madoguchi.channels.voice.dtmf import DtmfDetector, TelephoneEvent, build_event
from madoguchi.channels.voice.rtp import ReceiveStats, RtpError, RtpPacket, build_rtp, parse_rtp
from tests.channels.voice.pcap import SIPP_PCAPS, udp_payloads
from tests.support import require_service


def test_rtp_header_round_trip_and_refusals() -> None:
    packet = RtpPacket(0, 65535, 2**32 - 160, 0xDEADBEEF, b"\xff" * 160, marker=True)
    assert parse_rtp(build_rtp(packet)) == packet
    with_csrc_and_padding = bytes([0xA1, 0x00]) + build_rtp(packet)[2:12] + b"\x00" * 4 + b"ab" + b"\x00\x00\x03"
    assert parse_rtp(with_csrc_and_padding).payload == b"ab"
    for bad in (b"", b"\x80" * 11, b"\x40" + b"\x00" * 11, bytes([0x80, 200]) + b"\x00" * 10,
                bytes([0xA0, 0]) + b"\x00" * 10 + b"\x00"):
        with pytest.raises(RtpError):
            parse_rtp(bad)


def test_jitter_is_zero_for_a_steady_stream_and_grows_with_variation() -> None:
    steady, shaky = ReceiveStats(), ReceiveStats()
    for i in range(50):
        packet = RtpPacket(0, i, i * 160, 1, b"")
        steady.update(packet, i * 0.02)
        shaky.update(packet, i * 0.02 + (0.01 if i % 2 else 0))
    assert steady.jitter_ms == pytest.approx(0, abs=1e-6) and steady.lost == 0
    assert 4 < shaky.jitter_ms < 11


def test_g711_round_trips_within_quantisation_error() -> None:
    samples = [int(20000 * math.sin(i / 7)) for i in range(800)] + [32767, -32768, 0]
    pcm = pcm_from_samples(samples)
    for law in ("PCMU", "PCMA"):
        back = g711.decode(g711.encode(pcm, law), law)
        decoded = [int.from_bytes(back[i:i + 2], "little", signed=True) for i in range(0, len(back), 2)]
        assert all(abs(a - b) <= max(64, abs(a) // 14) for a, b in zip(samples, decoded, strict=True))
    zero = pcm_from_samples([0])
    assert g711.encode(zero, "PCMU") == b"\xff" and g711.encode(zero, "PCMA") == b"\xd5"
    ulaw = g711.encode(pcm, "PCMU")
    assert g711.transcode(g711.transcode(ulaw, "PCMU", "PCMA"), "PCMA", "PCMU") != b"" and len(ulaw) == 803


def test_one_digit_per_event_despite_three_end_packets_and_a_lost_end_is_recovered() -> None:
    detector = DtmfDetector()

    def pkt(ts: int, event: int, end: bool) -> RtpPacket:
        return RtpPacket(101, 0, ts, 7, build_event(TelephoneEvent(event, end, 10, 800)))

    got: list[str] = []
    for packet in [pkt(100, 5, False), pkt(100, 5, False), pkt(100, 5, True), pkt(100, 5, True), pkt(100, 5, True),
                   pkt(900, 11, False), pkt(1700, 10, False), pkt(1700, 10, True)]:
        got += detector.feed(packet)
    assert got == ["5", "#", "*"]


@pytest.mark.parametrize("name, digit", [*((f"dtmf_2833_{d}.pcap", str(d)) for d in range(10)),
                                         ("dtmf_2833_pound.pcap", "#"), ("dtmf_2833_star.pcap", "*")])
def test_digits_from_the_sipp_captures(name: str, digit: str) -> None:
    path = SIPP_PCAPS / name
    require_service("sipp's DTMF captures", path.exists(), str(path))
    detector = DtmfDetector()
    got = [d for payload in udp_payloads(path) for d in detector.feed(parse_rtp(payload))]
    assert got == [digit]
