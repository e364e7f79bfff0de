"""Every route names its permission (or says why it is public): walk the app and check."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import BaseRoute

from madoguchi.api.deps import permission_of
from madoguchi.app import create_app
from madoguchi.identity.permissions import GRANTS, Perm, Role
from madoguchi.settings import Settings

FRAMEWORK_PAGES = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def _permissions(dependant: Dependant) -> list[str]:
    found: list[str] = []
    for dep in dependant.dependencies:
        if dep.call is not None and (perm := permission_of(dep.call)) is not None:
            found.append(perm)
        found.extend(_permissions(dep))
    return found


def _routes(routes: list[BaseRoute]) -> Iterator[APIRoute | APIWebSocketRoute]:
    for route in routes:
        nested = getattr(route, "original_router", None)  # FastAPI keeps included routers nested
        if nested is not None:
            yield from _routes(nested.routes)
        elif isinstance(route, APIRoute | APIWebSocketRoute):
            yield route


def test_every_route_declares_exactly_one_permission() -> None:
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"))
    checked = 0
    for route in _routes(app.routes):
        if route.path in FRAMEWORK_PAGES:
            continue
        perms = _permissions(route.dependant)
        assert len(perms) == 1, f"{route.path} declares {perms or 'no permission'}"
        checked += 1
    assert checked > 30


def test_admin_holds_every_permission_and_agents_do_not_manage() -> None:
    assert GRANTS[Role.ADMIN] == frozenset(Perm)
    assert Perm.MANAGE_USERS not in GRANTS[Role.AGENT]
    assert Perm.READ_ALL_CONTACTS not in GRANTS[Role.AGENT]
    assert Perm.HANDLE_CONTACTS not in GRANTS[Role.QA]
