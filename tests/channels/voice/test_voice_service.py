"""Calls through the contact center on the in-memory telephony: IVR menu → queue → ACD offer →
agent phone → bridge → end; and a caller who hangs up while the phone rings (an abandon)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import select

from madoguchi.channels.voice.fake import FakeTelephony
from madoguchi.channels.voice.ivr import Ivr
from madoguchi.channels.voice.models import VoiceCall
from madoguchi.channels.voice.prompts import BeepPrompts
from madoguchi.channels.voice.service import VoiceService
from madoguchi.contacts.models import Contact, ContactEvent
from madoguchi.customers.models import Identity
from madoguchi.routing.models import Queue
from tests.api.flow import agent_on_duty
from tests.support import Browserish, RunningServer

CALLER = "+81312345678"


@pytest.fixture
async def voice(server: RunningServer) -> AsyncIterator[tuple[VoiceService, FakeTelephony]]:
    telephony = FakeTelephony()
    service = VoiceService(server.ctx.db, server.ctx.bus, telephony, BeepPrompts(), realm="madoguchi",
                           timezone="Asia/Tokyo", ivr=Ivr(BeepPrompts(), first_digit_s=2.0))
    await service.start()
    yield service, telephony
    await service.stop()
    for task in telephony.calls:
        task.cancel()


async def until(check: Callable[[], Any], what: str, timeout: float = 10) -> Any:
    for _ in range(int(timeout / 0.02)):
        value = check()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def contact_of(server: RunningServer) -> tuple[Contact, list[str], VoiceCall]:
    async with server.ctx.db.read() as session:
        call = (await session.scalars(select(VoiceCall).order_by(VoiceCall.id.desc()))).first()
        assert call is not None
        contact = await session.get(Contact, call.contact_id)
        assert contact is not None
        events = (await session.scalars(select(ContactEvent.type).where(ContactEvent.contact_id == contact.id)
                                        .order_by(ContactEvent.id))).all()
        return contact, list(events), call


async def test_menu_choice_queues_the_call_and_the_agents_phone_is_bridged(
        server: RunningServer, clients: Callable[[], Browserish],
        voice: tuple[VoiceService, FakeTelephony]) -> None:
    service, telephony = voice
    await agent_on_duty(server, clients(), "tanaka@demo.madoguchi.test")
    telephony.registered.add("tanaka")
    caller = telephony.call_in(caller=CALLER, callee="support")
    await until(lambda: "answer" in caller.log, "the IVR to answer")
    caller.press("2")  # 2 → Support
    await until(lambda: "tanaka" in telephony.ringing, "the agent's phone to ring")
    agent_leg = telephony.answer("tanaka")
    await until(lambda: caller.bridged is agent_leg, "the bridge")
    contact, events, call = await contact_of(server)
    assert contact.state == "active" and contact.channel_kind == "voice"
    async with server.ctx.db.read() as session:
        support = await session.scalar(select(Queue).where(Queue.name == "Support"))
        identity = await session.scalar(select(Identity).where(Identity.kind == "phone", Identity.address == CALLER))
    assert support is not None and contact.queue_id == support.id
    assert identity is not None and identity.customer_id == contact.customer_id
    assert call.digits == "2" and call.state == "bridged"

    caller.hang_up()
    await until(lambda: agent_leg.end_reason is not None, "the agent leg to end")
    await until(lambda: service.calls == {}, "the call to finish")
    for _ in range(250):  # the call's last writes commit just after it leaves the live table
        contact, events, call = await contact_of(server)
        if call.state == "ended" and contact.state == "ended":
            break
        await asyncio.sleep(0.02)
    assert contact.state == "ended" and contact.ended_by == "customer"
    assert events == ["arrived", "flow_entered", "ivr_input", "escalated", "queued", "offered", "accepted", "ended"]
    async with server.ctx.db.read() as session:
        ivr = await session.scalar(select(ContactEvent).where(ContactEvent.contact_id == contact.id,
                                                              ContactEvent.type == "ivr_input"))
    assert ivr is not None and ivr.data == {"block": "menu", "digits": "2", "next": "q_2"}
    assert call.state == "ended"


async def test_hanging_up_while_the_agents_phone_rings_abandons(
        server: RunningServer, clients: Callable[[], Browserish],
        voice: tuple[VoiceService, FakeTelephony]) -> None:
    _, telephony = voice
    await agent_on_duty(server, clients(), "tanaka@demo.madoguchi.test")
    telephony.registered.add("tanaka")
    caller = telephony.call_in(caller=CALLER, callee="support")
    await until(lambda: "answer" in caller.log, "the IVR to answer")
    caller.press("2")
    await until(lambda: "tanaka" in telephony.ringing, "the agent's phone to ring")
    caller.hang_up()
    await until(lambda: "tanaka" not in telephony.ringing, "the ringing to stop")
    await asyncio.gather(*telephony.calls)
    contact, events, _ = await contact_of(server)
    assert contact.state == "abandoned"
    assert events[-1] == "abandoned" and "accepted" not in events


async def test_a_call_for_an_unknown_number_is_refused(voice: tuple[VoiceService, FakeTelephony]) -> None:
    _, telephony = voice
    caller = telephony.call_in(caller=CALLER, callee="nobody")
    await asyncio.gather(*telephony.calls)
    assert caller.end_reason == "not_found"


async def test_a_blind_transfer_from_the_desktop_rings_the_named_agents_phone_and_keeps_the_caller(
        server: RunningServer, clients: Callable[[], Browserish],
        voice: tuple[VoiceService, FakeTelephony]) -> None:
    """Agent A transfers the call to agent B from the desktop: A's phone is hung up, the caller
    hears music and stays on the line, B's phone rings (the contact keeps its place in line), and
    B's answer bridges the caller to B. Both agents' legs are one contact's story."""
    service, telephony = voice
    first, _, colleague, caller, first_leg = await _on_call_with_colleague_ready(server, clients, telephony)
    contact, _, _ = await contact_of(server)
    enqueued_at = contact.enqueued_at
    await first.call("POST", f"/api/v1/contacts/{contact.id}/transfer", expect=200, json={"agent_id": colleague})
    await until(lambda: first_leg.end_reason is not None, "the first agent's leg to hang up")
    assert caller.end_reason is None and caller.music
    await until(lambda: "suzuki" in telephony.ringing, "the named agent's phone to ring")
    second_leg = telephony.answer("suzuki")
    await until(lambda: caller.bridged is second_leg, "the bridge to the second agent")
    contact, events, call = await contact_of(server)
    assert contact.state == "active" and contact.agent_id == colleague and call.agent_id == colleague
    assert contact.enqueued_at == enqueued_at  # a transfer keeps the original place in line
    assert events[-5:] == ["accepted", "transferred", "queued", "offered", "accepted"], events

    caller.hang_up()
    await until(lambda: second_leg.end_reason is not None, "the second agent's leg to end")
    await until(lambda: service.calls == {}, "the call to finish")


