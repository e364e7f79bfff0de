from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


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
