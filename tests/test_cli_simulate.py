"""Tests of the simulate and calibrate commands (in-process)."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from reachplan.cli import main

DATA = Path(__file__).resolve().parents[1] / "scenarios" / "data"


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_simulate_prints_a_summary():
    result = invoke("simulate", "--draws", "300", "--seed", "1", "--quiet")
    assert result.exit_code == 0, result.output
    assert "IDPs in Ukraine" in result.output and "2026-12" in result.output


def test_simulate_csv_is_reproducible_and_seed_dependent():
    args = ["simulate", "--draws", "200", "--months", "12", "--format", "csv", "--quiet"]
    first = invoke(*args, "--seed", "5")
    again = invoke(*args, "--seed", "5")
    other = invoke(*args, "--seed", "6")
    assert first.exit_code == 0
    assert first.output == again.output
    assert first.output != other.output
    frame = pd.read_csv(io.StringIO(first.output), dtype={"month": str})
    assert list(frame.columns)[:9] == [
        "series", "location_code", "month", "p05", "p10", "p50", "p90", "p95", "mean",
    ]
    assert frame.month.max() == "2024-12"


def test_simulate_start_and_out(tmp_path):
    result = invoke(
        "simulate", "--draws", "100", "--seed", "2", "--start", "2024-12", "--months", "24",
        "--out", str(tmp_path / "run"), "--quiet",
    )
    assert result.exit_code == 0, result.output
    needs = pd.read_csv(tmp_path / "run" / "needs_per_draw.csv")
    assert {"draw", "location_code", "year", "people_in_need"} <= set(needs.columns)
    assert set(needs.year) == {2025, 2026}
    assert needs.draw.nunique() == 100


def test_bad_scenario_exits_1_naming_file_and_key(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[simulation.rates]\nidp_retrun = 0.01\n")
    result = invoke("simulate", "--draws", "10", "--seed", "1", "--scenario", str(path))
    assert result.exit_code == 1
    assert "simulation.rates.idp_retrun" in result.output
    assert str(path) in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_negative_rate_exits_1(tmp_path):
    path = tmp_path / "neg.toml"
    path.write_text("[simulation.rates]\nrefugee_return = -0.5\n")
    result = invoke("simulate", "--draws", "10", "--seed", "1", "--scenario", str(path))
    assert result.exit_code == 1 and "simulation.rates.refugee_return" in result.output


def test_start_before_the_initial_state_exits_1():
    result = invoke("simulate", "--draws", "10", "--seed", "1", "--start", "2022-01")
    assert result.exit_code == 1 and "before the initial state" in result.output


def test_usage_errors_exit_2():
    assert invoke("simulate", "--draws", "10").exit_code == 2  # no seed
    assert invoke("simulate", "--seed", "1", "--format", "xml").exit_code == 2
    assert invoke("simulate", "--seed", "1", "--draws", "0").exit_code == 2
    assert invoke("calibrate").exit_code == 2


def test_help_shows_examples():
    for command in ("simulate", "calibrate"):
        result = invoke(command, "--help")
        assert result.exit_code == 0 and "Example" in result.output


def test_calibrate_reports_the_three_scores():
    result = invoke(
        "calibrate", str(DATA / "displacement_history_2022_2023.csv"),
        str(DATA / "plan_key_figures_2023_12.csv"),
        "--fit-from", "2022-09", "--holdout-from", "2022-12", "--draws", "300", "--seed", "1",
    )
    assert result.exit_code == 0, result.output
    assert "averaged relative difference" in result.output
    assert "MASE" in result.output
    assert "coverage of 80% intervals" in result.output
    assert "coverage of 95% intervals" in result.output
    assert 'idp_return = { dist = "lognormal"' in result.output


def test_calibrate_malformed_csv_exits_1_with_row_and_column(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text(
        "series,location,date,value,source\n"
        "idp_gps_iom,Ukraine,2022-10-01,6000000,a\n"
        "idp_gps_iom,Ukraine,2022-11-01,six million,b\n"
    )
    result = invoke("calibrate", str(path))
    assert result.exit_code == 1
    assert f"{path}: row 3, column value" in result.output
    assert "Traceback" not in result.output


def test_calibrate_missing_file_exits_1(tmp_path):
    result = invoke("calibrate", str(tmp_path / "nope.csv"))
    assert result.exit_code == 1 and "file not found" in result.output
