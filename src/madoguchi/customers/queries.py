from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from madoguchi.customers.models import Customer, Identity
from madoguchi.customers.schemas import CustomerOut, IdentityOut
from madoguchi.kernel.errors import NotFound


async def customer_ids_of(session: AsyncSession, customer_id: int) -> list[int]:
    """The customer and every customer merged into it."""
    rows = await session.scalars(select(Customer.id).where(
        or_(Customer.id == customer_id, Customer.merged_into_id == customer_id)))
    return list(rows.all())


async def get_profile(session: AsyncSession, customer_id: int) -> CustomerOut:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("customer", customer_id)
    if customer.merged_into_id is not None:
        return await get_profile(session, customer.merged_into_id)
    identities = (await session.scalars(select(Identity).where(Identity.customer_id == customer.id)
                                        .order_by(Identity.id))).all()
    out = CustomerOut.model_validate(customer)
    out.identities = [IdentityOut.model_validate(i) for i in identities]
    return out


async def list_customers(session: AsyncSession, *, limit: int, offset: int) -> list[Customer]:
    stmt = select(Customer).where(Customer.merged_into_id.is_(None)).order_by(Customer.id.desc())
    return list((await session.scalars(stmt.limit(limit).offset(offset))).all())
