"""Call control for consultation, attended transfer and three-way conference, on the
``Telephony`` interface (docs/voice.md, "Consultation and conference").

    talking ──start──► ringing the colleague ──answered──► consulting ──conference──► conference
       ▲                     │ failed / cancel                │ cancel / colleague hangs up │
       └─────────────────────┴────────────────────────────────┴─────────────────────────────┘
    consulting or conference ──complete (or the first agent hangs up)──► talking with the colleague

While the colleague's phone rings and during the consultation the caller is on hold (music);
the first agent's phone is bridged to the colleague's. In a conference all three legs are mixed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from madoguchi.agents.actions import do_begin_consult, do_end_consult
from madoguchi.channels.voice.consult import do_attended_transfer, free_members
from madoguchi.channels.voice.models import VoiceCall
from madoguchi.channels.voice.recordings import new_path
from madoguchi.channels.voice.telephony import CallFailed, Leg, is_ended
from madoguchi.contacts.actions import do_move, get_contact, record_event
from madoguchi.contacts.states import ContactState, Move
from madoguchi.identity.models import User
from madoguchi.kernel.errors import DomainError

if TYPE_CHECKING:
    from madoguchi.channels.voice.service import ActiveCall, VoiceService

logger = logging.getLogger(__name__)

RING_S = 30.0
SOURCE = "consult"  # hold facts recorded here carry this source, so the talk loop leaves them alone


@dataclass
class Consult:
    agent_id: int
    ringing: asyncio.Task[Leg] | None = None
    leg: Leg | None = None
    conference: bool = False


class Consultations:
    def __init__(self, service: VoiceService) -> None:
        self.service = service

    async def handle(self, call: ActiveCall, kind: str, data: dict[str, Any]) -> None:
        consult = call.consult
        if kind == "consult" and data.get("action") == "start" and data.get("queue_id") is not None:
            await self.start_with_queue(call, int(data["queue_id"]))
        elif kind == "consult" and data.get("action") == "start":
            await self.start(call, int(data["agent_id"]))
        elif consult is None:
            return
        elif kind == "consult_leg" and data.get("ringing") is consult.ringing:
            await self._answered(call, consult, data)
        elif kind == "consult_phone" and consult.leg is not None and data.get("leg_id") == consult.leg.leg_id:
            await self._back_to_caller(call, consult, "colleague_hung_up")
        elif kind == "consult" and data.get("action") == "cancel":
            await self._back_to_caller(call, consult, "cancelled")
        elif kind == "consult" and data.get("action") == "complete" and consult.leg is not None:
            await self.hand_over(call, consult)
        elif kind == "consult" and data.get("action") == "conference" and consult.leg is not None:
            await self._conference(call, consult)

    async def start_with_queue(self, call: ActiveCall, queue_id: int) -> None:
        """Consult a queue: its longest-idle free member whose phone is registered here."""
        service = self.service
        async with service.db.read() as session:
            members = await free_members(session, queue_id=queue_id, exclude=call.agent_id or 0)
        for agent_id in members:
            username = service.username_of(agent_id)
            if username is not None and service.telephony.is_registered(username):
                await self.start(call, agent_id)
                return
        await service._record(call, "consult_failed", {"queue_id": queue_id, "reason": "no_agent"})
        await service._tell(call, call.agent_id or 0, "consult_failed", queue_id=queue_id)

    async def start(self, call: ActiveCall, agent_id: int) -> None:
        service = self.service
        if call.consult is not None or call.agent_leg is None:
            return
        username = service.username_of(agent_id)
        if username is None or not service.telephony.is_registered(username):
            await service._record(call, "consult_failed", {"agent_id": agent_id, "reason": "unreachable"})
            await service._tell(call, call.agent_id or 0, "consult_failed", colleague_id=agent_id)
            return
        async with service.db.uow() as uow:
            contact = await get_contact(uow, call.contact_id)
            if not await do_begin_consult(uow, agent_id=agent_id):
                record_event(uow, contact, "consult_failed", agent_id=agent_id, reason="unavailable")
                ok = False
            else:
                record_event(uow, contact, "consult_requested", agent_id=contact.agent_id, colleague_id=agent_id)
                if contact.state == ContactState.ACTIVE:
                    do_move(uow, contact, Move.HOLD, event_type="held", agent_id=contact.agent_id, source=SOURCE)
                ok = True
        if not ok:
            await service._tell(call, call.agent_id or 0, "consult_failed", colleague_id=agent_id)
            return
        service.telephony.unbridge(call.leg)
        call.leg.start_music(service.hold_music)
        consult = Consult(agent_id)
        name = await service.agent_name(call.agent_id)
        ring = asyncio.create_task(service.telephony.offer_call(
            aor=username, caller=call.phone, caller_name=f"{name or ''} ⇄ {call.customer_name or call.phone}",
            timeout_s=RING_S))
        consult.ringing = ring
        call.consult = consult
        ring.add_done_callback(lambda task: call.events.put_nowait(("consult_leg", {"ringing": task})))
        await service._tell(call, call.agent_id or 0, "consult_ringing", colleague_id=agent_id)

    async def _answered(self, call: ActiveCall, consult: Consult, data: dict[str, Any]) -> None:
        ring: asyncio.Task[Leg] = data["ringing"]
        consult.ringing = None
        try:
            leg = ring.result()
        except (CallFailed, asyncio.CancelledError) as failed:
            reason = failed.reason if isinstance(failed, CallFailed) else "cancelled"
            await self._back_to_caller(call, consult, "failed", reason=reason)
            return
        agent_leg = call.agent_leg
        if agent_leg is None or is_ended(agent_leg) or is_ended(call.leg):
            await leg.hangup()
            return
        consult.leg = leg
        leg.on_event(lambda event: call.events.put_nowait(("consult_phone", {"event": event, "leg_id": leg.leg_id}))
                     if event == "ended" else None)
        service = self.service
        service.telephony.bridge(agent_leg, leg)
        if service.recordings_dir is not None and getattr(call.leg, "recording", None) is not None:
            leg.start_recording(new_path(service.recordings_dir, call.contact_id, f"agent-{consult.agent_id}"))
        await service._record(call, "consult_started", {"agent_id": consult.agent_id})
        await service._tell(call, call.agent_id or 0, "consulting", colleague_id=consult.agent_id)
        await service._tell(call, consult.agent_id, "consult")

    async def _conference(self, call: ActiveCall, consult: Consult) -> None:
        if consult.conference or consult.leg is None or call.agent_leg is None:
            return
        service = self.service
        service.telephony.conference([call.leg, call.agent_leg, consult.leg])
        consult.conference = True
        async with service.db.uow() as uow:
            contact = await get_contact(uow, call.contact_id)
            if contact.state == ContactState.HELD:
                do_move(uow, contact, Move.RESUME, event_type="resumed", agent_id=contact.agent_id, source=SOURCE)
            record_event(uow, contact, "conference_started", agent_id=contact.agent_id, colleague_id=consult.agent_id)
        for agent_id in (call.agent_id or 0, consult.agent_id):
            await service._tell(call, agent_id, "conference", colleague_id=consult.agent_id)

    async def _back_to_caller(self, call: ActiveCall, consult: Consult, outcome: str, **data: Any) -> None:
        """The colleague is gone (never answered, cancelled, hung up): the first agent talks with
        the caller again."""
        call.consult = None
        await self._drop_colleague(consult)
        service = self.service
        agent_leg = call.agent_leg
        live = agent_leg is not None and not is_ended(agent_leg) and not is_ended(call.leg)
        if live and agent_leg is not None:
            service.telephony.bridge(call.leg, agent_leg)
        async with service.db.uow() as uow:
            contact = await get_contact(uow, call.contact_id)
            await do_end_consult(uow, agent_id=consult.agent_id)
            event = ("consult_failed" if outcome == "failed" else
                     "conference_ended" if consult.conference else "consult_ended")
            record_event(uow, contact, event, agent_id=contact.agent_id, colleague_id=consult.agent_id,
                         outcome=outcome, **data)
            if live and contact.state == ContactState.HELD:
                do_move(uow, contact, Move.RESUME, event_type="resumed", agent_id=contact.agent_id, source=SOURCE)
        await service._tell(call, call.agent_id or 0, "answered", colleague_id=consult.agent_id)
        if consult.leg is not None:
            await service._tell(call, consult.agent_id, "ended")

    async def hand_over(self, call: ActiveCall, consult: Consult) -> bool:
        """Attended transfer: the colleague on the line takes the call; the first agent's phone is
        hung up and goes to wrap-up. False when it could not be done (the colleague is gone)."""
        service = self.service
        leg = consult.leg
        if leg is None or is_ended(leg) or is_ended(call.leg):
            return False
        first_id = call.agent_id
        call.attended = True
        try:
            async with service.db.uow() as uow:
                first = await uow.session.get(User, first_id or 0)
                colleague = await uow.session.get(User, consult.agent_id)
                if first is None or colleague is None:
                    raise DomainError("the agents of this call are gone")
                await do_end_consult(uow, agent_id=consult.agent_id)
                contact = await do_attended_transfer(uow, contact_id=call.contact_id, from_agent=first,
                                                     to_agent=colleague)
                record_event(uow, contact, "conference_ended" if consult.conference else "consult_ended",
                             agent_id=first.id, colleague_id=colleague.id, outcome="transferred")
                row = await uow.session.get(VoiceCall, call.call_row_id)
                if row is not None:
                    row.agent_id = colleague.id
        except DomainError as error:
            call.attended = False
            logger.info("attended transfer of contact %s failed: %s", call.contact_id, error)
            return False
        call.consult = None
        first_leg = call.agent_leg
        service.telephony.unbridge(leg)
        if first_leg is not None:
            service.telephony.unbridge(first_leg)
            await first_leg.hangup()
        service.telephony.bridge(call.leg, leg)
        call.agent_leg, call.agent_id = leg, consult.agent_id
        await service._tell(call, first_id or 0, "ended")
        await service._tell(call, consult.agent_id, "answered")
        return True

    async def drop(self, call: ActiveCall, outcome: str) -> None:
        """The call is ending: the colleague's phone is hung up (or stops ringing)."""
        consult, call.consult = call.consult, None
        if consult is None:
            return
        await self._drop_colleague(consult)
        with contextlib.suppress(DomainError):
            async with self.service.db.uow() as uow:
                contact = await get_contact(uow, call.contact_id)
                await do_end_consult(uow, agent_id=consult.agent_id)
                record_event(uow, contact, "conference_ended" if consult.conference else "consult_ended",
                             agent_id=contact.agent_id, colleague_id=consult.agent_id, outcome=outcome)
        if consult.leg is not None:
            await self.service._tell(call, consult.agent_id, "ended")

    async def _drop_colleague(self, consult: Consult) -> None:
        if consult.ringing is not None and not consult.ringing.done():
            consult.ringing.cancel()
            with contextlib.suppress(asyncio.CancelledError, CallFailed):
                await consult.ringing
        if consult.leg is not None:
            self.service.telephony.unbridge(consult.leg)
            await consult.leg.hangup()
