"""Memory of the scenario engine as draws grow: peak traced memory side by side.

Runs the same scenario with 100, 400 and 1,600 draws in this process (one worker, so
every allocation is traced) and prints the peak memory each run allocated on top of what
was already in use, and its ratio to the 100-draw run. The engine keeps one chunk's
arrays at a time plus a few numbers per draw, so the peak should stay nearly flat while
the draws grow 16-fold.

Usage: python benchmarks/bench_engine_memory.py [--scenario shortfall_60]
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc

from reachplan.scenarios.plan_io import load_plan
from reachplan.scenarios.scenario_io import load_scenario
from reachplan.scenarios.simulation_io import load_initial_state
from reachplan.solver.batch import run_scenario


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", default="shortfall_60")
    args = parser.parse_args()
    plan = load_plan().plan
    assert plan is not None
    initial = load_initial_state()
    # build and cache the model once so that every run below measures the same thing
    run_scenario(plan, load_scenario(args.scenario, draws=50), initial)
    rows = []
    for draws in (100, 400, 1600):
        scenario = load_scenario(args.scenario, draws=draws)
        gc.collect()
        tracemalloc.start()
        t0 = time.perf_counter()
        run = run_scenario(plan, scenario, initial)
        seconds = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rows.append((draws, peak / 2**20, seconds, run.people_reached.mean()))
    base = rows[0][1]
    print(f"scenario {args.scenario}, one worker")
    header = ("draws", "peak MiB", "x 100-draw peak", "seconds", "people (mean)")
    print(f"{header[0]:>6} {header[1]:>9} {header[2]:>16} {header[3]:>8} {header[4]:>14}")
    for draws, mib, seconds, people in rows:
        print(f"{draws:>6} {mib:>9.1f} {mib / base:>16.2f} {seconds:>8.1f} {people:>14,.0f}")
    print(f"memory_ratio_1600_vs_100: {rows[-1][1] / base:.2f}x for 16x the draws")


if __name__ == "__main__":
    main()
