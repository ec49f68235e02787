"""The one definition of the allocation LP, written with PuLP and named constraints.

Units inside the LP (:class:`Units`): money in USD millions and people in thousands
for plans of the default plan's size, so that coefficients stay near 1 (a unit cost of
$250 per person gives 4 thousand people per $1M); the power of ten follows the data, so
a plan counted in thousands of dollars is as well conditioned. Inputs and outputs are
converted at the edges by :func:`build_model` and :mod:`solver.allocate`.

Variables
    ``x[c,k,j] >= 0`` money (money units) in slice j of tranche k of cell c, each slice
                     bounded by sigma_k R_c / J except the very last (capped by ``cap_*``);
    ``p[c] >= 0``    people reached (people units) credited to cell c;
    ``e[j,c] >= 0``  earmark j's money spent in cell c (only when earmarks exist).

Objective
    maximise sum_c w_c p_c - tie_break  (weighted people reached; see TIE_BREAK).

Rows, by kind (each family is added by one function, ``_<family>_rows``; every row has a
unique PuLP name and a :class:`Row` record in :attr:`AllocationLP.rows` that gives its
kind, coordinates (location, sector, year, objective), rule and planner description.
Code that needs to know what a row is reads the record; names are keys, never parsed)
    ``reach_*``       omega p_c - sum_kj a_ck x_ckj <= 0, a_ck = (usd/people per unit) / (u_c f_k)
    ``need_*``        sum_s p_(l,s,y) <= PIN_(l,y) / people per unit
    ``cap_*``         X_c <= factor R_c, with X_c = sum_kj x_ckj
    ``envelope_*``    total, per year, or cumulative per year with carry-over
    ``earmark_*``     sum_c e_jc <= A_j; e_jc <= share of selected objectives x X_c
    ``flexible_money`` sum_c X_c - sum_jc e_jc <= envelope - sum_j A_j
    ``floor_*``       sum_(c in G) s_c X_c >= phi sum_(c in G) s_c R_c
    ``objective_*``   share of allocated money per objective (kind ``objective_share``)
    ``continuity_*``  X_(l,s,y+1) >= (1 - d) X_(l,s,y)
    ``lock_*``        sum_(c in S) s_c X_c = A
    ``exclude_*``     X_c <= 0

With ``elastic=True`` the same rows are built with a non-negative violation variable
on every scenario row and the objective becomes the weighted sum of violations: the
infeasibility diagnosis of :mod:`solver.diagnose`.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from typing import Any, Literal, get_args

import numpy as np
import pulp

from reachplan.model.costs import CostModel
from reachplan.model.funding import Amount, Floor, FundingError, FundingScenario, Selector
from reachplan.model.selection import (
    Lines,
    LineTags,
    cell_share,
    named_lines,
    select_cells,
)
from reachplan.solver.matrix import LPArrays, lp_arrays


@dataclass(frozen=True)
class Units:
    """Internal LP units: USD and people per unit.

    Chosen from the data so that coefficients stay near 1 whatever the plan's scale:
    money in the power of ten nearest the mean cell requirement (USD millions for the
    default plan), people in the power of ten at or below what one money unit reaches
    at the median unit cost (thousands for the default plan).
    """

    usd: float = 1e6
    people: float = 1e3

    @classmethod
    def for_costs(cls, costs: CostModel) -> Units:
        """Units for a cost model."""
        req = costs.requirement_usd
        mean = float(req.mean()) if req.size and req.sum() > 0 else 1e6
        usd = 10.0 ** round(np.log10(mean))
        unit = costs.unit_cost_usd[costs.reaches_people]
        if unit.size == 0:
            return cls(usd, 1e3)
        people = 10.0 ** np.floor(np.log10(usd / float(np.median(unit))))
        return cls(float(usd), float(people))

    @property
    def people_per_1m(self) -> float:
        """Converts an LP dual (people units per money unit) to people per $1M."""
        return self.people * 1e6 / self.usd


TIE_WIDTH = 0.2
"""Largest tie-break slice, as a share of a cell's requirement.

Each tranche of the cost curve is split into ``ceil(share / TIE_WIDTH)`` equal slices
(:func:`tie_slices`): with the default curve (40/30/20/10%) tranches 1 and 2 in two
slices, tranches 3 and 4 whole, six money columns per cell.
"""
TIE_BREAK = 1e-5
"""Tie-break penalty per money unit, relative to the mean first-tranche value of money.

