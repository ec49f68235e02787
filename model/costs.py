"""People reached from money: unit costs, diminishing returns and overlap between sectors.

For one cell (location, sector, year) with requirement :math:`R` (USD) and unit cost
:math:`u` (USD per person reached by the first tranche), the plan's ``cost_curve``
splits the requirement into tranches :math:`k = 1..K` holding shares
:math:`\\sigma_k` of it (summing to 1) at cost factors :math:`f_1 \\le f_2 \\le \\dots`.
Money :math:`x` fills the tranches in order, so the sector beneficiaries are

.. math:: b(x) = \\sum_k \\min\\big(\\max(x - S_{k-1}R, 0), \\sigma_k R\\big) / (u f_k),

with :math:`S_k` the cumulative shares; money beyond the requirement (when a cap allows
it) reaches people at the last tranche's cost. :math:`b` is concave and piecewise
linear in :math:`x`.

Sector beneficiaries count a person once per sector that serves them. People reached
in a location and year are

.. math:: P_{l,y} = \\min\\Big(\\mathrm{PIN}_{l,y},\\ \\frac{1}{\\omega}\\sum_s b_{l,s,y}\\Big),

where :math:`\\omega \\ge 1` is the overlap factor (the plan setting ``overlap_factor``:
the average number of sectors through which one person reached is served; 1 means no
overlap) and PIN the people in need. A cell without a unit cost (a support line such as
regional support) reaches nobody directly.

Everything here is pure computation on arrays; see ``docs/allocation.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import pandas as pd

from reachplan.model import lines
from reachplan.model.plan import CELL, Plan, PlanError
from reachplan.model.selection import LineTags, line_tags
from reachplan.model.tables import TIERS
from reachplan.model.validation import parse_number

DEFAULT_OVERLAP_FACTOR = 1.0
"""Overlap factor used when the plan has no ``overlap_factor`` setting (no overlap assumed)."""


def location_population(plan: Plan, status: str) -> pd.Series:
    """People of one status per (location_code, year), location-level rows only."""
    return plan.population(status).astype(float)


def sector_population(plan: Plan, status: str) -> pd.Series:
    """People of one status per (location_code, sector_code, year): a cluster's own figures."""
    return plan.sector_population(status).astype(float)


