"""Command line for reachplan: thin layer of load -> compute -> write.

Every command exits 0 on success, 1 on invalid input or an infeasible
scenario (one-line reason naming the file, row and field), 2 on usage errors.
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from model.errors import ReachplanError
from model.scenario import ScenarioError
from model.simulation import AssumptionError
from scenarios.plan_io import LoadedPlan, PlanReadError, load_plan
from solver.result import InfeasibleScenarioError, ModelRangeError

if TYPE_CHECKING:
    from model.funding import Envelope, FundingScenario
    from model.plan import Plan
    from model.scenario import Scenario
    from model.simulation import InitialState
    from solver.batch import ChunkResult, ScenarioRun

__all__ = ["main"]

PLAN_ARG = click.argument(
    "plan_path",
    metavar="[PLAN]",
    required=False,
    type=click.Path(path_type=Path),
)


def fail(message: str) -> NoReturn:
    """Print a one-line reason to stderr and exit 1 (invalid input, infeasible scenario)."""
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def read_plan(plan_path: Path | None) -> LoadedPlan:
    """Load and validate a plan; exit 1 listing its errors (the first 20, then a count)."""
    from reports.plan_report import capped

    try:
        loaded = load_plan(plan_path)
    except PlanReadError as exc:
        fail(str(exc))
    if not loaded.validation.ok:
        for line in capped([f"error: {p}" for p in loaded.validation.errors]):
            click.echo(line, err=True)
        fail(
            f"{loaded.path}: the plan has {len(loaded.validation.errors)} error(s); "
            "run `reachplan validate` for the full list"
        )
    return loaded


class _Group(click.Group):
    """A command group that turns every planner-fixable error into exit 1 and one line.

    Commands catch what they can explain best; any :class:`ReachplanError` that still
    reaches this point (a bad code in a scenario, an assumption out of range, ...) is
    printed as ``error: <message>`` on stderr, never as a traceback.
    """

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ReachplanError as exc:
            fail(_one_line(str(exc)))


def _one_line(message: str) -> str:
    """A message on one line (newlines folded), so scripts can read it from the last line."""
    return " ".join(message.split())


def _finite(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """Refuse NaN and infinity for a number option (a usage error, exit 2)."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"must be a finite number, not {value}")
    return value


def _echo_json(value: object) -> None:
    """Strict JSON on stdout (non-finite numbers as null)."""
    from reports.json_text import dumps

    click.echo(dumps(value), nl=False)


def _load_scenario(item: str | Path, **overrides: int | None) -> Scenario:
    """A scenario file (or shipped name); exit 1 naming the file and key when invalid."""
    from scenarios.scenario_io import load_scenario

    try:
        return load_scenario(item, **overrides)  # type: ignore[arg-type]
    except ScenarioError as exc:
        fail(_one_line(str(exc)))


def _check_against_plan(scenario: Scenario, plan: Plan) -> None:
    """Refuse a scenario naming codes the plan lacks (ScenarioError: file, rule and key)."""
    from scenarios.scenario_io import check_against_plan

    check_against_plan(scenario, plan)


def _plan_path(plan_path: Path | None, scenario: Scenario | None) -> Path | None:
    """Which plan a command uses: PLAN/--plan, else the scenario's ``plan =``, else shipped."""
    if plan_path is not None:
        return plan_path
    if scenario is not None and scenario.plan:
        return Path(scenario.plan)
    return None


def _plan_for_scenario(plan_path: Path | None, scenario: Scenario) -> LoadedPlan:
    """The plan of a scenario (see :func:`_plan_path`), checked against the scenario."""
    path = _plan_path(plan_path, scenario)
    loaded = _LOADED.get(path)
    if loaded is None:
        loaded = _LOADED[path] = read_plan(path)
    assert loaded.plan is not None
    _check_against_plan(scenario, loaded.plan)
    return loaded


def _scenario_file(scenario: Scenario) -> str:
    return scenario.files[0] if scenario.files else scenario.name


_LOADED: dict[Path | None, LoadedPlan] = {}
_FEASIBLE: set[tuple[str, object]] = set()


def _require_feasible(plan_obj: Plan, scenario: Scenario) -> None:
    """Solve the scenario's base allocation once; exit 1 naming the file if it is infeasible.

    Called by every command that runs a scenario before anything is written to --out,
    so an infeasible scenario is explained in planner words (as ``allocate`` does) and
    leaves no run store behind. Scenarios with the same rules are solved once.
    """
    import dataclasses

    from solver.allocate import allocate

    key = (plan_obj.fingerprint, dataclasses.replace(scenario.funding, name=""))
    if key in _FEASIBLE:
        return
    where = _scenario_file(scenario)
    try:
        allocate(plan_obj, scenario.funding)
    except InfeasibleScenarioError as exc:
        fail(f"{where}: infeasible scenario: {_one_line(str(exc))}")
    except ModelRangeError as exc:
        fail(f"{plan_obj.source}: {_one_line(str(exc))}")
    except ValueError as exc:  # codes the plan does not have (solver.model.selector_mask)
        fail(f"{where}: {_one_line(str(exc))}")
    _FEASIBLE.add(key)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="reachplan")
