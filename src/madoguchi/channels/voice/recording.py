"""Call recording: what a leg hears and what it sends, as one stereo WAV (left: the far end,
right: what we sent it). Pausing writes silence, so the timeline stays true (card numbers)."""

from __future__ import annotations

import array
import sys
import wave
from pathlib import Path

from madoguchi.channels.voice.audio import RATE


class Recorder:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.paused = False
        self._in = bytearray()
        self._out = bytearray()
        self.closed = False

    def feed(self, direction: str, pcm: bytes) -> None:
        if self.closed:
            return
        data = b"\x00" * len(pcm) if self.paused else pcm
        (self._in if direction == "in" else self._out).extend(data)

    def close(self) -> Path:
        if self.closed:
            return self.path
        self.closed = True
        n = max(len(self._in), len(self._out)) // 2
        left, right = array.array("h"), array.array("h")
        left.frombytes(bytes(self._in) + b"\x00" * (2 * n - len(self._in)))
        right.frombytes(bytes(self._out) + b"\x00" * (2 * n - len(self._out)))
        stereo = array.array("h", bytes(4 * n))
        stereo[0::2] = left
        stereo[1::2] = right
        if sys.byteorder == "big":
            stereo.byteswap()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(self.path), "wb") as wav:
            wav.setnchannels(2)
            wav.setsampwidth(2)
            wav.setframerate(RATE)
            wav.writeframes(stereo.tobytes())
        return self.path
