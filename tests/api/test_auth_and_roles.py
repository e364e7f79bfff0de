"""Login, cookies, CSRF, API tokens, rate limit and roles, against a real server."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.support import Browserish, RunningServer


async def test_login_sets_a_safe_cookie_and_csrf_guards_writes(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        response = await http.post("/api/v1/auth/login", json={"email": "TANAKA@demo.madoguchi.test",
                                                               "password": "madoguchi-demo"})
        assert response.status_code == 200
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
        csrf = response.json()["csrf_token"]
        assert (await http.get("/api/v1/me")).json()["email"] == "tanaka@demo.madoguchi.test"

        no_csrf = await http.put("/api/v1/agents/me/state", json={"state": "available"})
        assert no_csrf.status_code == 403 and no_csrf.json()["error_id"] == "csrf_failed"
        wrong = await http.put("/api/v1/agents/me/state", json={"state": "available"},
                               headers={"x-csrf-token": "nope"})
        assert wrong.status_code == 403
        ok = await http.put("/api/v1/agents/me/state", json={"state": "available"}, headers={"x-csrf-token": csrf})
        assert ok.status_code == 200

        await http.post("/api/v1/auth/logout", headers={"x-csrf-token": csrf})
        after = await http.get("/api/v1/me")
        assert after.status_code == 401 and after.json()["error_id"] == "not_authenticated"


async def test_wrong_password_and_rate_limit(make_server: Callable[..., object]) -> None:
    server: RunningServer = await make_server(login_attempts_per_minute=3)  # type: ignore[misc]
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        statuses = []
        for _ in range(5):
            response = await http.post("/api/v1/auth/login", json={"email": "qa@demo.madoguchi.test",
                                                                   "password": "not-the-password"})
            statuses.append((response.status_code, response.json()["error_id"]))
        assert statuses[0] == (401, "not_authenticated")
        assert statuses[-1] == (429, "rate_limited")


async def test_bearer_token_works_without_csrf_and_can_be_revoked(server: RunningServer,
                                                                  clients: Callable[[], Browserish]) -> None:
    admin = await clients().login("admin@demo.madoguchi.test")
    token = await admin.call("POST", "/api/v1/me/tokens", expect=201, json={"name": "integration"})
    assert token["token"].startswith("mdg_")
    async with httpx.AsyncClient(base_url=server.base_url,
                                 headers={"authorization": f"Bearer {token['token']}"}) as http:
        created = await http.post("/api/v1/queues", json={"name": "Billing", "name_ja": "請求"})
        assert created.status_code == 201, created.text
        await admin.call("DELETE", f"/api/v1/me/tokens/{token['id']}", expect=204)
        refused = await http.get("/api/v1/queues")
        assert refused.status_code == 401


async def test_roles_are_enforced(server: RunningServer, clients: Callable[[], Browserish]) -> None:
    agent = await clients().login("suzuki@demo.madoguchi.test")
    qa = await clients().login("qa@demo.madoguchi.test")
    supervisor = await clients().login("supervisor@demo.madoguchi.test")
    manager = await clients().login("manager@demo.madoguchi.test")
    admin = await clients().login("admin@demo.madoguchi.test")

    for who in (agent, qa, supervisor, manager):
        denied = await who.call("POST", "/api/v1/users", expect=403, json={
            "email": "x@example.com", "display_name": "X", "password": "long-enough-pw", "role": "agent"})
        assert denied["error_id"] == "permission_denied"
    await agent.call("GET", "/api/v1/agents", expect=403)
    await qa.call("PUT", "/api/v1/agents/me/state", expect=403, json={"state": "available"})
    await agent.call("POST", "/api/v1/queues", expect=403, json={"name": "Nope"})
    await supervisor.call("POST", "/api/v1/queues", expect=403, json={"name": "Nope"})
    await manager.call("POST", "/api/v1/queues", expect=201, json={"name": "Returns", "name_ja": "返品"})
    await manager.call("POST", "/api/v1/dispositions", expect=201,
                       json={"code": "callback", "label_en": "Call back", "label_ja": "折り返し"})
    await agent.call("POST", "/api/v1/entry-points", expect=403,
                     json={"name": "x", "channel_kind": "webchat"})

    # A supervisor forces an agent offline; an agent cannot do that to a colleague.
    await agent.call("PUT", "/api/v1/agents/me/state", expect=200, json={"state": "available"})
    await agent.call("PUT", f"/api/v1/agents/{supervisor.id}/state", expect=403, json={"state": "offline"})
    forced = await supervisor.call("PUT", f"/api/v1/agents/{agent.id}/state", expect=200, json={"state": "offline"})
    assert forced["state"] == "offline"

    user = await admin.call("POST", "/api/v1/users", expect=201, json={
        "email": "new.agent@demo.madoguchi.test", "display_name": "新人 エージェント", "password": "a-good-password",
        "role": "agent"})
    assert user["role"] == "agent"
    duplicate = await admin.call("POST", "/api/v1/users", expect=409, json={
        "email": "NEW.agent@demo.madoguchi.test", "display_name": "dup", "password": "a-good-password",
        "role": "agent"})
    assert duplicate["error_id"] == "conflict"
    newcomer = await clients().login("new.agent@demo.madoguchi.test", "a-good-password")
    assert (await newcomer.call("GET", "/api/v1/me", expect=200))["display_name"] == "新人 エージェント"


async def test_agents_see_only_their_own_contacts(server: RunningServer, clients: Callable[[], Browserish]) -> None:
    agent = await clients().login("ken@demo.madoguchi.test")
    supervisor = await clients().login("supervisor@demo.madoguchi.test")
    everything = await supervisor.call("GET", "/api/v1/contacts?limit=500", expect=200)
    mine = await agent.call("GET", "/api/v1/contacts?limit=500", expect=200)
    assert len(everything) > len(mine)
    assert all(c["agent_id"] == agent.id for c in mine)
    foreign = next(c for c in everything if c["agent_id"] != agent.id)
    # Someone else's contact looks like no contact at all: ids leak nothing.
    hidden = await agent.call("GET", f"/api/v1/contacts/{foreign['id']}", expect=404)
    assert hidden["error_id"] == "not_found"


async def test_admin_actions_are_audited(server: RunningServer, clients: Callable[[], Browserish]) -> None:
    manager = await clients().login("manager@demo.madoguchi.test")
    admin = await clients().login("admin@demo.madoguchi.test")
    queue = await manager.call("POST", "/api/v1/queues", expect=201, json={"name": "Audited"})
    await manager.call("GET", "/api/v1/audit", expect=403)
    entries = await admin.call("GET", "/api/v1/audit?limit=5", expect=200)
    assert entries[0]["action"] == "queue.created" and entries[0]["target"] == f"queue:{queue['id']}"
    assert entries[0]["actor_user_id"] == manager.id
    older = await admin.call("GET", f"/api/v1/audit?limit=5&before_id={entries[0]['id']}", expect=200)
    assert all(e["id"] < entries[0]["id"] for e in older)
