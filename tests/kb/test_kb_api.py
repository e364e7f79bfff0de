"""Knowledge-base API: articles with versions, import/export, search, permissions, audit."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.support import Browserish, RunningServer

ADMIN = "admin@demo.madoguchi.test"
AGENT = "tanaka@demo.madoguchi.test"


async def test_article_lifecycle_versions_and_search(server: RunningServer,
                                                     clients: Callable[[], Browserish]) -> None:
    admin = await clients().login(ADMIN)
    created = await admin.call("POST", "/api/v1/kb/articles", expect=201, json={
        "questions": ["抹茶の賞味期限は？", "抹茶はいつまで飲めますか"], "answer": "未開封で製造から1年です。",
        "language": "ja", "category": "商品", "tags": ["抹茶"]})
    assert created["status"] == "draft" and created["version"] == 1
    assert created["title"] == "抹茶の賞味期限は？"
    assert created["external_id"] == f"kb-{created['id']}"
    hits = await admin.call("GET", "/api/v1/kb/search", expect=200, params={"q": "抹茶の賞味期限", "language": "ja"})
    assert created["id"] not in [h["article_id"] for h in hits]  # drafts are not searched

    body = {**{k: created[k] for k in ("questions", "answer", "language", "category", "tags")}, "status": "published"}
    published = await admin.call("PUT", f"/api/v1/kb/articles/{created['id']}", expect=200, json=body)
    assert published["version"] == 2
    again = await admin.call("PUT", f"/api/v1/kb/articles/{created['id']}", expect=200, json=body)
    assert again["version"] == 2  # nothing changed: no new version
    hits = await admin.call("GET", "/api/v1/kb/search", expect=200,
                            params={"q": "抹茶はいつまで大丈夫", "language": "ja"})
    assert hits[0]["article_id"] == created["id"] and hits[0]["answer"] == "未開封で製造から1年です。"

    versions = await admin.call("GET", f"/api/v1/kb/articles/{created['id']}/versions", expect=200)
    assert [(v["version"], v["status"], v["author_user_id"]) for v in versions] == [
        (1, "draft", admin.id), (2, "published", admin.id)]

    await admin.call("DELETE", f"/api/v1/kb/articles/{created['id']}", expect=204)
    hits = await admin.call("GET", "/api/v1/kb/search", expect=200, params={"q": "抹茶の賞味期限", "language": "ja"})
    assert created["id"] not in [h["article_id"] for h in hits]
    audit = await admin.call("GET", "/api/v1/audit", expect=200)
    actions = [e["action"] for e in audit if e["target"] == f"kb_article:{created['id']}"]
    assert actions == ["kb.article_archived", "kb.article_updated", "kb.article_created"]


async def test_import_json_and_csv_updates_by_id_and_exports(server: RunningServer,
                                                             clients: Callable[[], Browserish]) -> None:
    admin = await clients().login(ADMIN)
    rows = [{"id": "faq-1", "question": "How do I reset my password?", "answer": "Use the reset link.",
             "language": "en", "category": "account"},
            {"question": "支店はどこですか？", "answer": "東京と大阪です。", "language": "ja"}]
    first = await admin.call("POST", "/api/v1/kb/import", expect=200, json=rows)
    assert (first["created"], first["updated"], first["unchanged"]) == (2, 0, 0)
    csv_text = ("id,question,answer,language,category\n"
                "faq-1,How do I reset my password?,Click 'Forgot password' on the sign-in page.,en,account\n")
    second = await admin.call("POST", "/api/v1/kb/import", expect=200, content=csv_text.encode(),
                              headers={"content-type": "text/csv"})
    assert (second["created"], second["updated"], second["unchanged"]) == (0, 1, 0)
    assert second["article_ids"] == [first["article_ids"][0]]
    article = await admin.call("GET", f"/api/v1/kb/articles/{first['article_ids'][0]}", expect=200)
    assert article["answer"].startswith("Click") and article["version"] == 2 and article["external_id"] == "faq-1"

    exported = await admin.call("GET", "/api/v1/kb/export", expect=200, params={"format": "json"})
    by_id = {row["id"]: row for row in exported}
    assert by_id["faq-1"]["question"] == "How do I reset my password?"
    third = await admin.call("POST", "/api/v1/kb/import", expect=200, json=exported)
    assert third["created"] == 0 and third["updated"] == 0 and third["unchanged"] == len(exported)
    csv_out = await admin.http.get("/api/v1/kb/export", params={"format": "csv"})
    assert csv_out.headers["content-type"].startswith("text/csv")
    assert csv_out.text.splitlines()[0] == "id,question,answer,language,category,title,questions,tags,status"


async def test_bad_imports_fail_whole_with_every_problem(server: RunningServer,
                                                         clients: Callable[[], Browserish]) -> None:
    admin = await clients().login(ADMIN)
    before = await admin.call("GET", "/api/v1/kb/articles", expect=200, params={"limit": 500})
    bad = [{"id": "a", "question": "q", "answer": "a", "language": "fr"},
           {"id": "a", "question": "q2", "answer": "a", "language": "en"},
           {"question": "", "answer": "a", "language": "en"},
           {"question": "q", "answer": "a", "language": "en", "colour": "red"}]
    error = await admin.call("POST", "/api/v1/kb/import", expect=422, json=bad)
    problems = {(p["row"], p["field"]) for p in error["details"]["problems"]}
    assert problems == {(1, "language"), (3, "question"), (4, "colour")}
    error = await admin.call("POST", "/api/v1/kb/import", expect=422, content=b"{not json",
                             headers={"content-type": "application/json"})
    assert error["error_id"] == "invalid_input"
    after = await admin.call("GET", "/api/v1/kb/articles", expect=200, params={"limit": 500})
    assert len(after) == len(before)
    duplicate = await admin.call("POST", "/api/v1/kb/articles", expect=409, json={
        "external_id": "demo-ja-return", "questions": ["q"], "answer": "a", "language": "ja"})
    assert duplicate["details"]["field"] == "external_id"


async def test_agents_read_and_search_but_do_not_write(server: RunningServer,
                                                       clients: Callable[[], Browserish]) -> None:
    agent = await clients().login(AGENT)
    listed = await agent.call("GET", "/api/v1/kb/articles", expect=200, params={"language": "en"})
    assert listed and all(a["language"] == "en" for a in listed)
    hits = await agent.call("GET", "/api/v1/kb/search", expect=200, params={"q": "返品したい", "language": "ja"})
    assert hits[0]["external_id"] == "demo-ja-return"
    await agent.call("POST", "/api/v1/kb/articles", expect=403, json={
        "questions": ["q"], "answer": "a", "language": "en"})
    await agent.call("POST", "/api/v1/kb/import", expect=403, content=json.dumps([]).encode())
    await agent.call("GET", "/api/v1/flows", expect=403)
    await agent.call("GET", "/api/v1/bot/report", expect=403)
