"""Corrupted plans never give a traceback, and `validate` refuses whatever `allocate` refuses.

Hypothesis starts from the tiny plan of ``tests/conftest.py`` (with unit costs and a cost
curve, so that it is usable) and damages it as people and programs do: columns deleted or
renamed, cells emptied or set to NaN, negative, huge, tiny, text or decimal-comma values,
ragged rows, duplicate rows, unknown codes, missing tables, settings out of range, files
in another encoding or cut short, and workbooks with damaged bytes. Each damaged plan is
written as a CSV folder or an .xlsx workbook; ``validate`` and ``allocate --funding 60%
--json`` run on it in-process, and every outcome must be one of

- exit 0: ``allocate`` printed JSON (strict: no NaN or Infinity) and ``validate`` passed;
- exit 1 or 2: the last line of stderr is a one-line ``error: ...`` reason;

never another exception. ``validate`` and ``allocate`` must agree: a plan that validates
is allocated, and a plan ``allocate`` refuses does not validate.
"""

from __future__ import annotations

import csv
import io
import json
import math
import tempfile
from pathlib import Path

import pandas as pd
import xlsxwriter
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from reachplan.cli import main
from reachplan.reports.plan_files import render_csv
from reachplan.reports.template import render_workbook
from tests.conftest import tiny_tables


def _base_tables() -> dict[str, pd.DataFrame]:
    tables = tiny_tables()
    tables["settings"] = pd.DataFrame(
        {
            "key": ["name", "currency", "overlap_factor"],
            "value": ["Tiny", "USD", "1.5"],
            "note": ["", "", ""],
        }
    )
    tables["unit_costs"] = pd.DataFrame(
        {
            "location_code": ["POL", "POL", "MDA"],
            "sector_code": ["WASH", "HEALTH", "WASH"],
            "unit_cost_usd": [0.25, 0.5, 1.0],
            "weight": [1.0, 1.0, 2.0],
        }
    )
    tables["cost_curve"] = pd.DataFrame(
        {"tranche": [1, 2], "share_of_requirement": [0.6, 0.4], "cost_factor": [1.0, 1.5]}
    )
    tables["stated_totals"] = pd.DataFrame(
        {"figure": ["total"], "measure": ["requirements_usd"], "value": [550.0]}
    )
    return tables


BASE = _base_tables()
BASE_GRIDS: dict[str, list[list[str]]] = {
    name: list(csv.reader(io.StringIO(render_csv(frame)))) for name, frame in BASE.items()
}
BASE_WORKBOOK = render_workbook(BASE)

VALUES = [
    "", " ", "nan", "NaN", "inf", "-inf", "-5", "-0", "0", "0.0", "1e308", "1e309", "1e-300",
    "1e-9", "1e12", "1e13", "1e15", "5e9", "abc", "12 apples", "22952,42", "1,5", "1,234",
    "1,234,567", "1,23,456", "1.234,5", "1 234", "12 34", "1'234", "$1,234.50", "$-5",
    "=1+1", "+5", "0x10", "1_000", "١٢", "２", "2024", "20x4", "1899", "99999", "SO1", "POL",
    "ZZZ", "XRS", "in_need", "targeted", "derived", "guess", "warn", "0.5", "1", "26", "100",
    "0.001", "0.0001", "1000", "1001", "101", "\t", '"', "a\nb", "\x00",
]
"""Cell values to plant: empty, NaN, negative, huge, tiny, text, decimal commas, codes."""

TEXT_VALUES = st.one_of(
    st.sampled_from(VALUES),
    st.text(max_size=8),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)

_names = sorted(BASE_GRIDS)

EXTREMES = [
    ("requirements", "requirements_usd", ["0", "0.01", "1e11", "1000000000000"]),
    ("populations", "population", ["0", "1", "10000000000", "0.5"]),
    ("unit_costs", "unit_cost_usd", ["0.01", "10000", "10000000"]),
    ("unit_costs", "weight", ["0", "0.001", "1000", ""]),
    ("cost_curve", "cost_factor", ["0.01", "100", "1"]),
    ("cost_curve", "share_of_requirement", ["0", "1"]),
    ("settings", "value", ["1", "2", "1.0", ""]),
]
"""Values at the edge of what validation accepts: the plan stays usable more often, so
``allocate`` runs on odd magnitudes."""


