"""End to end with real SIP peers on 127.0.0.1: sipp calls in, hears the menu, presses 2 (bytes
from sipp's RFC 4733 capture), is queued; baresip, registered as the agent's phone with auto
answer, rings after the ACD's offer; RTP flows both ways through our relay; the caller's BYE ends
the agent leg and the contact."""

from __future__ import annotations

import array
import asyncio
import contextlib
import math
import shutil
import socket
import wave
from pathlib import Path

import pytest
from sqlalchemy import select

from madoguchi.channels.actions import do_create_entry_point
from madoguchi.channels.schemas import EntryPointCreate
from madoguchi.channels.voice.adapter import VoiceChannel
from madoguchi.channels.voice.audio import tone, write_wav
from madoguchi.channels.voice.models import VoiceCall
from madoguchi.contacts.models import Contact, ContactEvent
from madoguchi.routing.models import Queue
from madoguchi.settings import Settings
from tests.api.flow import agent_on_duty
from tests.support import Browserish, RunningServer, require_service, start_server

HERE = Path(__file__).parent
pytestmark = pytest.mark.e2e


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def baresip_config(directory: Path, *, sip_port: int, server_port: int, wav: Path, user: str = "tanaka") -> None:
    (directory / "config").write_text(
        "poll_method poll\n"
        f"sip_listen 127.0.0.1:{sip_port}\n"
        f"audio_player aufile,{directory / 'heard.wav'}\n"
        f"audio_source aufile,{wav}\n"
        "audio_alert aufile,/dev/null\n"
        "module_path /usr/lib/baresip/modules\nmodule g711.so\nmodule aufile.so\n"
        "module_app account.so\nmodule_app menu.so\n")
    (directory / "accounts").write_text(
        f"<sip:{user}@127.0.0.1:{server_port}>;auth_pass=madoguchi-demo;answermode=auto;regint=60;"
        "audio_codecs=PCMU,PCMA\n")


def _sipp_trace(directory: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in directory.glob("*_messages.log"))


async def test_a_caller_goes_through_the_menu_and_talks_to_the_agents_phone(
        sqlite_url: str, tmp_path: Path) -> None:
    for tool in ("sipp", "baresip"):
        require_service(tool, shutil.which(tool) is not None, "apt-get install sip-tester baresip")
    sip_port, base = free_udp_port(), 30000 + (free_udp_port() % 300) * 100
    server = await start_server(Settings(database_url=sqlite_url, redis_url=None, sip_port=sip_port,
                                         rtp_ports=f"{base}-{base + 99}", voice_prompts_dir=str(tmp_path / "prompts"),
                                         voice_recordings_dir=str(tmp_path / "recordings")))
    agent = Browserish(server.base_url)
    try:
        await _call_through(server, agent, sip_port, base, tmp_path)
    finally:
        await agent.close()
        await server.stop()


async def _call_through(server: RunningServer, agent: Browserish, sip_port: int, base: int, tmp_path: Path) -> None:
    async with server.ctx.db.uow() as uow:
        support = await uow.session.scalar(select(Queue).where(Queue.name == "Support"))
        assert support is not None
        await do_create_entry_point(uow, actor=None, data=EntryPointCreate(
            name="e2e line", channel_kind="voice", queue_id=support.id,
            settings=VoiceChannel.check_settings({"uri": "sip:e2e@127.0.0.1", "language": "en",
                                                  "greeting": "Hello.", "menu": {"1": "Sales", "2": "Support"}})))
    desk = await agent_on_duty(server, agent, "tanaka@demo.madoguchi.test")
    channel = server.ctx.channels.get("voice")
    assert isinstance(channel, VoiceChannel)

    phone_dir = tmp_path / "baresip"
    phone_dir.mkdir()
    wav = phone_dir / "agent.wav"  # baresip hangs up when its audio file ends: longer than the call
    write_wav(wav, tone((330.0,), 30_000, level=0.2))
    baresip_config(phone_dir, sip_port=free_udp_port(), server_port=sip_port, wav=wav)
    phone = await asyncio.create_subprocess_exec("baresip", "-f", str(phone_dir), stdout=asyncio.subprocess.DEVNULL,
                                                 stderr=asyncio.subprocess.DEVNULL, stdin=asyncio.subprocess.DEVNULL)
    try:
        for _ in range(200):
            if channel.telephony.is_registered("tanaka"):
                break
            await asyncio.sleep(0.05)
        assert channel.telephony.is_registered("tanaka"), "baresip did not register"

        sipp = await asyncio.create_subprocess_exec(
            "sipp", f"127.0.0.1:{sip_port}", "-sf", str(HERE / "uac_ivr.xml"), "-s", "e2e", "-i", "127.0.0.1",
            "-p", str(free_udp_port()), "-mi", "127.0.0.1", "-mp", str(base - 1000), "-m", "1", "-d", "9000",
            "-timeout", "40", "-timeout_error", "-trace_msg", cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL, stdin=asyncio.subprocess.DEVNULL)
        legs_seen: dict[str, tuple[int, int, int, int]] = {}
        hold_steps: list[str] = []
        while sipp.returncode is None:
            for leg in channel.telephony.legs:
                legs_seen[leg.leg_id] = (int(leg.inbound), leg.rtp.stats.packets, leg.rtp.sent, leg.rtp.relayed)
            await _hold_and_resume_from_the_desktop(channel, agent, hold_steps)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sipp.wait(), 0.1)
        assert sipp.returncode == 0, _sipp_trace(tmp_path)[-3000:]
    finally:
        phone.terminate()
        await phone.wait()

    for _ in range(100):  # the caller's BYE is answered first; the contact ends right after
        if not channel.telephony.legs and not channel.service.calls:
            break
        await asyncio.sleep(0.05)
    async with server.ctx.db.read() as session:
        call = await session.scalar(select(VoiceCall).order_by(VoiceCall.id.desc()))
        assert call is not None
        contact = await session.get(Contact, call.contact_id)
        events = (await session.scalars(select(ContactEvent.type).where(ContactEvent.contact_id == call.contact_id)
                                        .order_by(ContactEvent.id))).all()
    assert contact is not None and contact.state == "ended" and contact.ended_by == "customer"
    assert contact.queue_id == support.id and call.digits == "2" and call.caller == "+81311112222"
    assert hold_steps == ["held", "resumed"], hold_steps
    assert list(events) == ["arrived", "flow_entered", "ivr_input", "escalated", "queued", "offered", "accepted",
                            "held", "resumed", "ended"]
    caller_leg = [v for v in legs_seen.values() if v[0] == 1]
    agent_leg = [v for v in legs_seen.values() if v[0] == 0]
    assert caller_leg and agent_leg
    # the caller heard the prompt and the agent (sent), the agent heard the caller (relayed to it)
    assert caller_leg[0][1] > 50 and caller_leg[0][2] > 50 and caller_leg[0][3] > 20
    assert agent_leg[0][1] > 20 and agent_leg[0][3] > 20  # the phone's audio went to the caller
    assert not channel.telephony.legs  # the caller's BYE ended the agent leg too
    await _recordings_of_both_legs(server, agent, contact.id, contact.agent_id, tmp_path / "recordings")
    # CTI: the desk heard the phone ring with the customer found by the caller's number, then the answer
    ringing = await desk.event("voice.call", state="ringing", contact_id=contact.id)
    assert ringing["data"]["customer_id"] == contact.customer_id and ringing["data"]["caller"] == "+81311112222"
    await desk.event("voice.call", state="answered", contact_id=contact.id)
    await desk.close()


