"""Demo data: two queues, agents of every role, a chat entry point, customers with history."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from madoguchi.agents.actions import profile_for
from madoguchi.channels.actions import do_create_entry_point
from madoguchi.channels.schemas import EntryPointCreate
from madoguchi.contacts.models import Case, Contact, ContactEvent, Disposition, Message
from madoguchi.customers.models import Customer, Identity
from madoguchi.db.uow import Database
from madoguchi.identity.actions import do_create_user
from madoguchi.identity.models import Team, User
from madoguchi.identity.permissions import Role
from madoguchi.identity.schemas import UserCreate
from madoguchi.routing.models import Queue, QueueMember

DEMO_PASSWORD = "madoguchi-demo"
DEMO_PUBLIC_KEY = "pk_demo_shop"
DEMO_SECRET = "demo-shop-secret-change-me"


@dataclass(frozen=True)
class DemoUser:
    email: str
    name: str
    role: Role
    locale: str


USERS = [
    DemoUser("admin@demo.madoguchi.test", "管理者 Admin", Role.ADMIN, "ja"),
    DemoUser("manager@demo.madoguchi.test", "Mori Manager", Role.MANAGER, "en"),
    DemoUser("supervisor@demo.madoguchi.test", "佐藤 花子", Role.SUPERVISOR, "ja"),
    DemoUser("tanaka@demo.madoguchi.test", "田中 太郎", Role.AGENT, "ja"),
    DemoUser("suzuki@demo.madoguchi.test", "鈴木 一郎", Role.AGENT, "ja"),
    DemoUser("emma@demo.madoguchi.test", "Emma Clark", Role.AGENT, "en"),
    DemoUser("ken@demo.madoguchi.test", "Ken Ito", Role.AGENT, "en"),
    DemoUser("qa@demo.madoguchi.test", "QA Kimura", Role.QA, "ja"),
    DemoUser("trainer@demo.madoguchi.test", "Trainer Lee", Role.TRAINER, "en"),
]

DISPOSITIONS = [
    ("resolved", "Resolved", "解決", True),
    ("follow_up", "Follow-up needed", "要フォローアップ", False),
    ("escalated", "Escalated", "エスカレーション", False),
    ("information", "Information given", "情報提供", True),
    ("spam", "Spam / not a customer", "スパム・対象外", True),
]

CUSTOMERS = [
    ("山田 花子", "hanako.yamada@example.jp", "ja",
     ["注文した商品がまだ届きません。", "確認します。明日お届け予定です。"]),
    ("John Miller", "john.miller@example.com", "en", ["How do I change my delivery address?",
                                                      "You can change it under My Account > Addresses."]),
    ("高橋 健", "ken.takahashi@example.jp", "ja",
     ["返品の方法を教えてください。", "返品フォームのリンクをお送りします。"]),
    ("Sophie Martin", "sophie.martin@example.com", "en", ["My coupon code does not work.",
                                                          "I've applied the discount to your order."]),
    ("伊藤 美咲", "misaki.ito@example.jp", "ja", ["ポイントの有効期限は？", "ポイントは1年間有効です。"]),
]


#: Subsystems that add demo data: each module has ``async def seed_demo(uow, *, queues, users) -> None``
#: (queues by English name, users by email), run in the same transaction after the core data.
DEMO_MODULES: list[str] = ["madoguchi.channels.email.demo", "madoguchi.bot.demo", "madoguchi.channels.voice.demo"]


async def seed(db: Database) -> bool:
    """Create the demo data once; returns False when the database already has users."""
    async with db.uow() as uow:
        if (await uow.session.scalar(select(func.count(User.id)))) or 0:
            return False
        now = uow.clock.now()
        team = Team(name="Tokyo", created_at=now)
        uow.session.add(team)
        await uow.session.flush()
        users: dict[str, User] = {}
        for demo in USERS:
            users[demo.email] = await do_create_user(uow, actor=None, data=UserCreate(
                email=demo.email, display_name=demo.name, role=demo.role, password=DEMO_PASSWORD,
                locale=demo.locale, team_id=team.id))
        handlers = [u for u in users.values() if u.role in (Role.AGENT, Role.SUPERVISOR)]
        for user in handlers:
            await profile_for(uow, user)
        sales = Queue(name="Sales", name_ja="営業", priority=0, service_level_s=60, offer_timeout_s=20, created_at=now)
        support = Queue(name="Support", name_ja="サポート", priority=1, service_level_s=60, offer_timeout_s=20,
                        created_at=now)
        uow.session.add_all([sales, support])
        await uow.session.flush()
        for user in handlers:
            uow.session.add(QueueMember(queue_id=support.id, agent_id=user.id))
            if user.locale == "en" or user.role == Role.SUPERVISOR:
                uow.session.add(QueueMember(queue_id=sales.id, agent_id=user.id))
        dispositions = []
        for code, en, ja, resolves in DISPOSITIONS:
            row = Disposition(code=code, label_en=en, label_ja=ja, resolves_case=resolves, active=True,
                              created_at=now)
            uow.session.add(row)
            dispositions.append(row)
        await do_create_entry_point(uow, actor=None, data=EntryPointCreate(
            name="Demo shop chat", channel_kind="webchat", queue_id=support.id,
            settings={"greeting_ja": "こんにちは！ご用件をどうぞ。", "greeting_en": "Hi! How can we help?"}),
            public_key=DEMO_PUBLIC_KEY, secret=DEMO_SECRET)
        await uow.session.flush()
        agents = [u for u in handlers if u.role == Role.AGENT]
        for i, (name, email, lang, lines) in enumerate(CUSTOMERS):
            customer = Customer(display_name=name, email=email, language=lang,
                                attributes={"tier": "gold" if i % 2 else "standard"},
                                created_at=now - timedelta(days=40), updated_at=now)
            uow.session.add(customer)
            await uow.session.flush()
            uow.session.add(Identity(customer_id=customer.id, kind="email", address=email, verified=True,
                                     created_at=customer.created_at))
            agent = agents[i % len(agents)]
            for days_ago in (14 - i, 3 + i):
                await _history(uow.session, customer=customer, agent=agent, queue=support,
                               disposition=dispositions[i % 2], lines=lines, start=now - timedelta(days=days_ago))
        for name in DEMO_MODULES:
            await importlib.import_module(name).seed_demo(uow, queues={"Sales": sales, "Support": support},
                                                          users=users)
    return True


async def _history(session: AsyncSession, *, customer: Customer, agent: User, queue: Queue,
                   disposition: Disposition, lines: list[str], start: datetime) -> None:
    """A finished chat from the past, with the events a real one leaves."""
    case = Case(customer_id=customer.id, subject=lines[0][:60], status="resolved", priority=0, created_at=start,
                resolved_at=start + timedelta(minutes=6))
    session.add(case)
    await session.flush()
    t = {"arrived": start, "queued": start + timedelta(seconds=2), "offered": start + timedelta(seconds=15),
         "accepted": start + timedelta(seconds=21), "ended": start + timedelta(minutes=5),
         "wrapped_up": start + timedelta(minutes=6)}
    contact = Contact(customer_id=customer.id, case_id=case.id, channel_kind="webchat", direction="inbound",
                      queue_id=queue.id, agent_id=agent.id, state="closed", priority=0, subject=lines[0][:60],
                      disposition_id=disposition.id, created_at=start, enqueued_at=t["queued"],
                      accepted_at=t["accepted"], ended_at=t["ended"], wrapped_up_at=t["wrapped_up"],
                      ended_by="agent")
    session.add(contact)
    await session.flush()
    for kind, at in t.items():
        session.add(ContactEvent(contact_id=contact.id, type=kind, at=at, queue_id=queue.id,
                                 agent_id=None if kind in ("arrived", "queued") else agent.id, data={}))
    session.add(Message(contact_id=contact.id, kind="text", author_kind="customer", body=lines[0],
                        created_at=t["queued"]))
    session.add(Message(contact_id=contact.id, kind="text", author_kind="agent", author_user_id=agent.id,
                        body=lines[1], created_at=t["accepted"] + timedelta(seconds=40)))
