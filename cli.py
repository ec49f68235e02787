"""Command line for reachplan: thin layer of load -> compute -> write.

Every command exits 0 on success, 1 on invalid input or an infeasible
scenario (one-line reason naming the file, row and field), 2 on usage errors.

Each command is its option declarations (the shared ones are defined once, in the
"options" section below) and a body that loads (through the :class:`Session` of the
invocation), calls the library (:mod:`workflow` for anything that runs scenarios) and
writes. Any :class:`model.errors.ReachplanError` that escapes a command becomes one
``error: ...`` line on stderr and exit 1 (:class:`_Group`).

Start-up stays light: at import time this module loads only click and
:mod:`model.errors`, so ``reachplan --help`` and every ``COMMAND --help`` answer without
loading pandas, numpy, scipy, PuLP, HiGHS or the chart libraries. Each command imports
what it uses inside its body (tests/test_imports_light.py checks this).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from reachplan.model.errors import ReachplanError

if TYPE_CHECKING:
    from collections.abc import Callable

    from reachplan.model.funding import Envelope, FundingScenario
    from reachplan.model.plan import Plan
    from reachplan.model.scenario import Scenario
    from reachplan.scenarios.plan_io import UsablePlan
    from reachplan.solver.batch import ScenarioRun
    from reachplan.workflow.report_inputs import ReportWork
    from reachplan.workflow.suite import PlanBook, RunProgress, Suite

__all__ = ["main"]

DEFAULT_LADDER_STEP = 0.1
"""Step of a report's funding ladder, as a share of the appeal (``report --ladder-step``)."""


# ---- options shared by several commands (declared once) ------------------------------------

PLAN_ARG = click.argument(
    "plan_path",
    metavar="[PLAN]",
    required=False,
    type=click.Path(path_type=Path),
)

SCENARIOS_ARG = click.argument("scenario_files", nargs=-1, metavar="SCENARIO...")

_FUNDING_HELP = (
    "Money available: '60%' or '0.6' of the appeal, 'USD 300m', or per year '2024=50%,2025=60%'."
)


