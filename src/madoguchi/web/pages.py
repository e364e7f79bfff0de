"""Server-rendered pages: login, agent desktop, supervisor floor, admin, the demo shop and the
widget script. Pages render the frame and the strings; data comes from the API and the WebSocket."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from madoguchi.api.deps import SESSION_COOKIE, authenticate, get_ctx, public
from madoguchi.identity.permissions import Perm, has
from madoguchi.identity.queries import Principal
from madoguchi.kernel.i18n import LANGUAGES, catalogue, negotiate, translate

WEB_DIR = Path(__file__).parent
LOCALE_DIR = str(WEB_DIR / "locale")
LANG_COOKIE = "madoguchi_lang"
templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))

router = APIRouter(include_in_schema=False)


def language_of(request: Request) -> str:
    chosen = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    return negotiate(request.headers.get("accept-language"), chosen)


def strings(language: str, prefixes: tuple[str, ...] | None = None) -> dict[str, str]:
    merged = {**catalogue(LOCALE_DIR, "en"), **catalogue(LOCALE_DIR, language)}
    if prefixes is None:
        return merged
    return {k: v for k, v in merged.items() if k.startswith(prefixes)}


def page_access(perm: Perm | None) -> Any:
    """Pages say what they need like API routes do, but an unauthenticated browser is sent to the
    login page instead of receiving a JSON 401."""

    async def _dep(request: Request) -> Principal | None:
        ctx = get_ctx(request)
        principal = await authenticate(ctx, cookie=request.cookies.get(SESSION_COOKIE), authorization=None)
        if principal is not None and perm is not None and not has(principal.user.role, perm):
            return None
        return principal

    _dep.__permission__ = f"page:{perm.value if perm else 'self'}"  # type: ignore[attr-defined]
    return Depends(_dep)


def _render(request: Request, template: str, principal: Principal | None, **extra: Any) -> Response:
    language = language_of(request)
    page_strings = strings(language)
    context: dict[str, Any] = {
        "lang": language,
        "other_lang": "en" if language == "ja" else "ja",
        "t": lambda key, **values: translate(LOCALE_DIR, language, key, **values),
        "user": principal.user if principal else None,
        "csrf_token": principal.csrf_token if principal else "",
        "boot": json.dumps({
            "lang": language,
            "strings": page_strings,
            "csrf": principal.csrf_token if principal else "",
            "user": ({"id": principal.user.id, "name": principal.user.display_name,
                      "role": principal.user.role} if principal else None),
            **extra.pop("boot", {}),
        }, ensure_ascii=False).replace("</", "<\\/"),
        "can": (lambda perm: principal is not None and has(principal.user.role, Perm(perm))),
        **extra,
    }
    response = templates.TemplateResponse(request, template, context)
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, language, max_age=365 * 86400, samesite="lax", path="/")
    return response


def _to_login(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)


@router.get("/", dependencies=[public("entry page redirects by login state")])
async def home(request: Request) -> Response:
    ctx = get_ctx(request)
    principal = await authenticate(ctx, cookie=request.cookies.get(SESSION_COOKIE), authorization=None)
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    if has(principal.user.role, Perm.HANDLE_CONTACTS):
        return RedirectResponse("/desktop", status_code=303)
    if has(principal.user.role, Perm.READ_AGENTS):
        return RedirectResponse("/supervisor", status_code=303)
    return RedirectResponse("/admin", status_code=303)


@router.get("/login", response_class=HTMLResponse, dependencies=[public("the login form")])
async def login_page(request: Request) -> Response:
    target = request.query_params.get("next") or "/"
    if not target.startswith("/") or target.startswith("//"):
        target = "/"  # only local redirects after login
    return _render(request, "login.html", None, next=target)


def _staff_page(path: str, template: str, perm: Perm) -> None:
    """A page that is only its template: the data comes from the API and the WebSocket."""

    # The dependency is a default, not in Annotated: annotations are strings here and could not
    # name this closure's ``perm``.
    async def page(request: Request, principal: Principal | None = page_access(perm)) -> Response:
        if principal is None:
            return _to_login(request)
        return _render(request, template, principal)

    router.add_api_route(path, page, methods=["GET"], response_class=HTMLResponse, name=template.split(".")[0])


for _path, _template, _perm in (("/desktop", "desktop.html", Perm.HANDLE_CONTACTS),
                                ("/supervisor", "supervisor.html", Perm.READ_AGENTS),
                                ("/admin", "admin.html", Perm.MANAGE_USERS),
                                ("/admin/kb", "kb_admin.html", Perm.MANAGE_KB),
                                ("/admin/flows", "flows_admin.html", Perm.MANAGE_FLOWS)):
    _staff_page(_path, _template, _perm)


@router.get("/reports", response_class=HTMLResponse)
async def reports(request: Request,
                  principal: Annotated[Principal | None, page_access(Perm.READ_REPORTS)]) -> Response:
    if principal is None:
        return _to_login(request)
    ctx = get_ctx(request)
    return _render(request, "reports.html", principal,
                   boot={"channels": ctx.channels.kinds(), "timezone": ctx.settings.timezone})


@router.get("/demo/shop", response_class=HTMLResponse, dependencies=[public("the demo customer site")])
async def demo_shop(request: Request) -> Response:
    """``?bot=1`` embeds the entry point that the FAQ bot answers first."""
    from madoguchi.bot.demo import DEMO_BOT_PUBLIC_KEY
    from madoguchi.demo import DEMO_PUBLIC_KEY

    key = DEMO_BOT_PUBLIC_KEY if request.query_params.get("bot") in ("1", "true") else DEMO_PUBLIC_KEY
    return _render(request, "demo_shop.html", None, public_key=key)


@router.get("/widget.js", dependencies=[public("the embeddable chat widget script")])
async def widget_script(request: Request) -> Response:
    script = (WEB_DIR / "static" / "widget.js").read_text(encoding="utf-8")
    bundle = {lang: strings(lang, ("widget.", "conversation.")) for lang in LANGUAGES}
    body = f"window.MadoguchiStrings = {json.dumps(bundle, ensure_ascii=False)};\n{script}"
    return Response(body, media_type="application/javascript; charset=utf-8",
                    headers={"cache-control": "no-cache"})