Money in a slice at position q (share of the cell's requirement, 0..1, the slice's
midpoint) costs ``TIE_BREAK * q * mean_value`` in the objective, so equally cost-effective
lines are funded evenly (to within one slice, at most :data:`TIE_WIDTH` of the
requirement) instead of arbitrarily, and money no line can turn into people stays
unallocated. It changes people reached by at most ``TIE_BREAK`` of the people the
allocated money would reach at mean value.
"""


def tie_slices(shares: np.ndarray | tuple[float, ...], width: float | None = None) -> np.ndarray:
    """Number of equal tie-break slices of each tranche, shape (K,), at least 1 each.

    ``ceil(share / width)`` with ``width`` :data:`TIE_WIDTH` (a relative tolerance of 1e-9
    keeps a tranche of exactly ``width`` in one slice).
    """
    w = TIE_WIDTH if width is None else width
    return np.maximum(np.ceil(np.asarray(shares, dtype=float) / w - 1e-9), 1).astype(int)


RowKind = Literal[
    "reach", "need", "cap", "envelope", "earmark", "earmark_share", "flexible", "floor",
    "objective_share", "continuity", "lock", "exclusion", "coverage", "enabler", "programme",
]
Sense = Literal["<=", ">=", "=="]
ROW_KINDS: frozenset[str] = frozenset(get_args(RowKind))

MONEY_ROWS: frozenset[str] = frozenset(
    {"cap", "envelope", "earmark", "flexible", "floor", "lock", "exclusion", "continuity",
     "objective_share", "enabler"}
)
"""Row kinds whose right-hand side is money: their duals are people per extra $1M."""

ELASTIC_WEIGHT: Mapping[str, float] = {
    "envelope": 1.0, "flexible": 1.0, "earmark": 1.0, "cap": 2.0, "floor": 2.0, "lock": 2.0,
    "exclusion": 2.0, "objective_share": 2.0, "continuity": 2.0, "enabler": 2.0,
}
"""Cost per money unit of relaxing a row in the elastic model: envelopes are relaxed first."""


@dataclass(frozen=True)
class Row:
    """Identity and planner meaning of one named LP row: the record every consumer reads.

    Code that needs to know what a row is (its kind, its location and year, the rule it
    comes from) reads this record, never the PuLP name: names are only unique keys.

    Attributes
    ----------
    name
        PuLP constraint name (a unique key; not meant to be parsed).
    kind
        What the row expresses.
    description
        Planner words, e.g. ``'the 2025 envelope'``.
    sense
        ``'<='``, ``'>='`` or ``'=='``.
    rhs
        Right-hand side in LP units (money units for money rows, people units for ``need``).
    rule
        The scenario rule the row comes from, in planner words, e.g. ``'the protection
        floor'`` (a floor applied per location gives one row per location, all with the
        same rule). Defaults to the description.
    location, sector, year
        Coordinates of the row where it has them: a cell's row (``reach``, ``cap``,
        ``exclusion``, ``earmark_share``, ``continuity``) has all three; a ``need`` row has
        location and year; an ``envelope`` row has the year it covers (up to that year
        with carry-over) and no year for the total envelope; a ``floor`` row has those its
        grouping gives it. ``None`` where not applicable.
    objective
        The strategic objective of an ``objective_share`` row.
    bound
        ``'min'`` or ``'max'`` for an ``objective_share`` row.
    rule_name
        The name the scenario gives the rule (floor, earmark, lock), if any.
    """

    name: str
    kind: RowKind
    description: str
    sense: Sense
    rhs: float
    rule: str = ""
    location: str | None = None
    sector: str | None = None
    year: int | None = None
    objective: str | None = None
    bound: Literal["min", "max"] | None = None
    rule_name: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ROW_KINDS:
            raise ValueError(f"unknown row kind {self.kind!r}")
        object.__setattr__(self, "rhs", float(self.rhs))
        if not self.rule:
            object.__setattr__(self, "rule", self.description)

    @property
    def is_money(self) -> bool:
        """Whether the right-hand side is money (its dual is people per extra money)."""
        return self.kind in MONEY_ROWS


COVERAGE_SEGMENTS = 20
"""Segments of the coverage value curve on [0, 1] (equal widths of 5% of planned reach)."""


def coverage_curve(offset: float, segments: int = COVERAGE_SEGMENTS) -> tuple[np.ndarray, ...]:
    """Breakpoints, segment widths and slopes of the coverage value curve.

    The value of coverage z (people reached over the planned reach of a group) is
    ``g(z) = ln(z + offset) - ln(offset)``, concave; the LP uses its chords between
    ``segments + 1`` equally spaced breakpoints on [0, 1] and, beyond full coverage, the
    slope ``g'(1) = 1 / (1 + offset)`` (smaller than every chord, so the curve stays
    concave).

    Returns
    -------
    tuple of numpy.ndarray
        ``(breakpoints (K+1,), widths (K,), slopes (K+1,))``; the last slope is the tail's.
    """
    z = np.linspace(0.0, 1.0, segments + 1)
    g = np.log(z + offset)
    slopes = np.append(np.diff(g) / np.diff(z), 1.0 / (1.0 + offset))
    return z, np.diff(z), slopes


@dataclass(frozen=True)
class GroupSpec:
    """One term of the priority objective: the lines of one tier in one location and year.

    Attributes
    ----------
    location, year, tier
        Coordinates; ``output`` is ``people`` or ``entities``.
    scale
        Planned reach of the group in people (or entities), weighted by the cells'
        objective weights, times the need ratio for people groups.
    value
        Multiplier of the group's curve: tier weight x severity weight (x people
        equivalent per entity for entity groups).
    members
        ``(cell index, coefficient)``: the cell's credited people count ``coefficient``
        times in the group (objective weight x tier share).
    """

    location: str
    year: int
    tier: int
    output: str
    scale: float
    value: float
    members: tuple[tuple[int, float], ...]


@dataclass(frozen=True, eq=False)
class CoverageGroup:
    """One term of the priority objective in the LP: a :class:`GroupSpec` and its columns.

    Attributes
    ----------
    spec
        The group: location, year, tier, output, planned reach (people), value
        multiplier, members.
    scale
        The planned reach in LP people units: coverage 1 is reaching it.
    segments
        Segment columns (the last one, beyond full coverage, unbounded).
    """

    spec: GroupSpec
    scale: float
    segments: tuple[pulp.LpVariable, ...]

    @property
    def location(self) -> str:
        """Location code."""
        return self.spec.location

    @property
    def year(self) -> int:
        """Year."""
        return self.spec.year

    @property
    def tier(self) -> int:
        """Priority tier."""
        return self.spec.tier

    @property
    def output(self) -> str:
        """``people`` or ``entities``."""
        return self.spec.output

    @property
    def value(self) -> float:
        """Multiplier of the group's curve (tier x severity [x people per entity])."""
        return self.spec.value

    @property
    def members(self) -> tuple[tuple[int, float], ...]:
        """``(cell index, coefficient)`` of the group's lines."""
        return self.spec.members

    @property
    def row_name(self) -> str:
        """Name of the group's coverage row."""
        return f"coverage_{_token(self.location)}_{self.year}_t{self.tier}_{self.output}"


@dataclass(eq=False)
class AllocationLP:
    """The built PuLP problem and the maps from cells and rows to its variables.

    Attributes
    ----------
    problem
        The PuLP problem (maximise weighted people, or minimise violations if elastic).
    costs, scenario
        The inputs it was built from.
    tranche_vars
        Per cell, its slice variables (money units) in curve order, length n.
    people_vars
        Per cell, its people variable (people units) or ``None`` if it reaches nobody.
    objective_coef
        Per cell and tranche, weighted people units per money unit, shape (n, K) (0 padded).
    rows
        The :class:`Row` record of every row, keyed by its PuLP name, in model order.
    violations
        Elastic model only: row name -> violation variable(s).
    units
        Internal units of money and people.
    funding_usd
        The envelope in USD (the least of the total and the sum of the years).
    envelope_by_year
        Per-year envelope in USD (``None`` when only a total applies).
    groups
        Priority objective only: the coverage groups (location, year, tier, output) with
        their segment columns.
    resizable
        Columns whose upper bound is proportional to the people in need of a (location,
        year): the coverage segments of people groups and the people columns (bounded by
        the sector's people in need). A simulated future with other needs rescales them.
    """

    problem: pulp.LpProblem
    costs: CostModel
    scenario: FundingScenario
    tranche_vars: list[list[pulp.LpVariable]]
    people_vars: list[pulp.LpVariable | None]
    objective_coef: np.ndarray
    rows: dict[str, Row]
    units: Units
    funding_usd: float
    envelope_by_year: dict[int, float] | None
    violations: dict[str, list[pulp.LpVariable]] = field(default_factory=dict)
    groups: list[CoverageGroup] = field(default_factory=list)
    resizable: list[tuple[pulp.LpVariable, tuple[str, int]]] = field(default_factory=list)

    @cached_property
    def variables(self) -> list[pulp.LpVariable]:
        """The problem's columns in PuLP's order (the order of :attr:`arrays`), read once."""
        return self.problem.variables()

    @cached_property
    def arrays(self) -> LPArrays:
        """The problem as arrays (:func:`solver.matrix.lp_arrays`), read once.

        The built problem is never changed afterwards (re-solves change bounds on a
        solver's copy), so the reading stays valid.
        """
        return lp_arrays(self.problem, self.variables)

    @cached_property
    def tranche_columns(self) -> list[np.ndarray]:
        """Per cell, the positions of its slice columns in :attr:`arrays` (curve order)."""
        col = {v.name: j for j, v in enumerate(self.variables)}
        return [np.array([col[v.name] for v in xs], dtype=np.intp) for xs in self.tranche_vars]

    @cached_property
    def first_tranche_columns(self) -> np.ndarray:
        """Per cell, the position of its first slice column, shape (n,)."""
        return np.array([c[0] for c in self.tranche_columns], dtype=np.intp)

    def rows_of(self, kind: RowKind) -> list[Row]:
        """The rows of one kind, in model order."""
        return [row for row in self.rows.values() if row.kind == kind]

    def need_row(self, location: str, year: int) -> Row | None:
        """The people-in-need row of a location and year (``None`` when it has none)."""
        return self._need_rows.get((str(location), int(year)))

    @cached_property
    def _need_rows(self) -> dict[tuple[str, int], Row]:
        return {(str(row.location), int(row.year or 0)): row for row in self.rows_of("need")}


