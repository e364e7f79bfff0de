from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class QueueCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    name_ja: str | None = Field(default=None, max_length=120)
    priority: int = Field(default=0, ge=-100, le=100)
    service_level_s: int = Field(default=60, ge=1, le=86_400)
    offer_timeout_s: int | None = Field(default=None, ge=3, le=600)
    agent_ids: list[int] = Field(default_factory=list, max_length=1000)


class QueueOut(BaseModel):
    id: int
    name: str
    name_ja: str | None
    priority: int
    service_level_s: int
    offer_timeout_s: int | None
    agent_ids: list[int]
    waiting: int
    longest_wait_s: float | None
    strategy: str = "longest_idle"
    requirements: list[dict[str, Any]] = []
    relaxation: list[dict[str, Any]] = []
    overflow: list[dict[str, Any]] = []
    priority_step_s: int = 60
    sticky_window_s: int | None = None
    wrap_up_limit_s: int | None = None
    default_aht_s: int = 300
    hours: dict[str, Any] | None = None


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queue_id: int | None = None
    agent_id: int | None = None


class PositionOut(BaseModel):
    contact_id: int
    queue_id: int
    position: int
    estimated_wait_s: float | None


class QueueMembersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_ids: list[int] = Field(max_length=1000)


class OfferOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    contact_id: int
    agent_id: int
    queue_id: int | None
    state: str
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None
