"""Transcribes call recordings after the call, one at a time, in a process of its own (the engines
keep the GIL for seconds; see transcription.py), with no transaction open while it works."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path

from madoguchi.bus.base import EventBus
from madoguchi.channels.voice.recordings import contact_dir
from madoguchi.channels.voice.transcription import (
    TranscriptionUnavailable,
    engine_for,
    start_engine,
    transcribe_file,
)
from madoguchi.channels.voice.transcripts import TRANSCRIPTION_PENDING, claim_next, do_finish, do_requeue_stale
from madoguchi.context import AppContext
from madoguchi.db.uow import Database
from madoguchi.workers.woken import EventWokenWorker

logger = logging.getLogger(__name__)

#: A transcript ``working`` for longer than this was left by a process that died.
STALE_AFTER = timedelta(minutes=30)


class TranscriptionWorker(EventWokenWorker):
    name = "voice_transcription"
    wake_on = frozenset({TRANSCRIPTION_PENDING})

    def __init__(self, db: Database, bus: EventBus, *, engine: str, model_dir: str | None, recordings_dir: Path,
                 rescan_s: float = 30.0) -> None:
        super().__init__(bus)
        self.db = db
        self.engine = engine
        self.model_dir = model_dir
        self.recordings_dir = recordings_dir
        self.rescan_s = rescan_s
        self.done = 0
        self._pool: ProcessPoolExecutor | None = None

    def _process(self) -> ProcessPoolExecutor:
        if self._pool is None:  # started on first use: the model loads once, in the child
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=start_engine, initargs=(self.engine, self.model_dir))
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    async def stop(self) -> None:
        await super().stop()
        await asyncio.to_thread(self.close)

    async def work_once(self) -> bool:
        """Transcribe the next pending recording; False when there was none."""
        async with self.db.uow() as uow:
            row = await claim_next(uow)
            if row is None:
                return False
            transcript_id, contact_id, name, language = row.id, row.contact_id, row.recording, row.language
        path = contact_dir(self.recordings_dir, contact_id) / name
        engine = self.engine
        try:
            segments = await asyncio.get_running_loop().run_in_executor(
                self._process(), transcribe_file, str(path), language)
        except TranscriptionUnavailable as why:
            async with self.db.uow() as uow:
                await do_finish(uow, transcript_id=transcript_id, engine=engine, segments=None, status="skipped",
                                error=str(why))
            return True
        except Exception as exc:  # a missing or damaged file, an engine error: recorded, retried, never lost
            logger.exception("transcribing %s of contact %s failed", name, contact_id)
            async with self.db.uow() as uow:
                await do_finish(uow, transcript_id=transcript_id, engine=engine, segments=None, status="failed",
                                error=f"{type(exc).__name__}: {exc}")
            return True
        async with self.db.uow() as uow:
            await do_finish(uow, transcript_id=transcript_id, engine=engine, segments=segments, status="done")
        self.done += 1
        return True

    async def _run(self) -> None:
        with contextlib.suppress(Exception):
            async with self.db.uow() as uow:
                await do_requeue_stale(uow, older_than=uow.clock.now() - STALE_AFTER)
        while True:
            self._wake.clear()
            try:
                while await self.work_once():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("transcription round failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.rescan_s)


def voice_workers(ctx: AppContext) -> list[TranscriptionWorker]:
    """The transcription worker, where calls are recorded (and voice is on) and an engine loads."""
    settings = ctx.settings
    if not settings.voice_recordings_dir or settings.sip_port is None:
        return []
    engine = engine_for(settings.voice_transcription, settings.voice_whisper_model_dir)
    if engine is None:
        logger.info("no transcription engine: recordings are kept without transcripts")
        return []
    return [TranscriptionWorker(ctx.db, ctx.bus, engine=engine, model_dir=settings.voice_whisper_model_dir,
                                recordings_dir=Path(settings.voice_recordings_dir))]
