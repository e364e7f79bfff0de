"""``madoguchi simulate`` and ``madoguchi staffing``: no database, figures on stdout.

Contracts (``--json``):

* ``simulate`` prints at least ``p_wait, service_level, asa, abandon_rate, occupancy, contacts`` of an
  M/M/N (+M with ``--patience``) queue run through the Router, and ``expected``: the same figures
  from Erlang C (or Erlang A) for comparison.
* ``staffing`` prints at least ``agents, scheduled, service_level, p_wait, asa, occupancy`` for the
  fewest agents that meet ``--target``: Erlang C, or Erlang A with ``--patience``.

Bad arguments end with a one-line error and exit status 2, as argparse does.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable
from typing import Any

from madoguchi.settings import Settings
from madoguchi.workforce import erlang
from madoguchi.workforce.kpis import finite_or_none
from madoguchi.workforce.models import AgentGroup, Arrivals, Distribution, Exponential, LogNormal, QueueModel, Scenario
from madoguchi.workforce.simulator import run as simulate_scenario

MAX_AGENTS = 100_000
MAX_CONTACTS = 50_000_000


def _number(*, low: float, high: float = math.inf, low_open: bool = False, high_open: bool = False,
            integer: bool = False) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(int(text)) if integer else float(text)
        except ValueError:
            kind = "a whole number" if integer else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
        if (not math.isfinite(value) or value < low or (low_open and value == low) or value > high
                or (high_open and value == high)):
            bound = f"{'>' if low_open else '≥'} {low:g}"
            if math.isfinite(high):
                bound += f" and {'<' if high_open else '≤'} {high:g}"
            raise argparse.ArgumentTypeError(f"{text} is out of range (must be {bound})")
        return value
    return parse


def _whole(*, low: int, high: int) -> Callable[[str], int]:
    check = _number(low=low, high=high, integer=True)

    def parse(text: str) -> int:
        return int(check(text))
    return parse


_positive = _number(low=0.0, low_open=True, high=1e9)
_seconds = _number(low=0.0, high=1e9)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = subparsers.add_parser("simulate", help="simulate an M/M/N(+M) queue through the Router",
                                description="Discrete-event simulation of one queue (Poisson arrivals, exponential "
                                            "or log-normal handle times, exponential patience) routed by the ACD.")
    sim.add_argument("--agents", type=_whole(low=1, high=MAX_AGENTS), required=True, metavar="N")
    sim.add_argument("--erlangs", type=_positive, required=True, metavar="A", help="offered load")
    sim.add_argument("--aht", type=_positive, required=True, metavar="SECONDS", help="mean handle time")
    sim.add_argument("--contacts", type=_whole(low=1, high=MAX_CONTACTS), required=True, metavar="K")
    sim.add_argument("--patience", type=_positive, metavar="SECONDS", help="mean patience (exponential)")
    sim.add_argument("--handle-sd", type=_positive, metavar="SECONDS",
                     help="log-normal handle times with this standard deviation (default: exponential)")
    sim.add_argument("--seed", type=_whole(low=0, high=2**63 - 1), default=1)
    sim.add_argument("--answer-time", type=_seconds, default=20.0, metavar="SECONDS")
    sim.add_argument("--json", action="store_true", help="print JSON")
    sim.set_defaults(run=run_simulate)

    staff = subparsers.add_parser("staffing", help="agents needed for a service-level target (Erlang C / A)",
                                  description="Fewest agents whose service level meets the target: Erlang C, "
                                              "or Erlang A when --patience is given; shrinkage gives scheduled staff.")
    staff.add_argument("--calls", type=_number(low=0.0, high=1e9), required=True, metavar="C",
                       help="contacts per interval")
    staff.add_argument("--interval", type=_positive, default=1800.0, metavar="SECONDS")
    staff.add_argument("--aht", type=_positive, required=True, metavar="SECONDS")
    staff.add_argument("--target", type=_number(low=0.0, high=1.0, low_open=True, high_open=True), required=True,
                       help="service level to reach, a fraction below 1 (0.8)")
    staff.add_argument("--answer-time", type=_seconds, default=20.0, metavar="SECONDS")
    staff.add_argument("--shrinkage", type=_number(low=0.0, high=1.0, high_open=True), default=0.0,
                       help="a fraction (0.3)")
    staff.add_argument("--patience", type=_positive, metavar="SECONDS", help="mean patience: use Erlang A")
    staff.add_argument("--json", action="store_true", help="print JSON")
    staff.set_defaults(run=run_staffing)


def run_simulate(args: argparse.Namespace, settings: Settings) -> int:
    handle: Distribution = LogNormal(args.aht, args.handle_sd) if args.handle_sd else Exponential(args.aht)
    scenario = Scenario(
        queues=(QueueModel(queue_id=1, arrivals=Arrivals(rates_per_s=(args.erlangs / args.aht,)), handle=handle,
                           patience=Exponential(args.patience) if args.patience else None),),
        agents=(AgentGroup(count=args.agents, queue_ids=frozenset({1})),),
        contacts=args.contacts, answer_time_s=args.answer_time, seed=args.seed)
    started = time.perf_counter()
    result = simulate_scenario(scenario)
    elapsed = time.perf_counter() - started
    expected = _expected(args)
    kpis = result.total
    out: dict[str, Any] = {
        "contacts": kpis.contacts, "p_wait": kpis.p_wait, "service_level": kpis.service_level, "asa": kpis.asa,
        "abandon_rate": kpis.abandon_rate, "occupancy": result.occupancy, "handled": kpis.handled,
        "abandoned": kpis.abandoned, "short_abandons": kpis.short_abandons, "average_wait": kpis.average_wait,
        "aht": kpis.aht, "longest_wait": kpis.longest_wait, "agents": args.agents, "erlangs": args.erlangs,
        "answer_time": args.answer_time, "seed": args.seed,
        "model": "erlang_a" if args.patience else "erlang_c",
        "expected": {"p_wait": expected.p_wait, "service_level": expected.service_level,
                     "asa": finite_or_none(expected.asa), "abandon_rate": expected.abandon_rate,
                     "occupancy": expected.occupancy},
    }
    if args.json:
        print(json.dumps(out))
        return 0
    model = "Erlang A" if args.patience else "Erlang C"
    print(f"{kpis.contacts:,} contacts, {args.agents} agents, {args.erlangs:g} Erlangs, AHT {args.aht:g} s"
          f" — simulated in {elapsed:.2f} s ({kpis.contacts / elapsed:,.0f} contacts/s)")
    print(f"{'':16}{'simulated':>12}{model:>12}"
          + ("   (Erlang assumes exponential handle times)" if args.handle_sd else ""))
    rows = [("P(wait)", kpis.p_wait, expected.p_wait, "%"),
            (f"SL {args.answer_time:g} s", kpis.service_level, expected.service_level, "%"),
            ("ASA", kpis.asa, expected.asa, "s"),
            ("abandon rate", kpis.abandon_rate, expected.abandon_rate, "%"),
            ("occupancy", result.occupancy, expected.occupancy, "%")]
    for label, got, want, unit in rows:
        print(f"{label:<16}{_fmt(got, unit):>12}{_fmt(want, unit):>12}")
    return 0


def _expected(args: argparse.Namespace) -> erlang.QueueMetrics:
    if args.patience:
        return erlang.erlang_a_metrics(args.agents, args.erlangs, aht_s=args.aht, patience_s=args.patience,
                                       answer_time_s=args.answer_time)
    return erlang.erlang_c_metrics(args.agents, args.erlangs, aht_s=args.aht, answer_time_s=args.answer_time)


def run_staffing(args: argparse.Namespace, settings: Settings) -> int:
    load = erlang.offered_load(calls=args.calls, interval_s=args.interval, aht_s=args.aht)
    metrics = erlang.required_agents(load, aht_s=args.aht, answer_time_s=args.answer_time, target=args.target,
                                     patience_s=args.patience)
    scheduled = erlang.scheduled_agents(metrics.agents, args.shrinkage)
    out: dict[str, Any] = {
        "agents": metrics.agents, "scheduled": scheduled, "service_level": metrics.service_level,
        "p_wait": metrics.p_wait, "asa": finite_or_none(metrics.asa), "occupancy": metrics.occupancy,
        "abandon_rate": metrics.abandon_rate, "erlangs": load, "model": "erlang_a" if args.patience else "erlang_c",
        "calls": args.calls, "interval": args.interval, "aht": args.aht, "target": args.target,
        "answer_time": args.answer_time, "shrinkage": args.shrinkage, "patience": args.patience,
    }
    if args.json:
        print(json.dumps(out))
        return 0
    model = "Erlang A" if args.patience else "Erlang C"
    print(f"{args.calls:g} contacts per {args.interval:g} s, AHT {args.aht:g} s: {load:.4g} Erlangs ({model})")
    print(f"  agents needed     {metrics.agents}")
    print(f"  scheduled         {scheduled}  (shrinkage {args.shrinkage:.0%})")
    print(f"  service level     {metrics.service_level:.2%} answered within {args.answer_time:g} s"
          f" (target {args.target:.0%})")
    print(f"  P(wait)           {metrics.p_wait:.4f}")
    print(f"  ASA               {_fmt(metrics.asa, 's')}")
    print(f"  occupancy         {metrics.occupancy:.1%}")
    if args.patience:
        print(f"  abandon rate      {metrics.abandon_rate:.2%}")
    return 0


def _fmt(value: float, unit: str) -> str:
    if not math.isfinite(value):
        return "∞"
    return f"{value:.2%}" if unit == "%" else f"{value:.2f} s"
