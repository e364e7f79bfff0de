"""Prompts from text, cached as WAV: Japanese with Open JTalk (pyopenjtalk, jtalk.py), English (and
Japanese where pyopenjtalk is missing) with espeak-ng, a beep when neither is installed."""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import logging
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Protocol

from madoguchi.channels.voice.audio import Prompt, beep, load_wav

logger = logging.getLogger(__name__)


class Prompts(Protocol):
    async def speech(self, text: str, language: str) -> Prompt: ...


class BeepPrompts:
    """A short beep per text: for tests and machines without a speech engine."""

    def __init__(self, ms: int = 200) -> None:
        self._beep = beep(ms)

    async def speech(self, text: str, language: str) -> Prompt:
        return self._beep


class TtsPrompts:
    """Synthesised prompts in a cache directory (one WAV per language and text)."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.cache_dir = cache_dir or Path(tempfile.gettempdir()) / "madoguchi-prompts"
        self.engine = shutil.which("espeak-ng")
        self.jtalk = importlib.util.find_spec("pyopenjtalk") is not None
        self._memory: dict[str, Prompt] = {}
        self._fallback = beep()

    def engine_for(self, language: str) -> str | None:
        if language == "ja" and self.jtalk:
            return "open_jtalk"
        return "espeak-ng" if self.engine is not None else None

    async def speech(self, text: str, language: str) -> Prompt:
        key = hashlib.sha256(f"{language}\0{text}".encode()).hexdigest()[:24]
        found = self._memory.get(key)
        if found is not None:
            return found
        engine = self.engine_for(language)
        if engine is None:
            return self._fallback
        path = self.cache_dir / f"{key}-{engine}.wav"
        if not path.exists():
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".part.wav")  # a crash mid-synthesis leaves no half prompt behind
            if engine == "open_jtalk":
                argv = [sys.executable, "-m", "madoguchi.channels.voice.jtalk", str(partial)]
                stdin = text.encode("utf-8")
            else:
                argv = [str(self.engine), "-v", "ja" if language == "ja" else "en-us", "-s", "165", "-w", str(partial),
                        text]
                stdin = None
            process = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
            _, err = await process.communicate(stdin)
            if process.returncode != 0 or not partial.exists():
                logger.warning("%s failed (%s): %s", engine, process.returncode, err.decode(errors="replace")[:200])
                return self._fallback
            partial.replace(path)
        prompt = await asyncio.to_thread(load_wav, path)
        self._memory[key] = prompt
        return prompt
