"""The hub's per-client outbox: frames that arrive in one turn of the loop leave together, a full
outbox refuses, and a close marker ends what a sender takes."""

from __future__ import annotations

import asyncio

from madoguchi.realtime.hub import Outbox


async def test_frames_of_one_turn_and_the_next_are_taken_together() -> None:
    outbox = Outbox(10)
    taker = asyncio.create_task(outbox.take(64, 1_000))
    await asyncio.sleep(0)  # the sender waits

    async def ack_after_event() -> None:
        outbox.put("event")
        await asyncio.sleep(0)  # the task the commit resumed answers one turn later
        outbox.put("ack")

    await ack_after_event()
    assert await taker == ["event", "ack"]
    assert len(outbox) == 0


async def test_take_respects_its_limits_and_keeps_the_rest_in_order() -> None:
    outbox = Outbox(10)
    for frame in ("a" * 5, "b" * 5, "c" * 5, "d"):
        assert outbox.put(frame)
    assert await outbox.take(2, 1_000) == ["aaaaa", "bbbbb"]
    assert await outbox.take(64, 3) == ["ccccc"]  # past the first frame, the size limit holds
    assert await outbox.take(64, 1_000) == ["d"]


async def test_a_full_outbox_refuses_but_a_close_marker_fits() -> None:
    outbox = Outbox(2)
    assert outbox.put("1") and outbox.put("2")
    assert not outbox.put("3")
    assert outbox.put(None)
    assert await outbox.take(64, 1_000) == ["1", "2", None]


async def test_a_cancelled_take_leaves_the_outbox_usable() -> None:
    outbox = Outbox(10)
    taker = asyncio.create_task(outbox.take(64, 1_000))
    await asyncio.sleep(0)
    taker.cancel()
    await asyncio.gather(taker, return_exceptions=True)
    outbox.put("later")
    assert await asyncio.wait_for(outbox.take(64, 1_000), 1) == ["later"]
