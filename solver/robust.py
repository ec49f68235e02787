"""Allocations planned with the simulation (sample average, CVaR, two-stage), compared fairly.

Re-solving per future says what each future would want; a planner has to commit
money before knowing which future comes. Three committed plans, each one LP over
``D`` simulated futures, built from the one model definition
(:func:`solver.model.build_model`) by the split-variable (scenario) formulation:

- every draw gets its own copy of the model's columns and rows, with that draw's
  needs (whatever :meth:`PreparedModel.apply_draw` sets, read back from HiGHS);
- non-anticipativity rows force the money of committed lines to be equal in every
  copy: all lines for the **sample-average** and **CVaR** plans, the first year's
  lines only for the **two-stage** plan (later years adapt to each draw);
- the objective is the mean over draws of the model's objective (sample average,
  two-stage) or the mean of the worst ``alpha`` share of draws (CVaR, Rockafellar
  and Uryasev's linear form ``max t - 1/(alpha D) sum_d max(0, t - Z_d)``).

The **plan for average needs** is the same LP on one future, the planning draws' mean.

How plans are compared (:func:`compare_plans`)
----------------------------------------------
Every plan is evaluated on the same evaluation futures (``Stream.EVALUATION``) in
two ways:

- **with recourse** (the headline): the plan commits its first year's money; at
  the start of every later year ``t`` the planner knows the realised needs of
  years before ``t`` of that future and nothing else, forecasts years ``t`` and
  later by :data:`FORECAST_RULE`, re-optimises years ``t`` onwards with the money
  left (earlier years' money fixed), and commits year ``t``'s money. Every plan
  goes through exactly this recourse, so plans differ only in their first-year
  commitment. When every year is decided, the plan is scored on the future's
  realised needs (money fixed, people re-optimised within it).
  :func:`recourse_allocation` gives the decisions, :func:`evaluate_with_recourse`
  the scores.
- **without recourse**: every cell's money fixed at the plan's allocation (for
  the two-stage plan, later years at their mean over the planning draws), scored
  on the realised needs (:func:`evaluate_fixed`).

Both give people reached (the sum of the model's people columns) and the LP
objective value (the model's own objective, in the units :func:`solver.batch.run_scenario`
reports it), because the objective need not be a headcount.

Each plan is compared with the average-needs plan future by future: the mean
paired difference, a 95% t interval on the paired differences, and the relative
gain with a delta-method interval (:func:`paired_interval`). The whole comparison
is replicated over ``replicates`` planning samples (:func:`planning_seeds`); the
pooled interval averages each future's difference over the replicates, and the
spread over replicates shows how much the answer depends on the planning sample.

Determinism: every number depends only on the scenario's seed, the draw counts and
the replicate's index. Futures are evaluated in fixed chunks of :data:`CHUNK_FUTURES`,
each chunk in a fresh HiGHS instance; in the recourse every future starts from the
same simplex basis, so a future's decisions depend on what is known of it, not on
the futures solved before it (up to floating-point round-off). The numbers do not
depend on ``workers`` or on how many replicates are run.

References
----------
Birge, J. R. and Louveaux, F. (2011). *Introduction to Stochastic Programming*,
2nd ed., ch. 4 (value of the stochastic solution) and ch. 7 (rolling horizons).

Rockafellar, R. T. and Uryasev, S. (2000). Optimization of conditional
value-at-risk. *Journal of Risk* 2(3), 21-42.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import highspy
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy import stats

from reachplan.model.errors import ReachplanError
from reachplan.model.plan import Plan
from reachplan.model.scenario import Scenario
from reachplan.model.simulation import InitialState, Stream
from reachplan.solver.batch import PreparedModel, need_multipliers, prepared_model
from reachplan.solver.fast import FastLP, FastSolveError
from reachplan.solver.matrix import LPArrays, highs_from_arrays
from reachplan.solver.result import PlanComparison, RobustPlan

FloatArray = NDArray[np.float64]
Method = Literal["saa", "cvar", "two_stage"]


CVAR_MEAN_WEIGHT = 1e-3
"""Weight of the mean in the CVaR plan's objective (ties broken towards more people)."""

