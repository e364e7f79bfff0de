"""Recorded prompts: WAV files an admin uploads per name and language, which IVR flows play with
``say``/``ask`` blocks that name them (``"audio": "welcome"``) instead of speaking the text
(docs/voice.md, "Recorded prompts"). Stored converted in the database, so every instance plays
the same prompt and playing costs no decoding."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import select

from madoguchi.channels.voice.audio import RATE, Prompt, decode_wav
from madoguchi.channels.voice.models import VoicePrompt
from madoguchi.db.uow import Database, UnitOfWork
from madoguchi.identity.audit import do_audit
from madoguchi.identity.models import User
from madoguchi.kernel.errors import InvalidInput, NotFound

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
LANGUAGES = ("ja", "en")
MAX_UPLOAD_BYTES = 16 * 1024 * 1024
MAX_SECONDS = 180
_CACHE_S = 10.0


class VoicePromptOut(BaseModel):
    name: str
    language: str
    duration_s: float
    updated_at: datetime
    url: str


def _out(row: VoicePrompt) -> VoicePromptOut:
    return VoicePromptOut(name=row.name, language=row.language, duration_s=row.duration_ms / 1000,
                          updated_at=row.updated_at, url=f"/api/v1/voice/prompts/{row.name}/{row.language}")


def check_name(name: str, language: str) -> None:
    if not NAME.match(name):
        raise InvalidInput("a prompt name is 1–64 lower-case letters, digits, - or _", field="name")
    if language not in LANGUAGES:
        raise InvalidInput("language is ja or en", field="language")


async def convert(data: bytes) -> bytes:
    """The upload as 8 kHz mono PCM; InvalidInput for anything that is not a usable PCM WAV."""
    if not data:
        raise InvalidInput("the body is empty: send the WAV file", field="body")
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidInput(f"a prompt file is at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB", field="body")
    try:  # resampling is plain Python: off the event loop
        pcm = await asyncio.to_thread(decode_wav, data)
    except ValueError as error:
        raise InvalidInput(str(error), field="body") from None
    if not pcm:
        raise InvalidInput("the WAV file holds no audio", field="body")
    if len(pcm) / 2 / RATE > MAX_SECONDS:
        raise InvalidInput(f"a prompt is at most {MAX_SECONDS} s long", field="body")
    return pcm


async def check_upload(uow: UnitOfWork, *, actor: User, name: str, language: str, pcm: bytes) -> VoicePromptOut:
    check_name(name, language)
    row = await uow.session.scalar(select(VoicePrompt).where(VoicePrompt.name == name,
                                                             VoicePrompt.language == language))
    if row is None:
        row = VoicePrompt(name=name, language=language, pcm=b"", duration_ms=0, updated_at=uow.clock.now())
        uow.session.add(row)
    row.pcm, row.duration_ms = pcm, round(len(pcm) / 2 / RATE * 1000)
    row.updated_by, row.updated_at = actor.id, uow.clock.now()
    await uow.session.flush()
    do_audit(uow, actor=actor, action="voice_prompt.uploaded", target=f"voice_prompt:{name}/{language}",
             duration_ms=row.duration_ms)
    return _out(row)


async def check_delete(uow: UnitOfWork, *, actor: User, name: str, language: str) -> None:
    row = await uow.session.scalar(select(VoicePrompt).where(VoicePrompt.name == name,
                                                             VoicePrompt.language == language))
    if row is None:
        raise NotFound("voice prompt", f"{name}/{language}")
    await uow.session.delete(row)
    do_audit(uow, actor=actor, action="voice_prompt.deleted", target=f"voice_prompt:{name}/{language}")


async def list_all(db: Database) -> list[VoicePromptOut]:
    async with db.read() as session:
        rows = (await session.scalars(select(VoicePrompt).order_by(VoicePrompt.name, VoicePrompt.language))).all()
        return [_out(r) for r in rows]


async def pcm_of(db: Database, name: str, language: str) -> bytes:
    async with db.read() as session:
        pcm = await session.scalar(select(VoicePrompt.pcm).where(VoicePrompt.name == name,
                                                                 VoicePrompt.language == language))
    if pcm is None:
        raise NotFound("voice prompt", f"{name}/{language}")
    return bytes(pcm)


class RecordedPrompts:
    """What the IVR plays for ``audio`` names: the caller's language first, else the other one;
    kept in memory for 10 s, so a replaced file is heard within that."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: dict[tuple[str, str], tuple[float, Prompt | None]] = {}

    async def get(self, name: str, language: str) -> Prompt | None:
        key = (name, language)
        cached = self._cache.get(key)
        if cached is not None and time.monotonic() - cached[0] < _CACHE_S:
            return cached[1]
        order = [language, *(lang for lang in LANGUAGES if lang != language)]
        async with self.db.read() as session:
            result = await session.execute(select(VoicePrompt.language, VoicePrompt.pcm)
                                           .where(VoicePrompt.name == name))
            rows = {lang: pcm for lang, pcm in result.all()}
        found = next((rows[lang] for lang in order if lang in rows), None)
        prompt = Prompt(bytes(found), name=f"audio:{name}") if found is not None else None
        self._cache[key] = (time.monotonic(), prompt)
        return prompt
