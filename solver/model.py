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

Rows (every row is named; :class:`Row` keeps its planner description)
    ``reach_*``       omega p_c - sum_kj a_ck x_ckj <= 0, a_ck = (usd/people per unit) / (u_c f_k)
    ``need_*``        sum_s p_(l,s,y) <= PIN_(l,y) / people per unit
    ``cap_*``         X_c <= factor R_c, with X_c = sum_kj x_ckj
    ``envelope_*``    total, per year, or cumulative per year with carry-over
    ``earmark_*``     sum_c e_jc <= A_j; e_jc <= share of selected objectives x X_c
    ``flexible_money`` sum_c X_c - sum_jc e_jc <= envelope - sum_j A_j
    ``floor_*``       sum_(c in G) s_c X_c >= phi sum_(c in G) s_c R_c
    ``objective_min_*``/``objective_max_*``  share of allocated money per objective
    ``continuity_*``  X_(l,s,y+1) >= (1 - d) X_(l,s,y)
    ``lock_*``        sum_(c in S) s_c X_c = A
    ``exclude_*``     X_c <= 0

With ``elastic=True`` the same rows are built with a non-negative violation variable
on every scenario row and the objective becomes the weighted sum of violations: the
infeasibility diagnosis of :mod:`solver.diagnose`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pulp

from model.costs import CostModel
from model.funding import Amount, FundingError, FundingScenario, Selector

USD_PER_UNIT = 1e6
"""Reference money unit (USD millions): :class:`Units` for plans of the default plan's size."""
PEOPLE_PER_UNIT = 1e3
"""Reference people unit (thousands). Code reading LP values should use ``AllocationLP.units``."""


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


SLICES = 4
"""Each tranche is split into this many equal slices for the tie-break."""
TIE_BREAK = 1e-5
"""Tie-break penalty per money unit, relative to the mean first-tranche value of money.

Money in a slice at position q (share of the cell's requirement, 0..1) costs
``TIE_BREAK * q * mean_value`` in the objective, so equally cost-effective lines are
funded evenly (to within one slice, a quarter of a tranche) instead of arbitrarily, and
money no line can turn into people stays unallocated. It changes people reached by at
most ``TIE_BREAK`` of the people the allocated money would reach at mean value.
"""

RowKind = Literal[
    "reach", "need", "cap", "envelope", "earmark", "earmark_share", "flexible", "floor",
    "objective_share", "continuity", "lock", "exclusion",
]
Sense = Literal["<=", ">=", "=="]

MONEY_ROWS: frozenset[str] = frozenset(
    {"cap", "envelope", "earmark", "flexible", "floor", "lock", "exclusion", "continuity",
     "objective_share"}
)
"""Row kinds whose right-hand side is money: their duals are people per extra $1M."""

ELASTIC_WEIGHT: Mapping[str, float] = {
    "envelope": 1.0, "flexible": 1.0, "earmark": 1.0, "cap": 2.0, "floor": 2.0, "lock": 2.0,
    "exclusion": 2.0, "objective_share": 2.0, "continuity": 2.0,
}
"""Cost per money unit of relaxing a row in the elastic model: envelopes are relaxed first."""


@dataclass(frozen=True)
class Row:
    """Planner meaning of one named LP row.

    Attributes
    ----------
    name
        PuLP constraint name.
    kind
        What the row expresses.
    description
        Planner words, e.g. ``'the 2025 envelope'``.
    sense
        ``'<='``, ``'>='`` or ``'=='``.
    rule
        The scenario rule the row comes from, e.g. ``'the protection floor'`` (a floor
        applied per location gives one row per location, all with the same rule).
    rhs
        Right-hand side in LP units (money units for money rows, people units for ``need``).
    """

    name: str
    kind: RowKind
    description: str
    sense: Sense
    rhs: float
    rule: str = ""


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
        Planner meaning of every row, keyed by name.
    violations
        Elastic model only: row name -> violation variable(s).
    units
        Internal units of money and people.
    funding_usd
        The envelope in USD (the least of the total and the sum of the years).
    envelope_by_year
        Per-year envelope in USD (``None`` when only a total applies).
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


def _token(text: object) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", str(text)).strip("_")


