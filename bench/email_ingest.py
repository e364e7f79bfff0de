"""Email ingest benchmark: messages per second from SMTP receipt to committed contact.

    .venv/bin/python bench/email_ingest.py [--db sqlite|postgres|both] [--messages 2000] [--senders 8]

For each database it starts a real ``madoguchi serve --demo`` process with its SMTP listener on a
free port, then several sender processes (smtplib, one connection each, like a relay would) send
``--messages`` distinct emails to support@demo.madoguchi.test. The clock runs from the first
``MAIL FROM`` until the last message is a committed contact in the database (its receipt
``processed``). Each message comes from its own address (a new customer, a new case, queued in
Support, an auto-acknowledgement in the outbox), so this is the full inbound path, not a dedupe.
Also printed: the latency from receipt (raw bytes committed) to contact committed, p50 and p99.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.utils
import multiprocessing as mp
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from email import policy
from email.message import EmailMessage
from pathlib import Path

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

ROOT = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("MADOGUCHI_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
TO = "support@demo.madoguchi.test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def message(n: int) -> bytes:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = f"Customer {n} <customer{n}@bench.example>"
    msg["To"] = TO
    msg["Subject"] = f"注文番号 {n} の配送について" if n % 2 else f"Order {n}: where is it?"
    msg["Message-ID"] = email.utils.make_msgid(idstring=str(n), domain="bench.example")
    msg["Date"] = email.utils.formatdate()
    body = ("いつもお世話になっております。注文した商品がまだ届きません。確認をお願いします。\n" * 5 if n % 2
            else "Hello, my order has not arrived yet. Could you check, please?\n" * 5)
    msg.set_content(body, charset="iso-2022-jp" if n % 4 == 1 else "utf-8")
    if n % 3 == 0:
        msg.add_alternative(f"<p>{body.replace(chr(10), '<br>')}</p>", subtype="html")
    return msg.as_bytes()


def sender(port: int, numbers: list[int], ready: mp.Event, go: mp.Event) -> None:  # type: ignore[valid-type]
    payloads = [(n, message(n)) for n in numbers]
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        ready.set()
        go.wait()
        for n, raw in payloads:
            client.sendmail(f"customer{n}@bench.example", [TO], raw)


async def wait_http(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited")
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        await asyncio.sleep(0.2)
    raise RuntimeError("the server did not start")


def spawn(url: str, workdir: Path, http_port: int, smtp_port: int, profile: Path | None) -> subprocess.Popen[bytes]:
    # Other listeners of the demo (SIP) stay off: only the SMTP path is measured.
    env = {**os.environ, "MADOGUCHI_DATABASE_URL": url, "MADOGUCHI_SMTP_PORT": str(smtp_port),
           "MADOGUCHI_SIP_PORT": "", "MADOGUCHI_LOG_LEVEL": "WARNING"}
    argv = ["serve", "--demo", "--port", str(http_port)]
    if profile is None:
        command = [sys.executable, "-m", "madoguchi.cli", *argv]
    else:
        # Uvicorn raises SIGTERM again after its graceful shutdown; turning it into SystemExit lets
        # cProfile write its file.
        command = [sys.executable, "-c", PROFILED, str(profile), *argv]
    return subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.DEVNULL)


PROFILED = """
import cProfile, signal, sys
from madoguchi.cli import main
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
out, sys.argv = sys.argv[1], ["madoguchi", *sys.argv[2:]]
profiler = cProfile.Profile()
try:
    profiler.runcall(main)
except SystemExit:
    pass
finally:
    profiler.dump_stats(out)
"""


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc; fields 14 and 15 of stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def count_done(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        done = (await conn.execute(text("SELECT count(*) FROM email_inbound WHERE status != 'received'"))).scalar()
        return int(done or 0)


async def latencies(url: str) -> list[float]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT received_at, processed_at FROM email_inbound "
                                            "WHERE processed_at IS NOT NULL"))).all()
    finally:
        await engine.dispose()
    from madoguchi.kernel.clock import as_utc

    def parse(value: object) -> float:
        if isinstance(value, str):
            from datetime import datetime
            value = datetime.fromisoformat(value)
        return as_utc(value).timestamp()  # type: ignore[arg-type]

    return sorted(parse(b) - parse(a) for a, b in rows)


async def run(db: str, count: int, senders: int, profile: Path | None = None) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix="mdg-bench-email-"))
    pg_name = None
    if db == "sqlite":
        url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    else:
        pg_name = f"mdg_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(PG_URL)
        await admin.execute(f'CREATE DATABASE "{pg_name}"')
        await admin.close()
        url = "postgresql+asyncpg://" + PG_URL.split("://", 1)[1].rsplit("/", 1)[0] + "/" + pg_name
    http_port, smtp_port = free_port(), free_port()
    proc = spawn(url, workdir, http_port, smtp_port, profile.with_suffix(f".{db}.prof") if profile else None)
    try:
        await wait_http(http_port, proc)
        ctx = mp.get_context("spawn")
        ready = [ctx.Event() for _ in range(senders)]
        go = ctx.Event()
        shares = [list(range(i, count, senders)) for i in range(senders)]
        procs = [ctx.Process(target=sender, args=(smtp_port, share, r, go)) for share, r in zip(shares, ready,
                                                                                                strict=True)]
        for p in procs:
            p.start()
        for r in ready:
            r.wait(60)
        cpu_before = process_cpu_s(proc.pid)
        started = time.perf_counter()
        go.set()
        # One engine for the polling, so the measuring process takes little of the CPU it measures.
        watcher = create_async_engine(url)
        try:
            while (done := await count_done(watcher)) < count:
                if time.perf_counter() - started > 600:
                    raise RuntimeError(f"only {done} of {count} processed")
                await asyncio.sleep(0.1)
        finally:
            await watcher.dispose()
        elapsed = time.perf_counter() - started
        cpu_s = process_cpu_s(proc.pid) - cpu_before
        for p in procs:
            p.join(30)
        lat = await latencies(url)
        return {"messages": count, "seconds": elapsed, "per_second": count / elapsed,
                "server_cpu_ms_per_message": 1000 * cpu_s / count,
                "p50_ms": 1000 * lat[len(lat) // 2], "p99_ms": 1000 * lat[int(len(lat) * 0.99) - 1]}
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(20)
        shutil.rmtree(workdir, ignore_errors=True)
        if pg_name:
            admin = await asyncpg.connect(PG_URL)
            await admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
            await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--profile", type=Path, help="run the server under cProfile, writing PATH.<db>.prof")
    args = parser.parse_args()
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    print(f"email ingest: {args.messages} messages, {args.senders} SMTP connections, {os.cpu_count()} CPUs")
    for db in dbs:
        result = asyncio.run(run(db, args.messages, args.senders, args.profile))
        print(f"{db:<9} {result['per_second']:8.1f} messages/s  ({result['messages']} in {result['seconds']:.2f} s; "
              f"receipt→contact p50 {result['p50_ms']:.0f} ms, p99 {result['p99_ms']:.0f} ms; "
              f"server CPU {result['server_cpu_ms_per_message']:.2f} ms per message)")


if __name__ == "__main__":
    main()
