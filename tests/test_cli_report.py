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


# ---- a report on the tiny plan: views, money, sections, the reproduce line ------------------

TINY_SCENARIO = """name = "tiny60"
description = "60% of the tiny appeal"
plan = "plan"
seed = 3
draws = 4

[funding]
funding = "60%"
"""


def _cli(*args: str, cwd):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "reachplan.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory: pytest.TempPathFactory):
    from reachplan.reports.plan_files import write_plan_tables
    from tests.conftest import tiny_tables

    root = tmp_path_factory.mktemp("tiny-report")
    write_plan_tables(tiny_tables(), root / "inputs" / "plan")
    (root / "inputs" / "tiny60.toml").write_text(TINY_SCENARIO)
    # run from inputs/ with a relative scenario path and the plan from its `plan =` line
    res = _cli("report", "tiny60.toml", "--out", str(root / "first"), "--ladder-step", "0.5",
               "--quiet", cwd=root / "inputs")
    assert res.returncode == 0, res.stderr
    return root


def _csv(path):
    import pandas as pd

    return pd.read_csv(path, skiprows=[1], keep_default_na=False, dtype=str)


def test_tiny_report_sector_and_country_tables_add_up(tiny_report):
    import pandas as pd

    tables = tiny_report / "first" / "tables"
    read = {name: pd.read_csv(tables / f"{name}.csv", skiprows=[1])
            for name in ("allocation", "allocation_by_country", "allocation_by_sector")}
    total = read["allocation"]["mean_allocated_usd"].sum()
    assert total == pytest.approx(330, abs=0.05)  # 60% of $550, every line at cents
    for name in ("allocation_by_country", "allocation_by_sector"):
        assert read[name]["mean_allocated_usd"].sum() == pytest.approx(total, abs=0.05)
        assert read[name]["requirements_usd"].sum() == 550
    assert sorted(read["allocation_by_sector"]["sector_code"].unique()) == ["HEALTH", "WASH"]
    assert not (tables / "allocation_by_subnational.csv").exists()


def test_tiny_report_csv_money_has_at_most_two_decimals(tiny_report):
    from reachplan.reports.views import is_money_amount

    checked = 0
    for path in (tiny_report / "first" / "tables").glob("*.csv"):
        frame = _csv(path)
        for col in frame.columns:
            if is_money_amount(col):
                checked += 1
                decimals = [len(v.split(".")[1]) for v in frame[col] if "." in v]
                assert max(decimals, default=0) <= 2, (path.name, col)
    assert checked >= 8


