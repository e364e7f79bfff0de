"""Saving, publishing and assigning flows. Every write is validated first and audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from madoguchi.channels.models import EntryPoint
from madoguchi.db.uow import UnitOfWork
from madoguchi.flows.definition import parse_definition
from madoguchi.flows.models import Flow, FlowAssignment, FlowVersion
from madoguchi.identity.audit import do_audit
from madoguchi.identity.models import User
from madoguchi.kernel.errors import Conflict, NotFound


async def get_flow(uow: UnitOfWork, flow_id: int) -> Flow:
    flow = await uow.session.get(Flow, flow_id, with_for_update=True)
    if flow is None:
        raise NotFound("flow", flow_id)
    return flow


async def do_create_flow(uow: UnitOfWork, *, actor: User | None, name: str, description: str | None,
                         raw: Any, publish: bool = False) -> tuple[Flow, list[dict[str, str]]]:
    definition, warnings = parse_definition(raw)
    if await uow.session.scalar(select(Flow.id).where(Flow.name == name)) is not None:
        raise Conflict(f"a flow named {name} exists", field="name")
    now = uow.clock.now()
    flow = Flow(name=name, description=description, latest_version=1, published_version=1 if publish else None,
                created_at=now, updated_at=now)
    uow.session.add(flow)
    await uow.session.flush()
    uow.session.add(FlowVersion(flow_id=flow.id, version=1, definition=definition.model_dump(
        mode="json", by_alias=True, exclude_none=True), author_user_id=actor.id if actor else None, created_at=now))
    do_audit(uow, actor=actor, action="flow.saved", target=f"flow:{flow.id}", version=1)
    return flow, warnings


async def check_save_version(uow: UnitOfWork, *, actor: User, flow_id: int,
                             raw: Any) -> tuple[Flow, list[dict[str, str]]]:
    definition, warnings = parse_definition(raw)
    flow = await get_flow(uow, flow_id)
    flow.latest_version += 1
    flow.updated_at = uow.clock.now()
    uow.session.add(FlowVersion(flow_id=flow.id, version=flow.latest_version, definition=definition.model_dump(
        mode="json", by_alias=True, exclude_none=True), author_user_id=actor.id, created_at=flow.updated_at))
    do_audit(uow, actor=actor, action="flow.saved", target=f"flow:{flow.id}", version=flow.latest_version)
    return flow, warnings


async def check_publish(uow: UnitOfWork, *, actor: User, flow_id: int, version: int | None) -> Flow:
    flow = await get_flow(uow, flow_id)
    version = version or flow.latest_version
    exists = await uow.session.scalar(select(FlowVersion.id).where(FlowVersion.flow_id == flow.id,
                                                                   FlowVersion.version == version))
    if exists is None:
        raise NotFound("flow version", f"{flow_id}/{version}")
    flow.published_version = version
    flow.updated_at = uow.clock.now()
    do_audit(uow, actor=actor, action="flow.published", target=f"flow:{flow.id}", version=version)
    return flow


async def do_assign(uow: UnitOfWork, *, actor: User | None, entry_point_id: int, flow_id: int | None) -> None:
    if await uow.session.get(EntryPoint, entry_point_id) is None:
        raise NotFound("entry point", entry_point_id)
    if flow_id is not None:
        flow = await uow.session.get(Flow, flow_id)
        if flow is None:
            raise NotFound("flow", flow_id)
        if flow.published_version is None:
            raise Conflict("publish the flow before assigning it", flow_id=flow_id)
    await uow.session.execute(delete(FlowAssignment).where(FlowAssignment.entry_point_id == entry_point_id))
    if flow_id is not None:
        uow.session.add(FlowAssignment(entry_point_id=entry_point_id, flow_id=flow_id, created_at=uow.clock.now()))
    do_audit(uow, actor=actor, action="flow.assigned", target=f"entry_point:{entry_point_id}", flow_id=flow_id)
