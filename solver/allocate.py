"""Solve the allocation LP with HiGHS in-process and return a typed :class:`Allocation`.

Duals: PuLP's in-process HiGHS interface hands HiGHS the negated objective of a
maximisation problem and copies HiGHS's row duals back unchanged, so on a maximisation
each ``constraint.pi`` has the opposite sign of d(objective)/d(rhs). :func:`solve_lp`
undoes this once, and the tests check every kind of shadow price against a
finite-difference re-solve.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pulp

from model.costs import CostModel
from model.funding import FundingScenario
from model.plan import Plan
from solver.baseline import pro_rata_allocation
from solver.highs import pulp_solver
from solver.model import (
    MONEY_ROWS,
    AllocationLP,
    build_model,
)
from solver.result import Allocation, InfeasibleScenarioError, ShadowPrice, SolveStatus

_STATUS = {
    pulp.LpStatusOptimal: SolveStatus.OPTIMAL,
    pulp.LpStatusInfeasible: SolveStatus.INFEASIBLE,
    pulp.LpStatusUnbounded: SolveStatus.UNBOUNDED,
}

BINDING_TOL = 1e-7
"""Slack (LP units: USD M or thousand people) under which a row counts as binding."""

PACKAGES = ("reachplan", "pulp", "highspy", "numpy", "pandas", "scipy")


def solver() -> pulp.LpSolver:
    """HiGHS in-process, silent (see :mod:`solver.highs`)."""
    return pulp_solver()


@dataclass(frozen=True, eq=False)
class LPSolution:
    """Raw values of a solved :class:`AllocationLP`, signs already corrected.

    Attributes
    ----------
    status
        Solve status.
    objective
        Objective value in LP units.
    money
        USD M per cell, shape (n,).
    duals
        Row name -> d(objective)/d(rhs) in LP units.
    slacks
        Row name -> non-negative slack in LP units.
    reduced_costs
        d(objective)/d(first-tranche money) per cell, shape (n,), LP units (<= 0 at an
        optimum where the cell gets nothing).
    """

    status: SolveStatus
    objective: float
    money: np.ndarray
    duals: Mapping[str, float]
    slacks: Mapping[str, float]
    reduced_costs: np.ndarray


def solve_lp(lp: AllocationLP) -> LPSolution:
    """Solve with HiGHS in-process and read values, duals and reduced costs.

    Returns
    -------
    LPSolution
        On a non-optimal status, values are zeros and duals empty.
    """
    prob = lp.problem
    prob.solve(solver())
    status = _STATUS.get(prob.status, SolveStatus.NOT_SOLVED)
    n = len(lp.tranche_vars)
    if status is not SolveStatus.OPTIMAL:
        return LPSolution(status, float("nan"), np.zeros(n), {}, {}, np.zeros(n))
    # maximisation: PuLP passes -objective to HiGHS and copies duals back unchanged
    sign = -1.0 if prob.sense == pulp.LpMaximize else 1.0
    money = np.array([sum(v.varValue or 0.0 for v in xs) for xs in lp.tranche_vars])
    duals = {name: sign * (c.pi or 0.0) for c in prob.constraints() for name in (c.name,)}
    slacks = {name: abs(c.slack or 0.0) for c in prob.constraints() for name in (c.name,)}
    reduced = np.array([sign * (xs[0].dj or 0.0) for xs in lp.tranche_vars])
    return LPSolution(
        status,
        float(pulp.value(prob.objective) or 0.0),
        np.clip(money, 0.0, None),
        duals,
        slacks,
        reduced,
    )


def package_versions(names: Sequence[str] = PACKAGES) -> dict[str, str]:
    """Installed versions of reachplan and the packages its results depend on."""
    out = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def allocate(
    plan: Plan,
    scenario: FundingScenario,
    costs: CostModel | None = None,
    diagnose: bool = True,
) -> Allocation:
    """The allocation of a plan's cells that reaches the most people under a scenario.

    Parameters
    ----------
    plan
        The plan (requirements, people, unit costs, cost curve).
    scenario
        Envelope and rules.
    costs
        A cost model to use instead of the plan's own (perturbed costs or needs).
    diagnose
        On infeasibility, find the conflicting constraints (an elastic re-solve) and
        name them in the error; with ``False`` raise a short error at once.

    Raises
    ------
    InfeasibleScenarioError
        When the rules cannot all hold.
    ValueError
        When the scenario names codes the plan does not have.
    """
    costs = CostModel.from_plan(plan) if costs is None else costs
    provenance = {
        "plan_fingerprint": plan.fingerprint,
        "plan_source": plan.source,
        "plan_name": plan.name,
    }
    return allocate_costs(costs, scenario, provenance, diagnose=diagnose)


def allocate_costs(
    costs: CostModel,
    scenario: FundingScenario,
    provenance: Mapping[str, str] | None = None,
    diagnose: bool = True,
) -> Allocation:
    """Like :func:`allocate`, on a :class:`CostModel` directly."""
    lp = build_model(costs, scenario)
    sol = solve_lp(lp)
    # HiGHS's presolve may stop at "infeasible or unbounded" (PuLP: not solved); the model
    # is bounded (money is bounded by its envelopes), so that means infeasible
    if sol.status in (SolveStatus.INFEASIBLE, SolveStatus.NOT_SOLVED):
        if diagnose:
            from solver.diagnose import diagnose_infeasibility

            raise diagnose_infeasibility(costs, scenario)
        raise InfeasibleScenarioError("the scenario's rules cannot all hold")
    if sol.status is not SolveStatus.OPTIMAL:
        raise InfeasibleScenarioError(f"the allocation could not be solved ({sol.status.value})")
    return _result(lp, sol, dict(provenance or {}))


def _result(lp: AllocationLP, sol: LPSolution, provenance: dict[str, str]) -> Allocation:
    costs, scenario = lp.costs, lp.scenario
    allocated = sol.money * lp.units.usd
    # solver noise (below a billionth of the money unit) is no allocation
    allocated = np.where(allocated < 1e-9 * lp.units.usd, 0.0, allocated)
    beneficiaries = costs.sector_beneficiaries(allocated)
    people = costs.people_reached_cells(allocated)
    pro_rata = pro_rata_allocation(costs, scenario)
    req = costs.requirement_usd
    cells = pd.DataFrame(
        {
            "requirement_usd": req,
            "allocated_usd": allocated,
            "share_funded": np.divide(allocated, req, out=np.zeros_like(req), where=req > 0),
            "unit_cost_usd": costs.unit_cost_usd,
            "sector_beneficiaries": beneficiaries,
            "people_reached": people,
            "cost_per_person_usd": np.divide(
                allocated, people, out=np.full_like(req, np.nan), where=people > 0
            ),
            "pro_rata_usd": pro_rata,
            "pro_rata_people_reached": costs.people_reached_cells(pro_rata),
        },
        index=costs.cells,
    )
    prices = []
    for name, row in lp.rows.items():
        if row.kind not in MONEY_ROWS and row.kind != "need":
            continue
        dual = sol.duals.get(name, 0.0)
        binding = sol.slacks.get(name, 0.0) <= BINDING_TOL * max(1.0, abs(row.rhs))
        if row.kind == "cap" and not binding:
            continue
        # LP duals are people units per money unit (money rows) or per people unit (need)
        value = dual * lp.units.people_per_1m if row.kind in MONEY_ROWS else dual
        prices.append(ShadowPrice(name, row.kind, row.description, float(value), bool(binding)))
    provenance = {
        **provenance,
        "scenario": scenario.describe(),
        "solver": "HiGHS via PuLP",
        **{f"version_{k}": v for k, v in package_versions().items()},
    }
    return Allocation(
        status=SolveStatus.OPTIMAL,
        scenario=scenario,
        funding_usd=lp.funding_usd,
        envelope_by_year=lp.envelope_by_year,
        cells=cells,
        objective=sol.objective * lp.units.people,
        shadow_prices=tuple(prices),
        unfunded=_unfunded(lp, sol, allocated),
        provenance=provenance,
    )


def _unfunded(lp: AllocationLP, sol: LPSolution, allocated: np.ndarray) -> pd.DataFrame:
    """Lines reaching people that get nothing, and the unit cost that would get them money.

    The first tranche of cell c brings ``v = w a_c1 / omega`` (thousand people per $1M)
    while money there costs ``v - rc`` in the rows it enters (rc the reduced cost, <= 0).
    The cell would start to receive money once its unit cost fell to ``u v / (v - rc)``,
    everything else equal. Where the people in need are all reached already, no unit
    cost helps.
    """
    costs = lp.costs
    rows = []
    index = []
    for i in np.flatnonzero((allocated <= 0.0) & costs.reaches_people):
        v = float(lp.objective_coef[i, 0])
        rc = float(sol.reduced_costs[i])
        loc, yr = costs.locations[i], int(costs.years[i])
        need_dual = sol.duals.get(f"need_{loc}_{yr}", 0.0)
        unit = float(costs.unit_cost_usd[i])
        if v <= 0:
            threshold, reason = np.nan, "weight 0: its people do not count in the objective"
        elif need_dual > 1e-9:
            threshold, reason = np.nan, f"all people in need in {loc}, {yr} are reached already"
        elif v - rc <= 0:
            threshold, reason = unit, "tied with the lines funded: any cost reduction funds it"
        else:
            threshold = unit * v / (v - rc)
            reason = (
                f"other lines reach more people per dollar; it would get money at a "
                f"unit cost of ${threshold:,.2f} or less"
            )
        index.append(costs.cells[i])
        rows.append((unit, threshold, reason))
    return pd.DataFrame(
        rows,
        columns=["unit_cost_usd", "threshold_unit_cost_usd", "reason"],
        index=pd.MultiIndex.from_tuples(index, names=costs.cells.names)
        if index
        else pd.MultiIndex.from_arrays([[], [], []], names=costs.cells.names),
    )
