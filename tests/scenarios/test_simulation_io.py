"""Tests of reading simulation assumptions, initial state and histories."""

from __future__ import annotations

from pathlib import Path

import pytest

from reachplan.model.calibration import HistoryError
from reachplan.model.simulation import AssumptionError, LogNormal
from reachplan.scenarios.simulation_io import (
    DEFAULT_HISTORY_FILES,
    DEFAULT_SIMULATION_FILE,
    load_history,
    load_initial_state,
    load_simulation,
)

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def write(tmp_path: Path, text: str, name: str = "scenario.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_load_with_provenance():
    a = load_simulation()
    assert a.rates.idp_return == LogNormal(0.0105, 0.69)
    assert a.facilitated_returns.enabled is False
    assert a.temporary_protection.scenario == "extended"
    assert a.source == str(DEFAULT_SIMULATION_FILE) and len(a.source_sha256) == 64


def test_a_scenario_overrides_only_what_it_states(tmp_path):
    path = write(
        tmp_path,
        '[simulation.surges]\nenabled = false\n'
        '[simulation.temporary_protection]\nscenario = "ended"\nend_month = "2025-03"\n'
        '[simulation.rates]\nidp_return = { dist = "uniform", low = 0.01, high = 0.02 }\n',
    )
    a = load_simulation(path)
    assert a.surges.enabled is False
    assert a.temporary_protection.scenario == "ended"
    assert a.temporary_protection.end_month == "2025-03"
    assert a.rates.idp_return.support() == (0.01, 0.02)
    assert a.rates.refugee_return == load_simulation().rates.refugee_return
    assert a.source == str(path)


def test_a_file_without_a_simulation_table_gives_the_defaults(tmp_path):
    path = write(tmp_path, '[budget]\nenvelope = 1\n')
    assert load_simulation(path).rates == load_simulation().rates


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("[simulation.rates]\nidp_retrun = 0.1\n", "simulation.rates.idp_retrun", "idp_return"),
        ("[simulation.surges]\nenabled = \"yes\"\n", "simulation.surges.enabled", "true or false"),
        ("[simulation.rates]\nidp_return = -0.1\n", "simulation.rates.idp_return", "negative"),
        (
            '[simulation.rates]\nrefugee_return = { dist = "uniform", low = -1, high = 1 }\n',
            "simulation.rates.refugee_return",
            "negative",
        ),
        (
            '[simulation.rates]\nidp_return = { dist = "gamma", k = 1 }\n',
            "simulation.rates.idp_return.dist",
            "lognormal",
        ),
        (
            '[simulation.rates]\nidp_return = { dist = "lognormal", median = 0.01 }\n',
            "simulation.rates.idp_return.sigma",
            "missing",
        ),
        (
            '[simulation.temporary_protection]\nend_month = "March 2025"\n',
            "simulation.temporary_protection.end_month",
            "YYYY-MM",
        ),
        (
            "[simulation.occupied_areas]\nbaltic_shares = { EST = 0.5, LVA = 0.6, LTU = 0.1 }\n",
            "simulation.occupied_areas.baltic_shares",
            "sum to 1",
        ),
        ("[simulation.needs]\naggregate = \"median\"\n", "simulation.needs.aggregate", "mean"),
        ("[simulation]\nrates = 3\n", "simulation.rates", "table"),
    ],
)
def test_invalid_values_name_the_file_and_key(tmp_path, text, key, message):
    path = write(tmp_path, text)
    with pytest.raises(AssumptionError) as caught:
        load_simulation(path)
    assert caught.value.file == str(path)
    assert caught.value.key == key
    assert message in str(caught.value)
    assert str(path) in str(caught.value) and key in str(caught.value)


def test_invalid_toml_names_the_file(tmp_path):
    path = write(tmp_path, "[simulation\n")
    with pytest.raises(AssumptionError, match="not valid TOML") as caught:
        load_simulation(path)
    assert caught.value.file == str(path)


def test_initial_state_is_the_plans_key_figures():
    state = load_initial_state()
    assert str(state.month) == "2023-12"
    assert state.idps == 3_700_000 and state.returnees == 4_400_000
    assert state.non_displaced == 36_500_000 - 3_700_000 - 4_400_000
    assert sum(state.refugees) == 6_000_000
    assert state.refugees[-1] == 6_000_000 - 1_932_575  # rest of Europe
    assert state.refugees[0] == 956_635  # Poland


def test_initial_state_errors_name_the_row(tmp_path):
    text = (Path(__file__).resolve().parents[2] / "scenarios/data/initial_state_2023_12.csv")
    lines = text.read_text().splitlines()
    lines[3] = lines[3].replace("36500000", "lots")
    path = write(tmp_path, "\n".join(lines) + "\n", "state.csv")
    with pytest.raises(AssumptionError, match="row 4, column value"):
        load_initial_state(path)


def test_shipped_histories_are_the_shared_files_unchanged():
    for name in ("displacement_history_2022_2023.csv", "refugee_stocks_end_2023.csv"):
        shipped = Path(__file__).resolve().parents[2] / "scenarios" / "data" / name
        if not (SHARED / name).exists():
            pytest.skip("shared data not beside the project")
        assert shipped.read_bytes() == (SHARED / name).read_bytes()


def test_history_loads_every_row():
    history = load_history(DEFAULT_HISTORY_FILES)
    assert len(history) == 102 + 3  # every data row of both files
    row = history[(history.series == "idp_gps_iom") & (history.row == 14)]
    assert row.value.item() == 3_700_000
    stocks = load_history(DEFAULT_HISTORY_FILES[0].with_name("refugee_stocks_end_2023.csv"))
    assert stocks.date.notna().all()


@pytest.mark.parametrize(
    ("line", "column"),
    [
        ("idp_gps_iom,Ukraine,2022-13-45,100,src", "date"),
        ("idp_gps_iom,Ukraine,2022-10-01,many,src", "value"),
        ("idp_gps_iom,Ukraine,last year,100,src", "date"),
    ],
)
def test_malformed_history_names_file_row_and_column(tmp_path, line, column):
    path = write(tmp_path, f"series,location,date,value,source\n{line}\n", "h.csv")
    with pytest.raises(HistoryError) as caught:
        load_history(path)
    assert caught.value.row == 2 and caught.value.column == column
    assert f"{path}: row 2, column {column}" in str(caught.value)


def test_history_missing_column(tmp_path):
    path = write(tmp_path, "series,location,value\nx,y,1\n", "h.csv")
    with pytest.raises(HistoryError, match="missing column"):
        load_history(path)
