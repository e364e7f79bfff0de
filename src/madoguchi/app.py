"""create_app(settings): the one composition root. Nothing is built at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from madoguchi.api import errors as api_errors
from madoguchi.api.cors import WidgetCors
from madoguchi.api.health import router as health_router
from madoguchi.api.limits import BodyLimit
from madoguchi.api.v1 import api_v1
from madoguchi.api.wire import WebSocketWire
from madoguchi.api.ws import router as ws_router
from madoguchi.bot.service import BotService
from madoguchi.bot.timers import FlowTimers
from madoguchi.bus.base import EventBus
from madoguchi.bus.memory import MemoryBus
from madoguchi.bus.redis import RedisBus
from madoguchi.channels.email.adapter import EmailChannel
from madoguchi.channels.registry import ChannelRegistry
from madoguchi.channels.voice.adapter import VoiceChannel
from madoguchi.channels.webchat.adapter import WebChatChannel
from madoguchi.contacts.writer import MessageWriter
from madoguchi.context import AppContext
from madoguchi.db import feed
from madoguchi.db.engine import make_engine, make_sessionmaker
from madoguchi.db.leases import Lease
from madoguchi.db.uow import Database
from madoguchi.identity.ratelimit import SlidingWindowLimiter
from madoguchi.kb.service import KnowledgeBase
from madoguchi.kernel.clock import Clock, SystemClock
from madoguchi.kernel.collector import CollectorPacing
from madoguchi.kernel.events import Envelope
from madoguchi.realtime.hub import Hub
from madoguchi.routing.router import AcdRouter
from madoguchi.routing.runner import RouterRunner
from madoguchi.settings import Settings
from madoguchi.web.pages import router as web_router
from madoguchi.workers.email_workers import email_workers
from madoguchi.workers.feed_pruning import FeedPruner
from madoguchi.workers.report_rollups import report_workers
from madoguchi.workers.voice_transcription import voice_workers

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "web" / "static"


def build_context(settings: Settings, *, clock: Clock | None = None) -> AppContext:
    clock = clock or SystemClock()
    bus: EventBus = RedisBus(settings.redis_url) if settings.redis_url else MemoryBus()
    engine = make_engine(settings.database_url)
    db = Database(engine=engine, sessions=make_sessionmaker(engine), clock=clock, bus=bus)

    async def replay(topics: tuple[str, ...], after_id: int) -> list[Envelope]:
        async with db.read() as session:
            return await feed.replay(session, topics, after_id, limit=1000)

    async def latest() -> int:
        async with db.read() as session:
            return await feed.latest_id(session)

    channels = ChannelRegistry()
    channels.add(WebChatChannel())
    channels.add(EmailChannel(db, smtp_host=settings.smtp_host, smtp_port=settings.smtp_port,
                              max_bytes=settings.smtp_max_bytes))
    channels.add(VoiceChannel(db, bus, settings))
    kb = KnowledgeBase(db, semantic=settings.kb_semantic)
    return AppContext(
        settings=settings, clock=clock, bus=bus, db=db, hub=Hub(replay=replay, latest_id=latest),
        writer=MessageWriter(db, max_chars=settings.max_message_chars,
                             gather_s=settings.message_gather_ms / 1000,
                             child_process=settings.message_writer_process),
        router=RouterRunner(db, AcdRouter(), offer_timeout_s=settings.offer_timeout_s,
                            lease=Lease(engine, "madoguchi.router"), missed_limit=settings.max_missed_offers,
                            timezone=settings.timezone),
        login_limiter=SlidingWindowLimiter(clock, limit=settings.login_attempts_per_minute),
        channels=channels,
        kb=kb,
        bot=BotService(db, kb, timezone=settings.timezone),
    )


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = build_context(settings, clock=clock)
        app.state.ctx = ctx
        await ctx.bus.start()
        unsubscribe = ctx.bus.subscribe(ctx.hub.on_event)
        unsubscribe_kb = ctx.bus.subscribe(ctx.kb.on_event)
        flow_timers = FlowTimers(ctx.db, ctx.bot, Lease(ctx.db.engine, "madoguchi.flow_timers"))
        await flow_timers.start()
        await ctx.writer.start()
        await ctx.channels.start()
        background = email_workers(ctx) + report_workers(ctx) + voice_workers(ctx)
        for worker in background:
            await worker.start()
        pruner = FeedPruner(ctx.db, retention_hours=settings.feed_retention_hours)
        await pruner.start()
        if settings.router_enabled:
            await ctx.router.start()
        # Garbage collections stop the event loop while they walk objects: keep what is long-lived
        # out of full ones, and young ones rare enough not to be a load of their own
        # (kernel/collector.py).
        collector = CollectorPacing(freeze=settings.gc_freeze, young_threshold=settings.gc_young_threshold)
        await collector.start()
        logger.info("madoguchi ready on %s", settings.database_url.split("@")[-1])
        try:
            yield
        finally:
            await collector.stop()
            await ctx.router.stop()
            await pruner.stop()
            for worker in reversed(background):
                await worker.stop()
            await ctx.channels.stop()
            await ctx.writer.stop()
            await flow_timers.stop()
            unsubscribe_kb()
            await ctx.kb.stop()
            unsubscribe()
            await ctx.bus.stop()
            await ctx.db.engine.dispose()

    app = FastAPI(title="Madoguchi", version="1", lifespan=lifespan,
                  description="Omnichannel contact center platform. Errors carry a stable error_id.")
    app.state.settings = settings
    api_errors.install(app)
    app.include_router(health_router)
    app.include_router(api_v1)
    app.include_router(ws_router)
    app.include_router(web_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(WidgetCors)
    app.add_middleware(WebSocketWire)  # added last: the outermost of ours
    return app
