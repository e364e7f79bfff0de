"""Redis pub/sub bus: every instance publishes to one channel and delivers what it hears to its
local subscribers (its own publications included, once, through Redis)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable

import redis.asyncio as aioredis

from madoguchi.bus.base import Subscriber, envelope_from_json, envelope_to_json
from madoguchi.bus.memory import deliver
from madoguchi.kernel.events import Envelope

logger = logging.getLogger(__name__)

CHANNEL = "madoguchi:events"


class RedisBus:
    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        self.url = url
        self.channel = channel
        self._subscribers: list[Subscriber] = []
        self._client: aioredis.Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        self._client = aioredis.from_url(self.url)
        await self._client.ping()
        self._task = asyncio.create_task(self._listen(), name="redis-bus")
        await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            await self._client.aclose()

    async def publish(self, envelope: Envelope) -> None:
        assert self._client is not None, "bus not started"
        await self._client.publish(self.channel, json.dumps(envelope_to_json(envelope)))

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    async def _listen(self) -> None:
        assert self._client is not None
        while True:
            pubsub = self._client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                self._ready.set()
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        envelope = envelope_from_json(json.loads(message["data"]))
                    except (ValueError, KeyError, TypeError):
                        logger.warning("dropping malformed bus message")
                        continue
                    deliver(self._subscribers, envelope)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Clients catch up from the feed by cursor, so a gap here loses no data.
                logger.exception("redis bus connection lost; reconnecting")
                await asyncio.sleep(1)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