def main() -> None:
    """Reachplan: allocate constrained humanitarian funding to reach the most people.

    Runs on the shipped default plan (IOM Strategic Response Plan for Ukraine
    and Neighbouring Countries 2024-2026) when no plan is given.
    """


@main.command()
@PLAN_ARG
@click.option("--json", "as_json", is_flag=True, help="Machine-readable problems.")
def validate(plan_path: Path | None, as_json: bool) -> None:
    """Check a plan and list every problem (file, row, column).

    PLAN is a folder of CSV tables or an .xlsx workbook; default: the shipped plan.
    Exits 0 when the plan is usable (warnings listed), 1 when it is not. The text
    lists the first 20 problems and counts the rest; --json lists every one.

    \b
    Example:
      reachplan validate my_plan.xlsx
    """
    from reports.plan_report import render_validation, validation_json

    try:
        loaded = load_plan(plan_path)
    except PlanReadError as exc:
        fail(str(exc))
    label = str(loaded.path)
    render = validation_json if as_json else render_validation
    click.echo(render(loaded.validation, label), nl=False)
    if not loaded.validation.ok:
        n = len(loaded.validation.errors)
        fail(f"{label}: the plan has {n} error{'s' if n != 1 else ''}; it cannot be allocated")


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Plan to start from (default: the shipped plan).",
)
@click.option("--empty", is_flag=True, help="Headers only, no rows.")
@click.option("--force", is_flag=True, help="Overwrite plan files already in DIRECTORY.")
def template(directory: Path, plan_path: Path | None, empty: bool, force: bool) -> None:
    """Write an editable plan: one CSV per table and plan.xlsx with instructions.

    \b
    Example:
      reachplan template my_plan && reachplan validate my_plan/plan.xlsx
    """
    from model.tables import TABLES
    from reports.template import empty_tables, write_template

    existing = [p for p in (directory / f"{t.name}.csv" for t in TABLES) if p.exists()]
    existing += [p for p in [directory / "plan.xlsx"] if p.exists()]
    if existing and not force:
        fail(f"{existing[0]} already exists; use --force to overwrite, or another directory")
    tables = empty_tables() if empty else dict(read_plan(plan_path).plan.tables)  # type: ignore[union-attr]
    try:
        written = write_template(tables, directory)
    except OSError as exc:
        fail(f"{directory}: cannot write ({exc.strerror})")
    click.echo(f"wrote {len(written)} files to {directory}/ (CSV tables and plan.xlsx)", err=True)


@main.group()
def plan() -> None:
    """Look at a plan: totals and exports."""


@plan.command("show")
@PLAN_ARG
def plan_show(plan_path: Path | None) -> None:
    """Totals by objective, region, year and country, laid out like the plan document.

    \b
    Example:
      reachplan plan show
    """
    from reports.plan_report import render_plan_summary

    loaded = read_plan(plan_path)
    assert loaded.plan is not None
    click.echo(render_plan_summary(loaded.plan, loaded.validation.warnings), nl=False)


@plan.command("export")
@PLAN_ARG
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True
)
@click.option(
    "--table",
    default="requirements",
    show_default=True,
    type=click.Choice(
        ["requirements", "populations", "locations", "sectors", "objectives", "stated_totals"]
    ),
    help="Which table to print.",
)
@click.option("--hxl", is_flag=True, help="Add an HXL hashtag row under the CSV header.")
def plan_export(plan_path: Path | None, fmt: str, table: str, hxl: bool) -> None:
    """Print a plan table, one row per cell, so any margin can be recomputed.

    The requirements table has the columns location_code, sector_code, year,
    objective, requirements_usd, origin (source or derived), region, note.

    \b
    Example:
      reachplan plan export --format csv > requirements.csv
    """
    from reports.plan_report import render_export

    loaded = read_plan(plan_path)
    assert loaded.plan is not None
    click.echo(render_export(loaded.plan, fmt=fmt, table=table, hxl=hxl), nl=False)


