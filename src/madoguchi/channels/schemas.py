from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class EntryPointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    channel_kind: str = Field(pattern="^[a-z_]{2,20}$")
    queue_id: int | None = None
    require_verified_identity: bool = False
    settings: dict[str, Any] = Field(default_factory=dict)


class EntryPointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    channel_kind: str
    public_key: str
    queue_id: int | None
    require_verified_identity: bool
    settings: dict[str, Any]
    active: bool
    created_at: datetime


class EntryPointSecretOut(EntryPointOut):
    """Given once, to the admin who creates the entry point: the HMAC secret for signed identities."""

    secret: str
