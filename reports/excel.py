"""The scenario report as an Excel workbook, for people who work in spreadsheets.

:func:`render_workbook` writes an ``assumptions`` sheet (how to read the figures,
provenance) and then one sheet per table of :class:`reports.report_data.ReportData`,
with the same column names as the CSV files, formatted numbers, a frozen and filtered
header row, and native Excel charts beside the scenario, ladder and displacement
tables. Every text cell is written with ``write_string`` and the workbook is opened
with ``strings_to_formulas`` off, so a scenario named ``=SUM(A1)`` stays text. USD
amounts (columns ``*_usd``, :func:`reports.views.is_money_amount`) are whole dollars with
thousands separators (:data:`MONEY_FORMAT`), their values rounded to the dollar.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import xlsxwriter
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from reachplan.reports.report_data import ReportData
from reachplan.reports.tables import python_values
from reachplan.reports.views import is_money_amount

__all__ = ["MONEY_FORMAT", "SHEETS", "render_workbook", "sheet_names"]

SHEETS = (
    "assumptions",
    "scenarios",
    "by_year",
    "coverage",
    "allocation",
    "allocation_by_country",
    "allocation_by_sector",
    "allocation_by_subnational",
    "unmet_need",
    "people_reached_draws",
    "extra_1m",
    "binding_constraints",
    "shadow_prices",
    "cost_index_summary",
    "cost_index",
    "funding_ladder",
    "displacement_totals",
    "displacement",
    "warnings",
)
"""Sheet names, in workbook order; the cost index and sub-national sheets only when the
report has them (:meth:`reports.report_data.ReportData.tables`)."""

MONEY_FORMAT = "#,##0"
"""Number format of a USD amount: whole dollars with thousands separators (the values are
rounded to whole dollars too, so a cell holds what it shows)."""

_INT_COLUMNS = {"year", "draw", "draws", "seed", "row"}
_SHARE_COLUMNS = {"share_of_appeal", "share_of_requirement", "share_of_draws_binding",
                  "coverage", "coverage_mean", "plan_coverage", "coverage_of_planned",
                  "coverage_indexed", "coverage_flat", "moved_share"}
_DECIMAL_COLUMNS = {"shadow_price", "shadow_price_down", "objective_dual"}


def _number_format(column: str) -> str:
    if is_money_amount(column):
        return MONEY_FORMAT
    if column in _INT_COLUMNS:
        return "0"
    if column in _SHARE_COLUMNS:
        return "0.0%"
    if column in _DECIMAL_COLUMNS:
        return "#,##0.00"
    return "#,##0"


def _is_number(value: object) -> bool:
    return (isinstance(value, int | float | np.integer | np.floating)
            and not isinstance(value, bool | np.bool_))


class _Writer:
    """Holds the workbook's formats."""

    def __init__(self, wb: Workbook) -> None:
        self.wb = wb
        self.header = wb.add_format({"bold": True, "bg_color": "#DDE7F0", "border": 1,
                                     "text_wrap": True, "valign": "top"})
        self.title = wb.add_format({"bold": True, "font_size": 14})
        self.bold = wb.add_format({"bold": True})
        self.wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        self.formats: dict[str, Any] = {}

    def number_format(self, column: str) -> Any:
        fmt = _number_format(column)
        if fmt not in self.formats:
            self.formats[fmt] = self.wb.add_format({"num_format": fmt})
        return self.formats[fmt]

    def cell(self, ws: Worksheet, row: int, col: int, value: object, column: str) -> None:
        """Write one value: numbers as numbers, everything else as text."""
        if value is None or value is pd.NA:
            return
        if isinstance(value, bool | np.bool_):
            ws.write_boolean(row, col, bool(value))
        elif _is_number(value):
            number = float(value)  # type: ignore[arg-type]
            if math.isfinite(number):
                if is_money_amount(column):
                    number = float(round(number)) + 0.0
                ws.write_number(row, col, number, self.number_format(column))
        else:
            ws.write_string(row, col, str(value))

    def table(self, ws: Worksheet, frame: pd.DataFrame, first_row: int = 0) -> None:
        """Header, rows, widths, frozen header and filter.

        A column of a numpy number or boolean dtype is written in one pass, its values
        converted (and money rounded) once for the whole column; other columns (text,
        objects) are written row by row through :meth:`cell`, in the order the cells'
        text enters the workbook's shared strings, so the file is the one a cell by
        cell writer makes.
        """
        cols = [str(c) for c in frame.columns]
        for j, name in enumerate(cols):
            ws.write_string(first_row, j, name, self.header)
            sample = [len(str(v)) for v in frame[name].head(200)] if len(frame) else [0]
            numeric = frame[name].dtype.kind in "if"
            width = 14 if numeric else min(max(10, max(sample) + 2), 60)
            ws.set_column(j, j, max(width, min(len(name) + 2, 28)))
        text_columns: list[int] = []
        text_values: list[list[object]] = []
        for j, name in enumerate(cols):
            series = frame.iloc[:, j]
            dtype = series.dtype
            if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
                self.number_column(ws, first_row + 1, j, series.to_numpy(), name)
            else:
                text_columns.append(j)
                text_values.append(python_values(series))
        write_string = _undecorated(ws, "write_string")
        for i, rec in enumerate(zip(*text_values, strict=True), start=first_row + 1):
            for j, value in zip(text_columns, rec, strict=True):
                if value.__class__ is str:
                    write_string(i, j, value)
                else:
                    self.cell(ws, i, j, value, cols[j])
        ws.freeze_panes(first_row + 1, 0)
        if cols:
            ws.autofilter(first_row, 0, first_row + max(len(frame), 1), len(cols) - 1)

    def number_column(
        self, ws: Worksheet, first_row: int, col: int, values: np.ndarray, column: str
    ) -> None:
        """Write a column of numpy numbers or booleans from ``first_row`` down.

        The same cells as :meth:`cell` on each value: booleans as booleans; numbers as
        floats in the column's format, money rounded to the dollar (half to even, as
        ``round``; no negative zero); NaN and infinities left blank.
        """
        if values.dtype.kind == "b":
            write_boolean = _undecorated(ws, "write_boolean")
            for i, flag in enumerate(values.tolist(), start=first_row):
                write_boolean(i, col, flag)
            return
        numbers = values.astype(np.float64)
        if is_money_amount(column):
            numbers = np.rint(numbers) + 0.0
        finite = np.isfinite(numbers)
        if not finite.any():
            return
        fmt = self.number_format(column)
        write_number = _undecorated(ws, "write_number")
        if finite.all():
            for i, number in enumerate(numbers.tolist(), start=first_row):
                write_number(i, col, number, fmt)
            return
        rows = np.flatnonzero(finite)
        for i, number in zip((rows + first_row).tolist(), numbers[rows].tolist(), strict=True):
            write_number(i, col, number, fmt)


