import json

import pytest
from click.testing import CliRunner

from reachplan.cli import main


@pytest.fixture(scope="module")
def runner():
    return CliRunner()


@pytest.fixture(scope="module")
def default_60(runner):
    return runner.invoke(main, ["allocate", "--funding", "60%", "--json"])


def test_allocate_json_on_default_plan(default_60):
    assert default_60.exit_code == 0, default_60.output
    data = json.loads(default_60.stdout)
    assert data["funding_usd"] == pytest.approx(0.6 * 1_500_031_731.18, abs=1)
    assert abs(data["allocated_usd"] - data["funding_usd"]) <= 1
    assert data["people_reached"] > data["pro_rata_people_reached"]
    assert len(data["cells"]) == 780
    cell = data["cells"][0]
    assert {"location_code", "sector_code", "year", "allocated_usd", "people_reached"} <= set(cell)
    assert sum(c["allocated_usd"] for c in data["cells"]) == pytest.approx(data["allocated_usd"])
    assert len(data["provenance"]["plan_fingerprint"]) == 64


def test_allocate_summary_and_out_dir(runner, tmp_path):
    res = runner.invoke(main, ["allocate", "--funding", "USD 300m", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "Pro-rata" in res.stdout and "$300.0M" in res.stdout
    assert (tmp_path / "cells.csv").exists()


def test_bad_funding_is_a_usage_error(runner):
    res = runner.invoke(main, ["allocate", "--funding", "lots"])
    assert res.exit_code == 2
    assert "--funding" in res.output


def test_year_not_in_plan_is_a_usage_error_naming_funding(runner):
    res = runner.invoke(main, ["allocate", "--funding", "2030=50%"])
    assert res.exit_code == 2
    assert "2030" in res.stderr and "--funding" in res.stderr
    assert "Traceback" not in res.output


def test_missing_plan_exits_1(runner, tmp_path):
    res = runner.invoke(main, ["allocate", str(tmp_path / "nope")])
    assert res.exit_code == 1


@pytest.mark.slow
def test_frontier_target_people(runner):
    res = runner.invoke(main, ["frontier", "--target-people", "2000000", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["allocation"]["people_reached"] >= 2_000_000
    assert 0 < data["share"] < 0.5


def test_help_has_examples(runner):
    for cmd in ("allocate", "frontier", "check"):
        res = runner.invoke(main, [cmd, "--help"])
        assert res.exit_code == 0 and "Example" in res.output


def test_check_on_a_small_plan_and_infeasible_scenario(runner, tmp_path):
    from reachplan.reports.plan_files import write_plan_tables
    from tests.solver.conftest import HAND_CELLS, HAND_COSTS, HAND_NEED, make_plan

    plan = make_plan(HAND_CELLS, HAND_COSTS, HAND_NEED, curve=((0.5, 1.0), (0.5, 1.5)))
    write_plan_tables(plan.tables, tmp_path / "plan")
    res = runner.invoke(main, ["check", str(tmp_path / "plan"), "--examples", "2", "--quiet"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["allocate", str(tmp_path / "plan"), "--funding", "USD 1m",
                               "--objective", "headcount", "--json"])
    assert res.exit_code == 0
    # headcount: $1M all to MDA HEALTH's first tranche at $50 a person
    assert json.loads(res.stdout)["people_reached"] == pytest.approx(20_000, rel=1e-6)
    res = runner.invoke(main, ["allocate", str(tmp_path / "plan"), "--funding", "USD 1m",
                               "--json"])
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    # priority (default): both locations get money; fewer people, every location covered
    by_loc = {}
    for c in data["cells"]:
        by_loc[c["location_code"]] = by_loc.get(c["location_code"], 0) + c["allocated_usd"]
    assert data["objective_kind"] == "priority"
    assert by_loc["MDA"] > 0 and by_loc["UKR"] > 0
    assert data["people_reached"] < 20_000


def test_funding_option_replaces_the_scenario_envelope_and_keeps_its_rules():
    from click.testing import CliRunner

    from reachplan.cli import main

    runner = CliRunner()
    own = runner.invoke(main, ["allocate", "--scenario", "scenarios/shortfall_50.toml", "--json"])
    assert own.exit_code == 0, own.output
    assert json.loads(own.stdout)["funding_usd"] == pytest.approx(0.5 * 1_500_031_731.18, rel=1e-9)
    other = runner.invoke(
        main,
        ["allocate", "--scenario", "scenarios/shortfall_50.toml", "--funding", "60%", "--json"],
    )
    assert json.loads(other.stdout)["funding_usd"] == pytest.approx(
        0.6 * 1_500_031_731.18, rel=1e-9
    )


def test_earmarks_beyond_a_small_envelope_are_named():
    from click.testing import CliRunner

    from reachplan.cli import main

    result = CliRunner().invoke(
        main, ["allocate", "--scenario", "scenarios/heavily_earmarked.toml", "--funding", "40%"]
    )
    assert result.exit_code == 1
    assert "exceed the flexible (non-earmarked) money by $" in result.output
    assert "Traceback" not in result.output


# ---- console views on the tiny plan (subprocess, stdout parsed) ----------------------------

def _tiny_dir(tmp_path):
    from pathlib import Path

    from reachplan.reports.plan_files import write_plan_tables
    from tests.conftest import tiny_tables

    directory = Path(tmp_path) / "tiny"
    write_plan_tables(tiny_tables(), directory)
    return directory


def _cli(*args: str, cwd=None):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "reachplan.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def _table(text: str, title: str) -> dict[str, list[str]]:
    """Rows of one console money table: first word -> the last five fields."""
    block = text.split(title + "\n")[1].split("\n\n")[0].splitlines()[1:]
    return {line.split()[0]: line.split()[-5:] for line in block}


def _usd(text: str) -> int:
    return int(text.replace("$", "").replace(",", ""))


def test_allocate_prints_country_and_sector_tables_that_add_up(tmp_path):
    plan = _tiny_dir(tmp_path)
    res = _cli("allocate", str(plan), "--funding", "60%")
    assert res.returncode == 0, res.stderr
    countries = _table(res.stdout, "By country, all years:")
    sectors = _table(res.stdout, "By sector, all years:")
    assert set(countries) == {"MDA", "POL", "total"}
    assert set(sectors) == {"WASH", "HEALTH", "total"}
    # requirements by hand: MDA 200 + 150, POL 100 + 100; WASH 100 + 200 + 150, HEALTH 100
    assert [_usd(countries[c][0]) for c in ("MDA", "POL", "total")] == [350, 200, 550]
    assert [_usd(sectors[s][0]) for s in ("WASH", "HEALTH", "total")] == [450, 100, 550]
    # 60% of $550 is allocated; both tables' totals say so
    assert "Allocated: $330" in res.stdout
    assert _usd(countries["total"][1]) == _usd(sectors["total"][1]) == 330


def test_allocate_says_how_to_get_unfunded_csv(tmp_path):
    plan = _tiny_dir(tmp_path)
    res = _cli("allocate", str(plan), "--funding", "10%")
    assert res.returncode == 0, res.stderr
    line = next(x for x in res.stdout.splitlines() if x.startswith("Lines reaching people"))
    assert "see unfunded.csv" not in line and "--out DIR" in line
    out = tmp_path / "csv"
    res = _cli("allocate", str(plan), "--funding", "10%", "--out", str(out))
    line = next(x for x in res.stdout.splitlines() if x.startswith("Lines reaching people"))
    assert f"see {out / 'unfunded.csv'}" in line
    assert (out / "unfunded.csv").read_text().count("\n") == 2  # header and one line
