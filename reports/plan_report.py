"""What a planner reads about a plan: totals laid out like the document's tables, and exports."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pandas as pd

from reachplan.model.formatting import format_people, format_usd
from reachplan.model.plan import Plan
from reachplan.model.validation import Problem, ValidationResult
from reachplan.reports.plan_files import render_csv, without_blank_optional
from reachplan.reports.views import country_of, has_objectives, has_subnational, round_money

EXPORT_COLUMNS = [
    "location_code",
    "sector_code",
    "year",
    "objective",
    "requirements_usd",
    "origin",
    "region",
]


def _usd(value: float) -> str:
    """Whole dollars, as the plan document's tables give them."""
    return format_usd(value, unit="exact")


def _table(frame: pd.DataFrame, money: bool = True) -> str:
    shown = frame.map(_usd if money else format_people)
    return shown.to_string()


def render_plan_summary(plan: Plan, warnings: Sequence[Problem] = ()) -> str:
    """Totals by objective, region, year, country and sector, in the document's layout.

    Returns plain text: the objective x region x year panel and totals per objective
    (only when the plan states strategic objectives: ``Plan.has_objectives``), totals per
    region and year, requirement per country and year (sub-national lines summed to their
    country, :func:`reports.views.country_of`, with their own table after it), per sector
    and year, people per location for the first year, and the count of validation
    warnings.
    """
    req = plan.requirements
    out = [plan.name, f"source: {plan.source}", f"fingerprint: {plan.fingerprint[:16]}", ""]
    grand = req["requirements_usd"].sum()
    out.append(f"Total requirement {plan.years[0]}-{plan.years[-1]}: {_usd(grand)}")
    out.append("")
    if has_objectives(plan):
        out.append("Requirement by objective, region and year (USD)")
        panel = req.pivot_table(
            index=["objective", "region"], columns="year", values="requirements_usd",
            aggfunc="sum"
        )
        panel["total"] = panel.sum(axis=1)
        out.append(_table(panel))
        out.append("")
        by_obj = req.pivot_table(
            index="objective", columns="year", values="requirements_usd", aggfunc="sum"
        )
        by_obj["total"] = by_obj.sum(axis=1)
        out.append("Requirement by objective and year (USD)")
        out.append(_table(by_obj))
        out.append("")
    by_region = req.pivot_table(
        index="region", columns="year", values="requirements_usd", aggfunc="sum"
    )
    by_region.loc["total"] = by_region.sum()
    out.append("Requirement by region and year (USD)")
    out.append(_table(by_region))
    out.append("")
    names = plan.locations["location_name"]
    countries = country_of(plan)
    codes = req["location_code"].astype(str)
    sub = has_subnational(plan)
    by_loc = req.assign(location_code=codes.map(countries).fillna(codes)).pivot_table(
        index="location_code", columns="year", values="requirements_usd", aggfunc="sum"
    ).fillna(0.0)
    by_loc = by_loc.loc[by_loc.sum(axis=1).sort_values(ascending=False, kind="stable").index]
    by_loc.index = [f"{c} {names.get(c, '')}" for c in by_loc.index]
    by_loc.loc["total"] = by_loc.sum()
    out.append("Requirement by country and year (USD)" + (
        ", sub-national lines summed to their country" if sub else ""))
    out.append(_table(by_loc))
    out.append("")
    if sub:
        detail = req[(codes.map(countries).fillna(codes) != codes).to_numpy()]
        wide = detail.pivot_table(index="location_code", columns="year",
                                  values="requirements_usd", aggfunc="sum").fillna(0.0)
        wide.index = [f"{countries.get(c, c)} > {c} {names.get(c, '')}" for c in wide.index]
        out.append("Requirement by sub-national location and year (USD)")
        out.append(_table(wide))
        out.append("")
    by_sec = req.pivot_table(
        index="sector_code", columns="year", values="requirements_usd", aggfunc="sum"
    ).fillna(0.0)
    sec_names = plan.sectors["sector_name"]
    by_sec = by_sec.loc[by_sec.sum(axis=1).sort_values(ascending=False, kind="stable").index]
    by_sec.index = [f"{c} {sec_names.get(c, '')}" for c in by_sec.index]
    by_sec.loc["total"] = by_sec.sum()
    out.append("Requirement by sector and year (USD)")
    out.append(_table(by_sec))
    out.append("")
    pops = plan.tables.get("populations")
    if pops is not None and not pops.empty:
        if "sector_code" in pops.columns:  # location-level rows only
            pops = pops[pops["sector_code"].fillna("").astype(str) == ""]
        first = plan.years[0]
        wide = pops[pops["year"] == first].pivot_table(
            index="location_code", columns="population_status", values="population", aggfunc="sum"
        )
        order = [
            c
            for c in (
                "in_need",
                "targeted",
                "reached",
                "entities_targeted",
                "idps",
                "refugees",
                "returnees",
            )
            if c in wide.columns
        ]
        if order:
            wide = wide[order].fillna(0.0)
            wide.loc["total"] = wide.sum()
            out.append(f"People per location, {first}")
            out.append(_table(wide, money=False))
            out.append("")
    origin = req.groupby("origin")["requirements_usd"].agg(["size", "sum"])
    parts = [f"{k}: {int(r['size'])} cells, {_usd(r['sum'])}" for k, r in origin.iterrows()]
    out.append("Origin of the cells: " + "; ".join(parts))
    if warnings:
        out.append(f"{len(warnings)} warning(s): run `reachplan validate` to read them")
    return "\n".join(out) + "\n"


