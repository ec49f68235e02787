"""Iterative proportional fitting: fill a table so that it matches known margins.

Used to fill the cells a plan document does not give (sector by country, sectors
in later years, objective splits of multi-objective sectors) from the margins it
does give, keeping the structure of a seed table (zeros stay zero).

The algorithm is ten lines of numpy; the ``ipfn`` package does the same but
prints to standard output from library code and has not been released since
2021, so it is not a dependency.

References
----------
Deming, W. E. and Stephan, F. F. (1940). On a least squares adjustment of a
sampled frequency table when the expected marginal totals are known. *Annals of
Mathematical Statistics* 11(4), 427-444.

Bishop, Y., Fienberg, S. and Holland, P. (1975). *Discrete Multivariate
Analysis*, ch. 3 (convergence with structural zeros).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize

from reachplan.model.errors import ReachplanError

FloatArray = NDArray[np.float64]


class FittingError(ReachplanError, ValueError):
    """The margins cannot be matched (inconsistent totals or structural zeros)."""


def ipf(
    seed: FloatArray,
    margins: Sequence[FloatArray],
    axes: Sequence[int | tuple[int, ...]],
    *,
    tol: float = 1e-9,
    max_iter: int = 10_000,
) -> FloatArray:
    """Scale ``seed`` until its sums over the given axes equal ``margins``.

    Parameters
    ----------
    seed
        Non-negative array of any shape; zero cells stay zero (structural zeros).
    margins
        Target sums. ``margins[k]`` has the shape of ``seed`` reduced to the axes
        ``axes[k]`` (the axes that are *kept*).
    axes
        For each margin, the kept axis or axes, in increasing order.
    tol
        Largest relative deviation of any margin accepted at convergence.
    max_iter
        Sweeps over all margins before giving up.

    Returns
    -------
    numpy.ndarray
        Fitted table, same shape as ``seed``.

    Raises
    ------
    FittingError
        If the margins disagree on the grand total, a positive margin has no
        positive seed cell, or the fit does not converge.
    """
    table = np.asarray(seed, dtype=float).copy()
    if np.any(table < 0) or not np.all(np.isfinite(table)):
        raise FittingError("the seed table must be finite and non-negative")
    kept = [(a,) if isinstance(a, int) else tuple(a) for a in axes]
    targets = [np.asarray(m, dtype=float) for m in margins]
    totals = [float(t.sum()) for t in targets]
    scale = max(max(totals, default=0.0), 1.0)
    if totals and max(totals) - min(totals) > tol * scale:
        shown = ", ".join(f"{t:,.2f}" for t in totals)
        raise FittingError(f"the margins do not share one grand total ({shown})")
    reduce_axes = [tuple(i for i in range(table.ndim) if i not in k) for k in kept]
    for k, target in enumerate(targets):
        current = table.sum(axis=reduce_axes[k])
        if np.any((current == 0) & (target > 0)):
            raise FittingError(
                f"margin {k}: a positive target has no non-zero seed cell to carry it"
            )
    if table.ndim == 2 and sorted(kept) == [(0,), (1,)]:
        rows, cols = (targets[0], targets[1]) if kept[0] == (0,) else (targets[1], targets[0])
        return _fit_two_margins(table, rows, cols, tol * scale)
    for _ in range(max_iter):
        for k, target in enumerate(targets):
            current = table.sum(axis=reduce_axes[k], keepdims=True)
            goal = np.expand_dims(target, axis=reduce_axes[k])
            factor = np.divide(goal, current, out=np.zeros_like(current), where=current > 0)
            table *= factor
        worst = max(
            float(np.max(np.abs(table.sum(axis=reduce_axes[k]) - t), initial=0.0))
            for k, t in enumerate(targets)
        )
        if worst <= tol * scale:
            return table
    raise FittingError(f"no convergence after {max_iter} sweeps (largest gap {worst:.3g})")


def _fit_two_margins(
    seed: FloatArray, rows: FloatArray, cols: FloatArray, atol: float
) -> FloatArray:
    """The IPF fixed point of a two-way table, found by Newton's method on the dual.

    IPF converges to the table closest to ``seed`` in Kullback-Leibler
    divergence with the given margins, which has the form
    ``seed[i, j] * exp(u[i] + v[j])``. Plain IPF sweeps can crawl when some
    margins leave only a few dollars to cells of millions; minimising the convex
    dual ``sum(seed * exp(u + v)) - rows @ u - cols @ v`` with a trust-region
    Newton method reaches the same table in a few dozen steps.
    """
    n, m = seed.shape
    active_r, active_c = rows > 0, cols > 0
    s = seed[np.ix_(active_r, active_c)]
    r, c = rows[active_r], cols[active_c]
    total = float(r.sum())
    s = s / s.sum() * total
    k, l_ = s.shape

    def unpack(x: FloatArray) -> tuple[FloatArray, FloatArray]:
        return x[:k], np.concatenate([x[k:], [0.0]])

    def table_of(x: FloatArray) -> FloatArray:
        u, v = unpack(x)
        return s * np.exp(np.clip(u[:, None] + v[None, :], -700, 700))

    def fun(x: FloatArray) -> float:
        u, v = unpack(x)
        return float((table_of(x).sum() - r @ u - c @ v) / total)

    def jac(x: FloatArray) -> FloatArray:
        t = table_of(x)
        return np.concatenate([t.sum(axis=1) - r, (t.sum(axis=0) - c)[:-1]]) / total

    def hess(x: FloatArray) -> FloatArray:
        t = table_of(x)
        h = np.zeros((k + l_ - 1, k + l_ - 1))
        h[:k, :k] = np.diag(t.sum(axis=1))
        h[k:, k:] = np.diag(t.sum(axis=0)[:-1])
        h[:k, k:] = t[:, :-1]
        h[k:, :k] = t[:, :-1].T
        return h / total

    x = np.zeros(k + l_ - 1)
    result = minimize(
        fun,
        x,
        jac=jac,
        hess=hess,
        method="trust-exact",
        options={"gtol": atol / total * 1e-3, "maxiter": 2000},
    )
    fitted = table_of(result.x)
    # polish: a few plain IPF sweeps from the Newton point converge fast
    for _ in range(1000):
        gap = max(np.abs(fitted.sum(axis=1) - r).max(), np.abs(fitted.sum(axis=0) - c).max())
        if gap <= atol:
            break
        fitted *= (r / fitted.sum(axis=1))[:, None]
        fitted *= (c / fitted.sum(axis=0))[None, :]
    else:
        raise FittingError(f"no convergence (largest gap {gap:.3g}): {result.message}")
    out = np.zeros_like(seed)
    out[np.ix_(active_r, active_c)] = fitted
    return out
