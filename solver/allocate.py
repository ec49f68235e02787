"""Solve the allocation LP with HiGHS in-process and return a typed :class:`Allocation`.

Duals: PuLP's in-process HiGHS interface hands HiGHS the negated objective of a
maximisation problem and copies HiGHS's row duals back unchanged, so on a maximisation
each ``constraint.pi`` has the opposite sign of d(objective)/d(rhs). :func:`solve_lp`
undoes this once, and the tests check every kind of shadow price against a
finite-difference re-solve.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import highspy
import numpy as np
import pandas as pd
import pulp

from reachplan.model.costs import CostModel
from reachplan.model.formatting import format_usd
from reachplan.model.funding import FundingScenario
from reachplan.model.plan import Plan
from reachplan.model.versions import package_versions
from reachplan.solver.baseline import pro_rata_allocation, programme_pro_rata
from reachplan.solver.diagnose import diagnose_infeasibility
from reachplan.solver.matrix import LPArrays, highs_from_arrays
from reachplan.solver.model import (
    AllocationLP,
    Row,
    build_model,
    cell_label,
    cell_tag,
    cell_weights,
    objective_share_row_name,
    planned_reach,
)
from reachplan.solver.result import (
    Allocation,
    Conflict,
    ExtraMillion,
    InfeasibleScenarioError,
    ModelRangeError,
    ShadowPrice,
    SolveStatus,
)
from reachplan.solver.sensitivity import (
    SensitivitySolveError,
    row_sensitivities,
    unit_cost_ranges,
)

_STATUS = {
    pulp.LpStatusOptimal: SolveStatus.OPTIMAL,
    pulp.LpStatusInfeasible: SolveStatus.INFEASIBLE,
    pulp.LpStatusUnbounded: SolveStatus.UNBOUNDED,
}

BINDING_TOL = 1e-7
"""Slack (LP units: USD M or thousand people) under which a row counts as binding."""

LARGEST_COEFFICIENT = 1e12
"""Largest coefficient, bound or right-hand side (LP units) the allocation LP may hold.

HiGHS refuses matrix values from 1e15 and treats bounds and costs from 1e20 as
infinite; three orders of margin keep the solve well inside what it handles. In LP
units (USD M, thousand people) 1e12 is a unit cost of $1e-9 per person or a
requirement of $1e18: no real plan comes near either.
"""

SMALLEST_NEED = 1e-6
"""Smallest people-in-need bound (LP units) that is more than solver tolerance.

The LP's people unit is what one money unit reaches at the median unit cost, so a need
bound below this means every person in need is reached with a millionth of a money unit:
unit costs near zero, which HiGHS would answer with an allocation of nothing.
"""

UNALLOCATED_TOL = 1e-6
"""Share of the funding below which money left over is solver noise, not a finding."""


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


_HIGHS_STATUS = {
    "kOptimal": (pulp.LpStatusOptimal, pulp.LpSolutionOptimal),
    "kInfeasible": (pulp.LpStatusInfeasible, pulp.LpSolutionInfeasible),
    "kUnboundedOrInfeasible": (pulp.LpStatusInfeasible, pulp.LpSolutionInfeasible),
    "kUnbounded": (pulp.LpStatusUnbounded, pulp.LpSolutionUnbounded),
}
"""HiGHS model status -> PuLP status and solution status, as PuLP's HiGHS interface maps them."""


def solve_lp(lp: AllocationLP) -> LPSolution:
    """Solve with HiGHS in-process and read values, duals and reduced costs.

    The model HiGHS receives is exactly the one PuLP's own HiGHS interface would hand it
    (the same columns and rows in the same order, the objective negated for a
    maximisation and minimised), loaded from :attr:`AllocationLP.arrays` in two calls
    instead of one per column and row. The solution is written back to the PuLP problem
    as PuLP would (values, reduced costs, row duals and slacks in PuLP's conventions, and
    the status), so the problem reads as if ``problem.solve`` had run.

    Returns
    -------
    LPSolution
        On a non-optimal status, values are zeros and duals empty.
    """
    return _solve_held(lp)[0]


def _solve_held(lp: AllocationLP) -> tuple[LPSolution, highspy.Highs]:
    """:func:`solve_lp`, and the HiGHS instance that solved it (for warm re-solves)."""
    check_ranges(lp)
    h = load_highs(lp.arrays)
    h.run()
    return read_solution(lp, h), h


