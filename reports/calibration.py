"""The working of a unit-cost calibration (console text and JSON) and where it is written.

``reachplan plan calibrate PLAN`` shows, per line, the requirement, the target its rule
divides by, the unit cost and the rule used (:mod:`reachplan.model.unit_costs`), then per
location the people full funding reaches against the target. Where the tables go
(:func:`write_cost_calibration`):

- a folder of CSV files: ``unit_costs.csv`` (and ``cost_curve.csv`` when the plan had no
  cost curve) in the folder;
- an ``.xlsx`` workbook: the ``unit_costs`` (and ``cost_curve``) sheets replaced in the
  workbook, at the same place among the sheets (added at the end when new); every other
  sheet is kept. The workbook is written to a temporary file beside it and moved into
  place, so it is never left half-written. Cell values are kept; formatting of the
  replaced sheets is not;
- ``--out DIR``: the same CSV files in ``DIR`` instead, the plan untouched.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import pandas as pd

from reachplan.model.tables import TABLES_BY_NAME
from reachplan.model.unit_costs import Calibration
from reachplan.reports.plan_files import write_plan_tables, write_text_atomic

__all__ = [
    "cost_calibration_json",
    "render_cost_calibration",
    "write_cost_calibration",
    "written_targets",
]


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _count(value: float) -> str:
    return f"{value:,.0f}" if math.isfinite(value) else "-"


def _unit(value: float) -> str:
    return f"${value:,.4f}"


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def render_cost_calibration(
    calibration: Calibration, plan_label: str, written: list[Path] | None = None
) -> str:
    """The working as console text: one row per line, then the check per location."""
    cal = calibration
    out = [
        f"Unit costs calibrated on {cal.year} for {plan_label}",
        f"overlap factor {cal.overlap_factor:g}; cost curve mean 1/factor "
        f"m = {cal.mean_inverse_factor:.6g}"
        + (" (default cost curve supplied: a planning assumption)" if cal.curve_supplied else ""),
        "",
    ]
    rows = [
        [
            ln.location_code,
            ln.sector_code,
            ln.output,
            _money(ln.requirement_usd),
            _count(ln.target),
            f"{ln.cost_index:g}",
            _unit(ln.unit_cost_usd),
            _count(ln.reached_at_full_funding(cal.mean_inverse_factor)),
            ln.rule,
        ]
        for ln in cal.lines
    ]
    header = ["location", "sector", "output", f"requirement {cal.year}", "target",
              "cost index", "unit cost", "reached at full", "rule"]
    out += _table(header, rows, right={3, 4, 5, 6, 7})
    if cal.locations:
        out += ["", "People reached at full funding (sector beneficiaries / overlap factor, "
                    "at most the people in need):"]
        rows = [
            [c.location_code, _count(c.people_targeted), _count(c.people_in_need),
             _count(c.people_reached), c.note or "reaches the target"]
            for c in cal.locations
        ]
        out += _table(["location", "targeted", "in need", "reached", "note"], rows, right={1, 2, 3})
    if cal.skipped:
        out += ["", "Lines without a unit cost:"] + [f"  {s}" for s in cal.skipped]
    out += [
        "",
        "Rules: 'cluster target' u = m x requirement / cluster's people targeted; "
        "'location target' u = m x sum(requirement / cost index) / (overlap x people "
        "targeted) x cost index; 'entities targeted' the same on entities without overlap; "
        "see docs/allocation.md.",
    ]
    if written:
        out += [""] + [f"wrote {p}" for p in written]
    return "\n".join(out) + "\n"


def cost_calibration_json(
    calibration: Calibration, plan_label: str, written: list[Path] | None = None
) -> dict[str, Any]:
    """The working as one JSON-ready mapping (non-finite numbers for the caller to null)."""
    cal = calibration
    m = cal.mean_inverse_factor
    return {
        "plan": plan_label,
        "year": cal.year,
        "overlap_factor": cal.overlap_factor,
        "mean_inverse_factor": m,
        "cost_curve": {
            "supplied": cal.curve_supplied,
            "tranches": [
                {
                    "tranche": int(r.tranche),
                    "share_of_requirement": float(r.share_of_requirement),
                    "cost_factor": float(r.cost_factor),
                }
                for r in cal.cost_curve.sort_values("tranche").itertuples()
            ],
        },
        "lines": [
            {
                "location_code": ln.location_code,
                "sector_code": ln.sector_code,
                "output": ln.output,
                "rule": ln.rule,
                "requirement_usd": ln.requirement_usd,
                "target": ln.target,
                "cost_index": ln.cost_index,
                "unit_cost_usd": ln.unit_cost_usd,
                "reached_at_full_funding": ln.reached_at_full_funding(m),
                "note": ln.note,
            }
            for ln in cal.lines
        ],
        "locations": [
            {
                "location_code": c.location_code,
                "people_targeted": c.people_targeted,
                "people_in_need": c.people_in_need,
                "sector_beneficiaries": c.sector_beneficiaries,
                "people_reached": c.people_reached,
                "note": c.note,
            }
            for c in cal.locations
        ],
        "skipped": list(cal.skipped),
        "written": [str(p) for p in written or []],
    }


def written_targets(calibration: Calibration, plan_path: Path, out_dir: Path | None) -> list[str]:
    """Where each table would go: file paths, or ``workbook [sheet name]``."""
    names = list(calibration.tables())
    if out_dir is None and plan_path.suffix.lower() == ".xlsx":
        return [f"{plan_path} [sheet {n}]" for n in names]
    folder = plan_path if out_dir is None else out_dir
    return [str(folder / f"{n}.csv") for n in names]


def write_cost_calibration(
    calibration: Calibration, plan_path: Path, out_dir: Path | None = None
) -> list[Path]:
    """Write the calibrated tables (see the module docstring for where); the paths written."""
    tables = calibration.tables()
    if out_dir is not None or plan_path.suffix.lower() != ".xlsx":
        return write_plan_tables(tables, plan_path if out_dir is None else out_dir)
    _replace_sheets(plan_path, tables)
    return [plan_path]


def _cell(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return value.item()  # type: ignore[union-attr]
    return value


def _replace_sheets(path: Path, tables: dict[str, pd.DataFrame]) -> None:
    """Replace (or add) one sheet per table in the workbook at ``path``, atomically."""
    import openpyxl

    wb = openpyxl.load_workbook(path)
    try:
        for name, frame in tables.items():
            spec = TABLES_BY_NAME[name]
            cols = [c for c in spec.column_names if c in frame.columns]
            position = len(wb.worksheets)
            for i, ws in enumerate(wb.worksheets):
                if ws.title.strip().lower() == name:
                    position = i
                    wb.remove(ws)
                    break
            ws = wb.create_sheet(name, position)
            ws.append(cols)
            for row in frame[cols].itertuples(index=False):
                ws.append([_cell(v) for v in row])
            for row in ws.iter_rows(min_row=2):
                for cell in row:
                    if isinstance(cell.value, str) and cell.value.startswith("="):
                        cell.data_type = "s"  # text, never a formula
        buf = io.BytesIO()
        wb.save(buf)
    finally:
        wb.close()
    write_text_atomic(path, buf.getvalue())
