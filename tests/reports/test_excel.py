"""The workbook read back with openpyxl: sheets, values against the run JSON, text stays text."""

from __future__ import annotations

import io
import json
import zipfile

import openpyxl
import pytest

from reachplan.reports.excel import SHEETS, render_workbook
from reachplan.reports.scenario_report import render_runs_json
from tests.reports.report_fixture import FORMULA_NAME, MARKUP_NAME, small_report

# Excel keeps 15 significant digits; xlsxwriter writes them all, so values agree to that
EXCEL = {"rel": 1e-14, "abs": 0.0}


@pytest.fixture(scope="module")
def workbook_bytes() -> bytes:
    return render_workbook(small_report().data)


@pytest.fixture(scope="module")
def workbook(workbook_bytes):
    return openpyxl.load_workbook(io.BytesIO(workbook_bytes))


def _rows(ws) -> list[dict[str, object]]:
    values = list(ws.iter_rows(values_only=True))
    header = [str(h) for h in values[0]]
    return [dict(zip(header, row, strict=True)) for row in values[1:]]


def test_sheets_in_order(workbook):
    # the default plan has no sub-national lines: no sub-national sheet
    assert workbook.sheetnames == [s for s in SHEETS if s != "allocation_by_subnational"]


def test_scenarios_sheet_equals_run_json(workbook):
    expected = json.loads(render_runs_json(small_report().runs))["scenarios"]
    rows = _rows(workbook["scenarios"])
    assert [r["scenario"] for r in rows] == [s["name"] for s in expected]
    for row, scen in zip(rows, expected, strict=True):
        for key in ("funding_usd", "allocated_usd_mean"):  # money: whole dollars
            assert row[key] == round(scen[key]), key
        for key in ("people_reached_mean", "people_reached_p10", "people_reached_p50",
                    "people_reached_p90"):
            assert row[key] == pytest.approx(scen[key], **EXCEL), key
        assert row["draws"] == scen["draws"]
        assert row["seed"] == scen["seed"]


def test_allocation_sheet_equals_run_json_cells(workbook):
    expected = json.loads(render_runs_json(small_report().runs))["scenarios"]
    rows = _rows(workbook["allocation"])
    got = {(r["scenario"], r["location_code"], r["sector_code"], r["year"]):
           r["mean_allocated_usd"] for r in rows}
    want = {(s["name"], c["location_code"], c["sector_code"], c["year"]):
            c["mean_allocated_usd"] for s in expected for c in s["cells"]}
    assert got.keys() == want.keys()
    # money cells hold whole dollars
    assert [got[k] for k in want] == [round(want[k]) for k in want]


def test_unmet_need_sheet_equals_run_json(workbook):
    expected = json.loads(render_runs_json(small_report().runs))["scenarios"]
    got = {(r["scenario"], r["location_code"]): r["unmet_need_mean"]
           for r in _rows(workbook["unmet_need"])}
    want = {(s["name"], loc): v for s in expected
            for loc, v in s["unmet_need_by_location"].items()}
    assert got.keys() == want.keys()
    assert [got[k] for k in want] == pytest.approx([want[k] for k in want], **EXCEL)


def test_formula_looking_text_stays_text(workbook):
    for ws in workbook.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} is a formula"
    cell = workbook["scenarios"]["A2"]
    assert cell.value == FORMULA_NAME and cell.data_type == "s"
    names = {r["scenario"] for r in _rows(workbook["allocation"])}
    assert names == {FORMULA_NAME, MARKUP_NAME}


def test_headers_frozen_and_numbers_formatted(workbook):
    for name in workbook.sheetnames[1:]:
        assert workbook[name].freeze_panes == "A2", name
    ws = workbook["scenarios"]
    header = [c.value for c in ws[1]]
    assert ws.cell(2, header.index("funding_usd") + 1).number_format == "#,##0"
    assert ws.cell(2, header.index("share_of_appeal") + 1).number_format == "0.0%"
    alloc = workbook["allocation"]
    header = [c.value for c in alloc[1]]
    assert alloc.cell(2, header.index("year") + 1).number_format == "0"


def test_assumptions_sheet_has_provenance_and_versions(workbook):
    text = [str(c.value) for row in workbook["assumptions"].iter_rows() for c in row
            if c.value is not None]
    data = small_report().data
    fingerprint = data.provenance.loc[
        data.provenance["item"].str.startswith("content fingerprint"), "value"].item()
    assert fingerprint in text
    assert "numpy" in text and "plotly" in text
    for run in small_report().runs:
        assert run.scenario.sha256 in text


def test_native_charts(workbook_bytes):
    with zipfile.ZipFile(io.BytesIO(workbook_bytes)) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
        # scenarios (1), funding ladder (1), displacement (idps, refugees, returnees)
        assert len(charts) == 5
        ladder = [z.read(n).decode() for n in charts if b"Funding ladder" in z.read(n)]
        assert len(ladder) == 1 and "funding_ladder" in ladder[0]
