"""The report's tables for machines: CSV and JSON with HDX HAPI-style headers.

Column names follow the HDX HAPI conventions already used by the plan tables
(``location_code``, ``location_name``, ``sector_code``, ``sector_name``,
``requirements_usd`` ...). With ``hxl=True`` a row of HXL hashtags follows the CSV
header (:data:`HXL`), so the files load into HXL-aware tools. USD amounts are rounded to
the cent in the CSV files (:func:`reports.views.round_money`; the JSON keeps every digit);
other numbers are written in shortest round-trip form
(:func:`reports.plan_files.format_value`): reading a CSV back gives the very floats of
the report. Text that a spreadsheet would run as a formula
(a name beginning with ``=``, ``+``, ``-``, ``@``, tab or CR) is written with a leading
``'`` (:func:`reports.plan_files.csv_cell`, the OWASP rule); numbers are never escaped.

:func:`allocation_grid` is the one sector x location table that the HTML heat map and
the PNG chart both draw.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from reachplan.reports.plan_files import csv_cell, csv_text, escape_formula
from reachplan.reports.report_data import ReportData
from reachplan.reports.views import round_money

__all__ = [
    "HXL", "allocation_grid", "hxl_row", "records", "render_report_json", "render_table_csv",
]

HXL: dict[str, str] = {
    # identity and places
    "scenario": "#meta+scenario",
    "scenarios": "#meta+scenarios",
    "description": "#description",
    "draws": "#meta+draws",
    "draw": "#meta+draw",
    "seed": "#meta+seed",
    "location_code": "#country+code",
    "location_name": "#country+name",
    "country_code": "#country+code+top",
    "location_kind": "#loc+type",
    "sector_code": "#sector+code",
    "sector_name": "#sector+name",
    "year": "#date+year",
    "month": "#date+month",
    # money
    "funding_usd": "#value+funding+usd",
    "share_of_appeal": "#value+funding+pct",
    "requirements_usd": "#value+funding+required+usd",
    "allocated_usd": "#value+allocated+usd",
    "allocated_usd_mean": "#value+allocated+usd+mean",
    "mean_allocated_usd": "#value+allocated+usd+mean",
    "share_of_requirement": "#value+allocated+pct",
    # people
    "people_reached": "#reached",
    "people_reached_mean": "#reached+mean",
    "people_reached_p10": "#reached+p10",
    "people_reached_p50": "#reached+median",
    "people_reached_p90": "#reached+p90",
    "unmet_need_mean": "#inneed+unmet+mean",
    "plan_people_reached": "#reached+plan",
    "pro_rata_people_reached": "#reached+prorata",
    "gain_over_pro_rata": "#reached+gain",
    "envelope_people_per_1m": "#indicator+reached+envelope+per1m",
    "people_per_extra_1m": "#indicator+reached+per1m",
    "gain_over_pro_rata_programme": "#reached+gain+programme",
    "plan_unique_people_low": "#reached+unique+low+plan",
    "plan_unique_people_high": "#reached+unique+high+plan",
    "unique_people_low": "#reached+unique+low",
    "unique_people_high": "#reached+unique+high",
    "people_in_need": "#inneed",
    "planned_reach": "#targeted+planned",
    "unmet_need": "#inneed+unmet",
    "coverage": "#indicator+coverage+pct",
    "coverage_mean": "#indicator+coverage+pct+mean",
    "plan_coverage": "#indicator+coverage+pct+plan",
    "coverage_of_planned": "#indicator+coverage+targeted+pct",
    "entities_reached": "#reached+entities",
    "entities_reached_mean": "#reached+entities+mean",
    "plan_entities_reached": "#reached+entities+plan",
    "objective": "#meta+objective",
    # sector cost index sensitivity
    "dimension": "#meta+dimension",
    "code": "#meta+code",
    "name": "#meta+name",
    "indexed_usd": "#value+allocated+usd+indexed",
    "flat_usd": "#value+allocated+usd+flat",
    "difference_usd": "#value+allocated+usd+change",
    "moved_usd": "#value+moved+usd",
    "moved_share": "#value+moved+pct",
    "people_reached_indexed": "#reached+indexed",
    "people_reached_flat": "#reached+flat",
    "coverage_indexed": "#indicator+coverage+pct+indexed",
    "coverage_flat": "#indicator+coverage+pct+flat",
    # rules
    "constraint": "#meta+constraint",
    "kind": "#meta+kind",
    "share_of_draws_binding": "#indicator+binding+pct",
    "binding_at_plan_figures": "#indicator+binding+plan",
    "shadow_price": "#indicator+shadowprice",
    "shadow_price_down": "#indicator+shadowprice+down",
    "one_sided": "#indicator+shadowprice+onesided",
    "objective_dual": "#indicator+shadowprice+objective",
    "valid_from": "#indicator+range+from",
    "valid_to": "#indicator+range+to",
    "range_unit": "#meta+unit+range",
    "unit": "#meta+unit",
    "rules": "#meta+rules",
    "status": "#status",
    "note": "#meta+note",
    # displacement
    "simulation": "#meta+simulation",
    "series": "#population+type",
    "p05": "#population+p05",
    "p10": "#population+p10",
    "p50": "#population+median",
    "p90": "#population+p90",
    "p95": "#population+p95",
    "mean": "#population+mean",
    # provenance and warnings
    "section": "#meta+section",
    "item": "#meta+item",
    "value": "#meta+value",
    "source": "#meta+source",
    "row": "#meta+row",
    "column": "#meta+column",
    "message": "#description+warning",
}
"""HXL hashtag of every report column."""


def hxl_row(columns: list[str]) -> list[str]:
    """Hashtags for ``columns`` (empty for a column without one)."""
    return [HXL.get(c, "") for c in columns]


def render_table_csv(frame: pd.DataFrame, hxl: bool = False) -> str:
    """CSV text of one report table; with ``hxl`` a hashtag row follows the header.

    USD amounts are rounded to the cent (:func:`reports.views.round_money`).
    """
    frame = round_money(frame)
    cols = [str(c) for c in frame.columns]
    rows = [[escape_formula(c) for c in cols]]
    if hxl:
        rows.append(hxl_row(cols))
    rows += ([csv_cell(v) for v in row] for row in frame.itertuples(index=False))
    return csv_text(rows)


def _json_value(value: object) -> Any:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    if value is None or value is pd.NA:
        return None
    return value if isinstance(value, int | str) else str(value)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a table as JSON-ready dicts (NaN becomes ``null``)."""
    cols = [str(c) for c in frame.columns]
    return [{c: _json_value(v) for c, v in zip(cols, row, strict=True)}
            for row in frame.itertuples(index=False)]


