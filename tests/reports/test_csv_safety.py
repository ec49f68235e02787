"""CSV formula injection (OWASP): every CSV the tool writes shows formula-like text as text.

Text that begins with ``=``, ``+``, ``-``, ``@``, tab or CR gets a leading ``'``; numbers,
negative ones included, are written as numbers. Checked for every kind of CSV: report
tables, allocate and frontier tables, plan export, simulated needs and templates.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reachplan.model.costs import CostModel
from reachplan.model.plan import Plan
from reachplan.model.simulation import NeedsTable
from reachplan.reports.allocation import (
    render_csv_tables,
    render_frontier_csv_tables,
    write_allocation_csvs,
)
from reachplan.reports.plan_files import (
    csv_cell,
    escape_formula,
    render_csv,
    unescape_csv_cell,
    write_plan_tables,
)
from reachplan.reports.plan_report import render_export
from reachplan.reports.simulation import NEEDS_FILE, write_needs
from reachplan.reports.tables import render_table_csv
from reachplan.reports.template import write_template
from reachplan.solver.allocate import allocate
from reachplan.solver.frontier import funding_frontier
from tests.conftest import tiny_tables
from tests.solver.conftest import HAND_CELLS, HAND_COSTS, HAND_NEED, make_plan, usd

LINK = '=HYPERLINK("http://evil.example/x","Moldova")'
CMD = "+cmd|' /C calc'!A0"
PAYLOADS = [LINK, CMD, "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0",
            "\t=1+1", "\r=1+1"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _assert_no_formula(text: str) -> list[str]:
    """No cell a spreadsheet would run; returns every cell for further checks."""
    cells = [c for row in _rows(text) for c in row]
    for cell in cells:
        if cell.startswith(FORMULA_START):
            assert _is_number(cell), f"formula-leading cell written as is: {cell!r}"
    return cells


# ---- the one helper --------------------------------------------------------------------------


@pytest.mark.parametrize("text", PAYLOADS + ["-", "=", "-x", "+", "@"])
def test_formula_leading_text_gets_a_quote_and_comes_back(text):
    assert escape_formula(text) == "'" + text
    assert csv_cell(text) == "'" + text
    assert unescape_csv_cell(escape_formula(text)) == text


@pytest.mark.parametrize(
    ("value", "written"),
    [(-3.5, "-3.5"), (-3, "-3"), (-2.0, "-2"), (np.float64(-1e-3), "-0.001"),
     (np.int64(-7), "-7"), (-1.5e-7, "-1.5e-07"), (0.1, "0.1"), ("-3.5", "-3.5"), ("+2", "+2"),
     ("1e-3", "1e-3"), (True, "true"), (None, ""), (float("nan"), ""), ("Moldova", "Moldova"),
     ("O'Brien", "O'Brien"), ("", "")],
)
def test_numbers_and_plain_text_are_unchanged(value, written):
    assert csv_cell(value) == written


@pytest.mark.parametrize("text", ["'=x", "''+y", "'-3.5", "'abc", "'"])
def test_escaping_is_lossless_for_text_that_already_begins_with_a_quote(text):
    assert unescape_csv_cell(escape_formula(text)) == text


# ---- every CSV the tool writes --------------------------------------------------------------


def test_report_tables_csv():
    frame = pd.DataFrame({"scenario": PAYLOADS, "people_reached": [-3.5, 1.0, 2, 3, 4, 5],
                          "note": ["ok", "-1.5", "+4", "x", "y", "z"]})
    text = render_table_csv(frame, hxl=True)
    rows = _rows(text)
    assert rows[0] == ["scenario", "people_reached", "note"]
    assert rows[1][0].startswith("#")  # the HXL row is untouched
    assert [r[0] for r in rows[2:]] == ["'" + p for p in PAYLOADS]
    assert [r[1] for r in rows[2:]] == ["-3.5", "1", "2", "3", "4", "5"]
    assert [r[2] for r in rows[2:3 + 2]] == ["ok", "-1.5", "+4"]
    _assert_no_formula(text)


def test_a_carriage_return_stays_inside_its_cell():
    frame = pd.DataFrame({"name": ["\r=1+1", "a\rb", "plain"], "value": [-1.0, 2.0, 3.0]})
    for text in (render_table_csv(frame), render_csv(frame)):
        rows = list(csv.reader(io.StringIO(text, newline="")))
        assert rows == [["name", "value"], ["'\r=1+1", "-1"], ["a\rb", "2"], ["plain", "3"]]


def test_column_names_are_escaped_too():
    text = render_table_csv(pd.DataFrame({LINK: [1.0]}))
    assert _rows(text)[0] == ["'" + LINK]
    text = render_csv(pd.DataFrame({CMD: [-1.0]}))
    assert _rows(text) == [["'" + CMD], ["-1"]]


def _payload_plan() -> Plan:
    """The hand plan with a formula as a sector code and as the plan's name."""
    cells = [(loc, CMD if sec == "WASH" else sec, yr, obj, req)
             for loc, sec, yr, obj, req in HAND_CELLS]
    costs = {(loc, CMD if sec == "WASH" else sec): v for (loc, sec), v in HAND_COSTS.items()}
    tables = dict(make_plan(cells, costs, HAND_NEED).tables)
    tables["settings"] = pd.DataFrame({"key": ["name"], "value": [LINK], "note": [""]})
    return Plan.from_tables(tables, source="tiny")


