"""Result types of the simulation: stocks per draw and month, people in need per year."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import pandas as pd

from reachplan.model.simulation.assumptions import InitialState, SimulationAssumptions

__all__ = ["PERCENTILE_COLUMNS", "SERIES", "NeedsTable", "SimulationResult"]

FloatArray: TypeAlias = np.ndarray

#: Series of the percentile table.
SERIES: tuple[str, ...] = ("idps", "returnees", "refugees")
#: Columns of the percentile table, in order.
PERCENTILE_COLUMNS: tuple[str, ...] = (
    "series", "location_code", "month", "p05", "p10", "p50", "p90", "p95", "mean",
)


@dataclass(frozen=True)
class SimulationResult:
    """Simulated stocks (persons) labelled by draw, month and location.

    Attributes
    ----------
    months : pandas.PeriodIndex
        Month-end labels, length ``T = months + 1``; ``months[0]`` is the start.
    idps, returnees, non_displaced, beyond_europe : numpy.ndarray
        Shape ``(draws, T)``, persons.
    refugees : numpy.ndarray
        Shape ``(draws, T, L)`` over the geography's refugee locations
        (``initial.geography.refugee_locations``), persons.
    flows : Mapping[str, numpy.ndarray]
        Monthly flows in persons, shape ``(draws, T - 1)`` or
        ``(draws, T - 1, 12)``; entry ``m`` is the flow during ``months[m + 1]``.
        Empty when flows were not recorded.
    initial : InitialState
        The state the run started from (before any burn-in to ``months[0]``).
    assumptions : SimulationAssumptions
    seed : int or None
        The integer seed when one was given.

    """

    months: pd.PeriodIndex
    idps: FloatArray
    returnees: FloatArray
    non_displaced: FloatArray
    beyond_europe: FloatArray
    refugees: FloatArray
    flows: Mapping[str, FloatArray]
    initial: InitialState
    assumptions: SimulationAssumptions
    seed: int | None = None

    @property
    def draws(self) -> int:
        """Number of draws."""
        return int(self.idps.shape[0])

    def series(self, name: str) -> FloatArray:
        """Return a series as ``(draws, T, locations)``.

        ``idps`` and ``returnees`` have one location (the origin); ``refugees`` one
        per refugee location of the geography.
        """
        if name == "idps":
            return self.idps[:, :, None]
        if name == "returnees":
            return self.returnees[:, :, None]
        if name == "refugees":
            return self.refugees
        raise KeyError(f"unknown series {name!r}; expected one of {SERIES}")

    def series_locations(self, name: str) -> pd.Index:
        """Location labels of a series."""
        geography = self.initial.geography
        if name == "refugees":
            return geography.refugee_locations
        return pd.Index([geography.origin], name="location_code")

    def to_frame(self) -> pd.DataFrame:
        """Long table with columns ``draw, month, series, location_code, value`` (persons)."""
        frames = []
        labels = self.months.strftime("%Y-%m")
        for name in SERIES:
            values = self.series(name)
            draws, steps, locations = values.shape
            loc_labels = self.series_locations(name)
            frames.append(
                pd.DataFrame(
                    {
                        "draw": np.repeat(np.arange(draws), steps * locations),
                        "month": np.tile(np.repeat(labels, locations), draws),
                        "series": name,
                        "location_code": np.tile(np.asarray(loc_labels), draws * steps),
                        "value": values.reshape(-1),
                    }
                )
            )
        return pd.concat(frames, ignore_index=True)


@dataclass(frozen=True)
class NeedsTable:
    """People in need per draw, location and year (persons).

    Attributes
    ----------
    values : numpy.ndarray
        Shape ``(draws, locations, years)``.
    locations : pandas.Index
        The geography's ``needs_locations`` (the origin, then the hosts).
    years : pandas.Index
        Calendar years covered by the simulated months.

    """

    values: FloatArray
    locations: pd.Index
    years: pd.Index
    origin: str = "UKR"

    def to_frame(self) -> pd.DataFrame:
        """Long table with columns ``draw, location_code, region, year, people_in_need``."""
        draws, n_loc, n_years = self.values.shape
        codes = np.asarray(self.locations)
        return pd.DataFrame(
            {
                "draw": np.repeat(np.arange(draws), n_loc * n_years),
                "location_code": np.tile(np.repeat(codes, n_years), draws),
                "region": np.tile(
                    np.repeat(np.where(codes == self.origin, "ukraine", "neighbouring"), n_years),
                    draws,
                ),
                "year": np.tile(np.asarray(self.years), draws * n_loc),
                "people_in_need": self.values.reshape(-1),
            }
        )
