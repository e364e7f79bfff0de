"""The recorder places frames by arrival time, writes silence while paused, and keeps both sides
in step, in one stereo WAV."""

from __future__ import annotations

import array
import wave
from pathlib import Path

from madoguchi.channels.voice import g711
from madoguchi.channels.voice.audio import tone
from madoguchi.channels.voice.recording import Recorder

FRAME = g711.encode(tone((440.0,), 20, level=0.5), "PCMU")


def channels(path: Path) -> tuple[array.array[int], array.array[int]]:
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 8000)
        samples = array.array("h", wav.readframes(wav.getnframes()))
    return samples[0::2], samples[1::2]


def loud(samples: array.array[int], start_s: float, end_s: float) -> bool:
    part = samples[int(start_s * 8000):int(end_s * 8000)]
    return max(abs(x) for x in part) > 1000


def test_a_gap_in_the_far_ends_audio_stays_silent_and_in_step_with_what_we_sent(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "leg.wav", now=100.0)
    for n in range(50):  # 0–1 s: both directions
        recorder.feed("in", FRAME, "PCMU", 100.0 + n * 0.02)
        recorder.feed("out", g711.transcode(FRAME, "PCMU", "PCMA"), "PCMA", 100.0 + n * 0.02)
    for n in range(100, 150):  # 2–3 s: the far end again after a second without packets
        recorder.feed("in", FRAME, "PCMU", 100.0 + n * 0.02)
    left, right = channels(recorder.close())
    assert len(left) == 3 * 8000
    assert loud(left, 0, 1) and not loud(left, 1.05, 1.95) and loud(left, 2.05, 3)
    assert loud(right, 0, 1) and not loud(right, 1.05, 3)


def test_while_paused_the_recording_holds_silence_of_the_same_length(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "leg.wav", now=0.0)
    for n in range(150):
        recorder.paused = 50 <= n < 100  # the card number is spoken from 1 s to 2 s
        recorder.feed("in", FRAME, "PCMU", n * 0.02)
    left, _ = channels(recorder.close())
    assert len(left) == 3 * 8000
    assert loud(left, 0, 0.95) and not loud(left, 1.0, 2.0) and loud(left, 2.05, 3)