async def _hold_and_resume_from_the_desktop(channel: VoiceChannel, agent: Browserish, steps: list[str]) -> None:
    """Once the call is bridged and has talked a little, the agent holds it on the desktop (the
    phone gets a re-INVITE with sendonly and answers it), then resumes it (sendrecv)."""
    agent_legs = [leg for leg in channel.telephony.legs if not leg.inbound and leg.bridged is not None]
    if steps == ["held", "resumed"] or not (agent_legs or steps):
        return
    contact_id = next(iter(channel.service.calls), None)
    if not steps and agent_legs and agent_legs[0].rtp.relayed > 25 and contact_id is not None:
        await agent.call("POST", f"/api/v1/contacts/{contact_id}/hold", expect=200)
        steps.append("hold")
    elif steps == ["hold"]:
        held = [leg for leg in channel.telephony.legs if not leg.inbound and leg.local_held]
        if held and held[0].reinvites_answered == 1:
            steps[-1] = "held"
            await agent.call("POST", f"/api/v1/contacts/{contact_id}/resume", expect=200)
            steps.append("resume")
    elif steps == ["held", "resume"]:
        agent_leg = [leg for leg in channel.telephony.legs if not leg.inbound]
        if agent_leg and agent_leg[0].reinvites_answered == 2 and agent_leg[0].bridged is not None:
            steps[-1] = "resumed"


async def _recordings_of_both_legs(server: RunningServer, agent: Browserish, contact_id: int, agent_id: int | None,
                                   root: Path) -> None:
    """Each leg's WAV holds audio on both channels (what it heard, what it was sent), and the agent
    who took the call plays them from the contact; another agent cannot."""
    names = sorted(p.name for p in (root / f"contact-{contact_id}").iterdir())
    assert names == ["agent-" + str(agent_id) + ".wav", "caller.wav"]
    for name in names:
        heard, sent = _channel_levels(root / f"contact-{contact_id}" / name)
        assert heard > 100 and sent > 100, (name, heard, sent)
    listed = await agent.call("GET", f"/api/v1/contacts/{contact_id}/recordings", expect=200)
    assert [(r["name"], r["leg"]) for r in listed] == [(f"agent-{agent_id}.wav", "agent"), ("caller.wav", "caller")]
    response = await agent.http.get(listed[1]["url"])
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"
    assert response.content[:4] == b"RIFF"
    await agent.call("GET", f"/api/v1/contacts/{contact_id}/recordings/..%2Fx.wav", expect=404)
    other = Browserish(server.base_url)
    try:
        await other.login("suzuki@demo.madoguchi.test")
        await other.call("GET", f"/api/v1/contacts/{contact_id}/recordings", expect=404)
        await other.call("GET", listed[1]["url"], expect=404)
    finally:
        await other.close()


def _channel_levels(path: Path) -> tuple[float, float]:
    """RMS of the left and right channels of a 16-bit stereo WAV."""
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 8000)
        samples = array.array("h", wav.readframes(wav.getnframes()))
    left, right = samples[0::2], samples[1::2]
    return (math.sqrt(sum(x * x for x in left) / max(1, len(left))),
            math.sqrt(sum(x * x for x in right) / max(1, len(right))))