def _finite(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """Refuse NaN and infinity for a number option (a usage error, exit 2)."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"must be a finite number, not {value}")
    return value


def plan_option(
    text: str = "Plan (default: the scenarios' own, else the shipped plan).",
) -> Any:
    """``--plan PATH``: a plan directory or workbook."""
    return click.option(
        "--plan", "plan_path", type=click.Path(path_type=Path), default=None, help=text
    )


def out_option(text: str, *, default: Path | None = None, required: bool = False) -> Any:
    """``--out DIRECTORY``: where files are written."""
    if required:  # no default at all: click treats an explicit default=None as given
        return click.option(
            "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
            required=True, help=text,
        )
    return click.option(
        "--out",
        "out_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=default,
        show_default=default is not None,
        help=text,
    )


def quiet_option(text: str = "No progress bar.") -> Any:
    """``--quiet``."""
    return click.option("--quiet", is_flag=True, help=text)


def json_option(text: str = "Machine-readable result on stdout.") -> Any:
    """``--json``: the result as JSON on stdout."""
    return click.option("--json", "as_json", is_flag=True, help=text)


def draws_option(
    text: str = "Simulated futures per scenario (default: each scenario's own).",
    default: int | None = None,
) -> Any:
    """``--draws N`` (at least 1)."""
    return click.option(
        "--draws",
        type=click.IntRange(min=1),
        default=default,
        show_default=default is not None,
        help=text,
    )


def seed_option(text: str, *, default: int | None = 0, required: bool = False) -> Any:
    """``--seed N`` (at least 0)."""
    if required:  # no default at all: click treats an explicit default=None as given
        return click.option("--seed", type=click.IntRange(min=0), required=True, help=text)
    return click.option(
        "--seed",
        type=click.IntRange(min=0),
        default=default,
        show_default=default is not None,
        help=text,
    )


def workers_option() -> Any:
    """``--workers N``: worker processes."""
    return click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=1,
        show_default=True,
        help="Worker processes; the numbers do not depend on it.",
    )


def scenario_file_option(text: str) -> Any:
    """``--scenario FILE``: a scenario file or the name of a shipped scenario."""
    return click.option("--scenario", "scenario_path", default=None, metavar="FILE", help=text)


def hxl_switch() -> Any:
    """``--hxl/--no-hxl``: HXL hashtag rows in CSV tables."""
    return click.option(
        "--hxl/--no-hxl",
        default=True,
        show_default=True,
        help="HXL hashtag row under each CSV table's header.",
    )


def png_option(text: str) -> Any:
    """``--png``: static charts too."""
    return click.option("--png", is_flag=True, help=text)


# ---- the command context -----------------------------------------------------------------


def fail(message: str) -> NoReturn:
    """Print a one-line reason to stderr and exit 1 (invalid input, infeasible scenario)."""
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def one_line(message: str) -> str:
    """A message on one line (newlines folded), so scripts can read it from the last line.

    Same rule as :func:`workflow.suite.one_line`, written here so that reporting an error
    does not load the workflow (and with it pandas and the solver) just to fold a string.
    """
    return " ".join(message.split())


def file_of(scenario: Scenario) -> str:
    """The file a problem of ``scenario`` is about (:func:`workflow.suite.scenario_file`)."""
    from reachplan.workflow.suite import scenario_file

    return scenario_file(scenario)


def _new_book() -> PlanBook:
    from reachplan.workflow.suite import PlanBook

    return PlanBook(notify=_warn)


@dataclass
class Session:
    """What one invocation shares between loading steps: the plans it has read and checked."""

    book: PlanBook = field(default_factory=_new_book)

    def plan(self, plan_path: Path | None) -> UsablePlan:
        """A usable plan (``None``: shipped); a plan with errors raises UnusablePlanError."""
        return self.book.plan(plan_path)

    def scenario(self, item: str | Path, **overrides: int | None) -> Scenario:
        """A scenario file (or shipped name); ScenarioError names the file and key."""
        from reachplan.scenarios.scenario_io import load_scenario

        return load_scenario(item, **overrides)  # type: ignore[arg-type]

    def scenario_and_plan(
        self, plan_path: Path | None, scenario_path: str | None
    ) -> tuple[UsablePlan, Scenario | None]:
        """--scenario (if any) and its plan: PLAN, else the scenario's ``plan =``, else shipped."""
        if scenario_path is None:
            return self.plan(plan_path), None
        scenario = self.scenario(scenario_path)
        return self.plan_for(plan_path, scenario), scenario

    def plan_for(self, plan_path: Path | None, scenario: Scenario) -> UsablePlan:
        """The plan a scenario runs on, checked against it; warns when PLAN overrides ``plan =``.

        An explicit PLAN wins over the scenario's ``plan =`` (so one file can be tried on
        several plans); when they differ, a warning on stderr names both.
        """
        warn_plan_override(plan_path, scenario)
        return self.book.plan_for(plan_path, scenario)


def warn_plan_override(plan_path: Path | None, scenario: Scenario) -> None:
    """Warn on stderr when an explicit PLAN differs from the scenario's ``plan =``."""
    if plan_path is None or not scenario.plan:
        return
    try:
        same = Path(plan_path).resolve() == Path(scenario.plan).resolve()
    except (OSError, RuntimeError):
        same = False
    if not same:
        _warn(f"{file_of(scenario)} says plan = {scenario.plan}; running on {plan_path} "
              "as given on the command line")


pass_session = click.make_pass_decorator(Session, ensure=True)


class _Group(click.Group):
    """A command group that turns every planner-fixable error into exit 1 and one line.

    Commands catch what they can explain best; any :class:`ReachplanError` that still
    reaches this point (a bad code in a scenario, an assumption out of range, ...) is
    printed as ``error: <message>`` on stderr, never as a traceback. A plan with errors
    first lists them (the first 20, then a count), one ``error:`` line each.
    """

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ReachplanError as exc:
            if _is_unusable_plan(exc):
                from reachplan.reports.plan_report import capped

                for line in capped([f"error: {p}" for p in exc.errors]):  # type: ignore[attr-defined]
                    click.echo(line, err=True)
            fail(one_line(str(exc)))


def _is_unusable_plan(exc: ReachplanError) -> bool:
    """Whether ``exc`` is a :class:`workflow.suite.UnusablePlanError` (a plan with errors).

    Looked up in ``sys.modules``: such an error can only exist once its module has been
    imported, so the check never loads the workflow on the error path.
    """
    suite = sys.modules.get("reachplan.workflow.suite")
    return suite is not None and isinstance(exc, suite.UnusablePlanError)


def _echo_json(value: object) -> None:
    """Strict JSON on stdout (non-finite numbers as null)."""
    from reachplan.reports.json_text import dumps

    click.echo(dumps(value), nl=False)


def _warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


def _where(scenario: Scenario | None, plan: UsablePlan) -> str:
    """The file an infeasibility is about: the scenario file, else the plan."""
    return file_of(scenario) if scenario is not None else str(plan.path)


class _Bars:
    """Progress of a suite on stderr: one transient bar per scenario (rich), none when quiet.

    A scenario's bar closes when its last chunk is done, before its summary is printed.
    """

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self._bar: Any = None
        self._task: Any = None
        self._name: str | None = None

    def __enter__(self) -> _Bars:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __call__(self, progress: RunProgress) -> None:
        if self.quiet:
            return
        if progress.scenario != self._name:
            self.close()
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            self._bar = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(
                f"{progress.scenario} (chunks)", total=progress.chunks_total
            )
            self._name = progress.scenario
        self._bar.update(self._task, completed=progress.chunks_done)
        if progress.chunks_done >= progress.chunks_total:
            self.close()

    def close(self) -> None:
        """Remove the current bar, if any."""
        if self._bar is not None:
            self._bar.stop()
        self._bar = self._task = self._name = None


def _run_suite(
    session: Session,
    scenarios: list[Scenario],
    plan_path: Path | None,
    out_dir: Path,
    *,
    resume: bool | None,
    workers: int,
    quiet: bool,
    for_report: bool = False,
    executor: str = "processes",
    scheduler: str | None = None,
    on_run: Callable[[ScenarioRun], None] | None = None,
    report_ladder_step: float | None = None,
) -> tuple[Suite, list[ScenarioRun], ReportWork | None]:
    """Check every scenario (nothing written before), then run them into --out.

    With ``report_ladder_step`` (a report follows, with that ladder step), the workers
    the runs leave idle start on the report's work that does not depend on the draws
    (:class:`workflow.report_inputs.ReportWork`, returned for :func:`_write_report`).
    """
    from reachplan.solver.batch import close_worker_pool, idle_work
    from reachplan.workflow.suite import load_initial_state, prepare_suite, run_suite

    for scenario in scenarios:
        warn_plan_override(plan_path, scenario)
    work = None
    if report_ladder_step is not None and executor == "processes" and workers > 1:
        work = _report_head_start(session, scenarios, plan_path, out_dir, workers,
                                  report_ladder_step)
    try:
        suite = prepare_suite(
            scenarios,
            plan_path,
            book=session.book,
            for_report=for_report,
            distinct_names=for_report,
            executor=executor,
            scheduler=scheduler,
        )
    except BaseException:
        if work is not None:  # no run, no report: stop the workers' head start now
            work.cancel()
            close_worker_pool(terminate=True)
        raise
    initial = load_initial_state()
    with _Bars(quiet) as bars, idle_work(None if work is None else work.fill):

        def finished(run: ScenarioRun) -> None:
            bars.close()
            if on_run is not None:
                on_run(run)

        try:
            done = run_suite(
                suite, initial, out_dir, resume=resume, workers=workers, warn=_warn,
                progress=bars, on_run=finished,
            )
        except BaseException:
            if work is not None:
                work.cancel()
            raise
    return suite, list(done.runs), work


def _report_head_start(
    session: Session, scenarios: list[Scenario], plan_path: Path | None, out_dir: Path,
    workers: int, ladder_step: float,
) -> ReportWork | None:
    """Start the report's work that does not depend on the draws, while the checks run.

    The pool's workers take the first jobs at once (the checks solve in this process
    meanwhile); the runs lend them more as they go idle (:func:`_run_suite`). ``None``
    when the scenarios do not plainly share one readable plan: the checks then say why,
    and the report computes everything itself. A head start never fails a command.
    """
    from reachplan.solver.batch import worker_pool
    from reachplan.workflow.report_inputs import start_report_work
    from reachplan.workflow.suite import plan_path_of

    names = [s.name for s in scenarios]
    paths = {plan_path_of(plan_path, s) for s in scenarios}
    if len(set(names)) != len(names) or len(paths) != 1:
        return None
    try:
        plan = session.book.plan(paths.pop()).plan
        work = start_report_work(plan, scenarios, out_dir, workers=workers,
                                 ladder_step=ladder_step)
        if work is not None:
            work.fill(worker_pool(workers), workers)
    except Exception:  # noqa: BLE001 - the checks report a bad plan or scenario
        return None
    return work


def _write_report(
    runs: list[ScenarioRun], plan: UsablePlan, out_dir: Path, **options: Any
) -> list[Path]:
    """The report of a suite into --out; exit 1 in one line when it cannot be made."""
    from reachplan.solver.result import InfeasibleScenarioError
    from reachplan.workflow.report_inputs import write_suite_report
    from reachplan.workflow.suite import load_initial_state

    try:
        return write_suite_report(runs, plan, load_initial_state(), out_dir, **options)
    except InfeasibleScenarioError as exc:
        fail(f"infeasible scenario: {one_line(str(exc))}")
    except OSError as exc:
        fail(f"{out_dir}: cannot write ({exc.strerror or exc})")


def _write_csvs(tables: dict[str, str], out_dir: Path) -> None:
    """Write the CSV tables to --out, all or none; exit 1 in one line when it cannot."""
    from reachplan.reports.allocation import write_allocation_csvs

    try:
        write_allocation_csvs(tables, out_dir)
    except OSError as exc:
        fail(f"{out_dir}: cannot write ({exc.strerror or exc})")


def _parse_funding(funding: str | None, carry_over: bool) -> Envelope | None:
    """The --funding envelope, or ``None``; a bad value is a usage error naming --funding."""
    from reachplan.model.funding import FundingError, parse_funding

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

    from reachplan.model.funding import FundingScenario, parse_funding

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


# ---- commands ------------------------------------------------------------------------------


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="reachplan")
def main() -> None:
    """Reachplan: allocate constrained humanitarian funding to reach the most people.

    Runs on the shipped default plan (IOM Strategic Response Plan for Ukraine
    and Neighbouring Countries 2024-2026) when no plan is given.
    """


