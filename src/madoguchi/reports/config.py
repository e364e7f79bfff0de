"""Each queue's reporting settings: its service-level definition and wallboard thresholds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from madoguchi.reports.cube import Thresholds
from madoguchi.reports.definitions import SlDefinition, WallboardThresholds, default_definition
from madoguchi.reports.models import ReportQueueConfig
from madoguchi.routing.models import Queue


@dataclass(frozen=True)
class QueueReporting:
    queue_id: int
    name: str
    name_ja: str | None
    definition: SlDefinition
    thresholds: WallboardThresholds
    custom: bool

    def label(self, language: str) -> str:
        return self.name_ja if language == "ja" and self.name_ja else self.name


async def load_queue_reporting(session: AsyncSession, *, short_abandon_s: int) -> dict[int, QueueReporting]:
    rows = (await session.execute(select(Queue, ReportQueueConfig).outerjoin(
        ReportQueueConfig, ReportQueueConfig.queue_id == Queue.id).order_by(Queue.id))).all()
    out: dict[int, QueueReporting] = {}
    for queue, config in rows:
        if config is None:
            definition = default_definition(queue.service_level_s, short_abandon_s)
            thresholds = WallboardThresholds()
        else:
            definition = SlDefinition(threshold_s=config.threshold_s, short_abandon_s=config.short_abandon_s,
                                      abandons=config.abandons, short_abandons=config.short_abandons,
                                      flow_outs=config.flow_outs, method=config.method)
            thresholds = WallboardThresholds.model_validate(config.thresholds or {})
        out[queue.id] = QueueReporting(queue_id=queue.id, name=queue.name, name_ja=queue.name_ja,
                                       definition=definition, thresholds=thresholds, custom=config is not None)
    return out


def engine_thresholds(reporting: Mapping[int, QueueReporting], *, short_abandon_s: int) -> Thresholds:
    """T and the short-abandon limit per queue, as the roll-ups count them."""
    fallback = default_definition(60, short_abandon_s)
    return Thresholds(default_t_ms=fallback.threshold_ms, default_short_ms=fallback.short_ms,
                      by_queue={q: (r.definition.threshold_ms, r.definition.short_ms) for q, r in reporting.items()})
