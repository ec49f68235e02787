"""Running scenarios: load plans and scenarios, check them, then run them into a run store.

One suite run goes through two steps, so that nothing is written to the output folder
before every check has passed:

1. :func:`prepare_suite` loads each scenario's plan (:class:`PlanBook`), checks every
   scenario against it (codes, earmarks, ... : :func:`scenarios.scenario_io.check_against_plan`),
   solves each scenario's base allocation once (an infeasible scenario is explained in
   planner words), refuses draws that cannot fit in memory and, with the Dask executor,
   a scheduler that does not answer;
2. :func:`run_suite` runs each scenario, writing each chunk of draws to
   ``<out>/runs/<scenario>/`` as it finishes (:class:`workflow.run_store.RunStore`), so
   that an interrupted run can be resumed and gives the numbers of an uninterrupted one.

Nothing here prints: progress and warnings go to callbacks, and every refusal is a
:class:`model.errors.ReachplanError` whose message names the file (and rule) concerned.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from reachplan.model.errors import ReachplanError
from reachplan.model.plan import Plan
from reachplan.model.scenario import Scenario
from reachplan.model.simulation import InitialState
from reachplan.scenarios.plan_io import UsablePlan, load_plan
from reachplan.solver.batch import ChunkResult, ScenarioRun
from reachplan.solver.result import InfeasibleScenarioError, ModelRangeError
from reachplan.workflow.run_store import RunStore, RunStoreError

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
    "calibrated_on_load",
    "load_initial_state",
    "load_plan_to_calibrate",
    "load_usable_plan",
    "one_line",
    "plan_path_of",
    "prepare_suite",
    "run_stored",
    "run_suite",
    "scenario_file",
]


class UnusablePlanError(ReachplanError):
    """The plan was read but has errors: it cannot be allocated.

    Attributes
    ----------
    errors
        Every validation error of the plan (file, row and column each).
    """

    def __init__(self, message: str, errors: Sequence[object]) -> None:
        super().__init__(message)
        self.errors = tuple(errors)


class ScenarioRunError(ReachplanError):
    """A scenario cannot run on its plan: infeasible rules, codes the plan lacks, bad ranges."""


class SuiteError(ReachplanError):
    """Scenarios that cannot go into one report together (different plans, shared names)."""


class OutputError(ReachplanError):
    """The output folder cannot be written."""


def one_line(message: str) -> str:
    """A message on one line (newlines folded), so scripts can read it from the last line."""
    return " ".join(message.split())


def scenario_file(scenario: Scenario) -> str:
    """The file a problem of ``scenario`` is about: its own file, else its name."""
    return scenario.files[0] if scenario.files else scenario.name


def plan_path_of(plan_path: Path | None, scenario: Scenario | None) -> Path | None:
    """Which plan a scenario runs on: ``plan_path``, else the scenario's ``plan =``, else shipped.

    ``None`` stands for the shipped default plan.
    """
    if plan_path is not None:
        return plan_path
    if scenario is not None and scenario.plan:
        return Path(scenario.plan)
    return None


def load_usable_plan(path: Path | None, notify: Callable[[str], None] | None = None) -> UsablePlan:
    """Load and validate a plan (``None``: the shipped plan); refuse one with errors.

    A plan with targets but no unit costs is calibrated on its targets
    (:func:`calibrated_on_load`) and ``notify`` is told so.

    Raises
    ------
    scenarios.plan_io.PlanReadError
        When the files cannot be read at all.
    UnusablePlanError
        When validation finds errors (all of them are in its ``errors``).
    model.plan.PlanError
        When the plan has no unit costs and cannot be calibrated (the message says what
        to add).
    """
    return calibrated_on_load(load_plan_to_calibrate(path), notify)


def load_plan_to_calibrate(path: Path | None) -> UsablePlan:
    """Load and validate a plan as it is, unit costs or none (``reachplan plan calibrate``).

    Raises
    ------
    scenarios.plan_io.PlanReadError
        When the files cannot be read at all.
    UnusablePlanError
        When validation finds errors (all of them are in its ``errors``).
    """
    loaded = load_plan(path)
    usable = loaded.usable()
    if usable is None:
        errors = loaded.validation.errors
        raise UnusablePlanError(
            f"{loaded.path}: the plan has {len(errors)} error(s); "
            "run `reachplan validate` for the full list",
            errors,
        )
    return usable


def calibrated_on_load(
    usable: UsablePlan, notify: Callable[[str], None] | None = None
) -> UsablePlan:
    """The plan with unit costs: its own, or calibrated on its targets when it has none.

    A plan with people (or entities) targeted and no unit costs gets the unit costs of
    :func:`model.unit_costs.calibrate_plan` (and the default cost curve when it has none)
    for this run only; a warning saying so joins the plan's validation warnings (so it
    travels into reports) and is passed to ``notify``. The plan's files are not touched:
    ``reachplan plan calibrate`` writes the tables.

    Raises
    ------
    model.plan.PlanError
        When the plan has neither unit costs nor targets (the message says what to add).
    """
    from reachplan.model.unit_costs import calibrate_plan, has_targets, has_unit_costs
    from reachplan.model.validation import Problem

    plan = usable.plan
    if has_unit_costs(plan):
        return usable
    if not has_targets(plan):
        from reachplan.model.plan import PlanError

        raise PlanError(
            f"{usable.path}: the plan has neither unit costs nor targets, so no money can "
            "reach anyone: add people targeted to the populations table (population_status "
            "'targeted' per location and year; then `reachplan plan calibrate` derives the "
            "unit costs), or a unit_costs table (location_code, sector_code, unit_cost_usd)"
        )
    calibration = calibrate_plan(plan)
    curve = (
        ", with the default cost curve, a planning assumption"
        if calibration.curve_supplied else ""
    )
    message = (
        f"{usable.path}: the plan has no unit costs: calibrated on its targets for this run "
        f"({len(calibration.lines)} lines, on {calibration.year}{curve}); run "
        f"`reachplan plan calibrate {usable.path}` to see the working and write them into "
        "the plan"
    )
    source = usable.validation.sources.get("unit_costs") or str(usable.path)
    validation = dataclasses.replace(
        usable.validation,
        problems=(*usable.validation.problems, Problem("warning", source, message)),
    )
    if notify is not None:
        notify(message)
    return UsablePlan(validation, calibration.apply(plan), usable.path)


def load_initial_state() -> InitialState:
    """The simulation's initial state, as shipped (an unreadable one raises AssumptionError)."""
    from reachplan.scenarios.simulation_io import load_initial_state as load

    return load()