@dataclass(frozen=True)
class CostCurve:
    """Diminishing returns: tranches of a requirement and their cost factors.

    Parameters
    ----------
    shares
        Share of the requirement in each tranche, shape (K,), summing to 1.
    factors
        Multiplier on the unit cost in each tranche, shape (K,), positive and
        non-decreasing (so that people reached are concave in money).
    """

    shares: tuple[float, ...] = (1.0,)
    factors: tuple[float, ...] = (1.0,)

    def __post_init__(self) -> None:
        if len(self.shares) != len(self.factors) or not self.shares:
            raise PlanError("cost curve: one share and one cost factor per tranche")
        if any(s < 0 for s in self.shares) or abs(sum(self.shares) - 1.0) > 1e-9:
            raise PlanError("cost curve: tranche shares must be non-negative and sum to 1")
        if any(f <= 0 for f in self.factors) or any(
            b < a for a, b in zip(self.factors, self.factors[1:], strict=False)
        ):
            raise PlanError("cost curve: cost factors must be positive and must not fall")

    @classmethod
    def from_plan(cls, plan: Plan) -> CostCurve:
        """The plan's ``cost_curve`` table, or one tranche at factor 1 when it has none."""
        table = plan.tables.get("cost_curve")
        if table is None or table.empty:
            return cls()
        table = table.sort_values("tranche")
        return cls(
            tuple(float(v) for v in table["share_of_requirement"]),
            tuple(float(v) for v in table["cost_factor"]),
        )

    @property
    def n_tranches(self) -> int:
        """Number of tranches K."""
        return len(self.shares)

    @property
    def mean_inverse_factor(self) -> float:
        """:math:`m = \\sum_k \\sigma_k / f_k`: people per base-cost person at full funding."""
        return float(sum(s / f for s, f in zip(self.shares, self.factors, strict=True)))

    def tranche_fill(self, money: np.ndarray, requirement: np.ndarray) -> np.ndarray:
        """Money in each tranche when ``money`` fills them in order.

        Parameters
        ----------
        money, requirement
            USD per cell, shape (n,).

        Returns
        -------
        numpy.ndarray
            USD per cell and tranche, shape (n, K); the last tranche also takes any
            money beyond the requirement.
        """
        money = np.asarray(money, dtype=float)
        requirement = np.asarray(requirement, dtype=float)
        bounds = np.cumsum((0.0, *self.shares))
        lower = requirement[:, None] * bounds[None, :-1]
        width = requirement[:, None] * np.asarray(self.shares)[None, :]
        fill = np.clip(money[:, None] - lower, 0.0, None)
        fill[:, :-1] = np.minimum(fill[:, :-1], width[:, :-1])
        return fill

    def beneficiaries(
        self, money: np.ndarray, requirement: np.ndarray, unit_cost: np.ndarray
    ) -> np.ndarray:
        """Sector beneficiaries (people, counted once per sector) reached by ``money``.

        Parameters
        ----------
        money, requirement
            USD per cell, shape (n,).
        unit_cost
            USD per person in the first tranche, shape (n,); NaN where the cell reaches
            nobody directly.

        Returns
        -------
        numpy.ndarray
            People per cell, shape (n,).
        """
        fill = self.tranche_fill(money, requirement)
        per_usd = 1.0 / (np.asarray(unit_cost, dtype=float)[:, None] * np.asarray(self.factors))
        per_usd = np.where(np.isfinite(per_usd), per_usd, 0.0)
        return np.asarray((fill * per_usd).sum(axis=1))