def _undecorated(ws: Worksheet, method: str) -> Callable[..., Any]:
    """``ws.<method>`` without its A1-notation wrapper where xlsxwriter has one.

    xlsxwriter's public ``write_number`` (``write_string``, ``write_boolean``) only turns
    an ``"A1"`` cell reference into row and column and calls ``_write_number``; the
    report always passes row and column, so it calls that directly where it exists.
    """
    inner = getattr(ws, f"_{method}", None)
    return inner if callable(inner) else getattr(ws, method)


def _assumptions(w: _Writer, data: ReportData) -> None:
    ws = w.wb.add_worksheet("assumptions")
    ws.set_column(0, 0, 28)
    ws.set_column(1, 1, 48)
    ws.set_column(2, 2, 90)
    ws.write_string(0, 0, f"Scenario report: {data.title}", w.title)
    ws.write_string(1, 0, "created (UTC)", w.bold)
    ws.write_string(1, 1, data.created)
    ws.write_string(2, 0, "appeal (USD)", w.bold)
    ws.write_number(2, 1, float(round(data.appeal_usd)), w.number_format("requirements_usd"))
    ws.write_string(4, 0, "How to read the figures", w.bold)
    row = 5
    for note in data.notes:
        ws.merge_range(row, 0, row, 2, "", w.wrap)
        ws.write_string(row, 0, note, w.wrap)
        ws.set_row(row, 30)
        row += 1
    row += 1
    ws.write_string(row, 0, "Provenance", w.bold)
    row += 1
    for j, name in enumerate(data.provenance.columns):
        ws.write_string(row, j, str(name), w.header)
    for rec in data.provenance.itertuples(index=False):
        row += 1
        for j, value in enumerate(rec):
            ws.write_string(row, j, str(value))
    ws.freeze_panes(1, 0)


