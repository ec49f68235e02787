"""What one more dollar in a line reaches: marginal values per line, with a status per line.

The absorption limit and the exclusions are those of the allocation LP: the limit of a
line is :func:`solver.model.cap_factors` times its requirement (the right-hand side of
its ``cap`` row) and a line is excluded when an exclusion selector of the scenario
selects it (:func:`solver.model.selector_mask`, the mask of its ``exclusion`` row), so
the values here cannot drift from the model's rules.

Why a line's extra money reaches fewer people than its unit cost says is data
(:class:`LineStatus`) next to planner words (the note): renderers count lines by status,
never by parsing the note.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd

from reachplan.model.costs import CostModel
from reachplan.model.funding import FundingScenario
from reachplan.solver.model import cap_factors, excluded_cells

__all__ = ["EXTRA_USD", "LineMarginals", "LineStatus", "excluded_cells", "line_marginals"]

EXTRA_USD = 1e6
"""The extra money whose effect reports state per line ("+$1M to WASH in Moldova")."""


class LineStatus(StrEnum):
    """Why extra money in a line reaches as many people as its unit cost says, or fewer.

    The values are stable strings: they are written into the report's tables.
    """

    OPEN = "open"
    """The whole extra amount fits and reaches people at the line's unit cost."""
    EXCLUDED = "excluded"
    """The scenario excludes the line: it can take no money."""
    NO_REQUIREMENT = "no_requirement"
    """The line has no requirement, so no absorption room."""
    AT_LIMIT = "at_limit"
    """The line is at its absorption limit: more money there reaches nobody more."""
    NEED_MET = "need_met"
    """Every person in need in the line's location and year is reached already."""
    PARTLY_FITS = "partly_fits"
    """Only part of the extra money fits under the line's absorption limit."""
    LAST_PEOPLE = "last_people"
    """The extra money reaches the last people in need of the location and year."""


@dataclass(frozen=True, eq=False)
class LineMarginals:
    """People reached by extra money per line, shape (n,) over the cost model's cells.

    Attributes
    ----------
    extra_usd
        The extra money per line (USD).
    people
        People reached by the extra money, per cell (persons), shape (n,).
    status
        Per cell, why the extra money reaches what it does.
    notes
        Per cell, the same in planner words (empty for :attr:`LineStatus.OPEN`).
    """

    extra_usd: float
    people: np.ndarray
    status: tuple[LineStatus, ...]
    notes: tuple[str, ...]


def line_marginals(
    costs: CostModel,
    scenario: FundingScenario,
    allocated_usd: np.ndarray,
    extra_usd: float = EXTRA_USD,
) -> LineMarginals:
    """People reached by ``extra_usd`` more in each line, everything else unchanged.

    The extra money is added on top of the allocation (as a donor earmarking it to
    the line would), only up to the line's absorption limit; people reached in a
    location and year never exceed its people in need (as in
    :meth:`model.costs.CostModel.people_reached_cells`, whose per-location sum is
    ``min(sum of contributions, people in need)``).

    Parameters
    ----------
    costs
        The plan's cost model.
    scenario
        Its caps and exclusions apply.
    allocated_usd
        USD per cell, shape (n,).
    extra_usd
        The extra money per line (USD).

    Returns
    -------
    LineMarginals
        People reached by the extra money per cell, with a status and a note per cell.
    """
    allocated = np.asarray(allocated_usd, dtype=float)
    req = costs.requirement_usd
    limit = cap_factors(costs, scenario) * req
    excluded = excluded_cells(costs, scenario)
    room = np.where(excluded, 0.0, np.clip(limit - allocated, 0.0, None))
    # less than half a dollar of room is solver round-off of a line at its limit
    room = np.where(room < 0.5, 0.0, room)
    added = np.minimum(extra_usd, room)
    base = costs.sector_beneficiaries(allocated) / costs.overlap_factor
    more = costs.sector_beneficiaries(allocated + added) / costs.overlap_factor
    frame = pd.DataFrame({"location_code": costs.locations, "year": costs.years, "p": base})
    totals = frame.groupby(["location_code", "year"])["p"].transform("sum").to_numpy()
    need = costs.location_people_in_need_per_cell
    gain = np.minimum(totals + (more - base), need) - np.minimum(totals, need)
    gain = np.clip(gain, 0.0, None)
    status: list[LineStatus] = []
    notes: list[str] = []
    for i in range(costs.n_cells):
        loc, year = costs.locations[i], int(costs.years[i])
        if excluded[i]:
            status.append(LineStatus.EXCLUDED)
            notes.append("excluded by the scenario")
        elif room[i] <= 0 and req[i] > 0:
            status.append(LineStatus.AT_LIMIT)
            notes.append(f"at its absorption limit ({limit[i] / req[i]:.0%} of requirement)")
        elif room[i] <= 0:
            status.append(LineStatus.NO_REQUIREMENT)
            notes.append("no requirement")
        elif totals[i] >= need[i]:
            status.append(LineStatus.NEED_MET)
            notes.append(f"every person in need in {loc}, {year} is reached already")
        elif added[i] < extra_usd:
            status.append(LineStatus.PARTLY_FITS)
            notes.append(f"only ${added[i]:,.0f} more fits under its absorption limit")
        elif totals[i] + (more[i] - base[i]) > need[i]:
            status.append(LineStatus.LAST_PEOPLE)
            notes.append(f"reaches the last people in need in {loc}, {year}")
        else:
            status.append(LineStatus.OPEN)
            notes.append("")
    return LineMarginals(float(extra_usd), gain, tuple(status), tuple(notes))
