"""The collector pacing: a server raises the young-generation threshold while it runs and gives the
process its own back when it stops; survivors of a full collection are frozen out of later ones."""

from __future__ import annotations

import asyncio
import gc

from madoguchi.kernel.collector import CollectorPacing


async def test_young_threshold_while_running_and_restored_after() -> None:
    before = gc.get_threshold()
    pacing = CollectorPacing(freeze=False, young_threshold=12_345)
    await pacing.start()
    try:
        assert gc.get_threshold() == (12_345, *before[1:])
    finally:
        await pacing.stop()
    assert gc.get_threshold() == before


async def test_zero_keeps_the_process_threshold() -> None:
    before = gc.get_threshold()
    pacing = CollectorPacing(freeze=False, young_threshold=0)
    await pacing.start()
    assert gc.get_threshold() == before
    await pacing.stop()
    assert gc.get_threshold() == before


async def test_survivors_of_a_full_collection_are_frozen() -> None:
    pacing = CollectorPacing(check_every_s=0.01, young_threshold=0)
    await pacing.start()
    try:
        frozen_at_start = gc.get_freeze_count()
        assert frozen_at_start > 0  # what start-up built
        survivors = [[i] for i in range(1_000)]  # tracked objects that live on
        gc.collect()
        for _ in range(100):
            await asyncio.sleep(0.01)
            if pacing.freezes:
                break
        assert pacing.freezes >= 1 and pacing.full_collections >= 1
        assert gc.get_freeze_count() >= frozen_at_start + len(survivors)
    finally:
        await pacing.stop()
        gc.unfreeze()
