from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from madoguchi.api.deps import CtxDep, require
from madoguchi.channels import actions
from madoguchi.channels.schemas import EntryPointCreate, EntryPointOut, EntryPointSecretOut
from madoguchi.identity.models import User
from madoguchi.identity.permissions import Perm

router = APIRouter(tags=["channels"])


@router.get("/entry-points", response_model=list[EntryPointOut])
async def list_entry_points(ctx: CtxDep,
                            _user: Annotated[User, require(Perm.MANAGE_ENTRY_POINTS)]) -> list[EntryPointOut]:
    async with ctx.db.uow() as uow:
        return [EntryPointOut.model_validate(e) for e in await actions.list_entry_points(uow)]


@router.post("/entry-points", response_model=EntryPointSecretOut, status_code=201)
async def create_entry_point(body: EntryPointCreate, ctx: CtxDep,
                             user: Annotated[User, require(Perm.MANAGE_ENTRY_POINTS)]) -> EntryPointSecretOut:
    async with ctx.db.uow() as uow:
        row = await actions.check_create_entry_point(uow, actor=user, data=body, channels=ctx.channels)
    return EntryPointSecretOut.model_validate(row)