@main.command("simulate")
@click.option(
    "--scenario",
    "scenario_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="TOML file whose [simulation] table overrides the shipped assumptions.",
)
@click.option(
    "--draws",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Monte Carlo draws.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    required=True,
    help="Random seed; the same seed gives the same numbers.",
)
@click.option(
    "--start",
    metavar="YYYY-MM",
    default=None,
    help="First month reported (default: the initial state, 2023-12).",
)
@click.option(
    "--months",
    type=click.IntRange(min=1),
    default=36,
    show_default=True,
    help="Months simulated after the start.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "csv"]),
    default="text",
    show_default=True,
    help="Summary text, or the long percentile table as CSV.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="The summary as one JSON object: provenance, stocks (p10/p50/p90/mean at the first "
    "and last month), people_in_need per location and year, percentiles per series, "
    "location and month.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also write the per-draw needs table into this directory.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def simulate_command(
    scenario_path: Path | None,
    draws: int,
    seed: int,
    start: str | None,
    months: int,
    fmt: str,
    as_json: bool,
    out_dir: Path | None,
    quiet: bool,
) -> None:
    """Simulate displacement and returns month by month (Monte Carlo).

    Prints medians and 80% intervals of IDPs, returnees, refugees and people in
    need; --format csv prints percentiles per series, location and month.

    \b
    Example:
      reachplan simulate --draws 10000 --seed 42
      reachplan simulate --draws 5000 --seed 1 --format csv > percentiles.csv
      reachplan simulate --scenario tp_ends.toml --draws 2000 --seed 7 --out runs/
      reachplan simulate --draws 500 --seed 1 --json > simulation.json
    """
    from model.simulation import AssumptionError, needs_per_draw, simulate
    from reports.simulation import (
        render_percentiles_csv,
        render_summary,
        summary_json,
        write_needs,
    )
    from scenarios.simulation_io import load_initial_state, load_simulation

    if as_json and fmt == "csv":
        raise click.UsageError("--json and --format csv are two outputs; choose one")
    try:
        assumptions = load_simulation(scenario_path)
        initial = load_initial_state()
        show = not quiet and draws * months >= 36_000
        if show:
            from rich.console import Console
            from rich.progress import Progress

            with Progress(console=Console(stderr=True), transient=True) as bar:
                task = bar.add_task("Simulating", total=draws)
                result = simulate(
                    assumptions,
                    initial,
                    draws=draws,
                    seed=seed,
                    start=start,
                    months=months,
                    progress=lambda done: bar.update(task, completed=done),
                )
        else:
            result = simulate(
                assumptions, initial, draws=draws, seed=seed, start=start, months=months
            )
        needs = needs_per_draw(result)
    except AssumptionError as exc:
        fail(str(exc))
    if out_dir is not None:
        try:
            paths = write_needs(out_dir, result, needs)
        except OSError as exc:
            fail(f"{out_dir}: cannot write: {exc.strerror or exc}")
        if not quiet:
            click.echo(f"wrote {', '.join(str(p) for p in paths)}", err=True)
    if as_json:
        _echo_json(summary_json(result, needs))
    elif fmt == "csv":
        click.echo(render_percentiles_csv(result), nl=False)
    else:
        click.echo(render_summary(result, needs), nl=False)


@main.command("calibrate")
@click.argument("history", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--fit-from",
    metavar="YYYY-MM",
    default=None,
    help="First month fitted (default: once IDPs, returnees and refugees are observed).",
)
@click.option(
    "--holdout-from",
    metavar="YYYY-MM",
    default=None,
    help="First month held out and scored (default: the last quarter of observations).",
)
@click.option(
    "--draws",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Draws of the holdout forecast.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Random seed of the holdout forecast.",
)
@click.option(
    "--scenario",
    "scenario_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Scenario whose unfitted assumptions are used.",
)
def calibrate_command(
    history: tuple[Path, ...],
    fit_from: str | None,
    holdout_from: str | None,
    draws: int,
    seed: int,
    scenario_path: Path | None,
) -> None:
    """Fit the displacement rates to an observed history and score a holdout.

    HISTORY is one or more CSV files with columns series, location, date,
    value, source. Prints the averaged relative difference, MASE against a
    no-change forecast, the coverage of 80% and 95% intervals, and the fitted
    rates.

    \b
    Example:
      reachplan calibrate scenarios/data/displacement_history_2022_2023.csv \\
          scenarios/data/plan_key_figures_2023_12.csv --fit-from 2022-09 --holdout-from 2022-12
    """
    from model.calibration import HistoryError, calibrate
    from model.simulation import AssumptionError
    from reports.simulation import render_calibration
    from scenarios.simulation_io import load_history, load_initial_state, load_simulation

    try:
        observed = load_history(history)
        result = calibrate(
            observed,
            load_simulation(scenario_path),
            load_initial_state(),
            fit_from=fit_from,
            holdout_from=holdout_from,
            draws=draws,
            seed=seed,
        )
    except (HistoryError, AssumptionError) as exc:
        fail(str(exc))
    click.echo(render_calibration(result), nl=False)


@main.command("run")
@click.argument("scenario_files", nargs=-1, metavar="SCENARIO...")
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Plan (default: the scenario's own, else the shipped plan).",
)
@click.option(
    "--draws",
    type=click.IntRange(min=1),
    default=None,
    help="Simulated futures per scenario (default: each scenario's own).",
)
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Override the seed.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes; the numbers do not depend on it.",
)
@click.option(
    "--executor", type=click.Choice(["processes", "dask"]), default="processes", show_default=True
)
@click.option("--scheduler", default=None, help="Dask scheduler address (with --executor dask).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reachplan-output"),
    show_default=True,
    help="Where chunks (and reports) are written.",
)
@click.option("--resume", is_flag=True, help="Finish an interrupted run in --out.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable results on stdout.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--report/--no-report",
    "write_report",
    default=True,
    show_default=True,
    help="Write report.html, report.xlsx and the CSVs into --out.",
)
@click.option("--png", is_flag=True, help="With the report, also write PNG charts for slides.")
@click.option(
    "--hxl/--no-hxl",
    default=True,
    show_default=True,
    help="HXL hashtag row under each CSV table's header.",
)
def run_command(
    scenario_files: tuple[str, ...],
    plan_path: Path | None,
    draws: int | None,
    seed: int | None,
    workers: int,
    executor: str,
    scheduler: str | None,
    out_dir: Path,
    resume: bool,
    as_json: bool,
    quiet: bool,
    write_report: bool,
    png: bool,
    hxl: bool,
) -> None:
    """Run scenarios: simulate futures, re-solve the allocation in each, summarise.

    SCENARIO is a TOML file or the name of a shipped scenario (shortfall_50, ...);
    without any, the whole shipped suite runs. Chunks are written to --out as they
    finish, so an interrupted run continues with --resume and gives the same numbers.
    The report (report.html, report.xlsx, CSV tables) is written to --out at the end.

    \b
    Example:
      reachplan run shortfall_60 tp_ends_2025 --draws 500 --workers 2
    """
    from reports.scenario_report import render_run_text, render_runs_json
    from scenarios.scenario_io import SUITE

    scenarios = [_load_scenario(item, draws=draws, seed=seed) for item in scenario_files or SUITE]
    if write_report:
        _one_plan(plan_path, scenarios)
    # every scenario is loaded, checked against its plan and solved once before anything
    # is written to --out: an invalid or infeasible scenario leaves no run store behind
    plans = [_plan_for_scenario(plan_path, scenario) for scenario in scenarios]
    for loaded_plan, scenario in zip(plans, scenarios, strict=True):
        assert loaded_plan.plan is not None
        _require_feasible(loaded_plan.plan, scenario)
    if executor == "dask":
        from solver.batch import check_scheduler

        check_scheduler(scheduler)  # an unreachable scheduler fails before --out is touched
    initial = _initial_state()
    runs = []
    for loaded_plan, scenario in zip(plans, scenarios, strict=True):
        assert loaded_plan.plan is not None
        run = _run_stored(
            loaded_plan.plan,
            scenario,
            initial,
            out_dir,
            resume=resume,
            workers=workers,
            quiet=quiet or as_json,
            executor=executor,
            scheduler=scheduler,
        )
        runs.append(run)
        if not as_json:
            click.echo(render_run_text(run))
    if as_json:
        click.echo(render_runs_json(runs), nl=False)
    if write_report:
        from reports.report import report_for_runs

        loaded = plans[0]
        try:
            report_for_runs(runs, loaded, _initial_state(), out_dir, png=png, hxl=hxl)
        except InfeasibleScenarioError as exc:
            fail(f"infeasible scenario: {_one_line(str(exc))}")
        except OSError as exc:
            fail(f"{out_dir}: cannot write ({exc.strerror or exc})")
        click.echo(f"report: {out_dir / 'report.html'} (and report.xlsx, CSV tables)", err=True)


