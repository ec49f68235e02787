"""A small scenario report built once per test process (two scenarios, few draws)."""

from __future__ import annotations

import dataclasses
import functools
import tempfile
from dataclasses import dataclass
from pathlib import Path

from reachplan.reports.report_data import ReportData, ReportInputs, build_report_data
from reachplan.scenarios.plan_io import load_plan
from reachplan.scenarios.scenario_io import SCENARIO_DIR, load_scenario
from reachplan.scenarios.simulation_io import load_initial_state
from reachplan.solver.batch import ScenarioRun, run_scenario
from reachplan.workflow import build_report_inputs

DRAWS = 50
FORMULA_NAME = "=SUM(A1)"
MARKUP_NAME = 'tp <b id="injected">ends</b>'


@dataclass(frozen=True, eq=False)
class SmallReport:
    runs: list[ScenarioRun]
    data: ReportData
    scenario_files: list[Path]
    inputs: ReportInputs


def write_scenarios(directory: Path) -> list[Path]:
    """Two scenario files; :func:`small_report` gives them names a spreadsheet or a browser
    could misread (a file's ``name`` must be a safe folder name, so they are set in code)."""
    files = []
    for stem, parent in (("formula", "shortfall_50"), ("markup", "tp_ends_2025")):
        path = directory / f"{stem}.toml"
        parent_path = (SCENARIO_DIR / f"{parent}.toml").as_posix()
        path.write_text(f"extends = '{parent_path}'\nname = '{stem}'\n")
        files.append(path)
    return files


@functools.lru_cache(maxsize=1)
def small_report() -> SmallReport:
    directory = Path(tempfile.mkdtemp(prefix="reachplan-report-test-"))
    files = write_scenarios(directory)
    loaded = load_plan()
    assert loaded.plan is not None
    initial = load_initial_state()
    names = (FORMULA_NAME, MARKUP_NAME)
    scenarios = [
        dataclasses.replace(load_scenario(f, draws=DRAWS), name=name)
        for f, name in zip(files, names, strict=True)
    ]
    runs = [run_scenario(loaded.plan, scenario, initial) for scenario in scenarios]
    inputs = build_report_inputs(runs, loaded.plan, initial,
                                 warnings=loaded.validation.warnings, ladder_step=0.5)
    return SmallReport(runs, build_report_data(inputs), files, inputs)