def _token(text: object) -> str:
    return _token_of(str(text))


@lru_cache(maxsize=4096)
def _token_of(text: str) -> str:
    # names repeat (a location or sector code in many rows): each is tokenised once
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


def selection_lines(costs: CostModel) -> Lines:
    """The cost model's cells as :class:`~reachplan.model.selection.Lines` (for selectors)."""
    tags = costs.tags if costs.tags is not None else LineTags.empty(costs.n_cells)
    return Lines(
        locations=np.asarray(costs.locations, dtype=object),
        sectors=np.asarray(costs.sectors, dtype=object),
        years=np.asarray(costs.years),
        requirement_usd=costs.requirement_usd,
        objective_shares=costs.objective_shares,
        tier_share=np.asarray(costs.tier_share, dtype=float),
        enabler=np.asarray(costs.is_enabler, dtype=bool),
        tags=tags,
    )


def selector_mask(costs: CostModel, selector: Selector) -> np.ndarray:
    """Cells a selector picks, shape (n,) bool (:func:`reachplan.model.selection.select_cells`).

    Location, sector, year and tag keys filter cells; an objective or tier key keeps the
    cells with some money in those objectives or tiers (:func:`objective_weight` gives the
    share). A location code picks the locations under it too.

    Raises
    ------
    FundingError
        When the selector names a code the plan does not have.
    """
    return select_cells(selection_lines(costs), selector)


def objective_weight(costs: CostModel, selector: Selector) -> np.ndarray:
    """Share of each cell's money the selector concerns (1 if none), shape (n,).

    The share serving the selector's objectives, in its tiers (``tier``, ``life_saving``);
    see :func:`reachplan.model.selection.cell_share`.

    Raises
    ------
    FundingError
        When an objective is not in the plan.
    """
    return cell_share(selection_lines(costs), selector)


def resolve_envelope(
    costs: CostModel, scenario: FundingScenario
) -> tuple[float | None, dict[int, float] | None]:
    """Envelope in USD: the total (or ``None``) and per year (or ``None``).

    A total share is of the whole appeal; a per-year share is of that year's
    requirement. When per-year envelopes are given, plan years not listed get nothing.
    """
    env = scenario.envelope
    total = None if env.total is None else env.total.usd(float(costs.requirement_usd.sum()))
    if not env.per_year:
        return total, None
    req_by_year = {
        int(y): float(costs.requirement_usd[costs.years == y].sum()) for y in np.unique(costs.years)
    }
    given = dict(env.per_year)
    unknown = sorted(set(given) - set(req_by_year))
    if unknown:
        raise FundingError(f"funding for year {unknown[0]}, which the plan does not have")
    per_year = {y: given[y].usd(r) if y in given else 0.0 for y, r in req_by_year.items()}
    return total, per_year


def funding_usd(costs: CostModel, scenario: FundingScenario) -> float:
    """The money available in USD: the total, or the sum of the years, whichever is less."""
    total, per_year = resolve_envelope(costs, scenario)
    values = [v for v in (total, None if per_year is None else sum(per_year.values()))
              if v is not None]
    return float(min(values))


def cap_factors(costs: CostModel, scenario: FundingScenario) -> np.ndarray:
    """Absorption factor per cell, shape (n,): the smallest cap that selects it."""
    factor = np.full(costs.n_cells, scenario.default_cap, dtype=float)
    for cap in scenario.caps:
        mask = selector_mask(costs, cap.selector)
        factor[mask] = np.minimum(factor[mask], cap.factor)
    return factor


def cell_weights(costs: CostModel, scenario: FundingScenario) -> np.ndarray:
    """Objective weight per cell, shape (n,): plan weight x every scenario weight selecting it."""
    w = costs.weight.astype(float).copy()
    for weight in scenario.weights:
        w[selector_mask(costs, weight.selector)] *= weight.weight
    return w


def cell_label(costs: CostModel, i: int) -> str:
    """``'HEALTH in UKR, 2025'`` for cell i."""
    return _cell_label(costs.locations[i], costs.sectors[i], costs.years[i])


def cell_tag(costs: CostModel, i: int) -> str:
    """Name fragment of cell i in row and variable names, e.g. ``'UKR_HEALTH_2025'``."""
    return _cell_tag(costs.locations[i], costs.sectors[i], costs.years[i])


def _cell_label(location: object, sector: object, year: object) -> str:
    return f"{sector} in {location}, {year}"


def _cell_tag(location: object, sector: object, year: object) -> str:
    return f"{_token(location)}_{_token(sector)}_{year}"


Term = tuple[pulp.LpVariable, float]
"""One term of a row or of the objective: a column and its coefficient."""

_SENSE = {"<=": pulp.LpConstraintLE, ">=": pulp.LpConstraintGE, "==": pulp.LpConstraintEQ}


