"""Staffing benchmark: Erlang C required agents for 1,000 half-hour intervals, ours against
pyworkforce's ``ErlangC.required_positions`` (``pip install -e '.[bench]'``).

    .venv/bin/python bench/staffing.py [--intervals 1000] [--seed 4] [--repeat 5] [--json]

The intervals draw calls uniformly in 100–5,000 per 30 min and AHT in 180–600 s (loads 10 to
1,667 Erlangs), target 80 % answered in 20 s. Both compute the same intervals; the agent counts
must be identical. Time is the best of ``--repeat`` runs (wall clock, one core; and CPU time of this
process, which a busy shared host disturbs less).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable

from madoguchi.workforce.erlang import offered_load, required_agents

INTERVAL_S = 1800.0
TARGET = 0.8
ANSWER_TIME_S = 20.0


def intervals(count: int, seed: int) -> list[tuple[int, int]]:
    rng = random.Random(seed)
    return [(rng.randint(100, 5_000), rng.randint(180, 600)) for _ in range(count)]


def ours(work: list[tuple[int, int]]) -> list[int]:
    return [required_agents(offered_load(calls=calls, interval_s=INTERVAL_S, aht_s=aht), aht_s=aht,
                            answer_time_s=ANSWER_TIME_S, target=TARGET).agents for calls, aht in work]


def pyworkforce(work: list[tuple[int, int]]) -> list[int]:
    from pyworkforce.queuing import ErlangC  # type: ignore[import-untyped]

    # pyworkforce counts in minutes; its ``asa`` is the service level's answer time.
    return [int(ErlangC(transactions=calls, aht=aht / 60, asa=ANSWER_TIME_S / 60, interval=INTERVAL_S / 60)
                .required_positions(service_level=TARGET)["raw_positions"]) for calls, aht in work]


def best_of(repeat: int, fn: Callable[[list[tuple[int, int]]], list[int]],
            work: list[tuple[int, int]]) -> tuple[float, float, list[int]]:
    """(best wall-clock seconds, best CPU seconds of this process, result)."""
    best, best_cpu, result = float("inf"), float("inf"), []
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        result = fn(work)
        best = min(best, time.perf_counter() - started)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return best, best_cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--intervals", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    work = intervals(args.intervals, args.seed)
    ours_s, ours_cpu, our_agents = best_of(args.repeat, ours, work)
    theirs_s, theirs_cpu, their_agents = best_of(max(1, args.repeat // 2), pyworkforce, work)
    mismatches = [(w, a, b) for w, a, b in zip(work, our_agents, their_agents, strict=True) if a != b]
    report = {"intervals": len(work), "ours_s": round(ours_s, 4), "pyworkforce_s": round(theirs_s, 4),
              "ours_cpu_s": round(ours_cpu, 4), "pyworkforce_cpu_s": round(theirs_cpu, 4),
              "speedup": round(theirs_s / ours_s, 1), "identical_agent_counts": not mismatches,
              "mismatches": mismatches[:10], "total_agents": sum(our_agents), "target_s": 0.03,
              "meets_target": ours_s <= 0.03}
    if args.json:
        print(json.dumps(report))
        return
    print(f"{len(work)} intervals (calls 100–5,000 per 30 min, AHT 180–600 s), target {TARGET:.0%} in "
          f"{ANSWER_TIME_S:g} s")
    print(f"  madoguchi   {ours_s * 1000:8.1f} ms   CPU {ours_cpu * 1000:6.1f} ms"
          f"   (target ≤ 30 ms: {'met' if ours_s <= 0.03 else 'MISSED'})")
    print(f"  pyworkforce {theirs_s * 1000:8.1f} ms   CPU {theirs_cpu * 1000:6.1f} ms"
          f"   ({theirs_s / ours_s:.0f}× slower)")
    print(f"  agent counts identical: {not mismatches}  ({sum(our_agents):,} agents in all)")
    for w, a, b in mismatches[:10]:
        print(f"    calls {w[0]}, AHT {w[1]} s: ours {a}, pyworkforce {b}")


if __name__ == "__main__":
    main()
