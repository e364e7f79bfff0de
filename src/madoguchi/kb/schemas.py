from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Language = Literal["ja", "en"]
Status = Literal["draft", "published"]
Question = Annotated[str, Field(min_length=1, max_length=500)]
Tag = Annotated[str, Field(min_length=1, max_length=40)]


class ArticleIn(BaseModel):
    """An article as an editor writes it. ``title`` defaults to the first question."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    external_id: Annotated[str, Field(min_length=1, max_length=120)] | None = None
    title: Annotated[str, Field(max_length=300)] | None = None
    questions: list[Question] = Field(min_length=1, max_length=20)
    answer: Annotated[str, Field(min_length=1, max_length=20_000)]
    language: Language
    category: Annotated[str, Field(max_length=80)] | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    status: Status = "draft"

    @field_validator("questions")
    @classmethod
    def _questions(cls, value: list[str]) -> list[str]:
        cleaned = [q.strip() for q in value if q.strip()]
        if not cleaned:
            raise ValueError("give at least one question")
        return list(dict.fromkeys(cleaned))

    @model_validator(mode="after")
    def _title(self) -> ArticleIn:
        if not self.title:
            self.title = self.questions[0][:300]
        if self.category == "":
            self.category = None
        return self


class ArticleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    external_id: str | None
    title: str
    questions: list[str]
    answer: str
    language: str
    category: str | None
    tags: list[str]
    status: str
    version: int
    created_at: datetime
    updated_at: datetime
    updated_by: int | None


class ArticleVersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    title: str
    questions: list[str]
    answer: str
    language: str
    category: str | None
    tags: list[str]
    status: str
    author_user_id: int | None
    created_at: datetime


class ImportResult(BaseModel):
    created: int
    updated: int
    unchanged: int
    article_ids: list[int]


class SearchHitOut(BaseModel):
    article_id: int
    external_id: str | None
    title: str
    answer: str
    language: str
    category: str | None
    score: float
    confidence: float
