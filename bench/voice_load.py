"""Voice load benchmark: N concurrent calls through IVR → queue → ACD offer → agent phone → bridge.

    flock /tmp/madoguchi-bench.lock .venv/bin/python bench/voice_load.py [--calls 100,200,400]
        [--rate 25] [--measure 15] [--loop uvloop|asyncio] [--json]

For each N it starts a fresh ``madoguchi`` server (this file's ``--child`` mode: the real app,
uvicorn, the router and the voice channel, on a fresh SQLite database with the demo data plus a
"Load" queue of N agents with SIP accounts), then:

* a sipp UAS plays the N agents' phones: it answers every INVITE with PCMA and echoes the RTP it
  receives (``-rtp_echo``);
* a sipp UAC registers the N agents at our registrar with digest auth (the contacts point at the
  UAS), so the ACD rings real bindings;
* a sipp UAC places N calls to ``sip:load@127.0.0.1`` at ``--rate`` calls/s: each hears the
  greeting, presses 1 (RFC 4733 bytes from sipp's capture) in the menu, waits in the queue,
  is offered to an agent whose phone answers, and talks (sipp's G.711 A-law capture, replayed)
  until it hangs up.

The measured window starts once all N calls are bridged and lasts ``--measure`` seconds (or until
the first call ends). In it: the server process's CPU (user+sys from /proc), the media clock's
tick lateness (p50/p99/max of every 20 ms tick) and the packets relayed. "bridged calls per core"
is N divided by the cores the server used. Calls completed/failed are sipp's own counts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

THIS_FILE = str(Path(__file__).resolve())
BENCH_DIR = Path(THIS_FILE).parent
ROOT = BENCH_DIR.parent
PCAPS = Path("/usr/share/sip-tester")
PASSWORD = "load-agent-secret"
CLK_TCK = os.sysconf("SC_CLK_TCK")
TALK_PCAP_S = 10  # the caller's speech: a pcap this long, replayed until the call ends


# ----------------------------------------------------------------------------------------------
# the server (child process)
# ----------------------------------------------------------------------------------------------

async def _child_main(loop_name: str) -> None:
    import logging

    import uvicorn

    from madoguchi.app import create_app
    from madoguchi.channels.voice.adapter import VoiceChannel
    from madoguchi.settings import Settings

    settings = Settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning",
                                           lifespan="on", loop="none"))
    # uvicorn re-raises a captured SIGTERM once it has shut down, which would kill the process
    # before the profile is written; stop it ourselves instead.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, lambda: setattr(server, "should_exit", True))

    async def report() -> None:
        seen_ticks = 0
        while True:
            await asyncio.sleep(0.5)
            ctx = getattr(app.state, "ctx", None)
            voice = ctx.channels.get("voice") if ctx is not None else None
            if not isinstance(voice, VoiceChannel) or voice.endpoint.transport is None:
                continue
            lateness = voice.media.clock.lateness
            new = min(lateness.ticks - seen_ticks, len(lateness.samples))
            samples = list(lateness.samples)[len(lateness.samples) - new:] if new > 0 else []
            seen_ticks = lateness.ticks
            legs = voice.telephony.legs
            print(json.dumps({
                "registered": len(voice.registrar), "legs": len(legs),
                "bridged": sum(1 for leg in legs if leg.bridged is not None and leg.inbound),
                "calls": len(voice.service.calls), "relayed": voice.media.relayed,
                "late_ms": [round(s * 1000, 3) for s in samples], "skipped": lateness.skipped,
                "loop": type(asyncio.get_running_loop()).__module__}), flush=True)

    def hang_up_all() -> None:  # SIGUSR1: the window is over
        ctx = getattr(app.state, "ctx", None)
        voice = ctx.channels.get("voice") if ctx is not None else None
        if isinstance(voice, VoiceChannel):
            for leg in voice.telephony.legs:
                if leg.inbound:
                    hangups.add(asyncio.ensure_future(leg.hangup()))

    hangups: set[asyncio.Future[None]] = set()
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, hang_up_all)
    reporter = asyncio.create_task(report())
    try:
        await server.serve()
    finally:
        reporter.cancel()


def child(loop_name: str, profile: Path | None) -> None:
    profiler = None
    if profile is not None:  # the whole server run, for a look at where the time goes (slows it down)
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    try:
        if loop_name == "uvloop":
            import uvloop

            uvloop.run(_child_main(loop_name))
        else:
            asyncio.run(_child_main(loop_name))
    finally:
        if profiler is not None and profile is not None:
            profiler.disable()
            profiler.dump_stats(str(profile))


# ----------------------------------------------------------------------------------------------
# set-up: the database of one run
# ----------------------------------------------------------------------------------------------

async def setup_database(database_url: str, agents: int) -> None:
    """Demo data, a "Load" queue, ``agents`` available agents with SIP accounts, an entry point."""
    from madoguchi.agents.actions import do_set_state, profile_for
    from madoguchi.agents.states import AgentState
    from madoguchi.app import build_context
    from madoguchi.channels.actions import do_create_entry_point
    from madoguchi.channels.schemas import EntryPointCreate
    from madoguchi.channels.voice.actions import do_set_sip_account
    from madoguchi.channels.voice.adapter import VoiceChannel
    from madoguchi.demo import seed
    from madoguchi.identity.models import User
    from madoguchi.migrate import migrate
    from madoguchi.routing.models import Queue, QueueMember
    from madoguchi.settings import Settings

    settings = Settings(database_url=database_url, redis_url=None)
    ctx = build_context(settings)
    try:
        await migrate(ctx.db.engine)
        await seed(ctx.db)
        async with ctx.db.uow() as uow:
            now = uow.clock.now()
            queue = Queue(name="Load", name_ja="負荷", priority=0, service_level_s=60, offer_timeout_s=30,
                          created_at=now)
            users = [User(email=f"load{i}@bench.madoguchi.test", display_name=f"Load agent {i}", role="agent",
                          password_hash="!", locale="en", created_at=now) for i in range(agents)]
            uow.session.add_all([queue, *users])
            await uow.session.flush()
            for i, user in enumerate(users):
                await profile_for(uow, user)
                await do_set_state(uow, agent=user, state=AgentState.AVAILABLE, reason=None, actor=user)
                uow.session.add(QueueMember(queue_id=queue.id, agent_id=user.id))
                await do_set_sip_account(uow, actor=None, user=user, username=f"load{i}", password=PASSWORD,
                                         realm=settings.sip_realm)
            await do_create_entry_point(uow, actor=None, data=EntryPointCreate(
                name="Load line", channel_kind="voice", queue_id=queue.id,
                settings=VoiceChannel.check_settings({"uri": "sip:load@127.0.0.1", "language": "en",
                                                      "greeting": "Hello.", "menu": {"1": "Load"},
                                                      "record": False})))
    finally:
        await ctx.db.engine.dispose()


# ----------------------------------------------------------------------------------------------
# sipp scenarios
# ----------------------------------------------------------------------------------------------

_HEAD = '<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE scenario SYSTEM "sipp.dtd">\n'

def _sdp(origin: str) -> str:
    """The one offer/answer both simulated ends make: PCMA with RFC 4733 telephone-events."""
    return f"""      v=0
      o={origin} 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15
