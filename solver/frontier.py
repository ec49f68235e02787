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

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from reachplan.model.costs import CostModel
from reachplan.model.funding import Amount, Envelope, FundingScenario
from reachplan.solver.allocate import (
    _check_objective_bounds,
    allocate_costs,
    cell_money,
    check_ranges,
    money_usd,
)
from reachplan.solver.baseline import pro_rata_allocation
from reachplan.solver.diagnose import ElasticLadder
from reachplan.solver.fast import FastLP, FastSolveError
from reachplan.solver.matrix import lp_arrays
from reachplan.solver.model import build_model, funding_usd, resolve_envelope
from reachplan.solver.result import Frontier, InfeasibleScenarioError, TargetFunding
from reachplan.solver.sensitivity import SensitivitySolveError, row_sensitivities

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

    The levels differ only in the envelope, so the allocation model is built once (at
    ``top``) and held in HiGHS (:class:`solver.fast.FastLP`); each level changes the
    right-hand sides of the total envelope row (and of the flexible-money row when the
    scenario has earmarks) and re-solves from the previous level's optimal basis. The
    envelope's people per extra $1M come from the same ranging and one-sided
    re-solves as :func:`solver.allocate.shadow_prices` with ``ranged="envelope"``,
    started from that basis. At a level that is infeasible (or whose earmarks exceed the
    envelope, which no allocation meets), the elastic model
    (:class:`solver.diagnose.ElasticLadder`) is built once, at the first such level,
    and re-solved the same way for the others. Objective share bounds that force
    nothing to be allocated, a solver failure other than infeasibility, or a model
    without a total envelope row fall back to a fresh build of that level
    (:func:`solver.allocate.allocate_costs`), the path the tests compare the fast one
    with: both agree to 1e-6.

    Parameters
    ----------
    costs
        Cells, requirements, unit costs, needs.
    scenario
        Rules kept at every level (its envelope is replaced by each level).
    step, top
        Levels as shares of the appeal.
    """
    levels = funding_levels(step, top)
    ladder = _FastLadder.make(costs, scenario, float(levels[-1]))
    rows = []
    first = np.full(costs.n_cells, np.nan)
    for share in levels:
        if ladder is not None:
            level = ladder.level(float(share))
        else:
            level = built_level(costs, scenario, float(share))
        rows.append(level.row)
        if level.allocated is not None:
            funded = level.allocated >= FUNDED_USD
            first = np.where(np.isnan(first) & funded, share, first)
    levels_frame = pd.DataFrame(rows, columns=["share", "funding_usd", "allocated_usd",
                                               "people_reached", "pro_rata_people_reached",
                                               "marginal_people_per_1m", "status"])
    firsts = pd.DataFrame(
        {"requirement_usd": costs.requirement_usd, "first_funded_share": first}, index=costs.cells
    )
    order = np.lexsort((-costs.requirement_usd, np.nan_to_num(first, nan=np.inf)))
    return Frontier(levels_frame, firsts.iloc[order])


@dataclass(frozen=True, eq=False)
class LadderLevel:
    """One level of a funding ladder.

    Attributes
    ----------
    row
        ``(share, funding_usd, allocated_usd, people_reached, pro_rata_people_reached,
        marginal_people_per_1m, status)``, the row of :attr:`Frontier.levels`.
    allocated
        USD per cell, shape (n_cells,); ``None`` at an infeasible level.
    """

    row: tuple[float, float, float, float, float, float, str]
    allocated: np.ndarray | None


def _infeasible(costs: CostModel, share: float, reason: str) -> LadderLevel:
    nan = np.nan
    return LadderLevel((share, share * costs.requirement_usd.sum(), nan, nan, nan, nan,
                        reason), None)


def built_level(costs: CostModel, scenario: FundingScenario, share: float) -> LadderLevel:
    """One level of the ladder by a fresh build and solve (:func:`solver.allocate.allocate_costs`).

    The reference the fast ladder is checked against, and its fallback.
    """
    try:
        alloc = allocate_costs(costs, at_share(scenario, share), ranged="envelope")
    except InfeasibleScenarioError as exc:
        return _infeasible(costs, share, str(exc))
    # the level's envelope is a total (:func:`at_share`): the envelope row without a year
    env = [s.value for s in alloc.shadow_prices
           if s.row is not None and s.row.kind == "envelope" and s.row.year is None]
    return LadderLevel((share, alloc.funding_usd, alloc.allocated_usd, alloc.people_reached,
                        alloc.pro_rata_people_reached, env[0] if env else np.nan, "optimal"),
                       alloc.cells["allocated_usd"].to_numpy())


ENVELOPE_ROW = "envelope_total"
"""Name of the total envelope row of :func:`solver.model.build_model`."""

FLEXIBLE_ROW = "flexible_money"
"""Name of the flexible-money row (the envelope less the earmarks), present with earmarks."""


class _FastLadder:
    """The allocation model of a ladder built once, re-solved per level (see above)."""

    def __init__(self, costs: CostModel, scenario: FundingScenario, top: float) -> None:
        self.costs = costs
        self.scenario = scenario
        self.lp = build_model(costs, at_share(scenario, top))
        check_ranges(self.lp)
        self.arrays = lp_arrays(self.lp.problem)
        self.fast = FastLP(self.arrays)
        self.row_lower = self.arrays.row_lower.copy()
        self.row_upper = self.arrays.row_upper.copy()
        self.tranche_cols = [self.fast.col_index([v.name for v in xs])
                             for xs in self.lp.tranche_vars]
        people = np.zeros(len(self.arrays.variable_names))
        col = {name: j for j, name in enumerate(self.arrays.variable_names)}
        for i, p in enumerate(self.lp.people_vars):
            if p is not None and costs.reaches_people[i]:
                people[col[p.name]] = 1.0
        self.people = people
        self.envelope = self.fast.row_index([ENVELOPE_ROW])
        # the flexible money is the envelope less the earmarked amounts, summed as the
        # model sums them (:func:`solver.model.build_model`)
        self.earmarked = 0.0
        for row in self.lp.rows_of("earmark"):
            self.earmarked += row.rhs
        self.flexible = FLEXIBLE_ROW in self.lp.rows
        self.basis: object | None = None
        self.elastic: ElasticLadder | None = None

    @classmethod
    def make(cls, costs: CostModel, scenario: FundingScenario, top: float) -> _FastLadder | None:
        """The fast ladder, or ``None`` where every level must be built afresh.

        ``None`` when the objective share bounds can never hold (every level gives the
        same error, at once, without a build) or the model has no total envelope row
        of the usual form.
        """
        try:
            _check_objective_bounds(scenario)
        except InfeasibleScenarioError:
            return None
        ladder = cls(costs, scenario, top)
        row = ladder.lp.rows.get(ENVELOPE_ROW)
        if row is None or row.sense != "<=" or row.year is not None:
            return None
        return ladder

    def _rhs(self, scenario: FundingScenario) -> dict[str, float]:
        usd = self.lp.units.usd
        total, _ = resolve_envelope(self.costs, scenario)
        assert total is not None  # at_share gives a total envelope
        rhs = {ENVELOPE_ROW: total / usd}
        if self.flexible:
            rhs[FLEXIBLE_ROW] = funding_usd(self.costs, scenario) / usd - self.earmarked
        return rhs

    def level(self, share: float) -> LadderLevel:
        """Solve one level; see :func:`funding_frontier`."""
        costs, lp = self.costs, self.lp
        scenario = at_share(self.scenario, share)
        rhs = self._rhs(scenario)
        self.fast.set_rhs(rhs)
        for name, value in rhs.items():
            i = self.fast.row_index([name])[0]
            self.row_upper[i] = value
        # earmarked money is part of the envelope (each earmark column is at most its
        # cell's money): earmarks above the envelope leave no allocation, and HiGHS can
        # take minutes to prove it, so such a level goes straight to the diagnosis
        if not (self.flexible and rhs[FLEXIBLE_ROW] < 0):
            if self.basis is not None:
                self.fast.set_basis(self.basis)
            try:
                sol = self.fast.solve()
            except FastSolveError as exc:
                text = str(exc).lower()
                if "unbounded" in text and "infeasible" not in text:
                    return built_level(costs, self.scenario, share)
                # infeasible, or not solved (PuLP's status for "unknown"): as
                # solver.allocate.allocate_costs, the diagnosis says why
                sol = None
        else:
            sol = None
        if sol is None:
            if self.elastic is None:
                self.elastic = ElasticLadder(costs, scenario)
            return _infeasible(costs, share, str(self.elastic.diagnose(rhs)))
        self.basis = self.fast.basis()
        usd = lp.units.usd
        money = cell_money(self.tranche_cols, sol.values)
        allocated = money_usd(money, usd)
        available = funding_usd(costs, scenario)
        if scenario.objective_bounds and allocated.sum() <= 0 < available:
            return built_level(costs, self.scenario, share)
        pro_rata = pro_rata_allocation(costs, scenario)
        return LadderLevel(
            (share, available, float(allocated.sum()),
             float(costs.people_reached_cells(allocated).sum()),
             float(costs.people_reached_cells(pro_rata).sum()),
             self._envelope_price(sol.row_duals), "optimal"),
            allocated,
        )

    def _envelope_price(self, duals: np.ndarray) -> float:
        """People per extra $1M of envelope: the right derivative, as ``shadow_prices``."""
        arrays = replace(self.arrays, row_lower=self.row_lower.copy(),
                         row_upper=self.row_upper.copy())
        scale = self.lp.units.people_per_1m
        try:
            (s,) = row_sensitivities(arrays, self.people, [int(self.envelope[0])],
                                     basis=self.fast.basis())
        except SensitivitySolveError:
            return float(duals[self.envelope[0]] * scale)
        return float(s.people_up * scale)


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
