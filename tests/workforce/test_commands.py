"""The CLI contracts of ``madoguchi staffing`` and ``madoguchi simulate``, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from madoguchi.cli import main

MADOGUCHI = str(Path(sys.executable).with_name("madoguchi"))


def madoguchi(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MADOGUCHI, *args], capture_output=True, text=True, timeout=60, check=False)


def json_of(*args: str) -> dict[str, Any]:
    done = madoguchi(*args, "--json")
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def test_staffing_reproduces_the_callcentrehelper_example() -> None:
    out = json_of("staffing", "--calls", "100", "--interval", "1800", "--aht", "180", "--target", "0.8",
                  "--answer-time", "20", "--shrinkage", "0.3")
    assert {"agents", "scheduled", "service_level", "p_wait", "asa", "occupancy"} <= out.keys()
    assert (out["agents"], out["scheduled"]) == (14, 20)
    assert round(out["service_level"] * 100, 2) == 88.84
    assert round(out["p_wait"], 4) == 0.1741
    assert round(out["asa"], 2) == 7.84
    assert round(out["occupancy"] * 100, 1) == 71.4
    assert out["model"] == "erlang_c"


def test_staffing_with_patience_uses_erlang_a() -> None:
    out = json_of("staffing", "--calls", "100", "--interval", "1800", "--aht", "180", "--target", "0.8",
                  "--answer-time", "20", "--patience", "120")
    assert out["model"] == "erlang_a"
    assert out["agents"] == out["scheduled"] < 14  # impatient callers leave: fewer agents meet 80/20
    assert out["service_level"] >= 0.8 and 0 < out["abandon_rate"] < 0.1


def test_simulate_prints_the_kpis_next_to_erlang_c() -> None:
    out = json_of("simulate", "--agents", "14", "--erlangs", "10", "--aht", "180", "--contacts", "5000",
                  "--seed", "3")
    assert {"p_wait", "service_level", "asa", "abandon_rate", "occupancy", "contacts"} <= out.keys()
    assert out["contacts"] == 5000 and out["abandon_rate"] == 0.0
    assert out["service_level"] == pytest.approx(out["expected"]["service_level"], abs=0.06)
    assert json_of("simulate", "--agents", "14", "--erlangs", "10", "--aht", "180", "--contacts", "5000",
                   "--seed", "3") == out  # a seed gives the same run


def test_simulate_with_patience_and_answer_time() -> None:
    out = json_of("simulate", "--agents", "9", "--erlangs", "10", "--aht", "180", "--contacts", "3000",
                  "--patience", "60", "--answer-time", "30")
    assert out["model"] == "erlang_a" and out["answer_time"] == 30.0
    assert 0.05 < out["abandon_rate"] < 0.5
    assert out["contacts"] == 3000


def test_readable_summaries_without_json() -> None:
    done = madoguchi("staffing", "--calls", "100", "--interval", "1800", "--aht", "180", "--target", "0.8",
                     "--shrinkage", "0.3")
    assert done.returncode == 0
    assert "agents needed     14" in done.stdout and "scheduled         20" in done.stdout
    done = madoguchi("simulate", "--agents", "3", "--erlangs", "2", "--aht", "60", "--contacts", "500")
    assert done.returncode == 0 and "Erlang C" in done.stdout and "SL 20 s" in done.stdout


@pytest.mark.parametrize("args", [
    ("staffing", "--calls", "100", "--aht", "180", "--target", "1"),
    ("staffing", "--calls", "-5", "--aht", "180", "--target", "0.8"),
    ("staffing", "--calls", "100", "--aht", "0", "--target", "0.8"),
    ("staffing", "--calls", "100", "--aht", "180", "--target", "0.8", "--shrinkage", "1"),
    ("staffing", "--calls", "lots", "--aht", "180", "--target", "0.8"),
    ("simulate", "--agents", "0", "--erlangs", "10", "--aht", "180", "--contacts", "10"),
    ("simulate", "--agents", "14", "--erlangs", "nan", "--aht", "180", "--contacts", "10"),
    ("simulate", "--agents", "14", "--erlangs", "10", "--aht", "180", "--contacts", "1.5"),
    ("simulate", "--agents", "14", "--erlangs", "10", "--aht", "180"),
])
def test_bad_arguments_exit_2_with_a_message(args: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*args, "--json"])
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert f"madoguchi {args[0]}: error: " in captured.err and captured.out == ""


def test_a_bad_argument_from_the_shell_shows_no_traceback() -> None:
    done = madoguchi("staffing", "--calls", "100", "--aht", "180", "--target", "1.5", "--json")
    assert done.returncode == 2
    assert "--target: 1.5 is out of range (must be > 0 and < 1)" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
