"""What a caller hears while waiting in line besides music: their place and the estimated wait
(docs/voice.md, "Waiting in line"). The router computes positions for contacts whose customer
watches (``customer_topic``); a call's topic is ``voice:<contact id>``, so its ``queue.position``
events reach the voice service like a chat widget's."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from madoguchi.channels.voice.service import ActiveCall

QUEUE_POSITION = "queue.position"


def topic_for(contact_id: int) -> str:
    return f"voice:{contact_id}"


def position_text(position: int, estimated_wait_s: float | None, language: str) -> str:
    if language == "ja":
        text = f"ただいま{position}番目にお待ちいただいております。"
        if estimated_wait_s is not None:
            minutes = round(estimated_wait_s / 60)
            text += "お待ち時間は1分以内の見込みです。" if minutes < 1 else f"お待ち時間はおよそ{minutes}分です。"
        return text
    text = f"You are number {position} in line."
    if estimated_wait_s is not None:
        minutes = round(estimated_wait_s / 60)
        text += (" The estimated wait is less than a minute." if minutes < 1 else
                 f" The estimated wait is about {minutes} minute{'s' if minutes > 1 else ''}.")
    return text


def repeat_every(call: ActiveCall, every_s: float) -> asyncio.Task[None] | None:
    """Ask the call's loop to say the position again every ``every_s`` (0: never)."""
    if every_s <= 0:
        return None

    async def tick() -> None:
        while True:
            await asyncio.sleep(every_s)
            call.events.put_nowait(("announce_position", {}))

    return asyncio.get_running_loop().create_task(tick())
