"""A small load through the whole voice path, as CI's own load test (the big runs are
bench/voice_load.py): a real server process, sipp registering the agents' phones with digest auth
and answering as them with RTP echo, sipp placing the calls through the IVR (DTMF) into the queue.
Every call must be bridged to an agent at the same time, complete, and end as a contact."""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sqlite3
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.support import require_service

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.e2e
CALLS = 20


def voice_load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("voice_load", ROOT / "bench" / "voice_load.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("voice_load", module)  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


async def test_twenty_concurrent_calls_through_ivr_queue_and_agents_all_complete(tmp_path: Path) -> None:
    require_service("sipp", shutil.which("sipp") is not None, "apt-get install sip-tester")
    bench = voice_load()
    args = argparse.Namespace(rate=10.0, measure=2.0, setup_margin=40.0, loop="asyncio",
                              prompts_dir=tmp_path / "prompts", profile=None)
    result = await bench.run_one(CALLS, args, tmp_path)

    assert (result.completed, result.failed) == (CALLS, 0), result
    assert result.max_bridged == CALLS, result  # all at once, each to its own agent's phone
    assert result.relayed_pps > 0
    with sqlite3.connect(tmp_path / f"calls-{CALLS}" / "load.db") as db:
        calls = db.execute("SELECT digits, agent_id, bridged_at IS NOT NULL, state FROM voice_calls "
                           "WHERE callee = 'load'").fetchall()
        ended_by = db.execute("SELECT c.ended_by, count(*) FROM contacts c JOIN voice_calls v ON v.contact_id = c.id "
                              "GROUP BY c.ended_by").fetchall()
    assert len(calls) == CALLS
    assert {(digits, bridged, state) for digits, _, bridged, state in calls} == {("1", 1, "ended")}
    assert all(agent is not None for _, agent, _, _ in calls)
    # Voice capacity is one: twenty calls bridged at once are twenty different agents.
    assert len({agent for _, agent, _, _ in calls}) == CALLS
    assert ended_by == [("customer", CALLS)]