@dataclass(eq=False)
class _Builder:
    """The problem under construction, shared by the row-family functions of :func:`build_model`.

    Each family function reads the inputs and the columns made so far and adds its
    named rows through :meth:`add`, each row as the list of its terms (one affine
    expression per row, built in one go); the elastic variant differs only inside
    :meth:`add`.
    """

    costs: CostModel
    scenario: FundingScenario
    elastic: bool
    prob: pulp.LpProblem
    units: Units
    req: np.ndarray
    """Requirement per cell in money units."""
    weights: np.ndarray
    rows: dict[str, Row] = field(default_factory=dict)
    violations: dict[str, list[pulp.LpVariable]] = field(default_factory=dict)
    violation_cost: list[Term] = field(default_factory=list)
    tranche_vars: list[list[pulp.LpVariable]] = field(default_factory=list)
    people_vars: list[pulp.LpVariable | None] = field(default_factory=list)
    tie_break: list[Term] = field(default_factory=list)
    groups: list[CoverageGroup] = field(default_factory=list)
    resizable: list[tuple[pulp.LpVariable, tuple[str, int]]] = field(default_factory=list)

    @cached_property
    def cells(self) -> list[tuple[Any, Any, int]]:
        """Per cell, its location, sector and year (read from the arrays once)."""
        costs = self.costs
        return list(zip(costs.locations.tolist(), costs.sectors.tolist(), costs.years.tolist(),
                        strict=True))

    @cached_property
    def tags(self) -> list[str]:
        """Per cell, its name fragment (:func:`cell_tag`)."""
        return [_cell_tag(*cell) for cell in self.cells]

    @cached_property
    def labels(self) -> list[str]:
        """Per cell, its words (:func:`cell_label`)."""
        return [_cell_label(*cell) for cell in self.cells]

    @cached_property
    def coords(self) -> list[dict[str, Any]]:
        """Per cell, its location, sector and year as :class:`Row` fields."""
        return [{"location": str(loc), "sector": str(sec), "year": int(yr)}
                for loc, sec, yr in self.cells]

    def money(self, i: int, coef: float = 1.0) -> list[Term]:
        """Terms of ``coef X_i``, the money of cell i; none when ``coef`` is 0.

        The list returned is shared: extend a copy.
        """
        if coef == 1.0:
            return self._money[i]
        if coef == 0:
            return []
        return [(v, coef) for v in self.tranche_vars[i]]

    @cached_property
    def _money(self) -> list[list[Term]]:
        """Per cell, the terms of ``X_i`` (made once, when every cell's slices exist)."""
        return [[(v, 1.0) for v in xs] for xs in self.tranche_vars]

    @cached_property
    def all_money(self) -> list[Term]:
        """Terms of the money of every cell, ``sum_c X_c``."""
        return [t for terms in self._money for t in terms]

    def add(self, terms: list[Term], row: Row) -> None:
        """Add ``sum(terms) (sense) rhs`` as the named row; in the elastic model, with violations.

        ``terms`` name each column at most once.
        """
        if row.name in self.rows:
            raise FundingError(f"two rules produce the same constraint {row.name!r}")
        if self.elastic and row.kind in ELASTIC_WEIGHT:
            slack: list[pulp.LpVariable] = []
            if row.sense in ("<=", "=="):
                v = self.prob.add_variable(f"over_{row.name}", lowBound=0)
                terms = [*terms, (v, -1)]
                slack.append(v)
            if row.sense in (">=", "=="):
                v = self.prob.add_variable(f"under_{row.name}", lowBound=0)
                terms = [*terms, (v, 1)]
                slack.append(v)
            self.violations[row.name] = slack
            weight = ELASTIC_WEIGHT[row.kind]
            self.violation_cost.extend((v, weight) for v in slack)
        self.prob.addConstraint(
            pulp.LpConstraint(pulp.LpAffineExpression(terms), _SENSE[row.sense], rhs=row.rhs),
            row.name)
        self.rows[row.name] = row


def build_model(costs: CostModel, scenario: FundingScenario, elastic: bool = False) -> AllocationLP:
    """Build the allocation LP for a cost model and a funding scenario.

    One function per family of rows adds them, in this order (the order of the rows in
    the model): tranche columns with their ``reach`` rows, people in need, absorption
    caps and exclusions, envelopes, earmarks, floors, objective share bounds,
    continuity, locks; then the objective.

    Parameters
    ----------
    costs
        Cells, requirements (USD), unit costs (USD per person), curve, overlap, people in need.
    scenario
        Envelope and every rule switched on.
    elastic
        Build the elastic variant (every scenario row may be violated at a cost).

    Returns
    -------
    AllocationLP

    Raises
    ------
    FundingError
        When the scenario names a location, sector, objective or year the plan lacks.
    """
    with _collector_paused():
        return _build(costs, scenario, elastic)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused for the duration, then restored as found.

    A build allocates some 100,000 objects (columns, terms, expressions, rows, records)
    and frees almost none of them: collections triggered by those allocations would
    traverse the growing model, and everything else the process holds, again and again
    for nothing. Nothing else is affected: reference counting frees what it always frees.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _build(costs: CostModel, scenario: FundingScenario, elastic: bool) -> AllocationLP:
    """:func:`build_model`, the collector paused."""
    units = Units.for_costs(costs)
    b = _Builder(
        costs=costs,
        scenario=scenario,
        elastic=elastic,
        prob=pulp.LpProblem("reachplan_allocation",
                            pulp.LpMinimize if elastic else pulp.LpMaximize),
        units=units,
        req=costs.requirement_usd / units.usd,
        weights=cell_weights(costs, scenario),
    )
    coef = _tranche_columns(b)
    _need_rows(b)
    if scenario.objective == "priority" and not elastic:
        _coverage_columns(b)
    _cap_and_exclusion_rows(b)
    _enabler_rows(b)
    amounts = amount_rhs(costs, scenario, units)
    per_year = _envelope_rows(b, amounts)
    available = funding_usd(costs, scenario)
    _earmark_rows(b, amounts)
    _floor_rows(b)
    _objective_share_rows(b)
    _continuity_rows(b)
    _lock_rows(b)
    _set_objective(b)
    return AllocationLP(
        problem=b.prob,
        costs=costs,
        scenario=scenario,
        tranche_vars=b.tranche_vars,
        people_vars=b.people_vars,
        objective_coef=coef,
        rows=b.rows,
        units=units,
        funding_usd=available,
        envelope_by_year=per_year,
        violations=b.violations,
        groups=b.groups,
        resizable=b.resizable,
    )


def _tie_break_penalty(b: _Builder) -> float:
    """Tie-break cost per money unit at position 1: :data:`TIE_BREAK` x mean first-tranche value."""
    costs, units = b.costs, b.units
    reaches = costs.reaches_people
    if not reaches.any():
        return TIE_BREAK
    factors = np.asarray(costs.curve.factors)
    a_first = units.usd / units.people / costs.unit_cost_usd[reaches] / factors[0]
    mean_value = float(np.mean(b.weights[reaches] * a_first)) / costs.overlap_factor
    return TIE_BREAK * (mean_value if mean_value > 0 else 1.0)


