"""Post-call transcription behind one small interface (docs/voice.md §Transcription).

A recording is a stereo WAV per leg (recording.py): left is what the far end said, right what we
sent it. The far end of the caller's leg is the customer, of an agent's leg the agent, so each
file is transcribed from its left channel and its speaker is known without diarisation.

Engines:

* ``PocketSphinxTranscriber`` — CMU PocketSphinx with the US English model that ships inside its
  wheel (BSD licence). Small and quick; what tests and CI run. English only.
* ``WhisperTranscriber`` — faster-whisper (MIT) with a CTranslate2 model from a directory the
  admin configures (``MADOGUCHI_VOICE_WHISPER_MODEL_DIR``); nothing is downloaded. Japanese and
  English. For production.
"""

from __future__ import annotations

import importlib.util
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

RATE = 8000


@dataclass(frozen=True)
class Segment:
    start_s: float
    end_s: float
    text: str


class TranscriptionUnavailable(Exception):
    """The engine cannot transcribe this language (the transcript is marked skipped, with why)."""


class Transcriber(Protocol):
    name: str
    languages: frozenset[str]

    def transcribe(self, samples: np.ndarray, language: str) -> list[Segment]:
        """``samples``: mono int16 at 8 kHz. Segments in time order, times from the start."""
        ...


def far_end(path: Path) -> np.ndarray:
    """The left channel (the far end's voice) of a recording, as int16 at 8 kHz."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2 or wav.getframerate() != RATE:
            raise ValueError(f"{path.name}: expected 16-bit PCM at {RATE} Hz")
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        channels = wav.getnchannels()
    return frames[0::channels].astype(np.int16) if channels > 1 else frames.astype(np.int16)


def upsample_2x(samples: np.ndarray) -> np.ndarray:
    """8 kHz → 16 kHz by linear interpolation: the telephone band is under 4 kHz, so nothing is
    lost, and the 16 kHz acoustic models then see the sample rate they were trained on."""
    if len(samples) == 0:
        return samples.astype(np.int16)
    positions = np.arange(2 * len(samples)) / 2.0
    return np.interp(positions, np.arange(len(samples)), samples.astype(np.float32)).astype(np.int16)


def speech_spans(samples: np.ndarray, *, rate: int = RATE, frame_s: float = 0.02, pause_s: float = 0.6,
                 min_speech_s: float = 0.25) -> list[tuple[int, int]]:
    """Where someone speaks, as (first sample, end sample): frames louder than an adaptive floor,
    joined across pauses shorter than ``pause_s``. A recording is mostly silence (the other side
    talking, hold), and decoding per utterance gives each segment its time."""
    frame = int(rate * frame_s)
    n = len(samples) // frame
    if n == 0:
        return []
    energy = np.sqrt(np.mean(samples[: n * frame].astype(np.float64).reshape(n, frame) ** 2, axis=1))
    floor = max(float(np.percentile(energy, 20)), 30.0)
    loud = energy > max(4.0 * floor, 200.0)
    spans: list[tuple[int, int]] = []
    gap = int(pause_s / frame_s)
    start, last = -1, -gap - 1
    for i in np.flatnonzero(loud).tolist():
        if start < 0:
            start = i
        elif i - last > gap:
            spans.append((start, last + 1))
            start = i
        last = i
    if start >= 0:
        spans.append((start, last + 1))
    pad = int(0.15 / frame_s)  # a little room: onsets and trailing consonants are quiet
    return [(max(0, a - pad) * frame, min(n, b + pad) * frame) for a, b in spans
            if (b - a) * frame_s >= min_speech_s]


class PocketSphinxTranscriber:
    name = "pocketsphinx"
    languages = frozenset({"en"})

    def __init__(self) -> None:
        from pocketsphinx import Decoder  # type: ignore[import-untyped,unused-ignore]

        # The default model is the US English one inside the wheel (pocketsphinx.get_model_path()).
        self._decoder: Any = Decoder(samprate=16000, loglevel="FATAL")

    def transcribe(self, samples: np.ndarray, language: str) -> list[Segment]:
        if language not in self.languages:
            raise TranscriptionUnavailable(f"pocketsphinx has no model for {language!r}")
        out = []
        for first, end in speech_spans(samples):
            decoder = self._decoder
            decoder.start_utt()
            decoder.process_raw(upsample_2x(samples[first:end]).tobytes(), full_utt=True)
            decoder.end_utt()
            hypothesis = decoder.hyp()
            words = [seg.word for seg in decoder.seg()
                     if not seg.word.startswith(("<", "[")) and seg.word != "(NULL)"]
            text = " ".join(w.split("(")[0] for w in words) if words else (hypothesis.hypstr if hypothesis else "")
            if text.strip():
                out.append(Segment(round(first / RATE, 2), round(end / RATE, 2), text.strip()))
        return out


class WhisperTranscriber:
    name = "faster-whisper"
    languages = frozenset({"ja", "en"})

    def __init__(self, model_dir: Path) -> None:
        from faster_whisper import WhisperModel  # type: ignore[import-not-found,unused-ignore]

        if not model_dir.is_dir():
            raise ValueError(f"whisper model directory {model_dir} does not exist")
        self._model: Any = WhisperModel(str(model_dir), device="cpu", compute_type="int8")

    def transcribe(self, samples: np.ndarray, language: str) -> list[Segment]:
        if language not in self.languages:
            raise TranscriptionUnavailable(f"faster-whisper is not set up for {language!r}")
        audio = upsample_2x(samples).astype(np.float32) / 32768.0
        segments, _ = self._model.transcribe(audio, language=language, vad_filter=True)
        return [Segment(round(s.start, 2), round(s.end, 2), s.text.strip()) for s in segments if s.text.strip()]


def engine_for(setting: str, model_dir: str | None) -> str | None:
    """Which engine ``MADOGUCHI_VOICE_TRANSCRIPTION`` names, without loading it: ``auto`` is
    faster-whisper when a model directory is set, else PocketSphinx when installed, else none."""
    if setting == "off":
        return None
    if setting == "faster-whisper" or (setting == "auto" and model_dir):
        if not model_dir:
            raise ValueError("faster-whisper needs MADOGUCHI_VOICE_WHISPER_MODEL_DIR")
        return WhisperTranscriber.name
    if setting == "pocketsphinx" or importlib.util.find_spec("pocketsphinx") is not None:
        return PocketSphinxTranscriber.name
    return None


def make_transcriber(engine: str, model_dir: str | None) -> Transcriber:
    if engine == WhisperTranscriber.name:
        if not model_dir:
            raise ValueError("faster-whisper needs MADOGUCHI_VOICE_WHISPER_MODEL_DIR")
        return WhisperTranscriber(Path(model_dir))
    if engine == PocketSphinxTranscriber.name:
        return PocketSphinxTranscriber()
    raise ValueError(f"unknown transcription engine {engine!r}")


# -- in the transcription process -------------------------------------------------------------------
# The engines are C code that keeps the GIL for a whole decode (seconds: measured 5.5 s for 8.6 s
# of speech with PocketSphinx), which in a thread would stall the server's event loop, media clock
# included. So they run in a process of their own; these are its entry points.

_ENGINE: Transcriber | None = None


def start_engine(engine: str, model_dir: str | None) -> None:
    global _ENGINE
    _ENGINE = make_transcriber(engine, model_dir)


def transcribe_file(path: str, language: str) -> list[Segment]:
    if _ENGINE is None:
        raise RuntimeError("the transcription process has no engine")
    return _ENGINE.transcribe(far_end(Path(path)), language)
