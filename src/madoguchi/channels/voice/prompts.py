"""Prompts from text: espeak-ng when installed (cached as 8 kHz WAV), a beep otherwise."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import shutil
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
    """espeak-ng (English; Japanese with espeak-ng's ja voice) into a cache directory."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.cache_dir = cache_dir or Path(tempfile.gettempdir()) / "madoguchi-prompts"
        self.engine = shutil.which("espeak-ng")
        self._memory: dict[str, Prompt] = {}
        self._fallback = beep()

    async def speech(self, text: str, language: str) -> Prompt:
        key = hashlib.sha256(f"{language}\0{text}".encode()).hexdigest()[:24]
        found = self._memory.get(key)
        if found is not None:
            return found
        if self.engine is None:
            return self._fallback
        path = self.cache_dir / f"{key}.wav"
        if not path.exists():
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            voice = "ja" if language == "ja" else "en-us"
            process = await asyncio.create_subprocess_exec(
                self.engine, "-v", voice, "-s", "165", "-w", str(path), text,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
            _, err = await process.communicate()
            if process.returncode != 0 or not path.exists():
                logger.warning("espeak-ng failed (%s): %s", process.returncode, err.decode(errors="replace")[:200])
                return self._fallback
        prompt = await asyncio.to_thread(load_wav, path)
        self._memory[key] = prompt
        return prompt