def _tranche_columns(b: _Builder) -> np.ndarray:
    """Slice and people columns of every cell, and the ``reach_*`` rows linking them.

    Returns
    -------
    numpy.ndarray
        Objective coefficient per cell and tranche (weighted people units per money
        unit), shape (n, K), zero for cells that reach nobody.
    """
    costs, units = b.costs, b.units
    shares = np.asarray(costs.curve.shares)
    factors = np.asarray(costs.curve.factors)
    n_tranches = len(shares)
    coef = np.zeros((costs.n_cells, n_tranches))
    penalty = _tie_break_penalty(b)
    # position of each slice along the curve, as a share of requirement (slice midpoints)
    starts = np.concatenate(([0.0], np.cumsum(shares)[:-1]))
    slices = tie_slices(shares)
    # the slices of the curve, the same for every cell: name suffix, tranche, upper bound
    # per cell (None for the very last slice), tie-break cost
    layout: list[tuple[str, int, list[float] | None, float]] = []
    for k in range(n_tranches):
        n_k = int(slices[k])
        bounds = (shares[k] * b.req / n_k).tolist()
        for j in range(n_k):
            last = k == n_tranches - 1 and j == n_k - 1
            position = starts[k] + shares[k] * (j + 0.5) / n_k
            layout.append((f"_t{k + 1}_{j + 1}", k, None if last else bounds,
                           -penalty * float(position)))
    tie_costs = [cost for _, _, _, cost in layout]
    with np.errstate(divide="ignore", invalid="ignore"):
        # people (units) per money unit of each tranche, for the cells that reach someone
        per_money = units.usd / units.people / (costs.unit_cost_usd[:, None] * factors)
    people_lines = costs.reaches_people
    coef[people_lines] = (b.weights[people_lines, None] * units.usd / units.people
                          / (costs.unit_cost_usd[people_lines, None] * factors))
    coef[people_lines] /= costs.overlap_factor
    # sector beneficiaries at most the sector's people in need: omega p <= PIN
    people_bound = costs.people_in_need_per_cell / costs.overlap_factor / units.people
    pin_known = np.isfinite(costs.people_in_need_per_cell)
    has_reach = costs.has_reach.tolist()
    add_variable = b.prob.add_variable
    tie_break, resizable = b.tie_break, b.resizable
    for i, tag in enumerate(b.tags):
        if not has_reach[i]:
            xs = [add_variable(f"x_{tag}_t1", lowBound=0)]
            tie_break.append((xs[0], -penalty))
            b.people_vars.append(None)
            b.tranche_vars.append(xs)
            continue
        a_cell = per_money[i].tolist()
        xs = [add_variable(f"x_{tag}{suffix}", 0, None if bounds is None else bounds[i])
              for suffix, _, bounds, _ in layout]
        reach = [(v, -a_cell[k]) for v, (_, k, _, _) in zip(xs, layout, strict=True)]
        tie_break.extend(zip(xs, tie_costs, strict=True))
        people_line = bool(people_lines[i])
        bound = float(people_bound[i]) if people_line and pin_known[i] else None
        p = add_variable(f"p_{tag}", lowBound=0, upBound=bound)
        if bound is not None:
            resizable.append((p, (str(costs.locations[i]), int(costs.years[i]))))
        omega = costs.overlap_factor if people_line else 1.0
        what = "people" if people_line else "entities"
        b.add([(p, omega), *reach],
              Row(f"reach_{tag}", "reach", f"{what} reached by {b.labels[i]}", "<=", 0.0,
                  **b.coords[i]))
        b.people_vars.append(p)
        b.tranche_vars.append(xs)
    return coef


def need_row_name(location: str, year: int) -> str:
    """PuLP name of the people-in-need row of a location and year (a key, not to be parsed)."""
    return f"need_{_token(location)}_{int(year)}"


def _need_rows(b: _Builder) -> None:
    """People reached in a location and year stay within its people in need."""
    costs = b.costs
    locs, years, reaches = costs.locations, costs.years, costs.reaches_people
    for loc, yr in sorted({(loc, int(y)) for loc, y, r in zip(locs, years, reaches, strict=True)
                           if r}):
        pin = costs.people_in_need_of(loc, yr)
        if not np.isfinite(pin):
            continue
        ps = [b.people_vars[i] for i in np.flatnonzero((locs == loc) & (years == yr) & reaches)
              if b.people_vars[i] is not None]
        b.add([(p, 1) for p in ps],
              Row(need_row_name(loc, yr), "need", f"the people in need in {loc}, {yr}", "<=",
                  pin / b.units.people, location=str(loc), year=yr))


def excluded_cells(costs: CostModel, scenario: FundingScenario) -> np.ndarray:
    """Cells an exclusion of the scenario selects (the model's ``exclusion`` rows), shape (n,)."""
    excluded = np.zeros(costs.n_cells, dtype=bool)
    for selector in scenario.exclusions:
        excluded |= selector_mask(costs, selector)
    return excluded


def _cap_and_exclusion_rows(b: _Builder) -> None:
    """Per cell: its absorption cap, and its exclusion when a rule excludes it."""
    costs = b.costs
    factor = cap_factors(costs, b.scenario)
    excluded = excluded_cells(costs, b.scenario)
    caps = (factor * b.req).tolist()
    factors, excluded = factor.tolist(), excluded.tolist()
    for i in range(costs.n_cells):
        label, tag, coords = b.labels[i], b.tags[i], b.coords[i]
        money = b.money(i)
        b.add(money,
              Row(f"cap_{tag}", "cap",
                  f"the absorption cap of {label} ({factors[i]:g} x requirement)", "<=",
                  caps[i], "the absorption caps", **coords))
        if excluded[i]:
            b.add(money, Row(f"exclude_{tag}", "exclusion", f"the exclusion of {label}",
                             "<=", 0.0, "the exclusions", **coords))


def amount_rhs(costs: CostModel, scenario: FundingScenario, units: Units) -> dict[str, float]:
    """Right-hand sides (money units) of the rows that the scenario's amounts alone set.

    The total envelope (``envelope_total``), the per-year envelopes (``envelope_YEAR``, or
    ``envelope_through_YEAR`` with carry-over), each earmark's amount (``earmark_J_NAME``)
    and the flexible money (``flexible_money``: the envelope less the earmarks). Two
    scenarios that differ only in these amounts give the same model but for these
    right-hand sides: the builder (:func:`build_model`) takes them from here, and a
    re-solve of another amount (:class:`solver.whatif.WhatIf`) only changes them.
    """
    usd = units.usd
    out: dict[str, float] = {}
    total, per_year = resolve_envelope(costs, scenario)
    if total is not None:
        out["envelope_total"] = total / usd
    if per_year is not None:
        carried = 0.0
        for yr in sorted(per_year):
            if scenario.envelope.carry_over:
                carried += per_year[yr]
                out[f"envelope_through_{yr}"] = carried / usd
            else:
                out[f"envelope_{yr}"] = per_year[yr] / usd
    if scenario.earmarks:
        appeal = float(costs.requirement_usd.sum())
        earmarked_sum = 0.0
        for j, mark in enumerate(scenario.earmarks):
            amount = mark.amount.usd(appeal) / usd
            earmarked_sum += amount
            out[earmark_row_name(j, mark.name)] = amount
        out["flexible_money"] = funding_usd(costs, scenario) / usd - earmarked_sum
    return out


def earmark_row_name(j: int, name: str) -> str:
    """Name of the amount row of the ``j``-th earmark (from 0) called ``name``."""
    return f"earmark_{j + 1}_{_token(name)}"


