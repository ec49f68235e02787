"""The allocation LP as arrays and matrices, read from the one PuLP definition.

Every reading of a built PuLP problem into numbers is here:

- :func:`lp_arrays` gives :class:`LPArrays` (column and row bounds, CSR matrix), the
  form the fast path (:mod:`solver.fast`) and the robust LP start from;
- :func:`highs_from_arrays` loads such arrays into a silent HiGHS instance;
- :func:`to_matrices` gives the ``linprog`` form (:class:`LPMatrices`), used to hand
  exactly the same model to another solver (the tests solve it with
  ``scipy.optimize.linprog(method="highs")`` and compare objectives).
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np
import pulp
import scipy.sparse as sp
from numpy.typing import NDArray

from reachplan.solver.highs import new_highs

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class LPArrays:
    """A PuLP problem as arrays: the form both the fast path and the robust LP start from.

    Attributes
    ----------
    variable_names, row_names
        Column and row names, in order.
    cost
        Objective coefficients, shape (n,), in the problem's own sense.
    maximise
        Whether the problem maximises.
    col_lower, col_upper
        Column bounds, shape (n,), +-inf where unbounded.
    matrix
        Constraint matrix, CSR, shape (m, n).
    row_lower, row_upper
        Row bounds, shape (m,): ``(-inf, b)`` for <=, ``(b, inf)`` for >=, ``(b, b)`` for ==.
    objective_constant
        Constant term of the objective.
    """

    variable_names: tuple[str, ...]
    row_names: tuple[str, ...]
    cost: FloatArray
    maximise: bool
    col_lower: FloatArray
    col_upper: FloatArray
    matrix: sp.csr_matrix
    row_lower: FloatArray
    row_upper: FloatArray
    objective_constant: float


def lp_arrays(
    problem: pulp.LpProblem, variables: list[pulp.LpVariable] | None = None
) -> LPArrays:
    """Read a built PuLP problem into :class:`LPArrays` (continuous variables only).

    ``variables``: ``problem.variables()`` when already at hand (PuLP collects them by
    walking every constraint, which is not free on a large model).
    """
    inf = highspy.kHighsInf
    if variables is None:
        variables = problem.variables()
    col_of = {v.name: j for j, v in enumerate(variables)}
    n = len(variables)
    cost = np.zeros(n)
    for var, coef in problem.objective.items():
        cost[col_of[var.name]] = coef
    lower = np.array([-inf if v.lowBound is None else float(v.lowBound) for v in variables])
    upper = np.array([inf if v.upBound is None else float(v.upBound) for v in variables])
    indptr: list[int] = [0]
    index: list[int] = []
    value: list[float] = []
    row_lower: list[float] = []
    row_upper: list[float] = []
    names: list[str] = []
    for con in problem.constraints():
        for var, coef in con.items():
            index.append(col_of[var.name])
            value.append(float(coef))
        indptr.append(len(index))
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
        names.append(con.name)
    matrix = sp.csr_matrix(
        (np.array(value, dtype=float), np.array(index, dtype=np.int64), np.array(indptr)),
        shape=(len(names), n),
    )
    return LPArrays(
        variable_names=tuple(v.name for v in variables),
        row_names=tuple(names),
        cost=cost,
        maximise=problem.sense == pulp.LpMaximize,
        col_lower=lower,
        col_upper=upper,
        matrix=matrix,
        row_lower=np.array(row_lower),
        row_upper=np.array(row_upper),
        objective_constant=float(problem.objective.constant),
    )


def highs_from_arrays(
    cost: FloatArray,
    maximise: bool,
    col_lower: FloatArray,
    col_upper: FloatArray,
    matrix: sp.csr_matrix,
    row_lower: FloatArray,
    row_upper: FloatArray,
) -> highspy.Highs:
    """A silent HiGHS instance holding the given LP."""
    h = new_highs()
    n = len(cost)
    h.addCols(
        n,
        np.asarray(cost, dtype=float),
        np.asarray(col_lower, dtype=float),
        np.asarray(col_upper, dtype=float),
        0,
        np.array([], dtype=np.int32),
        np.array([], dtype=np.int32),
        np.array([], dtype=float),
    )
    csr = sp.csr_matrix(matrix)
    if csr.shape[0]:
        h.addRows(
            csr.shape[0],
            np.asarray(row_lower, dtype=float),
            np.asarray(row_upper, dtype=float),
            csr.nnz,
            csr.indptr.astype(np.int32),
            csr.indices.astype(np.int32),
            csr.data.astype(float),
        )
    h.changeObjectiveSense(highspy.ObjSense.kMaximize if maximise else highspy.ObjSense.kMinimize)
    return h


@dataclass(frozen=True, eq=False)
class LPMatrices:
    """``min c @ x`` s.t. ``A_ub x <= b_ub``, ``A_eq x == b_eq``, ``bounds``.

    Attributes
    ----------
    c
        Objective, shape (n_vars,), already negated for a maximisation.
    a_ub, b_ub, a_eq, b_eq
        Sparse rows and right-hand sides (``>=`` rows negated into ``<=``).
    bounds
        ``(low, high)`` per variable, ``None`` for no bound.
    variables
        Variable names in column order.
    sign
        -1 for a maximisation (objective = -min), +1 otherwise.
    """

    c: np.ndarray
    a_ub: sp.csr_matrix
    b_ub: np.ndarray
    a_eq: sp.csr_matrix
    b_eq: np.ndarray
    bounds: list[tuple[float | None, float | None]]
    variables: list[str]
    sign: float


def to_matrices(problem: pulp.LpProblem) -> LPMatrices:
    """Matrix form of a PuLP problem (continuous variables only), for ``linprog``.

    Read through :func:`lp_arrays`, the same reading the fast path uses.
    """
    arrays = lp_arrays(problem)
    sign = -1.0 if arrays.maximise else 1.0
    lower, upper, matrix = arrays.row_lower, arrays.row_upper, arrays.matrix
    equal = np.isfinite(lower) & np.isfinite(upper) & (lower == upper)
    le = np.isfinite(upper) & ~equal
    ge = np.isfinite(lower) & ~equal
    a_ub = sp.vstack([matrix[le], -matrix[ge]], format="csr")
    b_ub = np.concatenate([upper[le], -lower[ge]])
    bounds = [
        (None if not np.isfinite(lo) else float(lo), None if not np.isfinite(up) else float(up))
        for lo, up in zip(arrays.col_lower, arrays.col_upper, strict=True)
    ]
    return LPMatrices(sign * arrays.cost, a_ub, b_ub, matrix[equal], lower[equal], bounds,
                      list(arrays.variable_names), sign)
