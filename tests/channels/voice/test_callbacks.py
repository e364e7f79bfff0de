"""Callbacks on the in-memory telephony: a waiting caller presses the callback key, may leave a
message, and hangs up; the contact keeps its place in line; when the ACD offers it, the agent's
phone rings first, then the customer's number is dialled and the two are bridged. A customer who
does not answer ends the contact visibly. And the announcement that tells waiting callers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from madoguchi.channels.models import EntryPoint
from madoguchi.channels.voice.audio import Prompt
from madoguchi.channels.voice.callbacks import callable_number, spoken_number
from madoguchi.channels.voice.fake import FakeTelephony
from madoguchi.channels.voice.ivr import Ivr
from madoguchi.channels.voice.models import VoiceCall
from madoguchi.channels.voice.prompts import BeepPrompts
from madoguchi.channels.voice.service import VoiceService
from madoguchi.channels.voice.telephony import CallFailed
from madoguchi.channels.voice.waiting import position_text
from madoguchi.contacts.models import ContactEvent
from tests.api.flow import agent_on_duty
from tests.channels.voice.test_voice_service import CALLER, contact_of, until
from tests.support import Browserish, RunningServer


@pytest.fixture
async def voice(server: RunningServer, tmp_path: Path) -> AsyncIterator[tuple[VoiceService, FakeTelephony]]:
    telephony = FakeTelephony()
    service = VoiceService(server.ctx.db, server.ctx.bus, telephony, BeepPrompts(), realm="madoguchi",
                           timezone="Asia/Tokyo", ivr=Ivr(BeepPrompts(), first_digit_s=2.0),
                           recordings_dir=tmp_path / "recordings")
    await service.start()
    yield service, telephony
    await service.stop()
    for task in telephony.calls:
        task.cancel()


async def _line_settings(server: RunningServer, **settings: object) -> None:
    async with server.ctx.db.uow() as uow:
        entry_point = await uow.session.scalar(select(EntryPoint).where(EntryPoint.channel_kind == "voice"))
        assert entry_point is not None
        entry_point.settings = {**entry_point.settings, **settings}


async def _callback_requested(server: RunningServer, telephony: FakeTelephony) -> tuple[int, list[str]]:
    caller = telephony.call_in(caller=CALLER, callee="support")
    await until(lambda: "answer" in caller.log, "the IVR to answer")
    caller.press("2")
    await until(lambda: caller.music, "the caller to wait in line")
    caller.press("*")
    await until(lambda: caller.recording is not None, "the voicemail to be recorded")
    assert caller.recording is not None and caller.recording.name == "voicemail.wav"
    caller.press("#")  # the end of the message
    await until(lambda: caller.end_reason is not None, "the caller to be let go")
    await asyncio.gather(*telephony.calls)
    contact, events, _call = await contact_of(server)
    return contact.id, events


async def test_a_callback_keeps_the_place_and_rings_the_agent_then_the_customer(
        server: RunningServer, clients: Callable[[], Browserish],
        voice: tuple[VoiceService, FakeTelephony]) -> None:
    service, telephony = voice
    contact_id, events = await _callback_requested(server, telephony)
    contact, events, call = await contact_of(server)
    assert contact.state == "queued" and call.state == "callback" and call.callback_number == CALLER
    assert events[-2:] == ["callback_requested", "queued"], events
    async with server.ctx.db.read() as session:
        fact = await session.scalar(select(ContactEvent).where(ContactEvent.contact_id == contact_id,
                                                               ContactEvent.type == "callback_requested"))
    assert fact is not None and fact.data == {"phone": CALLER, "source": "keypad", "voicemail": "voicemail.wav"}
    enqueued_at = contact.enqueued_at

    telephony.registered.add("tanaka")
    await agent_on_duty(server, clients(), "tanaka@demo.madoguchi.test")
    await until(lambda: "tanaka" in telephony.ringing, "the agent's phone to ring for the callback")
    agent_leg = telephony.answer("tanaka")
    await until(lambda: CALLER in telephony.ringing, "the customer's number to be dialled")
    customer_leg = telephony.answer(CALLER)
    await until(lambda: customer_leg.bridged is agent_leg, "the agent and the customer to talk")
    contact, events, call = await contact_of(server)
    assert contact.state == "active" and contact.enqueued_at == enqueued_at
    assert call.state == "bridged" and telephony.dialled == [CALLER]
    for _ in range(100):
        contact, events, call = await contact_of(server)
        if events[-1] == "callback_connected":
            break
        await asyncio.sleep(0.02)
    assert events[-3:] == ["offered", "accepted", "callback_connected"], events

    customer_leg.hang_up()
    await until(lambda: agent_leg.end_reason is not None, "the agent's leg to end")
    await until(lambda: service.calls == {}, "the call to finish")
    for _ in range(100):
        contact, events, call = await contact_of(server)
        if contact.state == "ended" and call.state == "ended":
            break
        await asyncio.sleep(0.02)
    assert contact.state == "ended" and contact.ended_by == "customer" and call.state == "ended"


async def test_a_callback_the_customer_does_not_answer_ends_visibly(
        server: RunningServer, clients: Callable[[], Browserish],
        voice: tuple[VoiceService, FakeTelephony]) -> None:
    _service, telephony = voice
    await _callback_requested(server, telephony)
    telephony.registered.add("tanaka")
    await agent_on_duty(server, clients(), "tanaka@demo.madoguchi.test")
    await until(lambda: "tanaka" in telephony.ringing, "the agent's phone to ring for the callback")
    agent_leg = telephony.answer("tanaka")
    await until(lambda: CALLER in telephony.ringing, "the customer's number to be dialled")
    telephony.ringing[CALLER].set_exception(CallFailed("busy"))
    await until(lambda: agent_leg.end_reason is not None, "the agent's leg to be hung up")
    for _ in range(100):
        contact, events, call = await contact_of(server)
        if call.state == "ended":
            break
        await asyncio.sleep(0.02)
    assert contact.state == "ended" and contact.ended_by == "system"
    assert events[-2:] == ["callback_failed", "ended"], events
    assert call.end_reason == "callback_busy"


async def test_waiting_callers_are_told_about_callbacks(
        server: RunningServer, voice: tuple[VoiceService, FakeTelephony]) -> None:
    _, telephony = voice
    await _line_settings(server, callback_offer_after_s=1, announce_position_every_s=0)
    caller = telephony.call_in(caller=CALLER, callee="support")
    await until(lambda: "answer" in caller.log, "the IVR to answer")
    caller.press("2")
    await until(lambda: caller.music, "the caller to wait in line")
    plays = caller.log.count("play:beep")
    await until(lambda: caller.log.count("play:beep") > plays and caller.music, "the callback announcement", 5)
    caller.hang_up()
    await asyncio.gather(*telephony.calls)
    contact, _events, call = await contact_of(server)
    assert contact.state == "abandoned" and call.state == "ended"


async def test_a_caller_without_a_number_is_not_offered_callbacks(
        server: RunningServer, voice: tuple[VoiceService, FakeTelephony]) -> None:
    _, telephony = voice
    caller = telephony.call_in(caller="anonymous", callee="support")
    await until(lambda: "answer" in caller.log, "the IVR to answer")
    caller.press("2")
    await until(lambda: caller.music, "the caller to wait in line")
    caller.press("*")
    await asyncio.sleep(0.3)
    assert caller.end_reason is None  # the key does nothing: there is no number to call back
    caller.hang_up()
    await asyncio.gather(*telephony.calls)
    _, events, _ = await contact_of(server)
    assert "callback_requested" not in events


def test_numbers_for_callbacks() -> None:
    assert callable_number("03-1234-5678") == "0312345678"
    assert callable_number("+81 3 1234 5678") == "+81312345678"
    assert callable_number("anonymous") is None and callable_number("") is None and callable_number("12") is None
    assert spoken_number("+81312345678", "ja") == "0 3 1 2 3 4 5 6 7 8"
    assert spoken_number("+14155550100", "en") == "1 4 1 5 5 5 5 0 1 0 0"


def test_place_in_line_in_both_languages() -> None:
    assert position_text(3, 150, "ja") == "ただいま3番目にお待ちいただいております。お待ち時間はおよそ2分です。"
    assert position_text(1, 20, "ja").endswith("お待ち時間は1分以内の見込みです。")
    assert position_text(2, None, "en") == "You are number 2 in line."
    assert position_text(2, 61, "en") == "You are number 2 in line. The estimated wait is about 1 minute."


async def test_a_callback_overflow_rule_turns_a_long_wait_into_a_callback(
        server: RunningServer, clients: Callable[[], Browserish],
        voice: tuple[VoiceService, FakeTelephony]) -> None:
    _, telephony = voice
    admin = clients()
    await admin.login("admin@demo.madoguchi.test")
    queues = await admin.call("GET", "/api/v1/queues", expect=200)
    support = next(q for q in queues if q["name"] == "Support")
    refused = await admin.call("PATCH", f"/api/v1/queues/{support['id']}", expect=422, json={"overflow": [
        {"when": "wait_over", "limit": 1, "action": "callback", "to_queue_id": support["id"]}]})
    assert refused["error_id"] == "invalid_input"
    await admin.call("PATCH", f"/api/v1/queues/{support['id']}", expect=200, json={"overflow": [
        {"when": "wait_over", "limit": 1, "action": "callback"}]})
    caller = telephony.call_in(caller=CALLER, callee="support")
    await until(lambda: "answer" in caller.log, "the IVR to answer")
    caller.press("2")
    await until(lambda: caller.recording is not None, "the overflow to take a message", 15)
    caller.hang_up()
    await asyncio.gather(*telephony.calls)
    for _ in range(100):
        contact, events, call = await contact_of(server)
        if call.state == "callback":
            break
        await asyncio.sleep(0.02)
    assert contact.state == "queued" and call.state == "callback"
    assert events[-3:] == ["callback_overflow", "callback_requested", "queued"], events
    async with server.ctx.db.read() as session:
        fact = await session.scalar(select(ContactEvent).where(ContactEvent.contact_id == contact.id,
                                                               ContactEvent.type == "callback_requested"))
    assert fact is not None and fact.data["source"] == "overflow"
    await asyncio.sleep(1.5)  # the rule does not fire twice for the same contact
    _, again, _ = await contact_of(server)
    assert again.count("callback_overflow") == 1


class Said(BeepPrompts):
    """Beeps, but keeps what was to be said."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    async def speech(self, text: str, language: str) -> Prompt:
        self.texts.append(text)
        return await super().speech(text, language)