def _envelope_rows(b: _Builder, rhs: Mapping[str, float]) -> dict[int, float] | None:
    """The total envelope and the per-year envelopes (cumulative with carry-over).

    Returns
    -------
    dict or None
        Per-year envelope in USD, ``None`` when only a total applies.
    """
    costs = b.costs
    years = costs.years
    total, per_year = resolve_envelope(costs, b.scenario)
    if total is not None:
        b.add(b.all_money,
              Row("envelope_total", "envelope", "the total envelope", "<=",
                  rhs["envelope_total"]))
    if per_year is None:
        return None
    for yr in sorted(per_year):
        if b.scenario.envelope.carry_over:
            cells = np.flatnonzero(years <= yr).tolist()
            b.add([t for i in cells for t in b.money(i)],
                  Row(f"envelope_through_{yr}", "envelope",
                      f"the envelopes up to {yr} (with carry-over)", "<=",
                      rhs[f"envelope_through_{yr}"], year=yr))
        else:
            cells = np.flatnonzero(years == yr).tolist()
            b.add([t for i in cells for t in b.money(i)],
                  Row(f"envelope_{yr}", "envelope", f"the {yr} envelope", "<=",
                      rhs[f"envelope_{yr}"], year=yr))
    return per_year


def _earmark_rows(b: _Builder, rhs: Mapping[str, float]) -> None:
    """Earmark columns, their per-cell share rows and amounts, and the flexible money."""
    if not b.scenario.earmarks:
        return
    costs = b.costs
    earmarked_total = []
    for j, mark in enumerate(b.scenario.earmarks):
        tag = f"{j + 1}_{_token(mark.name)}"
        mask = selector_mask(costs, mark.selector)
        share = objective_weight(costs, mark.selector)
        evars = []
        for i in np.flatnonzero(mask).tolist():
            v = b.prob.add_variable(f"e{tag}_{i}", lowBound=0)
            evars.append(v)
            b.add([(v, 1), *b.money(i, -float(share[i]))],
                  Row(f"earmark_{tag}_cell_{i}", "earmark_share",
                      f"earmark '{mark.name}' within {b.labels[i]}", "<=", 0.0,
                      rule_name=mark.name, **b.coords[i]))
        b.add([(v, 1) for v in evars],
              Row(earmark_row_name(j, mark.name), "earmark",
                  f"earmark '{mark.name}' ({mark.selector.describe()})", "<=",
                  rhs[earmark_row_name(j, mark.name)], rule_name=mark.name))
        earmarked_total.extend(evars)
    b.add(b.all_money + [(v, -1) for v in earmarked_total],
          Row("flexible_money", "flexible", "the flexible (non-earmarked) money", "<=",
              rhs["flexible_money"]))


_FLOOR_KEYS: Mapping[str, tuple[str, ...]] = {
    "cell": ("location", "sector"), "location": ("location",), "sector": ("sector",), "all": (),
}
"""Row coordinates a floor is applied per (besides the year, which every floor row has)."""


def floor_lines(costs: CostModel, selector: Selector) -> np.ndarray:
    """Lines a floor may hold up, shape (n,) bool: programme lines, and enablers only by name.

    Enablers follow the programme money they serve, so a floor meant for programme lines
    ("every location keeps 15%", "50% of SO1 in every location") does not also force the
    programme money of a whole region through its regional support line. A floor whose
    selector names an enabler's location or sector (by code, parent location, location
    kind or IASC cluster), or says ``enabler = true``, holds that enabler too.
    """
    return ~costs.is_enabler | named_lines(selection_lines(costs), selector)


@dataclass(frozen=True, eq=False)
class FloorRow:
    """One row of a floor: its record, and the money it sums (``weight[i]`` of cell ``i``)."""

    row: Row
    members: list[int]
    weight: np.ndarray


def floor_rows(costs: CostModel, floor: Floor, req: np.ndarray) -> list[FloorRow]:
    """The rows of one floor: one per group of its lines and year.

    Groups are per cell, location, sector or all (``floor.per``), in the order of the
    group's coordinates and year, compared as text. ``req`` is the requirement per cell in
    money units. A group asking nothing (its lines' requirement is 0) has no row. The
    rows' records (right-hand side ``share x need``, the share in the description) are all
    a floor's share changes: the builder (:func:`build_model`) adds them as constraints,
    and a re-solve at another share (:class:`solver.whatif.WhatIf`) takes their records
    and right-hand sides alone.
    """
    mask = selector_mask(costs, floor.selector) & floor_lines(costs, floor.selector)
    s = objective_weight(costs, floor.selector)
    dims = _FLOOR_KEYS.get(floor.per, ())
    columns = {"location": costs.locations, "sector": costs.sectors}
    groups: dict[tuple[tuple[str, ...], int], list[int]] = {}
    for i in np.flatnonzero(mask).tolist():
        key = tuple(str(columns[d][i]) for d in dims)
        groups.setdefault((key, int(costs.years[i])), []).append(i)
    rule = f"the {floor.name} floor ({floor.share:.0%} of requirement)"
    out = []
    for (key, year), members in sorted(groups.items(),
                                       key=lambda kv: (*kv[0][0], str(kv[0][1]))):
        need = float(sum(s[i] * req[i] for i in members))
        if need <= 0:
            continue
        where = " ".join(key)
        tag = "_".join(_token(k) for k in (*key, year))
        label = f"the {floor.name} floor" + (f" in {where}" if where else "") + f", {year}"
        coords = dict(zip(dims, key, strict=True))
        out.append(FloorRow(
            Row(f"floor_{_token(floor.name)}_{tag}", "floor",
                f"{label} ({floor.share:.0%} of requirement)", ">=", floor.share * need,
                rule, location=coords.get("location"), sector=coords.get("sector"),
                year=year, rule_name=floor.name),
            members, s))
    return out


def _floor_rows(b: _Builder) -> None:
    """Each floor: one row per group of its lines (per cell, location, sector or all) and year."""
    for floor in b.scenario.floors:
        for f in floor_rows(b.costs, floor, b.req):
            b.add([t for i in f.members for t in b.money(i, float(f.weight[i]))], f.row)


def objective_share_row_name(objective: str, bound: Literal["min", "max"]) -> str:
    """PuLP name of an objective share bound row (a key, not to be parsed)."""
    return f"objective_{bound}_{_token(objective)}"