class PlanBook:
    """Plans loaded once per path, and scenario rules found feasible once per plan.

    One book serves one command: a suite whose scenarios share a plan reads and
    validates it once, and scenarios whose rules differ only in their names are
    solved once by :meth:`require_feasible`. ``notify`` hears what loading did to a plan
    (calibrated on load: :func:`calibrated_on_load`), once per plan.
    """

    def __init__(self, notify: Callable[[str], None] | None = None) -> None:
        self._notify = notify
        self._plans: dict[Path | None, UsablePlan] = {}
        self._feasible: set[tuple[str, object]] = set()

    def plan(self, path: Path | None) -> UsablePlan:
        """The usable plan at ``path`` (``None``: shipped), read once (:func:`load_usable_plan`)."""
        if path not in self._plans:
            self._plans[path] = load_usable_plan(path, self._notify)
        return self._plans[path]

    def plan_for(self, plan_path: Path | None, scenario: Scenario) -> UsablePlan:
        """The plan ``scenario`` runs on (:func:`plan_path_of`), the scenario checked against it.

        Raises
        ------
        model.scenario.ScenarioError
            When a rule names codes the plan lacks (file, rule and key in the message).
        """
        from reachplan.scenarios.scenario_io import check_against_plan

        usable = self.plan(plan_path_of(plan_path, scenario))
        check_against_plan(scenario, usable.plan)
        return usable

    def require_feasible(self, plan: Plan, scenario: Scenario) -> None:
        """Solve the scenario's base allocation once; refuse an infeasible scenario.

        Raises
        ------
        ScenarioRunError
            ``<scenario file>: infeasible scenario: <why, in planner words>``; or the plan
            file and why its numbers are out of a solver's range; or the scenario file
            and the codes the plan does not have.
        """
        key = (plan.fingerprint, dataclasses.replace(scenario.funding, name=""))
        if key in self._feasible:
            return
        where = scenario_file(scenario)
        try:
            _check_feasible(plan, scenario)
        except InfeasibleScenarioError as exc:
            raise ScenarioRunError(f"{where}: infeasible scenario: {one_line(str(exc))}") from exc
        except ModelRangeError as exc:
            raise ScenarioRunError(f"{plan.source}: {one_line(str(exc))}") from exc
        except ValueError as exc:  # codes the plan does not have (solver.model.selector_mask)
            raise ScenarioRunError(f"{where}: {one_line(str(exc))}") from exc
        self._feasible.add(key)