DEFAULT_REPLICATES = 3
"""Planning samples the comparison is replicated over by default."""

CONFIDENCE = 0.95
"""Level of the paired confidence intervals."""

FIX_TOL = 1e-9
"""Half-width (LP money units) of the band a committed cell's money is fixed to."""

FREE_BOUND = 1e30
"""Bound of a commitment row that is not in force (HiGHS reads it as infinite)."""

CHUNK_FUTURES = 25
"""Evaluation futures per task (fixed, so results never depend on workers)."""

FORECAST_RULE = (
    "at the start of year t the realised needs of the years before t are known; each "
    "later year's need multiplier is its mean over the planning draws, scaled by the "
    "ratio of the last observed year's realised multiplier to its planning mean for the "
    "same location (1 where the location has no observed year)"
)
"""The recourse's forecast, in plain words (:func:`forecast_multipliers`)."""


class RobustSolveError(ReachplanError, RuntimeError):
    """The scenario LP could not be solved to optimality."""


# ---- futures ---------------------------------------------------------------------------------


def simulated_multipliers(
    plan: Plan,
    scenario: Scenario,
    initial: InitialState,
    draws: int,
    stream: int,
    seed: int | None = None,
) -> FloatArray:
    """Need multipliers (draws, need rows): the first ``draws`` draws of a seed stream.

    Streams are those of :class:`model.simulation.streams.Stream`, for ``seed``
    (default ``scenario.seed``): ``Stream.RUN`` (0) gives draws ``0 .. draws - 1`` of
    :func:`solver.batch.run_scenario` (the same multipliers, row for row);
    ``Stream.PLANNING`` (1) the futures plans are made on (with the seeds of
    :func:`planning_seeds`) and ``Stream.EVALUATION`` (2) the fresh futures
    :func:`compare_plans` evaluates on, independent of each other and of the run's draws.
    """
    prep = prepared_model(plan, scenario)
    chosen = scenario if seed is None else _with_seed(scenario, seed)
    return need_multipliers(
        chosen, initial, 0, draws, prep.need_rows, stream=stream,
        parents=prep.parents, plan_need=prep.base_need,
    )


def _with_seed(scenario: Scenario, seed: int) -> Scenario:
    from dataclasses import replace

    return replace(scenario, seed=int(seed))


def planning_seeds(seed: int, replicates: int) -> tuple[int, ...]:
    """Seed of each replicate's planning sample, derived from the scenario's seed.

    Replicate ``r`` gets ``SeedSequence(seed, spawn_key=(Stream.PLANNING,)).spawn(n)[r]``
    turned into one 64-bit integer. A child's spawn key does not depend on how many
    children are spawned, so replicate ``r``'s seed is the same whatever ``replicates``
    is (3 replicates are the first 3 of 5). Its draws are those of ``Stream.PLANNING``
    for that seed.
    """
    if replicates < 1:
        raise ValueError(f"replicates must be at least 1, not {replicates}")
    parent = np.random.SeedSequence(int(seed), spawn_key=(int(Stream.PLANNING),))
    return tuple(int(c.generate_state(1, np.uint64)[0]) for c in parent.spawn(replicates))


# ---- planning ---------------------------------------------------------------------------------


def _cell_money_matrix(prep: PreparedModel, n_cols: int) -> sp.csr_matrix:
    """Sparse (n_cells, n_cols) summing each cell's tranche columns."""
    rows, cols = [], []
    for i, c in enumerate(prep.tranche_cols):
        rows += [i] * len(c)
        cols += list(c)
    n_cells = len(prep.tranche_cols)
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_cells, n_cols))


