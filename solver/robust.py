"""Allocations planned with the simulation: sample average, CVaR and two-stage.

Re-solving per future says what each future would want; a planner has to commit
money before knowing which future comes. Three committed plans, each one LP over
``D`` simulated futures, built from the one model definition
(:func:`solver.model.build_model`) by the split-variable (scenario) formulation:

- every draw gets its own copy of the model's columns and rows, with that draw's
  people in need and tranche sizes (as in :mod:`solver.batch`);
- non-anticipativity rows force the money of committed lines to be equal in every
  copy: all lines for the **sample-average** and **CVaR** plans, the first year's
  lines only for the **two-stage** plan (later years adapt to each draw);
- the objective is the mean over draws of the model's objective (sample average,
  two-stage) or the mean of the worst ``alpha`` share of draws (CVaR, Rockafellar
  and Uryasev's linear form ``max t - 1/(alpha D) sum_d max(0, t - Z_d)``).

:func:`evaluate` gives the people an allocation reaches in each of a set of draws
(money fixed, people re-optimised within it), so plans can be compared on draws
they were not planned on. The value of planning with the simulation is the
relative gain of the sample-average plan over the plan made for average needs.

References
----------
Birge, J. R. and Louveaux, F. (2011). *Introduction to Stochastic Programming*,
2nd ed., ch. 4 (value of the stochastic solution).

Rockafellar, R. T. and Uryasev, S. (2000). Optimization of conditional
value-at-risk. *Journal of Risk* 2(3), 21-42.
"""

from __future__ import annotations

from typing import Literal

import highspy
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from reachplan.model.errors import ReachplanError
from reachplan.model.plan import Plan
from reachplan.model.scenario import Scenario
from reachplan.model.simulation import InitialState, Stream
from reachplan.solver.batch import PreparedModel, need_multipliers, prepared_model
from reachplan.solver.fast import FastLP
from reachplan.solver.matrix import LPArrays, highs_from_arrays
from reachplan.solver.result import PlanComparison, RobustPlan

FloatArray = NDArray[np.float64]
Method = Literal["saa", "cvar", "two_stage"]


CVAR_MEAN_WEIGHT = 1e-3
"""Weight of the mean in the CVaR plan's objective (ties broken towards more people)."""


class RobustSolveError(ReachplanError, RuntimeError):
    """The scenario LP could not be solved to optimality."""


def simulated_multipliers(
    plan: Plan, scenario: Scenario, initial: InitialState, draws: int, stream: int
) -> FloatArray:
    """Need multipliers (draws, need rows): the first ``draws`` draws of a seed stream.

    Streams are those of :class:`model.simulation.streams.Stream`, for
    ``scenario.seed``: ``Stream.RUN`` (0) gives draws ``0 .. draws - 1`` of
    :func:`solver.batch.run_scenario` (the same multipliers, row for row);
    ``Stream.PLANNING`` (1) the futures :func:`compare_plans` plans over and
    ``Stream.EVALUATION`` (2) the fresh futures it evaluates on, independent of
    each other and of the run's draws.
    """
    prep = prepared_model(plan, scenario)
    return need_multipliers(scenario, initial, 0, draws, prep.need_rows, stream=stream)


def _draw_bounds(prep: PreparedModel, mult: FloatArray) -> tuple[FloatArray, ...]:
    """Column upper bounds and row bounds of one draw's copy."""
    arrays = prep.arrays
    col_upper = arrays.col_upper.copy()
    col_upper[prep.slice_cols] = prep.slice_bounds(mult)
    row_upper = arrays.row_upper.copy()
    row_upper[prep.need_index] = prep.need_rhs(mult)
    return col_upper, arrays.row_lower, row_upper


def _cell_money_matrix(prep: PreparedModel, n_cols: int) -> sp.csr_matrix:
    """Sparse (n_cells, n_cols) summing each cell's tranche columns."""
    rows, cols = [], []
    for i, c in enumerate(prep.tranche_cols):
        rows += [i] * len(c)
        cols += list(c)
    n_cells = len(prep.tranche_cols)
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_cells, n_cols))


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
    costs = prep.costs
    if method == "two_stage":
        committed = np.asarray(costs.years == costs.years.min())
    else:
        committed = np.ones(costs.n_cells, dtype=bool)
    blocks = [_draw_bounds(prep, multipliers[d]) for d in range(d_count)]
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
    h = highs_from_arrays(cost, True, col_lower, col_upper, matrix, row_lower, row_upper)
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


def evaluate(
    plan: Plan, scenario: Scenario, robust: RobustPlan, multipliers: FloatArray
) -> FloatArray:
    """People reached by a plan in each draw: committed money fixed, the rest re-optimised.

    Returns
    -------
    numpy.ndarray
        Shape (draws,), persons.
    """
    prep = prepared_model(plan, scenario)
    arrays = prep.arrays
    n = len(arrays.cost)
    money = _cell_money_matrix(prep, n)[robust.committed]
    target = robust.allocation_usd[robust.committed] / prep.lp.units.usd
    # fix committed money (to within a millionth of a money unit per line)
    tol = 1e-6
    fixed = LPArrays(
        variable_names=arrays.variable_names,
        row_names=arrays.row_names + tuple(f"commit_{i}" for i in range(money.shape[0])),
        cost=arrays.cost,
        maximise=arrays.maximise,
        col_lower=arrays.col_lower,
        col_upper=arrays.col_upper,
        matrix=sp.vstack([arrays.matrix, money], format="csr"),
        row_lower=np.concatenate([arrays.row_lower, target - tol]),
        row_upper=np.concatenate([arrays.row_upper, target + tol]),
        objective_constant=arrays.objective_constant,
    )
    fast = FastLP(fixed)
    out = np.zeros(multipliers.shape[0])
    for d, mult in enumerate(multipliers):
        prep.apply_draw(fast, mult)
        sol = fast.solve()
        out[d] = sol.values[prep.people_cols].sum() * prep.lp.units.people
    return out


def compare_plans(
    plan: Plan,
    scenario: Scenario,
    initial: InitialState,
    *,
    planning_draws: int = 20,
    evaluation_draws: int = 200,
    alpha: float = 0.1,
    methods: tuple[Method, ...] = ("saa", "cvar", "two_stage"),
) -> PlanComparison:
    """Plan on ``planning_draws`` futures; evaluate every plan on fresh ``evaluation_draws``.

    Planning draws are the first ``planning_draws`` of ``Stream.PLANNING``,
    evaluation draws the first ``evaluation_draws`` of ``Stream.EVALUATION``
    (:mod:`model.simulation.streams`), both for ``scenario.seed``: neither is
    the run's stream, so plans are judged on futures they were not made on.
    """
    train = simulated_multipliers(plan, scenario, initial, planning_draws, Stream.PLANNING)
    test = simulated_multipliers(plan, scenario, initial, evaluation_draws, Stream.EVALUATION)
    plans = [plan_for_mean_needs(plan, scenario, train)]
    plans += [plan_over_draws(plan, scenario, train, m, alpha) for m in methods]
    people = np.stack([evaluate(plan, scenario, p, test) for p in plans])
    return PlanComparison(tuple(plans), people, alpha)