async def test_waiting_callers_hear_their_place_in_line(server: RunningServer, tmp_path: Path) -> None:
    said = Said()
    telephony = FakeTelephony()
    service = VoiceService(server.ctx.db, server.ctx.bus, telephony, said, realm="madoguchi", timezone="Asia/Tokyo",
                           ivr=Ivr(said, first_digit_s=2.0))
    await service.start()
    try:
        await _line_settings(server, language="en", callback_offer_after_s=0)
        first = telephony.call_in(caller=CALLER, callee="support")
        await until(lambda: "answer" in first.log, "the IVR to answer")
        first.press("2")
        await until(lambda: any("number 1 in line" in t for t in said.texts), "the first caller's place")
        second = telephony.call_in(caller="+81399998888", callee="support")
        await until(lambda: "answer" in second.log, "the IVR to answer")
        second.press("2")
        await until(lambda: any("number 2 in line" in t for t in said.texts), "the second caller's place")
        assert second.music
        first.hang_up()
        second.hang_up()
        await asyncio.gather(*telephony.calls)
    finally:
        await service.stop()


async def test_a_callback_a_stopped_process_was_dialling_waits_again_after_a_restart(
        server: RunningServer, voice: tuple[VoiceService, FakeTelephony]) -> None:
    service, telephony = voice
    contact_id, _ = await _callback_requested(server, telephony)
    async with server.ctx.db.uow() as uow:  # the process died between claiming and dialling
        row = await uow.session.scalar(select(VoiceCall).where(VoiceCall.contact_id == contact_id))
        assert row is not None
        row.state = "dialing"
    await service.stop()
    await service.start()
    _, _, call = await contact_of(server)
    assert call.state == "callback"