@main.command()
@PLAN_ARG
@json_option("Machine-readable problems.")
def validate(plan_path: Path | None, as_json: bool) -> None:
    """Check a plan and list every problem (file, row, column).

    PLAN is a folder of CSV tables or an .xlsx workbook; default: the shipped plan.
    Exits 0 when the plan is usable (warnings listed), 1 when it is not. The text
    lists the first 20 problems and counts the rest; --json lists every one.

    \b
    Example:
      reachplan validate my_plan.xlsx
    """
    from reachplan.reports.plan_report import render_validation, validation_json
    from reachplan.scenarios.plan_io import load_plan

    loaded = load_plan(plan_path)
    label = str(loaded.path)
    render = validation_json if as_json else render_validation
    click.echo(render(loaded.validation, label), nl=False)
    if not loaded.validation.ok:
        n = len(loaded.validation.errors)
        fail(f"{label}: the plan has {n} error{'s' if n != 1 else ''}; it cannot be allocated")


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@plan_option("Plan to start from (default: the shipped plan).")
@click.option("--empty", is_flag=True, help="Headers only, no rows.")
@click.option("--force", is_flag=True, help="Overwrite plan files already in DIRECTORY.")
@pass_session
def template(
    session: Session, directory: Path, plan_path: Path | None, empty: bool, force: bool
) -> None:
    """Write an editable plan: one CSV per table and plan.xlsx with instructions.

    \b
    Example:
      reachplan template my_plan && reachplan validate my_plan/plan.xlsx
    """
    from reachplan.model.tables import TABLES
    from reachplan.reports.template import empty_tables, write_template

    existing = [p for p in (directory / f"{t.name}.csv" for t in TABLES) if p.exists()]
    existing += [p for p in [directory / "plan.xlsx"] if p.exists()]
    if existing and not force:
        fail(f"{existing[0]} already exists; use --force to overwrite, or another directory")
    tables = empty_tables() if empty else dict(session.plan(plan_path).plan.tables)
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
@pass_session
def plan_show(session: Session, plan_path: Path | None) -> None:
    """Totals by objective, region, year and country, laid out like the plan document.

    \b
    Example:
      reachplan plan show
    """
    from reachplan.reports.plan_report import render_plan_summary

    loaded = session.plan(plan_path)
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
@pass_session
def plan_export(
    session: Session, plan_path: Path | None, fmt: str, table: str, hxl: bool
) -> None:
    """Print a plan table, one row per cell, so any margin can be recomputed.

    The requirements table has the columns location_code, sector_code, year,
    objective, requirements_usd, origin (source or derived), region, note.

    \b
    Example:
      reachplan plan export --format csv > requirements.csv
    """
    from reachplan.reports.plan_report import render_export

    plan_obj = session.plan(plan_path).plan
    click.echo(render_export(plan_obj, fmt=fmt, table=table, hxl=hxl), nl=False)