@st.composite
def mutation(draw: st.DrawFn) -> tuple:
    kind = draw(
        st.sampled_from(
            [
                "cell", "cell", "cell", "cell", "delete_column", "rename_column",
                "ragged_long", "ragged_short", "duplicate_row", "delete_table",
                "rename_table", "delete_rows", "blank_header", "extra_column",
                "extreme", "extreme", "extreme",
            ]
        )
    )
    if kind == "extreme":
        table, column, values = draw(st.sampled_from(EXTREMES))
        return (kind, table, draw(st.integers(0, 50)), column, draw(st.sampled_from(values)))
    table = draw(st.sampled_from(_names))
    return (kind, table, draw(st.integers(0, 50)), draw(st.integers(0, 50)), draw(TEXT_VALUES))


def _apply(grids: dict[str, list[list[str]]], m: tuple) -> None:
    kind, table, i, j, value = m
    if table not in grids:
        return
    grid = grids[table]
    if kind == "delete_table":
        del grids[table]
        return
    if kind == "rename_table":
        grids[f"{table}_old"] = grids.pop(table)
        return
    if not grid:
        return
    header = grid[0]
    data = grid[1:]
    if kind == "extreme":
        if j in header and data:
            row = data[i % len(data)]
            k = header.index(j)
            if k < len(row):  # a row an earlier mutation cut short keeps its shape
                row[k] = value
        return
    col = j % max(len(header), 1)
    if kind == "cell" and data:
        row = data[i % len(data)]
        if col < len(row):
            row[col] = value
    elif kind == "delete_column" and header:
        for r in grid:
            if col < len(r):
                del r[col]
    elif kind == "rename_column" and header:
        header[col] = value
    elif kind == "blank_header" and header:
        header[col] = ""
    elif kind == "extra_column":
        header.append(value or "extra")
    elif kind == "ragged_long" and data:
        data[i % len(data)].insert(col, value)
    elif kind == "ragged_short" and data:
        row = data[i % len(data)]
        del row[-1 - (j % max(len(row), 1)):]
    elif kind == "duplicate_row" and data:
        grid.append(list(data[i % len(data)]))
    elif kind == "delete_rows":
        del grid[1 + (i % max(len(data), 1)):]