async def _on_call_with_colleague_ready(server: RunningServer, clients: Callable[[], Browserish],
                                        telephony: FakeTelephony) -> tuple[Browserish, Browserish, int, Any, Any]:
    """Tanaka talks with the caller; Suzuki is on duty (with nothing in hand) and has a phone."""
    first, second = clients(), clients()
    await agent_on_duty(server, first, "tanaka@demo.madoguchi.test")
    await agent_on_duty(server, second, "suzuki@demo.madoguchi.test")
    await second.call("PUT", "/api/v1/agents/me/state", expect=200, json={"state": "break", "reason": "lunch"})
    telephony.registered.update({"tanaka", "suzuki"})
    caller = telephony.call_in(caller=CALLER, callee="support")
    await until(lambda: "answer" in caller.log, "the IVR to answer")
    caller.press("2")
    await until(lambda: "tanaka" in telephony.ringing, "the first agent's phone to ring")
    first_leg = telephony.answer("tanaka")
    await until(lambda: caller.bridged is first_leg, "the bridge to the first agent")
    await second.call("PUT", "/api/v1/agents/me/state", expect=200, json={"state": "available"})
    colleague = (await second.call("GET", "/api/v1/me", expect=200))["id"]
    return first, second, colleague, caller, first_leg


async def _consulting(server: RunningServer, first: Browserish, telephony: FakeTelephony, contact_id: int,
                      colleague: int, caller: Any, first_leg: Any) -> Any:
    await first.call("POST", f"/api/v1/contacts/{contact_id}/voice/consult", expect=202,
                     json={"agent_id": colleague})
    await until(lambda: "suzuki" in telephony.ringing, "the colleague's phone to ring")
    assert caller.music and caller.bridged is None  # the caller waits on hold
    second_leg = telephony.answer("suzuki")
    await until(lambda: first_leg.bridged is second_leg, "the two agents to talk")
    return second_leg