def _one_plan(plan_path: Path | None, scenarios: list[Scenario]) -> Path | None:
    """The one plan of a report's scenarios; exit 1 when they name different plans."""
    paths = {_plan_path(plan_path, s) for s in scenarios}
    if len(paths) > 1:
        named = ", ".join(sorted(str(p) if p is not None else "the shipped plan" for p in paths))
        fail(f"the scenarios name different plans ({named}); a report is about one plan: "
             "give one with --plan or run them separately")
    return paths.pop()


@main.command("compare")
@click.argument("scenario_files", nargs=-1, required=True, metavar="SCENARIO...")
@click.option("--plan", "plan_path", type=click.Path(path_type=Path), default=None)
@click.option("--draws", type=click.IntRange(min=1), default=None)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reachplan-output"),
    show_default=True,
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def compare_command(
    scenario_files: tuple[str, ...],
    plan_path: Path | None,
    draws: int | None,
    workers: int,
    out_dir: Path,
    quiet: bool,
) -> None:
    """Side-by-side table of scenarios and what moved between them (against the first).

    Reuses finished runs stored in --out (same plan, scenario, seed and draws).

    \b
    Example:
      reachplan compare shortfall_75 shortfall_50 shortfall_30
    """
    from reports.scenario_report import render_comparison

    scenarios = [_load_scenario(item, draws=draws) for item in scenario_files]
    plans = [_plan_for_scenario(plan_path, scenario) for scenario in scenarios]
    for loaded_plan, scenario in zip(plans, scenarios, strict=True):
        assert loaded_plan.plan is not None
        _require_feasible(loaded_plan.plan, scenario)
    initial = _initial_state()
    runs = []
    for loaded_plan, scenario in zip(plans, scenarios, strict=True):
        assert loaded_plan.plan is not None
        runs.append(
            _run_stored(
                loaded_plan.plan,
                scenario,
                initial,
                out_dir,
                resume=None,
                workers=workers,
                quiet=quiet,
            )
        )
    click.echo(render_comparison(runs), nl=False)


