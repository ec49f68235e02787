"""People in need supplied by the planner: a table per draw, location and year.

``[simulation] needs_file = "needs.csv"`` replaces the displacement simulation by a
table the planner made elsewhere (another model, an expert elicitation). The file is
read and checked for form by :func:`scenarios.simulation_io.load_needs_file`; what can
only be checked against the plan and the run (its locations, years and draws) is
checked here, when the run asks for its draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

import numpy as np

from reachplan.model.simulation.errors import AssumptionError

__all__ = ["NEEDS_FILE_COLUMNS", "NeedsInput"]

FloatArray: TypeAlias = np.ndarray

#: Columns of a needs file, in order.
NEEDS_FILE_COLUMNS: tuple[str, ...] = ("draw", "location_code", "year", "people_in_need")


@dataclass(frozen=True)
class NeedsInput:
    """A needs file as read: one row per draw, location and year.

    Attributes
    ----------
    path : str
        The file, for messages.
    sha256 : str
        Hash of its bytes (part of the run's identity).
    draws, years, rows : numpy.ndarray
        Integers per row; ``rows`` is the row number in the file (header = 1).
    locations : numpy.ndarray
        Location code per row (text).
    people_in_need : numpy.ndarray
        Persons per row, finite and non-negative.

    """

    path: str
    sha256: str
    draws: np.ndarray = field(compare=False, repr=False)
    locations: np.ndarray = field(compare=False, repr=False)
    years: np.ndarray = field(compare=False, repr=False)
    people_in_need: np.ndarray = field(compare=False, repr=False)
    rows: np.ndarray = field(compare=False, repr=False)

    @property
    def n_draws(self) -> int:
        """Number of draws the file holds (its highest draw + 1)."""
        return int(self.draws.max()) + 1 if len(self.draws) else 0

    def _error(self, message: str, row: int | None = None, column: str | None = None) -> None:
        where = ", ".join(
            part for part in (f"row {row}" if row else "", f"field {column}" if column else "")
            if part
        )
        raise AssumptionError(message, file=self.path, key=where or None)

    def check(self, need_rows: Sequence[tuple[str, int]], run_draws: int) -> None:
        """Check the file against the plan's need rows and the run's number of draws.

        Every location of the file must have people in need in the plan, every year
        must be a plan year, every draw ``0..D-1`` must be present with the same
        (location, year) rows, and ``D`` must be at least ``run_draws``.

        Raises
        ------
        AssumptionError
            Naming the file, and the row and field at fault where there is one.

        """
        plan_locations = sorted({loc for loc, _ in need_rows})
        plan_years = sorted({int(y) for _, y in need_rows})
        known = set(map(tuple, need_rows))
        for i in range(len(self.rows)):
            loc, year = str(self.locations[i]), int(self.years[i])
            if loc not in plan_locations:
                self._error(
                    f"location '{loc}' has no people in need in the plan "
                    f"(plan locations: {', '.join(plan_locations)})",
                    int(self.rows[i]), "location_code",
                )
            if year not in plan_years:
                self._error(
                    f"year {year} is not a plan year ({', '.join(map(str, plan_years))})",
                    int(self.rows[i]), "year",
                )
            if (loc, year) not in known:
                self._error(
                    f"the plan has no people in need for {loc} in {year}",
                    int(self.rows[i]), "year",
                )
        present = np.unique(self.draws)
        if len(present) != self.n_draws:
            missing = sorted(set(range(self.n_draws)) - set(present.tolist()))
            self._error(
                f"draw {missing[0]} is missing (draws must run 0 to {self.n_draws - 1})",
                column="draw",
            )
        if self.n_draws < run_draws:
            self._error(
                f"has {self.n_draws} draws (0 to {self.n_draws - 1}) but the run asks for "
                f"{run_draws}; give more draws or run with --draws {self.n_draws}",
                column="draw",
            )
        cells = sorted({(str(loc), int(y)) for loc, y in zip(self.locations, self.years,
                                                              strict=True)})
        per_draw = np.bincount(self.draws, minlength=self.n_draws)
        for d in range(self.n_draws):
            if per_draw[d] != len(cells):
                have = {
                    (str(self.locations[i]), int(self.years[i]))
                    for i in np.flatnonzero(self.draws == d)
                }
                gone = sorted(set(cells) - have)
                what = f"no row for {gone[0][0]} {gone[0][1]}" if gone else "a repeated row"
                self._error(
                    f"draw {d} has {what} (every draw needs the same location and year rows)",
                    column="draw",
                )

    def multipliers(
        self,
        need_rows: Sequence[tuple[str, int]],
        plan_need: FloatArray,
        first_draw: int,
        n: int,
    ) -> FloatArray:
        """People in need of the file over the plan's figure, shape ``(n, rows)``.

        Draws ``[first_draw, first_draw + n)``; need rows the file does not name get 1
        (the plan's figure). Call :meth:`check` first.

        Raises
        ------
        AssumptionError
            When the file gives people in need where the plan's figure is 0 (nothing
            to scale).

        """
        out = np.ones((n, len(need_rows)))
        position = {(str(loc), int(y)): r for r, (loc, y) in enumerate(need_rows)}
        take = (self.draws >= first_draw) & (self.draws < first_draw + n)
        for i in np.flatnonzero(take):
            r = position[(str(self.locations[i]), int(self.years[i]))]
            value = float(self.people_in_need[i])
            base = float(plan_need[r])
            if base > 0:
                out[int(self.draws[i]) - first_draw, r] = value / base
            elif value > 0:
                self._error(
                    f"the plan's people in need for {need_rows[r][0]} in {need_rows[r][1]} "
                    "is 0, so a needs file cannot scale it",
                    int(self.rows[i]), "people_in_need",
                )
        return out
