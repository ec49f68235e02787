import pandas as pd
import pytest

from reachplan.model.tables import REQUIREMENTS
from reachplan.model.validation import (
    MAX_PEOPLE,
    MAX_REQUIREMENT_USD,
    MIN_COST_FACTOR,
    MIN_UNIT_COST_USD,
    RawTable,
    match_columns,
    parse_number,
    parse_table,
    stated_total_agrees,
    validate_tables,
)
from reachplan.reports.plan_files import format_value
from tests.conftest import tiny_tables


@pytest.mark.parametrize(
    ("computed", "stated", "precision", "ok"),
    [
        (225_464_000, 225_400_000, 100_000, True),  # truncated
        (523_931_731, 524_000_000, 1_000_000, True),  # rounded
        (215_402_958, 215_500_000, 100_000, False),  # neither
        (370_374_951, 370_325_000, 1, False),
        (100.4, 100, 1, True),
        (100.6, 100, 1, False),
    ],
)
def test_stated_total_agrees(computed, stated, precision, ok):
    assert stated_total_agrees(computed, stated, precision) is ok


def test_hapi_and_hxl_headers_are_recognised():
    found, _, _ = match_columns(
        REQUIREMENTS,
        ["Country", "Cluster", "Year", "Objective", "Required"],
        [
            "#country+code",
            "#sector+code",
            "#date+year",
            "#indicator+objective",
            "#value+funding+required+usd",
        ],
    )
    assert found == {
        "location_code": 0,
        "sector_code": 1,
        "year": 2,
        "objective": 3,
        "requirements_usd": 4,
    }
    found, _, _ = match_columns(
        REQUIREMENTS,
        ["location_code", "sector_code", "reference_period", "objective_code", "requirements_usd"],
        None,
    )
    assert set(found) == {"location_code", "sector_code", "year", "objective", "requirements_usd"}


def _raw(rows, headers=("location_code", "sector_code", "year", "objective", "requirements_usd")):
    return RawTable(
        "requirements", "req.csv", tuple(headers), None, tuple(rows), tuple(range(2, 2 + len(rows)))
    )


def test_bad_cells_are_named_by_row_and_column():
    frame, problems = parse_table(
        _raw(
            [
                ("POL", "WASH", "2024", "SO1", "-5"),
                ("POL", "WASH", "20x4", "SO1", "1e3"),
                ("POL", "WASH", "2024", "SO1", "12 apples"),
            ]
        ),
        REQUIREMENTS,
    )
    text = [str(p) for p in problems]
    assert "req.csv, row 2, column requirements_usd: negative value -5" in text
    assert any(t.startswith("req.csv, row 3, column year: not a whole number") for t in text)
    assert any(t.startswith("req.csv, row 4, column requirements_usd: not a number") for t in text)
    assert len(frame) == 3


def test_missing_column_lists_accepted_headers():
    _, problems = parse_table(
        _raw(
            [("POL", "WASH", "2024", "SO1")],
            headers=("location_code", "sector_code", "year", "objective"),
        ),
        REQUIREMENTS,
    )
    assert len(problems) == 1
    assert problems[0].column == "requirements_usd" and "#value+funding+required+usd" in str(
        problems[0]
    )


def test_thousands_separators_and_dollar_signs_are_read():
    frame, problems = parse_table(_raw([("pol", "WASH", "2024", "SO1", "$1,234.50")]), REQUIREMENTS)
    assert not problems
    assert frame.loc[0, "requirements_usd"] == 1234.5
    assert frame.loc[0, "location_code"] == "POL"


# ---- numbers, magnitudes, settings and unit costs -------------------------------------------



@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1234.5", 1234.5),
        ("1,234", 1234.0),
        ("1,234,567", 1234567.0),
        ("1,234,567.25", 1234567.25),
        ("$1,234.50", 1234.5),
        ("-$5", -5.0),
        ("1 234 567", 1234567.0),
        ("1\u00a0234", 1234.0),
        ("1'234'567", 1234567.0),
        ("1_000", 1000.0),
        ("1e6", 1e6),
        (".5", 0.5),
        ("1e308", 1e308),
    ],
)
def test_numbers_that_read_one_way_only(text, value):
    assert parse_number(text) == (value, None)