def _check_feasible(plan: Plan, scenario: Scenario) -> None:
    """Raise what :func:`solver.allocate.allocate` raises on the scenario, if anything.

    The run's own model (:func:`solver.batch.prepared_model`, kept for the run) is built,
    range-checked (:func:`solver.allocate.check_ranges`) and solved once; only when it
    has no optimal solution, or the scenario has objective share bounds (whose
    infeasibility an optimal solution can hide), is the allocation solved in full, for
    its planner-worded diagnosis. Both build the same model from the same plan and rules.
    """
    from reachplan.solver.allocate import allocate, check_ranges
    from reachplan.solver.batch import prepared_model

    if not scenario.funding.objective_bounds:
        prep = prepared_model(plan, scenario)
        check_ranges(prep.lp)
        if prep.start_basis() is not None:
            return
    allocate(plan, scenario.funding, ranged="none")


@dataclass(frozen=True, eq=False)
class SuiteEntry:
    """One scenario of a suite and the plan it runs on."""

    scenario: Scenario
    plan: UsablePlan


@dataclass(frozen=True, eq=False)
class Suite:
    """Scenarios checked and ready to run (see :func:`prepare_suite`).

    Attributes
    ----------
    entries
        Each scenario with its plan, in the order given.
    executor, scheduler
        Where the draws are solved (``"processes"`` or ``"dask"`` at ``scheduler``).
    """

    entries: tuple[SuiteEntry, ...]
    executor: str = "processes"
    scheduler: str | None = None

    @property
    def scenarios(self) -> tuple[Scenario, ...]:
        """The scenarios, in order."""
        return tuple(e.scenario for e in self.entries)

    @property
    def plan(self) -> UsablePlan:
        """The one plan of the suite.

        Raises
        ------
        SuiteError
            When the scenarios run on different plans.
        """
        plans = {id(e.plan): e.plan for e in self.entries}
        if len(plans) != 1:
            raise SuiteError("the scenarios run on different plans; a report is about one plan")
        return next(iter(plans.values()))


@dataclass(frozen=True)
class RunProgress:
    """Progress of one scenario's run, in chunks of draws."""

    scenario: str
    chunks_done: int
    chunks_total: int


@dataclass(frozen=True, eq=False)
class SuiteResult:
    """Finished runs of a suite, in scenario order."""

    suite: Suite
    runs: tuple[ScenarioRun, ...]


def _one_plan_path(plan_path: Path | None, scenarios: Sequence[Scenario]) -> Path | None:
    paths = {plan_path_of(plan_path, s) for s in scenarios}
    if len(paths) > 1:
        named = ", ".join(sorted(str(p) if p is not None else "the shipped plan" for p in paths))
        raise SuiteError(
            f"the scenarios name different plans ({named}); a report is about one plan: "
            "give one with --plan or run them separately"
        )
    return paths.pop()


def prepare_suite(
    scenarios: Sequence[Scenario],
    plan_path: Path | None = None,
    *,
    book: PlanBook | None = None,
    for_report: bool = False,
    distinct_names: bool = False,
    executor: str = "processes",
    scheduler: str | None = None,
) -> Suite:
    """Load each scenario's plan and check everything a run needs, before anything is written.

    In this order: scenario names differ (with ``distinct_names``); the scenarios name one
    plan (with ``for_report``: a report is about one plan); each plan reads and validates;
    each scenario fits its plan; each scenario's base allocation is feasible; each run's
    draws fit in memory; the Dask scheduler answers (with ``executor="dask"``).

    Parameters
    ----------
    scenarios
        Loaded scenarios, in run order.
    plan_path
        The plan given on the command line, if any (it wins over a scenario's ``plan =``).
    book
        Plans already loaded (a new book by default).
    for_report
        Refuse scenarios that name different plans.
    distinct_names
        Refuse two scenarios with the same name (a report keys its tables by name).
    executor, scheduler
        Where the draws will be solved.

    Raises
    ------
    model.errors.ReachplanError
        :class:`SuiteError`, :class:`UnusablePlanError`, ``PlanReadError``,
        ``ScenarioError``, :class:`ScenarioRunError`, ``RunTooLargeError`` or
        ``SchedulerError``, each naming the file (and rule) concerned.
    """
    from reachplan.solver.batch import check_memory, check_scheduler, prepared_model

    book = PlanBook() if book is None else book
    if distinct_names:
        names = [s.name for s in scenarios]
        if len(set(names)) != len(names):
            raise SuiteError(
                "two scenarios share a name; a report needs each scenario's 'name' to differ"
            )
    if for_report:
        _one_plan_path(plan_path, scenarios)
    entries = tuple(SuiteEntry(s, book.plan_for(plan_path, s)) for s in scenarios)
    for entry in entries:
        book.require_feasible(entry.plan.plan, entry.scenario)
    # a draw's memory depends on the plan's need rows, whatever the scenario: one model per
    # plan is counted, that of the plan's first run (the feasibility checks built it; the
    # models stay in solver.batch's memo for the runs)
    first: dict[int, SuiteEntry] = {}
    for entry in entries:
        first.setdefault(id(entry.plan), entry)
    need_rows = {
        key: len(prepared_model(e.plan.plan, e.scenario).need_rows)
        for key, e in reversed(list(first.items()))
    }
    for entry in reversed(entries):
        check_memory(entry.scenario.draws, need_rows[id(entry.plan)], name=entry.scenario.name)
    if executor == "dask":
        check_scheduler(scheduler)
    return Suite(entries, executor=executor, scheduler=scheduler)


