"""The RTP media engine: a port pool, one RTP endpoint per call leg, one 20 ms media clock for
all legs (playback), arrival-driven relay between bridged legs, and recording taps."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import secrets
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from madoguchi.channels.voice import g711
from madoguchi.channels.voice.audio import Prompt
from madoguchi.channels.voice.dtmf import DtmfDetector
from madoguchi.channels.voice.mixer import Mixer
from madoguchi.channels.voice.rtp import ReceiveStats, RtpError, parse_rtp
from madoguchi.channels.voice.sdp import MediaChoice

logger = logging.getLogger(__name__)

TICK_S = 0.020
_FIXED = struct.Struct("!BBHI")        # RFC 3550 §5.1: V/P/X/CC, M/PT, sequence, timestamp
_FIXED_SSRC = struct.Struct("!BBHII")  # … and SSRC: the whole 12-byte fixed header
MAX_CATCH_UP_S = 0.100
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
DEFAULT_NETWORKS = "127.0.0.0/8,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,::1/128"


def parse_networks(text: str) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


def parse_port_range(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    start, end = int(low), int(high or low)
    if not (1024 <= start <= end <= 65535):
        raise ValueError(f"bad RTP port range {text!r}")
    return start, end


class NoMediaPort(RuntimeError):
    """Every port of the range is taken (the call gets 503)."""


class PortPool:
    """Even ports (RFC 3550 §11) from a range, handed out round robin."""

    def __init__(self, start: int, end: int) -> None:
        self._free: deque[int] = deque(p for p in range(start + start % 2, end + 1, 2))
        self._used: set[int] = set()

    def acquire(self) -> int:
        for _ in range(len(self._free)):
            port = self._free.popleft()
            if port not in self._used:
                self._used.add(port)
                return port
        raise NoMediaPort("no free RTP port")

    def release(self, port: int) -> None:
        if port in self._used:
            self._used.discard(port)
            self._free.append(port)

    @property
    def in_use(self) -> int:
        return len(self._used)


class Lateness:
    """Tick lateness samples of the last minute, for p50/p99/max."""

    def __init__(self, keep: int = 3000) -> None:
        self.samples: deque[float] = deque(maxlen=keep)
        self.ticks = 0
        self.skipped = 0

    def add(self, late_s: float) -> None:
        self.ticks += 1
        self.samples.append(late_s)

    def percentile(self, p: float) -> float:
        if not self.samples:
            return 0.0
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


class Ticking(Protocol):
    def tick(self) -> None: ...


class MediaClock:
    """One thread ticks every 20 ms against absolute times, so lateness never accumulates.

    A thread of its own, not a task: the event loop also runs the API, the router, reports and the
    database, and a task's tick waits behind whatever callback holds the loop (tens of ms under
    load). The thread sleeps outside the GIL and gets it back within the interpreter's switch
    interval, so prompts and music keep time whatever the loop is doing. Subscribers' ``tick``
    therefore runs on this thread: it may only send (a UDP send on the leg's own socket) and hand
    anything else to the loop with ``call_soon_threadsafe``.

    Times come from ``time.monotonic`` (uvloop's loop time is cached in whole milliseconds, too
    coarse to measure a 20 ms tick's lateness)."""

    def __init__(self) -> None:
        self.lateness = Lateness()
        self._subscribers: dict[Ticking, None] = {}  # insertion-ordered set: playing legs, conferences
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def add(self, subscriber: Ticking) -> None:
        self._subscribers[subscriber] = None

    def discard(self, subscriber: Ticking) -> None:
        self._subscribers.pop(subscriber, None)

    def start(self) -> None:
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="madoguchi-media-clock", daemon=True)
            self._thread.start()

    async def stop(self) -> None:
        if self._thread is not None:
            self._stopping.set()
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    def _run(self) -> None:
        now = time.monotonic
        start = now()
        n = 0
        while not self._stopping.is_set():
            n += 1
            target = start + n * TICK_S
            delay = target - now()
            if delay > 0 and self._stopping.wait(delay):
                return
            late = now() - target
            self.lateness.add(late if late > 0 else 0.0)
            if late > MAX_CATCH_UP_S:  # skip missed frames instead of bursting them
                skipped = int(late / TICK_S)
                self.lateness.skipped += skipped
                n += skipped
            for subscriber in list(self._subscribers):
                try:
                    subscriber.tick()
                except Exception:
                    logger.exception("media tick of %r failed", subscriber)


@dataclass
class _Playback:
    frames: list[bytes]
    loop: bool
    done: asyncio.Future[None] | None
    index: int = 0
    finished: bool = False   # the last frame went out (the clock thread); the loop resolves ``done``


#: Audio taps for recording: (direction "in"/"out", G.711 payload, law, arrival time in monotonic s).
AudioTap = Callable[[str, bytes, str, float], None]


class RtpLeg(asyncio.DatagramProtocol):
    """One leg's RTP: receive (DTMF, stats, relay, recording) and send (relay, playback).

    The relay is the hot path (every packet of every bridged call, 50 a second each way): it reads
    the fixed header in place, copies the payload as it is (or through one 256-byte table when the
    legs' laws differ) behind our own header, and never decodes audio unless a recording taps it."""

    def __init__(self, engine: MediaEngine, local_port: int, sock: socket.socket | None = None) -> None:
        self.engine = engine
        self.local_port = local_port
        self.transport: asyncio.DatagramTransport | None = None
        self.sock = sock   # sends go straight to it: from the loop (relay) and the media clock's thread
        self._loop: asyncio.AbstractEventLoop | None = None
        self.choice: MediaChoice | None = None
        self.remote: tuple[str, int] | None = None
        self.peer: RtpLeg | None = None           # bridged: our audio goes there
        self.mixer: Mixer | None = None           # in a conference: our audio goes there instead
        self.on_digit: Callable[[str], None] | None = None
        self.on_audio: AudioTap | None = None
        self.stats = ReceiveStats()
        self.sent = 0
        self.relayed = 0
        self.dropped = 0
        self._dtmf = DtmfDetector()
        self._ssrc = secrets.randbits(32)
        self._seq = secrets.randbits(16)
        self._ts = secrets.randbits(32)
        self._playback: _Playback | None = None
        self._marker = True
        self._sending = False   # connected, transport up, direction lets us send
        self._codec = "PCMU"
        self._codec_pt = 0
        self._dtmf_pt = -1
        self._trusted: str | None = None  # the source address last found in the allowed networks
        self.closed = False

    # -- setup --
    def connect(self, choice: MediaChoice) -> None:
        self.choice = choice
        self.remote = (choice.remote_address, choice.remote_port)
        self._codec, self._codec_pt = choice.codec, choice.codec_pt
        self._dtmf_pt = choice.dtmf_pt if choice.dtmf_pt is not None else -1
        self._update_sending()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._loop = asyncio.get_running_loop()
        self._update_sending()

    def _update_sending(self) -> None:
        self._sending = (self.transport is not None and self.choice is not None and not self.closed
                         and self.choice.direction not in ("recvonly", "inactive"))

    @property
    def codec(self) -> str:
        return self._codec

    # -- receive --
    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.choice is None or len(data) < 12:
            self.dropped += 1
            return
        if addr[0] != self._trusted:
            if not self.engine.allowed(addr[0]):
                self.dropped += 1
                return
            self._trusted = addr[0]
        first, second, sequence, timestamp = _FIXED.unpack_from(data)
        payload_type = second & 0x7F
        if first != 0x80 or payload_type == self._dtmf_pt:  # CSRCs, extension, padding, or an event
            self._received_general(data)
            return
        if payload_type != self._codec_pt or first >> 6 != 2:
            self.dropped += 1
            return
        arrival = time.monotonic()
        self.stats.update_fields(sequence, timestamp, arrival)
        self._received_audio(data[12:], arrival)

    def _received_general(self, data: bytes) -> None:
        try:
            packet = parse_rtp(data)
        except RtpError:
            self.dropped += 1
            return
        if packet.payload_type == self._dtmf_pt:
            for digit in self._dtmf.feed(packet):
                if self.on_digit is not None:
                    self.on_digit(digit)
            return
        if packet.payload_type != self._codec_pt:
            self.dropped += 1
            return
        arrival = time.monotonic()
        self.stats.update(packet, arrival)
        self._received_audio(packet.payload, arrival)

    def _received_audio(self, payload: bytes, arrival: float) -> None:
        if self.on_audio is not None:
            self.on_audio("in", payload, self._codec, arrival)
        if self.mixer is not None:
            self.mixer.put(self, payload)
            return
        peer = self.peer
        if peer is not None and peer._playback is None:
            if peer._codec != self._codec:
                payload = g711.transcode(payload, self._codec, peer._codec)
            peer.send_audio(payload)
            self.relayed += 1
            self.engine.relayed += 1

    def error_received(self, exc: Exception) -> None:
        logger.debug("RTP socket error on %s: %s", self.local_port, exc)

    # -- send --
    def send_audio(self, payload: bytes) -> None:
        """One frame of our own stream: our SSRC, sequence and timestamp (RFC 3550 §5.1)."""
        if not self._sending:
            return
        second = self._codec_pt | 0x80 if self._marker else self._codec_pt
        self._marker = False
        packet = _FIXED_SSRC.pack(0x80, second, self._seq, self._ts, self._ssrc) + payload
        try:
            if self.sock is not None:
                self.sock.sendto(packet, self.remote)  # type: ignore[arg-type]
            else:
                self.transport.sendto(packet, self.remote)  # type: ignore[union-attr]
        except OSError:  # a full socket buffer (a lost frame, as on the wire) or a leg closing meanwhile
            self.dropped += 1
            return
        self._seq = (self._seq + 1) & 0xFFFF
        self._ts = (self._ts + len(payload)) & 0xFFFFFFFF  # G.711: one byte per sample
        self.sent += 1
        if self.on_audio is not None:
            self.on_audio("out", payload, self._codec, time.monotonic())

    def play(self, prompt: Prompt, *, loop: bool = False) -> asyncio.Future[None]:
        """Play on the media clock; the future resolves at the end (never, for a loop, until stopped)."""
        self.stop_playback()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._playback = _Playback(prompt.frames(self.codec), loop, done)
        self._marker = True
        self.engine.clock.add(self)
        return done

    def stop_playback(self) -> None:
        playback, self._playback = self._playback, None
        self.engine.clock.discard(self)
        if playback is not None and playback.done is not None and not playback.done.done():
            playback.done.set_result(None)
        self._marker = True

    @property
    def playing(self) -> bool:
        return self._playback is not None

    def tick(self) -> None:
        """On the media clock's thread: the next frame of what is playing."""
        playback = self._playback
        if playback is None or playback.finished:
            return
        if playback.index >= len(playback.frames):
            if playback.loop and playback.frames:
                playback.index = 0
            else:
                playback.finished = True
                self.engine.clock.discard(self)
                if self._loop is not None:
                    with contextlib.suppress(RuntimeError):  # the loop is closing: nobody waits any more
                        self._loop.call_soon_threadsafe(self._played, playback)
                return
        self.send_audio(playback.frames[playback.index])
        playback.index += 1

    def _played(self, playback: _Playback) -> None:
        """On the loop: a prompt has played to its end."""
        if self._playback is playback:
            self.stop_playback()
        elif playback.done is not None and not playback.done.done():
            playback.done.set_result(None)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._sending = False
        self.stop_playback()
        for digit in self._dtmf.flush():
            if self.on_digit is not None:
                self.on_digit(digit)
        self.peer = None
        if self.mixer is not None:
            self.engine.leave_conference(self)
        if self.transport is not None:
            self.transport.close()
        self.engine.ports.release(self.local_port)


class MediaEngine:
    def __init__(self, *, host: str, ports: tuple[int, int], allowed_networks: tuple[Network, ...]) -> None:
        self.host = host
        self.ports = PortPool(*ports)
        self.networks = allowed_networks
        self.clock = MediaClock()
        self.relayed = 0  # packets relayed between bridged legs, all legs together
        self._allowed: dict[str, bool] = {}

    def allowed(self, address: str) -> bool:
        known = self._allowed.get(address)
        if known is None:
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                return False
            known = any(ip in net for net in self.networks)
            if len(self._allowed) < 4096:  # remembered per address; a flood of sources is not
                self._allowed[address] = known
        return known

    async def open_leg(self) -> RtpLeg:
        loop = asyncio.get_running_loop()
        for _ in range(32):
            port = self.ports.acquire()
            sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.setblocking(False)
                sock.bind((self.host, port))
            except OSError:
                sock.close()
                logger.debug("RTP port %s is busy; trying another", port)
                continue  # leave it marked used: something else holds it
            leg = RtpLeg(self, port, sock)
            await loop.create_datagram_endpoint(lambda leg=leg: leg, sock=sock)  # type: ignore[misc]
            return leg
        raise NoMediaPort("no bindable RTP port")

    def conference(self, legs: list[RtpLeg]) -> Mixer:
        """Mix ``legs`` together (each leaves any bridge or conference it was in)."""
        mixer = Mixer()
        for leg in legs:
            if leg.mixer is not None:
                self.leave_conference(leg)
            leg.peer = None
            leg.mixer = mixer
            mixer.add(leg)
        self.clock.add(mixer)
        return mixer

    def leave_conference(self, leg: RtpLeg) -> None:
        mixer, leg.mixer = leg.mixer, None
        if mixer is not None:
            mixer.remove(leg)
            if not mixer.members:
                self.clock.discard(mixer)

    def start(self) -> None:
        self.clock.start()

    async def stop(self) -> None:
        await self.clock.stop()
