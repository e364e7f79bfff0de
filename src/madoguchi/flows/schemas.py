from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class DefinitionIn(BaseModel):
    """A definition as an object, or as JSON/YAML text."""

    model_config = ConfigDict(extra="forbid")

    definition: dict[str, Any] | None = None
    yaml: Annotated[str, Field(max_length=200_000)] | None = None

    @model_validator(mode="after")
    def _one(self) -> DefinitionIn:
        if (self.definition is None) == (self.yaml is None):
            raise ValueError("give either definition (an object) or yaml (text)")
        return self

    def raw(self) -> Any:
        return self.definition if self.definition is not None else self.yaml


class FlowCreate(DefinitionIn):
    name: Annotated[str, Field(min_length=1, max_length=120)]
    description: Annotated[str, Field(max_length=2000)] | None = None


class PublishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Annotated[int, Field(ge=1)] | None = None


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flow_id: int | None


class ValidationOut(BaseModel):
    ok: bool
    problems: list[dict[str, str]]
    warnings: list[dict[str, str]]


class FlowVersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    author_user_id: int | None
    created_at: datetime


class FlowOut(BaseModel):
    id: int
    name: str
    description: str | None
    latest_version: int
    published_version: int | None
    entry_point_ids: list[int]
    definition: dict[str, Any]
    warnings: list[dict[str, str]] = Field(default_factory=list)
    updated_at: datetime
