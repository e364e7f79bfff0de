"""Hands the realtime hub the server's own ASGI send for WebSocket connections.

Starlette wraps ``send`` on the way in (its exception handling watches for an HTTP response
start); a WebSocket frame needs none of that, and the hub writes several frames per chat message.
This middleware sits outside the others, so what it stores is the send the server gave.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from madoguchi.realtime.hub import RAW_SEND_KEY


class WebSocketWire:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope[RAW_SEND_KEY] = send
        await self.app(scope, receive, send)
