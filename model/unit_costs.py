"""Unit costs calibrated per location and sector so that full funding reaches the plan's targets.

A response plan states people targeted (and entities targeted) per location, and money per
location, sector and year. The relative cost of reaching one person between sectors is the
plan table ``sector_cost_index`` (:func:`reachplan.model.lines.cost_index`; 1 where absent).
With :math:`m = \\sum_k \\sigma_k / f_k` the cost curve's mean inverse factor
(:attr:`reachplan.model.costs.CostCurve.mean_inverse_factor`), :math:`\\omega` the overlap
factor, :math:`Y` the calibration year (the plan's first year by default) and
:math:`\\mathrm{idx}_s` the cost index of sector :math:`s`:

- **people lines** of location :math:`l` (output ``people``, see
  :func:`reachplan.model.lines.cell_outputs`), with people targeted :math:`T_l` in
  :math:`Y`:

  .. math:: \\kappa_l = \\frac{m \\sum_s R_{l,s,Y} / \\mathrm{idx}_s}{\\omega T_l},\\qquad
            u_{l,s} = \\kappa_l\\, \\mathrm{idx}_s,

  so that full funding of the year-:math:`Y` people lines gives sector beneficiaries
  :math:`\\sum_s m R_{l,s,Y} / u_{l,s}` and people reached
  :math:`\\frac{1}{\\omega}\\sum_s m R_{l,s,Y}/u_{l,s} = T_l` exactly;
- **entity lines** (output ``entities``), with entities targeted :math:`E_l` in :math:`Y`:
  :math:`\\kappa^E_l = m \\sum_s (R_{l,s,Y}/\\mathrm{idx}_s) / E_l` (no overlap division: an
  entity is counted once per line) and :math:`u_{l,s} = \\kappa^E_l\\, \\mathrm{idx}_s`, so
  full funding reaches exactly :math:`E_l` entities;
- **enabler lines** (regional locations, sectors with output ``enabler``) get no unit cost:
  they are funded as an overhead of the lines they serve.

Only the ratios of the cost index *within* a location's people lines (or within its entity
lines) matter: multiplying every index by the same number changes no unit cost.

Choices where the rule is silent (written here, for ``docs/allocation.md``):

- A location with no people targeted in :math:`Y` (absent or 0) gets no unit cost for its
  people lines: they reach nobody (validation warns when such a location has requirements).
  Likewise for entity lines without entities targeted in :math:`Y`, and for a location
  whose people (entity) lines carry no money in :math:`Y` (nothing to calibrate on).
- A sector present in a location only in later years gets :math:`\\kappa_l\\,\\mathrm{idx}_s`
  with the location's year-:math:`Y` :math:`\\kappa_l`.
- Unit costs are not rounded to cents (that made every sector of a location tie): they keep
  :data:`SIGNIFICANT_DIGITS` significant digits, the most a workbook keeps (Excel and the
  xlsx writer store 15-16), so a plan written as CSV or as a workbook reads back to exactly
  the same numbers; the relative change is at most 5e-15 and creates no tie.

Everything here is pure: plans in, tables (or plans) out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from reachplan.model.costs import CostCurve, location_population, sector_population
from reachplan.model.lines import cell_outputs, cost_index
from reachplan.model.plan import Plan, PlanError
from reachplan.model.tables import SETTING_RULES_BY_KEY
from reachplan.model.validation import parse_number

SIGNIFICANT_DIGITS = 15
"""Significant digits kept in a calibrated unit cost (``DBL_DIG``: every 15-digit decimal
survives a round trip through a double and through a workbook cell)."""

UNIT_COST_COLUMNS = ["location_code", "sector_code", "unit_cost_usd", "weight", "origin", "note"]
"""Columns of the table :func:`calibrate_unit_costs` returns (the plan's ``unit_costs``)."""


RULE_LOCATION = "location target"
"""Rule of a people line calibrated on its location's people targeted (module docstring)."""
RULE_ENTITIES = "entities targeted"
"""Rule of an entity line calibrated on its location's entities targeted."""
RULE_CLUSTER = "cluster target"
"""Rule of a people line calibrated on its own cluster's people targeted."""
RULE_REMAINDER = "location target less cluster targets"
"""Rule of a people line without a cluster target beside lines that have one."""
RULE_CLUSTER_COST = "cost of the cluster targets"
"""Rule of a people line without a cluster target where the location target leaves none."""

DEFAULT_COST_CURVE = pd.DataFrame(
    {
        "tranche": [1, 2, 3, 4],
        "share_of_requirement": [0.4, 0.3, 0.2, 0.1],
        "cost_factor": [1.0, 1.25, 1.6, 2.2],
        "note": [
            "planning assumption supplied by reachplan (the default plan's curve): the first "
            "40% of a line's requirement reaches people at the base unit cost",
            "planning assumption supplied by reachplan: the next 30% costs 25% more per person",
            "planning assumption supplied by reachplan: the next 20% costs 60% more per person",
            "planning assumption supplied by reachplan: the last 10% costs 2.2 times the base "
            "(the hardest to reach); replace this table with the plan's own if it has one",
        ],
    }
)
"""Cost curve a calibration supplies to a plan that has none: the shipped plan's curve
(tranches of 40, 30, 20 and 10% at cost factors 1, 1.25, 1.6 and 2.2), a planning
assumption and said so in each row's note."""


@dataclass(frozen=True)
class CalibrationLine:
    """The working of one calibrated line (location and sector).

    Attributes
    ----------
    location_code, sector_code
        The line.
    output
        ``people`` or ``entities``.
    rule
        Which rule gave its unit cost: :data:`RULE_LOCATION`, :data:`RULE_ENTITIES`,
        :data:`RULE_CLUSTER`, :data:`RULE_REMAINDER` or :data:`RULE_CLUSTER_COST`.
    year
        Calibration year.
    requirement_usd
        The line's requirement in the calibration year (USD; 0 for a line with money only
        in later years).
    target
        The target the rule divides by: the cluster's people targeted (cluster rule), else
        the location's people (or entities) targeted.
    cost_index
        The sector's cost index.
    unit_cost_usd
        USD per person (or entity) reached by the first tranche.
    note
        The working in words (also the ``note`` of the ``unit_costs`` row).
    """

    location_code: str
    sector_code: str
    output: str
    rule: str
    year: int
    requirement_usd: float
    target: float
    cost_index: float
    unit_cost_usd: float
    note: str

    def reached_at_full_funding(self, mean_inverse_factor: float) -> float:
        """Sector beneficiaries (or entities) of the line's full requirement: m R / u."""
        return mean_inverse_factor * self.requirement_usd / self.unit_cost_usd


@dataclass(frozen=True)
class LocationCheck:
    """People reached at full funding of one location's calibration year, against its target.

    ``people_targeted`` and ``people_in_need`` are NaN where the plan gives none;
    ``sector_beneficiaries`` sums the people lines' m R / u (each at most its sector's people
    in need) and ``people_reached`` is min(people in need, sector beneficiaries / overlap).
    ``note`` says why they differ from the target when they do by more than 1%.
    """

    location_code: str
    people_targeted: float
    people_in_need: float
    sector_beneficiaries: float
    people_reached: float
    note: str


@dataclass(frozen=True, eq=False)
class Calibration:
    """Unit costs calibrated on a plan's targets, with the working.

    Attributes
    ----------
    unit_costs
        The ``unit_costs`` table (columns :data:`UNIT_COST_COLUMNS`).
    cost_curve
        The ``cost_curve`` table the unit costs rest on (the plan's own, or
        :data:`DEFAULT_COST_CURVE` when the plan has none: ``curve_supplied``).
    curve_supplied
        Whether the plan had no cost curve and the calibration supplied one.
    year
        Calibration year.
    overlap_factor
        Overlap factor used.
    mean_inverse_factor
        :math:`m` of the curve.
    lines
        The working of each calibrated line, by location and sector.
    locations
        People reached at full funding per location, against its target.
    skipped
        Lines left without a unit cost, one sentence each.
    """

    unit_costs: pd.DataFrame
    cost_curve: pd.DataFrame
    curve_supplied: bool
    year: int
    overlap_factor: float
    mean_inverse_factor: float
    lines: tuple[CalibrationLine, ...]
    locations: tuple[LocationCheck, ...]
    skipped: tuple[str, ...]

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables to write: ``unit_costs``, and ``cost_curve`` when it was supplied."""
        out = {"unit_costs": self.unit_costs}
        if self.curve_supplied:
            out["cost_curve"] = self.cost_curve
        return out

    def apply(self, plan: Plan) -> Plan:
        """``plan`` with these unit costs (and the supplied cost curve, if any)."""
        return with_tables(plan, self.tables())


def with_tables(plan: Plan, tables: dict[str, pd.DataFrame]) -> Plan:
    """``plan`` with some tables replaced (:meth:`Plan.from_tables`)."""
    return Plan.from_tables({**plan.tables, **tables}, plan.source)


def has_unit_costs(plan: Plan) -> bool:
    """Whether the plan states unit costs (a ``unit_costs`` table with at least one row)."""
    table = plan.tables.get("unit_costs")
    return table is not None and not table.empty


def has_targets(plan: Plan) -> bool:
    """Whether the plan gives people or entities targeted (> 0) anywhere."""
    for series in (
        location_population(plan, "targeted"),
        location_population(plan, "entities_targeted"),
        sector_population(plan, "targeted"),
    ):
        if (series > 0).any():
            return True
    return False


def _first_target_year(plan: Plan) -> int:
    """The plan's first year with a target (> 0) of any kind; its first year if none."""
    years = set()
    for series in (
        location_population(plan, "targeted"),
        location_population(plan, "entities_targeted"),
        sector_population(plan, "targeted"),
    ):
        if not series.empty:
            years |= {int(y) for y in series[series > 0].index.get_level_values("year")}
    plan_years = [int(y) for y in plan.years]
    return next((y for y in plan_years if y in years), plan_years[0])


def calibrate_plan(plan: Plan, year: int | None = None) -> Calibration:
    """Unit costs (and, when missing, the cost curve) so that full funding reaches the targets.

    The rules, per location and calibration year :math:`Y`:

    - a people line whose cluster has its own people targeted (``populations`` rows with
      this ``sector_code``, status ``targeted``) and money in :math:`Y`:
      :math:`u = m R_{l,s,Y} / T_{l,s}`, so its full requirement reaches the cluster's
      target in sector beneficiaries (a cluster counts each person it serves once);
    - the other people lines share the location's target as in the module docstring; when
      some lines have cluster targets, the sector beneficiaries left for the others are
      :math:`\\omega T_l - \\sum_{\\text{clusters}} T_{l,s}`, so the location still reaches
      :math:`T_l`; when nothing is left (no location target, or cluster targets already
      at or above it), they cost per index point what the cluster-target lines cost
      (:math:`m \\sum R/\\mathrm{idx} / \\sum T` over those lines);
    - entity lines use entities targeted, as in the module docstring.

    Where the location target and its cluster targets disagree (all lines have cluster
    targets whose sum over the overlap factor is not the location's target), the cluster
    targets win and :attr:`Calibration.locations` says so.

    Parameters
    ----------
    plan
        The plan. Its ``unit_costs``, if any, are ignored (and replaced by the result).
    year
        Calibration year; default the plan's first year with a target.

    Raises
    ------
    PlanError
        When the plan has no requirement, no target, or no line can be calibrated; or its
        overlap factor is not a number >= 1. The message says what to add.
    """
    if not len(plan.years) or not (plan.cell_requirements() > 0).any():
        raise PlanError(
            "the plan has no requirements: add rows to the requirements table (money per "
            "location, sector and year) before calibrating unit costs"
        )
    if not has_targets(plan):
        raise PlanError(
            "the plan has no targets: add people targeted to the populations table (rows "
            "with population_status 'targeted' per location and year, and a sector_code for "
            "a cluster's own target), or entities_targeted for entity lines, or give unit "
            "costs in a unit_costs table"
        )
    table = plan.tables.get("cost_curve")
    supplied = table is None or table.empty
    curve_table = DEFAULT_COST_CURVE.copy() if supplied else table.copy()
    staged = with_tables(plan, {"cost_curve": curve_table})
    curve = CostCurve.from_plan(staged)
    omega = plan_overlap_factor(plan)
    year = _first_target_year(plan) if year is None else int(year)
    lines, skipped = _calibrate_lines(staged, curve, omega, year)
    if not lines:
        raise PlanError(
            f"no line could be calibrated on {year}: "
            + "; ".join(skipped or ["no people or entity lines"])
        )
    m = curve.mean_inverse_factor
    checks = _location_checks(staged, lines, m, omega, year)
    return Calibration(
        unit_costs=_unit_cost_table(lines),
        cost_curve=curve_table,
        curve_supplied=supplied,
        year=year,
        overlap_factor=omega,
        mean_inverse_factor=m,
        lines=tuple(lines),
        locations=checks,
        skipped=tuple(skipped),
    )


def _location_checks(
    plan: Plan, lines: Sequence[CalibrationLine], m: float, omega: float, year: int
) -> tuple[LocationCheck, ...]:
    targeted = location_population(plan, "targeted")
    in_need = location_population(plan, "in_need")
    cluster_pin = sector_population(plan, "in_need")
    out = []
    for loc in sorted({ln.location_code for ln in lines if ln.output == "people"}):
        pin = float(in_need.get((loc, year), math.nan))
        benef = 0.0
        for ln in lines:
            if ln.location_code != loc or ln.output != "people":
                continue
            b = ln.reached_at_full_funding(m)
            bound = float(cluster_pin.get((loc, ln.sector_code, year), math.inf))
            benef += min(b, bound, pin if math.isfinite(pin) else math.inf)
        reached = benef / omega
        if math.isfinite(pin):
            reached = min(reached, pin)
        target = float(targeted.get((loc, year), math.nan))
        note = ""
        if math.isfinite(target) and target > 0 and abs(reached - target) > 0.01 * target:
            note = (
                f"full funding reaches {reached:,.0f} people, not the {target:,.0f} targeted: "
                f"{benef:,.0f} sector beneficiaries / overlap {omega:g}"
            )
            if math.isfinite(pin) and reached >= pin:
                note += f", at most the {pin:,.0f} people in need"
            elif any(ln.rule == RULE_CLUSTER for ln in lines if ln.location_code == loc):
                note += " (the cluster targets win over the location's)"
        out.append(LocationCheck(loc, target, pin, benef, reached, note))
    return tuple(out)


def plan_overlap_factor(plan: Plan) -> float:
    """The plan's ``overlap_factor`` setting (its default when absent or blank).

    Raises
    ------
    PlanError
        When the setting is not a number >= 1.
    """
    text = str(plan.settings.get("overlap_factor", "")).strip()
    text = text or SETTING_RULES_BY_KEY["overlap_factor"].default
    value, reason = parse_number(text)
    if value is None:
        raise PlanError(f"setting overlap_factor: {reason}")
    if not math.isfinite(value) or value < 1.0:
        raise PlanError(
            f"overlap_factor must be a number >= 1 (got {text!r}): it is the average number "
            "of sectors through which one person reached is served"
        )
    return float(value)


def calibrate_unit_costs(
    plan: Plan,
    curve: CostCurve | None = None,
    overlap_factor: float | None = None,
    year: int | None = None,
) -> pd.DataFrame:
    """Unit costs per location and sector such that full funding reaches the year's targets.

    See the module docstring for the formulas and the rules where the plan gives no target.

    Parameters
    ----------
    plan
        The plan (requirements, populations, sectors, ``sector_cost_index``).
    curve
        Cost curve; default the plan's own (:meth:`CostCurve.from_plan`).
    overlap_factor
        Overlap factor :math:`\\omega` (>= 1); default the plan's setting.
    year
        Calibration year; default the plan's first year.

    Returns
    -------
    pandas.DataFrame
        A ``unit_costs`` table: location_code, sector_code, unit_cost_usd (USD per person,
        or per entity on entity lines; :data:`SIGNIFICANT_DIGITS` significant digits),
        weight (1), origin ('derived'), note (the working), sorted by location and sector.

    Raises
    ------
    PlanError
        When the overlap factor is not a number >= 1 or ``year`` has no requirement.
    """
    curve = CostCurve.from_plan(plan) if curve is None else curve
    omega = plan_overlap_factor(plan) if overlap_factor is None else float(overlap_factor)
    year = int(plan.years[0]) if year is None else int(year)
    lines, _ = _calibrate_lines(plan, curve, omega, year)
    return _unit_cost_table(lines)


def _unit_cost_table(lines: Sequence[CalibrationLine]) -> pd.DataFrame:
    rows = [
        (ln.location_code, ln.sector_code, ln.unit_cost_usd, 1.0, "derived", ln.note)
        for ln in sorted(lines, key=lambda ln: (ln.location_code, ln.sector_code))
    ]
    return pd.DataFrame(rows, columns=UNIT_COST_COLUMNS)


def _rounded(value: float) -> float:
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def _calibrate_lines(
    plan: Plan, curve: CostCurve, omega: float, year: int
) -> tuple[list[CalibrationLine], list[str]]:
    """Every calibrated line of ``plan`` in ``year`` and, for lines left out, why."""
    if not math.isfinite(omega) or omega < 1.0:
        raise PlanError(f"overlap_factor must be a number >= 1 (got {omega})")
    if year not in set(int(y) for y in plan.years):
        raise PlanError(f"calibration year {year} has no requirement in the plan")
    m = curve.mean_inverse_factor
    index = cost_index(plan)
    req = plan.cell_requirements().sort_index()
    cells = pd.MultiIndex.from_tuples(list(req.index), names=req.index.names)
    outputs = pd.Series(cell_outputs(plan, cells), index=cells)
    # output per (location, sector): the rule depends on location and sector only
    pair_output = outputs.groupby(level=["location_code", "sector_code"]).first()
    targets = {
        "people": location_population(plan, "targeted"),
        "entities": location_population(plan, "entities_targeted"),
    }
    cluster_targets = sector_population(plan, "targeted")
    lines: list[CalibrationLine] = []
    skipped: list[str] = []
    for (loc, output), pairs in pair_output.groupby(
        [pair_output.index.get_level_values(0), pair_output], sort=True
    ):
        if output not in targets:
            continue
        loc = str(loc)
        target = float(targets[output].get((loc, year), 0.0))
        sectors = sorted(str(s) for s in pairs.index.get_level_values("sector_code"))
        amounts = {s: float(req.get((loc, s, year), 0.0)) for s in sectors}
        cluster: dict[str, float] = {}
        if output == "people":
            for s in sectors:
                t = float(cluster_targets.get((loc, s, year), 0.0))
                if t > 0 and amounts[s] > 0:
                    cluster[s] = t
        for s, t in cluster.items():
            cost = m * amounts[s] / t
            note = (
                f"calibrated on {year}: {loc} {s} cluster target {t:,.0f} people (sector "
                f"beneficiaries): curve mean 1/factor {m:.6g} x requirement ${amounts[s]:,.2f} "
                f"/ {t:,.0f} = ${cost:,.4f} per person"
            )
            lines.append(CalibrationLine(loc, s, "people", RULE_CLUSTER, year, amounts[s], t,
                                         index[s], _rounded(cost), note))
        rest = [s for s in sectors if s not in cluster]
        if not rest:
            continue
        weighted = math.fsum(amounts[s] / index[s] for s in rest)
        unit = "person" if output == "people" else "entity"
        if not cluster:
            if not target > 0 or not weighted > 0:
                what = "people targeted" if output == "people" else "entities targeted"
                reason = f"no {what} in {year}" if not target > 0 else f"no money in {year}"
                skipped.append(f"{loc} {output} lines ({', '.join(rest)}): {reason}; "
                               "they get no unit cost and reach nobody")
                continue
            divisor = omega * target if output == "people" else target
            kappa = m * weighted / divisor
            rule = RULE_LOCATION if output == "people" else RULE_ENTITIES
            what = (
                f"{target:,.0f} people targeted x overlap {omega:g}" if output == "people"
                else f"{target:,.0f} entities targeted"
            )
            head = (
                f"calibrated on {year}: {loc} {output} lines, curve mean 1/factor {m:.6g} x "
                f"sum of requirement / cost index ${weighted:,.2f} / ({what}) = "
                f"${kappa:,.4f} per {unit} per index point"
            )
        else:
            by_clusters = math.fsum(cluster.values())
            remainder = omega * target - by_clusters
            codes = ", ".join(sorted(cluster))
            if target > 0 and remainder > 0 and weighted > 0:
                kappa = m * weighted / remainder
                rule = RULE_REMAINDER
                head = (
                    f"calibrated on {year}: {loc} people lines without a cluster target, curve "
                    f"mean 1/factor {m:.6g} x sum of requirement / cost index ${weighted:,.2f} / "
                    f"({target:,.0f} people targeted x overlap {omega:g} less "
                    f"{by_clusters:,.0f} targeted by {codes}) = ${kappa:,.4f} per person per "
                    "index point"
                )
            else:
                on_clusters = math.fsum(amounts[s] / index[s] for s in cluster)
                kappa = m * on_clusters / by_clusters
                rule = RULE_CLUSTER_COST
                why = (
                    "no people targeted" if not target > 0
                    else "no money" if not weighted > 0
                    else "no people targeted beyond the cluster targets"
                )
                head = (
                    f"calibrated on {year}: {loc} people lines without a cluster target "
                    f"({why} in {year}) cost what its cluster targets cost: curve mean "
                    f"1/factor {m:.6g} x sum of requirement / cost index ${on_clusters:,.2f} / "
                    f"{by_clusters:,.0f} targeted by {codes} = ${kappa:,.4f} per person per "
                    "index point"
                )
        for s in rest:
            note = (
                f"{head}; x cost index {index[s]:g} ({s}) = ${kappa * index[s]:,.4f} per {unit}"
            )
            lines.append(CalibrationLine(loc, s, str(output), rule, year, amounts[s],
                                         target, index[s], _rounded(kappa * index[s]), note))
    lines.sort(key=lambda ln: (ln.location_code, ln.sector_code))
    return lines, skipped


def with_flat_cost_index(plan: Plan) -> Plan:
    """The same plan with every sector's cost index 1 and unit costs recalibrated.

    Used to show how far an answer depends on the sector cost index: the comparison
    changes only the relative cost between sectors, since both plans reach the same
    targets at full funding. The plan's cost curve, overlap factor and calibration year
    (its first) are kept; priority weights of the plan's ``unit_costs`` rows are kept
    for the lines that still have a unit cost. Unit costs the plan states by hand are
    replaced by calibrated ones.
    """
    flat = pd.DataFrame(
        {
            "sector_code": list(plan.sectors_index),
            "cost_index": 1.0,
            "origin": "assumption",
            "source": "flattened for comparison: every sector costs the same per person",
            "note": "",
        }
    )
    staged = with_tables(plan, {"sector_cost_index": flat})
    costs = calibrate_unit_costs(staged)
    old = plan.tables.get("unit_costs")
    if old is not None and not old.empty and "weight" in old.columns:
        weights = old.set_index(["location_code", "sector_code"])["weight"]
        keys = list(zip(costs["location_code"], costs["sector_code"], strict=True))
        kept = weights.reindex(keys).to_numpy(dtype=float)
        costs["weight"] = [w if math.isfinite(w) else 1.0 for w in kept]
    return with_tables(staged, {"unit_costs": costs})
