"""Validation of the v2 plan tables and columns: tiers, outputs, cost index, severity, weights."""

import pandas as pd
import pytest

from reachplan.model.plan import PlanError
from reachplan.model.validation import parse_weights, validate_tables
from tests.model.test_validation import _raw_tables, _usable


def _with_new_tables():
    tables = _usable()
    tables["objectives"] = tables["objectives"].assign(tier=[1, 2])
    tables["sectors"] = tables["sectors"].assign(tier=[None, None], output=["people", "entities"])
    tables["sector_cost_index"] = pd.DataFrame(
        {"sector_code": ["WASH", "HEALTH"], "cost_index": [1.0, 3.0],
         "origin": ["assumption", "source"], "source": ["reasoning", "cluster plan"]}
    )
    tables["severity"] = pd.DataFrame(
        {"location_code": ["POL", "POL", "MDA"], "population_group": ["refugees", "host", "all"],
         "year": [2024, 2024, 2025], "severity": [3, 4, 5], "population": [10.0, 20.0, None]}
    )
    tables["settings"] = pd.DataFrame(
        {"key": ["name", "coverage_offset", "tier_weights", "severity_weights"],
         "value": ["Tiny", "0.1", "1:2, 2:1, 3:0.5", "1:0.25; 2:0.5; 3:1; 4:1.5; 5:2"],
         "note": [""] * 4}
    )
    return tables


def _problems(tables):
    result = validate_tables(_raw_tables(tables))
    return [str(p) for p in result.errors], [str(p) for p in result.warnings]


def test_the_new_tables_when_right_give_no_error_and_no_warning():
    errors, warnings = _problems(_with_new_tables())
    assert errors == [] and warnings == []


@pytest.mark.parametrize(
    ("table", "column", "row", "value", "message"),
    [
        ("objectives", "tier", 0, "4", "tier '4' is out of range: 1 to 3"),
        ("objectives", "tier", 1, "0", "tier '0' is out of range: 1 to 3"),
        ("objectives", "tier", 1, "1.5", "not a whole number: '1.5'"),
        ("sectors", "tier", 1, "-1", "tier '-1' is out of range: 1 to 3"),
        ("severity", "severity", 2, "6", "severity phase '6' is out of range: 1 to 5"),
        ("severity", "severity", 0, "0", "severity phase '0' is out of range: 1 to 5"),
        ("severity", "severity", 0, "2.5", "not a whole number: '2.5'"),
        ("sectors", "output", 1, "institutions",
         "output must be one of people, entities, enabler (blank = people), not 'institutions'"),
        ("sector_cost_index", "cost_index", 0, "0", "cost index 0 must be above 0"),
        ("sector_cost_index", "cost_index", 1, "-2", "negative value -2"),
        ("sector_cost_index", "cost_index", 1, "inf", "not a finite number: 'inf'"),
        ("sector_cost_index", "cost_index", 1, "nan", "not a finite number: 'nan'"),
        ("sector_cost_index", "sector_code", 1, "FOOD", "unknown sector code 'FOOD'"),
        ("sector_cost_index", "origin", 1, "guess",
         "origin must be 'source', 'derived' or 'assumption', not 'guess'"),
        ("severity", "location_code", 1, "DEU", "unknown location code 'DEU'"),
        ("severity", "year", 2, "2030", "year 2030 is not a year of the plan's requirements "
         "(2024, 2025)"),
        ("severity", "population", 0, "-5", "negative value -5"),
    ],
)
def test_each_new_rule_names_file_row_and_field(table, column, row, value, message):
    tables = _with_new_tables()
    frame = tables[table].astype(object)
    frame.loc[row, column] = value
    tables[table] = frame
    errors, _ = _problems(tables)
    where = f"plan/{table}.csv, row {row + 2}, column {column}: "
    assert any(e.startswith(where) and message in e for e in errors), errors


