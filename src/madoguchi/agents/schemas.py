from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from madoguchi.agents.states import AgentState

DEFAULT_CAPACITY = {"voice": 1, "chat": 3, "email": 5, "messaging": 4}


class AgentStateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: AgentState = Field(description="available, break or offline; busy and wrap_up follow the work")
    reason: str | None = Field(default=None, max_length=40, description="required with break")


class AgentOut(BaseModel):
    user_id: int
    display_name: str
    email: str
    role: str
    state: str
    break_reason: str | None
    state_since: datetime | None
    idle_since: datetime | None
    capacity: dict[str, int]
    skills: dict[str, int] = {}
    voice_exclusive: bool = True
    missed_offers: int = 0
    active_contacts: int
    queue_ids: list[int]


CAPACITY_CLASSES = ("voice", "chat", "email", "messaging")


class AgentRoutingIn(BaseModel):
    """Skills with proficiency 1–5 and capacity per class of work; omitted fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    skills: dict[str, int] | None = Field(default=None, max_length=100)
    capacity: dict[str, int] | None = None
    voice_exclusive: bool | None = None

    @field_validator("skills")
    @classmethod
    def _skills(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        if value is None:
            return None
        for name, level in value.items():
            if not re.fullmatch(r"[a-z0-9_\-]{1,40}", name):
                raise ValueError(f"skill names are lowercase letters, digits, _ or -: {name!r}")
            if not 1 <= level <= 5:
                raise ValueError(f"proficiency of {name!r} must be 1–5")
        return value

    @field_validator("capacity")
    @classmethod
    def _capacity(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        if value is None:
            return None
        for name, n in value.items():
            if name not in CAPACITY_CLASSES:
                raise ValueError(f"capacity classes are {', '.join(CAPACITY_CLASSES)}")
            if not 0 <= n <= 50:
                raise ValueError(f"capacity for {name} must be 0–50")
        return value
