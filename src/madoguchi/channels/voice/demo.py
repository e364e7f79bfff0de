"""Demo data for voice: the phone entry point sip:support@127.0.0.1 with a ja/en menu, and SIP
logins for the demo agents (user name = the part of their email before @, password = the demo one)."""

from __future__ import annotations

from madoguchi.channels.actions import do_create_entry_point
from madoguchi.channels.schemas import EntryPointCreate
from madoguchi.channels.voice.actions import do_set_sip_account
from madoguchi.db.uow import UnitOfWork
from madoguchi.identity.models import User
from madoguchi.identity.permissions import Role
from madoguchi.routing.models import Queue
from madoguchi.settings import Settings

DEMO_SIP_PASSWORD = "madoguchi-demo"

VOICE_SETTINGS = {
    "uri": "sip:support@127.0.0.1",
    "language": "ja",
    "greeting": {"ja": "お電話ありがとうございます。窓口デモセンターです。",
                 "en": "Thank you for calling the Madoguchi demo center."},
    "menu_prompt": {"ja": "営業は1を、サポートは2を、オペレーターは0を押してください。",
                    "en": "For sales press 1, for support press 2, for an operator press 0."},
    "menu": {"1": "Sales", "2": "Support", "0": ""},
    "record": True,
}


async def seed_demo(uow: UnitOfWork, *, queues: dict[str, Queue], users: dict[str, User]) -> None:
    await do_create_entry_point(uow, actor=None, data=EntryPointCreate(
        name="Demo phone", channel_kind="voice", queue_id=queues["Support"].id, settings=VOICE_SETTINGS))
    realm = Settings().sip_realm
    for email, user in users.items():
        if user.role in (Role.AGENT, Role.SUPERVISOR):
            await do_set_sip_account(uow, actor=None, user=user, username=email.split("@")[0],
                                     password=DEMO_SIP_PASSWORD, realm=realm)
