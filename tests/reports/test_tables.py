"""CSV and JSON tables: HDX HAPI-style headers, HXL row, exact numbers."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pandas as pd
import pytest

from reachplan.reports.plan_files import unescape_csv_cell
from reachplan.reports.scenario_report import render_runs_json
from reachplan.reports.tables import (
    HXL,
    allocation_grid,
    records,
    render_report_json,
    render_table_csv,
)
from reachplan.reports.views import is_money_amount
from tests.reports.report_fixture import small_report


def _read(text: str, hxl: bool) -> tuple[list[str], list[str] | None, list[list[str]]]:
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], rows[1] if hxl else None, rows[2:] if hxl else rows[1:]


@pytest.mark.parametrize("name", list(small_report().data.tables()))
def test_csv_header_hxl_row_and_round_trip(name):
    frame = small_report().data.tables()[name]
    header, tags, body = _read(render_table_csv(frame, hxl=True), hxl=True)
    assert header == list(frame.columns)
    assert tags is not None
    assert all(t.startswith("#") for t in tags), dict(zip(header, tags, strict=True))
    assert len(body) == len(frame)
    back = pd.read_csv(io.StringIO(render_table_csv(frame)), keep_default_na=False,
                       dtype=str)
    for col in frame.columns:
        if frame[col].dtype.kind == "f":
            got = [float(v) if v != "" else math.nan for v in back[col]]
            want = frame[col].to_numpy(dtype=float)
            if is_money_amount(col):  # USD amounts to the cent, every other number exact
                want = np.round(want, 2)
                assert all(len(v.split(".")[1]) <= 2 for v in back[col] if "." in v), col
            np.testing.assert_array_equal(got, want)
        elif frame[col].dtype.kind == "b":
            assert list(back[col]) == ["true" if v else "false" for v in frame[col]]
        else:
            # text a spreadsheet would run as a formula comes back with a leading quote
            assert [unescape_csv_cell(v) for v in back[col]] == [str(v) for v in frame[col]]


def test_csv_without_hxl_has_no_hashtag_row():
    frame = small_report().data.scenarios
    header, _, body = _read(render_table_csv(frame, hxl=False), hxl=False)
    assert not any(c.startswith("#") for c in body[0])
    assert len(body) == len(frame)


def test_hxl_tags_use_hdx_hashtags_for_places_and_sectors():
    assert HXL["location_code"] == "#country+code"
    assert HXL["sector_code"] == "#sector+code"
    assert HXL["requirements_usd"] == "#value+funding+required+usd"
    assert HXL["people_reached"] == "#reached"


def test_report_json_equals_run_json():
    report = small_report()
    doc = json.loads(render_report_json(report.data))
    expected = json.loads(render_runs_json(report.runs))["scenarios"]
    scen = doc["tables"]["scenarios"]
    for row, want in zip(scen, expected, strict=True):
        assert row["scenario"] == want["name"]
        for key in ("funding_usd", "allocated_usd_mean", "people_reached_mean",
                    "people_reached_p10", "people_reached_p50", "people_reached_p90"):
            assert row[key] == want[key], key
    got = {(r["scenario"], r["location_code"], r["sector_code"], r["year"]):
           r["mean_allocated_usd"] for r in doc["tables"]["allocation"]}
    want = {(s["name"], c["location_code"], c["sector_code"], c["year"]):
            c["mean_allocated_usd"] for s in expected for c in s["cells"]}
    assert got == want
    assert set(doc["hxl"]) >= {"location_code", "sector_code", "people_reached"}


def test_json_has_null_for_missing_numbers():
    frame = pd.DataFrame({"scenario": ["a", "b"], "shadow_price": [1.5, np.nan],
                          "binding_at_plan_figures": [np.True_, np.False_]})
    assert records(frame) == [
        {"scenario": "a", "shadow_price": 1.5, "binding_at_plan_figures": True},
        {"scenario": "b", "shadow_price": None, "binding_at_plan_figures": False},
    ]
    csv_text = render_table_csv(frame)
    assert csv_text.splitlines()[2] == "b,,false"


def test_allocation_grid_sums_each_sector_and_location_and_blanks_unplanned_lines():
    data = small_report().data
    name = data.scenario_names[0]
    money, req = allocation_grid(data, name)
    a = data.allocation[data.allocation["scenario"] == name]
    assert list(money.index) == sorted(money.index)
    assert money.shape == req.shape
    assert math.isclose(np.nansum(money.to_numpy()), a["mean_allocated_usd"].sum(), rel_tol=1e-12)
    assert math.isclose(np.nansum(req.to_numpy()), a["requirements_usd"].sum(), rel_tol=1e-12)
    # blank exactly where the plan has no line or a zero requirement
    assert (money.isna().to_numpy() == ~(req > 0).to_numpy()).all()
