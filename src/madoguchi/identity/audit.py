from __future__ import annotations

from typing import Any

from madoguchi.db.uow import UnitOfWork
from madoguchi.identity.models import AuditEntry, User


def do_audit(uow: UnitOfWork, *, actor: User | None, action: str, target: str, **data: Any) -> None:
    """Every admin action lands here, in the same transaction as the change it records."""
    uow.session.add(AuditEntry(actor_user_id=actor.id if actor else None, action=action, target=target,
                               data=data, at=uow.clock.now()))