@main.command("robust")
@click.argument("scenario_file", metavar="SCENARIO")
@click.option("--plan", "plan_path", type=click.Path(path_type=Path), default=None)
@click.option(
    "--planning-draws",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Simulated futures the plans are made on.",
)
@click.option(
    "--evaluation-draws",
    type=click.IntRange(min=1),
    default=200,
    show_default=True,
    help="Fresh futures the plans are compared on.",
)
@click.option(
    "--alpha",
    type=click.FloatRange(0.01, 1.0),
    callback=_finite,
    default=0.1,
    show_default=True,
    help="Tail share for the risk-averse plan (worst 10% of futures).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable results on stdout.")
def robust_command(
    scenario_file: str,
    plan_path: Path | None,
    planning_draws: int,
    evaluation_draws: int,
    alpha: float,
    as_json: bool,
) -> None:
    """Commit one allocation that holds up across simulated futures.

    Compares the plan made for average needs with a sample-average plan, a
    risk-averse (CVaR) plan and a two-stage plan (first year committed, later years
    adapted per future), all evaluated on fresh futures, and reports the value of
    planning with the simulation.

    \b
    Example:
      reachplan robust catastrophic_surge --planning-draws 20 --evaluation-draws 200
    """
    from reports.robust_report import render_comparison_json, render_comparison_text
    from solver.robust import RobustSolveError, compare_plans

    scenario = _load_scenario(scenario_file)
    plan_obj = _plan_for_scenario(plan_path, scenario).plan
    assert plan_obj is not None
    _require_feasible(plan_obj, scenario)
    try:
        comp = compare_plans(
            plan_obj,
            scenario,
            _initial_state(),
            planning_draws=planning_draws,
            evaluation_draws=evaluation_draws,
            alpha=alpha,
        )
    except InfeasibleScenarioError as exc:
        fail(f"{_scenario_file(scenario)}: infeasible scenario: {_one_line(str(exc))}")
    except RobustSolveError as exc:
        fail(f"{_scenario_file(scenario)}: {_one_line(str(exc))}")
    if as_json:
        from model.costs import CostModel

        cells = CostModel.from_plan(plan_obj).cells
        click.echo(render_comparison_json(comp, scenario.name, cells), nl=False)
    else:
        click.echo(render_comparison_text(comp, scenario.name), nl=False)


def _run_stored(
    plan_obj: Plan,
    scenario: Scenario,
    initial: InitialState,
    out_dir: Path,
    *,
    resume: bool | None,
    workers: int,
    quiet: bool,
    executor: str = "processes",
    scheduler: str | None = None,
) -> ScenarioRun:
    """Run one scenario, writing each chunk to ``out_dir`` as it finishes.

    ``resume``: True continues the stored run (refusing a different one), False starts
    afresh, None reuses a matching stored run and starts afresh otherwise.
    """
    from reports.run_store import RunStore, RunStoreError
    from solver.batch import chunk_plan, estimate_run_bytes, run_key, run_scenario

    estimate_run_bytes(plan_obj, scenario)  # refuses draws that cannot fit, before any write
    store = RunStore(
        out_dir, scenario.name, warn=lambda message: click.echo(f"warning: {message}", err=True)
    )
    key = run_key(plan_obj, scenario)
    try:
        try:
            done = store.start(key, resume=resume is not False)
        except RunStoreError as exc:
            if resume:
                fail(str(exc))
            done = store.start(key, resume=False)
    except OSError as exc:
        fail(f"{out_dir}: cannot write ({exc.strerror or exc})")
    with _progress(scenario.name, len(chunk_plan(scenario.draws)), quiet) as advance:
        advance(len(done))

        def on_chunk(chunk: ChunkResult) -> None:
            store.write(chunk)
            advance(1)

        try:
            return run_scenario(
                plan_obj,
                scenario,
                initial,
                workers=workers,
                done=done,
                on_chunk=on_chunk,
                executor=executor,
                scheduler=scheduler,
            )
        except InfeasibleScenarioError as exc:
            fail(f"{_scenario_file(scenario)}: infeasible scenario: {_one_line(str(exc))}")


