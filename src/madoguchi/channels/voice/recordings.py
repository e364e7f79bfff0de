"""Recordings of calls as files: where they go, which a contact has, and pausing them (card
numbers). One directory per contact under ``MADOGUCHI_VOICE_RECORDINGS_DIR``; one stereo WAV per
leg: ``caller.wav`` and ``agent-<user id>.wav`` (``-2``, ``-3`` … when the same agent comes back), and
``voicemail.wav``, the message a caller left with a callback request."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from madoguchi.contacts.access import access_contact
from madoguchi.contacts.actions import record_event
from madoguchi.contacts.states import HANDLING_STATES
from madoguchi.db.uow import UnitOfWork
from madoguchi.identity.models import User
from madoguchi.identity.permissions import Perm, has
from madoguchi.kernel.errors import Conflict, NotFound
from madoguchi.kernel.events import SUPERVISORS, Event, user_topic
from madoguchi.settings import Settings

#: Bus event that tells the node holding the call to pause or resume its recorders.
VOICE_RECORDING = "voice.recording"
NAME_PATTERN = re.compile(r"^(caller|voicemail|agent-\d+)(-\d+)?\.wav$")


class RecordingOut(BaseModel):
    name: str
    leg: str       # "caller", "agent" or "voicemail"
    agent_id: int | None
    bytes: int
    url: str


def contact_dir(root: Path, contact_id: int) -> Path:
    return root / f"contact-{contact_id}"


def new_path(root: Path, contact_id: int, leg: str) -> Path:
    """A file name for ``leg`` ("caller" or "agent-<id>") not used yet in this contact."""
    directory = contact_dir(root, contact_id)
    path, n = directory / f"{leg}.wav", 1
    while path.exists():
        n += 1
        path = directory / f"{leg}-{n}.wav"
    return path


def list_for(settings: Settings, contact_id: int) -> list[RecordingOut]:
    if not settings.voice_recordings_dir:
        return []
    directory = contact_dir(Path(settings.voice_recordings_dir), contact_id)
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.iterdir()):
        match = NAME_PATTERN.match(path.name)
        if match is None or not path.is_file():
            continue
        leg = match.group(1)
        agent = leg.startswith("agent-")
        found.append(RecordingOut(name=path.name, leg="agent" if agent else leg,
                                  agent_id=int(leg[6:]) if agent else None, bytes=path.stat().st_size,
                                  url=f"/api/v1/contacts/{contact_id}/recordings/{path.name}"))
    return found


def path_of(settings: Settings, contact_id: int, name: str) -> Path:
    """The file of one recording; NotFound for any name that is not one of the contact's recordings
    (so no path outside the contact's directory can be asked for)."""
    if not settings.voice_recordings_dir or NAME_PATTERN.match(name) is None:
        raise NotFound("recording", name)
    path = contact_dir(Path(settings.voice_recordings_dir), contact_id) / name
    if not path.is_file():
        raise NotFound("recording", name)
    return path


async def check_pause(uow: UnitOfWork, *, actor: User, contact_id: int, paused: bool) -> None:
    """The agent on the call (or a supervisor) pauses or resumes its recording."""
    contact = await access_contact(uow.session, actor, contact_id)
    if contact.channel_kind != "voice" or contact.state not in HANDLING_STATES:
        raise Conflict("only a call in progress has a recording to pause")
    if contact.agent_id != actor.id and not has(actor.role, Perm.READ_ALL_CONTACTS):
        raise NotFound("contact", contact_id)
    record_event(uow, contact, "recording_paused" if paused else "recording_resumed", agent_id=actor.id)
    audience = (user_topic(contact.agent_id), SUPERVISORS) if contact.agent_id else (SUPERVISORS,)
    uow.emit(Event(VOICE_RECORDING, {"contact_id": contact.id, "paused": paused}, audience, durable=False))
