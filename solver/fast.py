"""Fast re-solves: the one PuLP model handed once to HiGHS, then only right-hand sides change.

Thousands of simulated futures differ only in people in need, i.e. in the
right-hand sides of the ``need_*`` rows. Rebuilding and re-solving the PuLP
model for each would spend most of the time in Python model building.
:class:`FastLP` reads the matrix of an already built :class:`pulp.LpProblem`
(the single model definition of :mod:`solver.model`) into a
:class:`highspy.Highs` instance once; each re-solve changes row bounds and
re-runs the dual simplex from the previous optimal basis (a warm start), which
usually needs only a handful of iterations.

The test suite checks that a fast re-solve and a fresh PuLP solve of the same
model agree on the objective to 1e-6 relative.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import highspy
import numpy as np
import pulp
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


class FastSolveError(RuntimeError):
    """HiGHS did not find an optimal solution for a re-solve."""


@dataclass(frozen=True)
class FastSolution:
    """Outcome of one re-solve.

    Attributes
    ----------
    objective
        Objective value in the model's own units.
    values
        Column values, shape (n_variables,), in :attr:`FastLP.variable_names` order.
    row_duals
        Row duals, shape (n_rows,), HiGHS sign convention for the model's sense.
    iterations
        Simplex iterations this re-solve took (0 when the old basis stayed optimal).
    """

    objective: float
    values: FloatArray
    row_duals: FloatArray
    iterations: int


class FastLP:
    """A PuLP problem held in HiGHS for repeated solves with new right-hand sides.

    Parameters
    ----------
    problem
        A built PuLP problem (not necessarily solved).
    """

    def __init__(self, problem: pulp.LpProblem) -> None:
        inf = highspy.kHighsInf
        variables = problem.variables()
        self.variable_names: tuple[str, ...] = tuple(v.name for v in variables)
        col_of = {v.name: j for j, v in enumerate(variables)}
        n = len(variables)
        cost = np.zeros(n)
        for var, coef in problem.objective.items():
            cost[col_of[var.name]] = coef
        lower = np.array([-inf if v.lowBound is None else float(v.lowBound) for v in variables])
        upper = np.array([inf if v.upBound is None else float(v.upBound) for v in variables])
        starts: list[int] = []
        index: list[int] = []
        value: list[float] = []
        row_lower: list[float] = []
        row_upper: list[float] = []
        names: list[str] = []
        for con in problem.constraints():
            name = con.name
            starts.append(len(index))
            for var, coef in con.items():
                index.append(col_of[var.name])
                value.append(float(coef))
            rhs = -float(con.constant)
            if con.sense == pulp.LpConstraintLE:
                row_lower.append(-inf)
                row_upper.append(rhs)
            elif con.sense == pulp.LpConstraintGE:
                row_lower.append(rhs)
                row_upper.append(inf)
            else:
                row_lower.append(rhs)
                row_upper.append(rhs)
            names.append(name)
        self.row_names: tuple[str, ...] = tuple(names)
        self._row_of = {name: i for i, name in enumerate(names)}
        self._row_lower = np.array(row_lower)
        self._row_upper = np.array(row_upper)
        self._objective_constant = float(problem.objective.constant)
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.addCols(
            n,
            cost,
            lower,
            upper,
            0,
            np.array([], dtype=np.int32),
            np.array([], dtype=np.int32),
            np.array([], dtype=float),
        )
        if names:
            h.addRows(
                len(names),
                self._row_lower,
                self._row_upper,
                len(index),
                np.array(starts, dtype=np.int32),
                np.array(index, dtype=np.int32),
                np.array(value, dtype=float),
            )
        sense = (
            highspy.ObjSense.kMaximize
            if problem.sense == pulp.LpMaximize
            else highspy.ObjSense.kMinimize
        )
        h.changeObjectiveSense(sense)
        self._highs = h

    def row_index(self, names: Sequence[str]) -> NDArray[np.int32]:
        """Positions of the named rows."""
        return np.array([self._row_of[n] for n in names], dtype=np.int32)

    def rhs(self, names: Sequence[str]) -> FloatArray:
        """Current right-hand side of the named rows (upper bound of a <= row, lower of a >=)."""
        idx = self.row_index(names)
        upper, lower = self._row_upper[idx], self._row_lower[idx]
        return np.where(np.isfinite(upper), upper, lower)

    def set_rhs(self, values: Mapping[str, float] | tuple[NDArray[np.int32], FloatArray]) -> None:
        """Change right-hand sides: by name, or by (row positions, values) for speed."""
        if isinstance(values, Mapping):
            idx = self.row_index(list(values))
            vals = np.fromiter(values.values(), dtype=float, count=len(idx))
        else:
            idx, vals = values
        for i, v in zip(idx.tolist(), np.asarray(vals, dtype=float).tolist(), strict=True):
            lo, up = self._row_lower[i], self._row_upper[i]
            if np.isfinite(up) and np.isfinite(lo) and lo == up:
                lo = up = v
            elif np.isfinite(up):
                up = v
            else:
                lo = v
            self._row_lower[i], self._row_upper[i] = lo, up
            self._highs.changeRowBounds(i, lo, up)

    def solve(self) -> FastSolution:
        """Solve from the current basis.

        Raises
        ------
        FastSolveError
            When the model is not solved to optimality (infeasible, unbounded, error).
        """
        h = self._highs
        before = h.getInfo().simplex_iteration_count
        h.run()
        status = h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            raise FastSolveError(f"HiGHS: {h.modelStatusToString(status)}")
        info = h.getInfo()
        sol = h.getSolution()
        return FastSolution(
            objective=float(info.objective_function_value) + self._objective_constant,
            values=np.asarray(sol.col_value, dtype=float),
            row_duals=np.asarray(sol.row_dual, dtype=float),
            iterations=max(int(info.simplex_iteration_count) - int(before), 0)
            if info.simplex_iteration_count >= before
            else int(info.simplex_iteration_count),
        )
