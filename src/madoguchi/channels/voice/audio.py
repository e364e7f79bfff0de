"""Prompts: WAV files to 8 kHz 16-bit mono PCM, cut into 20 ms G.711 frames; tones."""

from __future__ import annotations

import array
import io
import math
import sys
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from madoguchi.channels.voice import g711

RATE = 8000
FRAME_SAMPLES = 160  # 20 ms at 8 kHz
FRAME_BYTES = 320    # as 16-bit PCM


@dataclass
class Prompt:
    """Audio to play, kept as PCM; the G.711 frames of each law are made on first use."""

    pcm: bytes
    name: str = "prompt"
    _frames: dict[str, list[bytes]] = field(default_factory=dict, repr=False)

    def frames(self, law: str) -> list[bytes]:
        found = self._frames.get(law)
        if found is None:
            padded = self.pcm + b"\x00" * (-len(self.pcm) % FRAME_BYTES)
            encoded = g711.encode(padded, law)
            found = [encoded[i:i + FRAME_SAMPLES] for i in range(0, len(encoded), FRAME_SAMPLES)]
            self._frames[law] = found
        return found

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / 2 / RATE


def _to_samples(raw: bytes, width: int) -> list[int]:
    if width == 2:
        values = array.array("h")
        values.frombytes(raw)
        if sys.byteorder == "big":
            values.byteswap()
        return list(values)
    if width == 1:  # unsigned 8-bit
        return [(b - 128) << 8 for b in raw]
    if width in (3, 4):
        return [int.from_bytes(raw[i:i + width], "little", signed=True) >> (8 * (width - 2))
                for i in range(0, len(raw) - width + 1, width)]
    raise ValueError(f"unsupported sample width {width}")


def _resample(samples: list[int], source_rate: int) -> list[int]:
    """Linear interpolation; after a crude low-pass (moving average) when downsampling."""
    if source_rate == RATE or not samples:
        return samples
    if source_rate > RATE:
        window = max(1, round(source_rate / RATE))
        acc, smoothed = 0, []
        for i, s in enumerate(samples):
            acc += s
            if i >= window:
                acc -= samples[i - window]
            smoothed.append(acc // min(i + 1, window))
        samples = smoothed
    step = source_rate / RATE
    count = int(len(samples) / step)
    out = []
    for i in range(count):
        pos = i * step
        j = int(pos)
        frac = pos - j
        nxt = samples[j + 1] if j + 1 < len(samples) else samples[j]
        out.append(int(samples[j] + (nxt - samples[j]) * frac))
    return out


def pcm_from_samples(samples: list[int]) -> bytes:
    data = array.array("h", (max(-32768, min(32767, s)) for s in samples))
    if sys.byteorder == "big":
        data.byteswap()
    return data.tobytes()


def load_wav(path: Path) -> Prompt:
    """Any PCM WAV (8/16/24/32-bit, mono or stereo, any rate) → an 8 kHz prompt."""
    with path.open("rb") as file:
        return Prompt(_decode_wav(file), name=path.name)


def decode_wav(data: bytes) -> bytes:
    """A PCM WAV file's bytes → 8 kHz mono 16-bit PCM. Raises ValueError for anything else
    (compressed WAV, not a WAV, a broken header)."""
    try:
        return _decode_wav(io.BytesIO(data))
    except (wave.Error, EOFError) as error:
        raise ValueError(f"not a PCM WAV file: {error}") from None


def _decode_wav(file: BinaryIO) -> bytes:
    with wave.open(file, "rb") as wav:
        channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
        if not (1 <= channels <= 8 and 4000 <= rate <= 192_000):
            raise ValueError(f"unsupported WAV: {channels} channels at {rate} Hz")
        raw = wav.readframes(wav.getnframes())
    samples = _to_samples(raw, width)
    if channels > 1:
        samples = [sum(samples[i:i + channels]) // channels for i in range(0, len(samples), channels)]
    return pcm_from_samples(_resample(samples, rate))


def wav_bytes(pcm: bytes, rate: int = RATE) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return out.getvalue()


def write_wav(path: Path, pcm: bytes, rate: int = RATE) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)


def tone(freqs: tuple[float, ...], ms: int, *, level: float = 0.25) -> bytes:
    n = RATE * ms // 1000
    amp = 32767 * level / max(1, len(freqs))
    return pcm_from_samples([int(sum(amp * math.sin(2 * math.pi * f * i / RATE) for f in freqs)) for i in range(n)])


def silence(ms: int) -> bytes:
    return b"\x00\x00" * (RATE * ms // 1000)


def music_on_hold() -> Prompt:
    """A gentle repeating chime (no licensed music ships with Madoguchi)."""
    notes = [(523.25,), (659.25,), (783.99,), (659.25,)]
    pcm = b"".join(tone(n, 400, level=0.12) + silence(100) for n in notes) + silence(1000)
    return Prompt(pcm, name="music_on_hold")


def beep(ms: int = 300) -> Prompt:
    return Prompt(tone((440.0,), ms) + silence(100), name="beep")