@plan.command("calibrate")
@click.argument("plan_path", metavar="PLAN", type=click.Path(path_type=Path))
@out_option("Write unit_costs.csv (and cost_curve.csv) into this folder, the plan untouched.")
@click.option("--force", is_flag=True, help="Replace unit costs the plan (or --out) already has.")
@json_option("The working as one JSON object: lines, locations, cost curve, files written.")
def plan_calibrate(plan_path: Path, out_dir: Path | None, force: bool, as_json: bool) -> None:
    """Unit costs from the plan's own targets, so that full funding reaches them.

    Per line: unit cost = curve mean 1/factor x requirement / the cluster's people
    targeted where populations has a cluster target (a sector_code row), else the
    location's targets shared between sectors by sector_cost_index (entity lines:
    entities targeted). Shows the working, then writes unit_costs (and cost_curve, the
    default planning assumption, when the plan has none): into a CSV folder as
    unit_costs.csv, into a workbook as its unit_costs sheet (other sheets kept), or
    into --out DIR. Unit costs already there are replaced only with --force.

    \b
    Example:
      reachplan plan calibrate my_plan.xlsx
      reachplan plan calibrate my_plan/ --out calibrated/ --json
    """
    from reachplan.model.unit_costs import calibrate_plan, has_unit_costs
    from reachplan.reports.calibration import (
        cost_calibration_json,
        render_cost_calibration,
        write_cost_calibration,
    )
    from reachplan.workflow.suite import load_plan_to_calibrate

    usable = load_plan_to_calibrate(plan_path)
    calibration = calibrate_plan(usable.plan)
    if not force:
        if out_dir is None and has_unit_costs(usable.plan):
            n = len(usable.plan.tables["unit_costs"])
            fail(
                f"{usable.path} already has unit costs ({n} rows); use --force to replace "
                "them, or --out DIR to write the calibrated ones elsewhere"
            )
        if out_dir is not None:
            taken = [out_dir / f"{n}.csv" for n in calibration.tables()]
            taken = [p for p in taken if p.exists()]
            if taken:
                fail(f"{taken[0]} already exists; use --force to replace it")
    try:
        written = write_cost_calibration(calibration, usable.path, out_dir)
    except OSError as exc:
        fail(f"cannot write the calibrated tables: {exc.strerror or exc}")
    if as_json:
        _echo_json(cost_calibration_json(calibration, str(usable.path), written))
        for path in written:
            click.echo(f"wrote {path}", err=True)
    else:
        click.echo(render_cost_calibration(calibration, str(usable.path), written), nl=False)


@main.command("simulate")
@click.option(
    "--scenario",
    "scenario_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="TOML file whose [simulation] table overrides the shipped assumptions.",
)
@draws_option("Monte Carlo draws.", default=1000)
@seed_option("Random seed; the same seed gives the same numbers.", required=True)
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
@json_option(
    "The summary as one JSON object: provenance, stocks (p10/p50/p90/mean at the first "
    "and last month), people_in_need per location and year, percentiles per series, "
    "location and month."
)
@out_option("Also write the per-draw needs table into this directory.")
@quiet_option()
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
    from reachplan.model.simulation import needs_per_draw, simulate
    from reachplan.reports.simulation import (
        render_percentiles_csv,
        render_summary,
        summary_json,
        write_needs,
    )
    from reachplan.scenarios.simulation_io import load_initial_state, load_simulation

    if as_json and fmt == "csv":
        raise click.UsageError("--json and --format csv are two outputs; choose one")
    assumptions = load_simulation(scenario_path)
    if assumptions.source_kind != "displacement":
        fail(
            f"{scenario_path}: the scenario's people in need are "
            + ("fixed at the plan's figures (model = none)" if assumptions.source_kind == "none"
               else f"read from {assumptions.needs_file}")
            + "; there is nothing to simulate"
        )
    initial = assumptions.initial_state or load_initial_state()
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
        result = simulate(assumptions, initial, draws=draws, seed=seed, start=start, months=months)
    needs = needs_per_draw(result)
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
@draws_option("Draws of the holdout forecast.", default=1000)
@seed_option("Random seed of the holdout forecast.")
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
    from reachplan.model.calibration import calibrate
    from reachplan.reports.simulation import render_calibration
    from reachplan.scenarios.simulation_io import load_history, load_initial_state, load_simulation

    result = calibrate(
        load_history(history),
        load_simulation(scenario_path),
        load_initial_state(),
        fit_from=fit_from,
        holdout_from=holdout_from,
        draws=draws,
        seed=seed,
    )
    click.echo(render_calibration(result), nl=False)


