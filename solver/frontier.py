"""The funding ladder: people reached from 0% to 100% of the appeal, and the inverse question.

:func:`funding_frontier` solves the allocation at funding levels 0, step, 2 step, ...
(a total envelope as a share of the appeal, every other rule of the scenario kept) and
records for each line the first level at which it receives money, so a planner can
read the cut ladder top-down. :func:`least_funding_for` answers "what is the least
funding that reaches N people?" by bisection on the funding level: people reached is
a non-decreasing (indeed concave) function of the envelope, the value function of an LP
in its right-hand side.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from reachplan.model.costs import CostModel
from reachplan.model.funding import Amount, Envelope, FundingScenario
from reachplan.solver.allocate import allocate_costs
from reachplan.solver.result import Frontier, InfeasibleScenarioError, TargetFunding

FUNDED_USD = 1.0
"""A line counts as receiving money from one dollar."""


def at_share(scenario: FundingScenario, share: float) -> FundingScenario:
    """The scenario with its envelope replaced by ``share`` of the appeal, in total."""
    return replace(
        scenario,
        envelope=Envelope(total=Amount("share", share), carry_over=scenario.envelope.carry_over),
    )


def funding_levels(step: float, top: float = 1.0) -> np.ndarray:
    """0, step, 2 step, ... up to and including ``top`` (shares of the appeal)."""
    if not 0 < step <= top:
        raise ValueError(f"the step must be between 0 and {top:g} (got {step:g})")
    n = int(np.floor(top / step + 1e-9))
    levels = np.round(np.arange(n + 1) * step, 12)
    if levels[-1] < top - 1e-12:
        levels = np.append(levels, top)
    return levels


def funding_frontier(
    costs: CostModel, scenario: FundingScenario, step: float = 0.1, top: float = 1.0
) -> Frontier:
    """Solve the ladder of funding levels.

    Parameters
    ----------
    costs
        Cells, requirements, unit costs, needs.
    scenario
        Rules kept at every level (its envelope is replaced by each level).
    step, top
        Levels as shares of the appeal.
    """
    rows = []
    first = np.full(costs.n_cells, np.nan)
    for share in funding_levels(step, top):
        try:
            alloc = allocate_costs(costs, at_share(scenario, float(share)), ranged="envelope")
        except InfeasibleScenarioError as exc:
            rows.append((share, share * costs.requirement_usd.sum(), np.nan, np.nan, np.nan,
                         np.nan, str(exc)))
            continue
        # the level's envelope is a total (:func:`at_share`): the envelope row without a year
        env = [s.value for s in alloc.shadow_prices
               if s.row is not None and s.row.kind == "envelope" and s.row.year is None]
        rows.append((share, alloc.funding_usd, alloc.allocated_usd, alloc.people_reached,
                     alloc.pro_rata_people_reached, env[0] if env else np.nan, "optimal"))
        funded = alloc.cells["allocated_usd"].to_numpy() >= FUNDED_USD
        first = np.where(np.isnan(first) & funded, share, first)
    levels = pd.DataFrame(rows, columns=["share", "funding_usd", "allocated_usd",
                                         "people_reached", "pro_rata_people_reached",
                                         "marginal_people_per_1m", "status"])
    firsts = pd.DataFrame(
        {"requirement_usd": costs.requirement_usd, "first_funded_share": first}, index=costs.cells
    )
    order = np.lexsort((-costs.requirement_usd, np.nan_to_num(first, nan=np.inf)))
    return Frontier(levels, firsts.iloc[order])


def least_funding_for(
    costs: CostModel,
    scenario: FundingScenario,
    target_people: float,
    top: float | None = None,
    tolerance: float = 1e-5,
) -> TargetFunding:
    """The least funding (share of the appeal) whose allocation reaches ``target_people``.

    Parameters
    ----------
    costs, scenario
        As for :func:`funding_frontier` (the scenario's envelope is replaced).
    target_people
        People to reach, summed over locations and years.
    top
        Highest level searched; default the scenario's absorption limit (1.0 = the appeal).
    tolerance
        Bisection stops when the bracket is narrower than this share of the appeal.

    Raises
    ------
    ValueError
        When even the top level reaches fewer people than asked.
    """
    hi = float(top if top is not None
               else max([scenario.default_cap, *(c.factor for c in scenario.caps)]))
    best = allocate_costs(costs, at_share(scenario, hi), ranged="none")
    if best.people_reached < target_people:
        raise ValueError(
            f"{target_people:,.0f} people cannot be reached: at {hi:.0%} of the appeal the "
            f"allocation reaches {best.people_reached:,.0f}"
        )
    lo = 0.0
    while hi - lo > tolerance:
        mid = 0.5 * (lo + hi)
        try:
            alloc = allocate_costs(costs, at_share(scenario, mid), diagnose=False,
                                   ranged="none")
        except InfeasibleScenarioError:
            lo = mid
            continue
        if alloc.people_reached >= target_people:
            hi, best = mid, alloc
        else:
            lo = mid
    return TargetFunding(float(target_people), hi, best.funding_usd, best)
