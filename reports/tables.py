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

import functools
import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from reachplan.reports.plan_files import (
    FORMULA_PREFIXES,
    csv_cell,
    csv_text,
    escape_formula,
)
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
    "envelope_per_1m_year": "#date+year+envelope+per1m",
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

    USD amounts are rounded to the cent (:func:`reports.views.round_money`). Each
    column is turned into cell text once (:func:`csv_column`): the cells of
    :func:`reports.plan_files.csv_cell`.
    """
    frame = round_money(frame)
    cols = [str(c) for c in frame.columns]
    rows: list[Sequence[str]] = [[escape_formula(c) for c in cols]]
    if hxl:
        rows.append(hxl_row(cols))
    cells = [csv_column(frame.iloc[:, j]) for j in range(len(cols))]
    rows += zip(*cells, strict=True) if cells else ([] for _ in range(len(frame)))
    return csv_text(rows)


def python_values(series: pd.Series) -> list[object]:
    """The values of ``series`` as iterating over it gives them, in one conversion.

    Numpy numbers and booleans become Python ``int``/``float``/``bool`` (``tolist``); text
    (``str`` dtype, missing cells NaN) and numpy object columns keep their objects; any
    other dtype is iterated, as :meth:`pandas.DataFrame.itertuples` does.
    """
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biufO":
        return series.to_numpy().tolist()
    if isinstance(dtype, pd.StringDtype):
        return series.to_numpy(dtype=object).tolist()
    return list(series)


def _is_plain_numbers(series: pd.Series, kinds: str) -> bool:
    return isinstance(series.dtype, np.dtype) and series.dtype.kind in kinds


def csv_column(series: pd.Series) -> list[str]:
    """Cell text of every value of ``series``: :func:`reports.plan_files.csv_cell` of each.

    Booleans are ``true``/``false``; whole floats are written without ``.0`` (``-0.0`` as
    ``0``), other floats in shortest round-trip form (``inf``), NaN and missing cells
    blank; text is escaped against formulas.
    """
    if _is_plain_numbers(series, "b"):
        return ["true" if flag else "false" for flag in series.to_numpy().tolist()]
    if _is_plain_numbers(series, "iu"):
        return list(map(str, series.to_numpy().tolist()))
    if _is_plain_numbers(series, "f"):
        numbers = series.to_numpy().astype(np.float64)
        text = np.full(numbers.shape, "", dtype=object)
        whole = np.isfinite(numbers) & (np.trunc(numbers) == numbers)
        other = ~whole & ~np.isnan(numbers)
        text[whole] = list(map(str, map(int, numbers[whole].tolist())))
        text[other] = list(map(repr, numbers[other].tolist()))
        return text.tolist()
    return [
        (escape_formula(v) if v.startswith(_QUOTED_STARTS) else v)
        if v.__class__ is str else csv_cell(v)
        for v in python_values(series)
    ]


_QUOTED_STARTS = (*FORMULA_PREFIXES, "'")
"""Text not beginning with one of these is never escaped (:func:`escape_formula`)."""


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


def json_column(series: pd.Series) -> list[Any]:
    """JSON-ready values of ``series``: :func:`_json_value` of each (NaN and inf ``None``)."""
    if _is_plain_numbers(series, "biu"):
        return series.to_numpy().tolist()
    if _is_plain_numbers(series, "f"):
        numbers = series.to_numpy().astype(np.float64)
        values: list[Any] = numbers.tolist()
        finite = np.isfinite(numbers)
        if not finite.all():
            for i in np.flatnonzero(~finite).tolist():
                values[i] = None
        return values
    return [v if v.__class__ is str else _json_value(v) for v in python_values(series)]


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a table as JSON-ready dicts (NaN becomes ``null``)."""
    cols = [str(c) for c in frame.columns]
    if not cols:
        return [{} for _ in range(len(frame))]
    columns = [json_column(frame.iloc[:, j]) for j in range(len(cols))]
    return [dict(zip(cols, row, strict=True)) for row in zip(*columns, strict=True)]


def render_report_json(data: ReportData) -> str:
    """Every table of the report as one JSON document.

    ``{"title", "created", "appeal_usd", "hxl": {column: hashtag},
    "tables": {name: [row, ...]}}``; the tables are those of
    :meth:`ReportData.tables`. The text is that of ``json.dumps(doc, indent=1,
    allow_nan=False)`` (:func:`indented_json`).
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
    return indented_json(doc, indent=1) + "\n"


_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})


def _all_scalars(values: Iterable[object]) -> bool:
    """Whether every value is exactly a ``str``, ``int``, ``float``, ``bool`` or ``None``."""
    return all(map(_JSON_SCALARS.__contains__, map(type, values)))


@functools.lru_cache(maxsize=64)
def _flat_encoder(separator: str) -> json.JSONEncoder:
    return json.JSONEncoder(separators=(separator, ": "), allow_nan=False)


def indented_json(value: Any, indent: int = 1, level: int = 0) -> str:
    """``json.dumps(value, indent=indent, allow_nan=False)``, the same text, faster.

    With ``indent`` the standard library encodes in Python, call by call; here a list or
    dict holding only numbers, text, booleans and ``None`` (exactly these types: a
    table row) is encoded in one call of the C encoder, with the item separator that
    carries the indentation, and only the containers around such rows are walked in
    Python. ``level`` is the
    nesting depth of ``value`` (0 at the top). Anything else (scalars, empty containers,
    keys other than text) is left to ``json.dumps`` itself.
    """
    pad = " " * indent
    inner = pad * (level + 1)
    separator = ",\n" + inner
    if isinstance(value, dict) and value and {str}.issuperset(map(type, value)):
        if _all_scalars(value.values()):
            body = _flat_encoder(separator).encode(value)[1:-1]
        else:
            body = separator.join(
                json.dumps(k) + ": " + indented_json(v, indent, level + 1)
                for k, v in value.items())
        return "{\n" + inner + body + "\n" + pad * level + "}"
    if isinstance(value, list | tuple) and value:
        if _all_scalars(value):
            body = _flat_encoder(separator).encode(value)[1:-1]
        else:
            body = separator.join(indented_json(v, indent, level + 1) for v in value)
        return "[\n" + inner + body + "\n" + pad * level + "]"
    # scalars, empty containers, dicts with other keys: the standard library, re-indented
    text = json.dumps(value, indent=indent, allow_nan=False)
    return text.replace("\n", "\n" + pad * level) if level else text


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
