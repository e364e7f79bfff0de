"""The collaborators create_app builds and hands to routes, workers and the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from madoguchi.bus.base import EventBus
from madoguchi.channels.registry import ChannelRegistry
from madoguchi.db.uow import Database
from madoguchi.identity.ratelimit import SlidingWindowLimiter
from madoguchi.kernel.clock import Clock
from madoguchi.settings import Settings

if TYPE_CHECKING:
    from madoguchi.bot.service import BotService
    from madoguchi.contacts.writer import MessageWriter
    from madoguchi.kb.service import KnowledgeBase
    from madoguchi.realtime.hub import Hub
    from madoguchi.routing.runner import RouterRunner


@dataclass
class AppContext:
    settings: Settings
    clock: Clock
    bus: EventBus
    db: Database
    hub: Hub
    writer: MessageWriter
    router: RouterRunner
    login_limiter: SlidingWindowLimiter
    channels: ChannelRegistry
    kb: KnowledgeBase
    bot: BotService
    background: list[object] = field(default_factory=list)
