"""Voice HTTP API (docs/voice.md): pause/resume a call's recording, list and play recordings.
Thin: parse, authorise, one action or query, serialise."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import FileResponse
from pydantic import BaseModel

from madoguchi.api.deps import CtxDep, require
from madoguchi.channels.voice import recordings, transcripts
from madoguchi.channels.voice.recordings import RecordingOut
from madoguchi.channels.voice.transcripts import TranscriptOut
from madoguchi.contacts.access import access_contact
from madoguchi.identity.models import User
from madoguchi.identity.permissions import Perm

router = APIRouter(tags=["voice"])


class RecordingPauseIn(BaseModel):
    paused: bool


@router.put("/contacts/{contact_id}/voice/recording", status_code=204)
async def pause_recording(contact_id: int, body: RecordingPauseIn, ctx: CtxDep,
                          user: Annotated[User, require(Perm.HANDLE_CONTACTS)]) -> None:
    async with ctx.db.uow() as uow:
        await recordings.check_pause(uow, actor=user, contact_id=contact_id, paused=body.paused)


@router.get("/contacts/{contact_id}/recordings", response_model=list[RecordingOut])
async def list_recordings(contact_id: int, ctx: CtxDep,
                          user: Annotated[User, require(Perm.READ_QUEUES)]) -> list[RecordingOut]:
    async with ctx.db.read() as session:
        contact = await access_contact(session, user, contact_id)
    return recordings.list_for(ctx.settings, contact.id)


@router.get("/contacts/{contact_id}/recordings/{name}", response_class=FileResponse)
async def play_recording(contact_id: int, name: str, ctx: CtxDep,
                         user: Annotated[User, require(Perm.READ_QUEUES)]) -> FileResponse:
    async with ctx.db.read() as session:
        contact = await access_contact(session, user, contact_id)
    path = recordings.path_of(ctx.settings, contact.id, name)
    return FileResponse(path, media_type="audio/wav", filename=f"contact-{contact.id}-{name}")


@router.get("/contacts/{contact_id}/transcripts", response_model=list[TranscriptOut])
async def list_transcripts(contact_id: int, ctx: CtxDep,
                           user: Annotated[User, require(Perm.READ_QUEUES)]) -> list[TranscriptOut]:
    async with ctx.db.read() as session:
        contact = await access_contact(session, user, contact_id)
        return await transcripts.list_for(session, contact.id)
