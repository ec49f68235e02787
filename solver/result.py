"""Typed, frozen outcomes of an allocation: status, allocation per cell, shadow prices.

Solver codes never leave :mod:`solver`: PuLP/HiGHS statuses become
:class:`SolveStatus`, duals become :class:`ShadowPrice` in people per extra $1M.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from reachplan.model.errors import ReachplanError
from reachplan.model.funding import FundingScenario
from reachplan.model.scenario import Scenario
from reachplan.solver.model import Row

FloatArray = NDArray[np.float64]


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
        reached per extra person in need), for an increase. Negative for a floor that
        costs people. People, not the LP's dual: under the priority objective the dual is
        priority value (:attr:`objective_value`).
    binding
        Whether the constraint holds with equality at the optimum.
    value_down
        The same for a decrease (one dollar less): differs from :attr:`value` at a
        degenerate point (a kink: a floor exactly on a tranche boundary, an envelope
        where a line just fills up); ``None`` when not computed.
    objective_value
        The LP's dual in objective units per extra $1M (or per extra person in need).
    valid_from, valid_to
        The right-hand side range (USD, or people for ``need`` rows) over which the
        dual holds (HiGHS ranging); ``None`` when not computed, infinite when unbounded.
    one_sided
        Whether the value for an increase and for a decrease differ (a kink).
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
    value_down: float | None = None
    objective_value: float | None = None
    valid_from: float | None = None
    valid_to: float | None = None
    one_sided: bool = False

    @property
    def unit(self) -> str:
        """Unit of :attr:`value`."""
        return "people per extra person in need" if self.kind == "need" else "people per extra $1M"


@dataclass(frozen=True)
class ExtraMillion:
    """What one more non-earmarked $1M reaches: a re-solve with it, not a shadow price.

    Shadow prices move one row at a time; one more dollar of flexible funding raises the
    envelope and, where earmarks bind, the flexible-money row together, and at a degenerate
    optimum that joint move is not the sum of the rows' one-sided prices. The allocation
    is therefore solved again with $1M more (warm-started from its optimal basis), under
    the same rules, and the people it reaches compared.

    Attributes
    ----------
    people
        People reached (person-years) with $1M more, less the people reached now.
    year
        With per-year envelopes, the year of arrival where $1M reaches the most (money
        arriving for a year raises that year's envelope, or with carry-over every
        cumulative envelope from that year on); ``None`` under a total envelope alone.
    by_year
        People per year of arrival, with per-year envelopes (empty otherwise).
    entities, entities_by_year
        The same for entities reached (institutions): under the priority objective money
        can go to entity lines and reach no more people.
    """

    people: float
    year: int | None = None
    by_year: Mapping[int, float] = field(default_factory=dict)
    entities: float = 0.0
    entities_by_year: Mapping[int, float] = field(default_factory=dict)

    def where(self) -> str:
        """" (arriving for 2026)" with per-year envelopes, else ""."""
        return "" if self.year is None else f" (arriving for {self.year})"


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
        ``pro_rata_usd``, ``pro_rata_people_reached``, ``entities_reached``, ``output``
        (people, entities or enabler) and ``tier`` (the tier holding most of the line's
        requirement).
    objective
        The LP objective: priority value (tier- and severity-weighted, with diminishing
        returns in coverage), or weighted people reached under the headcount objective.
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
    coverage_by_location_year
        One row per location and year with people in need: ``location_code``, ``year``,
        ``people_in_need``, ``planned_reach`` (people full funding reaches, the plan's
        target where calibrated to it), ``people_reached``, ``coverage`` (of people in
        need), ``coverage_of_planned`` and ``unmet_need``.
    unique_people_by_year
        Per year: ``low`` (in each location the largest sector's beneficiaries) and
        ``high`` (every sector's beneficiaries different people, at most the people in
        need), summed over locations.
    pro_rata_programme_people_reached
        People reached by pro-rata of the programme money this allocation spends, on
        programme lines only (no enablers): see :func:`solver.baseline.programme_pro_rata`.
    one_more_million
        What one more non-earmarked $1M reaches (:class:`ExtraMillion`); ``None`` where
        it was not computed (``ranged="none"`` or ``"envelope"``) or no envelope applies.
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
    coverage_by_location_year: pd.DataFrame | None = None
    unique_people_by_year: pd.DataFrame | None = None
    pro_rata_programme_people_reached: float = 0.0
    one_more_million: ExtraMillion | None = None

    @property
    def gain_over_pro_rata_programme(self) -> float:
        """Gain over pro-rata on programme lines only (the same programme money, per year)."""
        return self.people_reached - self.pro_rata_programme_people_reached

    @property
    def coverage(self) -> float:
        """People reached over people in need, over the locations and years that give a need."""
        table = self.coverage_by_location_year
        if table is None or table.empty:
            return 0.0
        known = table[np.isfinite(table["people_in_need"])]
        need = float(known["people_in_need"].sum())
        return float(known["people_reached"].sum()) / need if need > 0 else 0.0

    @property
    def unique_people_reached(self) -> dict[str, float]:
        """Unique people reached over the whole period, as a range ``{low, high}``.

        Low: the largest year's low estimate (the same people may be reached every year);
        high: the sum over years of the high estimates (different people every year).
        See :attr:`unique_people_by_year` and ``docs/allocation.md``.
        """
        table = self.unique_people_by_year
        if table is None or table.empty:
            return {"low": 0.0, "high": 0.0}
        return {"low": float(table["low"].max()), "high": float(table["high"].sum())}

    @property
    def entities_reached(self) -> float:
        """Entities reached, summed over years."""
        if "entities_reached" not in self.cells:
            return 0.0
        return float(self.cells["entities_reached"].sum())

    @property
    def entities_reached_by_year(self) -> dict[int, float]:
        """Entities reached per year."""
        if "entities_reached" not in self.cells:
            return {}
        by_year = self.cells["entities_reached"].groupby(level="year").sum()
        return {int(k): float(v) for k, v in by_year.items()}

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


# ---- results of runs, ladders and robust plans (built in solver.batch, solver.frontier,
# solver.robust; read by reports and the workflow) ----------------------------------------


@dataclass(frozen=True)
class ChunkResult:
    """Outcome of one chunk of draws.

    Attributes
    ----------
    chunk
        Chunk index.
    first_draw
        Index of the chunk's first draw in the run.
    people_reached
        People reached per draw, shape (n,).
    objective
        Weighted people reached per draw, shape (n,).
    money_sum
        Sum over the chunk's draws of USD per cell, shape (n_cells,).
    need
        People in need per draw, location and year, shape (n, n_need_rows).
    reached
        People reached per draw, location and year, shape (n, n_need_rows).
    binding
        Count of draws in which each row was binding, shape (n_rows,).
    entities_reached
        Entities reached per draw, shape (n,).
    """

    chunk: int
    first_draw: int
    people_reached: FloatArray
    objective: FloatArray
    money_sum: FloatArray
    need: FloatArray
    reached: FloatArray
    binding: NDArray[np.int64]
    entities_reached: FloatArray

    def to_npz(self) -> dict[str, NDArray[np.generic]]:
        """Arrays for :func:`numpy.savez`."""
        return {
            "chunk": np.array(self.chunk),
            "first_draw": np.array(self.first_draw),
            "people_reached": self.people_reached,
            "objective": self.objective,
            "money_sum": self.money_sum,
            "need": self.need,
            "reached": self.reached,
            "binding": self.binding,
            "entities_reached": self.entities_reached,
        }

    @classmethod
    def from_npz(cls, data: dict[str, NDArray[np.generic]]) -> ChunkResult:
        """Inverse of :meth:`to_npz`."""
        return cls(
            chunk=int(data["chunk"]),
            first_draw=int(data["first_draw"]),
            people_reached=np.asarray(data["people_reached"], dtype=float),
            objective=np.asarray(data["objective"], dtype=float),
            money_sum=np.asarray(data["money_sum"], dtype=float),
            need=np.asarray(data["need"], dtype=float),
            reached=np.asarray(data["reached"], dtype=float),
            binding=np.asarray(data["binding"], dtype=np.int64),
            entities_reached=np.asarray(data["entities_reached"], dtype=float),
        )


@dataclass(frozen=True, eq=False)
class ScenarioRun:
    """Every draw of one scenario, aggregated.

    Attributes
    ----------
    scenario
        The scenario run.
    draws
        Number of draws.
    people_reached
        Per draw, shape (draws,), persons.
    objective
        The LP objective per draw (priority value, or weighted people reached under the
        headcount objective), shape (draws,).
    cells
        Index (location_code, sector_code, year) of the allocation cells.
    mean_allocation_usd
        Mean USD per cell over the draws, shape (n_cells,).
    need_rows
        (location_code, year) of each need row.
    need
        People in need per draw and need row, shape (draws, n_need_rows).
    reached
        People reached per draw and need row, shape (draws, n_need_rows).
    binding_share
        Row name -> share of draws in which the row was binding (rows binding at least once).
    row_descriptions
        Row name -> planner words.
    funding_usd
        Money available.
    provenance
        Plan fingerprint, scenario files and hash, seed, chunk size.
    rows
        Row name -> its :class:`~solver.model.Row` record (kind, location, sector, year,
        rule): what a report reads to know what a binding row is, never its name.
    entities_reached
        Entities reached per draw (summed over years), shape (draws,).
    needs_source
        Where the people in need came from, one planner sentence (the displacement
        simulation and its geography, fixed at the plan's figures, or a needs file);
        ``needs_source`` in the run JSON.
    """

    scenario: Scenario
    draws: int
    people_reached: FloatArray
    objective: FloatArray
    cells: pd.MultiIndex
    mean_allocation_usd: FloatArray
    need_rows: tuple[tuple[str, int], ...]
    need: FloatArray
    reached: FloatArray
    binding_share: dict[str, float]
    row_descriptions: dict[str, str]
    funding_usd: float
    provenance: dict[str, str] = field(default_factory=dict)
    rows: dict[str, Row] = field(default_factory=dict)
    entities_reached: FloatArray | None = None
    needs_source: str = ""

    def percentile(self, q: float) -> float:
        """Percentile ``q`` (0-100) of people reached across draws."""
        return float(np.percentile(self.people_reached, q))

    @property
    def coverage(self) -> FloatArray:
        """Per draw: people reached over people in need, over every location and year, (draws,).

        Locations and years without a people-in-need figure are left out of both sums.
        """
        need = self.need.sum(axis=1)
        return np.divide(self.reached.sum(axis=1), need, out=np.zeros_like(need),
                         where=need > 0)

    @property
    def coverage_mean(self) -> float:
        """Mean coverage over draws."""
        return float(self.coverage.mean()) if self.draws else 0.0

    @property
    def unmet_need_by_year(self) -> dict[int, float]:
        """Mean over draws of people in need not reached, per year (never summed over years)."""
        gap = (self.need - self.reached).mean(axis=0) if self.draws else np.zeros(0)
        out: dict[int, float] = {}
        for (_, year), value in zip(self.need_rows, gap, strict=True):
            out[int(year)] = out.get(int(year), 0.0) + float(value)
        return dict(sorted(out.items()))

    @property
    def entities_reached_mean(self) -> float:
        """Mean entities reached over draws (summed over years)."""
        if self.entities_reached is None or not len(self.entities_reached):
            return 0.0
        return float(np.mean(self.entities_reached))

    @property
    def unmet_need_by_location(self) -> pd.Series:
        """People in need not reached in an average plan year, per location (mean over draws).

        The mean over the plan's years, never their sum: the same person unreached in
        2024 and in 2025 is one person, not two (per-year figures:
        :attr:`unmet_need_by_year`).
        """
        gap = (self.need - self.reached).mean(axis=0)
        locs = [loc for loc, _ in self.need_rows]
        return pd.Series(gap, index=locs).groupby(level=0).mean()

    def allocation_frame(self) -> pd.DataFrame:
        """Mean allocation per cell: index (location_code, sector_code, year), USD."""
        return pd.DataFrame({"mean_allocated_usd": self.mean_allocation_usd}, index=self.cells)


@dataclass(frozen=True, eq=False)
class Frontier:
    """People reached against funding, and when each line first gets money.

    Attributes
    ----------
    levels
        One row per level: ``share`` (of the appeal), ``funding_usd``, ``allocated_usd``,
        ``people_reached``, ``pro_rata_people_reached``, ``marginal_people_per_1m``
        (shadow price of the envelope), ``status`` ('optimal' or the infeasibility reason).
    first_funded
        Per cell (index location_code, sector_code, year): ``requirement_usd`` and
        ``first_funded_share`` (the lowest level at which it gets money; NaN if never),
        sorted top-down.
    """

    levels: pd.DataFrame
    first_funded: pd.DataFrame


@dataclass(frozen=True, eq=False)
class TargetFunding:
    """The least funding found to reach a number of people.

    Attributes
    ----------
    target_people
        People asked for.
    share
        Funding level (share of the appeal), to within ``tolerance``.
    funding_usd
        The same in USD.
    allocation
        The allocation at that level.
    """

    target_people: float
    share: float
    funding_usd: float
    allocation: Allocation


@dataclass(frozen=True)
class RobustPlan:
    """A committed allocation planned over simulated futures.

    Attributes
    ----------
    method
        ``"mean_needs"``, ``"saa"``, ``"cvar"`` or ``"two_stage"``.
    allocation_usd
        USD per cell, shape (n_cells,): the committed money (for the two-stage plan,
        the first year as committed and later years as the mean over planning draws).
    committed
        Which cells' money the plan's own LP fixed before the future is known, shape
        (n_cells,). In the comparison every plan commits only its first year's money
        (:func:`solver.robust.evaluate_with_recourse`); this says how the plan was made.
    in_sample_people
        People reached in each planning draw, shape (D,).
    """

    method: str
    allocation_usd: FloatArray
    committed: NDArray[np.bool_]
    in_sample_people: FloatArray


@dataclass(frozen=True)
class PlanComparison:
    """Plans made on several planning samples, evaluated on the same evaluation futures.

    Every replicate ``r`` plans on its own sample of futures (planning seed
    ``planning_seeds[r]``) and every plan of every replicate is evaluated on the
    same evaluation futures, so differences between plans are paired by future.

    Attributes
    ----------
    plans
        The plans of the first replicate (first: the plan for average needs).
    people
        People reached with recourse (first year committed, later years re-decided on
        what is known then), mean over replicates, per plan and evaluation future,
        shape (n_plans, n_eval).
    alpha
        Tail share used for the CVaR figures.
    planning_seeds
        Seed of each replicate's planning sample, shape (n_rep,).
    replicate_plans
        The plans of every replicate, same order of methods in each.
    people_by_replicate, objective_by_replicate
        People reached and LP objective value with recourse, shape
        (n_rep, n_plans, n_eval).
    people_fixed_by_replicate, objective_fixed_by_replicate
        The same without recourse: every cell's money fixed at the plan's allocation.
    forecast_rule
        How the recourse forecast the years not yet seen (plain words).
    """

    plans: tuple[RobustPlan, ...]
    people: FloatArray
    alpha: float
    planning_seeds: tuple[int, ...] = ()
    replicate_plans: tuple[tuple[RobustPlan, ...], ...] = ()
    people_by_replicate: FloatArray = field(default_factory=lambda: np.zeros((0, 0, 0)))
    objective_by_replicate: FloatArray = field(default_factory=lambda: np.zeros((0, 0, 0)))
    people_fixed_by_replicate: FloatArray = field(default_factory=lambda: np.zeros((0, 0, 0)))
    objective_fixed_by_replicate: FloatArray = field(
        default_factory=lambda: np.zeros((0, 0, 0))
    )
    forecast_rule: str = ""

    @property
    def methods(self) -> tuple[str, ...]:
        """Method of each plan, in order."""
        return tuple(p.method for p in self.plans)

    @property
    def base_index(self) -> int:
        """Position of the plan for average needs (the reference of every difference)."""
        return self.methods.index("mean_needs")

    def mean(self) -> FloatArray:
        """Mean people reached per plan (with recourse, over replicates and futures)."""
        return self.people.mean(axis=1)

    def cvar(self) -> FloatArray:
        """Mean of the worst ``alpha`` share of futures per plan (of :attr:`people`)."""
        k = max(1, int(np.ceil(self.alpha * self.people.shape[1])))
        return np.sort(self.people, axis=1)[:, :k].mean(axis=1)

    def outcomes(self, measure: str = "people", recourse: bool = True) -> FloatArray:
        """People reached or LP objective per replicate, plan and future (n_rep, n_plans, n_eval).

        ``measure``: ``"people"`` (people reached) or ``"objective"`` (LP objective);
        ``recourse=False`` gives the plans with every cell's money fixed.
        """
        table = {
            ("people", True): self.people_by_replicate,
            ("people", False): self.people_fixed_by_replicate,
            ("objective", True): self.objective_by_replicate,
            ("objective", False): self.objective_fixed_by_replicate,
        }
        try:
            return table[(measure, bool(recourse))]
        except KeyError:
            raise ValueError(f"measure must be 'people' or 'objective', not {measure!r}") from None

    def differences(self, measure: str = "people", recourse: bool = True) -> FloatArray:
        """Paired differences against the average-needs plan, future by future.

        Shape (n_rep, n_plans, n_eval): ``outcome[r, j, e] - outcome[r, base, e]``, the
        base being the average-needs plan of the same replicate.
        """
        values = self.outcomes(measure, recourse)
        return values - values[:, self.base_index : self.base_index + 1, :]

    def value_of_planning(self) -> float:
        """Relative gain (share) of the sample-average plan over the average-needs plan.

        With recourse for both, people reached, mean over replicates and futures.
        """
        base = self.mean()[self.base_index]
        saa = self.mean()[self.methods.index("saa")]
        return float((saa - base) / base) if base > 0 else 0.0