def test_allocate_out_csvs(tmp_path):
    result = allocate(_payload_plan(), usd(5e6))
    paths = write_allocation_csvs(render_csv_tables(result), tmp_path)
    texts = {p.stem: p.read_text(encoding="utf-8") for p in paths}
    for text in texts.values():
        _assert_no_formula(text)
    cells = _rows(texts["cells"])
    assert "'" + CMD in [r[1] for r in cells[1:]]
    assert ["plan_name", "'" + LINK] in _rows(texts["provenance"])
    sectors = _rows(texts["sectors"])
    assert "'" + CMD in [r[sectors[0].index("sector_code")] for r in sectors[1:]]
    # numbers stay numbers
    header = cells[0]
    money = header.index("allocated_usd")
    assert all(_is_number(r[money]) for r in cells[1:])


def test_frontier_out_csvs(tmp_path):
    plan = _payload_plan()
    frontier = funding_frontier(CostModel.from_plan(plan), usd(5e6), step=0.5)
    paths = write_allocation_csvs(render_frontier_csv_tables(frontier), tmp_path)
    texts = {p.stem: p.read_text(encoding="utf-8") for p in paths}
    for text in texts.values():
        _assert_no_formula(text)
    first = _rows(texts["first_funded"])
    assert "'" + CMD in [r[first[0].index("sector_code")] for r in first[1:]]


def _payload_tables() -> dict[str, pd.DataFrame]:
    tables = tiny_tables()
    tables["locations"].loc[1, "location_name"] = LINK
    tables["requirements"].loc[0, "note"] = CMD
    tables["settings"].loc[0, "value"] = "@SUM(1+1)"
    return tables


def test_plan_export_csv():
    plan = Plan.from_tables(_payload_tables(), source="tiny")
    locations = render_export(plan, table="locations")
    assert ["MDA", "'" + LINK, "hosts", "country"] in _rows(locations)
    _assert_no_formula(locations)
    requirements = render_export(plan, table="requirements", hxl=True)
    assert any("'" + CMD in row for row in _rows(requirements))
    _assert_no_formula(requirements)
    settings = render_export(plan, table="settings")
    assert ["name", "'@SUM(1+1)", ""] in _rows(settings)


def test_template_csvs_escape_and_read_back_to_the_original(tmp_path):
    tables = _payload_tables()
    write_template(tables, tmp_path)
    for path in sorted(tmp_path.glob("*.csv")):
        _assert_no_formula(path.read_text(encoding="utf-8"))
    rows = _rows((tmp_path / "locations.csv").read_text(encoding="utf-8"))
    assert rows[2][1] == "'" + LINK
    assert unescape_csv_cell(rows[2][1]) == LINK
    requirements = _rows((tmp_path / "requirements.csv").read_text(encoding="utf-8"))
    assert requirements[1][-1] == "'" + CMD
    assert requirements[1][4] == "100"  # requirements_usd, a number


def test_plan_tables_keep_negative_numbers(tmp_path):
    tables = tiny_tables()
    tables["requirements"]["requirements_usd"] = [-100.5, 50.0, -50.0, 200.0, 150.0]
    (path,) = [p for p in write_plan_tables(tables, tmp_path) if p.stem == "requirements"]
    values = [r[4] for r in _rows(path.read_text(encoding="utf-8"))[1:]]
    assert values == ["-100.5", "50", "-50", "200", "150"]


def test_template_round_trip_through_the_plan_reader(tmp_path):
    from reachplan.scenarios.plan_io import load_plan

    write_template(_payload_tables(), tmp_path)
    (tmp_path / "plan.xlsx").unlink()
    loaded = load_plan(tmp_path)
    assert loaded.plan is not None
    assert LINK in set(loaded.plan.tables["locations"]["location_name"])


def test_simulated_needs_csv(tmp_path):
    from reachplan.model.simulation import simulate
    from reachplan.scenarios.simulation_io import load_initial_state, load_simulation

    result = simulate(load_simulation(), load_initial_state(), draws=2, seed=1, months=12)
    values = np.array([1000.4, -0.0, 2000.6, 5.0]).reshape(2, 1, 2)  # draws, location, years
    needs = NeedsTable(values=values, locations=pd.Index([LINK]), years=pd.Index([2024, 2025]))
    write_needs(tmp_path, result, needs)
    text = (Path(tmp_path) / NEEDS_FILE).read_text(encoding="utf-8")
    _assert_no_formula(text)
    rows = _rows(text)
    assert rows[0] == ["draw", "location_code", "region", "year", "people_in_need"]
    assert rows[1] == ["0", "'" + LINK, "neighbouring", "2024", "1000"]
    assert rows[4] == ["1", "'" + LINK, "neighbouring", "2025", "5"]