def test_duplicate_keys_of_the_new_tables():
    tables = _with_new_tables()
    tables["sector_cost_index"].loc[1, "sector_code"] = "WASH"
    tables["severity"].loc[1, "population_group"] = "refugees"
    errors, _ = _problems(tables)
    assert "plan/sector_cost_index.csv, row 3, column sector_code: duplicate of row 2 " \
        "(sector_code=WASH)" in errors
    assert "plan/severity.csv, row 3, column year: duplicate of row 2 (location_code=POL, " \
        "population_group=refugees, year=2024)" in errors


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("tier_weights", "1:2, 4:1", "setting tier_weights: '4' is not one of 1, 2, 3"),
        ("tier_weights", "1=2", "setting tier_weights: '1=2' is not 'key:weight'"),
        ("tier_weights", "1:-2", "setting tier_weights: weight '-2' for 1 must be a number >= 0"),
        ("tier_weights", "1:1,5", "setting tier_weights: '5' is not 'key:weight'"),
        ("severity_weights", "6:1", "setting severity_weights: '6' is not one of 1, 2, 3, 4, 5"),
        ("severity_weights", "3:inf",
         "setting severity_weights: weight 'inf' for 3 must be a number >= 0 (not a finite"),
        ("coverage_offset", "0", "coverage_offset = '0' is out of range: from 0.01 to 10"),
        ("coverage_offset", "11", "coverage_offset = '11' is out of range"),
        ("coverage_offset", "x", "coverage_offset: not a number: 'x'"),
    ],
)
def test_weight_and_offset_settings_name_the_settings_row(key, value, message):
    tables = _with_new_tables()
    settings = tables["settings"]
    settings.loc[settings["key"] == key, "value"] = value
    row = int(settings.index[settings["key"] == key][0]) + 2
    errors, _ = _problems(tables)
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"plan/settings.csv, row {row}, column value: {message}"), errors


def test_parse_weights_fills_defaults_and_refuses_bad_pairs():
    assert parse_weights("tier_weights", "1:3", (1, 2, 3)) == {1: 3.0, 2: 1.0, 3: 0.5}
    assert parse_weights("tier_weights", "", (1, 2, 3)) == {1: 2.0, 2: 1.0, 3: 0.5}
    assert parse_weights("severity_weights", "5: 4; 1:0", (1, 2, 3, 4, 5)) == {
        1: 0.0, 2: 0.5, 3: 1.0, 4: 1.5, 5: 4.0}
    with pytest.raises(PlanError, match="'2.5' is not one of 1, 2, 3"):
        parse_weights("tier_weights", "2.5:1", (1, 2, 3))


def test_parse_weights_is_the_one_lines_uses():
    from reachplan.model import lines, validation

    assert lines.parse_weights is validation.parse_weights


def test_cost_index_too_spread_and_sectors_left_out():
    tables = _with_new_tables()
    tables["sector_cost_index"]["cost_index"] = [1e-4, 1e3]
    errors, _ = _problems(tables)
    assert any(e.startswith("plan/sector_cost_index.csv, row 2, column cost_index: cost indices "
                            "span 0.0001 to 1000 (row 3)") for e in errors), errors
    tables = _with_new_tables()
    tables["sector_cost_index"] = tables["sector_cost_index"].iloc[[0]]
    errors, warnings = _problems(tables)
    assert errors == []
    assert warnings == ["plan/sector_cost_index.csv, column sector_code: no cost index for "
                        "HEALTH: 1 (the reference) is used"]


def test_people_lines_with_no_people_targeted_are_a_warning():
    tables = _with_new_tables()
    pops = tables["populations"]
    tables["populations"] = pops[~((pops["location_code"] == "MDA")
                                   & (pops["population_status"] == "targeted"))]
    errors, warnings = _problems(tables)
    assert errors == []
    assert warnings == [
        "plan/populations.csv, column population_status: MDA has $350 of requirements in lines "
        "that reach people but no people targeted in any year: unit costs calibrated from the "
        "targets give these lines none, so they reach nobody (add its people targeted, or give "
        "it kind 'regional' if it supports other lines)"
    ]
    # a regional location, or lines that are enablers, reach nobody by design: no warning
    regional = {k: v.copy() for k, v in tables.items()}
    regional["locations"]["kind"] = ["country", "regional"]
    regional["locations"]["location_code"] = ["POL", "XRS"]
    for name in ("requirements", "populations", "unit_costs", "severity"):
        regional[name]["location_code"] = regional[name]["location_code"].replace("MDA", "XRS")
    errors, warnings = _problems(regional)
    assert errors == [] and warnings == []
