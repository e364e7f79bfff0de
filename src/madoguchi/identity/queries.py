"""Reads for identity: who is behind a cookie or a token."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from madoguchi.identity.actions import token_digest
from madoguchi.identity.models import ApiToken, AuditEntry, Team, User, WebSession
from madoguchi.kernel.clock import Clock


@dataclass(frozen=True)
class Principal:
    """The authenticated user and how they proved it; csrf_token is set for cookie sessions."""

    user: User
    csrf_token: str | None


async def user_for_cookie(session: AsyncSession, clock: Clock, cookie: str) -> Principal | None:
    row = await session.execute(
        select(User, WebSession.csrf_token).join(WebSession, WebSession.user_id == User.id)
        .where(WebSession.id == token_digest(cookie), WebSession.expires_at > clock.now(), User.active)
    )
    found = row.first()
    return Principal(user=found[0], csrf_token=found[1]) if found else None


async def user_for_token(session: AsyncSession, token: str) -> Principal | None:
    row = await session.execute(
        select(User).join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == token_digest(token), ApiToken.revoked.is_(False), User.active)
    )
    user = row.scalar_one_or_none()
    return Principal(user=user, csrf_token=None) if user else None


async def list_users(session: AsyncSession) -> list[User]:
    return list((await session.scalars(select(User).order_by(User.id))).all())


async def list_teams(session: AsyncSession) -> list[Team]:
    return list((await session.scalars(select(Team).order_by(Team.id))).all())


async def list_tokens(session: AsyncSession, user_id: int) -> list[ApiToken]:
    stmt = select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked.is_(False))
    return list((await session.scalars(stmt.order_by(ApiToken.id))).all())


async def list_audit(session: AsyncSession, *, limit: int, before_id: int | None) -> list[AuditEntry]:
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before_id is not None:
        stmt = stmt.where(AuditEntry.id < before_id)
    return list((await session.scalars(stmt)).all())
