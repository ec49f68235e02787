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

from reachplan.workflow.report_inputs import (
    build_report_inputs,
    files_sha256,
    report_data,
    write_suite_report,
)
from reachplan.workflow.suite import (
    OutputError,
    PlanBook,
    RunProgress,
    ScenarioRunError,
    Suite,
    SuiteEntry,
    SuiteError,
    SuiteResult,
    UnusablePlanError,
    load_initial_state,
    load_usable_plan,
    prepare_suite,
    run_stored,
    run_suite,
)

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
