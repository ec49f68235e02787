"""The command-line contract, checked in a subprocess (what C libraries print is seen).

stdout is data: every ``--json`` output parses with ``json.loads`` (strict: no NaN);
errors are exit 1 with one line naming the file; usage errors exit 2; a failed command
leaves nothing behind in --out.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reachplan.scenarios.plan_io import DEFAULT_PLAN_DIR

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "reachplan.cli", *args],
        capture_output=True, text=True, env=env, cwd=cwd or ROOT, timeout=600,
    )


def strict_json(text: str) -> object:
    def no_constant(name: str) -> object:
        raise AssertionError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=no_constant)


def one_error_line(res: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in res.stderr, res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("args", "keys"),
    [
        (["allocate", "--funding", "60%", "--json"], {"allocated_usd", "warnings", "cells"}),
        (["simulate", "--draws", "50", "--seed", "1", "--json"],
         {"provenance", "stocks", "people_in_need", "percentiles"}),
        (["check", "--examples", "1", "--json"], {"ok", "invariants"}),
        (["frontier", "--step", "0.5", "--json"], {"levels", "first_funded"}),
        (["robust", "shortfall_60", "--planning-draws", "2", "--evaluation-draws", "10",
          "--replicates", "1",
          "--json"], {"plans", "value_of_planning_with_simulation"}),
    ],
    ids=["allocate", "simulate", "check", "frontier", "robust"],
)
def test_json_on_stdout_parses(args, keys):
    res = cli(*args)
    assert res.returncode == 0, res.stderr
    data = strict_json(res.stdout)
    assert keys <= set(data)


def test_run_json_parses_and_progress_is_not_on_stdout(tmp_path):
    res = cli("run", "shortfall_60", "--draws", "20", "--no-report", "--json",
              "--out", str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    data = strict_json(res.stdout)
    assert [s["name"] for s in data["scenarios"]] == ["shortfall_60"]
    run = data["scenarios"][0]
    assert run["draws"] == 20
    # model v2: coverage, unmet need per year (never summed over years), entities
    assert 0 < run["coverage_mean"] < 1
    assert sorted(run["unmet_need_by_year"]) == ["2024", "2025", "2026"]
    assert all(v > 0 for v in run["unmet_need_by_year"].values())
    assert run["entities_reached_mean"] > 0


def test_allocate_json_has_the_model_v2_keys():
    res = cli("allocate", "--funding", "60%", "--json")
    assert res.returncode == 0, res.stderr
    data = strict_json(res.stdout)
    assert 0 < data["coverage"] < 1
    first = data["coverage_by_location_year"][0]
    assert {"location_code", "year", "people_in_need", "people_reached", "coverage"} <= set(first)
    assert data["unique_people_reached"]["low"] <= data["unique_people_reached"]["high"]
    assert data["entities_reached"] == pytest.approx(sum(data["entities_reached_by_year"].values()))
    cell = data["cells"][0]
    assert {"sector_beneficiaries", "tier"} <= set(cell)
    kinds = {p["kind"] for p in data["shadow_prices"]}
    assert {"envelope", "cap"} <= kinds
    for price in data["shadow_prices"]:
        assert {"valid_from_usd", "valid_to_usd"} <= set(price)
        if price["one_sided"] and price["kind"] != "need":
            assert "people_per_1m_down" in price


def test_check_json_lists_each_invariant():
    res = cli("check", "--examples", "1", "--json", "--quiet")
    data = strict_json(res.stdout)
    assert res.returncode == (0 if data["ok"] else 1)
    assert data["invariants"]
    for item in data["invariants"]:
        assert set(item) == {"invariant", "examples", "ok", "violation", "minimal_example"}
        assert item["ok"] is (item["violation"] is None)


def test_simulate_json_and_csv_together_is_a_usage_error():
    res = cli("simulate", "--draws", "5", "--seed", "1", "--json", "--format", "csv")
    assert res.returncode == 2
    assert res.stdout == ""


def test_infeasible_run_names_the_file_and_leaves_nothing(tmp_path):
    scenario = tmp_path / "too_many_floors.toml"
    scenario.write_text(
        'name = "too_many_floors"\ndraws = 20\n[funding]\nfunding = "30%"\n'
        '[[funding.floors]]\nname = "everything"\nshare = 0.9\n'
    )
    out = tmp_path / "out"
    res = cli("run", str(scenario), "--draws", "20", "--json", "--out", str(out))
    assert res.returncode == 1
    line = one_error_line(res)
    assert str(scenario) in line and "infeasible" in line and "floor" in line
    assert res.stdout == ""
    assert not out.exists()


def test_contradictory_objective_bounds_are_infeasible_not_zero(tmp_path):
    scenario = tmp_path / "bounds.toml"
    scenario.write_text(
        'name = "bounds"\n[funding]\nfunding = "60%"\n'
        '[[funding.objective_bounds]]\nobjective = "SO1"\nmin_share = 0.9\n'
        '[[funding.objective_bounds]]\nobjective = "SO2"\nmin_share = 0.9\n'
    )
    res = cli("allocate", "--scenario", str(scenario), "--json")
    assert res.returncode == 1
    line = one_error_line(res)
    # refused when the file is read, naming the key, before any solve
    assert str(scenario) in line and "funding.objective_bounds" in line and "180%" in line
    assert res.stdout == ""


def test_funding_year_not_in_plan_is_a_usage_error():
    res = cli("allocate", "--funding", "2024=50%,2099=10%")
    assert res.returncode == 2
    assert "--funding" in res.stderr and "2099" in res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_target_people_must_be_finite(value):
    res = cli("frontier", "--target-people", value)
    assert res.returncode == 2
    assert "--target-people" in res.stderr
    assert "Traceback" not in res.stderr


def test_allocate_out_unwritable_is_one_line_and_writes_nothing(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    res = cli("allocate", "--funding", "60%", "--out", str(blocker / "sub"))
    assert res.returncode == 1
    line = one_error_line(res)
    assert str(blocker / "sub") in line
    assert res.stdout == ""
    assert blocker.read_text() == "not a directory"


def test_scenario_plan_is_honoured_by_allocate_and_frontier(tmp_path):
    scenario = tmp_path / "elsewhere.toml"
    scenario.write_text('name = "elsewhere"\nplan = "nope"\n[funding]\nfunding = "60%"\n')
    for command in (["allocate"], ["frontier"], ["check"]):
        res = cli(*command, "--scenario", str(scenario))
        assert res.returncode == 1, (command, res.stderr)
        line = one_error_line(res)
        assert str(tmp_path / "nope") in line, (command, line)


@pytest.mark.parametrize(
    "command",
    [["run", "--no-report", "--draws", "1"], ["report", "--draws", "1"], ["compare"],
     ["robust", "--planning-draws", "1", "--evaluation-draws", "1", "--replicates", "1"]],
    ids=["run", "report", "compare", "robust"],
)
def test_scenario_plan_is_honoured_by_the_suite_commands(tmp_path, command):
    scenario = tmp_path / "elsewhere.toml"
    scenario.write_text('name = "elsewhere"\nplan = "nope"\n[funding]\nfunding = "60%"\n')
    out = tmp_path / "out"
    out_args = [] if command[0] == "robust" else ["--out", str(out)]  # robust writes no files
    res = cli(command[0], str(scenario), *command[1:], *out_args)
    assert res.returncode == 1, (command, res.stderr)
    assert str(tmp_path / "nope") in one_error_line(res)
    assert not out.exists()


def test_the_plan_a_scenario_names_is_the_plan_allocated(tmp_path):
    plan = tmp_path / "renamed_plan"
    shutil.copytree(DEFAULT_PLAN_DIR, plan)
    settings = plan / "settings.csv"
    settings.write_text(settings.read_text().replace(
        "name,IOM Strategic Response Plan", "name,Renamed copy of the Strategic Response Plan", 1))
    scenario = tmp_path / "renamed.toml"
    scenario.write_text('name = "renamed"\nplan = "renamed_plan"\n[funding]\nfunding = "60%"\n')
    res = cli("allocate", "--scenario", str(scenario), "--json")
    assert res.returncode == 0, res.stderr
    provenance = strict_json(res.stdout)["provenance"]
    assert provenance["plan_name"].startswith("Renamed copy of the Strategic Response Plan")


def test_validate_caps_the_problems_printed_and_json_lists_all(tmp_path):
    plan = tmp_path / "plan"
    res = cli("template", str(plan))
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""  # "wrote N files" is a note, on stderr
    req = plan / "requirements.csv"
    lines = req.read_text().splitlines()
    bad = [",".join(["XXX", "NOPE", "2024", "SO9", "-1", "source", ""])] * 30
    req.write_text("\n".join([*lines, *bad]) + "\n")
    text = cli("validate", str(req.parent))
    assert text.returncode == 1
    problems = [x for x in text.stdout.splitlines() if x.startswith(("error:", "warning:"))]
    assert len(problems) == 20
    assert any(x.startswith("... and ") and x.endswith(" more") for x in text.stdout.splitlines())
    full = cli("validate", str(req.parent), "--json")
    data = strict_json(full.stdout)
    assert len(data["problems"]) > 20


def test_run_with_a_report_refuses_scenarios_on_different_plans(tmp_path):
    a = tmp_path / "a.toml"
    b = tmp_path / "b.toml"
    shutil.copytree(DEFAULT_PLAN_DIR, tmp_path / "plan_a")  # a copy: another plan path
    a.write_text('name = "a"\nplan = "plan_a"\n[funding]\nfunding = "60%"\n')
    b.write_text('name = "b"\n[funding]\nfunding = "60%"\n')
    out = tmp_path / "out"
    res = cli("run", str(a), str(b), "--draws", "1", "--out", str(out))
    assert res.returncode == 1
    line = one_error_line(res)
    assert "different plans" in line and str(tmp_path / "plan_a") in line
    assert not out.exists()


def test_draws_beyond_memory_are_refused_with_the_estimate_and_nothing_written(tmp_path):
    out = tmp_path / "out"
    res = cli("run", "shortfall_60", "--draws", "1000000000000", "--out", str(out))
    assert res.returncode == 1
    line = one_error_line(res)
    assert "1,000,000,000,000 draws need about" in line and "use at most" in line
    assert res.stdout == ""
    assert not out.exists()


def test_unreachable_dask_scheduler_is_one_line_and_nothing_written(tmp_path):
    pytest.importorskip("distributed")
    out = tmp_path / "out"
    res = cli("run", "shortfall_60", "--draws", "10", "--executor", "dask",
              "--scheduler", "tcp://127.0.0.1:9", "--out", str(out), "--no-report")
    assert res.returncode == 1
    line = one_error_line(res)
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in line
    assert not out.exists()