def test_tiny_report_xlsx_money_is_whole_dollars(tiny_report):
    from reachplan.reports.views import is_money_amount

    wb = openpyxl.load_workbook(tiny_report / "first" / "report.xlsx")
    checked = 0
    for ws in wb.worksheets[1:]:
        header = [c.value for c in ws[1]]
        for j, name in enumerate(header, start=1):
            if not is_money_amount(str(name)):
                continue
            for (cell,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                if cell.value is None:
                    continue
                checked += 1
                assert cell.number_format == "#,##0", (ws.title, name)
                assert float(cell.value).is_integer(), (ws.title, name, cell.value)
    assert checked >= 20
    assert "allocation_by_sector" in wb.sheetnames
    assert "allocation_by_subnational" not in wb.sheetnames
    assert "cost_index" not in wb.sheetnames  # the tiny plan has no sector cost index


def test_tiny_report_leaves_out_sections_that_do_not_apply(tiny_report):
    page = (tiny_report / "first" / "report.html").read_text()
    html = page.split("<main>")[1].split("</main>")[0]  # the text, not the plotly bundle
    assert "Mean allocation by sector (all years)" in html
    assert "Mean allocation by country (all years)" in html
    # no entity lines in the tiny plan, no sub-national lines, no cost index
    assert "entities" not in html.lower()
    assert "sub-national" not in html
    assert "Sector cost index sensitivity" not in html


def test_reproduce_line_works_as_printed(tiny_report):
    import re
    import shlex

    html = (tiny_report / "first" / "report.html").read_text()
    import html as html_module

    printed = html_module.unescape(re.search(r"<code id='reproduce'>([^<]*)</code>",
                                             html).group(1))
    args = shlex.split(printed)
    assert args[:2] == ["reachplan", "report"]
    elsewhere = tiny_report / "elsewhere"
    elsewhere.mkdir()
    res = _cli(*args[1:], cwd=elsewhere)  # the printed command, from another directory
    assert res.returncode == 0, res.stderr
    again = elsewhere / "reproduced-report" / "tables"
    first = tiny_report / "first" / "tables"
    names = sorted(p.name for p in first.glob("*.csv"))
    assert names == sorted(p.name for p in again.glob("*.csv"))
    for name in names:
        if name == "provenance.csv":
            continue
        assert (again / name).read_text() == (first / name).read_text(), name
    prov = _csv(again / "provenance.csv")
    assert prov.loc[prov["item"] == "reproduce", "value"].item() == printed


def test_compare_shows_sectors_beside_countries(tiny_report):
    scen30 = tiny_report / "inputs" / "tiny30.toml"
    scen30.write_text(TINY_SCENARIO.replace("tiny60", "tiny30").replace("60%", "30%"))
    res = _cli("compare", "tiny60.toml", "tiny30.toml", "--out", str(tiny_report / "cmp"),
               "--quiet", cwd=tiny_report / "inputs")
    assert res.returncode == 0, res.stderr
    labels = [line.split("  ")[0].strip() for line in res.stdout.splitlines()]
    for label in ("country MDA (USD M)", "country POL (USD M)", "sector WASH (USD M)",
                  "sector HEALTH (USD M)"):
        assert label in labels, label


def test_comparison_frame_sector_and_country_rows_sum_to_the_allocation(tiny_report):
    from reachplan.reports.scenario_report import comparison_frame
    from reachplan.scenarios.plan_io import load_plan
    from reachplan.scenarios.scenario_io import load_scenario
    from reachplan.scenarios.simulation_io import load_initial_state
    from reachplan.solver.batch import run_scenario

    plan = load_plan(tiny_report / "inputs" / "plan").plan
    scenario = load_scenario(tiny_report / "inputs" / "tiny60.toml")
    run = run_scenario(plan, scenario, load_initial_state())
    frame = comparison_frame([run], plan)["tiny60"]
    countries = frame[[i for i in frame.index if i.startswith("country ")]]
    sectors = frame[[i for i in frame.index if i.startswith("sector ")]]
    assert len(countries) == 2 and len(sectors) == 2
    # 60% of the $550 appeal, in USD millions
    assert frame["allocated, mean (USD M)"] == pytest.approx(330e-6, rel=1e-6)
    assert countries.sum() == pytest.approx(frame["allocated, mean (USD M)"], rel=1e-12)
    assert sectors.sum() == pytest.approx(frame["allocated, mean (USD M)"], rel=1e-12)


def test_run_report_on_two_workers_is_the_report_on_one(tmp_path):
    """`run --workers 2` lends idle workers to the report (ReportWork): same report.json."""
    import json

    from reachplan.reports.plan_files import write_plan_tables
    from tests.conftest import tiny_tables

    write_plan_tables(tiny_tables(), tmp_path / "plan")
    names = []
    for name, funding in (("a", "60%"), ("b", "85%"), ("c", "40%")):
        text = (TINY_SCENARIO.replace('name = "tiny60"', f'name = "{name}"')
                .replace("draws = 4", "draws = 120").replace('funding = "60%"',
                                                             f'funding = "{funding}"'))
        assert f'name = "{name}"' in text and "draws = 120" in text
        (tmp_path / f"{name}.toml").write_text(text)
        names.append(f"{name}.toml")
    reports = {}
    for workers in ("1", "2"):
        out = tmp_path / f"out{workers}"
        res = _cli("run", *names, "--workers", workers, "--out", str(out), "--quiet",
                   cwd=tmp_path)
        assert res.returncode == 0, res.stderr
        payload = json.loads((out / "report.json").read_text())
        payload.pop("created")
        payload["tables"]["provenance"] = [
            row for row in payload["tables"]["provenance"] if "created" not in json.dumps(row)]
        reports[workers] = payload
    assert reports["2"] == reports["1"]
    assert reports["1"]["tables"]["funding_ladder"]  # the ladders are in both