def _objective_share_rows(b: _Builder) -> None:
    """Minimum and maximum shares of the allocated money per strategic objective."""
    costs = b.costs
    for bound in b.scenario.objective_bounds:
        s = objective_weight(costs, Selector(objectives=(bound.objective,))).tolist()
        part = [t for i in range(costs.n_cells) for t in b.money(i, float(s[i]))]
        if bound.min_share > 0:
            b.add(_less_share_of_all(b, part, bound.min_share),
                  Row(objective_share_row_name(bound.objective, "min"), "objective_share",
                      f"the minimum {bound.min_share:.0%} share of {bound.objective}", ">=", 0.0,
                      objective=bound.objective, bound="min"))
        if bound.max_share < 1:
            b.add(_less_share_of_all(b, part, bound.max_share),
                  Row(objective_share_row_name(bound.objective, "max"), "objective_share",
                      f"the maximum {bound.max_share:.0%} share of {bound.objective}", "<=", 0.0,
                      objective=bound.objective, bound="max"))


def _less_share_of_all(b: _Builder, part: list[Term], share: float) -> list[Term]:
    """Terms of ``part - share x sum_c X_c``: a cell's money column appears once."""
    if share == 0:
        return part
    coef = dict(part)
    for v, _ in b.all_money:
        coef[v] = coef[v] - share if v in coef else -share
    return list(coef.items())


def _continuity_rows(b: _Builder) -> None:
    """Money of a line falls at most ``max_year_fall`` from one year to the next.

    Programme lines, and enabler lines a lock or exclusion takes out of the overhead rule.
    An enabler funded as an overhead follows the programme money it serves, each line of
    which keeps its own continuity: a continuity row on it would bind the whole served
    programme money of both years, amplified by 1 / ρ (a regional line at 0.03% of its
    region's programme money would hold that money to a ratio the planner never set).
    """
    fall = b.scenario.max_year_fall
    if fall is None:
        return
    costs = b.costs
    overhead = _overhead_lines(b)
    index = {cell: i for i, cell in enumerate(zip(costs.locations.tolist(),
                                                  costs.sectors.tolist(),
                                                  costs.years.tolist(), strict=True))}
    at_most = f"{fall:.0%}"
    rule = f"year-to-year continuity (falls at most {at_most})"
    kept = 1.0 - fall
    for (loc, sec, yr), i in sorted(index.items()):
        prev = index.get((loc, sec, yr - 1))
        if prev is None or overhead[i] or overhead[prev]:
            continue
        b.add(b.money(i) + b.money(prev, -kept),
              Row(f"continuity_{_token(loc)}_{_token(sec)}_{yr}", "continuity",
                  f"continuity of {sec} in {loc} from {yr - 1} to {yr} (falls at most {at_most})",
                  ">=", 0.0, rule, **b.coords[i]))


def _lock_rows(b: _Builder) -> None:
    """Each lock fixes the money of the lines it selects."""
    costs, units = b.costs, b.units
    for j, lock in enumerate(b.scenario.locks):
        mask = selector_mask(costs, lock.selector)
        s = objective_weight(costs, lock.selector)
        members = np.flatnonzero(mask).tolist()
        amount = _lock_amount(lock.amount, float(sum(s[i] * b.req[i] for i in members)), units)
        b.add([t for i in members for t in b.money(i, float(s[i]))],
              Row(f"lock_{j + 1}_{_token(lock.name)}", "lock",
                  f"the lock '{lock.name}' at ${amount * units.usd:,.0f} "
                  f"({lock.selector.describe()})", "==", amount, rule_name=lock.name))


def _set_objective(b: _Builder) -> None:
    """The priority value (or weighted people reached) less the tie-break; violations if elastic.

    ``priority``: sum over coverage groups of value x chord slope x segment;
    ``headcount``: sum over people lines of weight x people reached.
    """
    if b.elastic:
        b.prob.setObjective(pulp.LpAffineExpression(b.violation_cost))
        return
    if b.scenario.objective == "priority":
        _, _, slopes = coverage_curve(b.costs.coverage_offset)
        terms = [t for g in b.groups
                 for t in zip(g.segments, (g.value * slopes).tolist(), strict=True)]
    else:
        people = b.costs.reaches_people
        terms = [(p, float(b.weights[i])) for i, p in enumerate(b.people_vars)
                 if p is not None and people[i]]
    b.prob.setObjective(pulp.LpAffineExpression(terms + b.tie_break))


def planned_reach(costs: CostModel) -> tuple[np.ndarray, np.ndarray]:
    """People and entities each cell reaches at full funding, for the plan's own needs.

    Returns
    -------
    tuple of numpy.ndarray
        People reached per cell (0 for other lines) and entities reached per cell, (n,).
    """
    planned = replace(costs, people_in_need=costs.planned_people_in_need)
    full = costs.requirement_usd
    return planned.people_reached_cells(full), planned.entities_reached_cells(full)


def entity_equivalents(costs: CostModel) -> dict[str, float]:
    """People-equivalents of one entity per location, so that neither kind of line wins by its unit.

    An entity counts as many people as the money that reaches one entity in the
    location's entity lines reaches in its people lines, at full funding (over all
    years); where a location has no people lines, the plan-wide ratio.
    """
    return _entity_equivalents(costs, *planned_reach(costs))


def _entity_equivalents(costs: CostModel, people: np.ndarray,
                        entities: np.ndarray) -> dict[str, float]:
    """:func:`entity_equivalents` from the planned reach per cell (:func:`planned_reach`)."""
    req, locs = costs.requirement_usd, costs.locations
    p_line, e_line = costs.reaches_people, costs.reaches_entities

    def ratio(mask: np.ndarray) -> float | None:
        pr, er = req[mask & p_line].sum(), req[mask & e_line].sum()
        pp, ee = people[mask & p_line].sum(), entities[mask & e_line].sum()
        if pr <= 0 or er <= 0 or pp <= 0 or ee <= 0:
            return None
        return float((pp / pr) / (ee / er))

    overall = ratio(np.ones(costs.n_cells, dtype=bool)) or 1.0
    out = {}
    for loc in np.unique(locs[e_line]):
        out[str(loc)] = ratio(locs == loc) or overall
    return out


def coverage_groups(costs: CostModel, weights: np.ndarray) -> list[GroupSpec]:
    """The coverage groups of the priority objective, in a fixed order.

    One group per location, year, tier and output (people or entities) with planned
    reach: credited people of its lines (objective weight x tier share) count towards
    its coverage; its scale is its planned reach, weighted the same way, times the need
    ratio (people in need now over the plan's figure) for people groups.
    """
    people_full, entities_full = planned_reach(costs)
    equivalents = _entity_equivalents(costs, people_full, entities_full)
    members: dict[tuple[str, int, int, str], list[tuple[int, float]]] = {}
    scale: dict[tuple[str, int, int, str], float] = {}
    reaches_people = costs.reaches_people.tolist()
    full_reach = np.where(costs.reaches_people, people_full, entities_full).tolist()
    credit = (weights[:, None] * costs.tier_share).tolist()
    locations, years = costs.locations.tolist(), costs.years.tolist()
    for i in np.flatnonzero(costs.has_reach).tolist():
        output = "people" if reaches_people[i] else "entities"
        for t, coef in enumerate(credit[i]):
            if coef <= 0:
                continue
            key = (str(locations[i]), years[i], t + 1, output)
            members.setdefault(key, []).append((i, coef))
            scale[key] = scale.get(key, 0.0) + coef * full_reach[i]
    need_ratio: dict[tuple[str, int], float] = {}
    severity: dict[tuple[str, int], float] = {}
    out = []
    for key in sorted(members):
        loc, year, tier, output = key
        if output == "people":
            if (loc, year) not in need_ratio:
                need_ratio[(loc, year)] = costs.need_ratio_of(loc, year)
            ratio = need_ratio[(loc, year)]
        else:
            ratio = 1.0
        size = scale[key] * ratio
        if size <= 0:
            continue
        if (loc, year) not in severity:
            severity[(loc, year)] = costs.severity_weight_of(loc, year)
        value = costs.tier_weight[tier - 1] * severity[(loc, year)]
        if output == "entities":
            value *= equivalents.get(loc, 1.0)
        out.append(GroupSpec(loc, year, tier, output, size, value, tuple(members[key])))
    return out