def selector_mask(costs: CostModel, selector: Selector) -> np.ndarray:
    """Cells a selector picks (location, sector, year filters), shape (n,) bool.

    Raises
    ------
    FundingError
        When the selector names a code the plan does not have.
    """
    mask = np.ones(costs.n_cells, dtype=bool)
    for values, column, what in (
        (selector.location_codes, costs.locations, "location"),
        (selector.sector_codes, costs.sectors, "sector"),
        (selector.years, costs.years, "year"),
    ):
        if values:
            unknown = sorted(set(map(str, values)) - set(map(str, column)))
            if unknown:
                raise FundingError(
                    f"unknown {what} {', '.join(unknown)} in '{selector.describe()}'"
                )
            mask &= np.isin(column, np.asarray(values, dtype=column.dtype))
    return mask


def objective_weight(costs: CostModel, selector: Selector) -> np.ndarray:
    """Share of each cell's money serving the selector's objectives (1 if none), shape (n,).

    Raises
    ------
    FundingError
        When an objective is not in the plan.
    """
    if not selector.objectives:
        return np.ones(costs.n_cells)
    unknown = sorted(set(selector.objectives) - set(costs.objective_shares.columns))
    if unknown:
        raise FundingError(f"unknown objective {', '.join(unknown)}")
    return costs.objective_shares[list(selector.objectives)].sum(axis=1).to_numpy(dtype=float)


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
    return f"{costs.sectors[i]} in {costs.locations[i]}, {costs.years[i]}"


