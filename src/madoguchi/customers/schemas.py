from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class IdentityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    address: str
    verified: bool


class CustomerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    display_name: str | None
    email: str | None
    phone: str | None
    language: str | None
    attributes: dict[str, Any]
    created_at: datetime
    identities: list[IdentityOut] = []


class CustomerUpdate(BaseModel):
    """Profile fields an agent may correct; ``attributes`` are merged (a null value removes a key).
    ``attributes.priority`` (−100…100) raises the routing priority of the customer's contacts."""

    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(default=None, min_length=1, max_length=120)
    phone: str | None = Field(default=None, max_length=40)
    language: str | None = Field(default=None, pattern="^(ja|en)$")
    attributes: dict[str, Any] | None = Field(default=None, max_length=50)

    @field_validator("attributes")
    @classmethod
    def _attributes(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        for key, item in value.items():
            if not 1 <= len(key) <= 40:
                raise ValueError("attribute names are 1–40 characters")
            if item is not None and not isinstance(item, str | int | float | bool):
                raise ValueError(f"attribute {key!r} must be a string, number or boolean")
            if isinstance(item, str) and len(item) > 500:
                raise ValueError(f"attribute {key!r} is longer than 500 characters")
        priority = value.get("priority")
        if priority is not None and (isinstance(priority, bool) or not isinstance(priority, int)
                                     or not -100 <= priority <= 100):
            raise ValueError("priority must be an integer from -100 to 100")
        return value