def _cell_years(prep: PreparedModel) -> NDArray[np.int64]:
    return np.asarray(prep.costs.years, dtype=np.int64)


def _draw_bounds(prep: PreparedModel, fast: FastLP, mult: FloatArray) -> tuple[FloatArray, ...]:
    """Column upper bounds and row bounds of one draw: what ``apply_draw`` sets, read back."""
    prep.apply_draw(fast, mult)
    lp = fast.model()  # the model HiGHS solves, whatever apply_draw changed
    return (
        np.asarray(lp.col_upper_, dtype=float).copy(),
        np.asarray(lp.row_lower_, dtype=float).copy(),
        np.asarray(lp.row_upper_, dtype=float).copy(),
    )


def plan_over_draws(
    plan: Plan, scenario: Scenario, multipliers: FloatArray, method: Method, alpha: float = 0.1
) -> RobustPlan:
    """Solve the scenario LP over the draws' multipliers (shape (D, need rows)).

    Raises
    ------
    RobustSolveError
        When HiGHS does not reach an optimum.
    """
    prep = prepared_model(plan, scenario)
    arrays = prep.arrays
    d_count = multipliers.shape[0]
    n = len(arrays.cost)
    years = _cell_years(prep)
    if method == "two_stage":
        committed = years == years.min()
    else:
        committed = np.ones(len(prep.tranche_cols), dtype=bool)
    reader = FastLP(arrays)
    blocks = [_draw_bounds(prep, reader, multipliers[d]) for d in range(d_count)]
    col_lower = np.tile(arrays.col_lower, d_count)
    col_upper = np.concatenate([b[0] for b in blocks])
    row_lower = np.concatenate([b[1] for b in blocks])
    row_upper = np.concatenate([b[2] for b in blocks])
    matrix = sp.block_diag([arrays.matrix] * d_count, format="csr")
    money = _cell_money_matrix(prep, n)[committed]
    if d_count > 1 and money.shape[0]:
        links = []
        for d in range(1, d_count):
            parts = [-money] + [sp.csr_matrix(money.shape)] * (d_count - 1)
            parts[d] = money
            links.append(sp.hstack(parts))
        na = sp.vstack(links, format="csr")
        matrix = sp.vstack([matrix, na], format="csr")
        zeros = np.zeros(na.shape[0])
        row_lower = np.concatenate([row_lower, zeros])
        row_upper = np.concatenate([row_upper, zeros])
    if method == "cvar":
        inf = highspy.kHighsInf
        # a small weight on the mean keeps every draw's people maximal (not only the tail)
        cost = np.concatenate(
            [
                np.tile(arrays.cost * CVAR_MEAN_WEIGHT / d_count, d_count),
                [1.0],
                np.full(d_count, -1.0 / (alpha * d_count)),
            ]
        )
        col_lower = np.concatenate([col_lower, [-inf], np.zeros(d_count)])
        col_upper = np.concatenate([col_upper, [inf], np.full(d_count, inf)])
        # Z_d + s_d - t >= 0, with Z_d = cost . x_d
        z = sp.block_diag([sp.csr_matrix(arrays.cost)] * d_count, format="csr")
        extra = sp.hstack([z, -np.ones((d_count, 1)), sp.identity(d_count)], format="csr")
        matrix = sp.hstack([matrix, sp.csr_matrix((matrix.shape[0], 1 + d_count))], format="csr")
        matrix = sp.vstack([matrix, extra], format="csr")
        row_lower = np.concatenate([row_lower, np.zeros(d_count)])
        row_upper = np.concatenate([row_upper, np.full(d_count, inf)])
    else:
        cost = np.tile(arrays.cost / d_count, d_count)
    h = highs_from_arrays(
        cost, arrays.maximise, col_lower, col_upper, matrix, row_lower, row_upper
    )
    h.run()
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise RobustSolveError(
            f"the {method} plan could not be solved: {h.modelStatusToString(status)}"
        )
    x = np.asarray(h.getSolution().col_value)[: n * d_count].reshape(d_count, n)
    units = prep.lp.units
    cell_money = (_cell_money_matrix(prep, n) @ x.T).T * units.usd  # (D, n_cells)
    allocation = np.where(committed, cell_money[0], cell_money.mean(axis=0))
    people = x[:, prep.people_cols].sum(axis=1) * units.people
    return RobustPlan(method, np.clip(allocation, 0.0, None), committed, people)


