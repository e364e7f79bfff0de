"""What the end-to-end voice tests share: a server with SIP on free loopback ports, a test line
with a menu, baresip phones for agents, sipp as the caller, and reading back a finished call."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def require_sip_peers() -> None:
    """sipp plays the caller and baresip the agents' phones: missing, they fail the test in CI."""
    for tool in ("sipp", "baresip"):
        require_service(tool, shutil.which(tool) is not None, "apt-get install sip-tester baresip")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def free_phone_port() -> int:
    """A loopback port that baresip can listen on. baresip 1.0 takes the port for both UDP and TCP
    (and the next one for TLS) and exits with EADDRINUSE (98) when any of them is taken, so a port
    that is only free for UDP is not enough."""
    for _ in range(100):
        port = free_udp_port()
        try:
            with contextlib.ExitStack() as held:
                for kind, number in ((socket.SOCK_STREAM, port), (socket.SOCK_STREAM, port + 1)):
                    sock = held.enter_context(socket.socket(socket.AF_INET, kind))
                    sock.bind(("127.0.0.1", number))
        except OSError:
            continue
        return port
    raise AssertionError("no loopback port is free for both UDP and TCP")


async def stop_process(process: asyncio.subprocess.Process) -> None:
    """Ends a peer that may already have ended on its own (terminate() raises then)."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
    await process.wait()


async def voice_server(sqlite_url: str, tmp_path: Path, **settings: Any) -> tuple[RunningServer, int, int]:
    """A server with SIP on a free port and its own block of RTP ports: (server, SIP port, first RTP port)."""
    sip_port, base = free_udp_port(), 30000 + (free_udp_port() % 300) * 100
    server = await start_server(Settings(database_url=sqlite_url, redis_url=None, sip_port=sip_port,
                                         rtp_ports=f"{base}-{base + 99}", voice_prompts_dir=str(tmp_path / "prompts"),
                                         **settings))
    return server, sip_port, base


async def add_line(server: RunningServer, menu: dict[str, str]) -> Queue:
    """The entry point ``sip:e2e@127.0.0.1`` (English, a short greeting, ``menu``) for Support."""
    async with server.ctx.db.uow() as uow:
        support = await uow.session.scalar(select(Queue).where(Queue.name == "Support"))
        assert support is not None
        await do_create_entry_point(uow, actor=None, data=EntryPointCreate(
            name="e2e line", channel_kind="voice", queue_id=support.id,
            settings=VoiceChannel.check_settings({"uri": "sip:e2e@127.0.0.1", "language": "en",
                                                  "greeting": "Hello.", "menu": menu})))
    return support


def voice_channel(server: RunningServer) -> VoiceChannel:
    channel = server.ctx.channels.get("voice")
    assert isinstance(channel, VoiceChannel)
    return channel


def baresip_config(directory: Path, *, sip_port: int, server_port: int, wav: Path, user: str = "tanaka") -> None:
    directory.mkdir(exist_ok=True)
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


async def phone(directory: Path, *, user: str, server_port: int, wav: Path) -> asyncio.subprocess.Process:
    """baresip as ``user``'s phone, answering at once and sending ``wav`` (it hangs up when the
    file ends, so make it longer than the call)."""
    exits: list[int] = []
    for _ in range(5):
        baresip_config(directory, sip_port=free_phone_port(), server_port=server_port, wav=wav, user=user)
        process = await asyncio.create_subprocess_exec(
            "baresip", "-f", str(directory), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            stdin=asyncio.subprocess.DEVNULL)
        try:
            # A port taken between the check and baresip's bind ends it within milliseconds.
            exits.append(await asyncio.wait_for(process.wait(), 0.3))
        except TimeoutError:
            return process
    raise AssertionError(f"baresip for {user} would not start: exit codes {exits}")


async def registered(channel: VoiceChannel, *users: str) -> None:
    for _ in range(200):
        if all(channel.telephony.is_registered(u) for u in users):
            return
        await asyncio.sleep(0.05)
    assert all(channel.telephony.is_registered(u) for u in users), f"{users} did not register"


async def call_in(sip_port: int, base: int, directory: Path, *, talk_ms: int, timeout_s: int = 40,
                  scenario: str = "uac_ivr.xml") -> asyncio.subprocess.Process:
    """sipp dials the test line, presses 2, and hangs up ``talk_ms`` after the pause starts."""
    return await asyncio.create_subprocess_exec(
        "sipp", f"127.0.0.1:{sip_port}", "-sf", str(HERE / scenario), "-s", "e2e", "-i", "127.0.0.1",
        "-p", str(free_udp_port()), "-mi", "127.0.0.1", "-mp", str(base - 1000), "-m", "1", "-d", str(talk_ms),
        "-timeout", str(timeout_s), "-timeout_error", "-trace_msg", cwd=directory, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL, stdin=asyncio.subprocess.DEVNULL)


def sipp_trace(directory: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in directory.glob("*_messages.log"))


async def finished_call(server: RunningServer) -> tuple[VoiceCall, Contact, list[str]]:
    """The last call once its legs are gone: its row, its contact and the contact's event types."""
    channel = voice_channel(server)
    for _ in range(100):  # the caller's BYE is answered first; the contact ends right after
        if not channel.telephony.legs and not channel.service.calls:
            break
        await asyncio.sleep(0.05)
    async with server.ctx.db.read() as session:
        call = await session.scalar(select(VoiceCall).order_by(VoiceCall.id.desc()))
        assert call is not None
        contact = await session.get(Contact, call.contact_id)
        assert contact is not None
        events = (await session.scalars(select(ContactEvent.type).where(ContactEvent.contact_id == call.contact_id)
                                        .order_by(ContactEvent.id))).all()
    return call, contact, list(events)


@dataclass
class TwoAgents:
    server: RunningServer
    channel: VoiceChannel
    sip_port: int
    base: int
    first: Browserish       # Tanaka, on duty: the ACD rings this phone first
    second: Browserish      # Suzuki, on a break until the test makes them available
    colleague: int          # Suzuki's user id


@contextlib.asynccontextmanager
async def two_agents(sqlite_url: str, tmp_path: Path) -> AsyncIterator[TwoAgents]:
    """A server with the test line, Tanaka on duty and Suzuki on a break, each with a baresip phone
    that answers at once and sends its own tone (330 Hz, 550 Hz); everything stopped afterwards."""
    require_sip_peers()
    server, sip_port, base = await voice_server(sqlite_url, tmp_path)
    first, second = Browserish(server.base_url), Browserish(server.base_url)
    phones: list[asyncio.subprocess.Process] = []
    try:
        await add_line(server, {"2": "Support"})
        await agent_on_duty(server, first, "tanaka@demo.madoguchi.test")
        await agent_on_duty(server, second, "suzuki@demo.madoguchi.test")
        await second.call("PUT", "/api/v1/agents/me/state", expect=200, json={"state": "break", "reason": "meeting"})
        colleague = (await second.call("GET", "/api/v1/me", expect=200))["id"]
        channel = voice_channel(server)
        for user, pitch in (("tanaka", 330.0), ("suzuki", 550.0)):
            wav = tmp_path / f"{user}.wav"  # longer than the call: baresip hangs up when it ends
            write_wav(wav, tone((pitch,), 40_000, level=0.2))
            phones.append(await phone(tmp_path / user, user=user, server_port=sip_port, wav=wav))
        await registered(channel, "tanaka", "suzuki")
        yield TwoAgents(server, channel, sip_port, base, first, second, colleague)
    finally:
        for process in phones:
            await stop_process(process)
        await first.close()
        await second.close()
        await server.stop()