def load_highs(arrays: LPArrays) -> highspy.Highs:
    """A HiGHS instance holding the model as PuLP's HiGHS interface would hand it.

    The objective is negated for a maximisation and minimised, as PuLP does; the columns
    and rows are in :attr:`AllocationLP.arrays` order.
    """
    flip = -1.0 if arrays.maximise else 1.0  # PuLP minimises -objective for a maximisation
    return highs_from_arrays(flip * arrays.cost, False, arrays.col_lower, arrays.col_upper,
                             arrays.matrix, arrays.row_lower, arrays.row_upper)


def read_solution(lp: AllocationLP, h: highspy.Highs, write_back: bool = True) -> LPSolution:
    """The solution HiGHS holds for ``lp`` (loaded by :func:`load_highs` and run).

    ``lp.arrays`` must hold the bounds HiGHS solved with. With ``write_back`` the values
    are also put on the PuLP problem, as PuLP's own solve would (see :func:`solve_lp`).
    """
    prob, arrays = lp.problem, lp.arrays
    flip = -1.0 if arrays.maximise else 1.0
    model_status = h.getModelStatus()
    name = str(model_status).rsplit(".", 1)[-1]
    pulp_status, solution_status = _HIGHS_STATUS.get(
        name, (pulp.LpStatusNotSolved, pulp.LpSolutionNoSolutionFound))
    n = len(lp.tranche_vars)
    if pulp_status == pulp.LpStatusNotSolved and name in {"kModelError", "kLoadError"}:
        raise ModelRangeError(
            "HiGHS refused the allocation model (numbers out of the range it handles); "
            "check unit costs, cost factors and requirements with `reachplan validate`")
    status = _STATUS.get(pulp_status, SolveStatus.NOT_SOLVED)
    if status is not SolveStatus.OPTIMAL:
        if write_back:
            prob.assignStatus(pulp_status, solution_status)
        return LPSolution(status, float("nan"), np.zeros(n), {}, {}, np.zeros(n))
    sol = h.getSolution()
    x = np.asarray(sol.col_value, dtype=float)
    col_dual = np.asarray(sol.col_dual, dtype=float)
    row_value = np.asarray(sol.row_value, dtype=float)
    row_dual = np.asarray(sol.row_dual, dtype=float)
    rhs = np.where(np.isfinite(arrays.row_upper), arrays.row_upper, arrays.row_lower)
    slack = rhs - row_value  # PuLP's sign: rhs - activity for <=, activity - rhs for >=
    ge = ~np.isfinite(arrays.row_upper)
    slack[ge] = -slack[ge]
    if write_back:
        _write_back(lp, x, col_dual, slack, row_dual)
        prob.assignStatus(pulp_status, solution_status)
    # maximisation: HiGHS solved -objective, so its duals are -d(objective)/d(rhs)
    sign = flip
    reduced = sign * col_dual[lp.first_tranche_columns]
    return LPSolution(
        status,
        float(arrays.cost @ x + arrays.objective_constant),
        cell_money(lp.tranche_columns, x),
        dict(zip(arrays.row_names, (sign * row_dual).tolist(), strict=True)),
        dict(zip(arrays.row_names, np.abs(slack).tolist(), strict=True)),
        reduced,
    )


def cell_money(tranche_columns: Sequence[np.ndarray], x: np.ndarray) -> np.ndarray:
    """Money per cell (model units, >= 0): each cell's slice columns of ``x`` summed."""
    money = np.array([float(x[cols].sum()) for cols in tranche_columns])
    return np.clip(money, 0.0, None)


def money_usd(money: np.ndarray, usd: float) -> np.ndarray:
    """USD per cell of money in model units.

    Solver noise (below a billionth of the money unit) is no allocation.
    """
    allocated = money * usd
    return np.where(allocated < 1e-9 * usd, 0.0, allocated)


def _write_back(lp: AllocationLP, x: np.ndarray, col_dual: np.ndarray, slack: np.ndarray,
                row_dual: np.ndarray) -> None:
    """Put a solution on the PuLP problem's variables and constraints, as PuLP's solve does."""
    for v, value, dj in zip(lp.variables, x.tolist(), col_dual.tolist(), strict=True):
        v.varValue = value
        v.dj = dj
    # in the order :func:`solver.matrix.lp_arrays` read them
    for c, s, pi in zip(lp.problem.constraints(), slack.tolist(), row_dual.tolist(),
                        strict=True):
        c.slack = s
        c.pi = pi


