"""`reachplan plan calibrate` and calibration on load, run as a planner would (subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from reachplan.model.plan import Plan
from reachplan.model.tables import TABLES_BY_NAME
from reachplan.reports.plan_files import write_plan_tables
from reachplan.reports.template import write_template
from tests.conftest import tiny_tables

M = 0.4 + 0.3 / 1.25 + 0.2 / 1.6 + 0.1 / 2.2
"""Mean inverse factor of the default cost curve (supplied to a plan without one)."""


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reachplan.cli", *args],
                          capture_output=True, text=True, timeout=300)


def _tables(targets: bool = True) -> dict[str, pd.DataFrame]:
    """The tiny plan without unit costs nor cost curve (POL targeted 400, MDA 300)."""
    t = tiny_tables()
    del t["unit_costs"]
    if not targets:
        t["populations"] = t["populations"][t["populations"]["population_status"] == "in_need"]
    return dict(Plan.from_tables(t).tables)


def _folder(tmp_path: Path, targets: bool = True) -> Path:
    folder = tmp_path / "plan"
    write_plan_tables(_tables(targets), folder)
    return folder


def _unit_costs(path: Path) -> dict[tuple[str, str], float]:
    frame = pd.read_csv(path)
    return {(r.location_code, r.sector_code): r.unit_cost_usd for r in frame.itertuples()}


def test_calibrate_a_csv_plan_shows_the_working_and_writes_the_tables(tmp_path):
    folder = _folder(tmp_path)
    result = _cli("plan", "calibrate", str(folder))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "default cost curve supplied: a planning assumption" in out
    # by hand: POL 0.81045... x (100 + 100) / 400 = $0.4052; MDA x 200 / 300 = $0.5403
    assert "$0.4052" in out and "$0.5403" in out and "location target" in out
    assert f"wrote {folder / 'unit_costs.csv'}" in out
    costs = _unit_costs(folder / "unit_costs.csv")
    assert costs[("POL", "WASH")] == pytest.approx(M * 200 / 400, rel=1e-14)
    assert costs[("MDA", "WASH")] == pytest.approx(M * 200 / 300, rel=1e-14)
    curve = pd.read_csv(folder / "cost_curve.csv")
    assert list(curve["cost_factor"]) == [1.0, 1.25, 1.6, 2.2]
    assert _cli("validate", str(folder)).returncode == 0
    # a second run refuses to overwrite, then --force replaces them with the same numbers
    again = _cli("plan", "calibrate", str(folder))
    assert again.returncode == 1 and "Traceback" not in again.stderr
    assert again.stderr.startswith(f"error: {folder} already has unit costs (3 rows)")
    assert "--force" in again.stderr
    forced = _cli("plan", "calibrate", str(folder), "--force")
    assert forced.returncode == 0, forced.stderr
    assert _unit_costs(folder / "unit_costs.csv") == costs


def test_json_parses_and_out_writes_elsewhere(tmp_path):
    folder = _folder(tmp_path)
    out = tmp_path / "calibrated"
    result = _cli("plan", "calibrate", str(folder), "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["cost_curve"]["supplied"] is True and data["year"] == 2024
    lines = {(d["location_code"], d["sector_code"]): d for d in data["lines"]}
    assert lines[("MDA", "WASH")]["unit_cost_usd"] == pytest.approx(M * 200 / 300, rel=1e-14)
    assert lines[("MDA", "WASH")]["target"] == 300 and lines[("MDA", "WASH")]["rule"] == (
        "location target")
    reached = {d["location_code"]: d["people_reached"] for d in data["locations"]}
    assert reached == pytest.approx({"POL": 400.0, "MDA": 300.0})
    assert sorted(data["written"]) == sorted([str(out / "unit_costs.csv"),
                                              str(out / "cost_curve.csv")])
    assert not (folder / "unit_costs.csv").exists()  # the plan is untouched
    assert _unit_costs(out / "unit_costs.csv")[("POL", "HEALTH")] == pytest.approx(M / 2)
    taken = _cli("plan", "calibrate", str(folder), "--out", str(out))
    assert taken.returncode == 1 and "already exists; use --force" in taken.stderr


def _values(sheet) -> list[list[object]]:
    """Cell values; an empty text cell reads back as None after a save (the same to a plan)."""
    return [["" if v is None else v for v in r] for r in sheet.iter_rows(values_only=True)]


def test_calibrate_a_workbook_replaces_its_sheets_and_keeps_the_others(tmp_path):
    tables = _tables()
    tables["unit_costs"] = pd.DataFrame(columns=["location_code", "sector_code",
                                                 "unit_cost_usd", "weight", "origin", "note"])
    write_template(tables, tmp_path / "wb")
    book = tmp_path / "wb" / "plan.xlsx"
    before = openpyxl.load_workbook(book)
    names = before.sheetnames
    kept = {n: _values(before[n]) for n in names if n not in ("unit_costs", "cost_curve")}
    result = _cli("plan", "calibrate", str(book))
    assert result.returncode == 0, result.stderr
    after = openpyxl.load_workbook(book)
    assert after.sheetnames[: len(names)] == names  # same sheets, same order
    for name, rows in kept.items():
        assert _values(after[name]) == rows, name
    rows = list(after["unit_costs"].iter_rows(values_only=True))
    assert rows[0][:3] == ("location_code", "sector_code", "unit_cost_usd")
    costs = {(r[0], r[1]): r[2] for r in rows[1:]}
    assert costs[("POL", "WASH")] == pytest.approx(M * 200 / 400, rel=1e-14)
    assert [r[2] for r in after["cost_curve"].iter_rows(min_row=2, values_only=True)] == [
        1, 1.25, 1.6, 2.2]
    assert not list((tmp_path / "wb").glob(".*.tmp"))  # no temporary file left
    assert _cli("validate", str(book)).returncode == 0


def test_no_targets_is_an_error_without_traceback(tmp_path):
    folder = _folder(tmp_path, targets=False)
    result = _cli("plan", "calibrate", str(folder))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ")
    assert "unit_costs.csv: no unit costs and no people targeted" in result.stderr
    assert not (folder / "unit_costs.csv").exists()
    # allocate refuses it too, saying what to add
    refused = _cli("allocate", str(folder), "--funding", "60%")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "unit_costs" in refused.stderr and refused.stderr.startswith("error:")


def test_a_plan_with_targets_but_no_unit_costs_is_calibrated_on_load(tmp_path):
    folder = _folder(tmp_path)
    result = _cli("allocate", str(folder), "--funding", "100%", "--json")
    assert result.returncode == 0, result.stderr
    assert "warning:" in result.stderr and "no unit costs: calibrated on its targets" in (
        result.stderr)
    assert f"reachplan plan calibrate {folder}" in result.stderr
    data = json.loads(result.stdout)
    assert not (folder / "unit_costs.csv").exists()  # loading writes nothing
    # full funding reaches the targets of 2024: POL 400, MDA 300
    cov = {(r["location_code"], r["year"]): r["people_reached"]
           for r in data["coverage_by_location_year"]}
    assert cov[("POL", 2024)] == pytest.approx(400.0, rel=0.01)
    assert cov[("MDA", 2024)] == pytest.approx(300.0, rel=0.01)


@pytest.mark.skipif(
    "sector_code" not in TABLES_BY_NAME["populations"].column_names,
    reason="populations has no sector_code column yet (plan format change)",
)
def test_cluster_targets_in_a_csv_plan_give_each_cluster_its_unit_cost(tmp_path):
    folder = _folder(tmp_path)
    pops = pd.read_csv(folder / "populations.csv", keep_default_na=False)
    pops["sector_code"] = ""
    extra = pd.DataFrame({"location_code": ["POL", "POL"], "year": [2024, 2024],
                          "population_status": ["targeted", "targeted"],
                          "population": [300.0, 100.0], "origin": ["source"] * 2,
                          "note": [""] * 2, "sector_code": ["WASH", "HEALTH"]})
    pd.concat([pops, extra]).to_csv(folder / "populations.csv", index=False)
    result = _cli("plan", "calibrate", str(folder), "--json")
    assert result.returncode == 0, result.stderr
    lines = {(d["location_code"], d["sector_code"]): d for d in json.loads(result.stdout)["lines"]}
    # POL WASH: m x 100 / 300; HEALTH: m x 100 / 100 (cluster targets, no overlap division)
    assert lines[("POL", "WASH")]["rule"] == "cluster target"
    assert lines[("POL", "WASH")]["unit_cost_usd"] == pytest.approx(M * 100 / 300, rel=1e-14)
    assert lines[("POL", "HEALTH")]["unit_cost_usd"] == pytest.approx(M, rel=1e-14)
    assert lines[("MDA", "WASH")]["rule"] == "location target"
