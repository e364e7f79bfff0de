"""The contact-center side of a call: call → contact → IVR → queue → offer → agent phone →
bridge → end (docs/voice.md). Works on the ``Telephony`` interface only."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from madoguchi.agents.work import do_end_contact
from madoguchi.bus.base import EventBus
from madoguchi.channels.models import EntryPoint
from madoguchi.channels.voice.actions import load_accounts
from madoguchi.channels.voice.audio import music_on_hold
from madoguchi.channels.voice.callbacks import Callbacks, callable_number
from madoguchi.channels.voice.consult import VOICE_CONSULT
from madoguchi.channels.voice.consultation import SOURCE as CONSULT_SOURCE
from madoguchi.channels.voice.consultation import Consult, Consultations
from madoguchi.channels.voice.ivr import Ivr, menu_flow
from madoguchi.channels.voice.models import VoiceCall
from madoguchi.channels.voice.prompts import Prompts
from madoguchi.channels.voice.recordings import VOICE_RECORDING, contact_dir, new_path
from madoguchi.channels.voice.telephony import CallFailed, Leg, LegState, Telephony, is_ended
from madoguchi.channels.voice.transcripts import do_queue_transcripts
from madoguchi.channels.voice.uploads import RecordedPrompts
from madoguchi.channels.voice.waiting import QUEUE_POSITION, position_text, repeat_every, topic_for
from madoguchi.contacts.actions import do_move, do_open_contact, get_contact, record_event
from madoguchi.contacts.events import CONTACT_CHANGED
from madoguchi.contacts.models import Contact
from madoguchi.contacts.states import HANDLING_STATES, ContactState, Move
from madoguchi.customers.actions import do_resolve_identity
from madoguchi.db.uow import Database
from madoguchi.flows import engine
from madoguchi.flows.definition import FlowDefinition, parse_definition
from madoguchi.flows.queries import published_for_entry_point
from madoguchi.identity.models import User
from madoguchi.kernel.errors import DomainError
from madoguchi.kernel.events import SUPERVISORS, Envelope, Event, user_topic
from madoguchi.routing.actions import do_abandon, do_enqueue
from madoguchi.routing.models import Queue
from madoguchi.routing.offers import OFFER_CREATED, check_accept_offer, check_reject_offer

logger = logging.getLogger(__name__)

VOICE = "voice"
VOICE_CALL = "voice.call"
_RELOAD_EVERY_S = 5.0


@dataclass
class ActiveCall:
    contact_id: int
    call_row_id: int
    leg: Leg
    customer_id: int
    customer_name: str | None
    entry_point_id: int
    events: asyncio.Queue[tuple[str, dict[str, Any]]] = field(default_factory=asyncio.Queue)
    agent_leg: Leg | None = None
    agent_id: int | None = None
    language: str | None = None          # the customer's, when known (ja/en)
    attributes: dict[str, Any] = field(default_factory=dict)
    consult: Consult | None = None       # a colleague rung, consulted or in conference
    callback: bool = False               # the caller left a callback request: the contact waits on
    phone: str = ""                      # the customer's number (the caller's, or the one called back)
    position: tuple[int, float | None] | None = None   # place in line and estimated wait (s), from the router
    position_told: tuple[int, float | None] | None = None
    attended: bool = False               # our own hand-over is in flight: its transfer event is ours


@dataclass(frozen=True)
class Account:
    user_id: int
    ha1: str


class VoiceService:
    def __init__(self, db: Database, bus: EventBus, telephony: Telephony, prompts: Prompts, *, realm: str,
                 timezone: str, recordings_dir: Path | None = None, ivr: Ivr | None = None) -> None:
        self.db = db
        self.bus = bus
        self.telephony = telephony
        self.prompts = prompts
        self.realm = realm
        self.timezone = timezone
        self.recordings_dir = recordings_dir
        self.ivr = ivr or Ivr(prompts, recorded=RecordedPrompts(db))
        self.hold_music = music_on_hold()
        self.calls: dict[int, ActiveCall] = {}
        self._accounts: dict[str, Account] = {}
        self._usernames: dict[int, str] = {}
        self._loaded_at = 0.0
        self._entry_points: tuple[float, list[EntryPoint]] | None = None
        self._reload: asyncio.Task[None] | None = None
        self._unsubscribe: Any = None
        self.consults = Consultations(self)
        self.callbacks = Callbacks(self)

    # -- lifecycle --
    async def start(self) -> None:
        self.telephony.on_incoming(self.handle_call)
        self._unsubscribe = self.bus.subscribe(self._on_event)
        await self.reload_accounts()
        recovered = await self.callbacks.recover()
        if recovered:
            logger.info("%s callbacks left dialling by a stopped process wait in line again", recovered)

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        await self.callbacks.stop()

    async def reload_accounts(self) -> None:
        async with self.db.uow() as uow:
            rows = await load_accounts(uow, self.realm)
        self._accounts = {r.username: Account(r.user_id, r.ha1) for r in rows}
        self._usernames = {r.user_id: r.username for r in rows}
        self._loaded_at = time.monotonic()

    def credentials(self, username: str) -> str | None:
        """Digest HA1 for a phone's REGISTER. An unknown name reloads the accounts (at most every 5 s);
        the phone's next attempt sees an account made since."""
        account = self._accounts.get(username)
        if account is None and time.monotonic() - self._loaded_at > _RELOAD_EVERY_S and (
                self._reload is None or self._reload.done()):
            self._loaded_at = time.monotonic()
            self._reload = asyncio.get_running_loop().create_task(self.reload_accounts())
        return account.ha1 if account else None

    def _on_event(self, envelope: Envelope) -> None:
        """Bus subscriber: hands offers and desktop actions to the call they concern (never blocks)."""
        data = envelope.data
        call = self.calls.get(int(data.get("contact_id") or 0))
        if call is None:
            if envelope.type == OFFER_CREATED and data.get("channel_kind") == VOICE:
                self.callbacks.on_offer(data)  # a waiting callback (no caller on the line) is offered
            return
        if envelope.type == OFFER_CREATED and data.get("channel_kind") == VOICE:
            call.events.put_nowait(("offer", data))
        elif envelope.type == CONTACT_CHANGED and data.get("change") in ("ended", "transferred", "held", "resumed"):
            call.events.put_nowait(("contact", data))
        elif envelope.type == CONTACT_CHANGED and data.get("change") == "callback_overflow":
            call.events.put_nowait(("callback", {"source": "overflow"}))
        elif envelope.type == QUEUE_POSITION:
            call.events.put_nowait(("position", data))
        elif envelope.type == VOICE_CONSULT:
            call.events.put_nowait(("consult", data))
        elif envelope.type == VOICE_RECORDING:  # applied at once: the card number is being spoken now
            for leg in (call.leg, call.agent_leg):
                if leg is not None:
                    leg.pause_recording(bool(data.get("paused")))

    # -- one call, start to end --
    async def handle_call(self, leg: Leg) -> None:
        entry_point = await self._entry_point(leg.callee)
        if entry_point is None:
            logger.info("call for %r: no voice entry point", leg.callee)
            await leg.hangup("not_found")
            return
        call = await self._open(leg, entry_point)
        self.calls[call.contact_id] = call
        try:
            await self._run(call, entry_point)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("voice contact %s failed", call.contact_id)
        finally:
            await self._finish(call, entry_point)

    async def converse_callback(self, *, contact_id: int, row_id: int, customer_leg: Leg, agent_leg: Leg,
                                agent_id: int, entry_point: EntryPoint, customer_id: int, customer_name: str | None,
                                language: str) -> None:
        """A callback connected (callbacks.py): the agent's phone and the customer's, from here on
        as any other call."""
        call = ActiveCall(contact_id, row_id, customer_leg, customer_id, customer_name, entry_point.id,
                          agent_leg=agent_leg, agent_id=agent_id, language=language, phone=customer_leg.callee)
        self.calls[contact_id] = call
        try:
            recording = await self._start_recording(call, entry_point, agent_leg, agent_id)
            await self._update_row(call, state="bridged", agent_id=agent_id, bridged_at=self.db.clock.now(),
                                   **({"recording_path": str(recording)} if recording else {}))
            self.telephony.bridge(customer_leg, agent_leg)
            agent_leg.on_event(lambda event: call.events.put_nowait(("phone", {"event": event})))
            await self._record(call, "callback_connected", {"phone": call.phone, "agent_id": agent_id})
            await self._tell(call, agent_id, "answered")
            if await self._talk(call) == "transferred":
                while await self._wait_for_agent(call, entry_point):
                    if await self._talk(call) != "transferred":
                        break
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("callback of contact %s failed", contact_id)
        finally:
            await self._finish(call, entry_point)

    async def _finish(self, call: ActiveCall, entry_point: EntryPoint) -> None:
        leg = call.leg
        self.calls.pop(call.contact_id, None)
        with contextlib.suppress(Exception):
            await self.consults.drop(call, "call_ended")
        await leg.hangup()
        if call.agent_leg is not None:
            await call.agent_leg.hangup()
        with contextlib.suppress(Exception):
            await self._close_row(call)
        if self.recordings_dir is not None:
            language = call.language or str(entry_point.settings.get("language") or "ja")
            try:
                async with self.db.uow() as uow:
                    await do_queue_transcripts(uow, contact_id=call.contact_id, root=self.recordings_dir,
                                               language=language)
            except Exception:
                logger.exception("queueing transcripts of contact %s failed", call.contact_id)

    async def _entry_point(self, callee: str) -> EntryPoint | None:
        """The voice entry point a call is for. The list is kept for 5 s (a burst of calls would
        otherwise read it once per call) and read again when a callee matches none in it, so a new
        entry point answers at once and a changed one within 5 s."""
        now = time.monotonic()
        fresh = self._entry_points is None or now - self._entry_points[0] > _RELOAD_EVERY_S
        if fresh:
            await self._load_entry_points()
        found = self._match(callee)
        if found is None and not fresh:
            await self._load_entry_points()
            found = self._match(callee)
        return found

    async def _load_entry_points(self) -> None:
        async with self.db.read() as session:
            rows = list((await session.scalars(select(EntryPoint).where(EntryPoint.channel_kind == VOICE,
                                                                        EntryPoint.active))).all())
            for row in rows:
                session.expunge(row)
        self._entry_points = (time.monotonic(), rows)

    def _match(self, callee: str) -> EntryPoint | None:
        for row in self._entry_points[1] if self._entry_points else []:
            uri = str(row.settings.get("uri") or "")
            user = uri.split(":", 1)[-1].split("@")[0] if uri else None
            if callee and callee in (user, row.settings.get("number")):
                return row
        return None

    async def _open(self, leg: Leg, entry_point: EntryPoint) -> ActiveCall:
        async with self.db.uow() as uow:
            customer, _ = await do_resolve_identity(uow, kind="phone", address=leg.caller)
            contact = await do_open_contact(uow, customer_id=customer.id, channel_kind=VOICE,
                                            entry_point_id=entry_point.id, subject=f"☎ {leg.caller}",
                                            customer_topic=None)
            if int(entry_point.settings.get("announce_position_every_s", 60)) > 0:
                contact.customer_topic = topic_for(contact.id)  # the router then tells us the place in line
            row = VoiceCall(contact_id=contact.id, sip_call_id=leg.leg_id[:255], caller=leg.caller[:64],
                            callee=leg.callee[:64], state="ringing", created_at=uow.clock.now())
            uow.session.add(row)
            await uow.session.flush()
            return ActiveCall(contact.id, row.id, leg, customer.id, customer.display_name, entry_point.id,
                              language=customer.language if customer.language in ("ja", "en") else None,
                              attributes=dict(customer.attributes or {}), phone=leg.caller)

    async def _run(self, call: ActiveCall, entry_point: EntryPoint) -> None:
        found = await self._flow(entry_point)
        leg = call.leg
        if found is not None:
            flow, facts = found
            await leg.answer()
            await self._record(call, "flow_entered", facts, state="ivr", answered_at=self.db.clock.now())
            result = await self.ivr.run(leg, flow, self._context(call, entry_point),
                                        lambda kind, data: self._record(call, kind, data))
            if result.digits:
                await self._update_row(call, digits="".join(result.digits)[:64])
            if result.ended_reason == "caller_hangup" or is_ended(leg):
                await self._abandon(call, "caller_hangup")
                return
            if result.callback is not None:  # the flow's callback block: wait in line without the caller
                phone = callable_number(result.callback) or callable_number(call.phone)
                if phone is not None and await self._enqueue(call, result.queue, result.priority):
                    await self.callbacks.request(call, entry_point, phone=phone, source="flow", record_fact=False)
                    return
            if result.ended_reason is not None:
                await self._end_in_flow(call, result.ended_reason)
                return
            if not await self._enqueue(call, result.queue, result.priority):
                return
            leg.start_music(self.hold_music)
            watcher = self.callbacks.watch(call, entry_point) if callable_number(call.phone) else None
            repeater = repeat_every(call, float(entry_point.settings.get("announce_position_every_s", 60)))
            try:
                answered = await self._wait_for_agent(call, entry_point)
            finally:
                for task in (watcher, repeater):
                    if task is not None:
                        task.cancel()
            if not answered or await self._talk(call) != "transferred":
                return
        elif not await self._enqueue(call, None, 0):
            return
        while await self._wait_for_agent(call, entry_point):
            if await self._talk(call) != "transferred":
                return

    async def _flow(self, entry_point: EntryPoint) -> tuple[FlowDefinition, dict[str, Any]] | None:
        """The entry point's published flow, else the menu its settings describe (with the
        ``flow_entered`` facts to record)."""
        async with self.db.read() as session:
            version = await published_for_entry_point(session, entry_point.id)
        if version is not None:
            definition, _ = parse_definition(version.definition)
            return definition, {"flow_id": version.flow_id, "flow_version": version.version}
        menu = menu_flow(entry_point.settings)
        return (menu, {"flow": "entry_point_menu"}) if menu is not None else None

    def _context(self, call: ActiveCall, entry_point: EntryPoint) -> engine.FlowContext:
        language = call.language or str(entry_point.settings.get("language") or "ja")
        return engine.FlowContext(now=self.db.clock.now(), language=language, timezone=self.timezone,
                                  attributes=dict(call.attributes))

    async def _record(self, call: ActiveCall, kind: str, data: dict[str, Any], **row_values: Any) -> None:
        """One fact, and (in the same transaction) changes to the call's row."""
        async with self.db.uow() as uow:
            contact = await get_contact(uow, call.contact_id)
            record_event(uow, contact, kind, **data)
            if row_values:
                row = await uow.session.get(VoiceCall, call.call_row_id)
                if row is not None:
                    for name, value in row_values.items():
                        setattr(row, name, value)

    async def _enqueue(self, call: ActiveCall, queue_name: str | None, priority: int) -> bool:
        async with self.db.uow() as uow:
            contact = await get_contact(uow, call.contact_id)
            queue = None
            if queue_name:
                queue = await uow.session.scalar(select(Queue).where(Queue.name == queue_name))
            if queue is None:
                entry_point = await uow.session.get(EntryPoint, call.entry_point_id)
                if entry_point is not None and entry_point.queue_id is not None:
                    queue = await uow.session.get(Queue, entry_point.queue_id)
            if queue is None:
                logger.warning("voice contact %s has no queue to go to", call.contact_id)
                contact.ended_at, contact.ended_by = uow.clock.now(), "flow"
                do_move(uow, contact, Move.END, event_type="ended", ended_by="flow", reason="no_queue")
                return False
            contact.priority = priority
            do_enqueue(uow, contact=contact, queue=queue)
            row = await uow.session.get(VoiceCall, call.call_row_id)
            if row is not None:
                row.state = "queued"
        return True

    async def _wait_for_agent(self, call: ActiveCall, entry_point: EntryPoint) -> bool:
        """Until an agent's phone answers (True) or the caller leaves (False, abandoned)."""
        while True:
            kind, data = await self._next(call, call.leg)
            if kind == "ended":
                await self._abandon(call, "cancelled" if call.leg.end_reason == "cancelled" else "caller_hangup")
                return False
            if kind == "offer" and await self._ring(call, data, entry_point):
                return True
            if kind == "position":
                call.position = (int(data["position"]), data.get("estimated_wait_s"))
                if call.position_told is None:
                    await self._announce_position(call)  # the first time the caller's place is known
            elif kind == "announce_position" and call.position is not None and call.position != call.position_told:
                await self._announce_position(call)
            elif kind == "callback_offer" and not is_ended(call.leg):
                await self.callbacks.tell(call, str(data["key"]))
            elif kind == "callback" and not is_ended(call.leg):
                phone = callable_number(call.phone)
                if phone is None:  # an overflow rule, but nobody to call back: the caller waits on
                    logger.info("contact %s: no number to call back", call.contact_id)
                    continue
                await self.callbacks.request(call, entry_point, phone=phone, source=data.get("source", "keypad"))
                return False

    async def _ring(self, call: ActiveCall, offer: dict[str, Any], entry_point: EntryPoint) -> bool:
        agent_id = int(offer["agent_id"])
        username = self._usernames.get(agent_id)
        if username is None or not self.telephony.is_registered(username):
            logger.info("agent %s has no registered phone; offer %s will time out", agent_id, offer["offer_id"])
            return False
        expires = datetime.fromisoformat(offer["expires_at"])
        timeout = max(1.0, (expires - self.db.clock.now()).total_seconds())
        await self._tell(call, agent_id, "ringing")
        ring = asyncio.create_task(self.telephony.offer_call(aor=username, caller=call.leg.caller,
                                                             caller_name=call.customer_name, timeout_s=timeout))
        caller_gone = asyncio.create_task(call.leg.wait_ended())
        await asyncio.wait({ring, caller_gone}, return_when=asyncio.FIRST_COMPLETED)
        caller_gone.cancel()
        if not ring.done():  # the caller hung up while the phone rang: CANCEL it
            ring.cancel()
            with contextlib.suppress(asyncio.CancelledError, CallFailed):
                await ring
            return False
        try:
            agent_leg = ring.result()
        except CallFailed as failed:
            logger.info("agent %s phone: %s", agent_id, failed.reason)
            if failed.reason in ("busy", "rejected"):
                await self._as_agent(agent_id, lambda uow, user: check_reject_offer(
                    uow, actor=user, offer_id=int(offer["offer_id"])))
            return False
        try:
            await self._as_agent(agent_id, lambda uow, user: check_accept_offer(
                uow, actor=user, offer_id=int(offer["offer_id"])))
        except DomainError as error:  # expired or cancelled meanwhile
            logger.info("offer %s could not be accepted: %s", offer["offer_id"], error)
            await agent_leg.hangup()
            return False
        if call.leg.state is LegState.RINGING:
            await call.leg.answer()
        recording = await self._start_recording(call, entry_point, agent_leg, agent_id)
        await self._update_row(call, state="bridged", agent_id=agent_id, bridged_at=self.db.clock.now(),
                               **({"recording_path": str(recording)} if recording else {}))
        self.telephony.bridge(call.leg, agent_leg)
        call.agent_leg, call.agent_id = agent_leg, agent_id
        agent_leg.on_event(lambda event: call.events.put_nowait(("phone", {"event": event})))
        await self._tell(call, agent_id, "answered")
        return True

    async def _talk(self, call: ActiveCall) -> str:
        """Until someone hangs up ("ended") or the desktop transfers the contact ("transferred").
        A consultation (consultation.py) may hand the call to a colleague meanwhile."""
        while True:
            agent_leg = call.agent_leg
            assert agent_leg is not None
            kind, data = await self._next(call, call.leg, agent_leg)
            if kind == "ended":
                by_customer = is_ended(call.leg)
                if not by_customer and call.consult is not None and await self.consults.hand_over(call, call.consult):
                    continue  # the first agent hung up on a consultation: the colleague keeps the caller
                await self.consults.drop(call, "customer_hung_up" if by_customer else "agent_hung_up")
                await (agent_leg if by_customer else call.leg).hangup()
                await self._end(call, "customer" if by_customer else "agent")
                return "ended"
            if kind == "contact" and data["change"] == "ended":  # ended from the desktop
                await self.consults.drop(call, "ended")
                await agent_leg.hangup()
                return "ended"
            if kind == "contact" and data["change"] == "transferred":
                if call.attended:  # the hand-over of a consultation, already done on the legs
                    call.attended = False
                    continue
                await self.consults.drop(call, "transferred")
                self.telephony.unbridge(call.leg)
                await agent_leg.hangup()
                call.agent_leg = None
                call.leg.start_music(self.hold_music)
                return "transferred"
            if kind.startswith("consult"):
                await self.consults.handle(call, kind, data)
            elif kind == "contact" and data.get("source") in ("phone", CONSULT_SOURCE):
                continue
            elif kind == "contact" and data["change"] == "held" and call.consult is None:
                # held from the desktop: the customer hears music, the agent's phone is told by re-INVITE
                self.telephony.unbridge(call.leg)
                call.leg.start_music(self.hold_music)
                await agent_leg.hold()
            elif kind == "contact" and data["change"] == "resumed" and call.consult is None:
                await agent_leg.resume()
                self.telephony.bridge(call.leg, agent_leg)
            elif kind == "phone" and data["event"] in ("held", "resumed"):
                await self._phone_hold(call, data["event"] == "held")

    async def _next(self, call: ActiveCall, *legs: Leg) -> tuple[str, dict[str, Any]]:
        """The next event for the call, or ("ended", {}) when one of ``legs`` has ended."""
        if any(is_ended(leg) for leg in legs):
            return "ended", {}
        get = asyncio.create_task(call.events.get())
        ends = [asyncio.create_task(leg.wait_ended()) for leg in legs]
        try:
            await asyncio.wait([get, *ends], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in ends:
                task.cancel()
            if not get.done():
                get.cancel()
        if get.done() and not get.cancelled():
            return get.result()
        return "ended", {}

    # -- facts --
    async def _as_agent(self, agent_id: int, action: Any) -> None:
        async with self.db.uow() as uow:
            user = await uow.session.get(User, agent_id)
            if user is None:
                return
            await action(uow, user)

    async def _abandon(self, call: ActiveCall, reason: str) -> None:
        async with self.db.uow() as uow:
            contact = await get_contact(uow, call.contact_id)
            if contact.state in (ContactState.NEW, ContactState.QUEUED, ContactState.OFFERED):
                await do_abandon(uow, contact=contact, reason=reason)

    async def _end(self, call: ActiveCall, ended_by: str) -> None:
        async with self.db.uow() as uow:
            contact = await get_contact(uow, call.contact_id)
            if contact.state in HANDLING_STATES:
                await do_end_contact(uow, contact=contact, ended_by=ended_by)

    async def _end_in_flow(self, call: ActiveCall, reason: str) -> None:
        async with self.db.uow() as uow:
            contact = await get_contact(uow, call.contact_id)
            if contact.state == ContactState.NEW:
                contact.ended_at, contact.ended_by = uow.clock.now(), "flow"
                do_move(uow, contact, Move.END, event_type="ended", ended_by="flow", reason=reason)

    async def _phone_hold(self, call: ActiveCall, held: bool) -> None:
        """The agent pressed hold on the phone (re-INVITE): the same facts as hold on the desktop."""
        async with self.db.uow() as uow:
            contact = await get_contact(uow, call.contact_id)
            if held and contact.state == ContactState.ACTIVE:
                do_move(uow, contact, Move.HOLD, event_type="held", agent_id=contact.agent_id, source="phone")
            elif not held and contact.state == ContactState.HELD:
                do_move(uow, contact, Move.RESUME, event_type="resumed", agent_id=contact.agent_id, source="phone")

    async def _tell(self, call: ActiveCall, agent_id: int, state: str, **extra: Any) -> None:
        """CTI: the agent's desktop pops the customer (by caller number) when the phone rings."""
        await self.tell(agent_id, state, contact_id=call.contact_id, customer_id=call.customer_id, caller=call.phone,
                        customer_name=call.customer_name, **extra)

    async def tell(self, agent_id: int, state: str, **data: Any) -> None:
        async with self.db.uow() as uow:
            uow.emit(Event(VOICE_CALL, {"state": state, **data}, (user_topic(agent_id), SUPERVISORS), durable=False))

    async def _announce_position(self, call: ActiveCall) -> None:
        """Between music: the place in line and the estimated wait (a key interrupts it)."""
        if call.position is None or call.agent_leg is not None or call.leg.state is not LegState.ANSWERED:
            return
        call.position_told = call.position
        language = self.language_of(call)
        call.leg.stop_music()
        await call.leg.play(await self.prompts.speech(position_text(*call.position, language), language), barge_in=True)
        if not is_ended(call.leg):
            call.leg.start_music(self.hold_music)

    def language_of(self, call: ActiveCall) -> str:
        if call.language:
            return call.language
        entry_point = self._entry_point_cached(call.entry_point_id)
        return str(entry_point.settings.get("language") or "ja") if entry_point is not None else "ja"

    def _entry_point_cached(self, entry_point_id: int) -> EntryPoint | None:
        return next((e for e in (self._entry_points[1] if self._entry_points else []) if e.id == entry_point_id), None)

    def username_of(self, agent_id: int) -> str | None:
        return self._usernames.get(agent_id)

    async def agent_name(self, agent_id: int | None) -> str | None:
        async with self.db.read() as session:
            user = await session.get(User, agent_id or 0)
            return user.display_name if user else None

    async def _start_recording(self, call: ActiveCall, entry_point: EntryPoint, agent_leg: Leg,
                               agent_id: int) -> Path | None:
        """Record the conversation, both legs, when the queue the call came through wants it: the
        entry point's ``record_queues`` (queue name → on/off) first, then its ``record``. Returns
        the contact's recordings directory. The caller's recorder runs from the first bridge to the
        end of the call (transfers included); each agent leg gets its own."""
        if self.recordings_dir is None:
            return None
        async with self.db.read() as session:
            contact = await session.get(Contact, call.contact_id)
            queue = await session.get(Queue, contact.queue_id) if contact and contact.queue_id else None
        per_queue: dict[str, Any] = entry_point.settings.get("record_queues") or {}
        wanted = per_queue.get(queue.name) if queue is not None and queue.name in per_queue else None
        if not (wanted if wanted is not None else entry_point.settings.get("record", True)):
            return None
        if getattr(call.leg, "recording", None) is None:
            call.leg.start_recording(new_path(self.recordings_dir, call.contact_id, "caller"))
        agent_leg.start_recording(new_path(self.recordings_dir, call.contact_id, f"agent-{agent_id}"))
        return contact_dir(self.recordings_dir, call.contact_id)

    async def _update_row(self, call: ActiveCall, **values: Any) -> None:
        async with self.db.uow() as uow:
            row = await uow.session.get(VoiceCall, call.call_row_id)
            if row is not None:
                for name, value in values.items():
                    setattr(row, name, value)

    async def _close_row(self, call: ActiveCall) -> None:
        if call.callback:  # the contact waits on in line; the row keeps "callback" until it is called back
            return
        await self._update_row(call, state="ended", ended_at=self.db.clock.now(),
                               end_reason=(call.leg.end_reason or "hangup")[:20])
