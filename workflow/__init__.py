"""The workflow layer: one path from a command (or a notebook) to a result.

``cli.py``, notebooks and tests call these functions; they call ``model/``, ``solver/``
and ``scenarios/`` to compute and ``reports/`` to render, and never print.

- :mod:`workflow.suite`: load plans and scenarios, check them before anything is
  written, run them into a run store (resume, progress callbacks, executor);
- :mod:`workflow.run_store`: the chunk files of a run on disk;
- :mod:`workflow.report_inputs`: what a report shows that the runs do not carry
  (allocations at the plan's figures, extra-$1M values, funding ladders, displacement
  bands), as one frozen :class:`reports.report_data.ReportInputs`.

Example
-------
>>> from workflow import prepare_suite, run_suite, write_suite_report
>>> suite = prepare_suite([load_scenario("shortfall_60")], for_report=True)  # doctest: +SKIP
>>> done = run_suite(suite, load_initial_state(), Path("out"))  # doctest: +SKIP
>>> write_suite_report(done.runs, suite.plan, load_initial_state(), Path("out"))  # doctest: +SKIP
"""

import importlib
from typing import Any

_LAZY = {
    "OutputError": "reachplan.workflow.suite",
    "PlanBook": "reachplan.workflow.suite",
    "RunProgress": "reachplan.workflow.suite",
    "ScenarioRunError": "reachplan.workflow.suite",
    "Suite": "reachplan.workflow.suite",
    "SuiteEntry": "reachplan.workflow.suite",
    "SuiteError": "reachplan.workflow.suite",
    "SuiteResult": "reachplan.workflow.suite",
    "UnusablePlanError": "reachplan.workflow.suite",
    "build_report_inputs": "reachplan.workflow.report_inputs",
    "files_sha256": "reachplan.workflow.report_inputs",
    "load_initial_state": "reachplan.workflow.suite",
    "load_usable_plan": "reachplan.workflow.suite",
    "prepare_suite": "reachplan.workflow.suite",
    "report_data": "reachplan.workflow.report_inputs",
    "run_stored": "reachplan.workflow.suite",
    "run_suite": "reachplan.workflow.suite",
    "write_suite_report": "reachplan.workflow.report_inputs",
}
"""Where each name lives: imported on first use (a command pays only for what it uses)."""


def __getattr__(name: str) -> Any:
    """The re-exported name, imported from its module on first use (PEP 562)."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "OutputError",
    "PlanBook",
    "RunProgress",
    "ScenarioRunError",
    "Suite",
    "SuiteEntry",
    "SuiteError",
    "SuiteResult",
    "UnusablePlanError",
    "build_report_inputs",
    "files_sha256",
    "load_initial_state",
    "load_usable_plan",
    "prepare_suite",
    "report_data",
    "run_stored",
    "run_suite",
    "write_suite_report",
]
