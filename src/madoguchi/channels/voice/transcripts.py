"""Transcripts of call recordings: queued when a call ends (one per recording file), made by the
transcription worker (workers/voice_transcription.py), read with the contact (docs/voice.md)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from madoguchi.channels.voice.models import VoiceTranscript
from madoguchi.channels.voice.recordings import NAME_PATTERN, contact_dir
from madoguchi.channels.voice.transcription import Segment
from madoguchi.contacts.actions import get_contact, record_event
from madoguchi.db.uow import UnitOfWork
from madoguchi.kernel.events import SUPERVISORS, Event, user_topic

#: Bus event (to no client) that wakes the transcription worker.
TRANSCRIPTION_PENDING = "voice.transcription_pending"
#: Realtime event to the call's agent and supervisors when a transcript is ready.
VOICE_TRANSCRIBED = "voice.transcribed"
MAX_ATTEMPTS = 3


class SegmentOut(BaseModel):
    start_s: float
    end_s: float
    text: str


class TranscriptOut(BaseModel):
    id: int
    recording: str
    speaker: str             # customer | agent
    agent_id: int | None
    language: str
    status: str              # pending working done skipped failed
    engine: str | None
    segments: list[SegmentOut]
    text: str | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None


async def do_queue_transcripts(uow: UnitOfWork, *, contact_id: int, root: Path, language: str) -> int:
    """A pending transcript for each of the contact's recordings not queued yet; returns how many."""
    directory = contact_dir(root, contact_id)
    if not directory.is_dir():
        return 0
    known = set((await uow.session.scalars(select(VoiceTranscript.recording).where(
        VoiceTranscript.contact_id == contact_id))).all())
    added = 0
    for path in sorted(directory.iterdir()):
        match = NAME_PATTERN.match(path.name)
        if match is None or path.name in known or not path.is_file():
            continue
        leg = match.group(1)
        agent = leg.startswith("agent-")
        uow.session.add(VoiceTranscript(
            contact_id=contact_id, recording=path.name, speaker="agent" if agent else "customer",
            agent_id=int(leg[6:]) if agent else None, language=language, status="pending",
            segments=[], attempts=0, created_at=uow.clock.now()))
        added += 1
    if added:
        uow.emit(Event(TRANSCRIPTION_PENDING, {"contact_id": contact_id}, (), durable=False))
    return added


async def claim_next(uow: UnitOfWork) -> VoiceTranscript | None:
    """The oldest pending transcript, marked working by a conditional update (so two workers on
    PostgreSQL never take the same one)."""
    while True:
        row = await uow.session.scalar(select(VoiceTranscript).where(
            VoiceTranscript.status == "pending").order_by(VoiceTranscript.id).limit(1))
        if row is None:
            return None
        taken = await uow.session.execute(
            update(VoiceTranscript).where(VoiceTranscript.id == row.id, VoiceTranscript.status == "pending")
            .values(status="working", attempts=VoiceTranscript.attempts + 1)
            .execution_options(synchronize_session=False))
        if getattr(taken, "rowcount", 0) == 1:
            await uow.session.refresh(row)
            return row


async def do_finish(uow: UnitOfWork, *, transcript_id: int, engine: str, segments: list[Segment] | None,
                    status: str, error: str | None = None) -> None:
    row = await uow.session.get(VoiceTranscript, transcript_id)
    if row is None:
        return
    if status == "failed" and row.attempts < MAX_ATTEMPTS:
        status = "pending"  # tried again on the next round
    row.status, row.engine, row.error = status, engine, error[:500] if error else None
    if segments is not None:
        row.segments = [{"start_s": s.start_s, "end_s": s.end_s, "text": s.text} for s in segments]
        row.text = " ".join(s.text for s in segments)
    if status == "pending":
        return
    row.finished_at = uow.clock.now()
    contact = await get_contact(uow, row.contact_id)
    record_event(uow, contact, "transcribed", recording=row.recording, speaker=row.speaker, status=status,
                 segments=len(row.segments))
    audience = (SUPERVISORS, user_topic(contact.agent_id)) if contact.agent_id else (SUPERVISORS,)
    uow.emit(Event(VOICE_TRANSCRIBED, {"contact_id": row.contact_id, "transcript_id": row.id,
                                       "recording": row.recording, "speaker": row.speaker, "status": status},
                   audience, durable=False))


async def do_requeue_stale(uow: UnitOfWork, *, older_than: datetime) -> int:
    """Transcripts left ``working`` by a process that died go back in line."""
    result = await uow.session.execute(
        update(VoiceTranscript).where(VoiceTranscript.status == "working", VoiceTranscript.created_at < older_than,
                                      VoiceTranscript.finished_at.is_(None))
        .values(status="pending").execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


async def list_for(session: AsyncSession, contact_id: int) -> list[TranscriptOut]:
    rows = (await session.scalars(select(VoiceTranscript).where(VoiceTranscript.contact_id == contact_id)
                                  .order_by(VoiceTranscript.id))).all()
    return [TranscriptOut.model_validate(_fields(r)) for r in rows]


def _fields(row: VoiceTranscript) -> dict[str, Any]:
    return {"id": row.id, "recording": row.recording, "speaker": row.speaker, "agent_id": row.agent_id,
            "language": row.language, "status": row.status, "engine": row.engine, "segments": row.segments or [],
            "text": row.text, "error": row.error, "created_at": row.created_at, "finished_at": row.finished_at}
