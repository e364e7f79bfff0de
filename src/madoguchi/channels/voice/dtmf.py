"""RFC 4733 telephone-events: decoding and digit detection.

Every packet of one event carries the same RTP timestamp (§2.5.1.2); the last packets set the
end bit (E) and are sent three times (§2.5.1.4). So a digit is reported once per (SSRC,
timestamp): at its first end packet, or, when all end packets were lost, when the next event
starts (§2.5.2.1 asks the receiver to cope with a lost end)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from madoguchi.channels.voice.rtp import RtpPacket

EVENT_CODES = "0123456789*#ABCD"  # §3.2: events 0–15


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    event: int
    end: bool
    volume: int
    duration: int

    @property
    def digit(self) -> str | None:
        return EVENT_CODES[self.event] if self.event < len(EVENT_CODES) else None


def parse_event(payload: bytes) -> TelephoneEvent:
    """§2.3: event (8 bits), E (1), R (1), volume (6), duration (16)."""
    if len(payload) < 4:
        raise ValueError("telephone-event payload is shorter than 4 bytes")
    event, flags, duration = struct.unpack_from("!BBH", payload)
    return TelephoneEvent(event, bool(flags & 0x80), flags & 0x3F, duration)


def build_event(event: TelephoneEvent) -> bytes:
    return struct.pack("!BBH", event.event, (0x80 if event.end else 0) | (event.volume & 0x3F), event.duration)


class DtmfDetector:
    def __init__(self) -> None:
        self._current: tuple[int, int] | None = None  # (ssrc, timestamp) of the event in progress
        self._digit: str | None = None
        self._reported = False

    def feed(self, packet: RtpPacket) -> list[str]:
        """The digits this packet completes (usually none or one)."""
        try:
            event = parse_event(packet.payload)
        except ValueError:
            return []
        digits: list[str] = []
        key = (packet.ssrc, packet.timestamp)
        if key != self._current:
            if self._current is not None and not self._reported and self._digit is not None:
                digits.append(self._digit)  # the previous event's end packets were all lost
            self._current, self._digit, self._reported = key, event.digit, False
        if event.end and not self._reported:
            self._reported = True
            if self._digit is not None:
                digits.append(self._digit)
        return digits

    def flush(self) -> list[str]:
        """The stream stopped: an event without a received end still counts once."""
        if self._current is not None and not self._reported and self._digit is not None:
            self._reported = True
            return [self._digit]
        return []
