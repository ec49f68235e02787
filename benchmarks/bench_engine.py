"""Scenario engine against the naive loop: the same draws, the same objectives, the speed-up.

(a) naive: for every draw, rebuild the PuLP model from scratch with that draw's people in
    need and solve it with CBC (``PULP_CBC_CMD``), one process;
(b) engine: :func:`solver.batch.run_scenario` (one model per chunk handed to HiGHS,
    right-hand sides changed per draw, warm-started), on ``--workers`` processes.

Both run in this process, one after the other, on the same draws of the same scenario.
The objectives must agree (1e-6 relative) draw by draw. The last line printed is
``speedup_vs_naive: N.Nx`` (naive wall time / engine wall time, simulation included in both).

Usage: python benchmarks/bench_engine.py [--draws 500] [--workers 2] [--scenario shortfall_60]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pulp

from reachplan.scenarios.plan_io import load_plan
from reachplan.scenarios.scenario_io import load_scenario
from reachplan.scenarios.simulation_io import load_initial_state
from reachplan.solver.batch import (
    chunk_plan,
    draw_model,
    need_multipliers,
    prepared_model,
    run_scenario,
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scenario", default="shortfall_60")
    args = parser.parse_args()
    plan = load_plan().plan
    assert plan is not None
    scenario = load_scenario(args.scenario, draws=args.draws)
    initial = load_initial_state()
    prep = prepared_model(plan, scenario)  # not timed: only to know the need rows
    costs, need_rows = prep.costs, prep.need_rows

    t0 = time.perf_counter()
    chunks = chunk_plan(scenario.draws)
    naive = []
    for _, first, n in chunks:
        mult = need_multipliers(scenario, initial, first, n, need_rows)
        for d in range(n):
            lp = draw_model(costs, scenario.funding, need_rows, mult[d])
            lp.problem.solve(pulp.PULP_CBC_CMD(msg=False))
            naive.append(pulp.value(lp.problem.objective) * lp.units.people)
    t_naive = time.perf_counter() - t0

    t0 = time.perf_counter()
    run = run_scenario(plan, scenario, initial, workers=args.workers)
    t_engine = time.perf_counter() - t0

    naive_arr = np.array(naive)
    rel = np.abs(run.objective - naive_arr) / np.maximum(np.abs(naive_arr), 1.0)
    print(f"scenario {scenario.name}: {scenario.draws} draws, {len(need_rows)} need rows")
    print(f"naive  (rebuild + CBC per draw, 1 process): {t_naive:8.2f} s")
    print(f"engine (fast path, {args.workers} workers):          {t_engine:8.2f} s")
    print(f"largest relative objective difference: {rel.max():.2e}")
    if rel.max() > 1e-6:
        raise SystemExit("objectives disagree")
    print(f"speedup_vs_naive: {t_naive / t_engine:.1f}x")


if __name__ == "__main__":
    main()
