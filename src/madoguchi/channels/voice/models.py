"""Voice tables: agents' SIP accounts and one row per customer call."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from madoguchi.db.base import Base, BigId


class SipAccount(Base):
    """An agent's phone login. Only the digest HA1 = MD5(user:realm:password) is kept."""

    __tablename__ = "sip_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    realm: Mapped[str] = mapped_column(String(64))
    ha1: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]


class VoiceCall(Base):
    """One customer call (the caller's leg) and what happened to it."""

    __tablename__ = "voice_calls"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    sip_call_id: Mapped[str] = mapped_column(String(255))
    caller: Mapped[str] = mapped_column(String(64))
    callee: Mapped[str] = mapped_column(String(64))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(20))          # ringing ivr queued bridged callback dialing ended
    callback_number: Mapped[str | None] = mapped_column(String(64))  # the caller asked to be called back here
    digits: Mapped[str | None] = mapped_column(String(64))  # what the caller pressed in the IVR
    end_reason: Mapped[str | None] = mapped_column(String(20))
    recording_path: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    bridged_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]


class VoicePrompt(Base):
    """A recorded prompt an admin uploaded, per language, for IVR flows (``say``/``ask`` with
    ``audio``). Kept converted (8 kHz mono 16-bit PCM), so playing it costs no decoding."""

    __tablename__ = "voice_prompts"
    __table_args__ = (UniqueConstraint("name", "language", name="uq_voice_prompts_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    pcm: Mapped[bytes] = mapped_column(LargeBinary)
    duration_ms: Mapped[int]
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime]


class VoiceTranscript(Base):
    """The transcript of one recording (one leg's far end: the customer or an agent), made after
    the call by the transcription worker. ``status``: pending, done, skipped (the engine has no
    model for the language) or failed (``error`` says why)."""

    __tablename__ = "voice_transcripts"
    __table_args__ = (UniqueConstraint("contact_id", "recording", name="uq_voice_transcripts_contact_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    recording: Mapped[str] = mapped_column(String(200))      # file name in the contact's recordings
    speaker: Mapped[str] = mapped_column(String(20))         # customer | agent
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    language: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(10), index=True)
    engine: Mapped[str | None] = mapped_column(String(40))
    segments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    text: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