def _chart_scenarios(w: _Writer, ws: Worksheet, data: ReportData) -> None:
    sc = data.scenarios
    n = len(sc)
    cols = list(sc.columns)
    cat = cols.index("scenario")
    chart = w.wb.add_chart({"type": "column"})
    for column, name in (("people_reached_mean", "people reached, mean over futures"),
                         ("pro_rata_people_reached", "pro-rata cuts, plan's figures")):
        j = cols.index(column)
        chart.add_series({
            "name": name,
            "categories": ["scenarios", 1, cat, n, cat],
            "values": ["scenarios", 1, j, n, j],
        })
    chart.set_title({"name": "People reached per scenario"})
    chart.set_y_axis({"num_format": "#,##0", "name": "people"})
    chart.set_size({"width": 760, "height": 380})
    ws.insert_chart(n + 3, 1, chart)


def _chart_ladder(w: _Writer, ws: Worksheet, data: ReportData) -> None:
    lad = data.funding_ladder
    if lad.empty:
        return
    cols = list(lad.columns)
    x, y = cols.index("funding_usd"), cols.index("people_reached")
    chart = w.wb.add_chart({"type": "scatter", "subtype": "straight_with_markers"})
    start = 1
    for rules, group in lad.groupby("rules", sort=False):
        end = start + len(group) - 1
        chart.add_series({"name": f"optimised: {rules}",
                          "categories": ["funding_ladder", start, x, end, x],
                          "values": ["funding_ladder", start, y, end, y]})
        p = cols.index("pro_rata_people_reached")
        chart.add_series({"name": f"pro-rata: {rules}",
                          "categories": ["funding_ladder", start, x, end, x],
                          "values": ["funding_ladder", start, p, end, p],
                          "line": {"dash_type": "dash"}})
        start = end + 1
    chart.set_title({"name": "Funding ladder (plan's figures)"})
    chart.set_x_axis({"name": "funding (USD)", "num_format": "#,##0"})
    chart.set_y_axis({"name": "people reached", "num_format": "#,##0"})
    chart.set_size({"width": 760, "height": 420})
    ws.insert_chart(len(lad) + 3, 1, chart)


def _chart_displacement(w: _Writer, ws: Worksheet, data: ReportData) -> None:
    tot = data.displacement_totals
    if tot.empty:
        return
    cols = list(tot.columns)
    first = str(tot["simulation"].iloc[0])
    month = cols.index("month")
    for k, series in enumerate(("idps", "refugees", "returnees")):
        rows = np.flatnonzero((tot["simulation"] == first).to_numpy()
                              & (tot["series"] == series).to_numpy())
        if rows.size == 0:
            continue
        lo, hi = int(rows[0]) + 1, int(rows[-1]) + 1
        chart = w.wb.add_chart({"type": "line"})
        for column in ("p10", "p50", "p90"):
            j = cols.index(column)
            chart.add_series({"name": column,
                              "categories": ["displacement_totals", lo, month, hi, month],
                              "values": ["displacement_totals", lo, j, hi, j]})
        chart.set_title({"name": f"{series}: {first}"})
        chart.set_y_axis({"num_format": "#,##0"})
        chart.set_x_axis({"name": "month end"})
        chart.set_size({"width": 620, "height": 320})
        ws.insert_chart(1 + 17 * k, len(cols) + 1, chart)


def sheet_names(data: ReportData) -> list[str]:
    """The sheets :func:`render_workbook` writes for ``data``, in order."""
    tables = data.tables()
    return [name for name in SHEETS if name == "assumptions" or name in tables]


def render_workbook(data: ReportData) -> bytes:
    """The report as an .xlsx workbook.

    Parameters
    ----------
    data
        The report.

    Returns
    -------
    bytes
        The workbook: sheets :func:`sheet_names` (:data:`SHEETS` less the tables the
        report does not carry).
    """
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {
        "in_memory": True,
        "strings_to_formulas": False,
        "strings_to_numbers": False,
        "strings_to_urls": False,
        "nan_inf_to_errors": False,
    })
    w = _Writer(wb)
    _assumptions(w, data)
    tables = data.tables()
    for name in sheet_names(data)[1:]:
        ws = wb.add_worksheet(name)
        w.table(ws, tables[name])
        if name == "scenarios":
            _chart_scenarios(w, ws, data)
        elif name == "funding_ladder":
            _chart_ladder(w, ws, data)
        elif name == "displacement_totals":
            _chart_displacement(w, ws, data)
    wb.close()
    return buf.getvalue()