def plan_for_mean_needs(plan: Plan, scenario: Scenario, multipliers: FloatArray) -> RobustPlan:
    """The deterministic plan for average needs (the multipliers' mean), for comparison."""
    mean = multipliers.mean(axis=0, keepdims=True)
    single = plan_over_draws(plan, scenario, mean, "saa")
    return RobustPlan(
        "mean_needs", single.allocation_usd, single.committed, single.in_sample_people
    )


# ---- evaluation: a model with commitment rows -------------------------------------------------


class _Committable:
    """The scenario's LP in HiGHS with two rows per cell that can fix the cell's money.

    Row ``hi_i``: money of cell ``i`` <= U_i, row ``lo_i``: money >= L_i; a row not in
    force has the bound :data:`FREE_BOUND` (infinite for HiGHS, finite for
    :meth:`FastLP.set_rhs`). The model's own rows and columns keep their positions, so
    :meth:`PreparedModel.apply_draw` works on it unchanged.
    """

    def __init__(self, prep: PreparedModel) -> None:
        arrays = prep.arrays
        n = len(arrays.cost)
        money = _cell_money_matrix(prep, n)
        n_cells = money.shape[0]
        m = len(arrays.row_names)
        inf = highspy.kHighsInf
        extended = LPArrays(
            variable_names=arrays.variable_names,
            row_names=arrays.row_names
            + tuple(f"commit_hi_{i}" for i in range(n_cells))
            + tuple(f"commit_lo_{i}" for i in range(n_cells)),
            cost=arrays.cost,
            maximise=arrays.maximise,
            col_lower=arrays.col_lower,
            col_upper=arrays.col_upper,
            matrix=sp.vstack([arrays.matrix, money, money], format="csr"),
            row_lower=np.concatenate([arrays.row_lower, np.full(n_cells, -inf),
                                      np.full(n_cells, -FREE_BOUND)]),
            row_upper=np.concatenate([arrays.row_upper, np.full(n_cells, FREE_BOUND),
                                      np.full(n_cells, inf)]),
            objective_constant=arrays.objective_constant,
        )
        self.prep = prep
        self.money = money
        self.fast = FastLP(extended)
        self.hi = np.arange(m, m + n_cells, dtype=np.int32)
        self.lo = np.arange(m + n_cells, m + 2 * n_cells, dtype=np.int32)
        self._hi = np.full(n_cells, FREE_BOUND)
        self._lo = np.full(n_cells, -FREE_BOUND)

    def solve(self, mult: FloatArray, fixed: NDArray[np.bool_], money_lp: FloatArray) -> Any:
        """Solve with ``mult``'s needs, cells in ``fixed`` at ``money_lp`` (LP units).

        Enabler lines are never fixed: the model's overhead rows set them from the
        programme money, and fixing both sides to within :data:`FIX_TOL` would ask for
        more precision than the solver's feasibility tolerance.
        """
        fixed = np.asarray(fixed, dtype=bool) & ~self.prep.costs.is_enabler
        for rows, value, current in (
            (self.hi, np.where(fixed, money_lp + FIX_TOL, FREE_BOUND), self._hi),
            (self.lo, np.where(fixed, money_lp - FIX_TOL, -FREE_BOUND), self._lo),
        ):
            changed = value != current  # only rows whose bound moves are handed to HiGHS
            self.fast.set_rhs((rows[changed], value[changed]))
            current[changed] = value[changed]
        self.prep.apply_draw(self.fast, mult)
        try:
            return self.fast.solve()
        except FastSolveError as exc:
            raise RobustSolveError(
                f"a plan's committed money cannot be kept in an evaluation future ({exc}); "
                "the rules cannot all hold with that future's needs"
            ) from None

    def basis(self) -> Any:
        """The current simplex basis (to start other solves from)."""
        return self.fast.basis()

    def set_basis(self, basis: Any) -> None:
        """Start the next solve from ``basis``."""
        self.fast.set_basis(basis)

    def cell_money(self, values: FloatArray) -> FloatArray:
        """Money per cell (LP units) of a solution's column values."""
        return np.asarray(self.money @ values, dtype=float)

    def score(self, sol: Any) -> tuple[float, float]:
        """(people reached, objective) of a solution, in persons and run-objective units."""
        units = self.prep.lp.units
        people = float(sol.values[self.prep.people_cols].sum() * units.people)
        return people, float(sol.objective * units.people)


