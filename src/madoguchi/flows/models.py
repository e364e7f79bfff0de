from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from madoguchi.db.base import Base


class Flow(Base):
    __tablename__ = "flows"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    latest_version: Mapped[int] = mapped_column(Integer, default=1)
    published_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class FlowVersion(Base):
    """One saved definition; never changed after insert."""

    __tablename__ = "flow_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    flow_id: Mapped[int] = mapped_column(ForeignKey("flows.id"))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]]
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("flow_id", "version", name="uq_flow_versions_version"),)


class FlowAssignment(Base):
    """The flow that first meets the contacts of an entry point."""

    __tablename__ = "flow_assignments"

    entry_point_id: Mapped[int] = mapped_column(ForeignKey("entry_points.id"), primary_key=True)
    flow_id: Mapped[int] = mapped_column(ForeignKey("flows.id"))
    created_at: Mapped[datetime]


class FlowSession(Base):
    """A contact inside a flow: the interpreter's state between two inputs."""

    __tablename__ = "flow_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), unique=True)
    flow_version_id: Mapped[int] = mapped_column(ForeignKey("flow_versions.id"))
    status: Mapped[str] = mapped_column(String(16), index=True)
    state: Mapped[dict[str, Any]]
    deadline_at: Mapped[datetime | None] = mapped_column(index=True)
    last_message_id: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
