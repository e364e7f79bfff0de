from __future__ import annotations

import httpx

from madoguchi.settings import Settings
from tests.support import RunningServer, free_port, start_server


async def test_healthz_and_openapi(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        health = await http.get("/healthz")
        assert health.status_code == 200 and health.json()["database"] == "ok"
        spec = (await http.get("/openapi.json")).json()
    paths = spec["paths"]
    for path in ("/api/v1/contacts/{contact_id}", "/api/v1/widget/sessions", "/api/v1/offers/{offer_id}/accept",
                 "/api/v1/agents/me/state", "/api/v1/auth/login", "/healthz"):
        assert path in paths, path
    error = spec["components"]["schemas"]["ErrorOut"]
    assert "error_id" in error["properties"]


async def test_healthz_is_503_without_a_database() -> None:
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    running = await start_server(Settings(database_url=dead, router_enabled=False))
    try:
        async with httpx.AsyncClient(base_url=running.base_url) as http:
            response = await http.get("/healthz")
        assert response.status_code == 503
        assert response.json()["database"] != "ok"
    finally:
        await running.stop()


async def test_pages_render_in_both_languages(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        ja = await http.get("/login", headers={"accept-language": "ja,en;q=0.5"})
        en = await http.get("/login", headers={"accept-language": "en-US"})
        assert "ログイン" in ja.text and 'lang="ja"' in ja.text
        assert "Sign in" in en.text
        switched = await http.get("/login?lang=ja", headers={"accept-language": "en"})
        assert "ログイン" in switched.text and switched.cookies.get("madoguchi_lang") == "ja"
        desk = await http.get("/desktop")
        assert desk.status_code == 303 and desk.headers["location"].startswith("/login")
        shop = await http.get("/demo/shop")
        assert 'src="/widget.js"' in shop.text and 'data-key="pk_demo_shop"' in shop.text
        script = await http.get("/widget.js")
        assert script.headers["content-type"].startswith("application/javascript")
        assert "チャットで問い合わせ" in script.text and "Chat with us" in script.text


async def test_widget_api_allows_other_origins_and_staff_api_does_not(server: RunningServer) -> None:
    shop = {"origin": "https://shop.example.jp"}
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        preflight = await http.options("/api/v1/widget/sessions", headers={
            **shop, "access-control-request-method": "POST",
            "access-control-request-headers": "content-type,x-widget-token"})
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == "*"
        assert "x-widget-token" in preflight.headers["access-control-allow-headers"]
        created = await http.post("/api/v1/widget/sessions", json={"public_key": "pk_demo_shop"}, headers=shop)
        assert created.status_code == 201 and created.headers["access-control-allow-origin"] == "*"
        staff = await http.post("/api/v1/auth/login", json={"email": "a@b.c", "password": "x"}, headers=shop)
        assert "access-control-allow-origin" not in staff.headers