"""


_REGISTER = _HEAD + """<scenario name="agent phones register">
  <send retrans="500"><![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[remote_ip]:[remote_port]>;tag=[pid]R[call_number]
      To: <sip:[field0]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:[field0]@[local_ip]:[uas_port]>
      Expires: 3600
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
  <recv response="401" auth="true"/>
  <send retrans="500"><![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[remote_ip]:[remote_port]>;tag=[pid]R[call_number]
      To: <sip:[field0]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 2 REGISTER
      Contact: <sip:[field0]@[local_ip]:[uas_port]>
      [field1]
      Expires: 3600
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
  <recv response="200"/>
</scenario>
"""

_AGENT_PHONE = _HEAD + """<scenario name="agent phones answer and echo">
  <recv request="INVITE" crlf="true"/>
  <send><![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]A[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:agent@[local_ip]:[local_port]>
      Content-Length: 0
  ]]></send>
  <send retrans="500"><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]A[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:agent@[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

""" + _sdp("agent") + """  ]]></send>
  <recv request="ACK" crlf="true"/>
  <recv request="BYE"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
  ]]></send>
</scenario>
"""


def write_talk_pcap(path: Path, seconds: int) -> None:
    """A capture of one G.711 A-law stream at 50 packets/s (20 ms, 160 bytes each), for sipp's
    play_pcap_audio. (sipp's own g711a.pcap sends about 34 packets/s, less than a real phone.)

    Format: libpcap (tcpdump.org/manuals/pcap-savefile), link type 1 (Ethernet), IPv4/UDP headers
    (RFC 791/768, checksums left 0 as sipp rewrites addresses), RTP (RFC 3550 §5.1)."""
    import struct

    from madoguchi.channels.voice import g711
    from madoguchi.channels.voice.audio import tone

    speech = g711.encode(tone((220.0, 330.0), TALK_PCAP_S * 1000, level=0.2), "PCMA")
    frames = len(speech) // 160
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for n in range(seconds * 50):
        frame_audio = speech[(n % frames) * 160:(n % frames + 1) * 160]
        rtp = struct.pack("!BBHII", 0x80, 8, n & 0xFFFF, (n * 160) & 0xFFFFFFFF, 0x4D41444F) + frame_audio
        udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), n & 0xFFFF, 0, 64, 17, 0,
                         bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp
        frame = b"\x00" * 12 + b"\x08\x00" + ip
        micros = n * 20_000
        out += struct.pack("<IIII", micros // 1_000_000, micros % 1_000_000, len(frame), len(frame)) + frame
    path.write_bytes(bytes(out))


def caller_scenario(talk_pcap: Path) -> str:
    """Call, press 1 in the menu, talk (``talk_pcap``) until the server hangs up (BYE)."""
    who = """      From: "Load" <sip:+8130[call_number]@[local_ip]:[local_port]>;tag=[pid]C[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>"""
    return _HEAD + f"""<scenario name="caller through the IVR">
  <send retrans="500"><![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
{who}
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:caller@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

{_sdp('caller')}  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rtd="true"/>
  <send><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
{who}[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
  <pause milliseconds="1500"/>
  <nop><action><exec play_pcap_audio="{PCAPS / "dtmf_2833_1.pcap"}"/></action></nop>
  <pause milliseconds="500"/>
  <nop><action><exec play_pcap_audio="{talk_pcap}"/></action></nop>
  <recv request="BYE"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
  ]]></send>
</scenario>
"""


# ----------------------------------------------------------------------------------------------
# one run
# ----------------------------------------------------------------------------------------------

@dataclass
class Result:
    calls: int
    loop: str
    db: str = "sqlite"
    completed: int = 0
    failed: int = 0
    max_bridged: int = 0
    window_s: float = 0.0
    server_cores: float = 0.0
    bridged_per_core: float = 0.0
    tick_p50_ms: float = 0.0
    tick_p99_ms: float = 0.0
    tick_max_ms: float = 0.0
    skipped_ticks: int = 0
    relayed_pps: float = 0.0
    setup_s: float = 0.0
    all_bridged_after_s: float = 0.0
    server_cpu_total_s: float = 0.0
    server_sys_share: float = 0.0  # of the window's server CPU, the part spent in the kernel (socket calls)
    load_avg: str = ""
    notes: list[str] = field(default_factory=list)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_split(pid: int) -> tuple[float, float]:
    """(user, sys) seconds of one process, from /proc/PID/stat (fields 14 and 15, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def cpu_seconds(pid: int) -> float:
    return sum(cpu_split(pid))


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def sipp_counts(directory: Path) -> tuple[int, int]:
    """(successful, failed) calls from sipp's final screen (-trace_screen)."""
    text = "".join(p.read_text(errors="replace") for p in directory.glob("*_screen.log"))
    ok = re.findall(r"Successful call\s+\|\s+\d+\s+\|\s+(\d+)", text)
    bad = re.findall(r"Failed call\s+\|\s+\d+\s+\|\s+(\d+)", text)
    return (int(ok[-1]) if ok else 0), (int(bad[-1]) if bad else 0)


class Child:
    """The server process and the stats lines it prints every 0.5 s."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.last: dict[str, Any] = {}
        self.late_ms: list[float] = []
        self.collect = False
        self.relayed_at: list[tuple[float, int]] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            with contextlib.suppress(ValueError):
                stats = json.loads(line)
                self.last = stats
                if self.collect:
                    self.late_ms.extend(stats["late_ms"])
                    self.relayed_at.append((time.monotonic(), stats["relayed"]))

    async def until(self, check: Any, within_s: float, what: str) -> None:
        deadline = time.monotonic() + within_s
        while not check(self.last):
            if self.process.returncode is not None:
                raise RuntimeError(f"server exited ({self.process.returncode}) while waiting for {what}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: {self.last and {k: v for k, v in self.last.items() if k != 'late_ms'}}")
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        self._reader.cancel()


async def run_one(calls: int, args: argparse.Namespace, work: Path) -> Result:
    result = Result(calls=calls, loop=args.loop, db=getattr(args, "db", "sqlite"))
    run_dir = work / f"calls-{calls}"
    run_dir.mkdir()
    sip_port, uas_port = free_udp_port(), free_udp_port()
    rtp_base = 40000
    env = {
        "MADOGUCHI_DATABASE_URL": f"sqlite+aiosqlite:///{run_dir / 'load.db'}",
        "MADOGUCHI_PORT": str(free_tcp_port()), "MADOGUCHI_SMTP_PORT": "off",
        "MADOGUCHI_SIP_PORT": str(sip_port), "MADOGUCHI_RTP_PORTS": f"{rtp_base}-{rtp_base + 4 * calls + 200}",
        "MADOGUCHI_VOICE_PROMPTS_DIR": str(args.prompts_dir), "MADOGUCHI_LOG_LEVEL": "WARNING",
    }
    started = time.monotonic()
    pg_name = None
    if getattr(args, "db", "sqlite") == "postgres":
        pg_name = f"mdg_voice_load_{os.getpid()}_{calls}"
        await _pg_admin(args.pg_admin, f'CREATE DATABASE "{pg_name}"')
        env["MADOGUCHI_DATABASE_URL"] = args.pg_url.format(name=pg_name)
    try:
        return await _run_on(calls, args, run_dir, env, result, started, sip_port, uas_port)
    finally:
        if pg_name is not None:
            await _pg_admin(args.pg_admin, f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


async def _pg_admin(dsn: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _run_on(calls: int, args: argparse.Namespace, run_dir: Path, env: dict[str, str], result: Result,
                  started: float, sip_port: int, uas_port: int) -> Result:
    await setup_database(env["MADOGUCHI_DATABASE_URL"], calls)
    profile = ["--profile", str(args.profile.with_suffix(f".{calls}.prof"))] if args.profile else []
    log = (run_dir / "server.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable, THIS_FILE, "--child", "--loop", args.loop, *profile, env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE, stderr=log, stdin=asyncio.subprocess.DEVNULL)
    server = Child(process)
    sipp_procs: list[asyncio.subprocess.Process] = []
    try:
        await server.until(lambda s: "registered" in s, 60, "the server to start")
        (run_dir / "agent_phone.xml").write_text(_AGENT_PHONE)
        (run_dir / "register.xml").write_text(_REGISTER)
        # Callers talk until the server hangs up on them (after the window): long enough for the
        # ramp, the time a call may take to be bridged, and the window.
        ramp_deadline = calls / args.rate + args.setup_margin
        talk_s = int(ramp_deadline + args.measure + 30)
        write_talk_pcap(run_dir / "talk.pcap", talk_s)
        (run_dir / "caller.xml").write_text(caller_scenario(run_dir / "talk.pcap"))
        (run_dir / "agents.csv").write_text("SEQUENTIAL\n" + "".join(
            f"load{i};[authentication username=load{i} password={PASSWORD}]\n" for i in range(calls)))
        common = ["-i", "127.0.0.1", "-mi", "127.0.0.1", "-trace_screen", "-trace_err", "-nostdin"]

        async def sipp(*argv: str) -> asyncio.subprocess.Process:
            proc = await asyncio.create_subprocess_exec(
                "sipp", *argv, *common, cwd=run_dir, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL, stdin=asyncio.subprocess.DEVNULL)
            sipp_procs.append(proc)
            return proc

        await sipp("-sf", "agent_phone.xml", "-p", str(uas_port), "-mp", str(free_udp_port() & ~1), "-rtp_echo",
                   "-l", str(calls * 2), "-max_recv_loops", "10000")
        register = await sipp(f"127.0.0.1:{sip_port}", "-sf", "register.xml", "-inf", "agents.csv", "-p",
                              str(free_udp_port()), "-key", "uas_port", str(uas_port), "-m", str(calls), "-r", "200",
                              "-timeout", "60")
        await asyncio.wait_for(register.wait(), 90)
        await server.until(lambda s: s.get("registered", 0) >= calls, 30, "all agents registered")
        result.setup_s = round(time.monotonic() - started, 1)

        caller = await sipp(f"127.0.0.1:{sip_port}", "-sf", "caller.xml", "-s", "load", "-p", str(free_udp_port()),
                            "-mp", str(free_udp_port() & ~1), "-m", str(calls), "-r", str(args.rate),
                            "-l", str(calls), "-timeout", str(int(talk_s + 120)), "-max_recv_loops", "10000")
        ramp_started = time.monotonic()
        try:
            await server.until(lambda s: s.get("bridged", 0) >= calls, ramp_deadline, "all calls bridged")
        except TimeoutError as error:
            result.notes.append(f"not all bridged: {error}")
        result.all_bridged_after_s = round(time.monotonic() - ramp_started, 1)
        result.max_bridged = server.last.get("bridged", 0)
        (user0, sys0), t0 = cpu_split(process.pid), time.monotonic()
        server.collect = True
        window_end = t0 + args.measure
        while time.monotonic() < window_end and server.last.get("bridged", 0) >= result.max_bridged:
            result.max_bridged = max(result.max_bridged, server.last.get("bridged", 0))
            await asyncio.sleep(0.1)
        server.collect = False
        (user1, sys1), t1 = cpu_split(process.pid), time.monotonic()
        result.load_avg = " ".join(f"{x:.2f}" for x in os.getloadavg())
        result.window_s = round(t1 - t0, 1)
        result.server_cores = round((user1 + sys1 - user0 - sys0) / (t1 - t0), 3)
        result.server_sys_share = round((sys1 - sys0) / max(1e-9, user1 + sys1 - user0 - sys0), 2)
        result.bridged_per_core = round(result.max_bridged / result.server_cores, 1) if result.server_cores else 0.0
        result.tick_p50_ms = round(percentile(server.late_ms, 50), 2)
        result.tick_p99_ms = round(percentile(server.late_ms, 99), 2)
        result.tick_max_ms = round(max(server.late_ms, default=0.0), 2)
        result.skipped_ticks = int(server.last.get("skipped", 0))
        if len(server.relayed_at) >= 2:
            (ta, ra), (tb, rb) = server.relayed_at[0], server.relayed_at[-1]
            result.relayed_pps = round((rb - ra) / (tb - ta), 0) if tb > ta else 0.0
        process.send_signal(signal.SIGUSR1)  # the server hangs up every caller: sipp's calls complete
        await asyncio.wait_for(caller.wait(), 120)
        result.completed, result.failed = sipp_counts(run_dir)
        result.failed = max(result.failed, calls - result.completed)
        try:
            await server.until(lambda s: s.get("calls", 1) == 0 and s.get("legs", 1) == 0, 30, "every call to end")
        except TimeoutError as error:
            result.notes.append(f"calls left over: {error}")
        result.server_cpu_total_s = round(cpu_seconds(process.pid), 1)
    finally:
        for proc in sipp_procs:
            if proc.returncode is None:
                proc.terminate()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), 5)
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
        await server.stop()
        log.close()
    return result


def print_result(result: Result) -> None:
    print(f"calls={result.calls:4d} db={result.db} loop={result.loop:8s} completed={result.completed} "
          f"failed={result.failed} "
          f"bridged={result.max_bridged} window={result.window_s}s server_cpu={result.server_cores:.2f} cores "
          f"(sys {result.server_sys_share:.0%}) "
          f"bridged/core={result.bridged_per_core:.0f} tick p50={result.tick_p50_ms}ms p99={result.tick_p99_ms}ms "
          f"max={result.tick_max_ms}ms skipped={result.skipped_ticks} relayed={result.relayed_pps:.0f} pkt/s "
          f"all_bridged_after={result.all_bridged_after_s}s load_avg={result.load_avg}", flush=True)
    for note in result.notes:
        print(f"  note: {note}", flush=True)


async def main_async(args: argparse.Namespace) -> int:
    for tool in ("sipp",):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed (apt-get install sip-tester)", file=sys.stderr)
            return 2
    results = []
    with tempfile.TemporaryDirectory(prefix="madoguchi-voice-load-") as tmp:
        for calls in args.calls:
            try:
                result = await run_one(calls, args, Path(tmp))
            finally:
                if args.keep:
                    shutil.copytree(tmp, args.keep, dirs_exist_ok=True)
            print_result(result)
            results.append(result)
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
    return 0 if all(r.failed == 0 for r in results) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=lambda s: [int(x) for x in s.split(",")], default=[100, 200, 400])
    parser.add_argument("--rate", type=float, default=10.0, help="new calls per second")
    parser.add_argument("--measure", type=float, default=15.0, help="seconds measured with all calls bridged")
    parser.add_argument("--setup-margin", type=float, default=60.0,
                        help="seconds after the last call placed by which all must be bridged")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="where to create (and drop) each run's PostgreSQL database")
    parser.add_argument("--pg-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/{name}")
    parser.add_argument("--prompts-dir", type=Path, default=Path(tempfile.gettempdir()) / "madoguchi-bench-prompts")
    parser.add_argument("--keep", type=Path, default=None, help="copy the run directories (sipp logs) here")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--profile", type=Path, default=None, help="write the server's cProfile stats here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.loop, args.profile)
        return 0
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
