"""Annotated dependency aliases. Every route names its permission through ``require`` or says it is
public through ``public``; tests walk the app and fail on a route that does neither."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request

from madoguchi.context import AppContext
from madoguchi.identity.models import User
from madoguchi.identity.permissions import Perm, has
from madoguchi.identity.queries import Principal, user_for_cookie, user_for_token
from madoguchi.kernel.errors import CsrfFailed, NotAuthenticated, PermissionDenied

SESSION_COOKIE = "madoguchi_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


CtxDep = Annotated[AppContext, Depends(get_ctx)]


async def authenticate(ctx: AppContext, *, cookie: str | None, authorization: str | None) -> Principal | None:
    async with ctx.db.read() as session:
        if authorization and authorization.lower().startswith("bearer "):
            return await user_for_token(session, authorization[7:].strip())
        if cookie:
            return await user_for_cookie(session, ctx.clock, cookie)
    return None


async def _principal(request: Request) -> Principal:
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    principal = await authenticate(get_ctx(request), cookie=request.cookies.get(SESSION_COOKIE),
                                   authorization=request.headers.get("authorization"))
    if principal is None:
        raise NotAuthenticated("log in or send a bearer API token")
    if principal.csrf_token is not None and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER)
        if sent is None and request.headers.get("content-type", "").startswith(
                ("application/x-www-form-urlencoded", "multipart/form-data")):
            sent = str((await request.form()).get("csrf_token") or "")
        if sent != principal.csrf_token:
            raise CsrfFailed("missing or wrong CSRF token")
    request.state.principal = principal
    return principal


def require(perm: Perm) -> Any:
    """Dependency that yields the current user when they hold ``perm``."""

    async def _dep(request: Request) -> User:
        principal = await _principal(request)
        if not has(principal.user.role, perm):
            raise PermissionDenied(f"your role ({principal.user.role}) may not do this ({perm.value})")
        return principal.user

    _dep.__permission__ = perm.value  # type: ignore[attr-defined]
    return Depends(_dep)


def public(reason: str) -> Any:
    """Marks a route as reachable without login, with the reason it must be."""

    def _dep() -> None:
        return None

    _dep.__permission__ = f"public:{reason}"  # type: ignore[attr-defined]
    return Depends(_dep)


def permission_of(call: Callable[..., Any]) -> str | None:
    return getattr(call, "__permission__", None)