@pytest.mark.parametrize("text", ["22952,42", "1,5", "1,23,456", "1.234,5", "1,2345", ",5"])
def test_a_comma_that_is_not_thousands_grouping_is_refused(text):
    value, reason = parse_number(text)
    assert value is None
    assert reason.startswith(f"ambiguous number {text!r}: decimals use a point")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("inf", "not a finite number: 'inf'"),
        ("NaN", "not a finite number: 'NaN'"),
        ("1e309", "not a finite number: '1e309' (too large)"),
        ("12 34", "not a number: '12 34'"),
        ("1,234 567", "ambiguous number"),
        ("abc", "not a number: 'abc'"),
        ("١٢", "not a number"),
    ],
)
def test_non_finite_and_other_forms_are_refused(text, reason):
    value, why = parse_number(text)
    assert value is None and why.startswith(reason)


def _raw_tables(tables, source="plan"):
    raw = {}
    for name, frame in tables.items():
        rows = tuple(tuple(format_value(v) for v in rec) for rec in frame.itertuples(index=False))
        raw[name] = RawTable(
            name,
            f"{source}/{name}.csv",
            tuple(frame.columns),
            None,
            rows,
            tuple(range(2, 2 + len(rows))),
        )
    return raw


def _usable():
    tables = tiny_tables()
    tables["unit_costs"] = pd.DataFrame(
        {
            "location_code": ["POL", "POL", "MDA"],
            "sector_code": ["WASH", "HEALTH", "WASH"],
            "unit_cost_usd": [0.25, 0.5, 1.0],
            "weight": [1.0, 1.0, 1.0],
        }
    )
    return tables


def _errors(tables):
    return [str(p) for p in validate_tables(_raw_tables(tables)).errors]


def test_the_usable_tiny_plan_has_no_error():
    assert _errors(_usable()) == []


def test_a_plan_without_unit_costs_nor_targets_says_what_to_add():
    tables = tiny_tables()
    del tables["unit_costs"]
    pops = tables["populations"]
    tables["populations"] = pops[pops["population_status"] != "targeted"]
    errors = _errors(tables)
    assert len(errors) == 1
    assert errors[0].startswith(
        "plan/unit_costs.csv: no unit costs and no people targeted, so no money can reach"
    )
    assert "add unit_costs.csv" in errors[0]
    assert "location_code, sector_code, unit_cost_usd" in errors[0]
    assert "'POL,WASH,25.00,1'" in errors[0]
    assert "add people targeted to plan/populations.csv" in errors[0]
    assert "population_status 'targeted'" in errors[0]
    assert "'POL,2024,targeted,350000'" in errors[0]


def test_a_plan_with_targets_but_no_unit_costs_is_valid_with_a_warning():
    tables = tiny_tables()
    del tables["unit_costs"]
    result = validate_tables(_raw_tables(tables))
    assert result.errors == ()
    assert [str(w) for w in result.warnings] == [
        "plan/unit_costs.csv: no unit costs: they will be calibrated from the plan's people "
        "targeted when the plan is loaded (at full funding each location's lines reach its "
        "people targeted); 'reachplan plan calibrate PLAN' writes them to the plan to review"
    ]


def test_unit_costs_that_match_no_line_or_weights_all_zero_are_errors():
    tables = _usable()
    tables["unit_costs"]["sector_code"] = ["HEALTH", "WASH", "HEALTH"]  # MDA has no HEALTH line
    tables["unit_costs"] = tables["unit_costs"].iloc[[2]]
    assert any("no requirement line (location_code, sector_code) has a unit cost" in e
               for e in _errors(tables))
    tables = _usable()
    tables["unit_costs"]["weight"] = 0.0
    assert _errors(tables) == [
        "plan/unit_costs.csv, column weight: every weight of a line with a requirement is 0, "
        "so people reached count for nothing: give the lines weights above 0 (1 is the default)"
    ]


@pytest.mark.parametrize(
    ("table", "column", "row", "value", "message"),
    [
        ("requirements", "requirements_usd", 0, "1e308", "above the largest a plan row can state"),
        ("requirements", "requirements_usd", 1, str(MAX_REQUIREMENT_USD * 2), "above the largest"),
        ("populations", "population", 0, str(MAX_PEOPLE + 1), "more than the world population"),
        ("unit_costs", "unit_cost_usd", 0, "0", "below the floor of 0.01 USD"),
        ("unit_costs", "unit_cost_usd", 1, str(MIN_UNIT_COST_USD / 2), "below the floor"),
        ("unit_costs", "unit_cost_usd", 2, "2e7", "above 10,000,000 USD"),
        ("unit_costs", "weight", 0, "1e-9", "weight 1e-09 is out of range: 0, or between 0.001"),
        ("unit_costs", "weight", 0, "1e6", "out of range"),
        ("cost_curve", "cost_factor", 0, "0", "cost factor 0 is out of range"),
        ("cost_curve", "cost_factor", 1, str(MIN_COST_FACTOR / 10), "out of range"),
        ("cost_curve", "cost_factor", 1, "1000", "out of range: between 0.01 and 100"),
        ("cost_curve", "share_of_requirement", 0, "1.5", "share 1.5 is above 1"),
        ("cost_curve", "tranche", 1, "1e20", "tranche '1e20' is out of range: 1 to 100"),
        ("requirements", "requirements_usd", 2, "22952,42", "ambiguous number '22952,42'"),
        ("requirements", "requirements_usd", 2, "inf", "not a finite number: 'inf'"),
    ],
)
def test_magnitudes_that_cannot_be_real_name_file_row_and_column(
    table, column, row, value, message
):
    tables = _usable()
    tables["cost_curve"] = pd.DataFrame(
        {"tranche": [1, 2], "share_of_requirement": [0.5, 0.5], "cost_factor": [1.0, 2.0]}
    )
    frame = tables[table].astype(object)
    frame.loc[row, column] = value
    tables[table] = frame
    errors = _errors(tables)
    where = f"plan/{table}.csv, row {row + 2}, column {column}: "
    assert any(e.startswith(where) and message in e for e in errors), errors


