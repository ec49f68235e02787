"""What the report's shadow-price ranging costs, and what bounds it.

Run ``python benchmarks/bench_ranging.py [--scenario NAME ...] [--repeat N]``.

For each shipped scenario's funding rules (scenarios that differ only in their futures
share one allocation, as in the report), it computes the allocation at the plan's figures
as the report does (:func:`workflow.report_inputs.allocation_task`, every money and need
row ranged, no cache) and prints:

- the rows ranged and the degenerate sides among them (a side the optimal basis says
  nothing about, re-solved by :func:`solver.sensitivity.row_sensitivities`);
- the warm re-solves those sides took (HiGHS ``run()`` calls) and their simplex
  iterations;
- the ranging's time, and beside it, measured in the same process on the same LP, the
  time of a ``run()`` at the optimum with nothing changed (no iteration: HiGHS's checks
  and set-up of every solve), times the number of re-solves: the part of the ranging that
  no choice of warm start or step removes while each side takes a solve.

The last column is the ranging's time over that floor. Figures of different runs on a
shared machine do not compare; read the ratios.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from typing import Any

from bench_main_job import run_floor  # this folder is on the path when a script runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", action="append",
                        help="A shipped scenario (repeatable; default: the whole suite).")
    parser.add_argument("--repeat", type=int, default=1, help="Repeats (medians printed).")
    args = parser.parse_args()

    import reachplan.solver.allocate as allocate
    import reachplan.solver.sensitivity as sensitivity
    from reachplan.model.costs import CostModel
    from reachplan.scenarios.plan_io import load_plan
    from reachplan.scenarios.scenario_io import load_scenario, suite_paths
    from reachplan.solver.model import build_model
    from reachplan.workflow.report_inputs import allocation_task

    counts = {"runs": 0, "iterations": 0, "sides": 0, "seconds": 0.0}
    solve, one_side = sensitivity._Solver.solve, sensitivity._one_side
    ranging = allocate.row_sensitivities

    def counted_solve(self: Any) -> bool:
        ok = solve(self)
        if getattr(self, "_based", False):  # the first run solves the LP from its start
            counts["runs"] += 1
            counts["iterations"] += int(self.h.getInfo().simplex_iteration_count)
        self._based = True
        return ok

    def timed_ranging(*a: Any, **k: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return ranging(*a, **k)
        finally:
            counts["seconds"] += time.perf_counter() - t0

    def counted_side(*a: Any, **k: Any) -> Any:
        counts["sides"] += 1
        return one_side(*a, **k)

    sensitivity._Solver.solve = counted_solve  # type: ignore[method-assign]
    sensitivity._one_side = counted_side  # type: ignore[assignment]
    allocate.row_sensitivities = timed_ranging  # type: ignore[assignment]

    plan = load_plan().plan
    costs = CostModel.from_plan(plan)
    wanted = set(args.scenario or [])
    seen: set[Any] = set()
    print(f"{'rules of':<20} {'rows':>5} {'sides':>6} {'re-solves':>9} {'iter/solve':>10} "
          f"{'ranging':>9} {'floor/run':>9} {'runs x floor':>12} {'ratio':>6}")
    totals = [0.0, 0.0]
    for path in suite_paths():
        if wanted and path.stem not in wanted:
            continue
        funding = load_scenario(path).funding
        key = dataclasses.replace(funding, name="")
        if key in seen:
            continue
        seen.add(key)
        lp = build_model(costs, funding)
        floor = run_floor(lp, runs=100) * 1000.0  # ms
        times: list[float] = []
        snapshot = dict(counts)
        for _ in range(args.repeat):
            counts.update(runs=0, iterations=0, sides=0, seconds=0.0)
            allocation, _ = allocation_task(plan, funding)
            times.append(counts["seconds"])
            snapshot = dict(counts)
        ranged = sum(1 for s in allocation.shadow_prices if s.valid_from is not None)
        runs = int(snapshot["runs"])
        elapsed = statistics.median(times)
        bound = runs * floor / 1000.0
        totals[0] += elapsed
        totals[1] += bound
        print(f"{path.stem:<20} {ranged:>5} {snapshot['sides']:>6} {runs:>9} "
              f"{snapshot['iterations'] / max(runs, 1):>10.1f} {elapsed:>8.2f}s "
              f"{floor:>7.2f}ms {bound:>11.2f}s {elapsed / max(bound, 1e-9):>6.2f}")
    print(f"{'all':<20} {'':>5} {'':>6} {'':>9} {'':>10} {totals[0]:>8.2f}s {'':>9} "
          f"{totals[1]:>11.2f}s {totals[0] / max(totals[1], 1e-9):>6.2f}")
    from reachplan.model.versions import package_versions

    print(f"highspy {package_versions(('highspy',))['highspy']}")


if __name__ == "__main__":
    main()
