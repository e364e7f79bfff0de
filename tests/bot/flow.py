"""Steps shared by the bot tests: a visitor on the bot's entry point, the demo flow opened all day."""

from __future__ import annotations

import copy
from typing import Any

from madoguchi.bot.demo import DEMO_BOT_PUBLIC_KEY, DEMO_FLOW, DEMO_FLOW_NAME
from tests.api.flow import Visitor
from tests.support import Browserish, RunningServer, Socket


async def open_bot_visitor(server: RunningServer, client: Browserish, **fields: Any) -> Visitor:
    session = await client.call("POST", "/api/v1/widget/sessions", expect=201,
                                json={"public_key": DEMO_BOT_PUBLIC_KEY, **fields})
    socket = await Socket.open(f"{server.ws_url}/ws/widget?token={session['token']}",
                               last_event_id=session["last_event_id"])
    return Visitor(token=session["token"], session=session, socket=socket)


async def set_demo_hours(admin: Browserish, weekly: dict[str, list[list[str]]]) -> None:
    """Publish the demo flow with other business hours, so a test does not depend on the time of day."""
    flows = await admin.call("GET", "/api/v1/flows", expect=200)
    flow = next(f for f in flows if f["name"] == DEMO_FLOW_NAME)
    definition = copy.deepcopy(DEMO_FLOW)
    definition["hours"]["support"] = {"timezone": "Asia/Tokyo", "holidays": None, "weekly": weekly}
    await admin.call("PUT", f"/api/v1/flows/{flow['id']}", expect=200, json={"definition": definition})
    await admin.call("POST", f"/api/v1/flows/{flow['id']}/publish", expect=200, json={})


ALL_DAY = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
NEVER: dict[str, list[list[str]]] = {}


def bot_texts(socket: Socket, contact_id: int) -> list[str]:
    return [f["data"]["body"] for f in socket.events if f["type"] == "message.created"
            and f["data"]["contact_id"] == contact_id and f["data"]["author_kind"] == "bot"]
