"""Steps shared by the API tests: a visitor opens the widget, an agent takes the chat."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.support import Browserish, RunningServer, Socket

DEMO_KEY = "pk_demo_shop"


@dataclass
class Visitor:
    token: str
    session: dict[str, Any]
    socket: Socket

    @property
    def headers(self) -> dict[str, str]:
        return {"x-widget-token": self.token}


async def open_visitor(server: RunningServer, client: Browserish, **fields: Any) -> Visitor:
    session = await client.call("POST", "/api/v1/widget/sessions", expect=201,
                                json={"public_key": DEMO_KEY, **fields})
    socket = await Socket.open(f"{server.ws_url}/ws/widget?token={session['token']}",
                               last_event_id=session["last_event_id"])
    return Visitor(token=session["token"], session=session, socket=socket)


async def agent_on_duty(server: RunningServer, client: Browserish, email: str) -> Socket:
    await client.login(email)
    socket = await Socket.open(f"{server.ws_url}/ws", cookie=client.cookie)
    state = await client.call("PUT", "/api/v1/agents/me/state", expect=200, json={"state": "available"})
    assert state["state"] == "available"
    return socket
