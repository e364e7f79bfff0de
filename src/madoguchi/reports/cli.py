"""``madoguchi reports recompute`` (rebuild every roll-up from the raw events) and ``reports fold``
(fold what the live worker has not folded yet, e.g. after an import)."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from madoguchi.settings import Settings


def register(subparsers: Any) -> None:
    reports = subparsers.add_parser("reports", help="KPI roll-ups: full recompute, catch up")
    commands = reports.add_subparsers(dest="reports_command", required=True)
    commands.add_parser("recompute", help="rebuild legs, case facts and roll-ups from the raw events").set_defaults(
        run=run_recompute)
    commands.add_parser("fold", help="fold new events into the roll-ups now").set_defaults(run=run_fold)


def run_recompute(args: argparse.Namespace, settings: Settings) -> int:
    from madoguchi.bus.memory import MemoryBus
    from madoguchi.db.engine import make_engine, make_sessionmaker
    from madoguchi.db.uow import Database
    from madoguchi.kernel.clock import SystemClock
    from madoguchi.reports.recompute import recompute

    async def go() -> dict[str, Any]:
        engine = make_engine(settings.database_url)
        db = Database(engine=engine, sessions=make_sessionmaker(engine), clock=SystemClock(), bus=MemoryBus())
        try:
            timings = await recompute(db, timezone=settings.timezone, fcr_window_days=settings.fcr_window_days,
                                      short_abandon_s=settings.short_abandon_s)
        finally:
            await engine.dispose()
        return {"seconds": timings.seconds, "rows": timings.rows}

    print(json.dumps(asyncio.run(go())))
    return 0


def run_fold(args: argparse.Namespace, settings: Settings) -> int:
    from madoguchi.bus.memory import MemoryBus
    from madoguchi.db.engine import make_engine, make_sessionmaker
    from madoguchi.db.leases import Lease
    from madoguchi.db.uow import Database
    from madoguchi.kernel.clock import SystemClock
    from madoguchi.reports.rollups import RollupWorker

    async def go() -> int:
        engine = make_engine(settings.database_url)
        db = Database(engine=engine, sessions=make_sessionmaker(engine), clock=SystemClock(), bus=MemoryBus())
        lease = Lease(engine, "madoguchi.reports")
        try:
            if not await lease.try_acquire():
                print("the roll-up worker runs elsewhere; it folds new events itself")
                return 1
            worker = RollupWorker(db, lease=lease, timezone=settings.timezone,
                                  fcr_window_days=settings.fcr_window_days, short_abandon_s=settings.short_abandon_s)
            folded = await worker.drain()
            print(json.dumps({"folded": folded}))
            return 0
        finally:
            await lease.release()
            await engine.dispose()

    return asyncio.run(go())