def _initial_state() -> InitialState:
    from scenarios.simulation_io import load_initial_state

    try:
        return load_initial_state()
    except AssumptionError as exc:
        fail(str(exc))


@contextlib.contextmanager
def _progress(label: str, total: int, quiet: bool) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr (rich), or nothing when quiet."""
    if quiet:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(f"{label} (chunks)", total=total)
        yield lambda n: bar.advance(task, n)


def _parse_funding(funding: str | None, carry_over: bool) -> Envelope | None:
    """The --funding envelope, or ``None``; a bad value is a usage error naming --funding."""
    from model.funding import FundingError, parse_funding

    if funding is None:
        return None
    try:
        return parse_funding(funding, carry_over=carry_over)
    except FundingError as exc:
        raise click.BadParameter(str(exc), param_hint="--funding") from None


def _funding_scenario(
    envelope: Envelope | None,
    scenario: Scenario | None,
    plan_obj: Plan,
    default: str = "100%",
) -> FundingScenario:
    """The funding scenario of a command.

    The rules of --scenario (floors, earmarks, ...) with its envelope, or with the
    --funding envelope when both are given; --funding alone means no other rule;
    neither means ``default`` of the appeal. A --funding year the plan does not have is
    a usage error naming --funding (checked here, once the plan is loaded).
    """
    import dataclasses

    from model.funding import FundingScenario, parse_funding

    if envelope is not None:
        years = {int(y) for y in plan_obj.years}
        unknown = sorted({int(y) for y, _ in envelope.per_year} - years)
        if unknown:
            raise click.BadParameter(
                f"{unknown[0]} is not a year of the plan (its years: "
                f"{', '.join(str(y) for y in sorted(years))})",
                param_hint="--funding",
            )
    if scenario is not None:
        rules = scenario.funding
        return rules if envelope is None else dataclasses.replace(rules, envelope=envelope)
    return FundingScenario(envelope if envelope is not None else parse_funding(default))


def _scenario_and_plan(
    plan_path: Path | None, scenario_path: str | None
) -> tuple[LoadedPlan, Scenario | None]:
    """--scenario (if any) and the plan: PLAN, else the scenario's ``plan =``, else shipped."""
    scenario = _load_scenario(scenario_path) if scenario_path is not None else None
    if scenario is None:
        loaded = read_plan(plan_path)
    else:
        loaded = _plan_for_scenario(plan_path, scenario)
    assert loaded.plan is not None
    return loaded, scenario


def _where(scenario: Scenario | None, loaded: LoadedPlan) -> str:
    """The file an infeasibility is about: the scenario file, else the plan."""
    return _scenario_file(scenario) if scenario is not None else str(loaded.path)


def _write_csvs(tables: dict[str, str], out_dir: Path) -> None:
    """Write the CSV tables to --out, all or none; exit 1 in one line when it cannot."""
    from reports.allocation import write_allocation_csvs

    try:
        write_allocation_csvs(tables, out_dir)
    except OSError as exc:
        fail(f"{out_dir}: cannot write ({exc.strerror or exc})")


_FUNDING_HELP = (
    "Money available: '60%' or '0.6' of the appeal, 'USD 300m', or per year '2024=50%,2025=60%'."
)


