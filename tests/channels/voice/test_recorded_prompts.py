"""Recorded prompts: an admin uploads a WAV per name and language through the API (any PCM WAV,
kept as 8 kHz mono), IVR flows play it where a block names it, and bad uploads get clear errors."""

from __future__ import annotations

import io
import wave
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from madoguchi.channels.voice.audio import tone
from madoguchi.channels.voice.fake import FakeLeg
from madoguchi.channels.voice.ivr import Ivr
from madoguchi.channels.voice.prompts import BeepPrompts
from madoguchi.channels.voice.uploads import RecordedPrompts
from madoguchi.flows import engine
from madoguchi.flows.definition import parse_definition
from tests.support import Browserish, RunningServer


def wav(seconds: float, *, rate: int = 44_100, channels: int = 2) -> bytes:
    mono = tone((440.0,), int(seconds * 1000))  # 8 kHz 16-bit: repeated to fake a higher rate
    frames = bytearray()
    step = 8000 / rate
    for i in range(int(seconds * rate)):
        sample = mono[2 * int(i * step):2 * int(i * step) + 2] or b"\0\0"
        frames += sample * channels
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(channels)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(bytes(frames))
    return out.getvalue()


async def test_upload_list_play_replace_and_delete(server: RunningServer, clients: Callable[[], Browserish]) -> None:
    admin = clients()
    await admin.login("admin@demo.madoguchi.test")
    stored = await admin.call("PUT", "/api/v1/voice/prompts/welcome/ja", expect=200, content=wav(1.0),
                              headers={"content-type": "audio/wav"})
    assert stored["name"] == "welcome" and stored["language"] == "ja" and abs(stored["duration_s"] - 1.0) < 0.01
    listed = await admin.call("GET", "/api/v1/voice/prompts", expect=200)
    assert [(p["name"], p["language"]) for p in listed] == [("welcome", "ja")]
    played = await admin.http.get(stored["url"])
    assert played.status_code == 200 and played.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(played.content)) as file:
        assert (file.getframerate(), file.getnchannels(), file.getnframes()) == (8000, 1, 8000)
    replaced = await admin.call("PUT", "/api/v1/voice/prompts/welcome/ja", expect=200,
                                content=wav(0.5, rate=16_000, channels=1))
    assert abs(replaced["duration_s"] - 0.5) < 0.01

    for body, what in ((b"", "empty"), (b"RIFF....WAVEjunk", "not a wav"), (b"ID3\x03" + b"\0" * 100, "an mp3")):
        refused = await admin.call("PUT", "/api/v1/voice/prompts/other/en", expect=422, content=body)
        assert refused["error_id"] == "invalid_input", what
    await admin.call("PUT", "/api/v1/voice/prompts/Bad%20Name/en", expect=422, content=wav(0.1))
    await admin.call("PUT", "/api/v1/voice/prompts/welcome/fr", expect=422, content=wav(0.1))
    agent = clients()
    await agent.login("tanaka@demo.madoguchi.test")
    await agent.call("PUT", "/api/v1/voice/prompts/welcome/en", expect=403, content=wav(0.1))
    await agent.call("GET", "/api/v1/voice/prompts", expect=403)

    await admin.call("DELETE", "/api/v1/voice/prompts/welcome/ja", expect=204)
    await admin.call("GET", "/api/v1/voice/prompts/welcome/ja", expect=404)
    await admin.call("DELETE", "/api/v1/voice/prompts/welcome/ja", expect=404)


async def test_the_ivr_plays_the_uploaded_prompt_a_block_names(server: RunningServer,
                                                                clients: Callable[[], Browserish]) -> None:
    admin = clients()
    await admin.login("admin@demo.madoguchi.test")
    await admin.call("PUT", "/api/v1/voice/prompts/welcome/en", expect=200, content=wav(0.3))
    flow, _ = parse_definition({"start": "hi", "blocks": {
        "hi": {"type": "say", "text": "Welcome", "audio": "welcome", "next": "menu"},
        "menu": {"type": "ask", "prompt": "Press 1", "audio": "missing-one", "input": "choices",
                 "choices": [{"value": "1", "label": "one", "next": "q"}]},
        "q": {"type": "queue"}}})
    ivr = Ivr(BeepPrompts(), first_digit_s=1.0, recorded=RecordedPrompts(server.ctx.db))
    leg = FakeLeg("in-1", caller="+81312345678", callee="support")
    leg.press("1")
    facts: list[tuple[str, dict[str, Any]]] = []

    async def record(kind: str, data: dict[str, Any]) -> None:
        facts.append((kind, data))

    context = engine.FlowContext(now=datetime.now(UTC), language="ja", timezone="Asia/Tokyo", attributes={})
    result = await ivr.run(leg, flow, context, record)
    assert result.queued
    # Japanese was asked for, only English exists: that is played; a name never uploaded is spoken
    assert [e for e in leg.log if e.startswith("play:")] == ["play:audio:welcome", "play:beep"]
