"""The report's files, written a column at a time, are those of a cell-by-cell writer.

The references below are the straightforward writers (one Python call per cell, as the
report was first written); the column writers must give the very same text and cells
on tricky values: NaN, None, pd.NA, infinities, -0.0, numpy scalars, huge amounts,
nullable and categorical columns, text that a spreadsheet would run as a formula.
"""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile

import numpy as np
import pandas as pd
import pytest
import xlsxwriter
from hypothesis import given, settings
from hypothesis import strategies as st

from reachplan.reports.excel import MONEY_FORMAT, _Writer
from reachplan.reports.plan_files import csv_cell, escape_formula
from reachplan.reports.tables import (
    hxl_row,
    indented_json,
    records,
    render_table_csv,
)
from reachplan.reports.views import is_money_amount, round_money
from tests.reports.report_fixture import small_report

# ---- references: one call per cell -------------------------------------------------------


def _reference_csv(frame: pd.DataFrame, hxl: bool) -> str:
    frame = round_money(frame)
    cols = [str(c) for c in frame.columns]
    rows = [[escape_formula(c) for c in cols]]
    if hxl:
        rows.append(hxl_row(cols))
    rows += ([csv_cell(v) for v in row] for row in frame.itertuples(index=False))
    buf = io.StringIO()
    plain = csv.writer(buf, lineterminator="\n")
    quoted = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)
    for row in rows:
        (quoted if any("\r" in cell for cell in row) else plain).writerow(row)
    return buf.getvalue()


def _reference_json_value(value: object) -> object:
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


def _reference_records(frame: pd.DataFrame) -> list[dict[str, object]]:
    cols = [str(c) for c in frame.columns]
    return [{c: _reference_json_value(v) for c, v in zip(cols, row, strict=True)}
            for row in frame.itertuples(index=False)]


def _reference_cell(w: _Writer, ws, row: int, col: int, value: object, column: str) -> None:
    if value is None or value is pd.NA:
        return
    if isinstance(value, bool | np.bool_):
        ws.write_boolean(row, col, bool(value))
    elif (isinstance(value, int | float | np.integer | np.floating)
          and not isinstance(value, bool | np.bool_)):
        number = float(value)
        if math.isfinite(number):
            if is_money_amount(column):
                number = float(round(number)) + 0.0
            ws.write_number(row, col, number, w.number_format(column))
    else:
        ws.write_string(row, col, str(value))


def _sheet_xml(frame: pd.DataFrame, reference: bool) -> dict[str, bytes]:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False,
                                   "strings_to_numbers": False, "strings_to_urls": False})
    w = _Writer(wb)
    ws = wb.add_worksheet("table")
    if reference:
        cols = [str(c) for c in frame.columns]
        for j, name in enumerate(cols):
            ws.write_string(0, j, name, w.header)
        for i, rec in enumerate(frame.itertuples(index=False), start=1):
            for j, value in enumerate(rec):
                _reference_cell(w, ws, i, j, value, cols[j])
    else:
        w.table(ws, frame)
    wb.close()
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as z:
        sheet = z.read("xl/worksheets/sheet1.xml")
        return {"strings": z.read("xl/sharedStrings.xml"), "styles": z.read("xl/styles.xml"),
                "cells": sheet[sheet.index(b"<sheetData>"):sheet.index(b"</sheetData>")]}


# ---- the tricky table ---------------------------------------------------------------------

FLOATS = [math.nan, math.inf, -math.inf, -0.0, 0.1, 2.5, 1e20, 1e300, -3.5, 24499999.999999996,
          5e-324, 7.0]


