from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from madoguchi.customers.schemas import CustomerOut


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    contact_id: int
    kind: str
    author_kind: str
    author_user_id: int | None
    body: str
    client_msg_id: str | None
    created_at: datetime


class MessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1)
    kind: str = Field(default="text", pattern="^(text|note)$")
    client_msg_id: str | None = Field(default=None, max_length=64)


class ContactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    case_id: int
    channel_kind: str
    direction: str
    entry_point_id: int | None
    queue_id: int | None
    agent_id: int | None
    state: str
    priority: int
    subject: str | None
    disposition_id: int | None
    wrap_up_note: str | None
    created_at: datetime
    enqueued_at: datetime | None
    accepted_at: datetime | None
    ended_at: datetime | None
    wrapped_up_at: datetime | None


class ContactEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    contact_id: int
    type: str
    at: datetime
    queue_id: int | None
    agent_id: int | None
    data: dict[str, Any]


class TimelineItem(BaseModel):
    contact_id: int
    case_id: int
    channel_kind: str
    direction: str
    state: str
    subject: str | None
    created_at: datetime
    ended_at: datetime | None
    agent_name: str | None
    disposition_code: str | None
    last_message: str | None
    message_count: int


class ContactDetail(BaseModel):
    """What the agent desktop shows beside a conversation: the screen pop."""

    contact: ContactOut
    customer: CustomerOut
    messages: list[MessageOut]
    timeline: list[TimelineItem]


class WrapUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    disposition_code: str = Field(min_length=1, max_length=40)
    note: str | None = Field(default=None, max_length=4000)


class DispositionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[a-z0-9_\-]{1,40}$")
    label_en: str = Field(min_length=1, max_length=120)
    label_ja: str = Field(min_length=1, max_length=120)
    resolves_case: bool = True


class DispositionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    label_en: str
    label_ja: str
    resolves_case: bool
    active: bool
