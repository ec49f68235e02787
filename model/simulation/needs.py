"""From simulated stocks to summaries and people in need per draw, location and year."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import pandas as pd

from reachplan.model.simulation.assumptions import InitialState, NeedsMapping
from reachplan.model.simulation.errors import AssumptionError
from reachplan.model.simulation.results import (
    PERCENTILE_COLUMNS,
    SERIES,
    NeedsTable,
    SimulationResult,
)

__all__ = ["needs_per_draw", "people_in_need", "percentile_table"]

FloatArray: TypeAlias = np.ndarray


def percentile_table(result: SimulationResult) -> pd.DataFrame:
    """Percentiles across draws per series, location and month.

    Returns
    -------
    pandas.DataFrame
        Columns ``PERCENTILE_COLUMNS``; one row per series (``idps``,
        ``returnees``, ``refugees``), location and month; values in persons.
        Percentiles use linear interpolation, so ``p05 <= p10 <= p50 <= p90 <= p95``.

    """
    labels = np.asarray(result.months.strftime("%Y-%m"))
    frames = []
    for name in SERIES:
        values = result.series(name)  # (draws, T, L)
        q = np.percentile(values, [5, 10, 50, 90, 95], axis=0)  # (5, T, L)
        mean = values.mean(axis=0)
        locations = np.asarray(result.series_locations(name))
        steps, n_loc = mean.shape
        frame = pd.DataFrame(
            {
                "series": name,
                "location_code": np.tile(locations, steps),
                "month": np.repeat(labels, n_loc),
                "p05": q[0].reshape(-1),
                "p10": q[1].reshape(-1),
                "p50": q[2].reshape(-1),
                "p90": q[3].reshape(-1),
                "p95": q[4].reshape(-1),
                "mean": mean.reshape(-1),
            }
        )
        frames.append(frame.sort_values(["location_code", "month"], kind="stable"))
    return pd.concat(frames, ignore_index=True)[list(PERCENTILE_COLUMNS)]


def _needs_ratios(initial: InitialState, needs: NeedsMapping) -> tuple[float, float]:
    """Return ``(r_nd, k)``: the non-displaced ratio in Ukraine and the host ratio."""
    displaced_in_need = needs.idp_ratio * initial.idps + needs.returnee_ratio * initial.returnees
    residual = needs.people_in_need_ukraine - displaced_in_need
    if initial.non_displaced > 0:
        r_nd = residual / initial.non_displaced
    else:
        r_nd = 0.0
    if not 0.0 <= r_nd <= 1.0:
        raise AssumptionError(
            f"people in need in Ukraine ({needs.people_in_need_ukraine:,.0f}) cannot be met "
            f"by IDPs and returnees in need ({displaced_in_need:,.0f}) plus a share of the "
            f"{initial.non_displaced:,.0f} non-displaced residents",
            key="needs.people_in_need_ukraine",
        )
    hosts = initial.refugee_vector[: len(initial.geography.hosts)].sum()
    k = needs.people_in_need_neighbouring / hosts if hosts > 0 else 0.0
    return float(r_nd), float(k)


def people_in_need(result: SimulationResult, needs: NeedsMapping | None = None) -> FloatArray:
    """People in need at each month-end, shape ``(draws, T, 1 + hosts)`` over the needs locations.

    The geography's origin (Ukraine): ``idp_ratio * IDPs + returnee_ratio * returnees +
    r_nd * non_displaced``; hosts: ``k * refugees``; the sink has none. ``r_nd`` and
    ``k`` are anchored on the initial state (see :class:`NeedsMapping`). Persons.
    """
    needs = result.assumptions.needs if needs is None else needs
    r_nd, k = _needs_ratios(result.initial, needs)
    ukraine = (
        needs.idp_ratio * result.idps
        + needs.returnee_ratio * result.returnees
        + r_nd * result.non_displaced
    )
    hosts = k * result.refugees[:, :, : len(result.initial.geography.hosts)]
    return np.concatenate([ukraine[:, :, None], hosts], axis=2)


def needs_per_draw(result: SimulationResult, needs: NeedsMapping | None = None) -> NeedsTable:
    """People in need per draw, location and calendar year.

    The year's value aggregates the month-end values of the simulated months
    in that year (``months[1:]``; the start month is the known initial state),
    by mean or maximum as ``needs.aggregate`` says.

    Returns
    -------
    NeedsTable
        Values shaped ``(draws, 1 + hosts, years)`` over the geography's
        ``needs_locations``, persons.

    """
    needs = result.assumptions.needs if needs is None else needs
    monthly = people_in_need(result, needs)[:, 1:, :]
    years_of_month = np.asarray(result.months[1:].year)
    years = pd.Index(sorted(set(years_of_month.tolist())), name="year")
    reduce = np.mean if needs.aggregate == "mean" else np.max
    values = np.stack(
        [reduce(monthly[:, years_of_month == y, :], axis=1) for y in years], axis=2
    )
    geography = result.initial.geography
    return NeedsTable(
        values=values, locations=geography.needs_locations, years=years, origin=geography.origin
    )
