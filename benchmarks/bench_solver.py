"""Build+solve time of the allocation LP on the default plan: HiGHS in-process vs PuLP's CBC.

Run ``python benchmarks/bench_solver.py [--repeat N] [--funding 60%]``. Both paths build
the same model with :func:`solver.model.build_model` and solve it side by side in this
run; the objectives must agree.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import pulp

from reachplan.model.costs import CostModel
from reachplan.model.funding import FundingScenario, parse_funding
from reachplan.scenarios.plan_io import load_plan
from reachplan.solver.highs import pulp_solver
from reachplan.solver.model import build_model


def timed(costs: CostModel, scenario: FundingScenario, make_solver) -> tuple[float, float]:
    start = time.perf_counter()
    lp = build_model(costs, scenario)
    lp.problem.solve(make_solver())
    elapsed = time.perf_counter() - start
    return elapsed, float(pulp.value(lp.problem.objective))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--funding", default="60%")
    args = parser.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)
    plan = load_plan().plan
    costs = CostModel.from_plan(plan)
    scenario = FundingScenario(parse_funding(args.funding))
    highs, cbc = [], []
    for _ in range(args.repeat):  # interleaved, so both see the same machine state
        t, obj_h = timed(costs, scenario, pulp_solver)
        highs.append(t)
        t, obj_c = timed(costs, scenario, lambda: pulp.PULP_CBC_CMD(msg=False))
        cbc.append(t)
    lp = build_model(costs, scenario)
    n_vars, n_rows = len(lp.problem.variables()), len(lp.problem.constraints())
    h, c = statistics.median(highs), statistics.median(cbc)
    print(f"default plan, funding {args.funding}: {n_vars} variables, {n_rows} constraints")
    print(f"HiGHS in-process (build+solve, median of {args.repeat}): {h:.3f} s")
    print(f"PuLP CBC command (build+solve, median of {args.repeat}): {c:.3f} s")
    print(f"ratio CBC / HiGHS: {c / h:.2f}")
    print(f"objective agreement: {abs(obj_h - obj_c) / max(abs(obj_h), 1e-12):.2e} relative")


if __name__ == "__main__":
    main()
