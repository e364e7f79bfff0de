"""Writes for users, sessions and API tokens."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select

from madoguchi.db.uow import UnitOfWork
from madoguchi.identity.audit import do_audit
from madoguchi.identity.models import ApiToken, Team, User, WebSession
from madoguchi.identity.passwords import hash_password, verify_password
from madoguchi.identity.schemas import TeamCreate, UserCreate
from madoguchi.kernel.errors import Conflict, InvalidInput, NotAuthenticated, NotFound


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def check_create_user(uow: UnitOfWork, *, actor: User | None, data: UserCreate) -> User:
    if await uow.session.scalar(select(User.id).where(User.email == data.email)) is not None:
        raise Conflict(f"a user with email {data.email} exists", field="email")
    if data.team_id is not None and await uow.session.get(Team, data.team_id) is None:
        raise NotFound("team", data.team_id)
    return await do_create_user(uow, actor=actor, data=data)


async def do_create_user(uow: UnitOfWork, *, actor: User | None, data: UserCreate) -> User:
    # argon2 takes a few hundred milliseconds on purpose: off the event loop, so chats keep flowing.
    password_hash = await asyncio.to_thread(hash_password, data.password)
    user = User(email=data.email, display_name=data.display_name, role=data.role.value,
                password_hash=password_hash, locale=data.locale, team_id=data.team_id,
                active=True, created_at=uow.clock.now())
    uow.session.add(user)
    await uow.session.flush()
    do_audit(uow, actor=actor, action="user.created", target=f"user:{user.id}", role=user.role)
    return user


async def check_create_team(uow: UnitOfWork, *, actor: User, data: TeamCreate) -> Team:
    if await uow.session.scalar(select(Team.id).where(Team.name == data.name)) is not None:
        raise Conflict(f"a team named {data.name} exists", field="name")
    team = Team(name=data.name, created_at=uow.clock.now())
    uow.session.add(team)
    await uow.session.flush()
    do_audit(uow, actor=actor, action="team.created", target=f"team:{team.id}")
    return team


@dataclass(frozen=True)
class NewSession:
    cookie: str
    csrf_token: str
    user: User


async def check_login(uow: UnitOfWork, *, email: str, password: str, ttl: timedelta) -> NewSession:
    user = await uow.session.scalar(select(User).where(User.email == email.strip().lower()))
    ok = await asyncio.to_thread(verify_password, user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        raise NotAuthenticated("wrong email or password")
    now = uow.clock.now()
    await uow.session.execute(delete(WebSession).where(WebSession.user_id == user.id,
                                                       WebSession.expires_at < now))
    cookie = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    uow.session.add(WebSession(id=token_digest(cookie), user_id=user.id, csrf_token=csrf, created_at=now,
                               expires_at=now + ttl))
    return NewSession(cookie=cookie, csrf_token=csrf, user=user)


async def do_logout(uow: UnitOfWork, *, cookie: str) -> None:
    await uow.session.execute(delete(WebSession).where(WebSession.id == token_digest(cookie)))


async def do_create_token(uow: UnitOfWork, *, user: User, name: str) -> tuple[ApiToken, str]:
    token = "mdg_" + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, token_hash=token_digest(token), created_at=uow.clock.now(),
                   revoked=False)
    uow.session.add(row)
    await uow.session.flush()
    do_audit(uow, actor=user, action="api_token.created", target=f"api_token:{row.id}")
    return row, token


async def check_revoke_token(uow: UnitOfWork, *, user: User, token_id: int) -> None:
    row = await uow.session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        raise NotFound("api token", token_id)
    row.revoked = True
    do_audit(uow, actor=user, action="api_token.revoked", target=f"api_token:{row.id}")


def check_password_strength(password: str) -> None:
    if len(password) < 8:
        raise InvalidInput("password must have at least 8 characters", field="password")
