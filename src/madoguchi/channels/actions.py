from __future__ import annotations

import json
import secrets

from sqlalchemy import select

from madoguchi.channels.models import EntryPoint
from madoguchi.channels.registry import ChannelRegistry
from madoguchi.channels.schemas import EntryPointCreate
from madoguchi.db.uow import UnitOfWork
from madoguchi.identity.audit import do_audit
from madoguchi.identity.models import User
from madoguchi.kernel.errors import InvalidInput, NotFound
from madoguchi.routing.models import Queue

MAX_SETTINGS_BYTES = 16_000


async def check_create_entry_point(uow: UnitOfWork, *, actor: User, data: EntryPointCreate,
                                   channels: ChannelRegistry) -> EntryPoint:
    channel = channels.get(data.channel_kind)
    check_settings = getattr(channel, "check_settings", None)  # a channel that validates its own settings
    if check_settings is not None:
        data = data.model_copy(update={"settings": check_settings(data.settings)})
    if data.queue_id is not None and await uow.session.get(Queue, data.queue_id) is None:
        raise NotFound("queue", data.queue_id)
    if len(json.dumps(data.settings)) > MAX_SETTINGS_BYTES:
        raise InvalidInput("settings are too large", field="settings")
    return await do_create_entry_point(uow, actor=actor, data=data)


async def do_create_entry_point(uow: UnitOfWork, *, actor: User | None, data: EntryPointCreate,
                                public_key: str | None = None, secret: str | None = None) -> EntryPoint:
    row = EntryPoint(name=data.name, channel_kind=data.channel_kind,
                     public_key=public_key or "pk_" + secrets.token_urlsafe(18),
                     secret=secret or secrets.token_urlsafe(32),
                     require_verified_identity=data.require_verified_identity, queue_id=data.queue_id,
                     settings=data.settings, active=True, created_at=uow.clock.now())
    uow.session.add(row)
    await uow.session.flush()
    do_audit(uow, actor=actor, action="entry_point.created", target=f"entry_point:{row.id}",
             channel_kind=row.channel_kind)
    return row


async def list_entry_points(uow: UnitOfWork) -> list[EntryPoint]:
    return list((await uow.session.scalars(select(EntryPoint).order_by(EntryPoint.id))).all())
