"""The report roll-up worker and the wallboard it drives (docs/reports.md), built from the settings
(app.py starts and stops them)."""

from __future__ import annotations

from madoguchi.context import AppContext
from madoguchi.db.leases import Lease
from madoguchi.reports.rollups import RollupWorker
from madoguchi.reports.wallboard import WallboardPublisher
from madoguchi.workers.email_workers import Worker


def report_workers(ctx: AppContext) -> list[Worker]:
    settings = ctx.settings
    if not settings.report_rollups_enabled:
        return []
    board = WallboardPublisher(ctx.db, timezone=settings.timezone, short_abandon_s=settings.short_abandon_s)
    # Stopped after the roll-up worker (app.py stops in reverse order): a publication may be due.
    return [board, RollupWorker(ctx.db, lease=Lease(ctx.db.engine, "madoguchi.reports"), timezone=settings.timezone,
                         fcr_window_days=settings.fcr_window_days, short_abandon_s=settings.short_abandon_s,
                         after_batch=board.refresh)]