def priority_value(costs: CostModel, scenario: FundingScenario, credited: np.ndarray) -> float:
    """The priority objective (people units) for people or entities credited per cell.

    ``credited`` is people (entities for entity lines) counted per cell, shape (n,), e.g.
    :meth:`CostModel.people_reached_cells` plus :meth:`CostModel.entities_reached_cells`.
    Evaluates ``sum_G v_G S_G g~(C_G / S_G)`` with ``g~`` the chords the LP uses; a
    fixed allocation's value this way is at most what the LP finds for it (the LP may
    credit people where they are worth most within a location's people in need).
    """
    z, widths, slopes = coverage_curve(costs.coverage_offset)
    total = 0.0
    for g in coverage_groups(costs, cell_weights(costs, scenario)):
        covered = sum(c * float(credited[i]) for i, c in g.members)
        fill = np.clip(covered - np.append(z[:-1], 1.0) * g.scale, 0.0, None)
        fill[:-1] = np.minimum(fill[:-1], widths * g.scale)
        total += g.value * float((fill * slopes).sum())
    return total


def _coverage_columns(b: _Builder) -> None:
    """Coverage groups of the priority objective: segment columns and ``coverage_*`` rows.

    See :func:`coverage_groups`; each group's segments have widths of the chords of
    :func:`coverage_curve` times its scale (LP people units).
    """
    units, add_variable = b.units, b.prob.add_variable
    _, widths, _ = coverage_curve(b.costs.coverage_offset)
    for spec in coverage_groups(b.costs, b.weights):
        loc, year, tier, output = spec.location, spec.year, spec.tier, spec.output
        size = spec.scale / units.people
        tag = f"{_token(loc)}_{year}_t{tier}_{output}"
        segs = [add_variable(f"z_{tag}_{k + 1}", 0, upper)
                for k, upper in enumerate((widths * size).tolist())]
        if output == "people":
            b.resizable.extend((z, (loc, year)) for z in segs)
        segs.append(add_variable(f"z_{tag}_beyond", 0))
        group = CoverageGroup(spec, size, tuple(segs))
        what = "people" if output == "people" else "entities"
        b.add([(z, 1) for z in segs] + [(b.people_vars[i], -c) for i, c in group.members],
              Row(group.row_name, "coverage",
                  f"coverage of tier-{tier} {what} in {loc}, {year}", "<=", 0.0,
                  location=loc, year=year))
        b.groups.append(group)


def enabler_scope(costs: CostModel, i: int) -> tuple[str, np.ndarray]:
    """Where enabler cell i works, and the cells whose programme money it serves, (n,) bool.

    An enabler in a location without programme lines (a location of kind ``regional``)
    serves the programme lines of its region in the same year; an enabler sector inside a
    location with programme lines serves that location's, in the same year. Returns the
    region or location code and the mask.
    """
    same_year = costs.years == costs.years[i]
    programme = ~costs.is_enabler
    if costs.region[i] and not (costs.locations == costs.locations[i])[programme].any():
        return str(costs.region[i]), same_year & programme & (costs.region == costs.region[i])
    return str(costs.locations[i]), same_year & programme & (
        costs.locations == costs.locations[i])


def _overhead_lines(b: _Builder) -> np.ndarray:
    """Enabler lines funded as an overhead: not excluded or locked by the scenario."""
    costs = b.costs
    held = excluded_cells(costs, b.scenario)
    for lock in b.scenario.locks:
        held |= selector_mask(costs, lock.selector)
    return np.asarray(costs.is_enabler & ~held, dtype=bool)


def _enabler_rows(b: _Builder) -> None:
    """Each enabler line is funded as an overhead of the programme money it serves.

    ``X_e = rho_e sum_(c served) X_c`` with ``rho_e = R_e / sum_(c served) R_c``, the
    plan's own ratio. A scenario that excludes or locks an enabler line takes it out of
    this rule (the rule then says what it gets).
    """
    costs = b.costs
    # one column per served set: the programme money of a region (or location) and year,
    # defined once, so that each enabler row has two terms
    served_money: dict[tuple[int, ...], pulp.LpVariable] = {}
    for i in np.flatnonzero(_overhead_lines(b)).tolist():
        where, mask = enabler_scope(costs, i)
        served = np.flatnonzero(mask)
        total = float(b.req[served].sum())
        if total <= 0:
            continue
        key = tuple(served.tolist())
        if key not in served_money:
            tag = f"{_token(where)}_{int(costs.years[i])}"
            m = b.prob.add_variable(f"programme_{tag}", lowBound=0)
            b.add([(m, 1.0)] + [t for j in served.tolist() for t in b.money(j, -1.0)],
                  Row(f"programme_{tag}", "programme",
                      f"the programme money enablers serve in {where}, {int(costs.years[i])}",
                      "==", 0.0, location=None, year=int(costs.years[i])))
            served_money[key] = m
        rho = float(b.req[i]) / total
        b.add(b.money(i) + ([(served_money[key], -rho)] if rho != 0 else []),
              Row(f"enabler_{b.tags[i]}", "enabler",
                  f"{b.labels[i]} as an overhead of {_share_text(rho)} on the programme money "
                  "it serves",
                  "==", 0.0, "the enabler overheads", **b.coords[i]))


def _share_text(share: float) -> str:
    """A share as a percentage a reader can tell from zero: ``12.5%``, ``0.034%``.

    One decimal from 0.1% up; two significant figures below (a regional line serving a
    whole region's programme money is a small fraction of a percent of it).
    """
    if share == 0 or abs(share) >= 0.001:
        return f"{share:.1%}"
    return f"{share * 100:.2g}%"


def _lock_amount(amount: Amount, requirement_units: float, units: Units) -> float:
    """A lock's amount in money units; a share is of the locked lines' requirement."""
    if amount.kind == "share":
        return amount.value * requirement_units
    return amount.value / units.usd