def _csv_text(grid: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(grid)
    return buf.getvalue()


def _write_workbook(grids: dict[str, list[list[str]]], path: Path) -> None:
    wb = xlsxwriter.Workbook(
        str(path), {"strings_to_formulas": False, "strings_to_numbers": False,
                    "strings_to_urls": False}
    )
    for name, grid in grids.items():
        ws = wb.add_worksheet(name[:31])
        for r, row in enumerate(grid):
            for c, text in enumerate(row):
                try:
                    number = float(text)
                except ValueError:
                    number = None
                if number is not None and math.isfinite(number) and text.strip() == text:
                    ws.write_number(r, c, number)
                elif text:
                    ws.write_string(r, c, text)
    wb.close()


FILE_DAMAGE = st.one_of(
    st.none(),
    st.tuples(
        st.sampled_from(["truncate", "latin1", "utf16", "garbage", "empty", "nul", "quote"]),
        st.sampled_from(_names),
        st.integers(0, 10_000),
    ),
)

XLSX_DAMAGE = st.one_of(
    st.none(),
    st.tuples(st.sampled_from(["truncate", "flip", "garbage", "template"]),
              st.integers(0, 100_000)),
)


def _damage_file(path: Path, kind: str, at: int) -> None:
    data = path.read_bytes()
    if kind == "truncate":
        path.write_bytes(data[: at % max(len(data), 1)])
    elif kind == "latin1":
        path.write_bytes(data.replace(b"Poland", "Pôland".encode("latin-1")))
    elif kind == "utf16":
        path.write_bytes(data.decode("utf-8", "replace").encode("utf-16"))
    elif kind == "garbage":
        path.write_bytes(bytes((at * 7 + k * 13) % 256 for k in range(64)))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "nul":
        path.write_bytes(data[: at % max(len(data), 1)] + b"\x00" + data[at % max(len(data), 1):])
    elif kind == "quote":
        pos = at % max(len(data), 1)
        path.write_bytes(data[:pos] + b'"' + data[pos:])


def _write_plan(
    root: Path, fmt: str, grids: dict[str, list[list[str]]], damage, xlsx_damage
) -> Path:
    if fmt == "csv":
        plan = root / "plan"
        plan.mkdir()
        for name, grid in grids.items():
            (plan / f"{name}.csv").write_text(_csv_text(grid), encoding="utf-8")
        if damage is not None and (plan / f"{damage[1]}.csv").exists():
            _damage_file(plan / f"{damage[1]}.csv", damage[0], damage[2])
        return plan
    path = root / "plan.xlsx"
    if xlsx_damage is not None and xlsx_damage[0] == "template":
        path.write_bytes(BASE_WORKBOOK)
        return path
    _write_workbook(grids, path)
    if xlsx_damage is not None:
        kind, at = xlsx_damage
        data = bytearray(path.read_bytes())
        pos = at % len(data)
        if kind == "truncate":
            data = data[:pos]
        elif kind == "flip":
            for k in range(pos, min(pos + 16, len(data))):
                data[k] ^= 0xFF
        else:
            data[pos: pos + 256] = bytes(range(256))
        path.write_bytes(bytes(data))
    return path


def _reject_constant(text: str) -> None:
    raise ValueError(f"not JSON: {text}")


def _check_outcome(result: Result, command: str) -> None:
    """Exit 0, or exit 1/2 with a one-line `error: ...` as the last line of stderr."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        command,
        repr(result.exception),
        result.output[-2000:],
    )
    assert result.exit_code in (0, 1, 2), (command, result.exit_code, result.output[-2000:])
    if result.exit_code == 0:
        return
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, (command, result.output[-2000:])
    assert lines[-1].lower().startswith("error: "), (command, result.output[-2000:])


RUNNER = CliRunner()


@settings(
    max_examples=700,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    fmt=st.sampled_from(["csv", "csv", "xlsx"]),
    mutations=st.lists(mutation(), min_size=0, max_size=3),
    damage=FILE_DAMAGE,
    xlsx_damage=XLSX_DAMAGE,
)
def test_corrupted_plans_give_a_result_or_a_one_line_reason(fmt, mutations, damage, xlsx_damage):
    grids = {name: [list(r) for r in grid] for name, grid in BASE_GRIDS.items()}
    for m in mutations:
        _apply(grids, m)
    with tempfile.TemporaryDirectory() as tmp:
        plan = _write_plan(Path(tmp), fmt, grids, damage, xlsx_damage)
        checked = RUNNER.invoke(main, ["validate", str(plan)], catch_exceptions=True)
        _check_outcome(checked, "validate")
        allocated = RUNNER.invoke(
            main, ["allocate", str(plan), "--funding", "60%", "--json"], catch_exceptions=True
        )
        _check_outcome(allocated, "allocate")
    event(f"validate exit {checked.exit_code}, allocate exit {allocated.exit_code}")
    if allocated.exit_code == 0:
        payload = json.loads(allocated.stdout, parse_constant=_reject_constant)
        assert payload["funding_usd"] >= 0
    # validate catches everything allocate would refuse (and refuses nothing it allocates)
    assert (checked.exit_code == 0) == (allocated.exit_code == 0), (
        checked.output[-2000:],
        allocated.output[-2000:],
    )


def test_the_undamaged_tiny_plan_is_allocated(tmp_path):
    grids = {name: [list(r) for r in grid] for name, grid in BASE_GRIDS.items()}
    for fmt in ("csv", "xlsx"):
        root = tmp_path / fmt
        root.mkdir()
        plan = _write_plan(root, fmt, grids, None, None)
        checked = RUNNER.invoke(main, ["validate", str(plan)])
        assert checked.exit_code == 0, checked.output
        allocated = RUNNER.invoke(main, ["allocate", str(plan), "--funding", "60%", "--json"])
        assert allocated.exit_code == 0, allocated.output
        payload = json.loads(allocated.stdout, parse_constant=_reject_constant)
        assert payload["allocated_usd"] > 0 and payload["people_reached"] > 0