@main.command("allocate")
@PLAN_ARG
@click.option(
    "--funding", default=None, help=_FUNDING_HELP + " Default: the scenario's, else 100%."
)
@click.option("--carry-over", is_flag=True, help="Money unspent in a year can be spent later.")
@click.option(
    "--scenario",
    "scenario_path",
    default=None,
    metavar="FILE",
    help="Scenario file: envelope, earmarks, floors, caps... (--funding replaces its envelope).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result on stdout.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write cells, locations, sectors, shadow prices, unfunded lines as CSV here.",
)
@click.option("--quiet", is_flag=True, help="Print nothing on success (with --out).")
def allocate_command(
    plan_path: Path | None,
    funding: str | None,
    carry_over: bool,
    scenario_path: str | None,
    as_json: bool,
    out_dir: Path | None,
    quiet: bool,
) -> None:
    """Allocate the money to reach the most people, and compare with cutting every line equally.

    The plan is PLAN, else the --scenario file's `plan =`, else the shipped plan.
    Warnings (the allocation reaches nobody, money left unallocated and why) are in
    the summary, in the JSON's "warnings" list, and with --json also on stderr.

    \b
    Example:
      reachplan allocate --funding 60% --json
      reachplan allocate myplan/ --funding "2024=50%,2025=60%,2026=60%" --out results/
    """
    from reports.allocation import render_csv_tables, render_json, render_summary
    from solver.allocate import allocate

    envelope = _parse_funding(funding, carry_over)
    loaded, scenario = _scenario_and_plan(plan_path, scenario_path)
    assert loaded.plan is not None
    rules = _funding_scenario(envelope, scenario, loaded.plan)
    try:
        result = allocate(loaded.plan, rules)
    except InfeasibleScenarioError as exc:
        fail(f"{_where(scenario, loaded)}: infeasible scenario: {_one_line(str(exc))}")
    except ModelRangeError as exc:
        fail(f"{loaded.path}: {_one_line(str(exc))}")
    except ValueError as exc:  # codes the plan does not have (solver.model.selector_mask)
        fail(f"{_where(scenario, loaded)}: {_one_line(str(exc))}")
    if out_dir is not None:
        _write_csvs(render_csv_tables(result), out_dir)
    if as_json:
        _echo_json(render_json(result))
        if not quiet:
            for warning in result.warnings:
                click.echo(f"warning: {warning}", err=True)
    elif not quiet:
        click.echo(render_summary(result))


@main.command("frontier")
@PLAN_ARG
@click.option(
    "--step",
    type=click.FloatRange(min=0.001, max=1.0),
    callback=_finite,
    default=0.1,
    show_default=True,
    help="Funding step as a share of the appeal.",
)
@click.option(
    "--target-people",
    type=click.FloatRange(min=0),
    callback=_finite,
    default=None,
    help="Instead: the least funding that reaches this many people (over all years).",
)
@click.option(
    "--scenario",
    "scenario_path",
    default=None,
    metavar="FILE",
    help="Scenario file whose rules (floors, caps...) hold at every level.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result on stdout.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write frontier.csv and first_funded.csv here.",
)
@click.option("--quiet", is_flag=True, help="Print nothing on success (with --out).")
def frontier_command(
    plan_path: Path | None,
    step: float,
    target_people: float | None,
    scenario_path: str | None,
    as_json: bool,
    out_dir: Path | None,
    quiet: bool,
) -> None:
    """The funding ladder: people reached from 0% to 100% and when each line first gets money.

    The plan is PLAN, else the --scenario file's `plan =`, else the shipped plan.
    Levels where the scenario's rules cannot hold are marked infeasible; a scenario
    infeasible even at 100% of the appeal is an error (exit 1) naming its file.

    \b
    Example:
      reachplan frontier --step 0.05
      reachplan frontier --target-people 3000000 --json
    """
    from model.costs import CostModel
    from reports.allocation import (
        render_frontier,
        render_frontier_csv_tables,
        render_frontier_json,
        render_target,
        render_target_json,
    )
    from solver.frontier import funding_frontier, least_funding_for

    loaded, scenario = _scenario_and_plan(plan_path, scenario_path)
    assert loaded.plan is not None
    rules = _funding_scenario(None, scenario, loaded.plan)
    where = _where(scenario, loaded)
    try:
        costs = CostModel.from_plan(loaded.plan)
        if target_people is not None:
            target = least_funding_for(costs, rules, target_people)
            if as_json:
                _echo_json(render_target_json(target))
            elif not quiet:
                click.echo(render_target(target))
            return
        ladder = funding_frontier(costs, rules, step=step)
    except InfeasibleScenarioError as exc:
        fail(f"{where}: infeasible scenario: {_one_line(str(exc))}")
    except ModelRangeError as exc:
        fail(f"{loaded.path}: {_one_line(str(exc))}")
    except ValueError as exc:  # unreachable target, or codes the plan does not have
        fail(f"{where}: {_one_line(str(exc))}")
    top = ladder.levels.iloc[-1]
    if top["status"] != "optimal":
        fail(f"{where}: infeasible scenario even at {top['share']:.0%} of the appeal: "
             f"{_one_line(str(top['status']))}")
    if out_dir is not None:
        _write_csvs(render_frontier_csv_tables(ladder), out_dir)
    if as_json:
        _echo_json(render_frontier_json(ladder))
    elif not quiet:
        click.echo(render_frontier(ladder))


