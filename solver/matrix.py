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
    """Matrix form of a PuLP problem (continuous variables only)."""
    variables = problem.variables()
    col = {v.name: j for j, v in enumerate(variables)}
    sign = -1.0 if problem.sense == pulp.LpMaximize else 1.0
    c = np.zeros(len(variables))
    for v, coef in problem.objective.items():
        c[col[v.name]] = sign * coef
    ub_rows: list[tuple[dict[int, float], float]] = []
    eq_rows: list[tuple[dict[int, float], float]] = []
    for con in problem.constraints():
        coefs = {col[v.name]: float(a) for v, a in con.items()}
        rhs = -float(con.constant)
        if con.sense == pulp.LpConstraintLE:
            ub_rows.append((coefs, rhs))
        elif con.sense == pulp.LpConstraintGE:
            ub_rows.append(({j: -a for j, a in coefs.items()}, -rhs))
        else:
            eq_rows.append((coefs, rhs))

    def stack(rows: list[tuple[dict[int, float], float]]) -> tuple[sp.csr_matrix, np.ndarray]:
        data, ri, ci = [], [], []
        for i, (coefs, _) in enumerate(rows):
            for j, a in coefs.items():
                ri.append(i)
                ci.append(j)
                data.append(a)
        mat = sp.csr_matrix((data, (ri, ci)), shape=(len(rows), len(variables)))
        return mat, np.array([r for _, r in rows], dtype=float)

    a_ub, b_ub = stack(ub_rows)
    a_eq, b_eq = stack(eq_rows)
    bounds = [(v.lowBound, v.upBound) for v in variables]
    return LPMatrices(c, a_ub, b_ub, a_eq, b_eq, bounds, [v.name for v in variables], sign)
