"""Post-call transcription: PocketSphinx (the model inside its wheel) on speech that espeak-ng
speaks and sox brings down to the telephone's 8 kHz; the worker turns a call's recordings into
transcripts on the contact, skips languages its engine has no model for, and keeps a damaged
file's failure visible."""

from __future__ import annotations

import array
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from madoguchi.channels.voice.transcription import PocketSphinxTranscriber, far_end, speech_spans, upsample_2x
from madoguchi.channels.voice.transcripts import do_queue_transcripts
from madoguchi.contacts.actions import do_open_contact
from madoguchi.customers.actions import do_resolve_identity
from madoguchi.workers.voice_transcription import TranscriptionWorker
from tests.conftest import ServerFactory
from tests.support import Browserish, require_service

SPOKEN = "Hello, I would like to check the status of my order. My order number is one two three four."


def speech(tmp_path: Path, text: str = SPOKEN) -> np.ndarray:
    """``text`` spoken by espeak-ng, at 8 kHz mono int16."""
    for tool in ("espeak-ng", "sox"):
        require_service(tool, shutil.which(tool) is not None, "apt-get install espeak-ng sox")
    raw, narrow = tmp_path / "raw.wav", tmp_path / "narrow.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(narrow)], check=True)
    with wave.open(str(narrow)) as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.int16)


def stereo_recording(path: Path, far: np.ndarray, near_level: int = 0) -> None:
    """A recording as recording.py writes it: left the far end, right what we sent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = np.zeros(2 * len(far), dtype="<i2")
    frames[0::2] = far
    frames[1::2] = near_level
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(frames.tobytes())


def words(text: str) -> set[str]:
    return {w.strip(".,").lower() for w in text.split()}


def test_pocketsphinx_hears_english_speech_at_telephone_quality(tmp_path: Path) -> None:
    pcm = speech(tmp_path)
    segments = PocketSphinxTranscriber().transcribe(pcm, "en")
    assert segments and segments[0].start_s < 0.5 and segments[-1].end_s <= len(pcm) / 8000 + 0.01
    heard = words(" ".join(s.text for s in segments))
    assert "order" in heard and len(heard & words(SPOKEN)) >= 3, heard


def test_speech_spans_split_at_pauses_and_ignore_silence() -> None:
    rate = 8000
    noise = np.random.default_rng(1).normal(0, 3000, rate).astype(np.int16)  # one second of "speech"
    silence = np.zeros(rate, dtype=np.int16)
    spans = speech_spans(np.concatenate([silence, noise, silence, noise, silence]))
    assert len(spans) == 2
    (a, b), (c, d) = spans
    assert all(abs(x - k * rate) < 0.2 * rate for x, k in ((a, 1), (b, 2), (c, 3), (d, 4)))
    assert speech_spans(silence) == []
    assert len(upsample_2x(noise)) == 2 * len(noise) and upsample_2x(noise)[0] == noise[0]


def test_the_far_end_is_the_left_channel(tmp_path: Path) -> None:
    path = tmp_path / "caller.wav"
    stereo_recording(path, np.arange(100, dtype=np.int16), near_level=7)
    assert far_end(path).tolist() == list(range(100))
    with wave.open(str(tmp_path / "bad.wav"), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(array.array("h", [0] * 10).tobytes())
    with pytest.raises(ValueError, match="8000"):
        far_end(tmp_path / "bad.wav")


async def test_the_worker_transcribes_a_calls_recordings_onto_the_contact(
        make_server: ServerFactory, tmp_path: Path) -> None:
    root = tmp_path / "recordings"
    server = await make_server(voice_recordings_dir=str(root))
    db = server.ctx.db
    contact_ids = []
    async with db.uow() as uow:
        for number in ("+81300000001", "+81300000002"):
            customer, _ = await do_resolve_identity(uow, kind="phone", address=number)
            contact = await do_open_contact(uow, customer_id=customer.id, channel_kind="voice", entry_point_id=None,
                                            subject=f"☎ {number}", customer_topic=None)
            contact_ids.append(contact.id)
    english, japanese = contact_ids
    pcm = speech(tmp_path)
    stereo_recording(root / f"contact-{english}" / "caller.wav", pcm)
    (root / f"contact-{english}" / "agent-2.wav").write_bytes(b"RIFF not really a wav")
    stereo_recording(root / f"contact-{japanese}" / "caller.wav", pcm)
    async with db.uow() as uow:
        assert await do_queue_transcripts(uow, contact_id=english, root=root, language="en") == 2
        assert await do_queue_transcripts(uow, contact_id=japanese, root=root, language="ja") == 1
    async with db.uow() as uow:  # queueing again adds nothing
        assert await do_queue_transcripts(uow, contact_id=english, root=root, language="en") == 0

    worker = TranscriptionWorker(db, server.ctx.bus, engine="pocketsphinx", model_dir=None, recordings_dir=root)
    try:
        for _ in range(10):
            if not await worker.work_once():
                break
    finally:
        worker.close()

    supervisor, agent = Browserish(server.base_url), Browserish(server.base_url)
    try:
        await _read_back(supervisor, agent, english, japanese)
    finally:
        await supervisor.close()
        await agent.close()


async def _read_back(supervisor: Browserish, agent: Browserish, english: int, japanese: int) -> None:
    await supervisor.login("supervisor@demo.madoguchi.test")
    listed = await supervisor.call("GET", f"/api/v1/contacts/{english}/transcripts", expect=200)
    by_name = {t["recording"]: t for t in listed}
    caller = by_name["caller.wav"]
    assert caller["status"] == "done" and caller["speaker"] == "customer" and caller["engine"] == "pocketsphinx"
    assert caller["segments"] and "order" in words(caller["text"])
    assert all(s["end_s"] > s["start_s"] for s in caller["segments"])
    damaged = by_name["agent-2.wav"]
    assert damaged["status"] == "failed" and damaged["speaker"] == "agent" and damaged["agent_id"] == 2
    assert damaged["error"]
    skipped = (await supervisor.call("GET", f"/api/v1/contacts/{japanese}/transcripts", expect=200))[0]
    assert skipped["status"] == "skipped" and "ja" in skipped["error"] and skipped["segments"] == []

    await agent.login("suzuki@demo.madoguchi.test")
    await agent.call("GET", f"/api/v1/contacts/{english}/transcripts", expect=404)
