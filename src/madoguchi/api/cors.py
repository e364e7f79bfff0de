"""CORS for the widget API only. The widget runs on the customer's own site, another origin; it
authenticates with its token header, never with cookies, so any origin may call it. Staff routes
send no CORS headers at all, so browsers keep them same-origin."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

WIDGET_PREFIX = "/api/v1/widget/"
ALLOW_HEADERS = "content-type, x-widget-token"
ALLOW_METHODS = "GET, POST, OPTIONS"
MAX_AGE = "600"


class WidgetCors:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(WIDGET_PREFIX):
            await self.app(scope, receive, send)
            return
        origin = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"origin"), None)
        if scope["method"] == "OPTIONS" and origin is not None:
            await send({"type": "http.response.start", "status": 204, "headers": [
                (b"access-control-allow-origin", b"*"),
                (b"access-control-allow-methods", ALLOW_METHODS.encode()),
                (b"access-control-allow-headers", ALLOW_HEADERS.encode()),
                (b"access-control-max-age", MAX_AGE.encode())]})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start" and origin is not None:
                message["headers"] = [*message.get("headers", []), (b"access-control-allow-origin", b"*")]
            await send(message)

        await self.app(scope, receive, send_with_cors)
