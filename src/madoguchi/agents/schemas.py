from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

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
    active_contacts: int
    queue_ids: list[int]
