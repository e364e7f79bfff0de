from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from madoguchi.api.deps import CtxDep, require
from madoguchi.customers import actions, queries
from madoguchi.customers.schemas import CustomerOut, CustomerUpdate
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


@router.patch("/customers/{customer_id}", response_model=CustomerOut)
async def update_customer(customer_id: int, body: CustomerUpdate, ctx: CtxDep,
                          user: Annotated[User, require(Perm.HANDLE_CONTACTS)]) -> CustomerOut:
    """Correct the profile; ``attributes.priority`` makes a VIP (routing priority of their contacts)."""
    async with ctx.db.uow() as uow:
        customer = await actions.check_update_customer(uow, actor=user, customer_id=customer_id, data=body)
        customer_id = customer.id
    async with ctx.db.read() as session:
        return await queries.get_profile(session, customer_id)
