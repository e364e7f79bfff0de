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
    contact, _, _ = await contact_of(server)
    enqueued_at = contact.enqueued_at

    await second.call("PUT", "/api/v1/agents/me/state", expect=200, json={"state": "available"})
    me = await second.call("GET", "/api/v1/me", expect=200)
    await first.call("POST", f"/api/v1/contacts/{contact.id}/transfer", expect=200, json={"agent_id": me["id"]})
    await until(lambda: first_leg.end_reason is not None, "the first agent's leg to hang up")
    assert caller.end_reason is None and caller.music
    await until(lambda: "suzuki" in telephony.ringing, "the named agent's phone to ring")
    second_leg = telephony.answer("suzuki")
    await until(lambda: caller.bridged is second_leg, "the bridge to the second agent")
    contact, events, call = await contact_of(server)
    assert contact.state == "active" and contact.agent_id == me["id"] and call.agent_id == me["id"]
    assert contact.enqueued_at == enqueued_at  # a transfer keeps the original place in line
    assert events[-5:] == ["accepted", "transferred", "queued", "offered", "accepted"], events

    caller.hang_up()
    await until(lambda: second_leg.end_reason is not None, "the second agent's leg to end")
    await until(lambda: service.calls == {}, "the call to finish")
