"""Voice HTTP API (docs/voice.md): pause/resume a call's recording, list and play recordings.
Thin: parse, authorise, one action or query, serialise."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel

from madoguchi.api.deps import CtxDep, require
from madoguchi.channels.voice import consult, recordings, transcripts, uploads
from madoguchi.channels.voice.audio import RATE, wav_bytes
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


@router.get("/voice/prompts", response_model=list[uploads.VoicePromptOut])
async def list_prompts(ctx: CtxDep, _user: Annotated[User, require(Perm.MANAGE_FLOWS)]) -> list[uploads.VoicePromptOut]:
    return await uploads.list_all(ctx.db)


@router.put("/voice/prompts/{name}/{language}", response_model=uploads.VoicePromptOut)
async def upload_prompt(name: str, language: str, request: Request, ctx: CtxDep,
                        user: Annotated[User, require(Perm.MANAGE_FLOWS)]) -> uploads.VoicePromptOut:
    """The body is the WAV file itself (any PCM WAV; kept as 8 kHz mono)."""
    uploads.check_name(name, language)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > uploads.MAX_UPLOAD_BYTES:
            break
    pcm = await uploads.convert(bytes(body))
    async with ctx.db.uow() as uow:
        return await uploads.check_upload(uow, actor=user, name=name, language=language, pcm=pcm)


@router.get("/voice/prompts/{name}/{language}", response_class=Response)
async def play_prompt(name: str, language: str, ctx: CtxDep,
                      _user: Annotated[User, require(Perm.MANAGE_FLOWS)]) -> Response:
    pcm = await uploads.pcm_of(ctx.db, name, language)
    return Response(wav_bytes(pcm, RATE), media_type="audio/wav")


@router.delete("/voice/prompts/{name}/{language}", status_code=204)
async def delete_prompt(name: str, language: str, ctx: CtxDep,
                        user: Annotated[User, require(Perm.MANAGE_FLOWS)]) -> None:
    async with ctx.db.uow() as uow:
        await uploads.check_delete(uow, actor=user, name=name, language=language)


@router.get("/voice/colleagues", response_model=list[consult.ColleagueOut])
async def list_colleagues(ctx: CtxDep,
                          user: Annotated[User, require(Perm.HANDLE_CONTACTS)]) -> list[consult.ColleagueOut]:
    async with ctx.db.read() as session:
        return await consult.colleagues(session, me=user)


@router.post("/contacts/{contact_id}/voice/consult", status_code=202)
async def start_consult(contact_id: int, body: consult.ConsultIn, ctx: CtxDep,
                        user: Annotated[User, require(Perm.HANDLE_CONTACTS)]) -> dict[str, str]:
    """Ring a colleague's phone while the caller waits on hold (the answer comes as ``voice.call``
    events: consult_ringing, consulting, consult_failed)."""
    async with ctx.db.uow() as uow:
        await consult.check_consult(uow, actor=user, contact_id=contact_id, agent_id=body.agent_id,
                                    queue_id=body.queue_id)
    return {"status": "ringing"}


@router.post("/contacts/{contact_id}/voice/consult/{action}", status_code=202)
async def consult_action(contact_id: int, action: consult.Action, ctx: CtxDep,
                         user: Annotated[User, require(Perm.HANDLE_CONTACTS)]) -> dict[str, str]:
    """complete (attended transfer), conference (three-way) or cancel (back to the caller)."""
    async with ctx.db.uow() as uow:
        await consult.check_consult_action(uow, actor=user, contact_id=contact_id, action=action)
    return {"status": action}


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
