"""Japanese speech with Open JTalk through pyopenjtalk (the pyopenjtalk-plus build, MIT: its wheel
carries the NAIST dictionary and the "Mei" HTS voice, so nothing is downloaded or compiled).

Run as a program, one prompt per run: ``python -m madoguchi.channels.voice.jtalk OUT.wav`` with
the text on stdin. The synthesiser holds the GIL in stretches of up to 25 ms (measured, a 60-character
sentence), long enough to show in the 20 ms media clock, so the server runs it in a child process
instead of a thread; prompts are cached, so each text is made once."""

from __future__ import annotations

import sys
import wave
from pathlib import Path

import numpy as np


def synthesise(text: str, out: Path) -> None:
    import pyopenjtalk  # type: ignore[import-untyped,unused-ignore]

    samples, rate = pyopenjtalk.tts(text)
    pcm = np.clip(np.asarray(samples), -32768, 32767).astype("<i2")  # already at 16-bit scale
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(int(rate))
        wav.writeframes(pcm.tobytes())


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m madoguchi.channels.voice.jtalk OUT.wav < text", file=sys.stderr)
        return 2
    text = sys.stdin.read().strip()
    if not text:
        print("no text on stdin", file=sys.stderr)
        return 2
    synthesise(text, Path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
