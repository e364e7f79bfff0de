"""The bot on a live contact: starts the entry point's flow when a conversation opens, feeds it the
customer's messages and timeouts, looks answers up in the knowledge base, and applies the flow's
actions (messages, prompts, contact events, hand-off, end)."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from madoguchi.agents.models import AgentProfile
from madoguchi.bot.intents import wants_human
from madoguchi.channels.models import EntryPoint
from madoguchi.contacts.actions import do_add_message, do_move, get_contact, record_event
from madoguchi.contacts.models import Contact
from madoguchi.contacts.states import ContactState, Move
from madoguchi.customers.models import Customer
from madoguchi.db.uow import Database, UnitOfWork
from madoguchi.flows import engine
from madoguchi.flows.definition import Branch, FlowDefinition, parse_definition
from madoguchi.flows.models import FlowSession, FlowVersion
from madoguchi.flows.queries import published_for_entry_point
from madoguchi.kb.service import KnowledgeBase
from madoguchi.kb.text import has_japanese
from madoguchi.kernel.events import Event
from madoguchi.routing.actions import do_enqueue
from madoguchi.routing.models import Queue, QueueMember

logger = logging.getLogger(__name__)

FLOW_PROMPT = "flow.prompt"
RUNNING = ("starting", "waiting")
_NO_FLOW_CACHE = 100_000


@dataclass
class _Applied:
    prompt: dict[str, Any] | None = None
    status: str | None = None
    handoff: dict[str, Any] | None = None


class BotService:
    def __init__(self, db: Database, kb: KnowledgeBase, *, timezone: str = "Asia/Tokyo") -> None:
        self.db = db
        self.kb = kb
        self.timezone = timezone
        self._definitions: dict[int, FlowDefinition] = {}
        # Contacts known to have no running flow. A flow starts only when a contact opens, so a
        # contact once seen without one never gets one: caching that is always safe.
        self._no_flow: OrderedDict[int, None] = OrderedDict()
        # One input at a time per contact in this process. Across processes (PostgreSQL) the session
        # row lock does it; SQLite runs one process, where a second reader could not take the write
        # lock after the first commits.
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock(self, contact_id: int) -> asyncio.Lock:
        lock = self._locks.get(contact_id)
        if lock is None:
            lock = self._locks[contact_id] = asyncio.Lock()
        return lock

    # -- entry --------------------------------------------------------------------------------
    async def on_arrival(self, uow: UnitOfWork, contact: Contact, entry_point: EntryPoint, queue: Queue) -> None:
        """A conversation opened: the entry point's flow meets it, or (without one) the queue does."""
        version = await published_for_entry_point(uow.session, entry_point.id)
        if version is None:
            do_enqueue(uow, contact=contact, queue=queue)
            return
        now = uow.clock.now()
        uow.session.add(FlowSession(contact_id=contact.id, flow_version_id=version.id, status="starting", state={},
                                    started_at=now, updated_at=now))
        record_event(uow, contact, "flow_entered", flow_id=version.flow_id, flow_version=version.version)

    def _forget(self, contact_id: int) -> None:
        self._no_flow[contact_id] = None
        if len(self._no_flow) > _NO_FLOW_CACHE:
            self._no_flow.popitem(last=False)

    # -- inputs -------------------------------------------------------------------------------
    async def on_customer_message(self, contact_id: int, message_id: int, body: str) -> None:
        """A customer message was written; the flow takes it once (idempotent on message id)."""
        if contact_id in self._no_flow:
            return
        async with self._lock(contact_id), self.db.uow() as uow:
            session = await uow.session.scalar(select(FlowSession).where(FlowSession.contact_id == contact_id)
                                               .with_for_update())
            if session is None or session.status not in RUNNING:
                self._forget(contact_id)
                return
            if session.last_message_id is not None and message_id <= session.last_message_id:
                return
            session.last_message_id = message_id
            contact = await get_contact(uow, contact_id)
            if contact.state != ContactState.NEW:
                session.status = "ended"
                self._forget(contact_id)
                return
            await self._advance(uow, session, contact, text=body)

    async def on_timeout(self, session_id: int, contact_id: int) -> None:
        async with self._lock(contact_id), self.db.uow() as uow:
            session = await uow.session.get(FlowSession, session_id, with_for_update=True)
            now = uow.clock.now()
            if (session is None or session.status != "waiting" or session.deadline_at is None
                    or session.deadline_at > now):
                return
            session.deadline_at = None
            contact = await get_contact(uow, session.contact_id)
            if contact.state != ContactState.NEW:
                session.status = "ended"
                return
            await self._advance(uow, session, contact, timed_out=True)

    # -- running ------------------------------------------------------------------------------
    async def _definition(self, session: AsyncSession, version_id: int) -> FlowDefinition:
        found = self._definitions.get(version_id)
        if found is None:
            row = await session.get(FlowVersion, version_id)
            if row is None:
                raise engine.FlowError(f"flow version {version_id} is gone")
            found, _ = parse_definition(row.definition)
            self._definitions[version_id] = found
        return found

    async def _context(self, session: AsyncSession, contact: Contact, definition: FlowDefinition,
                       state: dict[str, Any], text: str | None) -> engine.FlowContext:
        customer = await session.get(Customer, contact.customer_id)
        language = state.get("_language")
        if language is None:
            language = customer.language if customer is not None and customer.language in ("ja", "en") else (
                "ja" if text and has_japanese(text) else "en")
        return engine.FlowContext(now=self.db.clock.now(), language=language, timezone=self.timezone,
                                  attributes=dict(customer.attributes) if customer is not None else {},
                                  queues=await _queue_states(session, definition))

    async def _advance(self, uow: UnitOfWork, session: FlowSession, contact: Contact, *, text: str | None = None,
                       timed_out: bool = False) -> None:
        actions: list[engine.Action] = []
        state = dict(session.state or {})
        try:
            definition = await self._definition(uow.session, session.flow_version_id)
            context = await self._context(uow.session, contact, definition, state, text)
            if session.status == "starting":
                step = engine.start(definition, context, opening_text=text)
            else:
                event: engine.Input = engine.Timeout() if timed_out else engine.TextInput(
                    text or "", human=wants_human(text or ""))
                step = engine.resume(definition, state, event, context)
            actions.extend(step.actions)
            for _ in range(5):
                if step.waiting != "lookup":
                    break
                query = next(a.query for a in reversed(step.actions) if isinstance(a, engine.LookupAction))
                found = await self.kb.search(query, language=context.language, top=3)
                candidates = tuple(engine.Candidate(r.article_id, r.title, r.answer, r.confidence) for r in found)
                step = engine.resume(definition, step.state,
                                     engine.LookupResult(candidates, human=wants_human(query)), context)
                actions.extend(step.actions)
            new_state = step.state
            new_state["_language"] = context.language
        except engine.FlowError as error:
            logger.warning("flow of contact %s failed, handing off: %s", contact.id, error)
            actions = [engine.FactAction("escalated", {"reason": "flow_error"}),
                       engine.EnqueueAction(None, 0, (), "flow_error")]
            new_state = {**state, "done": True, "wait": None, "error": str(error)}
        applied = await self._apply(uow, session, contact, actions)
        now = uow.clock.now()
        new_state["prompt"] = applied.prompt
        if applied.handoff is not None:
            new_state["handoff"] = applied.handoff
        session.state = new_state
        session.status = applied.status or ("ended" if new_state.get("done") else "waiting")
        timeout_s = new_state.get("timeout_s") if session.status == "waiting" else None
        session.deadline_at = now + timedelta(seconds=int(timeout_s)) if timeout_s else None
        session.updated_at = now
        if session.status not in RUNNING:
            self._forget(contact.id)

    async def _apply(self, uow: UnitOfWork, session: FlowSession, contact: Contact,
                     actions: list[engine.Action]) -> _Applied:
        applied = _Applied()
        for action in actions:
            if isinstance(action, engine.SayAction):
                await do_add_message(uow, contact=contact, kind="text", author_kind="bot", body=action.text)
            elif isinstance(action, engine.PromptAction):
                message = await do_add_message(uow, contact=contact, kind="text", author_kind="bot", body=action.text)
                applied.prompt = {"contact_id": contact.id, "message_id": message.id, "input": action.input,
                                  "choices": [{"value": v, "label": label} for v, label in action.choices]}
                if contact.customer_topic:
                    uow.emit(Event(FLOW_PROMPT, applied.prompt, (contact.customer_topic,)))
            elif isinstance(action, engine.FactAction):
                record_event(uow, contact, action.type, **action.data)
            elif isinstance(action, engine.EnqueueAction):
                applied.handoff = await self._hand_off(uow, contact, action)
                applied.status = "queued" if applied.handoff is not None else "ended"
            elif isinstance(action, engine.EndAction):
                contact.ended_at = uow.clock.now()
                contact.ended_by = "bot"
                do_move(uow, contact, Move.END, event_type="ended", ended_by="bot", reason=action.reason)
                applied.status = "ended"
        return applied

    async def _hand_off(self, uow: UnitOfWork, contact: Contact,
                        action: engine.EnqueueAction) -> dict[str, Any] | None:
        """Queue the contact; None when there is no queue to hand it to (the contact ends)."""
        queue = None
        if action.queue:
            queue = await uow.session.scalar(select(Queue).where(Queue.name == action.queue))
            if queue is None:
                logger.warning("flow names an unknown queue %r; using the entry point's", action.queue)
        if queue is None and contact.entry_point_id is not None:
            entry_point = await uow.session.get(EntryPoint, contact.entry_point_id)
            if entry_point is not None and entry_point.queue_id is not None:
                queue = await uow.session.get(Queue, entry_point.queue_id)
        if queue is None:
            contact.ended_at = uow.clock.now()
            contact.ended_by = "bot"
            do_move(uow, contact, Move.END, event_type="ended", ended_by="bot", reason="no_queue")
            return None
        contact.priority = action.priority
        # The router tells the customer their place in line and the estimated wait (queue.position).
        do_enqueue(uow, contact=contact, queue=queue)
        return {"queue": queue.name, "priority": action.priority, "skills": list(action.skills),
                "reason": action.reason}