def test_unit_costs_too_far_apart_and_lines_reaching_more_than_everyone():
    tables = _usable()
    tables["unit_costs"]["unit_cost_usd"] = [0.01, 0.5, 1e5]
    errors = _errors(tables)
    assert any(e.startswith("plan/unit_costs.csv, row 2, column unit_cost_usd: unit costs span")
               for e in errors), errors
    tables = _usable()
    tables["requirements"]["requirements_usd"] = [1e12, 50.0, 50.0, 200.0, 150.0]
    tables["unit_costs"]["unit_cost_usd"] = [0.05, 0.5, 1.0]
    errors = _errors(tables)
    assert any("the requirement of WASH in POL, 2024 ($1,000,000,000,000) would reach "
               "20,000,000,000,000 people, more than the world population" in e for e in errors)


def test_every_requirement_zero_is_an_error():
    tables = _usable()
    tables["requirements"]["requirements_usd"] = 0.0
    assert "plan/requirements.csv, column requirements_usd: every requirement is 0: there is " \
        "nothing to allocate" in _errors(tables)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "overlap_factor: not a number: 'abc'"),
        ("inf", "overlap_factor: not a finite number: 'inf'"),
        ("1,5", "overlap_factor: ambiguous number '1,5'"),
        ("0.5", "overlap_factor = '0.5' is out of range: from 1 to 2 (the number of sectors)"),
        ("0", "overlap_factor = '0' is out of range"),
        ("3", "overlap_factor = '3' is out of range"),
    ],
)
def test_settings_out_of_range_name_the_settings_file_row_and_key(value, message):
    tables = _usable()
    tables["settings"] = pd.DataFrame(
        {"key": ["name", "overlap_factor"], "value": ["Tiny", value], "note": ["", ""]}
    )
    errors = _errors(tables)
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"plan/settings.csv, row 3, column value: {message}"), errors


def test_settings_in_range_near_miss_keys_and_currency():
    tables = _usable()
    tables["settings"] = pd.DataFrame(
        {"key": ["overlap_factor", "Overlap factor", "currency"], "value": ["2", "1.5", "EUR"],
         "note": ["", "", ""]}
    )
    assert _errors(tables) == [
        "plan/settings.csv, row 3, column key: setting 'Overlap factor' would be ignored: "
        "write the key as 'overlap_factor'",
        "plan/settings.csv, row 4, column value: currency = 'EUR': every amount must be in US "
        "dollars (USD); convert the plan's money to USD",
    ]


def test_rows_longer_or_shorter_than_the_header_are_errors():
    raw = RawTable(
        "requirements",
        "req.csv",
        ("location_code", "sector_code", "year", "objective", "requirements_usd", ""),
        None,
        (
            ("POL", "WASH", "2024", "SO1", "22", "952.42", ""),
            ("POL", "HEALTH", "2024", "SO1", "", ""),
            ("MDA", "WASH", "2024", "SO1", "10", ""),
        ),
        (2, 3, 5),
        (7, 4, 6),
        5,
        6,  # the header ends with a comma: 6 fields, 5 named
    )
    frame, problems = parse_table(raw, REQUIREMENTS)
    text = [str(p) for p in problems]
    assert text == [
        "req.csv, row 2: this row has 7 fields but the header has 5: a value that contains a "
        'comma must be in double quotes ("22,952.42"), and decimals use a point',
        "req.csv, row 3: this row has 4 fields but the header has 5 (the file may be cut short; "
        "every row needs one field per column, an empty one written as ,,)",
    ]
    assert list(frame["_row"]) == [5]  # a trailing comma, as on the header, is harmless
