from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict

from madoguchi.api.deps import SESSION_COOKIE, CtxDep, public, require
from madoguchi.identity import actions, queries
from madoguchi.identity.models import User
from madoguchi.identity.permissions import Perm
from madoguchi.identity.schemas import (
    LoginIn,
    SessionOut,
    TeamCreate,
    TeamOut,
    TokenCreate,
    TokenOut,
    UserCreate,
    UserOut,
)

router = APIRouter(tags=["identity"])


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    actor_user_id: int | None
    action: str
    target: str
    data: dict[str, Any]
    at: datetime


@router.post("/auth/login", response_model=SessionOut, dependencies=[public("logging in")])
async def login(body: LoginIn, request: Request, response: Response, ctx: CtxDep) -> SessionOut:
    client = request.client.host if request.client else "unknown"
    ctx.login_limiter.hit(f"ip:{client}", f"user:{body.email.strip().lower()}")
    async with ctx.db.uow() as uow:
        new = await actions.check_login(uow, email=body.email, password=body.password,
                                        ttl=timedelta(hours=ctx.settings.session_ttl_hours))
    response.set_cookie(SESSION_COOKIE, new.cookie, httponly=True, samesite="lax", secure=ctx.settings.cookie_secure,
                        max_age=ctx.settings.session_ttl_hours * 3600, path="/")
    return SessionOut(user=UserOut.model_validate(new.user), csrf_token=new.csrf_token)


@router.post("/auth/logout", status_code=204, dependencies=[public("logging out ends whatever session is sent")])
async def logout(request: Request, response: Response, ctx: CtxDep) -> None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        async with ctx.db.uow() as uow:
            await actions.do_logout(uow, cookie=cookie)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/me", response_model=UserOut)
async def me(user: Annotated[User, require(Perm.SELF)]) -> UserOut:
    return UserOut.model_validate(user)


@router.get("/users", response_model=list[UserOut])
async def list_users(ctx: CtxDep, _user: Annotated[User, require(Perm.MANAGE_USERS)]) -> list[UserOut]:
    async with ctx.db.read() as session:
        return [UserOut.model_validate(u) for u in await queries.list_users(session)]


@router.post("/users", response_model=UserOut, status_code=201)
async def create_user(body: UserCreate, ctx: CtxDep, user: Annotated[User, require(Perm.MANAGE_USERS)]) -> UserOut:
    async with ctx.db.uow() as uow:
        created = await actions.check_create_user(uow, actor=user, data=body)
    return UserOut.model_validate(created)


@router.get("/teams", response_model=list[TeamOut])
async def list_teams(ctx: CtxDep, _user: Annotated[User, require(Perm.READ_AGENTS)]) -> list[TeamOut]:
    async with ctx.db.read() as session:
        return [TeamOut.model_validate(t) for t in await queries.list_teams(session)]


@router.post("/teams", response_model=TeamOut, status_code=201)
async def create_team(body: TeamCreate, ctx: CtxDep, user: Annotated[User, require(Perm.MANAGE_USERS)]) -> TeamOut:
    async with ctx.db.uow() as uow:
        return TeamOut.model_validate(await actions.check_create_team(uow, actor=user, data=body))


@router.get("/me/tokens", response_model=list[TokenOut])
async def list_tokens(ctx: CtxDep, user: Annotated[User, require(Perm.SELF)]) -> list[TokenOut]:
    async with ctx.db.read() as session:
        rows = await queries.list_tokens(session, user.id)
    return [TokenOut(id=t.id, name=t.name, created_at=t.created_at) for t in rows]


@router.post("/me/tokens", response_model=TokenOut, status_code=201)
async def create_token(body: TokenCreate, ctx: CtxDep, user: Annotated[User, require(Perm.SELF)]) -> TokenOut:
    async with ctx.db.uow() as uow:
        row, token = await actions.do_create_token(uow, user=user, name=body.name)
    return TokenOut(id=row.id, name=row.name, token=token, created_at=row.created_at)


@router.delete("/me/tokens/{token_id}", status_code=204)
async def revoke_token(token_id: int, ctx: CtxDep, user: Annotated[User, require(Perm.SELF)]) -> None:
    async with ctx.db.uow() as uow:
        await actions.check_revoke_token(uow, user=user, token_id=token_id)


@router.get("/audit", response_model=list[AuditOut])
async def list_audit(ctx: CtxDep, _user: Annotated[User, require(Perm.READ_AUDIT)],
                     limit: Annotated[int, Query(ge=1, le=500)] = 100,
                     before_id: Annotated[int | None, Query(ge=1)] = None) -> list[AuditOut]:
    """Newest first; page with ``before_id``."""
    async with ctx.db.read() as session:
        rows = await queries.list_audit(session, limit=limit, before_id=before_id)
    return [AuditOut.model_validate(r) for r in rows]
