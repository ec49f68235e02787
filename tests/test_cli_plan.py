"""The plan commands as a planner runs them: validate, template, plan show, plan export."""

import csv
import io
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reachplan.cli import main
from reachplan.scenarios.build_plan.default_plan import read_document_tables
from reachplan.scenarios.plan_io import DEFAULT_PLAN_DIR


@pytest.fixture(scope="module")
def runner():
    return CliRunner()


def test_validate_default_plan_lists_contradictions(runner):
    result = runner.invoke(main, ["validate"])
    assert result.exit_code == 0, result.output
    assert "valid (13 warning(s))" in result.output
    assert "so3_total: the document states $215,500,000" in result.output


def test_export_reproduces_the_documents_tables(runner):
    result = runner.invoke(main, ["plan", "export", "--format", "csv"])
    assert result.exit_code == 0
    frame = pd.read_csv(io.StringIO(result.output))
    assert {
        "location_code",
        "sector_code",
        "year",
        "objective",
        "requirements_usd",
        "origin",
    } <= set(frame.columns)
    assert set(frame["origin"]) == {"source", "derived"}
    assert not frame.duplicated(["location_code", "sector_code", "year", "objective"]).any()
    doc = read_document_tables()
    by = frame.groupby(["objective", "region", "year"])["requirements_usd"].sum()
    for _, r in doc.objective_region_year[doc.objective_region_year["year"] > 2024].iterrows():
        assert round(by[(r["objective"], r["region"], r["year"])]) == r["requirements_usd"]
    by_loc = frame[frame["year"] == 2024].groupby("location_code")["requirements_usd"].sum()
    for _, r in doc.country_requirements.dropna(subset=["requirements_usd"]).iterrows():
        assert round(by_loc[r["location_code"]]) == r["requirements_usd"]


def test_export_with_hxl_row(runner):
    result = runner.invoke(main, ["plan", "export", "--hxl"])
    rows = list(csv.reader(io.StringIO(result.output)))
    assert rows[1][:2] == ["#country+code", "#sector+code"]


def test_plan_show_has_the_document_panels(runner):
    result = runner.invoke(main, ["plan", "show"])
    assert result.exit_code == 0
    assert "$150,950,000" in result.output  # SO1 Ukraine 2025
    assert "$55,149,820" in result.output  # Moldova 2024
    assert "1,894,125" in result.output  # people targeted 2024


def test_template_then_validate(runner, tmp_path):
    out = tmp_path / "mine"
    result = runner.invoke(main, ["template", str(out)])
    assert result.exit_code == 0
    assert (out / "plan.xlsx").exists() and (out / "requirements.csv").exists()
    again = runner.invoke(main, ["template", str(out)])
    assert again.exit_code == 1 and "already exists" in again.output
    assert runner.invoke(main, ["validate", str(out / "plan.xlsx")]).exit_code == 0
    empty = runner.invoke(main, ["template", str(tmp_path / "e"), "--empty"])
    assert empty.exit_code == 0
    bad = runner.invoke(main, ["validate", str(tmp_path / "e")])
    assert bad.exit_code == 1 and "no requirement rows" in bad.output


def test_unreadable_plan_exits_1_without_traceback(runner, tmp_path):
    result = runner.invoke(main, ["plan", "show", str(tmp_path / "missing")])
    assert result.exit_code == 1
    assert "no such file or directory" in result.output
    assert "Traceback" not in result.output
    assert runner.invoke(main, ["plan", "export", "--format", "xml"]).exit_code == 2


# ---- corrupted copies of the default plan --------------------------------------------------


def _corrupt(directory: Path, kind: str, row: int) -> tuple[str, int, str]:
    """Damage one cell; return (file name, spreadsheet row, column) the message must name."""
    if kind in (
        "negative",
        "text_money",
        "unknown_sector",
        "unknown_location",
        "duplicate",
        "bad_origin",
        "bad_year",
    ):
        path = directory / "requirements.csv"
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        i = row % len(frame)
        column = {
            "negative": "requirements_usd",
            "text_money": "requirements_usd",
            "unknown_sector": "sector_code",
            "unknown_location": "location_code",
            "duplicate": "objective",
            "bad_origin": "origin",
            "bad_year": "year",
        }[kind]
        if kind == "negative":
            frame.loc[i, column] = "-" + frame.loc[i, column]
        elif kind == "text_money":
            frame.loc[i, column] = "about 5 million"
        elif kind == "unknown_sector":
            frame.loc[i, column] = "NOPE"
        elif kind == "unknown_location":
            frame.loc[i, column] = "QQQ"
        elif kind == "bad_origin":
            frame.loc[i, column] = "guess"
        elif kind == "bad_year":
            frame.loc[i, column] = "twenty"
        else:
            frame = pd.concat([frame, frame.iloc[[i]]], ignore_index=True)
            i = len(frame) - 1
        frame.to_csv(path, index=False)
        return "requirements.csv", i + 2, column
    if kind == "nesting":
        path = directory / "populations.csv"
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        targeted = frame.index[frame["population_status"] == "targeted"]
        i = targeted[row % len(targeted)]
        frame.loc[i, "population"] = "99999999"
        frame.to_csv(path, index=False)
        return "populations.csv", i + 2, "population"
    if kind == "missing_column":
        path = directory / "sectors.csv"
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame.drop(columns=["sector_name"]).to_csv(path, index=False)
        return "sectors.csv", -1, "sector_name"
    raise AssertionError(kind)


KINDS = [
    "negative",
    "text_money",
    "unknown_sector",
    "unknown_location",
    "duplicate",
    "bad_origin",
    "bad_year",
    "nesting",
    "missing_column",
]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kind=st.sampled_from(KINDS), row=st.integers(0, 10_000))
def test_corrupted_copies_exit_1_naming_file_row_and_column(runner, tmp_path_factory, kind, row):
    directory = tmp_path_factory.mktemp("corrupt") / "plan"
    shutil.copytree(DEFAULT_PLAN_DIR, directory, ignore=shutil.ignore_patterns("source"))
    name, line, column = _corrupt(directory, kind, row)
    result = runner.invoke(main, ["validate", str(directory)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    where = f"{name}, row {line}, column {column}" if line > 0 else f"{name}, column {column}"
    assert where in result.output, result.output


def test_plan_show_has_a_sector_table_in_a_subprocess(tmp_path):
    import subprocess
    import sys

    from reachplan.reports.plan_files import write_plan_tables
    from tests.conftest import tiny_tables

    write_plan_tables(tiny_tables(), tmp_path / "tiny")
    res = subprocess.run([sys.executable, "-m", "reachplan.cli", "plan", "show",
                          str(tmp_path / "tiny")], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    block = res.stdout.split("Requirement by sector and year (USD)\n")[1].split("\n\n")[0]
    rows = {line.split()[0]: line.split()[-2:] for line in block.splitlines()[1:]}
    # by hand: WASH 100 + 200 in 2024, 150 in 2025; HEALTH 50 + 50 in 2024
    assert rows == {"WASH": ["$300", "$150"], "HEALTH": ["$100", "$0"],
                    "total": ["$400", "$150"]}
    country = res.stdout.split("Requirement by country and year (USD)\n")[1].split("\n\n")[0]
    assert country.splitlines()[-1].split() == ["total", "$400", "$150"]