def build_model(costs: CostModel, scenario: FundingScenario, elastic: bool = False) -> AllocationLP:
    """Build the allocation LP for a cost model and a funding scenario.

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
    n = costs.n_cells
    sense = pulp.LpMinimize if elastic else pulp.LpMaximize
    prob = pulp.LpProblem("reachplan_allocation", sense)
    units = Units.for_costs(costs)
    req = costs.requirement_usd / units.usd
    shares = np.asarray(costs.curve.shares)
    factors = np.asarray(costs.curve.factors)
    K = len(shares)  # noqa: N806 (K is the mathematical name of the tranche count)
    weights = cell_weights(costs, scenario)
    rows: dict[str, Row] = {}
    violations: dict[str, list[pulp.LpVariable]] = {}
    violation_cost: list[pulp.LpAffineExpression] = []

    def add(name: str, expr: pulp.LpAffineExpression, sense_: Sense, rhs: float, kind: RowKind,
            description: str, rule: str = "") -> None:
        if name in rows:
            raise FundingError(f"two rules produce the same constraint {name!r}")
        if elastic and kind in ELASTIC_WEIGHT:
            slack: list[pulp.LpVariable] = []
            if sense_ in ("<=", "=="):
                v = prob.add_variable(f"over_{name}", lowBound=0)
                expr = expr - v
                slack.append(v)
            if sense_ in (">=", "=="):
                v = prob.add_variable(f"under_{name}", lowBound=0)
                expr = expr + v
                slack.append(v)
            violations[name] = slack
            violation_cost.append(ELASTIC_WEIGHT[kind] * pulp.lpSum(slack))
        if sense_ == "<=":
            prob.addConstraint(expr <= rhs, name)
        elif sense_ == ">=":
            prob.addConstraint(expr >= rhs, name)
        else:
            prob.addConstraint(expr == rhs, name)
        rows[name] = Row(name, kind, description, sense_, float(rhs), rule or description)

    tranche_vars: list[list[pulp.LpVariable]] = []
    people_vars: list[pulp.LpVariable | None] = []
    tie_break: list[tuple[pulp.LpVariable, float]] = []
    coef = np.zeros((n, K))
    reaches = costs.reaches_people
    if reaches.any():
        a_first = units.usd / units.people / costs.unit_cost_usd[reaches] / factors[0]
        mean_value = float(np.mean(weights[reaches] * a_first)) / costs.overlap_factor
    else:
        mean_value = 1.0
    penalty = TIE_BREAK * (mean_value if mean_value > 0 else 1.0)
    # position of each slice along the curve, as a share of requirement (slice midpoints)
    starts = np.concatenate(([0.0], np.cumsum(shares)[:-1]))
    for i in range(n):
        tag = f"{_token(costs.locations[i])}_{_token(costs.sectors[i])}_{costs.years[i]}"
        if reaches[i]:
            xs = []
            a_slices = []
            for k in range(K):
                a_k = units.usd / units.people / (costs.unit_cost_usd[i] * factors[k])
                for j in range(SLICES):
                    last = k == K - 1 and j == SLICES - 1
                    v = prob.add_variable(
                        f"x_{tag}_t{k + 1}_{j + 1}",
                        lowBound=0,
                        upBound=None if last else float(shares[k] * req[i] / SLICES),
                    )
                    xs.append(v)
                    a_slices.append(float(a_k))
                    position = starts[k] + shares[k] * (j + 0.5) / SLICES
                    tie_break.append((v, -penalty * float(position)))
            p = prob.add_variable(f"p_{tag}", lowBound=0)
            coef[i] = weights[i] * units.usd / units.people / (costs.unit_cost_usd[i] * factors)
            coef[i] /= costs.overlap_factor
            add(f"reach_{tag}",
                pulp.LpAffineExpression([(p, costs.overlap_factor)]
                                        + [(v, -a) for v, a in zip(xs, a_slices, strict=True)]),
                "<=", 0.0, "reach", f"people reached by {cell_label(costs, i)}")
            people_vars.append(p)
        else:
            xs = [prob.add_variable(f"x_{tag}_t1", lowBound=0)]
            tie_break.append((xs[0], -penalty))
            people_vars.append(None)
        tranche_vars.append(xs)
    money = [pulp.LpAffineExpression([(v, 1.0) for v in xs]) for xs in tranche_vars]

    # people in need
    locs, years = costs.locations, costs.years
    for loc, yr in sorted({(loc, int(y)) for loc, y, r in zip(locs, years, reaches, strict=True)
                           if r}):
        pin = costs.people_in_need_of(loc, yr)
        if not np.isfinite(pin):
            continue
        ps = [people_vars[i] for i in np.flatnonzero((locs == loc) & (years == yr))
              if people_vars[i] is not None]
        add(f"need_{_token(loc)}_{yr}", pulp.lpSum(ps), "<=", pin / units.people, "need",
            f"the people in need in {loc}, {yr}")

    # caps (absorption) and exclusions
    factor = cap_factors(costs, scenario)
    excluded = np.zeros(n, dtype=bool)
    for sel in scenario.exclusions:
        excluded |= selector_mask(costs, sel)
    for i in range(n):
        label = cell_label(costs, i)
        tag = f"{_token(locs[i])}_{_token(costs.sectors[i])}_{years[i]}"
        add(f"cap_{tag}", money[i], "<=", float(factor[i] * req[i]), "cap",
            f"the absorption cap of {label} ({factor[i]:g} x requirement)",
            "the absorption caps")
        if excluded[i]:
            add(f"exclude_{tag}", money[i], "<=", 0.0, "exclusion", f"the exclusion of {label}",
                "the exclusions")

    # envelopes
    total, per_year = resolve_envelope(costs, scenario)
    if total is not None:
        add("envelope_total", pulp.lpSum(money), "<=", total / units.usd, "envelope",
            "the total envelope")
    if per_year is not None:
        carried = 0.0
        for yr in sorted(per_year):
            if scenario.envelope.carry_over:
                carried += per_year[yr]
                cells = np.flatnonzero(years <= yr)
                add(f"envelope_through_{yr}", pulp.lpSum(money[i] for i in cells), "<=",
                    carried / units.usd, "envelope",
                    f"the envelopes up to {yr} (with carry-over)")
            else:
                cells = np.flatnonzero(years == yr)
                add(f"envelope_{yr}", pulp.lpSum(money[i] for i in cells), "<=",
                    per_year[yr] / units.usd, "envelope", f"the {yr} envelope")
    available = funding_usd(costs, scenario)

    # earmarks
    appeal = float(costs.requirement_usd.sum())
    if scenario.earmarks:
        earmarked_total = []
        earmarked_sum = 0.0
        for j, mark in enumerate(scenario.earmarks):
            tag = f"{j + 1}_{_token(mark.name)}"
            mask = selector_mask(costs, mark.selector)
            share = objective_weight(costs, mark.selector)
            amount = mark.amount.usd(appeal) / units.usd
            earmarked_sum += amount
            evars = []
            for i in np.flatnonzero(mask).tolist():
                v = prob.add_variable(f"e{tag}_{i}", lowBound=0)
                evars.append(v)
                add(f"earmark_{tag}_cell_{i}", v - float(share[i]) * money[i], "<=", 0.0,
                    "earmark_share", f"earmark '{mark.name}' within {cell_label(costs, i)}")
            add(f"earmark_{tag}", pulp.lpSum(evars), "<=", amount, "earmark",
                f"earmark '{mark.name}' ({mark.selector.describe()})")
            earmarked_total.extend(evars)
        add("flexible_money", pulp.lpSum(money) - pulp.lpSum(earmarked_total), "<=",
            available / units.usd - earmarked_sum, "flexible",
            "the flexible (non-earmarked) money")

    # floors
    for floor in scenario.floors:
        mask = selector_mask(costs, floor.selector)
        s = objective_weight(costs, floor.selector)
        keys: list[tuple[str, ...]]
        if floor.per == "cell":
            keys = [(str(locs[i]), str(costs.sectors[i])) for i in range(n)]
        elif floor.per == "location":
            keys = [(str(loc),) for loc in locs]
        elif floor.per == "sector":
            keys = [(str(sec),) for sec in costs.sectors]
        else:
            keys = [() for _ in range(n)]
        groups: dict[tuple[object, ...], list[int]] = {}
        for i in np.flatnonzero(mask).tolist():
            groups.setdefault((*keys[i], int(years[i])), []).append(i)
        for key, members in sorted(groups.items(), key=lambda kv: tuple(map(str, kv[0]))):
            need = float(sum(s[i] * req[i] for i in members))
            if need <= 0:
                continue
            where = " ".join(str(k) for k in key[:-1])
            tag = "_".join(_token(k) for k in key)
            label = f"the {floor.name} floor" + (f" in {where}" if where else "") + f", {key[-1]}"
            add(f"floor_{_token(floor.name)}_{tag}", pulp.lpSum(float(s[i]) * money[i]
                                                                for i in members),
                ">=", floor.share * need, "floor", f"{label} ({floor.share:.0%} of requirement)",
                f"the {floor.name} floor ({floor.share:.0%} of requirement)")

    # objective share bounds
    for bound in scenario.objective_bounds:
        s = objective_weight(costs, Selector(objectives=(bound.objective,)))
        part = pulp.lpSum(float(s[i]) * money[i] for i in range(n))
        if bound.min_share > 0:
            add(f"objective_min_{_token(bound.objective)}",
                part - bound.min_share * pulp.lpSum(money), ">=", 0.0, "objective_share",
                f"the minimum {bound.min_share:.0%} share of {bound.objective}")
        if bound.max_share < 1:
            add(f"objective_max_{_token(bound.objective)}",
                part - bound.max_share * pulp.lpSum(money), "<=", 0.0, "objective_share",
                f"the maximum {bound.max_share:.0%} share of {bound.objective}")

    # year-to-year continuity
    if scenario.max_year_fall is not None:
        index = {(locs[i], costs.sectors[i], int(years[i])): i for i in range(n)}
        for (loc, sec, yr), i in sorted(index.items()):
            prev = index.get((loc, sec, yr - 1))
            if prev is None:
                continue
            add(f"continuity_{_token(loc)}_{_token(sec)}_{yr}",
                money[i] - (1.0 - scenario.max_year_fall) * money[prev], ">=", 0.0, "continuity",
                f"continuity of {sec} in {loc} from {yr - 1} to {yr} "
                f"(falls at most {scenario.max_year_fall:.0%})",
                f"year-to-year continuity (falls at most {scenario.max_year_fall:.0%})")

    # locks
    for j, lock in enumerate(scenario.locks):
        mask = selector_mask(costs, lock.selector)
        s = objective_weight(costs, lock.selector)
        members = np.flatnonzero(mask).tolist()
        amount = _lock_amount(lock.amount, float(sum(s[i] * req[i] for i in members)), units)
        add(f"lock_{j + 1}_{_token(lock.name)}", pulp.lpSum(float(s[i]) * money[i]
                                                            for i in members),
            "==", amount, "lock", f"the lock '{lock.name}' at ${amount * units.usd:,.0f} "
            f"({lock.selector.describe()})")

    if elastic:
        prob.setObjective(pulp.lpSum(violation_cost))
    else:
        prob.setObjective(
            pulp.LpAffineExpression(
                [(p, float(weights[i])) for i, p in enumerate(people_vars) if p is not None]
                + tie_break
            )
        )
    return AllocationLP(
        problem=prob,
        costs=costs,
        scenario=scenario,
        tranche_vars=tranche_vars,
        people_vars=people_vars,
        objective_coef=coef,
        rows=rows,
        units=units,
        funding_usd=available,
        envelope_by_year=per_year,
        violations=violations,
    )


def _lock_amount(amount: Amount, requirement_units: float, units: Units) -> float:
    """A lock's amount in money units; a share is of the locked lines' requirement."""
    if amount.kind == "share":
        return amount.value * requirement_units
    return amount.value / units.usd
