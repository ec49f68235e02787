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

import pandas as pd

from reachplan.model.costs import CostCurve
from reachplan.model.lines import cell_outputs, cost_index
from reachplan.model.plan import Plan, PlanError
from reachplan.model.tables import SETTING_RULES_BY_KEY
from reachplan.model.validation import parse_number

SIGNIFICANT_DIGITS = 15
"""Significant digits kept in a calibrated unit cost (``DBL_DIG``: every 15-digit decimal
survives a round trip through a double and through a workbook cell)."""

UNIT_COST_COLUMNS = ["location_code", "sector_code", "unit_cost_usd", "weight", "origin", "note"]
"""Columns of the table :func:`calibrate_unit_costs` returns (the plan's ``unit_costs``)."""


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
    if not math.isfinite(omega) or omega < 1.0:
        raise PlanError(f"overlap_factor must be a number >= 1 (got {omega})")
    year = int(plan.years[0]) if year is None else int(year)
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
        "people": plan.population("targeted"),
        "entities": plan.population("entities_targeted"),
    }
    rows: list[tuple[object, ...]] = []
    for (loc, output), pairs in pair_output.groupby(
        [pair_output.index.get_level_values(0), pair_output], sort=True
    ):
        if output not in targets:
            continue
        target = float(targets[output].get((loc, year), 0.0))
        sectors = sorted(str(s) for s in pairs.index.get_level_values("sector_code"))
        amounts = {s: float(req.get((loc, s, year), 0.0)) for s in sectors}
        weighted = math.fsum(amounts[s] / index[s] for s in sectors)
        if not target > 0 or not weighted > 0:
            continue
        divisor = omega * target if output == "people" else target
        kappa = m * weighted / divisor
        unit = "person" if output == "people" else "entity"
        what = (
            f"{target:,.0f} people targeted x overlap {omega:g}" if output == "people"
            else f"{target:,.0f} entities targeted"
        )
        for s in sectors:
            note = (
                f"calibrated on {year}: {loc} {output} lines, curve mean 1/factor {m:.6g} x "
                f"sum of requirement / cost index ${weighted:,.2f} / ({what}) = "
                f"${kappa:,.4f} per {unit} per index point; x cost index {index[s]:g} "
                f"({s}) = ${kappa * index[s]:,.4f} per {unit}"
            )
            cost = float(f"{kappa * index[s]:.{SIGNIFICANT_DIGITS}g}")
            rows.append((loc, s, cost, 1.0, "derived", note))
    rows.sort(key=lambda r: (str(r[0]), str(r[1])))
    return pd.DataFrame(rows, columns=UNIT_COST_COLUMNS)


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
    tables = {**plan.tables, "sector_cost_index": flat}
    staged = Plan.from_tables(tables, plan.source)
    costs = calibrate_unit_costs(staged)
    old = plan.tables.get("unit_costs")
    if old is not None and not old.empty and "weight" in old.columns:
        weights = old.set_index(["location_code", "sector_code"])["weight"]
        keys = list(zip(costs["location_code"], costs["sector_code"], strict=True))
        kept = weights.reindex(keys).to_numpy(dtype=float)
        costs["weight"] = [w if math.isfinite(w) else 1.0 for w in kept]
    return Plan.from_tables({**tables, "unit_costs": costs}, plan.source)