def render_report_json(data: ReportData) -> str:
    """Every table of the report as one JSON document.

    ``{"title", "created", "appeal_usd", "hxl": {column: hashtag},
    "tables": {name: [row, ...]}}``; the tables are those of
    :meth:`ReportData.tables`.
    """
    tables = data.tables()
    used = sorted({str(c) for frame in tables.values() for c in frame.columns})
    doc = {
        "title": data.title,
        "created": data.created,
        "appeal_usd": data.appeal_usd,
        "hxl": {c: HXL.get(c, "") for c in used},
        "tables": {name: records(frame) for name, frame in tables.items()},
    }
    return json.dumps(doc, indent=1, sort_keys=False, allow_nan=False) + "\n"


def allocation_grid(data: ReportData, scenario: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean allocation and requirement of one scenario, sector by location, all years.

    Parameters
    ----------
    data
        The report.
    scenario
        One of ``data.scenario_names``.

    Returns
    -------
    money, requirement : pandas.DataFrame
        USD, rows the sectors (by name, else code; sorted), columns the locations (by
        name, else code; in the report's order). A sector not planned in a location (no
        requirement, or a requirement of zero) is NaN in ``money``: a chart shows it
        blank, not as nothing allocated. ``requirement`` is NaN where the plan has no line.
    """
    a = data.allocation[data.allocation["scenario"] == scenario]
    a = a.assign(loc=a["location_name"].where(a["location_name"] != "", a["location_code"]),
                 sec=a["sector_name"].where(a["sector_name"] != "", a["sector_code"]))
    locs = list(dict.fromkeys(a["loc"]))
    secs = sorted(set(a["sec"]))
    grid = a.groupby(["sec", "loc"])[["mean_allocated_usd", "requirements_usd"]].sum()
    money = grid["mean_allocated_usd"].unstack("loc").reindex(index=secs, columns=locs)
    req = grid["requirements_usd"].unstack("loc").reindex(index=secs, columns=locs)
    return money.where(req > 0), req
