"""Call recording: what a leg hears and what it sends, as one stereo WAV (left: the far end,
right: what we sent it). Frames are placed by their arrival time, so a silent or held stretch
stays silent and the two sides stay in step; pausing (card numbers) writes silence instead of
the audio, so the timeline stays true. Audio is kept as G.711 while the call lasts and decoded
once, when the recording closes."""

from __future__ import annotations

import array
import sys
import time
import wave
from pathlib import Path

from madoguchi.channels.voice import g711
from madoguchi.channels.voice.audio import RATE

_SLACK = 160  # a frame that comes up to 20 ms early (jitter) joins the end instead of overlapping


class _Track:
    def __init__(self) -> None:
        self.data = bytearray()
        self.law = "PCMU"

    def put(self, position: int, payload: bytes, law: str) -> None:
        if law != self.law and self.data:
            payload = g711.transcode(payload, law, self.law)
        elif not self.data:
            self.law = law
        gap = position - len(self.data)
        if gap > _SLACK:
            self.data.extend(bytes([g711.silence(self.law)]) * gap)
        self.data.extend(payload)

    def pcm(self, samples: int) -> bytes:
        pcm = g711.decode(bytes(self.data[:samples]), self.law) if self.data else b""
        return pcm + b"\x00" * (2 * samples - len(pcm))


class Recorder:
    def __init__(self, path: Path, *, now: float | None = None) -> None:
        self.path = path
        self.paused = False
        self.closed = False
        self._start = time.monotonic() if now is None else now
        self._in = _Track()
        self._out = _Track()

    def feed(self, direction: str, payload: bytes, law: str, at_s: float) -> None:
        """A frame heard ("in") or sent ("out") at ``at_s`` (monotonic seconds)."""
        if self.closed:
            return
        if self.paused:
            payload = bytes([g711.silence(law)]) * len(payload)
        position = int((at_s - self._start) * RATE)
        (self._in if direction == "in" else self._out).put(position, payload, law)

    def close(self) -> Path:
        if self.closed:
            return self.path
        self.closed = True
        n = max(len(self._in.data), len(self._out.data))
        left, right = array.array("h"), array.array("h")
        left.frombytes(self._in.pcm(n))
        right.frombytes(self._out.pcm(n))
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
