"""Tests of the simulation reports."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pandas as pd
import pytest

from reachplan.model.simulation import needs_per_draw, simulate
from reachplan.reports import simulation as report
from reachplan.scenarios.simulation_io import load_initial_state, load_simulation

RESULT = simulate(load_simulation(), load_initial_state(), draws=200, seed=11, months=24)
NEEDS = needs_per_draw(RESULT)


def test_percentile_csv_columns_and_rows():
    frame = pd.read_csv(io.StringIO(report.render_percentiles_csv(RESULT)), dtype={"month": str})
    assert list(frame.columns) == [
        "series", "location_code", "month", "p05", "p10", "p50", "p90", "p95", "mean",
    ]
    assert len(frame) == (2 + 12) * 25
    assert set(frame.series) == {"idps", "returnees", "refugees"}
    assert set(frame[frame.series == "refugees"].location_code) == {
        "POL", "MDA", "CZE", "SVK", "LTU", "HUN", "ROU", "BGR", "BLR", "EST", "LVA", "XEU",
    }
    assert frame.month.str.fullmatch(r"\d{4}-\d{2}").all()
    q = frame[["p05", "p10", "p50", "p90", "p95"]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all()
    start = frame[(frame.series == "idps") & (frame.month == "2023-12")]
    assert start.p50.item() == 3_700_000
    end = frame[(frame.series == "returnees") & (frame.month == "2025-12")]
    assert end.p50.item() == pytest.approx(np.median(RESULT.returnees[:, -1]), abs=1)


def test_needs_csv():
    frame = pd.read_csv(io.StringIO(report.render_needs_csv(NEEDS)))
    assert list(frame.columns) == ["draw", "location_code", "region", "year", "people_in_need"]
    assert set(frame.year) == {2024, 2025}
    assert frame.draw.nunique() == 200
    pick = frame[(frame.draw == 5) & (frame.location_code == "UKR") & (frame.year == 2024)]
    assert pick.people_in_need.item() == pytest.approx(NEEDS.values[5, 0, 0], abs=0.5)


def test_write_needs_is_atomic_and_overwrites(tmp_path):
    (tmp_path / report.NEEDS_FILE).write_text("old\n")
    paths = report.write_needs(tmp_path, RESULT, NEEDS)
    assert [p.name for p in paths] == [report.NEEDS_FILE, report.PROVENANCE_FILE]
    assert (tmp_path / report.NEEDS_FILE).read_text().startswith("draw,location_code")
    assert sorted(os.listdir(tmp_path)) == sorted([report.NEEDS_FILE, report.PROVENANCE_FILE])
    meta = json.loads((tmp_path / report.PROVENANCE_FILE).read_text())
    assert meta["seed"] == 11 and meta["draws"] == 200 and len(meta["scenario_sha256"]) == 64


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    (tmp_path / report.NEEDS_FILE).write_text("old\n")

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        report.write_needs(tmp_path, RESULT, NEEDS)
    assert (tmp_path / report.NEEDS_FILE).read_text() == "old\n"
    assert os.listdir(tmp_path) == [report.NEEDS_FILE]


def test_summary_states_stocks_needs_and_levers():
    text = report.render_summary(RESULT, NEEDS)
    assert "2023-12" in text and "2025-12" in text
    assert "3.70M" in text  # IDPs at the start
    assert "2024  Ukraine" in text and "2025  Ukraine" in text
    assert "facilitated returns" in text.split("off:")[1]
    assert "seed 11" in text
