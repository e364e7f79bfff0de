from __future__ import annotations

from madoguchi.channels.base import Capabilities

KIND = "webchat"
VISITOR_IDENTITY = "webchat"        # anonymous visitor id kept in the browser
SITE_USER_IDENTITY = "site_user"    # the site's own user id, signed with the entry point secret


class WebChatChannel:
    """Web chat needs no listener of its own: the widget talks over HTTP and the WebSocket."""

    kind = KIND
    capabilities = Capabilities(realtime=True, typing=True, rich_text=False, attachments=False)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None
