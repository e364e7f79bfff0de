from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from madoguchi.api.deps import CtxDep, require
from madoguchi.customers import queries
from madoguchi.customers.schemas import CustomerOut
from madoguchi.identity.models import User
from madoguchi.identity.permissions import Perm

router = APIRouter(tags=["customers"])


@router.get("/customers", response_model=list[CustomerOut])
async def list_customers(ctx: CtxDep, _user: Annotated[User, require(Perm.READ_CUSTOMERS)],
                         limit: Annotated[int, Query(ge=1, le=500)] = 50,
                         offset: Annotated[int, Query(ge=0)] = 0) -> list[CustomerOut]:
    async with ctx.db.read() as session:
        return [CustomerOut.model_validate(c) for c in await queries.list_customers(session, limit=limit,
                                                                                     offset=offset)]


@router.get("/customers/{customer_id}", response_model=CustomerOut)
async def get_customer(customer_id: int, ctx: CtxDep,
                       _user: Annotated[User, require(Perm.READ_CUSTOMERS)]) -> CustomerOut:
    async with ctx.db.read() as session:
        return await queries.get_profile(session, customer_id)
