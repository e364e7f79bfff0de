"""The reports API on a real server: tables with their definitions, CSV with a BOM, drill-down to
the contacts behind a number, charts, who may read and change what, and CSAT from the widget and
from an email link."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable
from typing import Any

from madoguchi.kernel.events import SUPERVISORS, Envelope
from tests.api.flow import agent_on_duty, open_visitor
from tests.reports.scenario import Built, advance, create_base
from tests.support import Browserish, RunningServer

DAY = {"start": "2026-03-02", "end": "2026-03-02"}
TEN = "2026-03-02T10:00:00+09:00"


async def load_scenario(server: RunningServer) -> Built:
    async with server.ctx.db.uow() as uow:
        built = await create_base(uow.session)
        await advance(uow.session, built, 10**7)
    # Wake the roll-up worker (it would also find the rows on its next idle tick).
    await server.ctx.bus.publish(Envelope(id=None, type="report.definition_changed", data={}, audience=(SUPERVISORS,)))
    return built


async def until(check: Callable[[], Any], what: str, timeout: float = 10) -> Any:
    for _ in range(int(timeout / 0.05)):
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def params(built: Built, **extra: Any) -> list[tuple[str, Any]]:
    return [*DAY.items(), ("queue_id", built.queues["A"]), ("queue_id", built.queues["B"]), *extra.items()]


async def test_reports_tables_csv_drilldown_and_charts(make_server: Any, clients: Callable[[], Browserish]) -> None:
    server = await make_server(timezone="Asia/Tokyo")
    built = await load_scenario(server)
    manager = await clients().login("manager@demo.madoguchi.test")

    async def folded() -> dict[str, Any] | None:
        report = await manager.call("GET", "/api/v1/reports/queues", expect=200, params=params(built))
        rows = [r for r in report["rows"] if r["queue_id"] == built.queues["A"] and r["interval_start"] == TEN]
        return report if rows and rows[0]["offered"] == 8 else None

    report = await until(folded, "the scenario in the roll-ups")
    assert report["timezone"] == "Asia/Tokyo" and report["interval"] == "30m"
    a = next(r for r in report["rows"] if r["queue_id"] == built.queues["A"])
    assert a["queue_name"] == "FixA"
    assert (a["service_level"], a["asa_s"], a["aht_s"]) == (0.6, 17.0, 212.5)
    stated = {d["queue_id"]: d for d in report["definitions"]}
    assert stated[built.queues["A"]]["threshold_s"] == 20
    assert stated[built.queues["A"]]["text_en"].startswith("Service level: answered within 20 s")
    assert "20 秒以内の応答" in stated[built.queues["A"]]["text_ja"]
    assert report["overall"]["offered"] == 11 and report["overall"]["service_level"] == 0.75

    # CSV with a BOM, headers in Japanese on request, the definition in every row.
    response = await manager.http.get("/api/v1/reports/queues.csv", params=params(built, lang="ja"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert "サービスレベル" in rows[0] and "対応件数" in rows[0]
    assert any("20 秒以内の応答" in cell for cell in rows[1])

    # Drill-down: the abandons of queue A in the 10:00 interval are c3, c4, c5.
    drill = await manager.call("GET", "/api/v1/reports/contacts", expect=200, params=[
        *DAY.items(), ("queue_id", built.queues["A"]), ("metric", "abandoned"), ("interval_start", TEN)])
    assert drill["total"] == 3
    assert sorted(leg["contact_id"] for leg in drill["legs"]) == sorted(built.contacts[c] for c in ("c3", "c4", "c5"))
    short = await manager.call("GET", "/api/v1/reports/contacts", expect=200, params=[
        *DAY.items(), ("queue_id", built.queues["A"]), ("metric", "abandoned_short")])
    assert [leg["contact_id"] for leg in short["legs"]] == [built.contacts["c3"]]
    in_time = await manager.call("GET", "/api/v1/reports/contacts", expect=200, params=[
        *DAY.items(), ("queue_id", built.queues["A"]), ("metric", "handled_in_t")])
    assert sorted(leg["contact_id"] for leg in in_time["legs"]) == sorted(
        built.contacts[c] for c in ("c1", "c7", "c8"))
    not_fcr = await manager.call("GET", "/api/v1/reports/contacts", expect=200, params=[
        *DAY.items(), ("metric", "cases_not_fcr"), ("queue_id", built.queues["A"])])
    assert {leg["contact_id"] for leg in not_fcr["legs"]} == {built.contacts["c2"], built.contacts["c9"]}

    # One row per contact with all its times.
    response = await manager.http.get("/api/v1/reports/contacts.csv", params=params(built))
    assert response.content.startswith(b"\xef\xbb\xbf")
    contacts = {int(r[0]): r for r in csv.reader(io.StringIO(response.content.decode("utf-8-sig"))) if r[0].isdigit()}
    c7 = contacts[built.contacts["c7"]]
    header = next(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    row = dict(zip(header, c7, strict=True))
    assert row["Queues"] == "FixA > FixB" and row["Queue entries"] == "2" and row["Agents"] == "Agent X > Agent Y"
    assert row["Arrived (Asia/Tokyo)"] == "2026-03-02 10:07:00"
    assert (float(row["Handle (s)"]), float(row["Hold (s)"]), row["Disposition"]) == (100 + 70, 10, "information")

    for name in ("service_level", "volume", "abandon", "aht", "occupancy"):
        svg = await manager.http.get(f"/api/v1/reports/charts/{name}.svg", params=params(built))
        assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
        assert svg.text.startswith("<svg") and "<script" not in svg.text

    agents = await manager.call("GET", "/api/v1/reports/agents", expect=200,
                                params=[*DAY.items(), ("interval", "day"), ("view", "team"),
                                        ("team_id", built.team_id)])
    team = next(r for r in agents["totals"] if r["team_id"] == built.team_id)
    assert team["team_name"] == "Fixture" and team["handled"] == 7 and team["occupancy"] == 0.5
    dispositions = await manager.call("GET", "/api/v1/reports/dispositions", expect=200,
                                      params=params(built, interval="total"))
    assert {r["disposition_code"]: r["handle_n"] for r in dispositions["totals"]}["resolved"] == 3


async def test_who_may_read_and_change_reports(server: RunningServer, clients: Callable[[], Browserish]) -> None:
    for email, status in (("qa@demo.madoguchi.test", 200), ("supervisor@demo.madoguchi.test", 200),
                          ("tanaka@demo.madoguchi.test", 403), ("trainer@demo.madoguchi.test", 403)):
        client = await clients().login(email)
        await client.call("GET", "/api/v1/reports/queues", expect=status)
    queues = await (await clients().login("admin@demo.madoguchi.test")).call("GET", "/api/v1/queues", expect=200)
    support = next(q for q in queues if q["name"] == "Support")["id"]
    supervisor = await clients().login("supervisor@demo.madoguchi.test")
    await supervisor.call("PUT", f"/api/v1/reports/definitions/{support}", expect=403, json={"threshold_s": 30})
    manager = await clients().login("manager@demo.madoguchi.test")
    changed = await manager.call("PUT", f"/api/v1/reports/definitions/{support}", expect=200, json={
        "threshold_s": 30, "abandons": "all", "thresholds": {"waiting": {"amber": 2, "red": 4}}})
    assert changed["definition"]["threshold_s"] == 30 and changed["definition"]["abandons"] == "all"
    assert changed["thresholds"]["waiting"] == {"amber": 2, "red": 4}
    bad = await manager.call("PUT", f"/api/v1/reports/definitions/{support}", expect=422,
                             json={"short_abandon_s": 40})
    assert bad["error_id"] == "invalid_input"
    listed = await manager.call("GET", "/api/v1/reports/definitions", expect=200)
    assert next(d for d in listed if d["queue_id"] == support)["custom"] is True
    recomputed = await manager.call("POST", "/api/v1/reports/recompute", expect=200)
    assert recomputed["rows"]["legs"] >= 10  # the demo's past chats


async def test_csat_after_a_chat_and_through_an_email_link(server: RunningServer,
                                                           clients: Callable[[], Browserish]) -> None:
    agent = clients()
    agent_socket = await agent_on_duty(server, agent, "tanaka@demo.madoguchi.test")
    visitor_client = clients()
    visitor = await open_visitor(server, visitor_client, name="Aiko")
    ack = await visitor.socket.op({"op": "message.send", "body": "hello", "client_msg_id": "c1"})
    contact_id = ack["contact_id"]
    offer = await agent_socket.event("offer.created", contact_id=contact_id)
    await visitor_client.call("POST", "/api/v1/widget/csat", expect=409, headers=visitor.headers, json={"score": 5})
    await agent.call("POST", f"/api/v1/offers/{offer['data']['offer_id']}/accept", expect=200)
    await agent.call("POST", f"/api/v1/contacts/{contact_id}/end", expect=200)
    answered = await visitor_client.call("POST", "/api/v1/widget/csat", expect=201, headers=visitor.headers,
                                         json={"score": 4, "comment": "早かったです"})
    assert answered == {"contact_id": contact_id, "score": 4, "answered_at": answered["answered_at"]}
    await visitor_client.call("POST", "/api/v1/widget/csat", expect=409, headers=visitor.headers, json={"score": 1})
    await visitor_client.call("POST", "/api/v1/widget/csat", expect=401, json={"score": 1})
    events = await agent.call("GET", f"/api/v1/contacts/{contact_id}/events", expect=200)
    assert next(e for e in events if e["type"] == "csat")["data"]["score"] == 4
    await agent.call("POST", f"/api/v1/contacts/{contact_id}/wrap-up", expect=200,
                     json={"disposition_code": "resolved"})

    # The answer shows in today's CSAT of the queue once the worker folds it.
    manager = await clients().login("manager@demo.madoguchi.test")

    async def rated() -> bool:
        report = await manager.call("GET", "/api/v1/reports/queues", expect=200, params={"view": "all"})
        return bool(report["overall"].get("csat_n") == 1 and report["overall"].get("csat_mean") == 4.0)

    await until(rated, "today's CSAT")

    # An email reply's survey link (placeholder): made by the handling agent, answered once.
    visitor2 = await open_visitor(server, clients(), name="Ken")
    ack2 = await visitor2.socket.op({"op": "message.send", "body": "hi", "client_msg_id": "c2"})
    offer2 = await agent_socket.event("offer.created", contact_id=ack2["contact_id"])
    await agent.call("POST", f"/api/v1/offers/{offer2['data']['offer_id']}/accept", expect=200)
    link = await agent.call("POST", f"/api/v1/contacts/{ack2['contact_id']}/csat-link", expect=201)
    assert link["url"] == f"/api/v1/csat/{link['token']}"
    anonymous = clients()
    survey = await anonymous.call("GET", link["url"], expect=200)
    assert survey == {"subject": "Demo shop chat", "answered": False, "expired": False}
    await anonymous.call("POST", link["url"], expect=201, json={"score": 2})
    await anonymous.call("POST", link["url"], expect=409, json={"score": 5})
    await anonymous.call("GET", "/api/v1/csat/csat_nope", expect=404)
    other = await clients().login("suzuki@demo.madoguchi.test")
    await other.call("POST", f"/api/v1/contacts/{ack2['contact_id']}/csat-link", expect=404)