def export_frame(plan: Plan, table: str = "requirements") -> pd.DataFrame:
    """The long table to export: requirements (with region) or any other plan table."""
    if table == "requirements":
        return plan.requirements[EXPORT_COLUMNS + ["note"]]
    return without_blank_optional(table, plan.tables[table])


def render_export(
    plan: Plan, fmt: str = "csv", table: str = "requirements", hxl: bool = False
) -> str:
    """CSV (optionally with an HXL hashtag row) or JSON records of one plan table."""
    frame = round_money(export_frame(plan, table))  # USD amounts to the cent
    if fmt == "json":
        records = json.loads(frame.to_json(orient="records"))
        return json.dumps(records, indent=1) + "\n"
    return render_csv(frame, hxl=hxl, name=table)


SHOWN_PROBLEMS = 20
"""Problems printed one per line before the rest are counted (``--json`` lists all)."""


def capped(lines: Sequence[str], limit: int = SHOWN_PROBLEMS) -> list[str]:
    """The first ``limit`` lines, then ``... and N more`` when there are more."""
    shown = list(lines[:limit])
    if len(lines) > limit:
        shown.append(f"... and {len(lines) - limit} more")
    return shown


def render_validation(
    result: ValidationResult, label: str, limit: int = SHOWN_PROBLEMS
) -> str:
    """Errors then warnings, one per line (the first ``limit``), then a one-line verdict."""
    lines = capped(
        [f"error: {p}" for p in result.errors] + [f"warning: {p}" for p in result.warnings],
        limit,
    )
    if result.ok:
        lines.append(f"{label}: valid ({len(result.warnings)} warning(s))")
    else:
        lines.append(
            f"{label}: INVALID - {len(result.errors)} error(s), {len(result.warnings)} warning(s)"
        )
    return "\n".join(lines) + "\n"


def validation_json(result: ValidationResult, label: str) -> str:
    """Machine-readable validation outcome."""

    def rec(p: Problem) -> dict[str, object]:
        return {
            "severity": p.severity,
            "file": p.source,
            "row": p.row,
            "column": p.column,
            "message": p.message,
        }

    return (
        json.dumps(
            {"plan": label, "valid": result.ok, "problems": [rec(p) for p in result.problems]},
            indent=1,
            allow_nan=False,
        )
        + "\n"
    )