# ---- recourse ---------------------------------------------------------------------------------


def forecast_multipliers(
    known: FloatArray,
    planning_mean: FloatArray,
    need_rows: Sequence[tuple[str, int]],
    year: int,
) -> FloatArray:
    """Multipliers the planner uses at the start of ``year`` (:data:`FORECAST_RULE`).

    Rows of years before ``year`` take the realised value ``known``; a row of
    ``year`` or later takes its planning mean times ``known[l, y0] / planning_mean[l, y0]``,
    ``y0`` the latest year before ``year`` with a row for the same location ``l``
    (ratio 1 where there is none or its planning mean is 0). Only rows of years before
    ``year`` of ``known`` are read.
    """
    known = np.asarray(known, dtype=float)
    planning_mean = np.asarray(planning_mean, dtype=float)
    out = planning_mean.copy()
    last: dict[str, int] = {}
    for r, (loc, y) in enumerate(need_rows):
        if y < year and (loc not in last or need_rows[last[loc]][1] < y):
            last[loc] = r
    for r, (loc, y) in enumerate(need_rows):
        if y < year:
            out[r] = known[r]
        elif loc in last and planning_mean[last[loc]] > 0:
            out[r] = planning_mean[r] * known[last[loc]] / planning_mean[last[loc]]
    return out


@dataclass(frozen=True)
class RecoursePath:
    """One plan's decisions in one future, year by year, and its score.

    Attributes
    ----------
    allocation_usd
        Money per cell as decided (first year: the plan's; year ``t``: decided at the
        start of year ``t``), shape (n_cells,).
    stage_plans_usd
        For each decision year after the first, the whole allocation the planner's
        re-optimisation proposed at the start of that year (only that year's cells are
        committed from it), shape (n_years - 1, n_cells).
    people, objective
        Score on the future's realised needs.
    """

    allocation_usd: FloatArray
    stage_plans_usd: FloatArray
    people: float
    objective: float


def _recourse_paths(
    prep: PreparedModel,
    first_year_usd: FloatArray,
    futures: FloatArray,
    planning_mean: FloatArray,
) -> list[RecoursePath]:
    """Recourse of one plan in each future (rows of ``futures``), one HiGHS instance.

    Every future starts from the same simplex basis: the optimum of the first decision
    year's re-optimisation on the forecast made from the planning mean itself. So a
    future's decisions depend on the plan, the planning mean and what is known of
    that future, never on the other futures solved before it.
    """
    years = _cell_years(prep)
    order = sorted(set(years.tolist()))
    usd = prep.lp.units.usd
    model = _Committable(prep)
    first = np.where(years == order[0], np.asarray(first_year_usd, dtype=float) / usd, 0.0)
    row_years = np.array([y for _, y in prep.need_rows], dtype=np.int64)
    start = None
    if len(order) > 1:
        model.solve(
            forecast_multipliers(planning_mean, planning_mean, prep.need_rows, order[1]),
            years < order[1],
            first,
        )
        start = model.basis()
    paths = []
    for future in np.atleast_2d(futures):
        if start is not None:
            model.set_basis(start)
        decided = first.copy()
        stages = []
        for year in order[1:]:
            known = np.where(row_years < year, future, np.nan)  # later years: not known
            mult = forecast_multipliers(known, planning_mean, prep.need_rows, year)
            sol = model.solve(mult, years < year, decided)
            proposal = model.cell_money(sol.values)
            stages.append(proposal * usd)
            decided = np.where(years == year, proposal, decided)
        final = model.solve(future, np.ones(len(years), dtype=bool), decided)
        people, objective = model.score(final)
        stage_plans = np.array(stages).reshape(len(stages), len(years))
        paths.append(
            RecoursePath(np.clip(decided * usd, 0.0, None), stage_plans, people, objective)
        )
    return paths