@main.command("run")
@SCENARIOS_ARG
@plan_option("Plan (default: the scenario's own, else the shipped plan).")
@draws_option()
@seed_option("Override the seed.", default=None)
@workers_option()
@click.option(
    "--executor", type=click.Choice(["processes", "dask"]), default="processes", show_default=True
)
@click.option("--scheduler", default=None, help="Dask scheduler address (with --executor dask).")
@out_option("Where chunks (and reports) are written.", default=Path("reachplan-output"))
@click.option("--resume", is_flag=True, help="Finish an interrupted run in --out.")
@json_option("Machine-readable results on stdout.")
@quiet_option()
@click.option(
    "--report/--no-report",
    "write_report",
    default=True,
    show_default=True,
    help="Write report.html, report.xlsx and the CSVs into --out.",
)
@png_option("With the report, also write PNG charts for slides.")
@hxl_switch()
@pass_session
def run_command(
    session: Session,
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
    Every scenario is loaded, checked against its plan and solved once before anything
    is written to --out.

    \b
    Example:
      reachplan run shortfall_60 tp_ends_2025 --draws 500 --workers 2
    """
    from reachplan.reports.scenario_report import render_run_text, render_runs_json
    from reachplan.scenarios.scenario_io import SUITE

    scenarios = [session.scenario(s, draws=draws, seed=seed) for s in scenario_files or SUITE]
    suite, runs, work = _run_suite(
        session, scenarios, plan_path, out_dir, resume=resume, workers=workers,
        quiet=quiet or as_json, for_report=write_report, executor=executor,
        scheduler=scheduler,
        on_run=None if as_json else lambda run: click.echo(render_run_text(run)),
        report_ladder_step=DEFAULT_LADDER_STEP if write_report else None,
    )
    if as_json:
        click.echo(render_runs_json(runs), nl=False)
    if write_report:
        _write_report(runs, suite.plan, out_dir, png=png, hxl=hxl, workers=workers,
                      ladder_step=DEFAULT_LADDER_STEP, work=work)
        click.echo(f"report: {out_dir / 'report.html'} (and report.xlsx, CSV tables)", err=True)


@main.command("compare")
@click.argument("scenario_files", nargs=-1, required=True, metavar="SCENARIO...")
@plan_option()
@draws_option()
@workers_option()
@out_option("Where runs are stored and reused.", default=Path("reachplan-output"))
@quiet_option()
@pass_session
def compare_command(
    session: Session,
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
    from reachplan.reports.scenario_report import render_comparison

    scenarios = [session.scenario(s, draws=draws) for s in scenario_files]
    suite, runs, _ = _run_suite(
        session, scenarios, plan_path, out_dir, resume=None, workers=workers, quiet=quiet
    )
    click.echo(render_comparison(runs, suite.plan.plan), nl=False)


@main.command("robust")
@click.argument("scenario_file", metavar="SCENARIO")
@plan_option()
@click.option(
    "--planning-draws",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Simulated futures each plan is made on (per planning sample).",
)
@click.option(
    "--evaluation-draws",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Fresh futures the plans are compared on (the same for every plan).",
)
@click.option(
    "--alpha",
    type=click.FloatRange(0.01, 1.0),
    callback=_finite,
    default=0.1,
    show_default=True,
    help="Tail share for the risk-averse plan (worst 10% of futures).",
)
@click.option(
    "--replicates",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Planning samples (planning seeds) the comparison is repeated over.",
)
@workers_option()
@json_option("Machine-readable results on stdout.")
@pass_session
def robust_command(
    session: Session,
    scenario_file: str,
    plan_path: Path | None,
    planning_draws: int,
    evaluation_draws: int,
    alpha: float,
    replicates: int,
    workers: int,
    as_json: bool,
) -> None:
    """Commit one allocation that holds up across simulated futures.

    Compares the plan made for average needs with a sample-average plan, a
    risk-averse (CVaR) plan and a two-stage plan (first year committed, later years
    adapted per future). Every plan is evaluated on the same fresh futures with the
    same recourse: its first year's money is committed, later years are re-decided
    at the start of each year on the needs seen so far (never on later years'). Each
    plan is also shown with all its money fixed. Differences from the average-needs
    plan come with 95% paired confidence intervals, and the whole comparison is
    repeated over --replicates planning samples. About 0.2 s per plan and future on
    the default plan: use --workers, or fewer --evaluation-draws, for a quick look.

    \b
    Example:
      reachplan robust catastrophic_surge --planning-draws 20 --evaluation-draws 200
    """
    from reachplan.reports.json_text import dumps
    from reachplan.reports.robust_report import (
        LABELS,
        comparison_json,
        render_comparison_text,
    )
    from reachplan.solver.result import InfeasibleScenarioError
    from reachplan.solver.robust import (
        CONFIDENCE,
        RobustSolveError,
        compare_plans,
        plan_statistics,
    )
    from reachplan.workflow.suite import load_initial_state

    scenario = session.scenario(scenario_file)
    plan_obj = session.plan_for(plan_path, scenario).plan
    session.book.require_feasible(plan_obj, scenario)
    try:
        comp = compare_plans(
            plan_obj,
            scenario,
            load_initial_state(),
            planning_draws=planning_draws,
            evaluation_draws=evaluation_draws,
            alpha=alpha,
            replicates=replicates,
            workers=workers,
        )
    except InfeasibleScenarioError as exc:
        fail(f"{file_of(scenario)}: infeasible scenario: {one_line(str(exc))}")
    except RobustSolveError as exc:
        fail(f"{file_of(scenario)}: {one_line(str(exc))}")
    seeds = comp.planning_seeds
    stats = {
        (measure, recourse): plan_statistics(comp, measure, recourse)
        for measure in ("people", "objective")
        for recourse in (True, False)
    }

    def interval(iv: Any) -> dict[str, Any]:
        return {
            "n": iv.n,
            "mean_difference": iv.mean_difference,
            "ci_low": iv.low,
            "ci_high": iv.high,
            "relative_gain": iv.relative_gain,
            "relative_ci_low": iv.relative_low,
            "relative_ci_high": iv.relative_high,
        }

    def versus(st: Any) -> dict[str, Any]:
        return {
            "mean": st.mean,
            **interval(st.pooled),
            "replicates": [
                {"planning_seed": seed, **interval(iv)}
                for seed, iv in zip(seeds, st.replicates, strict=True)
            ],
            "spread": {
                "relative_gain_min": st.spread_min,
                "relative_gain_max": st.spread_max,
                "relative_gain_sd": st.spread_sd,
            },
        }

    saa = comp.methods.index("saa") if "saa" in comp.methods else None
    if as_json:
        from reachplan.model.costs import CostModel

        cells = CostModel.from_plan(plan_obj).cells
        data = comparison_json(comp, scenario.name, cells)
        for j, entry in enumerate(data["plans"]):
            entry["people_reached_mean_without_recourse"] = stats[("people", False)][j].mean
            entry["objective_mean"] = stats[("objective", True)][j].mean
            entry["objective_mean_without_recourse"] = stats[("objective", False)][j].mean
            entry["vs_mean_needs"] = {
                "people": versus(stats[("people", True)][j]),
                "objective": versus(stats[("objective", True)][j]),
                "people_without_recourse": versus(stats[("people", False)][j]),
                "objective_without_recourse": versus(stats[("objective", False)][j]),
            }
        people, fixed = comp.outcomes("people", True), comp.outcomes("people", False)
        objective = comp.outcomes("objective", True)
        data.update(
            {
                "replicates": len(seeds),
                "planning_seeds": list(seeds),
                "confidence_level": CONFIDENCE,
                "recourse": {
                    "rule": "each plan commits its first year's money; at the start of every "
                    "later year that year's money is re-decided on what is known then; scored "
                    "on the future's realised needs",
                    "forecast": comp.forecast_rule,
                },
                "value_of_planning_with_simulation_ci": None
                if saa is None
                else {
                    "low": stats[("people", True)][saa].pooled.relative_low,
                    "high": stats[("people", True)][saa].pooled.relative_high,
                },
                "replicate_results": [
                    {
                        "planning_seed": seed,
                        "value_of_planning_with_simulation": None
                        if saa is None
                        else stats[("people", True)][saa].replicates[r].relative_gain,
                        "plans": [
                            {
                                "method": p.method,
                                "people_reached_mean": float(people[r, j].mean()),
                                "people_reached_mean_without_recourse": float(fixed[r, j].mean()),
                                "objective_mean": float(objective[r, j].mean()),
                                "allocated_usd": float(p.allocation_usd.sum()),
                            }
                            for j, p in enumerate(comp.replicate_plans[r])
                        ],
                    }
                    for r, seed in enumerate(seeds)
                ],
            }
        )
        click.echo(dumps(data, indent=1), nl=False)
        return

    def pct(x: float) -> str:
        return "n/a" if not math.isfinite(x) else f"{x:+.2%}"

    lines = [render_comparison_text(comp, scenario.name).rstrip("\n")]
    lines.append(
        f"People reached with recourse: every plan commits its first year; later years are "
        f"re-decided at the start of each year on the needs seen so far. Mean over "
        f"{len(seeds)} planning sample(s)."
    )
    lines.append(
        f"Against the average-needs plan, paired on the same futures "
        f"({CONFIDENCE:.0%} confidence intervals; range over planning samples):"
    )
    for j, method in enumerate(comp.methods):
        if j == comp.base_index:
            continue
        label = LABELS.get(method, method)
        for measure, recourse, what in (
            ("people", True, "people, with recourse"),
            ("people", False, "people, money fixed"),
            ("objective", True, "objective, with recourse"),
        ):
            st = stats[(measure, recourse)][j]
            iv = st.pooled
            lines.append(
                f"  {label} [{what}]: {pct(iv.relative_gain)} "
                f"(CI {pct(iv.relative_low)} to {pct(iv.relative_high)}; "
                f"samples {pct(st.spread_min)} to {pct(st.spread_max)})"
            )
    click.echo("\n".join(lines) + "\n", nl=False)


@main.command("allocate")
@PLAN_ARG
@click.option(
    "--funding", default=None, help=_FUNDING_HELP + " Default: the scenario's, else 100%."
)
@click.option("--carry-over", is_flag=True, help="Money unspent in a year can be spent later.")
@scenario_file_option(
    "Scenario file: envelope, earmarks, floors, caps... (--funding replaces its envelope)."
)
@click.option(
    "--objective",
    type=click.Choice(["priority", "headcount"]),
    default=None,
    help="What to maximise: priority (tiers, severity, diminishing returns in each "
    "location's coverage; the default) or headcount (people reached, for comparison). "
    "Default: the scenario's, else priority.",
)
@click.option(
    "--unit-cost-ranges",
    "cost_ranges",
    is_flag=True,
    help="Also find, for each location and sector, the unit-cost range over which its "
    "money stays within 10% (about 700 re-solves on the default plan: several seconds).",
)
@json_option()
@out_option("Write cells, locations, sectors, shadow prices, unfunded lines as CSV here.")
@quiet_option("Print nothing on success (with --out).")
@pass_session
def allocate_command(
    session: Session,
    plan_path: Path | None,
    funding: str | None,
    carry_over: bool,
    scenario_path: str | None,
    objective: str | None,
    cost_ranges: bool,
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
    from reachplan.reports.allocation import (
        render_csv_tables,
        render_json,
        render_summary,
        render_unit_cost_ranges,
        render_unit_cost_ranges_csv,
        unit_cost_ranges_json,
    )
    from reachplan.solver.allocate import allocate
    from reachplan.solver.result import InfeasibleScenarioError, ModelRangeError

    envelope = _parse_funding(funding, carry_over)
    loaded, scenario = session.scenario_and_plan(plan_path, scenario_path)
    rules = _funding_scenario(envelope, scenario, loaded.plan)
    if objective is not None:
        import dataclasses

        rules = dataclasses.replace(rules, objective=objective)
    try:
        result = allocate(loaded.plan, rules)
    except InfeasibleScenarioError as exc:
        fail(f"{_where(scenario, loaded)}: infeasible scenario: {one_line(str(exc))}")
    except ModelRangeError as exc:
        fail(f"{loaded.path}: {one_line(str(exc))}")
    except ValueError as exc:  # codes the plan does not have (solver.model.selector_mask)
        fail(f"{_where(scenario, loaded)}: {one_line(str(exc))}")
    ranges = None
    if cost_ranges:
        from reachplan.model.costs import CostModel
        from reachplan.solver.allocate import unit_cost_table

        ranges = unit_cost_table(CostModel.from_plan(loaded.plan), rules)
    if out_dir is not None:
        tables = render_csv_tables(result, loaded.plan)
        if ranges is not None:
            tables["unit_cost_ranges"] = render_unit_cost_ranges_csv(ranges)
        _write_csvs(tables, out_dir)
    if as_json:
        payload = render_json(result, loaded.plan)
        if ranges is not None:
            payload["unit_cost_ranges"] = unit_cost_ranges_json(ranges)
        _echo_json(payload)
        if not quiet:
            for warning in result.warnings:
                _warn(warning)
    elif not quiet:
        click.echo(render_summary(result, plan=loaded.plan, csv_dir=out_dir))
        if ranges is not None:
            click.echo(render_unit_cost_ranges(ranges))


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
@scenario_file_option("Scenario file whose rules (floors, caps...) hold at every level.")
@json_option()
@out_option("Write frontier.csv and first_funded.csv here.")
@quiet_option("Print nothing on success (with --out).")
@pass_session
def frontier_command(
    session: Session,
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
    from reachplan.model.costs import CostModel
    from reachplan.reports.allocation import (
        render_frontier,
        render_frontier_csv_tables,
        render_frontier_json,
        render_target,
        render_target_json,
    )
    from reachplan.solver.frontier import funding_frontier, least_funding_for
    from reachplan.solver.result import InfeasibleScenarioError, ModelRangeError

    loaded, scenario = session.scenario_and_plan(plan_path, scenario_path)
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
        fail(f"{where}: infeasible scenario: {one_line(str(exc))}")
    except ModelRangeError as exc:
        fail(f"{loaded.path}: {one_line(str(exc))}")
    except ValueError as exc:  # unreachable target, or codes the plan does not have
        fail(f"{where}: {one_line(str(exc))}")
    top = ladder.levels.iloc[-1]
    if top["status"] != "optimal":
        fail(f"{where}: infeasible scenario even at {top['share']:.0%} of the appeal: "
             f"{one_line(str(top['status']))}")
    if out_dir is not None:
        _write_csvs(render_frontier_csv_tables(ladder), out_dir)
    if as_json:
        _echo_json(render_frontier_json(ladder))
    elif not quiet:
        click.echo(render_frontier(ladder, csv_dir=out_dir))


@main.command("check")
@PLAN_ARG
@scenario_file_option("Scenario file to check (default: 60% of the appeal, no other rule).")
@click.option(
    "--examples",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Generated perturbations per invariant.",
)
@seed_option("Random seed of the generated perturbations.")
@json_option(
    "One JSON object per invariant: invariant, examples, ok, violation, minimal_example."
)
@quiet_option("Only print violations.")
@pass_session
def check_command(
    session: Session,
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
    from reachplan.solver.invariants import run_checks

    loaded, scenario = session.scenario_and_plan(plan_path, scenario_path)
    rules = _funding_scenario(None, scenario, loaded.plan, default="60%")
    if scenario is not None:
        session.book.require_feasible(loaded.plan, scenario)

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
@SCENARIOS_ARG
@out_option(
    "Directory for report.html, report.xlsx, report.json, tables/ (and runs/).", required=True
)
@plan_option()
@draws_option()
@workers_option()
@png_option("Also write static PNG charts (png/) for slides.")
@click.option(
    "--ladder-step",
    type=click.FloatRange(min=0.01, max=1.0),
    callback=_finite,
    default=DEFAULT_LADDER_STEP,
    show_default=True,
    help="Step of the funding ladder, as a share of the appeal.",
)
@quiet_option()
@hxl_switch()
@pass_session
def report_command(
    session: Session,
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
    from reachplan.scenarios.scenario_io import SUITE

    scenarios = [session.scenario(s, draws=draws) for s in scenario_files or SUITE]
    suite, runs, work = _run_suite(
        session, scenarios, plan_path, out_dir, resume=None, workers=workers, quiet=quiet,
        for_report=True, report_ladder_step=ladder_step,
    )
    paths = _write_report(runs, suite.plan, out_dir, png=png, ladder_step=ladder_step, hxl=hxl,
                          workers=workers, work=work)
    click.echo(f"wrote {len(paths)} files; open {out_dir / 'report.html'}", err=True)


@main.command("serve")
@PLAN_ARG
@scenario_file_option("Scenario file the page starts from (its envelope, earmarks, floors...).")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to listen on. Anything but loopback makes the page reachable from the "
    "network: then every request needs the access token printed in the address.",
)
@click.option(
    "--port",
    type=click.IntRange(min=0, max=65535),
    default=8050,
    show_default=True,
    help="Port to listen on; 0 picks a free one (the printed address has it).",
)
@click.option(
    "--open/--no-open",
    "open_browser",
    default=False,
    show_default=True,
    help="Open the page in the default browser once it is served.",
)
@pass_session
def serve_command(
    session: Session,
    plan_path: Path | None,
    scenario_path: str | None,
    host: str,
    port: int,
    open_browser: bool,
) -> None:
    """Serve the what-if page: move the money and see who is reached, on every change.

    The plan is PLAN, else the --scenario file's `plan =`, else the shipped plan; the
    page starts from the --scenario file's rules (else 100% of the appeal). It prints
    its address, then serves until Ctrl-C. By default only this computer can open it
    (127.0.0.1); with another --host, the printed address carries a one-time access
    token that every request must present.

    \b
    Example:
      reachplan serve
      reachplan serve myplan/ --scenario shortfall.toml --port 8060 --open
    """
    import secrets

    from reachplan.web.server import is_loopback, listen, serve

    sock = listen(host, port)  # a port in use is reported before the plan is loaded
    loaded, scenario = session.scenario_and_plan(plan_path, scenario_path)
    context = _whatif_context(loaded, scenario, scenario_path, shipped=plan_path is None and not (
        scenario is not None and scenario.plan))
    from reachplan.web.app import create_app

    app = create_app(context)
    token = None
    if not is_loopback(host):
        token = secrets.token_urlsafe(24)
        _warn(f"--host {host}: the page is reachable from the network; every request "
              "needs the access token in the printed address (share it only with the room)")

    def ready(url: str) -> None:
        click.echo(f"reachplan what-if: {url}")
        sys.stdout.flush()
        if open_browser:
            import threading
            import webbrowser

            threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()

    serve(app, host=host, port=port, token=token, echo=ready, sock=sock)
    click.echo("reachplan what-if: stopped", err=True)


def _whatif_context(loaded: UsablePlan, scenario: Scenario | None, scenario_path: str | None,
                    *, shipped: bool) -> Any:
    """The page's context, its starting rules solved once (errors stop here, as ``allocate``).

    A starting scenario whose rules cannot all hold is served anyway, with a warning:
    the page shows the diagnosis and the planner can loosen the rules there.
    """
    from reachplan.solver.result import InfeasibleScenarioError, ModelRangeError
    from reachplan.web.context import make_context

    context = make_context(loaded.plan, None if shipped else loaded.path, scenario,
                           scenario_path if scenario is not None else None)
    try:
        context.solver.solve(context.base)
    except InfeasibleScenarioError as exc:
        _warn(f"{_where(scenario, loaded)}: the starting rules cannot all hold: "
              f"{one_line(str(exc))}")
    except ModelRangeError as exc:
        fail(f"{loaded.path}: {one_line(str(exc))}")
    except ValueError as exc:  # codes the plan does not have (solver.model.selector_mask)
        fail(f"{_where(scenario, loaded)}: {one_line(str(exc))}")
    return context


if __name__ == "__main__":  # pragma: no cover
    main()
