"""A scenario's rules against the plan it runs on, in the library and on the command line.

The command-line tests run ``python -m reachplan.cli`` in a subprocess, so that stdout and stderr
are exactly what a script sees.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reachplan.model.funding import FundingError, Selector
from reachplan.model.plan import Plan
from reachplan.model.scenario import ScenarioError
from reachplan.scenarios.scenario_io import (
    check_against_plan,
    check_envelope_against_plan,
    load_scenario,
)
from tests.conftest import tiny_tables

REPO = Path(__file__).resolve().parents[2]

TINY_UNIT_COSTS = {("POL", "WASH"): 50.0, ("POL", "HEALTH"): 80.0, ("MDA", "WASH"): 40.0}


def tiny_plan() -> Plan:
    """The tiny fixture plan (POL/MDA, WASH/HEALTH, 2024-2025, SO1/SO2) with unit costs."""
    tables = tiny_tables()
    tables["unit_costs"] = pd.DataFrame(
        [(loc, sec, u, 1.0, "derived", "") for (loc, sec), u in TINY_UNIT_COSTS.items()],
        columns=["location_code", "sector_code", "unit_cost_usd", "weight", "origin", "note"],
    )
    tables["cost_curve"] = pd.DataFrame(
        [(1, 1.0, 1.0, "")], columns=["tranche", "share_of_requirement", "cost_factor", "note"]
    )
    return Plan.from_tables(tables, source="tiny")


@pytest.fixture(scope="module")
def plan() -> Plan:
    return tiny_plan()


def _scenario(tmp_path: Path, body: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text('name = "s"\n[funding]\nfunding = "60%"\n' + body)
    return path


@pytest.mark.parametrize(
    ("body", "key", "fragments"),
    [
        ('[[funding.floors]]\nshare = 0.4\nsectors = ["PROTECTION"]\n',
         "funding.floors[0].sectors", ["'PROTECTION'", "its sectors: WASH, HEALTH"]),
        ('[[funding.floors]]\nshare = 0.1\n[[funding.floors]]\nname = "b"\nshare = 0.4\n'
         'sector = "wash"\n',
         "funding.floors[1].sector", ["did you mean 'WASH'"]),
        ('[[funding.earmarks]]\namount = "USD 10"\nlocations = ["POL", "UKR"]\n',
         "funding.earmarks[0].locations", ["'UKR'", "MDA, POL"]),
        ('[[funding.caps]]\nfactor = 0.5\nyear = 2030\n', "funding.caps[0].year", ["2030"]),
        ('[[funding.exclusions]]\nobjective = "SO9"\n', "funding.exclusions[0].objective",
         ["'SO9'", "SO1, SO2"]),
        ('[[funding.weights]]\nweight = 2\nlocation = "XRS"\n', "funding.weights[0].location",
         ["'XRS'"]),
        ('[[funding.locks]]\namount = "USD 5"\nsectors = ["HEALTH"]\nyears = [2025]\n',
         "funding.locks[0]", ["selects no requirement line"]),
        ('[[funding.objective_bounds]]\nobjective = "SO3"\nmax_share = 0.5\n',
         "funding.objective_bounds[0].objective", ["'SO3'"]),
        ('[[funding.objective_bounds]]\nobjective = "SO1"\nmax_share = 0.5\n'
         '[[funding.objective_bounds]]\nobjective = "SO2"\nmax_share = 0.3\n',
         "funding.objective_bounds", ["add up to 80%"]),
        ('[[funding.earmarks]]\namount = "USD 200"\n[[funding.earmarks]]\namount = "USD 200"\n',
         "funding.earmarks", ["USD 400", "USD 330"]),
    ],
)
def test_rules_naming_what_the_plan_lacks_are_scenario_errors(tmp_path, plan, body, key,
                                                              fragments):
    path = _scenario(tmp_path, body)
    scenario = load_scenario(path)
    with pytest.raises(ScenarioError) as info:
        check_against_plan(scenario, plan)
    assert (info.value.file, info.value.key) == (str(path), key)
    text = str(info.value)
    assert text.startswith(f"{path}, key '{key}': ")
    for fragment in fragments:
        assert fragment in text
    assert "\n" not in text


def test_a_year_the_plan_lacks_in_the_envelope(tmp_path, plan):
    path = tmp_path / "s.toml"
    path.write_text('name = "s"\n[funding.funding]\nyears = { 2024 = "50%", 2099 = "10%" }\n')
    with pytest.raises(ScenarioError) as info:
        check_against_plan(load_scenario(path), plan)
    assert info.value.key == "funding.funding"
    assert "2099" in str(info.value) and "its years: 2024, 2025" in str(info.value)
    with pytest.raises(FundingError, match="2099"):
        check_envelope_against_plan(load_scenario(path).funding.envelope, plan)


def test_a_rule_from_an_extended_file_names_both_files(tmp_path, plan):
    base = _scenario(tmp_path, '[[funding.floors]]\nshare = 0.4\nsectors = ["PROTECTION"]\n',
                     "base.toml")
    child = tmp_path / "child.toml"
    child.write_text('extends = "base.toml"\nname = "child"\n[funding]\nfunding = "30%"\n')
    with pytest.raises(ScenarioError) as info:
        check_against_plan(load_scenario(child), plan)
    assert info.value.file == str(child)
    assert f"set in {base}" in str(info.value)


def test_rules_that_fit_pass(tmp_path, plan):
    path = _scenario(
        tmp_path,
        '[[funding.floors]]\nshare = 0.2\nsectors = ["WASH"]\nper = "location"\n'
        '[[funding.earmarks]]\namount = "USD 50"\nlocation = "mda"\nyears = [2025]\n'
        '[[funding.objective_bounds]]\nobjective = "SO2"\nmax_share = 0.5\n',
    )
    check_against_plan(load_scenario(path), plan)


def test_selector_spelling_does_not_change_equality():
    assert Selector(("UKR",), spelled=("location",)) == Selector(("UKR",))


def test_the_default_plan_fits_every_shipped_scenario():
    from reachplan.scenarios.plan_io import load_plan
    from reachplan.scenarios.scenario_io import suite_paths

    default = load_plan().plan
    assert default is not None
    for path in suite_paths():
        check_against_plan(load_scenario(path), default)
    # and a misspelt sector in a copy of a shipped rule is caught, naming the shipped file
    s = load_scenario("tp_ends_2025")
    floor = dataclasses.replace(s.funding.floors[1],
                                selector=Selector(sector_codes=("PROTECTON",)))
    bad = dataclasses.replace(s, funding=dataclasses.replace(
        s.funding, floors=(s.funding.floors[0], floor)))
    with pytest.raises(ScenarioError, match="did you mean 'PROTECTION'") as info:
        check_against_plan(bad, default)
    assert "full_funding.toml, which this scenario extends" in str(info.value)


# ---- command line (subprocess) --------------------------------------------------------------
# Every command checks a scenario against its plan right after loading both, before
# anything is solved or written.


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "reachplan.cli", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=300)


def _one_error_line(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_cli_unknown_sector_is_one_line_naming_file_and_key(tmp_path):
    path = _scenario(tmp_path, '[[funding.floors]]\nshare = 0.4\nsectors = ["PROTECTON"]\n')
    result = _cli("allocate", "--scenario", str(path), "--json", cwd=REPO)
    _one_error_line(result, str(path), "funding.floors[0].sectors", "'PROTECTON'")
    assert result.stdout == ""


def test_cli_unknown_earmark_location_in_run_leaves_nothing(tmp_path):
    path = _scenario(tmp_path, '[[funding.earmarks]]\namount = "USD 1m"\nlocation = "XXX"\n')
    out = tmp_path / "out"
    result = _cli("run", str(path), "--draws", "2", "--quiet", "--out", str(out), cwd=REPO)
    _one_error_line(result, str(path), "funding.earmarks[0].location")
    assert not out.exists() or not any(out.rglob("*"))


def test_cli_envelope_year_the_plan_lacks(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('name = "s"\n[funding.funding]\nyears = { 2024 = "50%", 2099 = "10%" }\n')
    result = _cli("allocate", "--scenario", str(path), "--json", cwd=REPO)
    _one_error_line(result, str(path), "funding.funding", "2099")


def test_cli_utf16_scenario_is_one_line(tmp_path):
    path = tmp_path / "s.toml"
    path.write_bytes('name = "s"\n[funding]\nfunding = "60%"\n'.encode("utf-16"))
    result = _cli("allocate", "--scenario", str(path), "--json", cwd=REPO)
    _one_error_line(result, str(path), "UTF-16")
    assert result.stdout == ""


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/reachplan-abs-name"])
def test_cli_path_like_name_writes_nothing_anywhere(tmp_path, name):
    path = tmp_path / "sub" / "s.toml"
    path.parent.mkdir()
    path.write_text(f'name = "{name}"\n[funding]\nfunding = "60%"\n')
    out = tmp_path / "sub" / "out"
    result = _cli("run", str(path), "--draws", "2", "--quiet", "--out", str(out), cwd=tmp_path)
    _one_error_line(result, str(path), "key 'name'")
    assert not out.exists()
    assert not (tmp_path / "escaped").exists() and not Path("/tmp/reachplan-abs-name").exists()


# ---- selectors by tag: a rule that selects nothing names file, rule and key --------------


@pytest.mark.parametrize(("body", "key", "fragments"), [
    ('[[funding.floors]]\nname = "protection"\nshare = 0.4\ncluster = "PRO"\n',
     "funding.floors[0].cluster",
     ["floor 'protection' ([[funding.floors]] #1)", "IASC cluster PRO", "WSH, HEA"]),
    ('[[funding.floors]]\nshare = 0.1\n[[funding.floors]]\nname = "ls"\nshare = 0.5\n'
     'life_saving = true\n',
     "funding.floors[1].life_saving", ["floor 'ls' ([[funding.floors]] #2)", "life-saving",
                                       "tiers: 2"]),
    ('[[funding.caps]]\nfactor = 0.5\nlocation_kind = "admin1"\n',
     "funding.caps[0].location_kind", ["[[funding.caps]] #1:", "kind admin1", "country"]),
    ('[[funding.exclusions]]\nenabler = true\n', "funding.exclusions[0].enabler",
     ["[[funding.exclusions]] #1:", "no enabler line"]),
    ('[[funding.weights]]\nweight = 2\ntier = 3\n', "funding.weights[0].tier", ["tier 3"]),
    ('[[funding.earmarks]]\nname = "e"\namount = "USD 10"\ncluster = "HEA"\nlocation = "MDA"\n',
     "funding.earmarks[0]", ["earmark 'e' ([[funding.earmarks]] #1)", "together",
                             "cannot be spent"]),
])
def test_a_tag_rule_that_selects_nothing_names_file_rule_and_key(tmp_path, plan, body, key,
                                                                  fragments):
    path = _scenario(tmp_path, body)
    with pytest.raises(ScenarioError) as info:
        check_against_plan(load_scenario(path), plan)
    assert (info.value.file, info.value.key) == (str(path), key)
    text = str(info.value)
    assert text.startswith(f"{path}, key '{key}': ")
    for fragment in fragments:
        assert fragment in text, text


def test_tag_rules_that_select_lines_pass(tmp_path, plan):
    path = _scenario(tmp_path, '[[funding.floors]]\nshare = 0.2\ncluster = "wsh"\n'
                     '[[funding.caps]]\nfactor = 0.9\nlocation_kind = "country"\n'
                     '[[funding.weights]]\nweight = 2\ntier = 2\nenabler = false\n')
    check_against_plan(load_scenario(path), plan)


def test_a_shipped_scenario_on_another_plan_is_one_line_and_writes_nothing(tmp_path, plan):
    from reachplan.reports.plan_files import write_plan_tables

    write_plan_tables(plan.tables, tmp_path / "plan")
    out = tmp_path / "out"
    out.mkdir()
    result = _cli("run", "shortfall_60", "--plan", str(tmp_path / "plan"), "--draws", "2",
                  "--quiet", "--out", str(out), cwd=tmp_path)
    # the tiny plan has no tier-1 money: the first floor of full_funding.toml is refused
    _one_error_line(result, "shortfall_60.toml", "key 'funding.floors[0].life_saving'",
                    "floor 'life-saving (tier 1)' ([[funding.floors]] #1)",
                    "no requirement money is life-saving", "set in", "full_funding.toml")
    assert sorted(out.rglob("*")) == []


def test_a_tag_floor_selecting_nothing_in_run_writes_nothing(tmp_path, plan):
    from reachplan.reports.plan_files import write_plan_tables

    write_plan_tables(plan.tables, tmp_path / "plan")
    path = tmp_path / "s.toml"
    path.write_text('name = "s"\nplan = "plan"\n[funding]\nfunding = "60%"\n'
                    '[[funding.floors]]\nname = "p"\nshare = 0.4\ncluster = "PRO"\n')
    out = tmp_path / "out"
    out.mkdir()
    result = _cli("run", str(path), "--draws", "2", "--quiet", "--out", str(out), cwd=tmp_path)
    _one_error_line(result, str(path), "funding.floors[0].cluster", "floor 'p'")
    assert sorted(out.rglob("*")) == []


def test_the_tag_rewrite_of_the_shipped_floors_selects_the_same_money():
    """full_funding's life-saving floor by tag = the former SO1 floor, cell by cell."""
    from reachplan.model.costs import CostModel
    from reachplan.scenarios.plan_io import load_plan
    from reachplan.solver.model import floor_lines, objective_weight, selector_mask

    costs = CostModel.from_plan(load_plan(None).usable().plan)
    floors = {f.name: f for f in load_scenario("full_funding").funding.floors}
    new = floors["life-saving (tier 1)"].selector
    old = Selector(objectives=("SO1",))
    for fn in (selector_mask, objective_weight, floor_lines):
        assert np.array_equal(fn(costs, new), fn(costs, old))
    assert 0 < selector_mask(costs, new).sum() < costs.n_cells
    # the protection floor selects the protection cluster: PROTECTION and PSEA (IASC PRO),
    # not the housing, land and property area of responsibility (PRO-HLP)
    protection = floors["protection"].selector
    assert protection == Selector(clusters=("PRO",))
    assert np.array_equal(selector_mask(costs, protection),
                          np.isin(costs.sectors, ["PROTECTION", "PSEA"]))


def test_the_rewritten_full_funding_builds_the_same_lp():
    """Every row of the LP, with the floor's new name, is the former row: terms, sense, bound."""
    from reachplan.model.costs import CostModel
    from reachplan.scenarios.plan_io import load_plan
    from reachplan.solver.model import build_model

    costs = CostModel.from_plan(load_plan(None).usable().plan)
    funding = load_scenario("full_funding").funding
    former = dataclasses.replace(funding, floors=tuple(
        dataclasses.replace(f, name="life-saving (SO1)", selector=Selector(objectives=("SO1",)))
        if f.name.startswith("life-saving") else f for f in funding.floors))

    def rows(scenario):
        out = {}
        for c in build_model(costs, scenario).problem.constraints():
            name = c.name.replace("life_saving_SO1", "life_saving_tier_1")
            out[name] = (c.sense, round(c.constant, 12),
                         sorted((v.name, round(a, 12)) for v, a in c.items()))
        return out

    assert rows(funding) == rows(former)
