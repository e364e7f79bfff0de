"""Prompts from text: Japanese through Open JTalk (pyopenjtalk, in a child process), English
through espeak-ng; each text is synthesised once and then served from the cache."""

from __future__ import annotations

import array
import math
import shutil
from pathlib import Path

from madoguchi.channels.voice.audio import RATE
from madoguchi.channels.voice.prompts import TtsPrompts
from tests.support import require_service


def cache(directory: Path) -> tuple[list[Path], list[int]]:
    """The cached Open JTalk prompts, their modification times, and no half-written file."""
    assert not list(directory.glob("*.part.wav"))
    files = sorted(directory.glob("*-open_jtalk.wav"))
    return files, [f.stat().st_mtime_ns for f in files]


def seconds_and_level(pcm: bytes) -> tuple[float, float]:
    samples = array.array("h", pcm)
    return len(samples) / RATE, math.sqrt(sum(x * x for x in samples) / max(1, len(samples)))


async def test_japanese_prompts_are_spoken_by_open_jtalk_and_cached(tmp_path: Path) -> None:
    prompts = TtsPrompts(tmp_path)
    assert prompts.engine_for("ja") == "open_jtalk"
    prompt = await prompts.speech("お電話ありがとうございます。サポートは2を押してください。", "ja")
    duration, level = seconds_and_level(prompt.pcm)
    assert 2.0 < duration < 8.0 and level > 300, (duration, level)
    files, times = cache(tmp_path)
    assert len(files) == 1
    again = TtsPrompts(tmp_path)  # a new process finds the file and does not synthesise again
    assert (await again.speech("お電話ありがとうございます。サポートは2を押してください。", "ja")).pcm == prompt.pcm
    assert cache(tmp_path) == (files, times)


async def test_english_prompts_are_spoken_by_espeak(tmp_path: Path) -> None:
    require_service("espeak-ng", shutil.which("espeak-ng") is not None, "apt-get install espeak-ng")
    prompts = TtsPrompts(tmp_path)
    assert prompts.engine_for("en") == "espeak-ng"
    duration, level = seconds_and_level((await prompts.speech("For support, press two.", "en")).pcm)
    assert 0.8 < duration < 5.0 and level > 300, (duration, level)