@main.command("check")
@PLAN_ARG
@click.option(
    "--scenario",
    "scenario_path",
    default=None,
    metavar="FILE",
    help="Scenario file to check (default: 60% of the appeal, no other rule).",
)
@click.option(
    "--examples",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Generated perturbations per invariant.",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON object per invariant: invariant, examples, ok, violation, minimal_example.",
)
@click.option("--quiet", is_flag=True, help="Only print violations.")
def check_command(
    plan_path: Path | None,
    scenario_path: str | None,
    examples: int,
    seed: int,
    as_json: bool,
    quiet: bool,
) -> None:
    """Check the optimiser's invariants on your plan, perturbing envelopes, costs and needs.

    Exits 0 when every invariant holds, 1 with a minimal failing example otherwise.
    The plan is PLAN, else the --scenario file's `plan =`, else the shipped plan.
    With --json, stdout is {"ok": ..., "invariants": [...]}, one object per invariant.

    \b
    Example:
      reachplan check myplan/ --examples 20
      reachplan check --examples 1 --json
    """
    from solver.invariants import run_checks

    loaded, scenario = _scenario_and_plan(plan_path, scenario_path)
    assert loaded.plan is not None
    rules = _funding_scenario(None, scenario, loaded.plan, default="60%")
    if scenario is not None:
        _require_feasible(loaded.plan, scenario)

    def progress(name: str) -> None:
        if not quiet:
            click.echo(f"checking: {name}", err=True)

    outcomes = run_checks(
        loaded.plan, rules, max_examples=examples, seed=seed, progress=progress
    )
    failed = [o for o in outcomes if o.violation is not None]
    if as_json:
        _echo_json({
            "ok": not failed,
            "invariants": [
                {
                    "invariant": o.invariant,
                    "examples": o.examples,
                    "ok": o.violation is None,
                    "violation": None if o.violation is None else o.violation.message,
                    "minimal_example": None if o.violation is None else o.example,
                }
                for o in outcomes
            ],
        })
    else:
        for o in outcomes:
            if o.violation is not None:
                click.echo(
                    f"VIOLATED {o.invariant}: {o.violation.message}\n"
                    f"  minimal example: {o.example}"
                )
            elif not quiet:
                click.echo(f"ok       {o.invariant} ({o.examples} examples)")
    if failed:
        sys.exit(1)


@main.command("report")
@click.argument("scenario_files", nargs=-1, metavar="SCENARIO...")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory for report.html, report.xlsx, report.json, tables/ (and runs/).",
)
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Plan (default: the scenarios' own, else the shipped plan).",
)
@click.option(
    "--draws",
    type=click.IntRange(min=1),
    default=None,
    help="Simulated futures per scenario (default: each scenario's own).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes; the numbers do not depend on it.",
)
@click.option("--png", is_flag=True, help="Also write static PNG charts (png/) for slides.")
@click.option(
    "--ladder-step",
    type=click.FloatRange(min=0.01, max=1.0),
    callback=_finite,
    default=0.1,
    show_default=True,
    help="Step of the funding ladder, as a share of the appeal.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--hxl/--no-hxl",
    default=True,
    show_default=True,
    help="HXL hashtag row under each CSV table's header.",
)
def report_command(
    scenario_files: tuple[str, ...],
    out_dir: Path,
    plan_path: Path | None,
    draws: int | None,
    workers: int,
    png: bool,
    ladder_step: float,
    quiet: bool,
    hxl: bool,
) -> None:
    """Run scenarios and write the report planners read: HTML, Excel, CSV and JSON.

    SCENARIO is a TOML file or the name of a shipped scenario; without any, the
    whole shipped suite. report.html opens offline in any browser. Finished runs
    stored in --out (same plan, scenario, seed and draws) are reused.

    \b
    Example:
      reachplan report shortfall_60 tp_ends_2025 --draws 500 --out report/
      reachplan report --out suite-report/ --png
    """
    from reports.report import report_for_runs
    from scenarios.scenario_io import SUITE

    scenarios = [_load_scenario(item, draws=draws) for item in scenario_files or SUITE]
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        fail("two scenarios share a name; a report needs each scenario's 'name' to differ")
    loaded = read_plan(_one_plan(plan_path, scenarios))
    assert loaded.plan is not None
    for scenario in scenarios:
        _check_against_plan(scenario, loaded.plan)
    for scenario in scenarios:
        _require_feasible(loaded.plan, scenario)
    initial = _initial_state()
    runs = []
    for scenario in scenarios:
        runs.append(
            _run_stored(
                loaded.plan, scenario, initial, out_dir, resume=None, workers=workers, quiet=quiet
            )
        )
    try:
        paths = report_for_runs(
            runs, loaded, initial, out_dir, png=png, ladder_step=ladder_step, hxl=hxl
        )
    except InfeasibleScenarioError as exc:
        fail(f"infeasible scenario: {_one_line(str(exc))}")
    except OSError as exc:
        fail(f"{out_dir}: cannot write ({exc.strerror or exc})")
    click.echo(f"wrote {len(paths)} files; open {out_dir / 'report.html'}", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()
