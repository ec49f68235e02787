"""Typed, frozen outcomes of an allocation: status, allocation per cell, shadow prices.

Solver codes never leave :mod:`solver`: PuLP/HiGHS statuses become
:class:`SolveStatus`, duals become :class:`ShadowPrice` in people per extra $1M.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from model.errors import ReachplanError
from model.funding import FundingScenario
from solver.model import Row


class SolveStatus(enum.Enum):
    """How a solve ended."""

    OPTIMAL = "optimal"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    NOT_SOLVED = "not solved"


@dataclass(frozen=True)
class Conflict:
    """One constraint taking part in an infeasibility.

    Attributes
    ----------
    constraint
        Row name.
    description
        Planner words.
    shortfall_usd
        By how much (USD) it must be relaxed for the scenario to be feasible; 0 for a
        constraint that takes part without being the one relaxed.
    row
        The row's record (kind, location, year, rule ...), when the conflict comes from
        a built model; read it rather than parsing :attr:`constraint`.
    """

    constraint: str
    description: str
    shortfall_usd: float
    row: Row | None = None


class InfeasibleScenarioError(ReachplanError, ValueError):
    """The scenario's rules cannot all hold; the message names them in planner words.

    Attributes
    ----------
    conflicts
        The constraints that conflict, the relaxed ones first.
    """

    def __init__(self, message: str, conflicts: tuple[Conflict, ...] = ()) -> None:
        super().__init__(message)
        self.conflicts = conflicts


class ModelRangeError(ReachplanError, ValueError):
    """The plan's numbers put the LP outside the range a solver handles reliably.

    Raised before solving when a coefficient or right-hand side is not finite or
    larger than :data:`solver.allocate.LARGEST_COEFFICIENT` (a unit cost or cost
    factor near zero, a requirement near the largest float); the message names the row.
    """


@dataclass(frozen=True)
class ShadowPrice:
    """What one more unit of a constraint's right-hand side is worth in people reached.

    Attributes
    ----------
    constraint
        Row name.
    kind
        ``envelope``, ``floor``, ``earmark``, ``cap``, ``lock``, ``need`` ...
    description
        Planner words.
    value
        People reached per extra $1M on the right-hand side (for ``need`` rows: people
        reached per extra person in need). Negative for a floor that costs people.
    binding
        Whether the constraint holds with equality at the optimum.
    row
        The row's record: its kind and coordinates (location, sector, year, objective,
        rule). Read it rather than parsing :attr:`constraint`.
    """

    constraint: str
    kind: str
    description: str
    value: float
    binding: bool
    row: Row | None = None

    @property
    def unit(self) -> str:
        """Unit of :attr:`value`."""
        return "people per extra person in need" if self.kind == "need" else "people per extra $1M"


@dataclass(frozen=True, eq=False)
class Allocation:
    """The allocation that reaches the most people, with the reasons why.

    Attributes
    ----------
    status
        Always :attr:`SolveStatus.OPTIMAL` for a returned allocation.
    scenario
        The funding scenario.
    funding_usd
        Money available (USD).
    envelope_by_year
        Per-year envelope in USD, or ``None`` when only a total applies.
    cells
        One row per cell, index (location_code, sector_code, year); columns
        ``requirement_usd``, ``allocated_usd``, ``share_funded``, ``unit_cost_usd``,
        ``sector_beneficiaries``, ``people_reached``, ``cost_per_person_usd``,
        ``pro_rata_usd``, ``pro_rata_people_reached``.
    objective
        Weighted people reached (people; equals people reached when all weights are 1).
    shadow_prices
        One per envelope, earmark, floor, lock, cap and need row, in people per extra $1M.
    unfunded
        Lines that reach people but get no money, with what it would take: index as
        ``cells``; columns ``unit_cost_usd``, ``threshold_unit_cost_usd`` (the unit cost
        at or below which the line would start to receive money, other things equal),
        ``reason``.
    provenance
        Plan fingerprint and source, scenario, package versions, solver.
    warnings
        Things a planner must know about this allocation, one sentence each: it reaches
        nobody, or money stays unallocated because of the rules (an earmark larger than
        its lines can absorb, objective share bounds, locks ...), with the reason.
    """

    status: SolveStatus
    scenario: FundingScenario
    funding_usd: float
    envelope_by_year: Mapping[int, float] | None
    cells: pd.DataFrame
    objective: float
    shadow_prices: tuple[ShadowPrice, ...]
    unfunded: pd.DataFrame
    provenance: Mapping[str, str]
    warnings: tuple[str, ...] = ()

    @property
    def allocated_usd(self) -> float:
        """Money allocated (USD)."""
        return float(self.cells["allocated_usd"].sum())

    @property
    def unallocated_usd(self) -> float:
        """Money left unallocated (USD); :attr:`warnings` says why when it matters."""
        return max(self.funding_usd - self.allocated_usd, 0.0)

    @property
    def people_reached(self) -> float:
        """People reached, summed over locations and years (once per person and year)."""
        return float(self.cells["people_reached"].sum())

    @property
    def sector_beneficiaries(self) -> float:
        """Sector beneficiaries, counting a person once per sector serving them."""
        return float(self.cells["sector_beneficiaries"].sum())

    @property
    def pro_rata_people_reached(self) -> float:
        """People reached when every line is cut by the same percentage."""
        return float(self.cells["pro_rata_people_reached"].sum())

    @property
    def gain_over_pro_rata(self) -> float:
        """How many more people the optimised allocation reaches than pro-rata."""
        return self.people_reached - self.pro_rata_people_reached

    @property
    def binding(self) -> tuple[ShadowPrice, ...]:
        """Binding constraints with a non-zero shadow price, largest effect first."""
        out = [s for s in self.shadow_prices if s.binding and abs(s.value) > 1e-6]
        return tuple(sorted(out, key=lambda s: -abs(s.value)))

    def by(self, *dims: str) -> pd.DataFrame:
        """Requirement, allocation, people and pro-rata summed by ``dims``.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``dims``; ``share_funded`` and ``cost_per_person_usd`` recomputed
            from the sums.
        """
        cols = ["requirement_usd", "allocated_usd", "sector_beneficiaries", "people_reached",
                "pro_rata_usd", "pro_rata_people_reached"]
        out = self.cells.groupby(level=list(dims))[cols].sum()
        out["share_funded"] = out["allocated_usd"] / out["requirement_usd"]
        people = out["people_reached"].where(out["people_reached"] > 0)
        out["cost_per_person_usd"] = out["allocated_usd"] / people
        return out

    def to_frame(self) -> pd.DataFrame:
        """The cell table with the index as columns."""
        return self.cells.reset_index()
