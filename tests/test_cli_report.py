"""`reachplan report`: writes the report files, with the numbers of `reachplan run --json`."""

from __future__ import annotations

import json

import openpyxl
import pytest
from click.testing import CliRunner

from reachplan.cli import main

SCENARIO = "shortfall_50"
DRAWS = "50"


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("report")
    result = CliRunner().invoke(main, ["report", SCENARIO, "--draws", DRAWS, "--out", str(out),
                                       "--ladder-step", "0.5", "--png", "--quiet"])
    return out, result


def test_report_writes_every_file(written):
    out, result = written
    assert result.exit_code == 0, result.output
    assert str(out / "report.html") in result.output
    for name in ("report.html", "report.xlsx", "report.json", "tables/scenarios.csv",
                 "tables/allocation.csv", "tables/provenance.csv", "png/people_reached.png",
                 "png/funding_ladder.png"):
        assert (out / name).stat().st_size > 0, name
    assert not list(out.rglob("*.tmp"))


def test_report_numbers_equal_run_json(written, tmp_path):
    out, _ = written
    run = CliRunner().invoke(main, ["run", SCENARIO, "--draws", DRAWS, "--json", "--quiet",
                                    "--out", str(tmp_path)])
    assert run.exit_code == 0, run.output
    # `run` writes the report by default, next to its chunks
    assert (tmp_path / "report.html").exists() and (tmp_path / "report.xlsx").exists()
    expected = json.loads(run.stdout)["scenarios"][0]
    doc = json.loads((out / "report.json").read_text())
    row = doc["tables"]["scenarios"][0]
    for key in ("funding_usd", "allocated_usd_mean", "people_reached_mean",
                "people_reached_p10", "people_reached_p50", "people_reached_p90"):
        assert row[key] == expected[key], key
    cells = {(c["location_code"], c["sector_code"], c["year"]): c["mean_allocated_usd"]
             for c in expected["cells"]}
    got = {(c["location_code"], c["sector_code"], c["year"]): c["mean_allocated_usd"]
           for c in doc["tables"]["allocation"]}
    assert got == cells
    wb = openpyxl.load_workbook(out / "report.xlsx", read_only=True)
    header, first = list(wb["scenarios"].iter_rows(max_row=2, values_only=True))
    values = dict(zip(header, first, strict=True))
    assert values["people_reached_mean"] == pytest.approx(expected["people_reached_mean"],
                                                          rel=1e-14)
    html = (out / "report.html").read_text()
    assert f"{expected['people_reached_mean']:,.0f}" in html


def test_report_records_the_plan_files_hash(written):
    out, _ = written
    prov = json.loads((out / "report.json").read_text())["tables"]["provenance"]
    hashes = [r["value"] for r in prov if r["section"] == "plan" and r["item"] == "files SHA-256"]
    assert len(hashes) == 1 and len(hashes[0]) == 64


def test_report_needs_out():
    result = CliRunner().invoke(main, ["report", SCENARIO])
    assert result.exit_code == 2
    assert "--out" in result.output


def test_report_unknown_scenario_fails_with_reason(tmp_path):
    result = CliRunner().invoke(main, ["report", "no_such_scenario", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "no_such_scenario" in result.output
    assert not (tmp_path / "report.html").exists()


def test_hxl_row_can_be_left_out(written, tmp_path):
    out, _ = written
    with_tags = (out / "tables" / "scenarios.csv").read_text().splitlines()
    assert with_tags[1].startswith("#")
    result = CliRunner().invoke(main, ["report", SCENARIO, "--draws", DRAWS, "--out", str(out),
                                       "--ladder-step", "0.5", "--quiet", "--no-hxl"])
    assert result.exit_code == 0, result.output
    without = (out / "tables" / "scenarios.csv").read_text().splitlines()
    assert without[0] == with_tags[0]
    assert not without[1].startswith("#")