def run_stored(
    plan: Plan,
    scenario: Scenario,
    initial: InitialState,
    out_dir: Path,
    *,
    resume: bool | None,
    workers: int = 1,
    executor: str = "processes",
    scheduler: str | None = None,
    warn: Callable[[str], None] | None = None,
    progress: Callable[[RunProgress], None] | None = None,
) -> ScenarioRun:
    """Run one scenario, writing each chunk to ``<out_dir>/runs/<name>/`` as it finishes.

    Parameters
    ----------
    plan, scenario, initial
        What to run (checked beforehand by :func:`prepare_suite`).
    out_dir
        The output folder.
    resume
        True continues the stored run (refusing a different one), False starts afresh,
        None reuses a matching stored run and starts afresh otherwise.
    workers, executor, scheduler
        Where the draws are solved; the numbers do not depend on it.
    warn
        Called with one line per stored chunk found damaged and recomputed.
    progress
        Called once with the chunks already stored, then after each chunk.

    Raises
    ------
    workflow.run_store.RunStoreError
        With ``resume=True``, when the folder holds a different run.
    OutputError
        When ``out_dir`` cannot be written.
    ScenarioRunError
        When a draw's allocation is infeasible (names the scenario file).
    """
    from reachplan.solver.batch import chunk_plan, run_key, run_scenario

    store = RunStore(out_dir, scenario.name, warn=warn)
    key = run_key(plan, scenario)
    try:
        try:
            done = store.start(key, resume=resume is not False)
        except RunStoreError:
            if resume:
                raise
            done = store.start(key, resume=False)
    except OSError as exc:
        raise OutputError(f"{out_dir}: cannot write ({exc.strerror or exc})") from exc
    total = len(chunk_plan(scenario.draws))
    count = len(done)

    def report() -> None:
        if progress is not None:
            progress(RunProgress(scenario.name, count, total))

    report()

    def on_chunk(chunk: ChunkResult) -> None:
        nonlocal count
        store.write(chunk)
        count += 1
        report()

    try:
        return run_scenario(
            plan,
            scenario,
            initial,
            workers=workers,
            done=done,
            on_chunk=on_chunk,
            executor=executor,
            scheduler=scheduler,
        )
    except InfeasibleScenarioError as exc:
        raise ScenarioRunError(
            f"{scenario_file(scenario)}: infeasible scenario: {one_line(str(exc))}"
        ) from exc


def run_suite(
    suite: Suite,
    initial: InitialState,
    out_dir: Path,
    *,
    resume: bool | None = None,
    workers: int = 1,
    warn: Callable[[str], None] | None = None,
    progress: Callable[[RunProgress], None] | None = None,
    on_run: Callable[[ScenarioRun], None] | None = None,
) -> SuiteResult:
    """Run every scenario of a prepared suite into the run store of ``out_dir``.

    Parameters
    ----------
    suite
        Scenarios checked by :func:`prepare_suite`.
    initial
        The simulation's initial state.
    out_dir
        The output folder (runs under ``<out_dir>/runs/``).
    resume
        As :func:`run_stored`.
    workers
        Worker processes; the numbers do not depend on it.
    warn, progress
        As :func:`run_stored`.
    on_run
        Called with each finished run, in order (e.g. to print its summary).

    Returns
    -------
    SuiteResult
    """
    runs = []
    for entry in suite.entries:
        run = run_stored(
            entry.plan.plan,
            entry.scenario,
            initial,
            out_dir,
            resume=resume,
            workers=workers,
            executor=suite.executor,
            scheduler=suite.scheduler,
            warn=warn,
            progress=progress,
        )
        runs.append(run)
        if on_run is not None:
            on_run(run)
    return SuiteResult(suite, tuple(runs))
