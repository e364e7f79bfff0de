"""Email settings of an entry point, and the email API's request and response models."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from madoguchi.identity.schemas import EMAIL_PATTERN

_DOMAIN = re.compile(r"^@[a-z0-9.\-]+\.[a-z]{2,}$")


def _address(value: str) -> str:
    value = value.strip().lower()
    if not re.match(EMAIL_PATTERN, value) or value.startswith("reply+"):
        raise ValueError(f"{value!r} is not an email address we can receive at")
    return value


class EmailSettings(BaseModel):
    """``entry_points.settings`` of an email entry point."""

    model_config = ConfigDict(extra="ignore")

    address: str = Field(max_length=254)
    aliases: list[str] = Field(default_factory=list, max_length=20)
    from_name: str | None = Field(default=None, max_length=120)
    auto_ack: bool = False
    auto_ack_template: str = Field(default="auto_ack", max_length=80)
    block_list: list[str] = Field(default_factory=list, max_length=1000)

    @field_validator("address")
    @classmethod
    def _main(cls, value: str) -> str:
        return _address(value)

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, value: list[str]) -> list[str]:
        return [_address(v) for v in value]

    @field_validator("block_list")
    @classmethod
    def _blocks(cls, value: list[str]) -> list[str]:
        cleaned = []
        for item in value:
            item = item.strip().lower()
            if not (_DOMAIN.match(item) or re.match(EMAIL_PATTERN, item)):
                raise ValueError(f"{item!r} is neither an address nor @domain")
            cleaned.append(item)
        return cleaned

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]

    def blocks(self, sender: str | None) -> bool:
        if not sender:
            return False
        return sender in self.block_list or "@" + sender.rpartition("@")[2] in self.block_list


class AttachmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=200)
    content_type: str = Field(default="application/octet-stream", pattern=r"^[\w.+\-]+/[\w.+\-]+$", max_length=100)
    data_base64: str = Field(max_length=14_000_000)


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body_text: str = Field(min_length=1, max_length=200_000)
    body_html: str | None = Field(default=None, max_length=500_000)
    to: list[str] | None = Field(default=None, max_length=50)
    cc: list[str] = Field(default_factory=list, max_length=50)
    bcc: list[str] = Field(default_factory=list, max_length=50)
    subject: str | None = Field(default=None, max_length=300)
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=20)

    @field_validator("to", "cc", "bcc")
    @classmethod
    def _addresses(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        out = []
        for item in value:
            item = item.strip().lower()
            if not re.match(EMAIL_PATTERN, item):
                raise ValueError(f"{item!r} is not an email address")
            out.append(item)
        return out


class AttachmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    filename: str
    content_type: str
    size: int
    content_id: str | None
    disposition: str
    url: str = ""


class EmailOut(BaseModel):
    id: int
    contact_id: int
    message_row_id: int | None
    direction: str
    message_id: str | None
    in_reply_to: str | None
    references: list[str]
    subject: str
    from_addr: str
    from_name: str | None
    to: list[str]
    cc: list[str]
    bcc: list[str]
    reply_to: str | None
    sent_date: datetime | None
    text: str
    html: str | None
    charset: str | None
    auto_kind: str | None
    defects: list[str]
    parse_error: str | None
    author_user_id: int | None
    created_at: datetime
    delivery_status: str | None = None
    delivery_error: str | None = None
    raw_url: str | None = None
    attachments: list[AttachmentOut] = []


class EmailThreadOut(BaseModel):
    contact_id: int
    case_id: int
    reply_address: str | None
    first_response_due_at: datetime | None
    first_responded_at: datetime | None
    emails: list[EmailOut]


class TemplateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9_\-]{1,80}$")
    language: Literal["ja", "en"]
    subject: str | None = Field(default=None, max_length=300)
    body: str = Field(min_length=1, max_length=20_000)


class TemplateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    language: str
    subject: str | None
    body: str
    active: bool


class RenderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template_id: int


class RenderedOut(BaseModel):
    subject: str | None
    body: str
    variables: dict[str, str]


class InboundOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    entry_point_id: int
    source: str
    source_ref: str | None
    mail_from: str
    rcpt_to: list[str]
    size: int
    status: str
    reason: str | None
    error: str | None
    email_message_id: int | None
    contact_id: int | None
    received_at: datetime
    processed_at: datetime | None


class ImapIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1, max_length=255)
    port: int = Field(default=993, ge=1, le=65535)
    security: Literal["ssl", "starttls", "none"] = "ssl"
    username: str = Field(min_length=1, max_length=255)
    password: str = Field(min_length=1, max_length=500)
    folder: str = Field(default="INBOX", min_length=1, max_length=255)
    processed_folder: str | None = Field(default=None, max_length=255)
    enabled: bool = True


class ImapOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    entry_point_id: int
    host: str
    port: int
    security: str
    username: str
    folder: str
    processed_folder: str | None
    uidvalidity: int | None
    last_uid: int
    enabled: bool
    last_error: str | None
    last_polled_at: datetime | None


class QueueSlaIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_response_s: int = Field(ge=60, le=30 * 86_400)


def settings_of(raw: dict[str, Any]) -> EmailSettings | None:
    """The entry point's email settings, or None when they are not valid (it then receives nothing)."""
    try:
        return EmailSettings.model_validate(raw)
    except ValueError:
        return None
