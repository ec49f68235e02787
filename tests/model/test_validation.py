import pytest

from model.tables import REQUIREMENTS
from model.validation import RawTable, match_columns, parse_table, stated_total_agrees


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
