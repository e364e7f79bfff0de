"""Writes for the voice channel: agents' SIP accounts, call records."""

from __future__ import annotations

import re

from sqlalchemy import select

from madoguchi.channels.voice.models import SipAccount
from madoguchi.channels.voice.sip.digest import ha1
from madoguchi.db.uow import UnitOfWork
from madoguchi.identity.audit import do_audit
from madoguchi.identity.models import User
from madoguchi.kernel.errors import Conflict, InvalidInput

_USERNAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


async def do_set_sip_account(uow: UnitOfWork, *, actor: User | None, user: User, username: str, password: str,
                             realm: str) -> SipAccount:
    """Create or replace the user's phone login; only the digest HA1 is stored."""
    if not _USERNAME.match(username):
        raise InvalidInput("SIP user names are 1–64 letters, digits, dots, dashes or underscores", field="username")
    if len(password) < 8:
        raise InvalidInput("a SIP password has at least 8 characters", field="password")
    taken = await uow.session.scalar(select(SipAccount).where(SipAccount.username == username))
    if taken is not None and taken.user_id != user.id:
        raise Conflict(f"SIP user {username} exists", field="username")
    account = await uow.session.scalar(select(SipAccount).where(SipAccount.user_id == user.id))
    if account is None:
        account = SipAccount(user_id=user.id, username=username, realm=realm, ha1="", created_at=uow.clock.now())
        uow.session.add(account)
    account.username, account.realm, account.ha1 = username, realm, ha1(username, realm, password)
    await uow.session.flush()
    do_audit(uow, actor=actor, action="sip_account.set", target=f"user:{user.id}", username=username)
    return account


async def load_accounts(uow: UnitOfWork, realm: str) -> list[SipAccount]:
    return list((await uow.session.scalars(select(SipAccount).where(SipAccount.realm == realm))).all())
