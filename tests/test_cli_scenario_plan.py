"""Every command honours a scenario's ``plan =``; an explicit PLAN wins, with a warning.

Run in a subprocess, so stdout and stderr are what a script sees.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scenarios.test_scenario_check import tiny_plan

REPO = Path(__file__).resolve().parents[1]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "reachplan.cli", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Path:
    from reachplan.reports.plan_files import write_plan_tables

    root = tmp_path_factory.mktemp("plan_eq")
    write_plan_tables(tiny_plan().tables, root / "tiny")
    path = root / "s.toml"
    path.write_text('name = "s"\nplan = "tiny"\n[funding]\nfunding = "60%"\n'
                    '[[funding.floors]]\nname = "health"\nshare = 0.5\ncluster = "HEA"\n')
    return path


def test_allocate_runs_on_the_scenarios_plan(scenario, tmp_path):
    result = _cli("allocate", "--scenario", str(scenario), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["funding_usd"] == pytest.approx(0.6 * 550.0, abs=1e-9)  # the tiny appeal
    assert "warning" not in result.stderr


def test_an_explicit_plan_wins_with_a_warning_naming_both(scenario, tmp_path):
    shipped = REPO / "scenarios" / "default_plan"
    result = _cli("allocate", str(shipped), "--scenario", str(scenario), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["funding_usd"] > 1e8  # the default plan's appeal
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert str(scenario) in warnings[0] and str(shipped) in warnings[0]
    assert str(scenario.parent / "tiny") in warnings[0]


@pytest.mark.parametrize("command", [["check"], ["frontier", "--step", "0.5"]])
def test_check_and_frontier_run_on_the_scenarios_plan(scenario, tmp_path, command):
    result = _cli(*command, "--scenario", str(scenario), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "UKR" not in result.stdout
