"""What each line of a plan is: its output, its priority tier, its severity weight.

Pure reading of a validated :class:`~reachplan.model.plan.Plan` into per-cell arrays and
small mappings, used by the cost model (:mod:`reachplan.model.costs`), the calibration of
unit costs and the LP. Every rule is documented in ``docs/allocation.md``:

- **Output** of a cell: ``enabler`` when its location has kind ``regional`` or its sector
  has output ``enabler``; ``entities`` when its sector has output ``entities`` and its
  location has entities targeted in some year (otherwise such a line counts its people,
  as every other line does); ``people`` otherwise.
- **Tier shares** of a cell: the share of its requirement in each priority tier. A sector
  with a tier puts all its lines in that tier; otherwise each requirement row takes the
  tier of its objective (blank = 2), so a cell mixing SO1 and SO2 money is part tier 1,
  part tier 2, in proportion to the money.
- **Tier weights** and **severity weights**: settings ``tier_weights`` and
  ``severity_weights`` ('key:weight' pairs). A location's weight in a year is the
  population-weighted mean of its groups' severity weights (simple mean where the
  severity table gives no population), and 1 where the plan has no severity.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from reachplan.model.plan import Plan, PlanError
from reachplan.model.tables import SETTING_RULES_BY_KEY, TIERS
from reachplan.model.validation import SEVERITY_PHASES, parse_number, parse_weights

DEFAULT_TIER = 2
"""Tier of a line whose sector and objective give none."""


def tier_weights(plan: Plan) -> dict[int, float]:
    """Weight per priority tier (setting ``tier_weights``)."""
    return parse_weights("tier_weights", plan.settings.get("tier_weights", ""), TIERS)


def severity_phase_weights(plan: Plan) -> dict[int, float]:
    """Weight per JIAF severity phase 1-5 (setting ``severity_weights``)."""
    return parse_weights("severity_weights", plan.settings.get("severity_weights", ""),
                         SEVERITY_PHASES)


def coverage_offset(plan: Plan) -> float:
    """The offset delta of the coverage value curve (setting ``coverage_offset``)."""
    rule = SETTING_RULES_BY_KEY["coverage_offset"]
    text = str(plan.settings.get("coverage_offset", "")).strip() or rule.default
    value, reason = parse_number(text)
    if value is None or not (rule.minimum or 0) <= value <= float(rule.maximum or np.inf):
        raise PlanError(f"setting coverage_offset: {text!r} must be a number between "
                        f"{rule.minimum:g} and {rule.maximum:g}" + (f" ({reason})" if reason
                                                                     else ""))
    return float(value)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name]
    return pd.Series([None] * len(frame), index=frame.index, dtype=object)


def sector_outputs(plan: Plan) -> dict[str, str]:
    """Output per sector code (``people`` where the sectors table gives none)."""
    sectors = plan.tables["sectors"]
    out = {}
    for code, value in zip(sectors["sector_code"], _column(sectors, "output"), strict=True):
        text = "" if value is None or pd.isna(value) else str(value).strip().lower()
        out[str(code)] = text or "people"
    return out


def cell_outputs(plan: Plan, cells: pd.MultiIndex) -> np.ndarray:
    """Output of each cell (``people``, ``entities`` or ``enabler``), shape (n,)."""
    locs = plan.tables["locations"]
    kinds = dict(zip(locs["location_code"], _column(locs, "kind").fillna(""), strict=True))
    by_sector = sector_outputs(plan)
    entities = plan.population("entities_targeted")
    with_entities = {str(loc) for (loc, _), v in entities.items() if v > 0}
    out = []
    for loc, sector, _ in cells:
        output = by_sector.get(str(sector), "people")
        if str(kinds.get(loc, "")).strip().lower() == "regional" or output == "enabler":
            out.append("enabler")
        elif output == "entities" and str(loc) in with_entities:
            out.append("entities")
        else:
            out.append("people")
    return np.asarray(out, dtype=object)


def tier_shares(plan: Plan, cells: pd.MultiIndex) -> pd.DataFrame:
    """Share of each cell's requirement per priority tier, shape (n, 3), rows summing to 1.

    Columns are the tiers 1, 2, 3; index the cells.
    """
    sectors = plan.tables["sectors"]
    sector_tier = {str(c): t for c, t in zip(sectors["sector_code"], _column(sectors, "tier"),
                                             strict=True) if t is not None and not pd.isna(t)}
    objectives = plan.tables["objectives"]
    objective_tier = {str(c): t for c, t in zip(objectives["objective_code"],
                                                _column(objectives, "tier"), strict=True)
                      if t is not None and not pd.isna(t)}
    req = plan.tables["requirements"]
    tier = [
        int(sector_tier.get(str(s), objective_tier.get(str(o), DEFAULT_TIER)))
        for s, o in zip(req["sector_code"], req["objective"], strict=True)
    ]
    frame = req.assign(tier=tier).pivot_table(
        index=["location_code", "sector_code", "year"], columns="tier",
        values="requirements_usd", aggfunc="sum", fill_value=0.0,
    )
    frame = frame.reindex(columns=list(TIERS), fill_value=0.0).reindex(cells, fill_value=0.0)
    totals = frame.sum(axis=1)
    shares = frame.div(totals.where(totals > 0, 1.0), axis=0)
    shares.loc[totals <= 0, DEFAULT_TIER] = 1.0
    return shares


def severity_weights(plan: Plan) -> pd.Series:
    """Priority weight per (location_code, year) from the severity table (absent = 1)."""
    table = plan.tables.get("severity")
    if table is None or table.empty:
        return pd.Series(dtype=float, index=pd.MultiIndex.from_arrays(
            [[], []], names=["location_code", "year"]))
    phase = severity_phase_weights(plan)
    frame = table.copy()
    frame["weight"] = frame["severity"].astype(int).map(phase).astype(float)
    pop = pd.to_numeric(_column(frame, "population"), errors="coerce")
    frame["pop"] = pop.where(pop > 0)

    def mean(group: pd.DataFrame) -> float:
        if group["pop"].notna().all():
            return float(np.average(group["weight"], weights=group["pop"]))
        return float(group["weight"].mean())

    out = {key: mean(g) for key, g in frame.groupby(["location_code", "year"], sort=True)}
    index = pd.MultiIndex.from_tuples(list(out), names=["location_code", "year"])
    return pd.Series(list(out.values()), index=index, dtype=float)


def cost_index(plan: Plan) -> Mapping[str, float]:
    """Relative cost per person per sector (``sector_cost_index``; 1 where absent)."""
    table = plan.tables.get("sector_cost_index")
    out = {str(s): 1.0 for s in plan.tables["sectors"]["sector_code"]}
    if table is not None and not table.empty:
        for s, v in zip(table["sector_code"], table["cost_index"], strict=True):
            out[str(s)] = float(v)
    return out