def _queue_names(definition: FlowDefinition) -> set[str]:
    names: set[str] = set()

    def walk(condition: Any) -> None:
        if isinstance(condition, dict):
            if isinstance(condition.get("queue"), str):
                names.add(condition["queue"])
            for value in condition.values():
                walk(value)
        elif isinstance(condition, list):
            for value in condition:
                walk(value)

    for block in definition.blocks.values():
        if isinstance(block, Branch):
            for rule in block.rules:
                walk(rule.when)
    return names


async def _queue_states(session: AsyncSession, definition: FlowDefinition) -> dict[str, engine.QueueStatus]:
    """Live state of the queues the flow's conditions look at (none: no queries)."""
    states: dict[str, engine.QueueStatus] = {}
    for name in _queue_names(definition):
        queue = await session.scalar(select(Queue).where(Queue.name == name))
        if queue is None:
            continue
        waiting = await session.scalar(select(func.count(Contact.id)).where(
            Contact.queue_id == queue.id, Contact.state.in_([ContactState.QUEUED, ContactState.OFFERED])))
        available = await session.scalar(select(func.count(AgentProfile.user_id)).join(
            QueueMember, QueueMember.agent_id == AgentProfile.user_id).where(
            QueueMember.queue_id == queue.id, AgentProfile.state.in_(["available", "busy"])))
        states[name] = engine.QueueStatus(waiting=int(waiting or 0), agents_available=int(available or 0))
    return states
