"""Reads for flows."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from madoguchi.flows.models import Flow, FlowAssignment, FlowVersion
from madoguchi.flows.schemas import FlowOut, FlowVersionOut
from madoguchi.kernel.errors import NotFound


async def flow_out(session: AsyncSession, flow: Flow, warnings: list[dict[str, str]] | None = None) -> FlowOut:
    definition = await session.scalar(select(FlowVersion.definition).where(
        FlowVersion.flow_id == flow.id, FlowVersion.version == flow.latest_version))
    entry_points = await session.scalars(select(FlowAssignment.entry_point_id)
                                         .where(FlowAssignment.flow_id == flow.id))
    return FlowOut(id=flow.id, name=flow.name, description=flow.description, latest_version=flow.latest_version,
                   published_version=flow.published_version, entry_point_ids=sorted(entry_points.all()),
                   definition=definition or {}, warnings=warnings or [], updated_at=flow.updated_at)


async def list_flows(session: AsyncSession) -> list[FlowOut]:
    flows = (await session.scalars(select(Flow).order_by(Flow.name))).all()
    return [await flow_out(session, flow) for flow in flows]


async def get_flow_out(session: AsyncSession, flow_id: int) -> FlowOut:
    flow = await session.get(Flow, flow_id)
    if flow is None:
        raise NotFound("flow", flow_id)
    return await flow_out(session, flow)


async def versions(session: AsyncSession, flow_id: int) -> list[FlowVersionOut]:
    if await session.get(Flow, flow_id) is None:
        raise NotFound("flow", flow_id)
    rows = await session.scalars(select(FlowVersion).where(FlowVersion.flow_id == flow_id)
                                 .order_by(FlowVersion.version))
    return [FlowVersionOut.model_validate(v) for v in rows.all()]


async def published_for_entry_point(session: AsyncSession, entry_point_id: int) -> FlowVersion | None:
    """The published version of the flow assigned to an entry point, if any."""
    row = await session.execute(
        select(FlowVersion).join(Flow, Flow.id == FlowVersion.flow_id)
        .join(FlowAssignment, FlowAssignment.flow_id == Flow.id)
        .where(FlowAssignment.entry_point_id == entry_point_id, FlowVersion.version == Flow.published_version))
    found = row.scalars().first()
    return found