def tricky_frame() -> pd.DataFrame:
    n = len(FLOATS)
    text = ["=SUM(A1)", "-3.5", "'=x", "two\r\nlines", "\ttab", "@me", "+", "plain", "é ü",
            "", "'quoted", "a,b\"c"]
    mixed = [None, pd.NA, np.int64(3), np.float64("nan"), True, np.bool_(False), 1.0,
             "=1+1", np.float32(0.1), -0.0, 2**70, math.inf]
    return pd.DataFrame({
        "scenario": pd.array(text, dtype="str").copy(),
        "share_of_appeal": FLOATS,
        "allocated_usd": [v * 1.0 for v in FLOATS[:-2]] + [-0.004, 1e17 + 0.5],
        "requirements_usd": np.arange(n, dtype=np.int64) * 10**15 - 3,
        "unit_cost_usd": [0.0041234567, *FLOATS[1:]],
        "draw": np.array([2**62, 0, -1, *range(n - 3)], dtype=np.int64),
        "seed": np.array([2**64 - 1, *range(n - 1)], dtype=np.uint64),
        "binding_at_plan_figures": [bool(i % 2) for i in range(n)],
        "people_reached": np.array([*FLOATS[:7], 3e38, *FLOATS[8:]], dtype=np.float32),
        "note": pd.Series(mixed, dtype=object),
        "year": pd.array([2024, None, *range(2026, 2026 + n - 2)], dtype="Int64"),
        "kind": pd.Categorical(["cap", "floor"] * (n // 2)),
        "description": pd.Series(["x", None, math.nan, *text[3:]], dtype="string"),
    })


def test_the_tricky_table_has_the_tricky_values():
    frame = tricky_frame()
    assert frame["scenario"].dtype == "str" and frame["scenario"].isna().sum() == 0
    assert np.signbit(frame["share_of_appeal"].iloc[3])
    assert frame["note"].map(type).nunique() >= 8


@pytest.mark.parametrize("hxl", [True, False])
def test_csv_equals_cell_by_cell_reference(hxl):
    frame = tricky_frame()
    got = render_table_csv(frame, hxl=hxl)
    assert got == _reference_csv(frame, hxl)
    # the cases that matter, spelled out
    body = list(csv.reader(io.StringIO(got)))[2 if hxl else 1:]
    shares = [row[1] for row in body]
    assert shares == ["", "inf", "-inf", "0", "0.1", "2.5", "100000000000000000000",
                      str(int(1e300)), "-3.5", "24499999.999999996", "5e-324", "7"]
    assert [row[0] for row in body][:6] == ["'=SUM(A1)", "-3.5", "''=x", "two\r\nlines",
                                            "'\ttab", "'@me"]
    assert body[10][2] == "0"  # -0.004 USD: to the cent, no negative zero


def test_csv_rows_with_carriage_return_are_quoted():
    got = render_table_csv(tricky_frame())
    assert '\n"two\r\nlines","0","0","' in got  # every cell of that row quoted
    assert '\n-3.5,inf,inf,' in got  # the others as the writer chooses


def test_records_equal_cell_by_cell_reference():
    frame = tricky_frame()
    got, want = records(frame), _reference_records(frame)
    assert got == want  # NaN never appears in either: equality is exact
    assert [type(v) for row in got for v in row.values()] == \
        [type(v) for row in want for v in row.values()]
    assert json.dumps(got, indent=1) == json.dumps(want, indent=1)
    assert records(frame.iloc[:0]) == [] and records(frame[[]]) == [{}] * len(frame)


def test_workbook_cells_equal_cell_by_cell_reference():
    frame = tricky_frame()
    assert _sheet_xml(frame, reference=False) == _sheet_xml(frame, reference=True)


def test_workbook_money_is_rounded_half_to_even():
    frame = pd.DataFrame({"funding_usd": [0.5, 1.5, 2.5, -2.5, -0.4, 1e17 + 8.0]})
    xml = _sheet_xml(frame, reference=False)["cells"].decode()
    values = [float(v.split("</v>")[0]) for v in xml.split("<v>")[2:]]  # after the header
    assert values == [0.0, 2.0, 2.0, -2.0, 0.0, 1e17 + 8.0]
    assert "<v>-0</v>" not in xml
    assert MONEY_FORMAT == "#,##0"


@pytest.mark.parametrize("name", list(small_report().data.tables()))
def test_report_tables_equal_reference(name):
    frame = small_report().data.tables()[name]
    assert render_table_csv(frame, hxl=True) == _reference_csv(frame, True)
    assert records(frame) == _reference_records(frame)


# ---- indented JSON ------------------------------------------------------------------------

scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8))
documents = st.recursive(
    scalars,
    lambda children: (st.lists(children, max_size=4)
                      | st.lists(children, max_size=3).map(tuple)
                      | st.dictionaries(st.text(max_size=5), children, max_size=4)),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(documents, st.integers(min_value=0, max_value=3))
def test_indented_json_is_json_dumps(doc, indent):
    assert indented_json(doc, indent=indent) == json.dumps(doc, indent=indent, allow_nan=False)


@pytest.mark.parametrize("doc", [
    {"a": [1.5, -0.0, 1e300, 5e-324]},
    {"t": [{"x": 1, "y": [1, {"z": None}]}, {}, [], [[]]]},
    {1: "int key", "b": {2.5: "float key", None: True}},
    [float("1e16"), 2**70, "\u2028\n\"'", True, False],
    {"nested": {"a": {"b": {"c": [1, 2]}}}},
    "just text",
    [],
])
def test_indented_json_tricky_documents(doc):
    for indent in (1, 2):
        assert indented_json(doc, indent=indent) == json.dumps(doc, indent=indent)


def test_indented_json_numpy_scalars_and_errors():
    class Label(str):
        pass

    doc = {"a": [np.float64(0.5), True], Label("k"): [Label("v"), 1]}
    assert indented_json(doc) == json.dumps(doc, indent=1)
    with pytest.raises(ValueError):
        indented_json({"a": [1.0, math.nan]})
    with pytest.raises(TypeError):
        indented_json({"a": [1.0, {1, 2}]})
