"""The allocation LP as matrices, read from the one PuLP definition.

Used to hand exactly the same model to another solver (the tests solve it with
``scipy.optimize.linprog(method="highs")`` and compare objectives) and as the basis of a
fast path that changes only bounds and right-hand sides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pulp
import scipy.sparse as sp

from solver.fast import lp_arrays


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

    Read through :func:`solver.fast.lp_arrays`, the same reading the fast path uses.
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
