"""Fast re-solves: the one PuLP model handed once to HiGHS, then only right-hand sides change.

The arrays are read by :mod:`solver.matrix` (:func:`~solver.matrix.lp_arrays`), the one
place a PuLP problem becomes numbers.

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

from reachplan.solver.matrix import FloatArray, LPArrays, highs_from_arrays, lp_arrays


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
    """A PuLP problem held in HiGHS for repeated solves with new bounds and right-hand sides.

    Parameters
    ----------
    problem
        A built PuLP problem (not necessarily solved), or its :class:`LPArrays`.
    """

    def __init__(self, problem: pulp.LpProblem | LPArrays) -> None:
        arrays = problem if isinstance(problem, LPArrays) else lp_arrays(problem)
        self.arrays = arrays
        self.variable_names = arrays.variable_names
        self.row_names = arrays.row_names
        self._row_of = {name: i for i, name in enumerate(arrays.row_names)}
        self._col_of = {name: j for j, name in enumerate(arrays.variable_names)}
        self._row_lower = arrays.row_lower.copy()
        self._row_upper = arrays.row_upper.copy()
        self._objective_constant = arrays.objective_constant
        self._highs = highs_from_arrays(
            arrays.cost,
            arrays.maximise,
            arrays.col_lower,
            arrays.col_upper,
            arrays.matrix,
            arrays.row_lower,
            arrays.row_upper,
        )

    def col_index(self, names: Sequence[str]) -> NDArray[np.int32]:
        """Positions of the named columns."""
        return np.array([self._col_of[n] for n in names], dtype=np.int32)

    def set_col_bounds(self, idx: NDArray[np.int32], lower: FloatArray, upper: FloatArray) -> None:
        """Change the bounds of the columns at positions ``idx``."""
        idx = np.asarray(idx, dtype=np.int32)
        if len(idx):
            self._highs.changeColsBounds(
                len(idx), idx, np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
            )

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
        idx = np.asarray(idx, dtype=np.int32)
        if not len(idx):
            return
        vals = np.asarray(vals, dtype=float)
        lo, up = self._row_lower[idx], self._row_upper[idx]
        equal = np.isfinite(up) & np.isfinite(lo) & (lo == up)
        upper_side = np.isfinite(up)
        new_lo = np.where(equal | ~upper_side, vals, lo)
        new_up = np.where(upper_side, vals, up)
        self._row_lower[idx], self._row_upper[idx] = new_lo, new_up
        # one call for all rows (a row named twice takes its last value, as before)
        self._highs.changeRowsBounds(len(idx), idx, self._row_lower[idx], self._row_upper[idx])

    def model(self) -> highspy.HighsLp:
        """The model HiGHS holds now (bounds as every change so far left them)."""
        return self._highs.getLp()

    def basis(self) -> highspy.HighsBasis:
        """The current simplex basis (to restart later solves from the same point)."""
        return self._highs.getBasis()

    def set_basis(self, basis: highspy.HighsBasis) -> None:
        """Start the next solve from ``basis``, and from nothing else.

        HiGHS keeps other state between solves (factorisation, edge weights); it is cleared
        first, so that a solve started from ``basis`` gives the same numbers whatever was
        solved before it (a future scored alone or among others).
        """
        self._highs.clearSolver()
        self._highs.setBasis(basis)

    def solve(self) -> FastSolution:
        """Solve from the current basis.

        Raises
        ------
        FastSolveError
            When the model is not solved to optimality (infeasible, unbounded, error).
        """
        h = self._highs
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
            iterations=int(info.simplex_iteration_count),
        )