def check_ranges(lp: AllocationLP) -> None:
    """Refuse an LP whose numbers a solver cannot handle, naming the row.

    Rows are checked in model order (for each: a need too small to be real, its limit,
    then its coefficients), then the tranche bounds, then the objective.

    Raises
    ------
    ModelRangeError
        When a coefficient, bound or right-hand side is not finite or larger than
        :data:`LARGEST_COEFFICIENT` in absolute value.
    """
    def bad(value: float) -> bool:
        return not np.isfinite(value) or abs(value) > LARGEST_COEFFICIENT

    def bad_array(values: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return ~np.isfinite(values) | (np.abs(values) > LARGEST_COEFFICIENT)

    hint = ("a unit cost or cost factor this close to zero, or an amount this large, cannot "
            "be real; check the plan with `reachplan validate`")
    prob, arrays = lp.problem, lp.arrays
    names = arrays.row_names
    # the constant as PuLP holds it (rhs = -constant), rows in the order of the arrays
    constant = np.array([float(c.constant) for c in prob.constraints()])
    rhs = -constant
    need = np.array([lp.rows[name].kind == "need" if name in lp.rows else False
                     for name in names], dtype=bool)
    matrix = arrays.matrix
    coef_bad = bad_array(matrix.data)
    row_of_entry = np.repeat(np.arange(len(names)), np.diff(matrix.indptr))
    any_coef_bad = np.bincount(row_of_entry[coef_bad], minlength=len(names)) > 0
    flagged = (need & (rhs > 0) & (rhs < SMALLEST_NEED)) | bad_array(constant) | any_coef_bad
    for r in np.flatnonzero(flagged)[:1].tolist():
        name = names[r]
        row = lp.rows.get(name)
        where = row.description if row is not None else name
        if need[r] and 0 < rhs[r] < SMALLEST_NEED:
            raise ModelRangeError(
                f"{where}: {rhs[r] * lp.units.people:,.0f} people would all be reached with "
                f"less than {_usd(SMALLEST_NEED * lp.units.usd)}; the unit costs of its "
                f"lines are too small to be real (check them with `reachplan validate`)")
        if bad(float(constant[r])):
            raise ModelRangeError(
                f"{where}: limit {-float(constant[r]):.3g} (USD M or thousand people) "
                f"is out of range; {hint}")
        for coef in matrix.data[matrix.indptr[r]:matrix.indptr[r + 1]].tolist():
            if bad(coef):
                raise ModelRangeError(
                    f"{where}: coefficient {coef:.3g} (people per USD M) is out of "
                    f"range; {hint}")
    for i, tranches in enumerate(lp.tranche_vars):
        for v in tranches:
            if v.upBound is not None and bad(float(v.upBound)):
                raise ModelRangeError(
                    f"the requirement of {cell_label(lp.costs, i)} is out of range "
                    f"({float(v.upBound) * lp.units.usd:.3g} USD in one tranche); {hint}")
    for v, coef in prob.objective.items():
        if bad(float(coef)):
            raise ModelRangeError(f"objective weight of {v.name} ({float(coef):.3g}) is out of "
                                  f"range; {hint}")


def allocate(
    plan: Plan,
    scenario: FundingScenario,
    costs: CostModel | None = None,
    diagnose: bool = True,
    ranged: str = "all",
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
    ranged
        Which shadow prices get people per $1M from the optimal basis and their ranges
        (:func:`shadow_prices`): ``"all"``, ``"envelope"`` (the ladder needs only the
        envelope's), ``"amounts"`` (envelope, earmarks and flexible money),
        ``"binding"`` (those and the binding rules but caps: the what-if page's) or
        ``"none"`` (the LP's duals only, in objective units).

    Raises
    ------
    InfeasibleScenarioError
        When the rules cannot all hold, including objective share bounds that only an
        allocation of nothing meets (minimum shares adding up to more than 100%).
    ModelRangeError
        When the plan's numbers are out of the range a solver handles.
    ValueError
        When the scenario names codes the plan does not have.

    Notes
    -----
    An allocation that reaches nobody, or leaves money unallocated, is returned with
    :attr:`Allocation.warnings` saying why; it is never an error on its own.
    """
    costs = CostModel.from_plan(plan) if costs is None else costs
    provenance = {
        "plan_fingerprint": plan.fingerprint,
        "plan_source": plan.source,
        "plan_name": plan.name,
    }
    return allocate_costs(costs, scenario, provenance, diagnose=diagnose, ranged=ranged)


def allocate_costs(
    costs: CostModel,
    scenario: FundingScenario,
    provenance: Mapping[str, str] | None = None,
    diagnose: bool = True,
    ranged: str = "all",
) -> Allocation:
    """Like :func:`allocate`, on a :class:`CostModel` directly."""
    _check_objective_bounds(scenario)
    lp = build_model(costs, scenario)
    sol, highs = _solve_held(lp)
    # HiGHS's presolve may stop at "infeasible or unbounded" (PuLP: not solved); the model
    # is bounded (money is bounded by its envelopes), so that means infeasible
    if sol.status in (SolveStatus.INFEASIBLE, SolveStatus.NOT_SOLVED):
        if diagnose:
            raise diagnose_infeasibility(costs, scenario)
        raise InfeasibleScenarioError("the scenario's rules cannot all hold")
    if sol.status is not SolveStatus.OPTIMAL:
        raise InfeasibleScenarioError(f"the allocation could not be solved ({sol.status.value})")
    result = _result(lp, sol, dict(provenance or {}), ranged)
    if scenario.objective_bounds and result.allocated_usd <= 0 < result.funding_usd:
        _bounds_force_nothing(costs, scenario)
    if ranged in EXTRA_MILLION_MODES:
        result = replace(result, one_more_million=one_more_million(
            lp, highs, result.people_reached, result.entities_reached))
    return result


EXTRA_USD = 1e6
"""The "one more $1M" of :func:`one_more_million`."""

EXTRA_MILLION_MODES = frozenset({"all", "binding", "amounts"})
"""``ranged`` modes whose allocation says what one more $1M reaches (the console, the
report's allocations at the plan's figures, the what-if page); the ladder's levels and
the suite's plan-level solves do not need it."""


def _arrivals(lp: AllocationLP) -> list[tuple[int | None, list[str]]]:
    """Ways one more $1M of funding can arrive: (year or None, the envelope rows it raises).

    A total envelope alone: one way. Per-year envelopes: one per year, raising the total
    (if any) and that year's envelope, or with carry-over every cumulative envelope from
    that year on (money arriving for 2025 can be spent in 2025 or later).
    """
    rows = lp.rows_of("envelope")
    total = [r.name for r in rows if r.year is None]
    yearly = sorted((int(r.year), r.name) for r in rows if r.year is not None)
    if not yearly:
        return [(None, total)] if total else []
    through = any(name.startswith("envelope_through_") for _, name in yearly)
    return [(year, total + ([n for y, n in yearly if y >= year] if through else [name]))
            for year, name in yearly]


def one_more_million(lp: AllocationLP, highs: highspy.Highs, people_now: float,
                     entities_now: float = 0.0) -> ExtraMillion | None:
    """People reached by $1M more of non-earmarked funding: the allocation re-solved with it.

    ``highs`` holds ``lp`` solved to optimality (:func:`_solve_held`); it is left with its
    bounds as found. The envelope rows of each way the money can arrive
    (:func:`_arrivals`) and the flexible-money row (with earmarks) are raised by $1M
    together, the LP re-solved from the optimal basis, and the people reached (by the
    cost model, as :attr:`Allocation.people_reached`) compared with ``people_now`` (and
    entities with ``entities_now``). With per-year envelopes the year where it reaches the
    most people is reported, with every year's figure. ``None`` without an envelope.
    """
    arrays = lp.arrays
    index = {name: i for i, name in enumerate(arrays.row_names)}
    flexible = [r.name for r in lp.rows_of("flexible")]
    step = EXTRA_USD / lp.units.usd
    basis = highs.getBasis()
    found: dict[int | None, tuple[float, float]] = {}  # arrival -> (people, entities)
    for year, names in _arrivals(lp):
        idx = np.array([index[n] for n in names + flexible], dtype=np.int32)
        lower, upper = arrays.row_lower[idx], arrays.row_upper[idx]
        highs.changeRowsBounds(len(idx), idx, lower, upper + step)
        # from the optimal basis and nothing else (factorisation and edge weights cleared),
        # so that the figure does not depend on what this instance solved before
        highs.clearSolver()
        highs.setBasis(basis)
        highs.run()
        if highs.getModelStatus() == highspy.HighsModelStatus.kOptimal:
            x = np.asarray(highs.getSolution().col_value, dtype=float)
            allocated = money_usd(cell_money(lp.tranche_columns, x), lp.units.usd)
            found[year] = (float(lp.costs.people_reached_cells(allocated).sum()) - people_now,
                           float(lp.costs.entities_reached_cells(allocated).sum())
                           - entities_now)
        highs.changeRowsBounds(len(idx), idx, lower, upper)
    highs.clearSolver()
    highs.setBasis(basis)
    if not found:
        return None
    if None in found:  # a total envelope alone
        people, entities = found[None]
        return ExtraMillion(people, entities=entities)
    years = {int(y): v for y, v in found.items() if y is not None}
    best = max(years, key=lambda y: (years[y][0], -y))  # most people; the earlier on a tie
    return ExtraMillion(years[best][0], best, {y: v[0] for y, v in years.items()},
                        years[best][1], {y: v[1] for y, v in years.items()})


def _check_objective_bounds(scenario: FundingScenario) -> None:
    """Minimum objective shares adding up to more than 100% hold for no money but $0."""
    mins = [b for b in scenario.objective_bounds if b.min_share > 0]
    total = sum(b.min_share for b in mins)
    if total > 1.0 + 1e-9:
        parts = ", ".join(f"{b.objective} {b.min_share:.0%}" for b in mins)
        raise InfeasibleScenarioError(
            f"the minimum objective shares ({parts}) add up to {total:.0%} of the money "
            "allocated; they can hold together only if nothing is allocated (lower them to "
            "100% or less in total)",
            tuple(Conflict(objective_share_row_name(b.objective, "min"),
                           f"the minimum {b.min_share:.0%} share of {b.objective}", 0.0)
                  for b in mins),
        )


def _bounds_force_nothing(costs: CostModel, scenario: FundingScenario) -> None:
    """Raise when the objective bounds are why nothing is allocated.

    Objective share bounds are shares of the money allocated, so allocating nothing
    always meets them; when the same scenario without them allocates money, the bounds
    cannot hold for any real allocation, and the scenario is infeasible.
    """
    free = build_model(costs, replace(scenario, objective_bounds=()))
    sol = solve_lp(free)
    if sol.status is not SolveStatus.OPTIMAL or float(sol.money.sum()) * free.units.usd < 1.0:
        return
    words = []
    for b in scenario.objective_bounds:
        if b.min_share > 0:
            words.append(f"the minimum {b.min_share:.0%} share of {b.objective}")
        if b.max_share < 1:
            words.append(f"the maximum {b.max_share:.0%} share of {b.objective}")
    raise InfeasibleScenarioError(
        f"the objective share bounds ({'; '.join(words)}) hold only if nothing is allocated: "
        "with the scenario's other rules no allocation of any money meets them together "
        f"(without them {_usd(float(sol.money.sum()) * free.units.usd)} would be allocated)",
        tuple(Conflict(row.name, row.description, 0.0, row)
              for row in free.rows_of("objective_share")),
    )


def _usd(value: float) -> str:
    return format_usd(value, millions_from=1e5)


def _result(lp: AllocationLP, sol: LPSolution, provenance: dict[str, str],
            ranged: str = "all", basis: highspy.HighsBasis | None = None) -> Allocation:
    costs, scenario = lp.costs, lp.scenario
    allocated = money_usd(sol.money, lp.units.usd)
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
            "entities_reached": costs.entities_reached_cells(allocated),
            "output": costs.output,
            "tier": np.argmax(costs.tier_share, axis=1) + 1,
        },
        index=costs.cells,
    )
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
        shadow_prices=shadow_prices(lp, sol, ranged, basis),
        unfunded=_unfunded(lp, sol, allocated),
        provenance=provenance,
        warnings=allocation_warnings(lp, sol, allocated, float(people.sum())),
        pro_rata_programme_people_reached=float(
            costs.people_reached_cells(programme_pro_rata(costs, allocated)).sum()),
        coverage_by_location_year=coverage_table(costs, people),
        unique_people_by_year=unique_people(costs, beneficiaries),
    )


def coverage_table(costs: CostModel, people: np.ndarray) -> pd.DataFrame:
    """People in need, planned reach, people reached and coverage per location and year."""
    planned, _ = planned_reach(costs)
    frame = pd.DataFrame({"people_reached": people, "planned_reach": planned},
                         index=costs.cells)
    frame = frame[costs.reaches_people].groupby(level=["location_code", "year"]).sum()
    frame["people_in_need"] = [costs.people_in_need_of(loc, yr) for loc, yr in frame.index]
    frame["planned_reach"] *= [costs.need_ratio_of(loc, yr) for loc, yr in frame.index]
    need = frame["people_in_need"].to_numpy(dtype=float)
    reached = frame["people_reached"].to_numpy(dtype=float)
    plan = frame["planned_reach"].to_numpy(dtype=float)
    known = np.isfinite(need) & (need > 0)
    frame["coverage"] = np.where(known, reached / np.where(known, need, 1.0), np.nan)
    frame["coverage_of_planned"] = np.where(plan > 0, reached / np.where(plan > 0, plan, 1.0),
                                            np.nan)
    frame["unmet_need"] = np.where(np.isfinite(need), np.maximum(need - reached, 0.0), np.nan)
    cols = ["people_in_need", "planned_reach", "people_reached", "coverage",
            "coverage_of_planned", "unmet_need"]
    return frame[cols].reset_index()


def unique_people(costs: CostModel, beneficiaries: np.ndarray) -> pd.DataFrame:
    """Range of unique people reached per year, summed over locations.

    In each location and year, at least the beneficiaries of its largest sector (each
    person reached is counted by every sector serving them, so no fewer people than the
    largest sector's count are reached) and at most the sum over sectors (no one served
    twice), itself at most the people in need.
    """
    frame = pd.DataFrame({"b": beneficiaries}, index=costs.cells)[costs.reaches_people]
    grouped = frame.groupby(level=["location_code", "year"])["b"]
    low, high = grouped.max(), grouped.sum()
    need = np.array([costs.people_in_need_of(loc, yr) for loc, yr in high.index])
    high = pd.Series(np.minimum(high.to_numpy(dtype=float), need), index=high.index)
    out = pd.DataFrame({"low": low.groupby(level="year").sum(),
                        "high": high.groupby(level="year").sum()})
    out.index = out.index.astype(int)
    return out.rename_axis("year").reset_index()


def _binding(row: Row, sol: LPSolution) -> bool:
    """Whether a row holds with equality at the optimum (slack within :data:`BINDING_TOL`)."""
    return sol.slacks.get(row.name, 0.0) <= BINDING_TOL * max(1.0, abs(row.rhs))


RANGED_KINDS: Mapping[str, tuple[str, ...]] = {
    "envelope": ("envelope",),
    "amounts": ("envelope", "earmark", "flexible"),
    "none": (),
}
"""Row kinds whose shadow prices are ranged, per ``ranged`` mode other than ``"all"`` and
``"binding"``: ``"amounts"`` ranges the rows an amount of money sets (what one more $1M
of the envelope, or of an earmark, reaches). ``"binding"`` ranges those and every binding
rule of :data:`RULE_KINDS` (floors, locks, exclusions, objective shares, continuity,
earmark shares): what a planner reads as the rules that cost people; absorption caps,
enabler rows and people in need keep the LP's dual."""


RULE_KINDS = frozenset({"earmark_share", "floor", "objective_share", "continuity", "lock",
                        "exclusion"})
"""The scenario's rules besides the amounts: ranged by ``ranged="binding"`` where binding."""


def shadow_prices(lp: AllocationLP, sol: LPSolution, ranged: str = "all",
                  basis: highspy.HighsBasis | None = None) -> tuple[ShadowPrice, ...]:
    """Shadow price of every money row and need row, in model order, with its range.

    Absorption caps are listed only when binding (one per cell would drown the rest).
    Values are people per extra $1M (money rows) or per extra person in need (need
    rows), for an increase and for a decrease, from the optimal basis and, at a kink, by
    re-solves (:func:`solver.sensitivity.row_sensitivities`); the LP's dual (objective
    units) and the right-hand side range over which it holds (HiGHS ranging) come with
    them. ``basis``, an optimal basis of ``lp``, spares the ranging a solve from scratch.
    """
    chosen = [row for row in lp.rows.values()
              if (row.is_money or row.kind == "need")
              and (row.kind != "cap" or _binding(row, sol))]
    kinds = RANGED_KINDS.get(ranged)
    if ranged == "binding":
        wanted = [row for row in chosen if row.kind in RANGED_KINDS["amounts"]
                  or (row.kind in RULE_KINDS and _binding(row, sol))]
    else:
        wanted = chosen if ranged == "all" else [
            row for row in chosen if kinds is not None and row.kind in kinds]
    found = _sensitivities(lp, wanted, basis) if wanted else {}
    prices = []
    for row in chosen:
        binding = _binding(row, sol)
        # LP duals are LP units per money unit (money rows) or per people unit (need)
        scale = lp.units.people_per_1m if row.is_money else 1.0
        rhs_unit = lp.units.usd if row.is_money else lp.units.people
        s = found.get(row.name)
        if s is None:
            # without ranging: the LP's dual (people per $1M only under headcount)
            dual = sol.duals.get(row.name, 0.0) * scale
            prices.append(ShadowPrice(row.name, row.kind, row.description, float(dual),
                                      bool(binding), row, objective_value=float(dual)))
            continue
        prices.append(ShadowPrice(
            row.name, row.kind, row.description, float(s.people_up * scale), bool(binding),
            row,
            value_down=float(s.people_down * scale),
            objective_value=float(s.dual * scale),
            valid_from=float(s.valid_from * rhs_unit),
            valid_to=float(s.valid_to * rhs_unit),
            one_sided=bool(s.one_sided),
        ))
    return tuple(prices)


def _sensitivities(lp: AllocationLP, rows: list[Row],
                   basis: highspy.HighsBasis | None = None) -> dict[str, Any]:
    """Row sensitivities (people derivatives, ranges) of ``rows``; empty if HiGHS fails."""
    arrays = lp.arrays
    col = {name: j for j, name in enumerate(arrays.variable_names)}
    pos = {name: i for i, name in enumerate(arrays.row_names)}
    people = np.zeros(len(arrays.variable_names))
    for i, p in enumerate(lp.people_vars):
        if p is not None and lp.costs.reaches_people[i]:
            people[col[p.name]] = 1.0
    try:
        return {s.row: s for s in row_sensitivities(arrays, people,
                                                     [pos[r.name] for r in rows],
                                                     basis=basis)}
    except SensitivitySolveError:
        return {}


def allocation_warnings(
    lp: AllocationLP, sol: LPSolution, allocated: np.ndarray, people_reached: float
) -> tuple[str, ...]:
    """What a planner must be told about a solved allocation, with the reason.

    Two findings: the allocation reaches nobody; money stays unallocated (more than
    :data:`UNALLOCATED_TOL` of the funding). The reason for unallocated money is read
    from the solution: unused earmarks (row slack of each ``earmark_*`` row while the
    flexible money is used up), binding objective share bounds or exclusions, and
    otherwise absorption caps and people in need (no further line reaches people).

    Returns
    -------
    tuple of str
        One sentence each, in planner words; empty when there is nothing to say.
    """
    costs = lp.costs
    funding = float(lp.funding_usd)
    spent = float(allocated.sum())
    out: list[str] = []
    if people_reached <= 0:
        coef = lp.objective_coef[:, 0]
        reach = costs.reaches_people
        if funding <= 0:
            why = "the envelope is $0"
        elif not reach.any():
            why = "no line of the plan has a unit cost, so no line reaches people"
        elif not (coef[reach] > 0).any():
            why = "every line that reaches people has weight 0 (plan or scenario weights)"
        elif not any(row.rhs > 0 for row in lp.rows_of("need")):
            why = "the plan gives 0 people in need in every location and year"
        elif spent <= 0:
            why = "no money could be allocated under the scenario's rules"
        else:
            why = "the lines that receive money (locks or floors) have no unit cost"
        out.append(f"the allocation reaches nobody: {why}")
    left = funding - spent
    if funding > 0 and left > max(1.0, UNALLOCATED_TOL * funding):
        out.append(f"{_usd(left)} of {_usd(funding)} is not allocated: "
                   + _why_unallocated(lp, sol, left))
    return tuple(out)


def _why_unallocated(lp: AllocationLP, sol: LPSolution, left: float) -> str:
    usd = lp.units.usd
    reasons = []
    for row in lp.rows_of("earmark"):
        unused = sol.slacks.get(row.name, 0.0) * usd
        if unused > max(1.0, UNALLOCATED_TOL * left):
            amount = row.rhs * usd
            reasons.append(
                f"{row.description} is {_usd(amount)} but its lines absorb only "
                f"{_usd(amount - unused)}, and earmarked money cannot go to other lines "
                f"({_usd(unused)} unused)")

    def pressing(kind: str) -> list[str]:
        return [row.description for row in lp.rows_of(kind)
                if _binding(row, sol) and abs(sol.duals.get(row.name, 0.0)) > 1e-9]

    bounds = pressing("objective_share")
    if bounds:
        reasons.append(f"the objective share bounds hold it back ({'; '.join(bounds[:4])})")
    locks = pressing("lock")
    if locks:
        reasons.append(f"locks hold it back ({'; '.join(locks[:4])})")
    excluded = pressing("exclusion")
    if excluded:
        reasons.append(f"{len(excluded)} excluded line(s) would take it")
    if not reasons:
        reasons.append("no further line reaches people (every line that could use it is at "
                       "its absorption cap, or its location has all people in need reached)")
    return "; ".join(reasons)


def person_values(lp: AllocationLP, sol: LPSolution) -> np.ndarray:
    """Objective value of one more person credited to each cell, shape (n,) (LP units).

    Headcount: the cell's weight. Priority: the sum over the coverage groups the cell
    belongs to of its coefficient there times the group's coverage-row dual (the value
    of one more covered person in that group at the optimum).
    """
    costs = lp.costs
    if lp.scenario.objective != "priority":
        return np.where(costs.reaches_people, cell_weights(costs, lp.scenario), 0.0)
    out = np.zeros(costs.n_cells)
    for group in lp.groups:
        dual = sol.duals.get(group.row_name, 0.0)
        for i, coef in group.members:
            out[i] += coef * dual
    return out


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
    worth = person_values(lp, sol)
    factors = np.asarray(costs.curve.factors)
    for i in np.flatnonzero((allocated <= 0.0) & costs.reaches_people):
        a_first = lp.units.usd / lp.units.people / (costs.unit_cost_usd[i] * factors[0])
        v = float(worth[i] * a_first / costs.overlap_factor)
        # what one more money unit in the line costs in the other rows it enters
        # (envelopes, floors, caps ...): its objective coefficient less its reduced cost
        # plus what the reach row pays for it; read this way, the reach row's dual (not
        # unique when the line gets nothing) cancels out
        first = lp.tranche_vars[i][0]
        reach = sol.duals.get(f"reach_{cell_tag(costs, i)}", 0.0)
        cost = float(lp.problem.objective.get(first, 0.0)) - float(sol.reduced_costs[i]) \
            + a_first * reach
        rc = v - cost
        loc, yr = str(costs.locations[i]), int(costs.years[i])
        need = lp.need_row(loc, yr)
        need_dual = 0.0 if need is None else sol.duals.get(need.name, 0.0)
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


def unit_cost_table(costs: CostModel, scenario: FundingScenario,
                    tolerance: float = 0.10) -> pd.DataFrame:
    """For each location and each sector, the unit-cost range over which its money holds.

    Each group's unit costs are multiplied by a factor; the table gives the factors
    (``factor_low`` < 1 < ``factor_high``, searched between 0.1 and 10) over which the
    group's allocated money stays within ``tolerance`` (10%) of the allocation's; a narrow
    range is a knife edge. The coverage groups keep their planned reach (the plan's
    targets do not move when a cost assumption does; the people they take cost more or
    less). See :func:`solver.sensitivity.unit_cost_ranges`.

    Raises
    ------
    InfeasibleScenarioError
        When the scenario's rules cannot all hold.
    """
    lp = build_model(costs, scenario)
    sol = solve_lp(lp)
    if sol.status is not SolveStatus.OPTIMAL:
        raise InfeasibleScenarioError("the scenario's rules cannot all hold")
    reach = costs.has_reach
    groups = {f"location {loc}": (costs.locations == loc) & reach
              for loc in np.unique(costs.locations[reach])}
    groups |= {f"sector {sec}": (costs.sectors == sec) & reach
               for sec in np.unique(costs.sectors[reach])}
    return unit_cost_ranges(lp, groups, sol.money, tolerance=tolerance)
