from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from madoguchi.db.base import Base, BigId


class AgentProfile(Base):
    __tablename__ = "agent_profiles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(String(20), default="offline")
    break_reason: Mapped[str | None] = mapped_column(String(40))
    state_since: Mapped[datetime]
    idle_since: Mapped[datetime | None]
    capacity: Mapped[dict[str, Any]]
    skills: Mapped[dict[str, Any]] = mapped_column(default=dict)      # skill → proficiency 1..5
    voice_exclusive: Mapped[bool] = mapped_column(default=True)       # on a call, no other work
    missed_offers: Mapped[int] = mapped_column(default=0)             # consecutive offers let lapse


class AgentStateSpan(Base):
    """One span per state an agent was in; ``ended_at`` is NULL for the current one."""

    __tablename__ = "agent_state_spans"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(40))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_agent_state_spans_started_at", "started_at"),)