async def _settled(server: RunningServer, done: Callable[[list[str]], bool]) -> tuple[Contact, list[str], VoiceCall]:
    """The contact once its events satisfy ``done`` (the service records just after the legs move)."""
    for _ in range(250):
        _, events, _ = await contact_of(server)
        if done(events):
            # Read again: on PostgreSQL each statement sees what had committed when it began, so the
            # contact row read before the events may predate the transaction that added them.
            return await contact_of(server)
        await asyncio.sleep(0.02)
    raise AssertionError(f"events did not settle: {events}")


async def _profile(server: RunningServer, agent_id: int) -> tuple[str, str | None]:
    from madoguchi.agents.models import AgentProfile
    async with server.ctx.db.read() as session:
        profile = await session.get(AgentProfile, agent_id)
        assert profile is not None
        return profile.state, profile.break_reason


async def test_attended_transfer_hands_the_caller_to_the_consulted_colleague(
        server: RunningServer, clients: Callable[[], Browserish],
        voice: tuple[VoiceService, FakeTelephony]) -> None:
    service, telephony = voice
    first, second, colleague, caller, first_leg = await _on_call_with_colleague_ready(server, clients, telephony)
    contact, _, _ = await contact_of(server)
    second_leg = await _consulting(server, first, telephony, contact.id, colleague, caller, first_leg)
    assert await _profile(server, colleague) == ("busy", "consult")  # no other call rings that phone
    contact, events, _ = await contact_of(server)
    assert contact.state == "held" and events[-3:] == ["consult_requested", "held", "consult_started"], events
    # the colleague may open the contact the call is about
    await second.call("GET", f"/api/v1/contacts/{contact.id}", expect=200)

    await first.call("POST", f"/api/v1/contacts/{contact.id}/voice/consult/complete", expect=202)
    await until(lambda: caller.bridged is second_leg, "the caller to talk with the colleague")
    assert first_leg.end_reason == "hangup" and not caller.music
    contact, events, call = await _settled(server, lambda events: "consult_ended" in events)
    assert contact.state == "active" and contact.agent_id == colleague and call.agent_id == colleague
    assert events[-5:] == ["transferred", "queued", "offered", "accepted", "consult_ended"], events
    assert await _profile(server, colleague) == ("busy", None)
    me = await first.call("GET", "/api/v1/me", expect=200)
    assert (await _profile(server, me["id"]))[0] == "available"  # as after a blind transfer

    caller.hang_up()
    await until(lambda: second_leg.end_reason is not None, "the colleague's leg to end")
    await until(lambda: service.calls == {}, "the call to finish")


async def test_a_conference_mixes_three_and_the_colleague_keeps_the_caller_when_the_first_agent_leaves(
        server: RunningServer, clients: Callable[[], Browserish],
        voice: tuple[VoiceService, FakeTelephony]) -> None:
    service, telephony = voice
    first, _, colleague, caller, first_leg = await _on_call_with_colleague_ready(server, clients, telephony)
    contact, _, _ = await contact_of(server)
    second_leg = await _consulting(server, first, telephony, contact.id, colleague, caller, first_leg)
    await first.call("POST", f"/api/v1/contacts/{contact.id}/voice/consult/conference", expect=202)
    await until(lambda: caller.conference is not None, "the conference")
    assert caller.conference is not None and set(map(id, caller.conference)) == {id(caller), id(first_leg),
                                                                                 id(second_leg)}
    assert not caller.music
    contact, events, _ = await _settled(server, lambda events: events[-1] == "conference_started")
    assert contact.state == "active" and events[-2:] == ["resumed", "conference_started"], events

    first_leg.hang_up()  # the first agent leaves the conference
    await until(lambda: caller.bridged is second_leg, "the caller to stay with the colleague")
    contact, events, _ = await _settled(server, lambda events: "conference_ended" in events)
    assert contact.agent_id == colleague and events[-1] == "conference_ended"
    second_leg.hang_up()
    await until(lambda: caller.end_reason is not None, "the caller to be hung up")
    await until(lambda: service.calls == {}, "the call to finish")
    contact, events, _ = await _settled(server, lambda events: events[-1] == "ended")
    assert contact.state == "ended" and contact.ended_by == "agent"


