"""Flow administration: save versions, validate, publish, assign to entry points."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from madoguchi.api.deps import CtxDep, require
from madoguchi.flows import actions, queries
from madoguchi.flows.definition import FlowInvalid, parse_definition
from madoguchi.flows.schemas import (
    AssignIn,
    DefinitionIn,
    FlowCreate,
    FlowOut,
    FlowVersionOut,
    PublishIn,
    ValidationOut,
)
from madoguchi.identity.models import User
from madoguchi.identity.permissions import Perm

router = APIRouter(tags=["flows"])
Manager = Annotated[User, require(Perm.MANAGE_FLOWS)]


@router.get("/flows", response_model=list[FlowOut])
async def list_flows(ctx: CtxDep, _user: Manager) -> list[FlowOut]:
    async with ctx.db.read() as session:
        return await queries.list_flows(session)


@router.post("/flows", response_model=FlowOut, status_code=201)
async def create_flow(body: FlowCreate, ctx: CtxDep, user: Manager) -> FlowOut:
    async with ctx.db.uow() as uow:
        flow, warnings = await actions.do_create_flow(uow, actor=user, name=body.name, description=body.description,
                                                      raw=body.raw())
        await uow.session.flush()
        return await queries.flow_out(uow.session, flow, warnings)


@router.post("/flows/validate", response_model=ValidationOut)
async def validate(body: DefinitionIn, _user: Manager) -> ValidationOut:
    try:
        _, warnings = parse_definition(body.raw())
    except FlowInvalid as error:
        return ValidationOut(ok=False, problems=error.problems, warnings=[])
    return ValidationOut(ok=True, problems=[], warnings=warnings)


@router.get("/flows/{flow_id}", response_model=FlowOut)
async def get_flow(flow_id: int, ctx: CtxDep, _user: Manager) -> FlowOut:
    async with ctx.db.read() as session:
        return await queries.get_flow_out(session, flow_id)


@router.put("/flows/{flow_id}", response_model=FlowOut)
async def save_version(flow_id: int, body: DefinitionIn, ctx: CtxDep, user: Manager) -> FlowOut:
    async with ctx.db.uow() as uow:
        flow, warnings = await actions.check_save_version(uow, actor=user, flow_id=flow_id, raw=body.raw())
        await uow.session.flush()
        return await queries.flow_out(uow.session, flow, warnings)


@router.get("/flows/{flow_id}/versions", response_model=list[FlowVersionOut])
async def flow_versions(flow_id: int, ctx: CtxDep, _user: Manager) -> list[FlowVersionOut]:
    async with ctx.db.read() as session:
        return await queries.versions(session, flow_id)


@router.post("/flows/{flow_id}/publish", response_model=FlowOut)
async def publish(flow_id: int, body: PublishIn, ctx: CtxDep, user: Manager) -> FlowOut:
    async with ctx.db.uow() as uow:
        flow = await actions.check_publish(uow, actor=user, flow_id=flow_id, version=body.version)
        await uow.session.flush()
        return await queries.flow_out(uow.session, flow)


@router.put("/entry-points/{entry_point_id}/flow", status_code=204)
async def assign(entry_point_id: int, body: AssignIn, ctx: CtxDep, user: Manager) -> None:
    async with ctx.db.uow() as uow:
        await actions.do_assign(uow, actor=user, entry_point_id=entry_point_id, flow_id=body.flow_id)
