"""Conference mixing: three or more legs talk together. Each leg hears the sum of everyone
else (never itself), in its own law, one 20 ms frame per media-clock tick.

Two legs need no mixer (the relay in media.py copies payloads); a conference has to decode,
add and encode. Received audio waits in a short per-leg buffer of G.711 bytes, so any packet
size (ptime) mixes, and a leg whose clock runs fast cannot add delay: beyond ``MAX_BUFFER``
the oldest audio is dropped."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from madoguchi.channels.voice import g711

if TYPE_CHECKING:
    from madoguchi.channels.voice.media import RtpLeg

FRAME = 160          # samples in 20 ms at 8 kHz (one byte each in G.711)
MAX_BUFFER = 4 * FRAME


@cache
def _decode(law: str) -> npt.NDArray[np.int32]:
    pcm = b"".join(g711.decode(bytes([b]), law) for b in range(256))
    return np.frombuffer(pcm, dtype="<i2").astype(np.int32)


@cache
def _encode(law: str) -> npt.NDArray[np.uint8]:
    return np.frombuffer(g711.encode(np.arange(-32768, 32768, dtype="<i2").tobytes(), law), dtype=np.uint8)


class Mixer:
    """One conference on the media clock. ``put`` is fed by each member's receive path."""

    def __init__(self) -> None:
        self.members: dict[RtpLeg, bytearray] = {}
        self.mixed = 0   # frames sent, all members together

    def add(self, leg: RtpLeg) -> None:
        self.members[leg] = bytearray()

    def remove(self, leg: RtpLeg) -> None:
        self.members.pop(leg, None)

    def put(self, leg: RtpLeg, payload: bytes) -> None:
        buffer = self.members.get(leg)
        if buffer is None:
            return
        buffer += payload
        if len(buffer) > MAX_BUFFER:
            del buffer[: len(buffer) - MAX_BUFFER]

    def tick(self) -> None:
        """On the media clock's thread (media.py)."""
        if len(self.members) < 2:
            return
        frames: list[tuple[RtpLeg, npt.NDArray[np.int32]]] = []
        total = np.zeros(FRAME, dtype=np.int32)
        for leg, buffer in list(self.members.items()):  # a copy: members change on the loop's thread
            if len(buffer) >= FRAME:
                chunk = bytes(buffer[:FRAME])
                del buffer[:FRAME]
                samples = _decode(leg.codec)[np.frombuffer(chunk, dtype=np.uint8)]
            else:  # nothing (or too little) arrived in time: this leg is silent for a frame
                samples = np.zeros(FRAME, dtype=np.int32)
            frames.append((leg, samples))
            total += samples
        for leg, own in frames:
            if leg.playing:  # on hold: music, not the conference
                continue
            others = np.clip(total - own, -32768, 32767) + 32768
            leg.send_audio(_encode(leg.codec)[others].tobytes())
            self.mixed += 1
