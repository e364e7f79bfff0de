"""Identity resolution and merge: every channel's address leads to exactly one customer."""

from __future__ import annotations

from sqlalchemy import select, update

from madoguchi.customers.models import Customer, Identity
from madoguchi.customers.schemas import CustomerUpdate
from madoguchi.db.uow import UnitOfWork
from madoguchi.identity.audit import do_audit
from madoguchi.identity.models import User
from madoguchi.kernel.errors import NotFound


async def root_customer(uow: UnitOfWork, customer_id: int) -> Customer:
    """The surviving customer after merges (merges are kept flat, so one hop at most)."""
    customer = await uow.session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("customer", customer_id)
    if customer.merged_into_id is not None:
        target = await uow.session.get(Customer, customer.merged_into_id)
        if target is None:
            raise NotFound("customer", customer.merged_into_id)
        return target
    return customer


async def do_resolve_identity(uow: UnitOfWork, *, kind: str, address: str, display_name: str | None = None,
                              verified: bool = False) -> tuple[Customer, Identity]:
    """The customer behind (kind, address), created on first sight."""
    identity = await uow.session.scalar(select(Identity).where(Identity.kind == kind, Identity.address == address))
    if identity is not None:
        customer = await root_customer(uow, identity.customer_id)
        if verified and not identity.verified:
            identity.verified = True
        if display_name and not customer.display_name:
            customer.display_name = display_name
        return customer, identity
    now = uow.clock.now()
    customer = Customer(display_name=display_name, attributes={}, created_at=now, updated_at=now)
    uow.session.add(customer)
    await uow.session.flush()
    identity = Identity(customer_id=customer.id, kind=kind, address=address, verified=verified, created_at=now)
    uow.session.add(identity)
    await uow.session.flush()
    return customer, identity


async def do_link_identity(uow: UnitOfWork, *, customer: Customer, kind: str, address: str,
                           verified: bool = False) -> Customer:
    """Attach (kind, address) to ``customer``. When another customer already owns it, the two are
    the same person: ``customer`` is merged into the owner, who survives. Returns the survivor."""
    identity = await uow.session.scalar(select(Identity).where(Identity.kind == kind, Identity.address == address))
    if identity is None:
        uow.session.add(Identity(customer_id=customer.id, kind=kind, address=address, verified=verified,
                                 created_at=uow.clock.now()))
        await uow.session.flush()
        return customer
    owner = await root_customer(uow, identity.customer_id)
    if owner.id == customer.id:
        return customer
    await do_merge(uow, source=customer, target=owner)
    return owner


async def do_merge(uow: UnitOfWork, *, source: Customer, target: Customer) -> None:
    """Fold ``source`` into ``target``: identities move; the source row stays as a pointer so the
    contacts and cases that name it are found through the target (merges stay one hop deep)."""
    await uow.session.execute(update(Identity).where(Identity.customer_id == source.id)
                              .values(customer_id=target.id))
    await uow.session.execute(update(Customer).where(Customer.merged_into_id == source.id)
                              .values(merged_into_id=target.id))
    source.merged_into_id = target.id
    for attr in ("display_name", "email", "phone", "language"):
        if getattr(target, attr) is None and getattr(source, attr) is not None:
            setattr(target, attr, getattr(source, attr))
    target.attributes = {**source.attributes, **target.attributes}
    target.updated_at = uow.clock.now()
    await uow.session.flush()


def do_update_profile(uow: UnitOfWork, *, customer: Customer, display_name: str | None = None,
                      email: str | None = None) -> None:
    if display_name:
        customer.display_name = display_name
    if email and not customer.email:
        customer.email = email
    customer.updated_at = uow.clock.now()


async def check_update_customer(uow: UnitOfWork, *, actor: User, customer_id: int, data: CustomerUpdate) -> Customer:
    customer = await root_customer(uow, customer_id)
    changes = data.model_dump(exclude_unset=True)
    for field_name in ("display_name", "phone", "language"):
        if field_name in changes:
            setattr(customer, field_name, changes[field_name])
    if data.attributes is not None:
        merged = {**(customer.attributes or {}), **data.attributes}
        customer.attributes = {k: v for k, v in merged.items() if v is not None}
    customer.updated_at = uow.clock.now()
    do_audit(uow, actor=actor, action="customer.updated", target=f"customer:{customer.id}", **changes)
    return customer
