"""One registry of channel adapters; code elsewhere asks it, never ``if kind == "email"``."""

from __future__ import annotations

from madoguchi.channels.base import Channel
from madoguchi.kernel.errors import InvalidInput


class ChannelRegistry:
    def __init__(self) -> None:
        self._channels: dict[str, Channel] = {}

    def add(self, channel: Channel) -> None:
        self._channels[channel.kind] = channel

    def get(self, kind: str) -> Channel:
        try:
            return self._channels[kind]
        except KeyError:
            raise InvalidInput(f"unknown channel kind {kind!r}; known: {', '.join(self.kinds())}") from None

    def kinds(self) -> list[str]:
        return sorted(self._channels)

    def all(self) -> list[Channel]:
        return list(self._channels.values())

    async def start(self) -> None:
        for channel in self._channels.values():
            await channel.start()

    async def stop(self) -> None:
        for channel in reversed(list(self._channels.values())):
            await channel.stop()
