from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from madoguchi.contacts.schemas import MessageOut
from madoguchi.identity.schemas import EMAIL_PATTERN


class SignedIdentity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    identifier: str = Field(min_length=1, max_length=200)
    signature: str = Field(min_length=64, max_length=64, pattern="^[0-9a-fA-F]{64}$")


class WidgetSessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    public_key: str = Field(min_length=1, max_length=64)
    visitor_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_\-]{8,64}$")
    name: str | None = Field(default=None, max_length=120)
    email: str | None = Field(default=None, max_length=254)
    language: str | None = Field(default=None, pattern="^(ja|en)$")
    identity: SignedIdentity | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        import re

        if value is None or not value.strip():
            return None
        value = value.strip().lower()
        if not re.match(EMAIL_PATTERN, value):
            raise ValueError("not an email address")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return value.strip() or None if value else None


class WidgetSessionOut(BaseModel):
    token: str
    session_id: int
    visitor_id: str
    customer_id: int
    customer_name: str | None
    contact_id: int | None
    contact_state: str | None
    agent_name: str | None
    messages: list[MessageOut]
    last_event_id: int
    queue_position: int | None = None
    estimated_wait_s: float | None = None


class WidgetMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1)
    client_msg_id: str | None = Field(default=None, max_length=64)
