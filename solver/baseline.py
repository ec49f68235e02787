"""The pro-rata baseline: every line cut by the same percentage.

Within each year the envelope is spread over the lines in proportion to their
requirement, :math:`x_c = \\min(1, E_y / R_y) R_c`; with only a total envelope the same
ratio :math:`\\min(1, E / R)` applies to every line. Floors, earmarks and locks are
ignored: pro-rata is what happens when nobody chooses.
"""

from __future__ import annotations

import numpy as np

from reachplan.model.costs import CostModel
from reachplan.model.funding import FundingScenario
from reachplan.solver.model import resolve_envelope


def pro_rata_allocation(costs: CostModel, scenario: FundingScenario) -> np.ndarray:
    """USD per cell under an equal percentage cut, shape (n,).

    With both a total and per-year envelopes, the per-year amounts are first scaled down
    together so that their sum does not exceed the total. With carry-over, the cut is
    the same in every year: the cumulative envelope over the cumulative requirement at
    the tightest year.
    """
    req = costs.requirement_usd
    total, per_year = resolve_envelope(costs, scenario)
    if per_year is None:
        assert total is not None
        ratio = min(1.0, total / req.sum()) if req.sum() > 0 else 0.0
        return np.asarray(req * ratio)
    budget = dict(per_year)
    if total is not None and sum(budget.values()) > total:
        scale = total / sum(budget.values()) if sum(budget.values()) > 0 else 0.0
        budget = {y: v * scale for y, v in budget.items()}
    years = costs.years
    out = np.zeros_like(req)
    if scenario.envelope.carry_over:
        ratio = 1.0
        cum_budget = cum_req = 0.0
        for y in sorted(budget):
            cum_budget += budget[y]
            cum_req += float(req[years == y].sum())
            if cum_req > 0:
                ratio = min(ratio, cum_budget / cum_req)
        return np.asarray(req * ratio)
    for y, amount in budget.items():
        mask = years == y
        r = float(req[mask].sum())
        out[mask] = req[mask] * (min(1.0, amount / r) if r > 0 else 0.0)
    return out


def programme_pro_rata(costs: CostModel, allocated: np.ndarray) -> np.ndarray:
    """Pro-rata of the programme money an allocation spends, on programme lines only.

    The money an allocation gives programme lines (every line but enablers) in each
    year, spread over that year's programme lines in proportion to their requirement;
    enablers get nothing. Comparing with it measures the gain over pro-rata without
    the money that moves between enablers and programme lines.
    """
    req = costs.requirement_usd
    programme = ~costs.is_enabler
    out = np.zeros_like(req)
    for y in np.unique(costs.years):
        mask = programme & (costs.years == y)
        r = float(req[mask].sum())
        if r > 0:
            out[mask] = req[mask] * min(1.0, float(allocated[mask].sum()) / r)
    return out
