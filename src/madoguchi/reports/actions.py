"""Writes of the reports domain: a queue's service-level definition and thresholds."""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy import select

from madoguchi.db.uow import UnitOfWork
from madoguchi.identity.audit import do_audit
from madoguchi.identity.models import User
from madoguchi.kernel.errors import InvalidInput, NotFound
from madoguchi.kernel.events import SUPERVISORS, Event
from madoguchi.reports.config import QueueReporting, engine_thresholds, load_queue_reporting
from madoguchi.reports.cube import Days
from madoguchi.reports.definitions import SlDefinition
from madoguchi.reports.models import ReportQueueConfig
from madoguchi.reports.recompute import rederive_queue
from madoguchi.reports.schemas import DefinitionIn

DEFINITION_CHANGED = "report.definition_changed"


async def check_set_definition(uow: UnitOfWork, *, actor: User, queue_id: int, data: DefinitionIn,
                               short_abandon_s: int, timezone: str) -> QueueReporting:
    """Change a queue's definition. When T or the short-abandon limit changes, that queue's roll-ups
    are recounted from its legs in this same transaction (which also makes the live worker compute
    any batch in flight again)."""
    reporting = await load_queue_reporting(uow.session, short_abandon_s=short_abandon_s)
    current = reporting.get(queue_id)
    if current is None:
        raise NotFound("queue", queue_id)
    changes = data.model_dump(exclude_unset=True, exclude_none=True, exclude={"thresholds"})
    try:
        definition = SlDefinition.model_validate({**current.definition.model_dump(), **changes})
    except ValidationError as error:
        raise InvalidInput(error.errors()[0]["msg"], field="short_abandon_s") from None
    thresholds = data.thresholds if "thresholds" in data.model_fields_set and data.thresholds else current.thresholds
    row = await uow.session.scalar(select(ReportQueueConfig).where(ReportQueueConfig.queue_id == queue_id)
                                   .with_for_update())
    if row is None:
        row = ReportQueueConfig(queue_id=queue_id, updated_at=uow.clock.now())
        uow.session.add(row)
    row.threshold_s, row.short_abandon_s = definition.threshold_s, definition.short_abandon_s
    row.abandons, row.short_abandons = definition.abandons, definition.short_abandons
    row.flow_outs, row.method = definition.flow_outs, definition.method
    row.thresholds = thresholds.model_dump(exclude_none=True)
    row.updated_at = uow.clock.now()
    await uow.session.flush()
    updated = QueueReporting(queue_id=queue_id, name=current.name, name_ja=current.name_ja, definition=definition,
                             thresholds=thresholds, custom=True)
    if (definition.threshold_s, definition.short_abandon_s) != (current.definition.threshold_s,
                                                                 current.definition.short_abandon_s):
        reporting[queue_id] = updated
        await rederive_queue(uow.session, queue_id=queue_id, days=Days(timezone),
                             thresholds=engine_thresholds(reporting, short_abandon_s=short_abandon_s))
    do_audit(uow, actor=actor, action="report.definition_set", target=f"queue:{queue_id}",
             **definition.model_dump(), thresholds=row.thresholds)
    uow.emit(Event(DEFINITION_CHANGED, {"queue_id": queue_id, **definition.stated()}, (SUPERVISORS,),
                   durable=False))
    return updated