def recourse_allocation(
    plan: Plan,
    scenario: Scenario,
    first_year_usd: FloatArray,
    future: FloatArray,
    planning_mean: FloatArray,
) -> RecoursePath:
    """Decide a future's later years on what is known then, and score on its realised needs.

    Parameters
    ----------
    first_year_usd
        Money per cell (USD, shape (n_cells,)); only the first year's cells are read.
    future
        The future's realised need multipliers, shape (need rows,).
    planning_mean
        Mean multipliers over the planning draws, the forecast's base.
    """
    prep = prepared_model(plan, scenario)
    return _recourse_paths(prep, first_year_usd, future, planning_mean)[0]


def evaluate_with_recourse(
    plan: Plan,
    scenario: Scenario,
    robust: RobustPlan,
    multipliers: FloatArray,
    planning_mean: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """(people reached, objective) of a plan per future, first year committed, later re-decided.

    Returns
    -------
    tuple of numpy.ndarray
        Each of shape (futures,).
    """
    prep = prepared_model(plan, scenario)
    paths = _recourse_paths(prep, robust.allocation_usd, multipliers, planning_mean)
    return (np.array([p.people for p in paths]), np.array([p.objective for p in paths]))


def evaluate_fixed(
    plan: Plan, scenario: Scenario, robust: RobustPlan, multipliers: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """(people reached, objective) per future with every cell's money fixed at the plan's.

    Futures are solved in chunks of :data:`CHUNK_FUTURES`, each chunk in a fresh HiGHS
    instance warm-started from future to future.
    """
    prep = prepared_model(plan, scenario)
    target = np.asarray(robust.allocation_usd, dtype=float) / prep.lp.units.usd
    fixed = np.ones(len(target), dtype=bool)
    people = np.zeros(multipliers.shape[0])
    objective = np.zeros(multipliers.shape[0])
    for start in range(0, multipliers.shape[0], CHUNK_FUTURES):
        model = _Committable(prep)
        for d in range(start, min(start + CHUNK_FUTURES, multipliers.shape[0])):
            people[d], objective[d] = model.score(model.solve(multipliers[d], fixed, target))
    return people, objective


def evaluate(
    plan: Plan, scenario: Scenario, robust: RobustPlan, multipliers: FloatArray
) -> FloatArray:
    """People reached by a plan in each draw, every cell's money fixed (no recourse).

    Returns
    -------
    numpy.ndarray
        Shape (draws,), persons.
    """
    return evaluate_fixed(plan, scenario, robust, multipliers)[0]


# ---- statistics -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairedInterval:
    """Mean paired difference of a plan against a reference, with t intervals.

    Attributes
    ----------
    n
        Paired futures.
    mean_difference, low, high
        Mean of ``values - reference`` and its ``level`` t interval
        ``mean +- t_{(1+level)/2, n-1} * sd / sqrt(n)`` (sd with ``n - 1``).
    relative_gain, relative_low, relative_high
        ``mean_difference / mean(reference)`` and its delta-method interval: standard
        error ``sd(d - g * b) / (sqrt(n) * mean(b))`` with the same t quantile.
    level
        Confidence level. Intervals are NaN with fewer than 2 futures.
    """

    n: int
    mean_difference: float
    low: float
    high: float
    relative_gain: float
    relative_low: float
    relative_high: float
    level: float


def paired_interval(
    values: FloatArray, reference: FloatArray, level: float = CONFIDENCE
) -> PairedInterval:
    """Paired t interval of ``values - reference`` and of the relative gain."""
    v = np.asarray(values, dtype=float)
    b = np.asarray(reference, dtype=float)
    d = v - b
    n = len(d)
    mean_d = float(d.mean()) if n else float("nan")
    mean_b = float(b.mean()) if n else float("nan")
    gain = mean_d / mean_b if n and mean_b != 0 else float("nan")
    if n < 2:
        nan = float("nan")
        return PairedInterval(n, mean_d, nan, nan, gain, nan, nan, level)
    q = float(stats.t.ppf((1.0 + level) / 2.0, n - 1))
    half = q * float(d.std(ddof=1)) / np.sqrt(n)
    if mean_b != 0:
        rel_half = q * float((d - gain * b).std(ddof=1)) / (np.sqrt(n) * abs(mean_b))
    else:
        rel_half = float("nan")
    return PairedInterval(
        n, mean_d, float(mean_d - half), float(mean_d + half), gain, float(gain - rel_half),
        float(gain + rel_half), level,
    )


@dataclass(frozen=True)
class PlanStatistics:
    """One plan against the average-needs plan, for one measure and evaluation mode.

    Attributes
    ----------
    method, measure, recourse
        The plan, ``"people"`` or ``"objective"``, and whether later years were re-decided.
    mean
        Mean over replicates and futures.
    pooled
        Interval of each future's difference averaged over replicates.
    replicates
        The interval of each replicate on its own.
    spread_min, spread_max, spread_sd
        Of the replicates' relative gains (sd with ``n - 1``; 0 for one replicate).
    """

    method: str
    measure: str
    recourse: bool
    mean: float
    pooled: PairedInterval
    replicates: tuple[PairedInterval, ...]
    spread_min: float
    spread_max: float
    spread_sd: float


def plan_statistics(
    comp: PlanComparison, measure: str = "people", recourse: bool = True,
    level: float = CONFIDENCE,
) -> tuple[PlanStatistics, ...]:
    """Every plan against the average-needs plan (:class:`PlanStatistics`), in plan order."""
    values = comp.outcomes(measure, recourse)
    base = values[:, comp.base_index, :]
    out = []
    for j, method in enumerate(comp.methods):
        per = tuple(paired_interval(values[r, j], base[r], level) for r in range(len(values)))
        gains = np.array([p.relative_gain for p in per])
        out.append(
            PlanStatistics(
                method=method,
                measure=measure,
                recourse=recourse,
                mean=float(values[:, j].mean()),
                pooled=paired_interval(values[:, j].mean(axis=0), base.mean(axis=0), level),
                replicates=per,
                spread_min=float(gains.min()),
                spread_max=float(gains.max()),
                spread_sd=float(gains.std(ddof=1)) if len(gains) > 1 else 0.0,
            )
        )
    return tuple(out)


# ---- the comparison ---------------------------------------------------------------------------


def _plan_task(
    plan: Plan, scenario: Scenario, train: FloatArray, method: str, alpha: float
) -> RobustPlan:
    if method == "mean_needs":
        return plan_for_mean_needs(plan, scenario, train)
    return plan_over_draws(plan, scenario, train, method, alpha)  # type: ignore[arg-type]


def _recourse_task(
    plan: Plan, scenario: Scenario, robust: RobustPlan, futures: FloatArray, mean: FloatArray
) -> tuple[FloatArray, FloatArray]:
    return evaluate_with_recourse(plan, scenario, robust, futures, mean)


def _fixed_task(
    plan: Plan, scenario: Scenario, robust: RobustPlan, futures: FloatArray
) -> tuple[FloatArray, FloatArray]:
    return evaluate_fixed(plan, scenario, robust, futures)


def _run_tasks(fn: Callable[..., Any], tasks: list[tuple[Any, ...]], pool: Any) -> list[Any]:
    """``[fn(*t) for t in tasks]``, in order; in the worker processes of ``pool`` if given."""
    if pool is None or len(tasks) <= 1:
        return [fn(*t) for t in tasks]
    return list(pool.map(fn, *zip(*tasks, strict=True)))


@contextlib.contextmanager
def _pool(workers: int) -> Iterator[Any]:
    """A process pool of ``workers`` (spawned) processes, or None for one worker."""
    if workers <= 1:
        yield None
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        yield pool


def compare_plans(
    plan: Plan,
    scenario: Scenario,
    initial: InitialState,
    *,
    planning_draws: int = 20,
    evaluation_draws: int = 200,
    alpha: float = 0.1,
    methods: tuple[Method, ...] = ("saa", "cvar", "two_stage"),
    replicates: int = DEFAULT_REPLICATES,
    workers: int = 1,
) -> PlanComparison:
    """Plan on ``replicates`` samples of ``planning_draws`` futures; evaluate on shared futures.

    Replicate ``r`` plans on the first ``planning_draws`` draws of ``Stream.PLANNING``
    for seed ``planning_seeds(scenario.seed, replicates)[r]``; every plan is evaluated on
    the first ``evaluation_draws`` draws of ``Stream.EVALUATION`` for ``scenario.seed``,
    with recourse and without (module docstring). Same seed, same numbers, whatever
    ``workers``; replicate ``r``'s numbers do not depend on ``replicates``.

    Raises
    ------
    RobustSolveError
        When a plan's LP or an evaluation cannot be solved.
    """
    seeds = planning_seeds(scenario.seed, replicates)
    test = simulated_multipliers(plan, scenario, initial, evaluation_draws, Stream.EVALUATION)
    trains = [
        simulated_multipliers(plan, scenario, initial, planning_draws, Stream.PLANNING, seed=s)
        for s in seeds
    ]
    names = ("mean_needs", *methods)
    plan_tasks = [(plan, scenario, t, m, alpha) for t in trains for m in names]
    with _pool(workers) as pool:
        made = _run_tasks(_plan_task, plan_tasks, pool)
        by_rep = [tuple(made[r * len(names) : (r + 1) * len(names)]) for r in range(replicates)]
        rec_tasks, fix_tasks = [], []
        for r, plans in enumerate(by_rep):
            mean = trains[r].mean(axis=0)
            for p in plans:
                for start in range(0, evaluation_draws, CHUNK_FUTURES):
                    futures = test[start : start + CHUNK_FUTURES]
                    rec_tasks.append((plan, scenario, p, futures, mean))
                    fix_tasks.append((plan, scenario, p, futures))
        rec = _run_tasks(_recourse_task, rec_tasks, pool)
        fix = _run_tasks(_fixed_task, fix_tasks, pool)
    shape = (replicates, len(names), evaluation_draws)
    people = np.concatenate([r[0] for r in rec]).reshape(shape)
    objective = np.concatenate([r[1] for r in rec]).reshape(shape)
    people_fixed = np.concatenate([f[0] for f in fix]).reshape(shape)
    objective_fixed = np.concatenate([f[1] for f in fix]).reshape(shape)
    return PlanComparison(
        plans=by_rep[0],
        people=people.mean(axis=0),
        alpha=alpha,
        planning_seeds=seeds,
        replicate_plans=tuple(by_rep),
        people_by_replicate=people,
        objective_by_replicate=objective,
        people_fixed_by_replicate=people_fixed,
        objective_fixed_by_replicate=objective_fixed,
        forecast_rule=FORECAST_RULE,
    )
