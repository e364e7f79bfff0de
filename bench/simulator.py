"""Simulator benchmark: contacts per second through the full AcdRouter, against the same model in
SimPy, and agreement with Erlang C (``pip install -e '.[bench]'`` for simpy).

    .venv/bin/python bench/simulator.py [--contacts 200000] [--seed 1] [--repeat 1] [--json]

Runs, each with ``--contacts`` contacts and exponential handle times (AHT 180 s):

* ``mmc110``: M/M/c with c = 110 agents and A = 100 Erlangs — madoguchi's simulator (Router, virtual
  clock, KPIs) and then a plain SimPy model of the same queue (a Resource of 110, one process per
  customer, FIFO), timed the same way, with the same seed;
* ``reference``: the callcentrehelper example (14 agents, 10 Erlangs): service level and P(wait)
  must land within 1 percentage point of Erlang C.

Speed is contacts simulated per second of wall clock (best of ``--repeat``), one core.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from typing import Any

from madoguchi.workforce.erlang import erlang_c_metrics
from madoguchi.workforce.models import AgentGroup, Arrivals, Exponential, QueueModel, Scenario
from madoguchi.workforce.simulator import run

AHT_S = 180.0
ANSWER_TIME_S = 20.0


def scenario(agents: int, load: float, contacts: int, seed: int) -> Scenario:
    return Scenario(queues=(QueueModel(queue_id=1, arrivals=Arrivals(rates_per_s=(load / AHT_S,)),
                                       handle=Exponential(AHT_S)),),
                    agents=(AgentGroup(count=agents, queue_ids=frozenset({1})),), contacts=contacts,
                    answer_time_s=ANSWER_TIME_S, seed=seed)


def simpy_mmc(agents: int, load: float, contacts: int, seed: int) -> tuple[float, float]:
    """The same M/M/c in SimPy: (service level, P(wait))."""
    import simpy

    rng = random.Random(seed)
    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=agents)
    waits: list[float] = []

    def customer(handle_s: float) -> Any:
        arrived = env.now
        with servers.request() as request:
            yield request
            waits.append(env.now - arrived)
            yield env.timeout(handle_s)

    def source() -> Any:
        for _ in range(contacts):
            yield env.timeout(rng.expovariate(load / AHT_S))
            env.process(customer(rng.expovariate(1.0 / AHT_S)))

    env.process(source())
    env.run()
    return sum(w <= ANSWER_TIME_S for w in waits) / len(waits), sum(w > 0 for w in waits) / len(waits)


def timed(repeat: int, fn: Any, *args: Any) -> tuple[float, Any]:
    """(best wall-clock seconds, result); CPU seconds of the best run land in ``CPU[fn]``."""
    best, result = float("inf"), None
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        result = fn(*args)
        elapsed = time.perf_counter() - started
        if elapsed < best:
            best = elapsed
            CPU[getattr(fn, "__name__", "?")] = time.process_time() - cpu
    return best, result


CPU: dict[str, float] = {}


def build_of_router() -> str:
    """``make compile`` (mypyc) or the Python source: the figures differ by about two."""
    from madoguchi.workforce import simulator

    return "compiled (mypyc)" if simulator.__file__ and simulator.__file__.endswith(".so") else "Python source"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    k = args.contacts

    def madoguchi() -> Any:
        return run(scenario(110, 100.0, k, args.seed))

    ours_s, ours = timed(args.repeat, madoguchi)
    simpy_s, (simpy_sl, simpy_wait) = timed(args.repeat, simpy_mmc, 110, 100.0, k, args.seed)
    erlang_110 = erlang_c_metrics(110, 100.0, aht_s=AHT_S, answer_time_s=ANSWER_TIME_S)
    ref_s, ref = timed(1, lambda: run(scenario(14, 10.0, k, args.seed)))
    erlang_14 = erlang_c_metrics(14, 10.0, aht_s=AHT_S, answer_time_s=ANSWER_TIME_S)
    ref_sl_pp = (ref.total.service_level - erlang_14.service_level) * 100
    ref_wait_pp = (ref.total.p_wait - erlang_14.p_wait) * 100
    report: dict[str, Any] = {
        "contacts": k,
        "build": build_of_router(),
        "mmc110": {"madoguchi_contacts_per_s": round(k / ours_s), "simpy_contacts_per_s": round(k / simpy_s),
                   "ratio_to_simpy": round(simpy_s / ours_s, 3),
                   "madoguchi_contacts_per_cpu_s": round(k / CPU["madoguchi"]),
                   "simpy_contacts_per_cpu_s": round(k / CPU["simpy_mmc"]),
                   "service_level": {"madoguchi": ours.total.service_level, "simpy": simpy_sl,
                                     "erlang_c": erlang_110.service_level},
                   "p_wait": {"madoguchi": ours.total.p_wait, "simpy": simpy_wait, "erlang_c": erlang_110.p_wait},
                   "occupancy": {"madoguchi": ours.occupancy, "erlang_c": erlang_110.occupancy}},
        "reference": {"contacts_per_s": round(k / ref_s), "service_level": ref.total.service_level,
                      "erlang_c_service_level": erlang_14.service_level, "p_wait": ref.total.p_wait,
                      "erlang_c_p_wait": erlang_14.p_wait, "asa": ref.total.asa, "erlang_c_asa": erlang_14.asa,
                      "service_level_diff_pp": round(ref_sl_pp, 3), "p_wait_diff_pp": round(ref_wait_pp, 3),
                      "within_1pp": abs(ref_sl_pp) <= 1 and abs(ref_wait_pp) <= 1},
    }
    if args.json:
        print(json.dumps(report))
        return
    m = report["mmc110"]
    print(f"M/M/c c=110 A=100, {k:,} contacts; Router and simulator: {report['build']}")
    print(f"  madoguchi (full AcdRouter) {m['madoguchi_contacts_per_s']:>9,} contacts/s"
          f"   SL {ours.total.service_level:.4f}  P(wait) {ours.total.p_wait:.4f}")
    print(f"  simpy                      {m['simpy_contacts_per_s']:>9,} contacts/s   SL {simpy_sl:.4f}"
          f"  P(wait) {simpy_wait:.4f}")
    print(f"  Erlang C                                           SL {erlang_110.service_level:.4f}"
          f"  P(wait) {erlang_110.p_wait:.4f}")
    print(f"  madoguchi / simpy speed: {simpy_s / ours_s:.2f}× (per CPU-second: {m['madoguchi_contacts_per_cpu_s']:,}"
          f" vs {m['simpy_contacts_per_cpu_s']:,})")
    print(f"Reference (14 agents, 10 Erlangs), {k:,} contacts, {report['reference']['contacts_per_s']:,} contacts/s")
    print(f"  SL      {ref.total.service_level:.4f} vs Erlang C {erlang_14.service_level:.4f}  ({ref_sl_pp:+.2f} pp)")
    print(f"  P(wait) {ref.total.p_wait:.4f} vs Erlang C {erlang_14.p_wait:.4f}  ({ref_wait_pp:+.2f} pp)")
    print(f"  ASA     {ref.total.asa:.2f} s vs Erlang C {erlang_14.asa:.2f} s")
    print(f"  within 1 pp: {report['reference']['within_1pp']}")


if __name__ == "__main__":
    main()
