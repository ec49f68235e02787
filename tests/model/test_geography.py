"""The simulation's geography from a data file, needs sources, coverage and horizon."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reachplan.model.simulation import (
    UKRAINE,
    AssumptionError,
    Geography,
    InitialState,
    needs_per_draw,
    people_in_need,
    simulate,
    total_population,
)
from reachplan.scenarios.scenario_io import load_scenario
from reachplan.scenarios.simulation_io import (
    load_geography,
    load_initial_state,
    load_needs_file,
    load_simulation,
)
from reachplan.solver.batch import NeedsCoverageError, need_multipliers, needs_source
from reachplan.workflow.report_inputs import simulate_run_draws
from tests.conftest import tiny_tables

INITIAL = load_initial_state()
DEFAULT_ROWS = [(loc, y) for loc in ("BGR", "BLR", "UKR") for y in (2024, 2025, 2026)]


def _scenario(tmp_path: Path, body: str = "", draws: int = 4, name: str = "s",
              top: str = "") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(f'name = "{name}"\ndraws = {draws}\nseed = 3\n{top}[funding]\n'
                    'funding = "60%"\n' + body)
    return path


# ---- the shipped geography ---------------------------------------------------------------


def test_the_shipped_file_is_the_ukraine_geography():
    geo = load_geography()
    assert dataclasses.replace(geo, source=UKRAINE.source) == UKRAINE
    assert list(geo.needs_locations) == ["UKR", "POL", "MDA", "CZE", "SVK", "LTU", "HUN",
                                         "ROU", "BGR", "BLR", "EST", "LVA"]
    assert geo.sink == "XEU" and "MDA" not in geo.protection and "XEU" in geo.protection
    assert INITIAL.geography == geo
    assert INITIAL.refugees[-1] == 4_067_425.0  # the rest of Europe, from the CSV


def test_default_results_are_unchanged_bit_for_bit():
    # recorded before the geography was read from a file (same seed, same numbers)
    result = simulate(load_simulation(), INITIAL, draws=300, seed=7, record_flows=False)
    values = needs_per_draw(result).values
    assert values[0, 0, 0] == 14654943.868507547
    assert values[5, 3, 2] == 529890.9267589919
    assert values[299, 11, 1] == 49729.84228554747
    assert values[17, 9, 2] == 54297.294122687046
    tp = simulate(load_simulation("scenarios/tp_ends_2025.toml"), INITIAL, draws=100, seed=3,
                  record_flows=False)
    assert needs_per_draw(tp).values[7, 1, 2] == 1013736.736051892


def test_default_multipliers_are_unchanged_bit_for_bit():
    scenario = load_scenario("shortfall_60", draws=60, seed=11)
    m = need_multipliers(scenario, INITIAL, 0, 60, DEFAULT_ROWS)
    assert m[0, 0] == 1.0010720475654329   # BGR 2024
    assert m[13, 5] == 1.3128680163067445  # BLR 2026
    assert m[59, 8] == 0.9438403145920587  # UKR 2026
    again = need_multipliers(scenario, INITIAL, 0, 60, DEFAULT_ROWS)
    np.testing.assert_array_equal(m, again)


# ---- another geography -------------------------------------------------------------------


def _write_geography(tmp_path: Path, route: str = "") -> Path:
    (tmp_path / "state.csv").write_text(
        "series,location_code,month,value,source\n"
        "idps,SDN,2023-12,9000000,x\nreturnees,SDN,2023-12,500000,x\n"
        "population,SDN,2023-12,48000000,x\nrefugees,TCD,2023-12,600000,x\n"
        "refugees,SSD,2023-12,400000,x\nrefugees,XAF,2023-12,300000,x\n"
    )
    path = tmp_path / "geo.toml"
    path.write_text(
        '[geography]\nname = "Sudan"\norigin = "SDN"\nhosts = ["TCD", "SSD"]\nsink = "XAF"\n'
        f'initial_state = "state.csv"\n{route}'
    )
    return path


def test_a_geography_from_a_file_is_simulated_over_its_own_locations(tmp_path):
    geo_file = _write_geography(tmp_path)
    state = load_initial_state(geography=geo_file)
    assert state.geography.name == "Sudan" and state.non_displaced == 48e6 - 9e6 - 5e5
    result = simulate(load_simulation(), state, draws=50, seed=1, months=12)
    assert result.refugees.shape == (50, 13, 3)
    np.testing.assert_allclose(total_population(result), state.total, rtol=1e-12)
    table = needs_per_draw(result)
    assert list(table.locations) == ["SDN", "TCD", "SSD"]
    # no route in this geography: the occupied-areas pushes move no one
    assert result.refugees[:, -1, :].min() > 0


def test_a_scenario_names_its_geography_relative_to_itself(tmp_path):
    _write_geography(tmp_path)
    path = _scenario(tmp_path, '[simulation]\ngeography = "geo.toml"\n')
    scenario = load_scenario(path)
    assert scenario.simulation.initial_state.geography.origin == "SDN"
    rows = [("SDN", 2024), ("TCD", 2024)]
    m = need_multipliers(scenario, INITIAL, 0, 4, rows)  # the scenario's own state is used
    result = simulate(scenario.simulation, scenario.simulation.initial_state, draws=4, seed=3,
                      months=12, record_flows=False)
    start = people_in_need(result)[0, 0, :]
    np.testing.assert_array_equal(m[:, 0], needs_per_draw(result).values[:, 0, 0] / start[0])
    assert needs_source(scenario, INITIAL, rows).sentence == (
        "displacement simulation (Sudan geography, 4 draws)")


def test_a_lever_naming_a_location_outside_the_geography_is_an_error(tmp_path):
    state = load_initial_state(geography=_write_geography(tmp_path))
    with pytest.raises(AssumptionError, match="occupied_areas.*'EST' is not a host"):
        simulate(
            dataclasses.replace(load_simulation(), occupied_areas=dataclasses.replace(
                load_simulation().occupied_areas, baltic_shares=(("EST", 1.0),))),
            state, draws=2, seed=0, months=2,
        )


def test_a_geography_file_with_a_route_outside_its_hosts_is_refused(tmp_path):
    path = _write_geography(tmp_path, "route_shares = { EST = 1.0 }\n")
    with pytest.raises(AssumptionError, match=r"geo.toml: geography.route_shares: EST not"):
        load_geography(path)


# ---- horizon -----------------------------------------------------------------------------


def test_the_simulation_runs_to_december_of_the_plans_last_year():
    scenario = load_scenario("shortfall_60", draws=8, seed=2)
    result = simulate_run_draws(scenario, INITIAL, 2024)
    assert str(result.months[-1]) == "2024-12" and len(result.months) == 13
    m = need_multipliers(scenario, INITIAL, 0, 8, [("UKR", 2024), ("POL", 2024)])
    independent = simulate(scenario.simulation, INITIAL, draws=8, seed=2, months=12,
                           record_flows=False)
    start = people_in_need(independent)[0, 0, :]
    np.testing.assert_array_equal(
        m[:, 0], needs_per_draw(independent).values[:, 0, 0] / start[0])
    np.testing.assert_array_equal(
        m[:, 1], needs_per_draw(independent).values[:, 1, 0] / start[1])


# ---- coverage ----------------------------------------------------------------------------


def test_no_location_covered_is_an_error_naming_the_way_out():
    scenario = load_scenario("shortfall_60", draws=4)
    with pytest.raises(NeedsCoverageError, match=r"none of the plan's locations \(SDN, TCD\)"
                       r".*model = \"none\".*needs_file"):
        needs_source(scenario, INITIAL, [("SDN", 2024), ("TCD", 2024)])


def test_uncovered_locations_keep_the_plans_figures_and_are_named():
    scenario = load_scenario("shortfall_60", draws=6, seed=1)
    rows = [("UKR", 2025), ("SDN", 2025)]
    source = needs_source(scenario, INITIAL, rows)
    assert source.uncovered == ("SDN",)
    assert source.sentence == ("displacement simulation (Ukraine geography, 6 draws); kept at "
                               "the plan's figures (not covered): SDN")
    m = need_multipliers(scenario, INITIAL, 0, 6, rows)
    assert np.all(m[:, 1] == 1.0) and m[:, 0].std() > 0


def test_a_child_location_takes_its_parents_multiplier():
    scenario = load_scenario("shortfall_60", draws=6, seed=1)
    rows = [("UA14", 2025), ("UKR", 2025), ("UA1401", 2025)]
    parents = {"UA14": "UKR", "UA1401": "UA14"}
    m = need_multipliers(scenario, INITIAL, 0, 6, rows, parents=parents)
    np.testing.assert_array_equal(m[:, 0], m[:, 1])
    np.testing.assert_array_equal(m[:, 2], m[:, 1])
    assert needs_source(scenario, INITIAL, rows, parents).uncovered == ()


# ---- model = "none" ----------------------------------------------------------------------


def test_model_none_fixes_needs_without_simulating(tmp_path, monkeypatch):
    scenario = load_scenario(_scenario(tmp_path, '[simulation]\nmodel = "none"\n', draws=5))
    import reachplan.solver.batch as batch

    def refuse(*args, **kwargs):
        raise AssertionError("simulated")

    monkeypatch.setattr(batch, "simulate", refuse)
    m = need_multipliers(scenario, INITIAL, 0, 5, [("SDN", 2024)])
    np.testing.assert_array_equal(m, np.ones((5, 1)))
    assert needs_source(scenario, INITIAL, [("SDN", 2024)]).sentence == (
        "fixed at the plan's figures (simulation model = none)")
    assert simulate_run_draws(scenario, INITIAL, 2024) is None


# ---- needs file --------------------------------------------------------------------------


def _needs(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "needs.csv"
    path.write_text(text)
    return path


GOOD = ("draw,location_code,year,people_in_need\n"
        "0,POL,2024,1200\n0,MDA,2024,250\n1,POL,2024,900\n1,MDA,2024,500\n")


def test_needs_file_multipliers_are_value_over_plan_figure(tmp_path):
    _needs(tmp_path, GOOD)
    scenario = load_scenario(_scenario(tmp_path, '[simulation]\nneeds_file = "needs.csv"\n',
                                       draws=2))
    rows = [("MDA", 2024), ("POL", 2024)]
    plan_need = np.array([500.0, 1000.0])  # the tiny plan's people in need
    m = need_multipliers(scenario, INITIAL, 0, 2, rows, plan_need=plan_need)
    np.testing.assert_array_equal(m, [[250 / 500, 1200 / 1000], [500 / 500, 900 / 1000]])
    np.testing.assert_array_equal(need_multipliers(scenario, INITIAL, 1, 1, rows,
                                                   plan_need=plan_need), m[1:])
    assert needs_source(scenario, INITIAL, rows).sentence == "from needs.csv (2 draws)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("draw,location,year,people_in_need\n0,POL,2024,1\n",
         r"needs.csv: row 1: missing column\(s\) location_code"),
        ("draw,location_code,year,people_in_need\n0,POL,2024,1\nx,MDA,2024,2\n",
         r"needs.csv: row 3, field draw: 'x' is not a whole number"),
        ("draw,location_code,year,people_in_need\n0,POL,2024,-5\n",
         r"needs.csv: row 2, field people_in_need: '-5' is not a number of people"),
        ("draw,location_code,year,people_in_need\n0,POL,2024,1\n0,POL,2024,2\n",
         r"needs.csv: row 3: draw 0, POL 2024 is given twice \(also row 2\)"),
    ],
)
def test_needs_file_form_errors_name_file_row_and_field(tmp_path, text, message):
    with pytest.raises(AssumptionError, match=message):
        load_needs_file(_needs(tmp_path, text))


def test_a_needs_file_error_in_a_scenario_names_both_files(tmp_path):
    _needs(tmp_path, "draw,location_code,year,people_in_need\nx,POL,2024,1\n")
    with pytest.raises(Exception, match=r"s.toml.*simulation.needs_file.*needs.csv: row 2, "
                       "field draw"):
        load_scenario(_scenario(tmp_path, '[simulation]\nneeds_file = "needs.csv"\n'))


@pytest.mark.parametrize(
    ("text", "draws", "message"),
    [
        (GOOD.replace("1,MDA", "1,SDN"), 2,
         r"row 5, field location_code: location 'SDN' has no people in need in the plan"),
        (GOOD.replace("1,MDA,2024", "1,MDA,2031"), 2, r"row 5, field year: year 2031"),
        (GOOD.replace("1,", "2,"), 3, r"field draw: draw 1 is missing"),
        (GOOD, 5, r"field draw: has 2 draws \(0 to 1\) but the run asks for 5"),
        (GOOD.replace("1,MDA,2024,500\n", ""), 2, r"field draw: draw 1 has no row for MDA 2024"),
    ],
)
def test_needs_file_errors_against_the_plan_and_run(tmp_path, text, draws, message):
    _needs(tmp_path, text)
    scenario = load_scenario(_scenario(tmp_path, '[simulation]\nneeds_file = "needs.csv"\n',
                                       draws=draws))
    with pytest.raises(AssumptionError, match="needs.csv: " + message):
        needs_source(scenario, INITIAL, [("MDA", 2024), ("POL", 2024)])


# ---- the CLI on a plan outside the geography --------------------------------------------


def _outside_plan(tmp_path: Path) -> Path:
    from reachplan.reports.template import write_template

    tables = tiny_tables()
    for table in tables.values():
        if "location_code" in table.columns:
            table["location_code"] = table["location_code"].replace({"POL": "SDN",
                                                                     "MDA": "TCD"})
    tables["locations"]["location_name"] = ["Sudan", "Chad"]
    directory = tmp_path / "plan"
    write_template(tables, directory)
    (directory / "plan.xlsx").unlink()
    return directory


@pytest.mark.parametrize("how", ["none", "file"])
def test_run_on_a_plan_outside_the_geography(tmp_path, how):
    plan = _outside_plan(tmp_path)
    if how == "none":
        body, expected = '[simulation]\nmodel = "none"\n', (
            "fixed at the plan's figures (simulation model = none)")
    else:
        _needs(tmp_path, "draw,location_code,year,people_in_need\n"
               "0,SDN,2024,1100\n0,TCD,2024,450\n1,SDN,2024,1000\n1,TCD,2024,600\n"
               "2,SDN,2024,900\n2,TCD,2024,500\n")
        body, expected = '[simulation]\nneeds_file = "needs.csv"\n', "from needs.csv (3 draws)"
    scenario = _scenario(tmp_path, body, draws=3, name="outside",
                         top=f"plan = '{plan.as_posix()}'\n")
    done = subprocess.run(
        [sys.executable, "-m", "reachplan.cli", "run", str(scenario), "--json", "--quiet",
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    runs = json.loads(done.stdout)["scenarios"]
    assert [r["needs_source"] for r in runs] == [expected]
    html = (tmp_path / "out" / "report.html").read_text()
    assert expected.replace("'", "&#x27;") in html or expected in html
    assert 'id="displacement"' not in html


def test_run_on_a_plan_outside_the_geography_without_a_source_fails(tmp_path):
    plan = _outside_plan(tmp_path)
    scenario = _scenario(tmp_path, draws=3, name="outside", top=f"plan = '{plan.as_posix()}'\n")
    done = subprocess.run(
        [sys.executable, "-m", "reachplan.cli", "run", str(scenario), "--quiet", "--no-report",
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 1
    assert "covers none of the plan's locations (SDN, TCD)" in done.stderr
    assert "Traceback" not in done.stderr


def test_initial_state_checks_its_geography():
    with pytest.raises(AssumptionError, match="need 3 refugee stocks"):
        InitialState(pd.Period("2023-12", freq="M"), 1.0, 1.0, 1.0, (1.0,),
                     Geography("A", "SDN", ("TCD", "SSD"), "XAF"))