async def test_cancelling_a_consultation_takes_the_agent_back_to_the_caller(
        server: RunningServer, clients: Callable[[], Browserish],
        voice: tuple[VoiceService, FakeTelephony]) -> None:
    service, telephony = voice
    first, _, colleague, caller, first_leg = await _on_call_with_colleague_ready(server, clients, telephony)
    contact, _, _ = await contact_of(server)
    second_leg = await _consulting(server, first, telephony, contact.id, colleague, caller, first_leg)
    await first.call("POST", f"/api/v1/contacts/{contact.id}/voice/consult/cancel", expect=202)
    await until(lambda: caller.bridged is first_leg, "the caller to talk with the first agent again")
    assert second_leg.end_reason == "hangup"
    contact, events, _ = await _settled(server, lambda events: events[-1] == "resumed")
    assert contact.state == "active" and events[-2:] == ["consult_ended", "resumed"], events
    assert await _profile(server, colleague) == ("available", None)
    # nobody unknown, not oneself, no unknown action
    await first.call("POST", f"/api/v1/contacts/{contact.id}/voice/consult", expect=404, json={"agent_id": 999_999})
    me = await first.call("GET", "/api/v1/me", expect=200)
    await first.call("POST", f"/api/v1/contacts/{contact.id}/voice/consult", expect=422, json={"agent_id": me["id"]})
    await first.call("POST", f"/api/v1/contacts/{contact.id}/voice/consult/transfer", expect=422)
    caller.hang_up()
    await until(lambda: service.calls == {}, "the call to finish")


async def test_a_colleague_who_does_not_answer_leaves_the_caller_with_the_agent(
        server: RunningServer, clients: Callable[[], Browserish],
        voice: tuple[VoiceService, FakeTelephony]) -> None:
    service, telephony = voice
    first, _, colleague, caller, first_leg = await _on_call_with_colleague_ready(server, clients, telephony)
    contact, _, _ = await contact_of(server)
    await first.call("POST", f"/api/v1/contacts/{contact.id}/voice/consult", expect=202,
                     json={"agent_id": colleague})
    await until(lambda: "suzuki" in telephony.ringing, "the colleague's phone to ring")
    telephony.decline("suzuki")
    await until(lambda: caller.bridged is first_leg, "the caller to talk with the first agent again")
    contact, events, _ = await _settled(server, lambda events: events[-1] == "resumed")
    assert events[-2:] == ["consult_failed", "resumed"], events
    assert await _profile(server, colleague) == ("available", None)
    caller.hang_up()
    await until(lambda: service.calls == {}, "the call to finish")


async def test_consulting_a_queue_rings_its_free_member_and_fails_visibly_when_there_is_none(
        server: RunningServer, clients: Callable[[], Browserish],
        voice: tuple[VoiceService, FakeTelephony]) -> None:
    service, telephony = voice
    first, second, _, caller, first_leg = await _on_call_with_colleague_ready(server, clients, telephony)
    contact, _, _ = await contact_of(server)
    queues = await first.call("GET", "/api/v1/queues", expect=200)
    support = next(q for q in queues if q["name"] == "Support")
    await first.call("POST", f"/api/v1/contacts/{contact.id}/voice/consult", expect=422, json={})
    await first.call("POST", f"/api/v1/contacts/{contact.id}/voice/consult", expect=404, json={"queue_id": 999_999})
    await first.call("POST", f"/api/v1/contacts/{contact.id}/voice/consult", expect=202,
                     json={"queue_id": support["id"]})
    await until(lambda: "suzuki" in telephony.ringing, "the queue's free member's phone to ring")
    second_leg = telephony.answer("suzuki")
    await until(lambda: first_leg.bridged is second_leg, "the two agents to talk")
    await first.call("POST", f"/api/v1/contacts/{contact.id}/voice/consult/cancel", expect=202)
    await until(lambda: caller.bridged is first_leg, "the caller to talk with the first agent again")
    await _settled(server, lambda events: events[-1] == "resumed")

    await second.call("PUT", "/api/v1/agents/me/state", expect=200, json={"state": "break", "reason": "lunch"})
    await first.call("POST", f"/api/v1/contacts/{contact.id}/voice/consult", expect=202,
                     json={"queue_id": support["id"]})
    contact, _, _ = await _settled(server, lambda events: events[-1] == "consult_failed")
    async with server.ctx.db.read() as session:
        failed = (await session.scalars(select(ContactEvent).where(ContactEvent.contact_id == contact.id,
                                                                   ContactEvent.type == "consult_failed"))).all()
    assert failed[-1].data == {"queue_id": support["id"], "reason": "no_agent"}
    assert caller.bridged is first_leg and contact.state == "active"
    caller.hang_up()
    await until(lambda: service.calls == {}, "the call to finish")
