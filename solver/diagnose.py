"""Why a scenario is infeasible, in planner words, by an elastic re-solve.

The same model (:func:`solver.model.build_model` with ``elastic=True``) gives every
scenario row a non-negative violation variable and minimises the weighted total
violation (USD M). Envelopes cost least to relax, so the diagnosis reads "these floors
together exceed the 2025 envelope by $1.2M" rather than "lower this floor". The rows
relaxed at the optimum are the ones that must give, by the amounts found; the other
rows with a non-zero dual in the elastic solution are the rules pressing against them.

References
----------
Chinneck, J. W. (2008). *Feasibility and Infeasibility in Optimization: Algorithms and
Computational Methods*, ch. 6 (elastic programming). Springer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from reachplan.model.costs import CostModel
from reachplan.model.formatting import format_usd
from reachplan.model.funding import FundingScenario
from reachplan.solver.highs import pulp_solver
from reachplan.solver.model import AllocationLP, Row, build_model
from reachplan.solver.result import Conflict, InfeasibleScenarioError

VIOLATION_TOL = 1e-7
"""USD M of violation below which a row is not counted as relaxed."""


def _money_text(usd: float) -> str:
    return format_usd(usd, decimals=2, millions_from=1e5)


def diagnose_infeasibility(costs: CostModel, scenario: FundingScenario) -> InfeasibleScenarioError:
    """Name the constraints that conflict and by how much.

    Returns
    -------
    InfeasibleScenarioError
        An exception to raise, with a one-line message and the conflicts.
    """
    lp = build_model(costs, scenario, elastic=True)
    lp.problem.solve(pulp_solver())
    amounts = {name: sum(v.varValue or 0.0 for v in slack_vars)
               for name, slack_vars in lp.violations.items()}
    duals = {c.name: c.pi or 0.0 for c in lp.problem.constraints()}
    return explain(lp, amounts, duals)


class ElasticLadder:
    """The elastic model of one scenario, built once, solved again at other envelopes.

    A funding ladder (:func:`solver.frontier.funding_frontier`) needs the diagnosis at
    each infeasible level, and the levels differ only in the right-hand sides of the
    envelope rows. The elastic model is built once (:func:`solver.model.build_model`
    with ``elastic=True``) and read into arrays (:func:`solver.matrix.lp_arrays`);
    :meth:`diagnose` changes those right-hand sides and solves the arrays in a new
    HiGHS instance from scratch. Not from the previous level's basis: the elastic LP
    often has several optimal solutions (which of two equally weighted rows gives), and
    a solve from scratch of the same columns and rows in the same order makes the choice
    a fresh build makes, so the message is the one :func:`diagnose_infeasibility` gives
    at that level (the tests check it word for word).

    Parameters
    ----------
    costs, scenario
        As for :func:`diagnose_infeasibility` (any envelope: :meth:`diagnose` sets it).
    """

    def __init__(self, costs: CostModel, scenario: FundingScenario) -> None:
        from reachplan.solver.matrix import lp_arrays

        self.lp = build_model(costs, scenario, elastic=True)
        self.arrays = lp_arrays(self.lp.problem)
        col = {name: j for j, name in enumerate(self.arrays.variable_names)}
        self._row_of = {name: i for i, name in enumerate(self.arrays.row_names)}
        self._slack_cols = {name: np.array([col[v.name] for v in slack], dtype=np.int64)
                            for name, slack in self.lp.violations.items()}

    def diagnose(self, rhs: Mapping[str, float]) -> InfeasibleScenarioError:
        """The diagnosis with the named ``<=`` rows' right-hand sides (LP units) set to ``rhs``.

        Raises
        ------
        solver.fast.FastSolveError
            When HiGHS does not solve the elastic model (it is always feasible and
            bounded, so this means a solver failure).
        """
        from reachplan.solver.fast import FastLP

        upper = self.arrays.row_upper.copy()
        for name, value in rhs.items():
            upper[self._row_of[name]] = value
        sol = FastLP(replace(self.arrays, row_upper=upper)).solve()
        amounts = {name: float(sum(sol.values[cols].tolist()))
                   for name, cols in self._slack_cols.items()}
        duals = dict(zip(self.arrays.row_names, sol.row_duals.tolist(), strict=True))
        return explain(self.lp, amounts, duals)


def explain(
    lp: AllocationLP, amounts: Mapping[str, float], duals: Mapping[str, float]
) -> InfeasibleScenarioError:
    """The diagnosis read from a solved elastic model.

    Parameters
    ----------
    lp
        The elastic model (``build_model(..., elastic=True)``).
    amounts
        Row name -> total violation at the optimum (LP money units), for every row
        that may be violated.
    duals
        Row name -> dual at the optimum (only whether it is zero matters).
    """
    relaxed: list[Conflict] = []
    for name, amount in amounts.items():
        if amount > VIOLATION_TOL:
            row = lp.rows[name]
            relaxed.append(Conflict(name, row.description, amount * lp.units.usd, row))
    relaxed_names = {c.constraint for c in relaxed}
    main_sense = _row(max(relaxed, key=lambda c: c.shortfall_usd)).sense if relaxed else "<="
    # the rules pressing against the relaxed one: binding rows of the opposite sense
    wanted = (">=", "==") if main_sense == "<=" else ("<=", "==")
    partners = [
        Conflict(row.name, row.description, 0.0, row)
        for name, row in lp.rows.items()
        if name in lp.violations
        and name not in relaxed_names
        and row.sense in wanted
        and abs(duals.get(name, 0.0)) > 1e-9
    ]
    if not relaxed:
        return InfeasibleScenarioError(
            "the scenario's rules cannot all hold (no single rule to relax was found; "
            "check the scenario for contradictory locks)"
        )
    relaxed.sort(key=lambda c: -c.shortfall_usd)
    main = relaxed[0]
    others = _rules(partners)
    upper = _row(main).sense == "<="
    if others and upper:
        message = (f"{_join(others)} together exceed {main.description} by "
                   f"{_money_text(main.shortfall_usd)}")
    elif others:
        message = (f"{main.description} cannot be met: it is short by "
                   f"{_money_text(main.shortfall_usd)} given {_join(others)}")
    elif upper:
        message = f"{main.description} would have to grow by {_money_text(main.shortfall_usd)}"
    else:
        message = f"{main.description} is short by {_money_text(main.shortfall_usd)}"
    if len(relaxed) > 1:
        message += "; also " + "; ".join(
            f"{c.description} by {_money_text(c.shortfall_usd)}" for c in relaxed[1:4]
        )
        if len(relaxed) > 4:
            message += f" and {len(relaxed) - 4} more"
    return InfeasibleScenarioError(message, tuple(relaxed) + tuple(partners))


def _row(conflict: Conflict) -> Row:
    """The row record of a conflict found by this module (always set here)."""
    assert conflict.row is not None
    return conflict.row


def _rules(conflicts: list[Conflict]) -> list[str]:
    """One phrase per scenario rule, counting its rows: 'the SO1 floor (12 locations)'."""
    counts: dict[str, int] = {}
    for c in conflicts:
        rule = _row(c).rule or c.description
        counts[rule] = counts.get(rule, 0) + 1
    return [rule if n == 1 else f"{rule} ({n} groups)" for rule, n in counts.items()]


def _join(items: list[str]) -> str:
    items = list(dict.fromkeys(items))
    if len(items) > 4:
        items = [*items[:4], f"{len(items) - 4} more rules"]
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]
