"""RTP packets (RFC 3550 §5.1) and receive statistics (jitter §6.4.1 / A.8, sequence gaps)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

_HEADER = struct.Struct("!BBHII")


class RtpError(ValueError):
    """Not an RTP packet we accept."""


@dataclass(frozen=True, slots=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False


def parse_rtp(data: bytes) -> RtpPacket:
    if len(data) < 12:
        raise RtpError("shorter than an RTP header")
    first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(data)
    if first >> 6 != 2:
        raise RtpError("RTP version is not 2")
    offset = 12 + 4 * (first & 0x0F)  # CSRC list
    if first & 0x10:  # header extension (§5.3.1): 16-bit profile, 16-bit length in words
        if len(data) < offset + 4:
            raise RtpError("truncated header extension")
        (words,) = struct.unpack_from("!H", data, offset + 2)
        offset += 4 + 4 * words
    end = len(data)
    if first & 0x20:  # padding: the last byte counts the padding bytes, itself included
        if end == 0 or data[-1] == 0 or data[-1] > end - offset:
            raise RtpError("bad padding")
        end -= data[-1]
    if offset > end:
        raise RtpError("truncated RTP packet")
    payload_type = second & 0x7F
    if 72 <= payload_type <= 76:
        raise RtpError("RTCP on the RTP port")  # RFC 5761 §4
    return RtpPacket(payload_type, sequence, timestamp, ssrc, bytes(data[offset:end]), bool(second & 0x80))


def build_rtp(packet: RtpPacket) -> bytes:
    second = (0x80 if packet.marker else 0) | (packet.payload_type & 0x7F)
    return _HEADER.pack(0x80, second, packet.sequence & 0xFFFF, packet.timestamp & 0xFFFFFFFF,
                        packet.ssrc & 0xFFFFFFFF) + packet.payload


class ReceiveStats:
    """Counts, sequence gaps and RFC 3550 interarrival jitter (in timestamp units) of one stream."""

    def __init__(self, clock_rate: int = 8000) -> None:
        self.clock_rate = clock_rate
        self.packets = 0
        self.lost = 0
        self.jitter = 0.0
        self._last_seq: int | None = None
        self._last_transit: float | None = None

    def update(self, packet: RtpPacket, arrival_s: float) -> None:
        self.update_fields(packet.sequence, packet.timestamp, arrival_s)

    def update_fields(self, sequence: int, timestamp: int, arrival_s: float) -> None:
        """``update`` from the header fields alone (the relay path never builds an RtpPacket)."""
        self.packets += 1
        if self._last_seq is not None:
            gap = (sequence - self._last_seq) & 0xFFFF
            if 1 < gap < 3000:
                self.lost += gap - 1
        self._last_seq = sequence
        # A.8: D(i-1,i) = (Rj - Ri) - (Sj - Si); J += (|D| - J) / 16
        transit = arrival_s * self.clock_rate - timestamp
        if self._last_transit is not None:
            self.jitter += (abs(transit - self._last_transit) - self.jitter) / 16
        self._last_transit = transit

    @property
    def jitter_ms(self) -> float:
        return self.jitter * 1000 / self.clock_rate
