"""RTP relay cost per packet, the media engine alone (no SIP, no database).

    .venv/bin/python bench/rtp_relay.py [--pairs 400] [--seconds 10] [--loop uvloop|asyncio]

Opens ``--pairs`` bridged leg pairs on the real ``MediaEngine`` (loopback UDP, ports from a
private range). A separate process plays the far ends: one socket per far end sends G.711 frames
of 160 bytes to its leg at 50 packets/s (both directions of every pair, paced in 20 ms rounds like
phones), and counts what comes back relayed. Printed: packets relayed per second, the engine
process's CPU (user and system separately, from ``os.times``), microseconds of CPU per relayed
packet, and what that means in bridged calls per core (a call relays 100 packets/s). The media
clock runs as in the server, so its tick lateness under this load is printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import socket
import struct
import time
from typing import Any

from madoguchi.channels.voice.media import MediaEngine, parse_networks
from madoguchi.channels.voice.sdp import MediaChoice

PACKET_S = 0.020


def far_ends(ports: list[int], ready: Any, go: Any, seconds: float, out: Any) -> None:
    """One socket per far end; each sends one packet per 20 ms round to its leg."""
    sockets = []
    for _ in ports:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        sockets.append(sock)
    out.put([s.getsockname()[1] for s in sockets])
    ready.set()
    go.wait()
    header = struct.Struct("!BBHII")
    payload = bytes([0xD5]) * 160
    received = 0
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < seconds:
        for i, (sock, port) in enumerate(zip(sockets, ports, strict=True)):
            sock.sendto(header.pack(0x80, 8, n & 0xFFFF, (n * 160) & 0xFFFFFFFF, i) + payload, ("127.0.0.1", port))
        n += 1
        for sock in sockets:  # drain what came back relayed
            while True:
                try:
                    sock.recv(2048)
                    received += 1
                except BlockingIOError:
                    break
        delay = start + n * PACKET_S - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    out.put({"sent": n * len(sockets), "received": received})


async def run(pairs: int, seconds: float) -> dict[str, float]:
    engine = MediaEngine(host="127.0.0.1", ports=(40000, 40000 + 4 * pairs + 100),
                         allowed_networks=parse_networks("127.0.0.0/8"))
    engine.start()
    legs = [await engine.open_leg() for _ in range(2 * pairs)]
    ctx = mp.get_context("spawn")
    ready, go, queue = ctx.Event(), ctx.Event(), ctx.Queue()
    process = ctx.Process(target=far_ends, args=([leg.local_port for leg in legs], ready, go, seconds, queue))
    process.start()
    remote_ports: list[int] = await asyncio.to_thread(queue.get)
    for leg, port in zip(legs, remote_ports, strict=True):
        leg.connect(MediaChoice(8, "PCMA", 101, "127.0.0.1", port, "sendrecv"))
    for a, b in zip(legs[0::2], legs[1::2], strict=True):
        a.peer, b.peer = b, a
    await asyncio.to_thread(ready.wait)
    await asyncio.sleep(0.5)
    engine.clock.lateness.samples.clear()
    before, relayed_before, wall = os.times(), engine.relayed, time.monotonic()
    go.set()
    counts = await asyncio.to_thread(queue.get)
    after, relayed, wall = os.times(), engine.relayed - relayed_before, time.monotonic() - wall
    process.join()
    user, system = after.user - before.user, after.system - before.system
    for leg in legs:
        leg.close()
    await engine.stop()
    cpu = user + system
    return {"pairs": pairs, "relayed_per_s": relayed / wall, "cpu_cores": cpu / wall,
            "user_share": user / cpu if cpu else 0.0, "us_per_packet": 1e6 * cpu / max(1, relayed),
            "calls_per_core": (relayed / wall / 100) / (cpu / wall) if cpu else 0.0,
            "tick_p99_ms": 1000 * engine.clock.lateness.percentile(99),
            "lost": 1 - counts["received"] / max(1, counts["sent"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop
        result = uvloop.run(run(args.pairs, args.seconds))
    else:
        result = asyncio.run(run(args.pairs, args.seconds))
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}))


if __name__ == "__main__":
    main()
