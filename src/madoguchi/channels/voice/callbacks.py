"""Callbacks that keep the caller's place in line, with an optional voicemail (docs/voice.md,
"Callback and voicemail").

A caller waiting in line presses the entry point's callback key (told about it after
``callback_offer_after_s``), or the IVR flow reaches a ``callback`` block. The caller hears where
they will be called back, may leave a message after the tone (recorded as ``voicemail.wav`` with
the contact's recordings) and hangs up. The contact stays queued with its original enqueue time:
for the KPIs the waiting leg ends as a callback request (a flow-out, never an abandon) and a new
leg starts. ``voice_calls.state`` is ``callback``, so the request survives a restart.

When the ACD offers the contact, whichever node claims the row (a conditional update) rings the
agent's phone; the agent answers, hears that the customer is being called, and the customer's
number is dialled through the outbound route (``MADOGUCHI_SIP_OUTBOUND``). Answered: the call goes
on as any other. Not answered: ``callback_failed`` and the contact ends; the agent wraps it up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from madoguchi.agents.work import do_end_contact
from madoguchi.channels.models import EntryPoint
from madoguchi.channels.voice.audio import beep
from madoguchi.channels.voice.models import VoiceCall
from madoguchi.channels.voice.recordings import new_path
from madoguchi.channels.voice.telephony import CallFailed, Leg, LegState, is_ended
from madoguchi.contacts import events as contact_events
from madoguchi.contacts.actions import do_move, get_contact, record_event
from madoguchi.contacts.models import Contact
from madoguchi.contacts.states import ContactState, Move
from madoguchi.customers.models import Customer
from madoguchi.kernel.errors import DomainError
from madoguchi.routing.offers import check_accept_offer, check_reject_offer, do_cancel_offers

if TYPE_CHECKING:
    from madoguchi.channels.voice.service import ActiveCall, VoiceService

logger = logging.getLogger(__name__)

DIAL_S = 30.0
PROMPTS: dict[str, dict[str, str]] = {
    "offer": {"ja": "お待たせしております。順番はそのままで折り返しのお電話をご希望の方は、{key}を押してください。",
              "en": "Thank you for waiting. To be called back without losing your place in line, press {key}."},
    "confirm": {"ja": "順番が来ましたら、{number}におかけ直しします。発信音のあと、ご用件をお話しください。"
                      "お話しが終わりましたら、電話をお切りください。",
                "en": "When it is your turn, we will call you back at {number}. After the tone, you may leave "
                      "a message. Then hang up."},
    "confirm_only": {"ja": "順番が来ましたら、{number}におかけ直しします。お電話ありがとうございました。",
                     "en": "When it is your turn, we will call you back at {number}. Thank you for calling."},
    "dialling": {"ja": "お客様に折り返し発信しています。", "en": "Calling the customer back."},
    "no_answer": {"ja": "お客様につながりませんでした。", "en": "The customer did not answer."},
}
KEY_NAMES = {"*": {"ja": "米印", "en": "star"}, "#": {"ja": "シャープ", "en": "the pound key"}}


_PHONE = re.compile(r"^\+?[0-9]{4,20}$")


def callable_number(text: str | None) -> str | None:
    """A number a callback can dial (digits, an optional +), from what the caller or a flow gave."""
    cleaned = re.sub(r"[\s\-().]", "", text or "")
    return cleaned if _PHONE.match(cleaned) else None


def spoken_number(number: str, language: str) -> str:
    """Digits one by one, so speech engines do not read the number as an amount; Japanese numbers
    in +81 form are said as dialled at home (0…)."""
    digits = "0" + number[3:] if language == "ja" and number.startswith("+81") else number.lstrip("+")
    return " ".join(digits)


def key_name(key: str, language: str) -> str:
    return KEY_NAMES.get(key, {}).get(language, key)


class Callbacks:
    def __init__(self, service: VoiceService) -> None:
        self.service = service
        self._tasks: set[asyncio.Task[None]] = set()

    # -- while the caller waits --
    def watch(self, call: ActiveCall, entry_point: EntryPoint) -> asyncio.Task[None] | None:
        """Listen for the callback key while the caller waits; after ``callback_offer_after_s``
        without it, ask the call's loop to tell the caller about it (once)."""
        key = entry_point.settings.get("callback_key", "*")
        if not key:
            return None
        offer_after = float(entry_point.settings.get("callback_offer_after_s", 30))

        async def listen() -> None:
            told = offer_after <= 0
            while not is_ended(call.leg):
                timeout = offer_after if not told else 3600.0
                digit = await call.leg.collect_digits(max_digits=1, timeout_s=timeout, terminator="")
                if digit == key:
                    call.events.put_nowait(("callback", {}))
                    return
                if not digit and not told:
                    told = True
                    call.events.put_nowait(("callback_offer", {"key": key}))

        return asyncio.get_running_loop().create_task(listen())

    async def tell(self, call: ActiveCall, key: str) -> None:
        """Between music: the callback offer, interruptible by a key."""
        service = self.service
        language = service.language_of(call)
        text = PROMPTS["offer"][language].format(key=key_name(key, language))
        call.leg.stop_music()
        await call.leg.play(await service.prompts.speech(text, language), barge_in=True)
        if not is_ended(call.leg):
            call.leg.start_music(service.hold_music)

    # -- the request --
    async def request(self, call: ActiveCall, entry_point: EntryPoint, *, phone: str, source: str,
                      record_fact: bool = True) -> None:
        """The caller asked to be called back at ``phone``: confirm, take a message, keep the place."""
        service = self.service
        leg = call.leg
        language = service.language_of(call)
        if leg.state is LegState.RINGING:  # queued without an IVR: answer to speak to the caller
            await leg.answer()
        voicemail_s = float(entry_point.settings.get("voicemail_s", 60))
        can_record = service.recordings_dir is not None and voicemail_s > 0
        leg.stop_music()
        text = PROMPTS["confirm" if can_record else "confirm_only"][language].format(
            number=spoken_number(phone, language))
        voicemail = None
        if not is_ended(leg):
            await leg.play(await service.prompts.speech(text, language))
        if can_record and not is_ended(leg) and service.recordings_dir is not None:
            await leg.play(beep(400))
            voicemail = new_path(service.recordings_dir, call.contact_id, "voicemail")
            leg.start_recording(voicemail)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._message(leg), voicemail_s)
        await self._keep_place(call, phone=phone, source=source, record_fact=record_fact,
                               voicemail=voicemail.name if voicemail is not None else None)
        call.callback = True
        await leg.hangup()

    @staticmethod
    async def _message(leg: Leg) -> None:
        """Until the caller hangs up or presses # (the end of the message)."""
        ended = asyncio.ensure_future(leg.wait_ended())
        digit = asyncio.ensure_future(leg.collect_digits(max_digits=1, timeout_s=3600.0, terminator=""))
        try:
            while True:
                await asyncio.wait({ended, digit}, return_when=asyncio.FIRST_COMPLETED)
                if ended.done() or digit.result() == "#":
                    return
                digit = asyncio.ensure_future(leg.collect_digits(max_digits=1, timeout_s=3600.0, terminator=""))
        finally:
            ended.cancel()
            digit.cancel()

    async def _keep_place(self, call: ActiveCall, *, phone: str, source: str, record_fact: bool,
                          voicemail: str | None) -> None:
        async with self.service.db.uow() as uow:
            contact = await get_contact(uow, call.contact_id)
            if contact.state == ContactState.OFFERED:  # an offer made meanwhile: the callback waits its turn
                await do_cancel_offers(uow, contact=contact)
                do_move(uow, contact, Move.REJECT, event_type="offer_cancelled", customer_sees=False,
                        reason="callback")
            if record_fact:
                record_event(uow, contact, "callback_requested", phone=phone, source=source, voicemail=voicemail)
            elif voicemail:
                record_event(uow, contact, "voicemail", recording=voicemail)
            # A new waiting leg (KPI.md): the first ended as a callback request, not an abandon.
            record_event(uow, contact, "queued", callback=True, phone=phone)
            uow.emit(contact_events.contact_changed(contact, change="callback_requested", customer_sees=False))
            row = await uow.session.get(VoiceCall, call.call_row_id)
            if row is not None:
                row.state, row.end_reason, row.callback_number = "callback", "callback", phone[:64]

    # -- when the ACD offers it --
    def on_offer(self, offer: dict[str, Any]) -> None:
        task = asyncio.get_running_loop().create_task(self.dial_back(offer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _claim(self, contact_id: int, state: str, new_state: str) -> bool:
        async with self.service.db.uow() as uow:
            result = await uow.session.execute(update(VoiceCall).where(
                VoiceCall.contact_id == contact_id, VoiceCall.state == state).values(state=new_state))
            return bool(getattr(result, "rowcount", 0))

    async def dial_back(self, offer: dict[str, Any]) -> None:
        contact_id, agent_id = int(offer["contact_id"]), int(offer["agent_id"])
        service = self.service
        username = service.username_of(agent_id)
        if username is None or not service.telephony.is_registered(username):
            return  # the offer times out, as for any call to an agent without a phone
        async with service.db.read() as session:  # most offers are for callers on the line: read before writing
            state = await session.scalar(select(VoiceCall.state).where(VoiceCall.contact_id == contact_id))
        if state != "callback" or not await self._claim(contact_id, "callback", "dialing"):
            return  # not a waiting callback, or another node has it
        try:
            await self._dial_back(offer, contact_id, agent_id, username)
        except Exception:
            logger.exception("callback of contact %s failed", contact_id)
            await self._claim(contact_id, "dialing", "callback")

    async def recover(self) -> int:
        """At start: callbacks a dead process was dialling while their contact is back in line
        (nobody holds them) wait as callbacks again. Returns how many."""
        async with self.service.db.uow() as uow:
            waiting = select(Contact.id).where(Contact.state == ContactState.QUEUED)
            result = await uow.session.execute(update(VoiceCall).where(
                VoiceCall.state == "dialing", VoiceCall.contact_id.in_(waiting)).values(state="callback"))
            return int(getattr(result, "rowcount", 0) or 0)

    async def _dial_back(self, offer: dict[str, Any], contact_id: int, agent_id: int, username: str) -> None:
        service = self.service
        async with service.db.read() as session:
            row = await session.scalar(select(VoiceCall).where(VoiceCall.contact_id == contact_id))
            contact = await session.get(Contact, contact_id)
            if row is None or contact is None:
                return
            customer = await session.get(Customer, contact.customer_id)
            entry_point = await session.get(EntryPoint, contact.entry_point_id or 0)
            if entry_point is not None:
                session.expunge(entry_point)
            number = row.callback_number or row.caller
            name = customer.display_name if customer else None
            language = customer.language if customer and customer.language in ("ja", "en") else None
        if entry_point is None:
            await self._claim(contact_id, "dialing", "callback")
            return
        expires = datetime.fromisoformat(offer["expires_at"])
        timeout = max(1.0, (expires - service.db.clock.now()).total_seconds())
        await service.tell(agent_id, "ringing", contact_id=contact_id, customer_id=contact.customer_id, caller=number,
                           customer_name=name, callback=True)
        try:
            agent_leg = await service.telephony.offer_call(aor=username, caller=number,
                                                           caller_name=f"↩ {name or number}", timeout_s=timeout)
        except CallFailed as failed:
            await self._claim(contact_id, "dialing", "callback")
            if failed.reason in ("busy", "rejected"):
                await service._as_agent(agent_id, lambda uow, user: check_reject_offer(
                    uow, actor=user, offer_id=int(offer["offer_id"])))
            return
        try:
            await service._as_agent(agent_id, lambda uow, user: check_accept_offer(
                uow, actor=user, offer_id=int(offer["offer_id"])))
        except DomainError as error:
            logger.info("callback offer %s could not be accepted: %s", offer["offer_id"], error)
            await agent_leg.hangup()
            await self._claim(contact_id, "dialing", "callback")
            return
        language = language or str(entry_point.settings.get("language") or "ja")
        await agent_leg.play(await service.prompts.speech(PROMPTS["dialling"][language], language))
        caller_id = str(entry_point.settings.get("number") or "") or _uri_user(entry_point.settings.get("uri"))
        dial = asyncio.ensure_future(service.telephony.dial(number=number, caller=caller_id or "madoguchi",
                                                           timeout_s=DIAL_S))
        agent_gone = asyncio.ensure_future(agent_leg.wait_ended())
        await asyncio.wait({dial, agent_gone}, return_when=asyncio.FIRST_COMPLETED)
        agent_gone.cancel()
        if not dial.done():  # the agent hung up while the customer's phone rang
            dial.cancel()
            with contextlib.suppress(asyncio.CancelledError, CallFailed):
                await dial
            await self._failed(contact_id, row.id, agent_leg, "agent_hung_up", language)
            return
        try:
            customer_leg = dial.result()
        except CallFailed as failed:
            await self._failed(contact_id, row.id, agent_leg, failed.reason, language)
            return
        await service.converse_callback(contact_id=contact_id, row_id=row.id, customer_leg=customer_leg,
                                        agent_leg=agent_leg, agent_id=agent_id, entry_point=entry_point,
                                        customer_id=contact.customer_id, customer_name=name, language=language)

    async def _failed(self, contact_id: int, row_id: int, agent_leg: Leg, reason: str, language: str) -> None:
        service = self.service
        async with service.db.uow() as uow:
            contact = await get_contact(uow, contact_id)
            record_event(uow, contact, "callback_failed", agent_id=contact.agent_id, reason=reason)
            if contact.state in (ContactState.ACTIVE, ContactState.HELD):
                await do_end_contact(uow, contact=contact, ended_by="system")
            row = await uow.session.get(VoiceCall, row_id)
            if row is not None:
                row.state, row.end_reason, row.ended_at = "ended", f"callback_{reason}"[:20], uow.clock.now()
        if not is_ended(agent_leg):
            await agent_leg.play(await service.prompts.speech(PROMPTS["no_answer"][language], language))
            await agent_leg.hangup()


def _uri_user(uri: object) -> str:
    text = str(uri or "")
    return text.split(":", 1)[-1].split("@")[0] if text else ""