@dataclass(frozen=True, eq=False)
class CostModel:
    """Everything needed to turn money per cell into people reached, keyed by cell.

    Attributes
    ----------
    cells
        MultiIndex (location_code, sector_code, year) of the plan's cells, sorted.
    requirement_usd
        USD per cell, shape (n,).
    unit_cost_usd
        USD per person reached by the first tranche, shape (n,); NaN = reaches nobody.
    weight
        Priority weight per cell from the plan's ``unit_costs`` table, shape (n,).
    objective_shares
        Share of each cell's requirement per strategic objective, DataFrame (n, n_obj).
    people_in_need
        People in need per (location_code, year); locations absent have no bound.
    curve
        Diminishing-returns curve.
    overlap_factor
        Average number of sectors serving one person reached (>= 1).
    output
        What each cell delivers: ``people``, ``entities`` or ``enabler`` (shape (n,);
        default all ``people``). See :mod:`reachplan.model.lines`.
    tier_share
        Share of each cell's requirement per priority tier 1, 2, 3, shape (n, 3)
        (default all tier 2).
    tier_weight
        Weight of tiers 1, 2, 3 in the priority objective.
    severity_weight
        Weight per (location_code, year) from severity (absent = 1).
    coverage_offset
        Offset delta of the coverage value curve ``ln(z + delta)``.
    entities_targeted
        Entities targeted per (location_code, year).
    planned_people_in_need
        People in need the plan was made for (the plan's figures); ``people_in_need``
        may differ in a simulated future. The caseload a location's coverage is measured
        against grows in the same ratio.
    region
        Region of each cell's location, shape (n,) (enablers serve their region).
    sector_people_in_need
        A cluster's own people in need per cell, shape (n,), NaN where the plan gives none
        (then the location's people in need bound the cell). Figures of the plan: in a
        simulated future they move with their location's people in need (need ratio).
    tags
        What scenario rules can select lines by besides their codes (IASC cluster,
        location kind, parent locations, tiers): :mod:`reachplan.model.selection`
        (default: no tags).
    """

    cells: pd.MultiIndex
    requirement_usd: np.ndarray
    unit_cost_usd: np.ndarray
    weight: np.ndarray
    objective_shares: pd.DataFrame
    people_in_need: pd.Series
    curve: CostCurve
    overlap_factor: float
    output: np.ndarray | None = None
    tier_share: np.ndarray | None = None
    tier_weight: tuple[float, ...] = (2.0, 1.0, 0.5)
    severity_weight: pd.Series | None = None
    coverage_offset: float = 0.1
    entities_targeted: pd.Series | None = None
    planned_people_in_need: pd.Series | None = None
    region: np.ndarray | None = None
    sector_people_in_need: np.ndarray | None = None
    tags: LineTags | None = None

    def __post_init__(self) -> None:
        n = len(self.cells)
        if self.output is None:
            object.__setattr__(self, "output", np.full(n, "people", dtype=object))
        if self.tier_share is None:
            share = np.zeros((n, 3))
            share[:, 1] = 1.0
            object.__setattr__(self, "tier_share", share)
        if self.region is None:
            object.__setattr__(self, "region", np.full(n, "", dtype=object))
        if self.planned_people_in_need is None:
            object.__setattr__(self, "planned_people_in_need", self.people_in_need)
        if not math.isfinite(self.overlap_factor) or self.overlap_factor < 1.0:
            raise PlanError(
                f"overlap_factor must be a number >= 1 (got {self.overlap_factor}): it is the "
                "average number of sectors through which one person reached is served"
            )

    @classmethod
    def from_plan(cls, plan: Plan) -> CostModel:
        """Cells, requirements, unit costs, weights and people in need of a plan.

        Raises
        ------
        PlanError
            When the overlap setting is not a number >= 1.
        """
        req = plan.cell_requirements().sort_index()
        cells = pd.MultiIndex.from_tuples(list(req.index), names=CELL)
        unit = pd.Series(np.nan, index=cells)
        weight = pd.Series(1.0, index=cells)
        table = plan.tables.get("unit_costs")
        if table is not None and not table.empty:
            t = table.set_index(["location_code", "sector_code"])
            keys = list(zip(cells.get_level_values(0), cells.get_level_values(1), strict=True))
            unit[:] = t["unit_cost_usd"].reindex(keys).to_numpy(dtype=float)
            if "weight" in t.columns:
                w = t["weight"].reindex(keys).to_numpy(dtype=float)
                weight[:] = np.where(np.isfinite(w), w, 1.0)
        unit[unit <= 0] = np.nan
        text = str(plan.settings.get("overlap_factor", "")).strip()
        overlap = DEFAULT_OVERLAP_FACTOR
        if text:
            value, reason = parse_number(text)
            if value is None:
                raise PlanError(f"setting overlap_factor: {reason}")
            overlap = value
        shares = plan.objective_shares().reindex(cells).fillna(0.0)
        output = lines.cell_outputs(plan, cells)
        unit[output == "enabler"] = np.nan
        tiers = lines.tier_weights(plan)
        region = plan.locations["region"].reindex(cells.get_level_values(0))
        pin = location_population(plan, "in_need").astype(float)
        cluster_pin = sector_population(plan, "in_need")
        sector_pin = None
        if not cluster_pin.empty:
            sector_pin = cluster_pin.reindex(cells).to_numpy(dtype=float)
        return cls(
            cells=cells,
            requirement_usd=req.to_numpy(dtype=float),
            unit_cost_usd=unit.to_numpy(dtype=float),
            weight=weight.to_numpy(dtype=float),
            objective_shares=shares,
            people_in_need=pin,
            curve=CostCurve.from_plan(plan),
            overlap_factor=overlap,
            output=output,
            tier_share=lines.tier_shares(plan, cells).to_numpy(dtype=float),
            tier_weight=tuple(float(tiers[t]) for t in TIERS),
            severity_weight=lines.severity_weights(plan),
            coverage_offset=lines.coverage_offset(plan),
            entities_targeted=location_population(plan, "entities_targeted").astype(float),
            planned_people_in_need=pin,
            region=region.fillna("").astype(str).to_numpy(dtype=object),
            sector_people_in_need=sector_pin,
            tags=line_tags(plan.tables, np.asarray(cells.get_level_values(0).astype(str)),
                           np.asarray(cells.get_level_values(1).astype(str))),
        )

    # ---- derived views ---------------------------------------------------------------------
    @property
    def n_cells(self) -> int:
        """Number of cells n."""
        return len(self.cells)

    @cached_property
    def locations(self) -> np.ndarray:
        """Location code per cell, shape (n,)."""
        return np.asarray(self.cells.get_level_values("location_code"))

    @cached_property
    def sectors(self) -> np.ndarray:
        """Sector code per cell, shape (n,)."""
        return np.asarray(self.cells.get_level_values("sector_code"))

    @cached_property
    def years(self) -> np.ndarray:
        """Year per cell, shape (n,)."""
        return np.asarray(self.cells.get_level_values("year"), dtype=int)

    @cached_property
    def has_reach(self) -> np.ndarray:
        """Whether each cell turns money into people or entities (has a unit cost), (n,) bool."""
        return np.isfinite(self.unit_cost_usd) & (self.output != "enabler")

    @cached_property
    def reaches_people(self) -> np.ndarray:
        """Whether each cell reaches people (a people line with a unit cost), shape (n,) bool."""
        return np.isfinite(self.unit_cost_usd) & (self.output == "people")

    @cached_property
    def reaches_entities(self) -> np.ndarray:
        """Whether each cell reaches entities (an entity line with a unit cost), (n,) bool."""
        return np.isfinite(self.unit_cost_usd) & (self.output == "entities")

    @cached_property
    def is_enabler(self) -> np.ndarray:
        """Whether each cell is an enabler (funded as overhead), shape (n,) bool."""
        return np.asarray(self.output == "enabler")

    def severity_weight_of(self, location: str, year: int) -> float:
        """Severity weight of a location and year (1 where the plan gives no severity)."""
        sev = self.severity_weight
        key = (location, int(year))
        if sev is not None and key in sev.index:
            return float(sev.loc[key])
        return 1.0

    def need_ratio_of(self, location: str, year: int) -> float:
        """People in need now over the plan's figure (1 where either is unknown or 0)."""
        now = self.people_in_need_of(location, year)
        base_series = self.planned_people_in_need
        key = (location, int(year))
        if base_series is None or key not in base_series.index or not math.isfinite(now):
            return 1.0
        base = float(base_series.loc[key])
        return now / base if base > 0 else 1.0

    def people_in_need_of(self, location: str, year: int) -> float:
        """People in need in one location and year (``inf`` when the plan gives none)."""
        return self._people_in_need_map.get((str(location), int(year)), math.inf)

    @cached_property
    def _people_in_need_map(self) -> dict[tuple[str, int], float]:
        """:attr:`people_in_need` as a plain mapping (looked up per location and year)."""
        return {(str(loc), int(yr)): float(v)
                for (loc, yr), v in self.people_in_need.items()}

    @cached_property
    def location_people_in_need_per_cell(self) -> np.ndarray:
        """People in need of each cell's location and year, shape (n,); ``inf`` where unknown.

        The bound on a location's people reached (unique people), whatever its sectors'.
        """
        keys = pd.MultiIndex.from_arrays([self.locations, self.years])
        pin = self.people_in_need.reindex(keys).to_numpy(dtype=float)
        return np.where(np.isfinite(pin), pin, np.inf)

    @cached_property
    def people_in_need_per_cell(self) -> np.ndarray:
        """People in need a cell's sector can serve, shape (n,); ``inf`` where unknown.

        The cluster's own people in need where the plan gives them (``populations`` rows
        with a ``sector_code``), times the location's need ratio (people in need now over
        the plan's figure, :meth:`need_ratio_of`), and never more than the location's
        people in need; elsewhere the location's people in need of that year.
        """
        pin = self.location_people_in_need_per_cell
        cluster = self.sector_people_in_need
        if cluster is None:
            return pin
        cluster = np.asarray(cluster, dtype=float)
        planned = self.planned_people_in_need
        keys = pd.MultiIndex.from_arrays([self.locations, self.years])
        base = pin if planned is None else planned.reindex(keys).to_numpy(dtype=float)
        ratio = np.ones_like(pin)
        ok = np.isfinite(base) & (base > 0) & np.isfinite(pin)
        ratio[ok] = pin[ok] / base[ok]
        given = np.isfinite(cluster)
        return np.where(given, np.minimum(np.where(given, cluster, 0.0) * ratio, pin), pin)

    # ---- people from money ------------------------------------------------------------------
    def sector_beneficiaries(self, allocation_usd: np.ndarray) -> np.ndarray:
        """Sector beneficiaries per cell, shape (n,), for USD per cell, shape (n,).

        People lines only (0 for entity and enabler lines), each at most its sector's
        people in need (:attr:`people_in_need_per_cell`: the cluster's own where the plan
        gives them, else the location's).
        """
        unit = np.where(self.reaches_people, self.unit_cost_usd, np.nan)
        b = self.curve.beneficiaries(allocation_usd, self.requirement_usd, unit)
        return np.minimum(b, self.people_in_need_per_cell)

    def entities_reached_cells(self, allocation_usd: np.ndarray) -> np.ndarray:
        """Entities reached per cell, shape (n,) (entity lines only; 0 elsewhere)."""
        unit = np.where(self.reaches_entities, self.unit_cost_usd, np.nan)
        return self.curve.beneficiaries(allocation_usd, self.requirement_usd, unit)

    def people_reached_cells(self, allocation_usd: np.ndarray) -> np.ndarray:
        """People reached per cell, shape (n,): a location's people reached shared by beneficiaries.

        Each cell contributes its beneficiaries divided by the overlap factor; where the
        sum in a location and year would exceed the people in need, every cell there is
        scaled down by the same ratio, so per-location sums equal :math:`P_{l,y}`.
        """
        contrib = self.sector_beneficiaries(allocation_usd) / self.overlap_factor
        frame = pd.DataFrame(
            {"location_code": self.locations, "year": self.years, "people": contrib}
        )
        totals = frame.groupby(["location_code", "year"])["people"].transform("sum").to_numpy()
        pin = self.location_people_in_need_per_cell
        # scale only where the sum exceeds the need (there totals > pin >= 0, so totals > 0);
        # dividing everywhere and choosing afterwards overflowed for tiny sums
        ratio = np.ones_like(totals, dtype=float)
        over = totals > pin
        ratio[over] = pin[over] / totals[over]
        return np.asarray(contrib * ratio)

    def people_reached_by_location(self, allocation_usd: np.ndarray) -> pd.Series:
        """People reached per (location_code, year)."""
        people = pd.Series(self.people_reached_cells(allocation_usd), index=self.cells)
        return people.groupby(level=["location_code", "year"]).sum()

    # ---- perturbations (used by sweeps and by the invariant checks) --------------------------
    def scaled_money(self, k: float) -> CostModel:
        """Every amount of money (requirements, unit costs) multiplied by ``k``."""
        return replace(self, requirement_usd=self.requirement_usd * k,
                       unit_cost_usd=self.unit_cost_usd * k)

    def with_unit_costs(self, factor: np.ndarray | float) -> CostModel:
        """Unit costs multiplied by ``factor`` (scalar or shape (n,))."""
        return replace(self, unit_cost_usd=self.unit_cost_usd * factor)

    def with_people_in_need(self, factor: float) -> CostModel:
        """People in need multiplied by ``factor``."""
        return replace(self, people_in_need=self.people_in_need * factor)
