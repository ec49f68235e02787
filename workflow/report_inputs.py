"""Assembling a report's inputs: everything a report shows that the runs do not carry.

The runs carry the figures *over the simulated futures*. A report also shows figures
*at the plan's figures* and the displacement behind the runs, computed here:

- one allocation per scenario with the plan's own people in need
  (:func:`solver.allocate.allocate`: the pro-rata comparison and the shadow prices);
- what one more $1M reaches in each line of it (:func:`solver.marginal.line_marginals`);
- one funding ladder per set of rules (:func:`solver.frontier.funding_frontier`);
  scenarios whose rules differ only in the envelope share one;
- displacement percentiles of the very draws the runs were solved in
  (:func:`simulate_run_draws`); scenarios with the same
  assumptions, seed and draws share one set;
- the sector cost index sensitivity (:func:`cost_index_sensitivity`): the planning
  case's allocation again on the plan with its sector cost index flattened.

The allocations at the plan's figures (full shadow prices and their ranges, seconds
each on the default plan) run on the worker pool the runs used, if one is running,
while this process computes the ladders and the bands; their row sensitivities, and the
ladders, are kept in ``<out>/cache/`` (JSON, keyed by the fingerprint of the LP or of the
plan and rules), so a second report on the same folder solves neither again. Neither
changes a number: the same code on the same inputs, and a cached entry is the computed
one exactly.

:func:`build_report_inputs` returns them as one frozen
:class:`reports.report_data.ReportInputs`; :func:`report_data` adds the pure assembly
(:func:`reports.report_data.build_report_data`); :func:`write_suite_report` writes the
files. ``reports/`` itself never solves or simulates.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reachplan.model.costs import CostModel
from reachplan.model.errors import ReachplanError
from reachplan.model.funding import FundingScenario
from reachplan.model.plan import Plan
from reachplan.model.scenario import Scenario
from reachplan.model.simulation import (
    InitialState,
    SimulationResult,
    Stream,
    percentile_table,
    simulate,
)
from reachplan.reports.report_data import (
    PERCENTILES,
    REPORT_PACKAGES,
    CostIndexSensitivity,
    Ladder,
    ReportData,
    ReportInputs,
    SimulationBands,
    build_report_data,
)
from reachplan.scenarios.plan_io import UsablePlan
from reachplan.solver.batch import ScenarioRun
from reachplan.solver.result import Allocation, Frontier

__all__ = [
    "PLANNING_CASE",
    "CACHE_DIR",
    "build_report_inputs",
    "cached_frontier",
    "cost_index_sensitivity",
    "files_sha256",
    "has_cost_index",
    "ladder_key",
    "planning_case",
    "renamed",
    "report_data",
    "rules_key",
    "simulation_key",
    "read_sensitivity_cache",
    "write_sensitivity_cache",
    "allocation_task",
    "ladder_task",
    "report_allocation_jobs",
    "ReportWork",
    "start_report_work",
    "write_suite_report",
]


def simulate_run_draws(
    scenario: Scenario, initial: InitialState, last_year: int | None = None
) -> SimulationResult | None:
    """The displacement draws a run of ``scenario`` used, in draw order.

    Draw ``d`` of a run is a function of the seed, ``d`` and the months simulated
    (:mod:`model.simulation.streams`), so one :func:`model.simulation.simulate`
    call over the run's stream, to December of the plan's last year ``last_year`` (as
    :func:`solver.batch.need_multipliers` runs it), gives the very futures every chunk
    of the run re-solved the allocation in, whatever the chunking or worker count.

    Returns
    -------
    SimulationResult or None
        Stocks shaped ``(scenario.draws, T[, L])``, persons; no flows. ``None`` when
        the run simulated nothing (``model = "none"``, a needs file, or a plan that
        ends before the simulation starts): the report then has no displacement section.
    """
    from reachplan.solver.batch import simulation_state

    if scenario.simulation.source_kind != "displacement":
        return None
    state = simulation_state(scenario, initial)
    months = 36 if last_year is None else (
        pd.Period(f"{last_year}-12", freq="M") - state.month
    ).n
    if months < 1:
        return None
    return simulate(
        scenario.simulation, state, draws=scenario.draws, seed=scenario.seed,
        months=months, record_flows=False, stream=Stream.RUN,
    )


def simulation_key(scenario: Scenario) -> str:
    """Same assumptions, seed and draws, same futures (whichever file they were read from)."""
    sim = scenario.simulation
    values = tuple(
        getattr(sim, f.name) for f in dataclasses.fields(sim) if not f.name.startswith("source")
    )
    return repr((values, scenario.seed, scenario.draws))


def rules_key(funding: FundingScenario) -> str:
    """Same rules but for the envelope and the name, same funding ladder."""
    from reachplan.solver.frontier import at_share

    return repr(dataclasses.replace(at_share(funding, 1.0), name=""))


LADDER_CACHE_FORMAT = 1
"""Version of the cached ladder file layout (:func:`ladder_cache_path`)."""


def ladder_key(plan: Plan, funding: FundingScenario, step: float) -> str:
    """Identity of a funding ladder: same key, same ladder (SHA-256, hex).

    The plan's fingerprint, the scenario's rules but for the envelope and the name
    (:func:`rules_key`, with carry-over dropped: a ladder's envelope is a total, on which
    carry-over has no effect), the step, the cache layout and the versions of
    reachplan, PuLP and HiGHS (a new version may solve differently), and the version of the
    ranging method behind the ladder's marginal values
    (:data:`solver.sensitivity.MEMO_FORMAT`).
    """
    from reachplan.model.versions import package_versions
    from reachplan.solver.frontier import at_share
    from reachplan.solver.sensitivity import MEMO_FORMAT

    rules = dataclasses.replace(at_share(funding, 1.0), name="")
    rules = dataclasses.replace(
        rules, envelope=dataclasses.replace(rules.envelope, carry_over=False))
    identity = {
        "format": LADDER_CACHE_FORMAT,
        "ranging": MEMO_FORMAT,
        "plan": plan.fingerprint,
        "rules": repr(rules),
        "step": repr(float(step)),
        "versions": package_versions(("reachplan", "pulp", "highspy")),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def ladder_cache_path(cache_dir: Path, key: str) -> Path:
    """``<cache_dir>/ladder_<key>.json``."""
    return Path(cache_dir) / f"ladder_{key}.json"


def _frontier_json(key: str, frontier: Frontier) -> str:
    first = frontier.first_funded
    payload = {
        "key": key,
        "format": LADDER_CACHE_FORMAT,
        "levels": {col: frontier.levels[col].tolist() for col in _LEVEL_COLUMNS},
        "index_names": list(first.index.names),
        "index": [list(ix) for ix in first.index.tolist()],
        "requirement_usd": first["requirement_usd"].tolist(),
        "first_funded_share": first["first_funded_share"].tolist(),
    }
    return json.dumps(payload) + "\n"


_LEVEL_COLUMNS = ("share", "funding_usd", "allocated_usd", "people_reached",
                  "pro_rata_people_reached", "marginal_people_per_1m", "status")


def _frontier_from_json(text: str, key: str) -> Frontier | None:
    """The cached ladder, or ``None`` when the file is not a complete ladder of ``key``."""
    try:
        payload = json.loads(text)
        if payload.get("key") != key or payload.get("format") != LADDER_CACHE_FORMAT:
            return None
        raw = payload["levels"]
        levels = pd.DataFrame({
            col: (pd.Series(raw[col], dtype=object) if col == "status"
                  else np.asarray(raw[col], dtype=float))
            for col in _LEVEL_COLUMNS
        })
        index = pd.MultiIndex.from_tuples([tuple(ix) for ix in payload["index"]],
                                          names=payload["index_names"])
        first = pd.DataFrame({
            "requirement_usd": np.asarray(payload["requirement_usd"], dtype=float),
            "first_funded_share": np.asarray(payload["first_funded_share"], dtype=float),
        }, index=index)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return Frontier(levels, first)


def cached_frontier(
    plan: Plan,
    costs: CostModel,
    funding: FundingScenario,
    step: float,
    cache_dir: Path | None = None,
    memo: dict[str, Frontier] | None = None,
    work: ReportWork | None = None,
) -> Frontier:
    """The funding ladder of ``funding``'s rules on ``plan``, computed once.

    Looked up by :func:`ladder_key` in ``memo`` (this process), then in ``cache_dir``
    (a file a previous report on the same output folder wrote); taken from ``work``
    when a worker computed it there, else computed
    (:func:`solver.frontier.funding_frontier`); stored in both. A cached
    file that is unreadable, damaged or of another key is ignored and rewritten. The
    cache holds numbers the ladder computed, in JSON (floats written in full
    precision), so a cached ladder is the computed one exactly.
    """
    from reachplan.reports.plan_files import write_text_atomic
    from reachplan.solver.frontier import funding_frontier

    key = ladder_key(plan, funding, step)
    if memo is not None and key in memo:
        return memo[key]
    frontier = None
    path = None if cache_dir is None else ladder_cache_path(cache_dir, key)
    if path is not None and path.is_file():
        try:
            frontier = _frontier_from_json(path.read_text(encoding="utf-8"), key)
        except (OSError, UnicodeDecodeError):
            frontier = None
    if frontier is None:
        frontier = None if work is None else work.ladder(key)
        if frontier is None:
            frontier = funding_frontier(costs, funding, step=step)
        if path is not None:
            with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
                path.parent.mkdir(parents=True, exist_ok=True)
                write_text_atomic(path, _frontier_json(key, frontier))
    if memo is not None:
        memo[key] = frontier
    return frontier


def _label(names: Sequence[str]) -> str:
    return ", ".join(names)


def _totals_table(result: SimulationResult) -> pd.DataFrame:
    """Percentiles of the national totals per month (fan charts)."""
    labels = [str(m) for m in result.months.strftime("%Y-%m")]
    frames = []
    origin = result.initial.geography.origin
    for name, values, loc in (
        ("idps", result.idps, origin),
        ("returnees", result.returnees, origin),
        ("refugees", result.refugees.sum(axis=2), "ALL"),
    ):
        q = np.percentile(values, [5, 10, 50, 90, 95], axis=0)
        frames.append(pd.DataFrame({
            "series": name, "location_code": loc, "month": labels,
            **{col: q[j] for j, col in enumerate(PERCENTILES)},
            "mean": values.mean(axis=0),
        }))
    return pd.concat(frames, ignore_index=True)


def files_sha256(path: Path) -> str:
    """SHA-256 over a plan's files as read: a workbook, or a directory's CSV files.

    Each file contributes its name and its bytes, in name order, so renaming or
    editing any table changes the hash.
    """
    files: Iterable[Path] = sorted(path.glob("*.csv")) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.name.encode())
        digest.update(b"\0")
        digest.update(f.read_bytes())
    return digest.hexdigest()


CACHE_DIR = "cache"
"""Folder of ``--out`` where :func:`write_suite_report` keeps funding ladders
(:func:`cached_frontier`) and the row sensitivities of the allocations at the plan's
figures (:data:`SENSITIVITY_CACHE`) between reports, in JSON."""


def renamed(allocation: Allocation, funding: FundingScenario) -> Allocation:
    """``allocation`` as the allocation of ``funding``, whose rules are the same but for the name.

    The scenario and the provenance's scenario line are ``funding``'s; every number is
    the solved allocation's (the name enters no row of the model).
    """
    if allocation.scenario == funding:
        return allocation
    provenance = dict(allocation.provenance)
    if "scenario" in provenance:
        provenance["scenario"] = funding.describe()
    return dataclasses.replace(allocation, scenario=funding, provenance=provenance)


PLANNING_CASE = "shortfall_60"
"""Name of the shipped scenario whose envelope is the planning case (60% of the appeal)."""


def planning_case(runs: Sequence[ScenarioRun], appeal_usd: float) -> ScenarioRun | None:
    """The run whose funding envelope is the planning case.

    The scenario named :data:`PLANNING_CASE` when the suite has it; else the first run
    whose envelope is below the full appeal (a shortfall is what the question is
    about); else the first run. ``None`` for no runs.
    """
    found = _planning_index([(r.scenario.name, r.funding_usd) for r in runs], appeal_usd)
    return None if found is None else runs[found]


def _planning_index(named: Sequence[tuple[str, float]], appeal_usd: float) -> int | None:
    """Position of the planning case among (name, envelope in USD) pairs (:func:`planning_case`)."""
    for i, (name, _) in enumerate(named):
        if name == PLANNING_CASE:
            return i
    for i, (_, usd) in enumerate(named):
        if usd < appeal_usd * (1 - 1e-9):
            return i
    return 0 if named else None


def allocation_task(
    plan: Plan,
    funding: FundingScenario,
    flat: bool = False,
    known: Mapping[str, list[list[object]]] | None = None,
) -> tuple[Allocation, dict[str, list[list[object]]]]:
    """:func:`solver.allocate.allocate` of ``funding`` on ``plan`` (flattened: ``flat``).

    Row sensitivities (the shadow prices' ranges, most of the time of an allocation; not
    computed for the flattened plan, whose shadow prices no report shows) are
    looked up in ``known`` (:func:`solver.sensitivity.sensitivity_memo`); returns the
    allocation and the sensitivity entries it used, found or computed, to keep.
    Top-level, so a worker process can run it.
    """
    from reachplan.solver.allocate import allocate
    from reachplan.solver.sensitivity import sensitivity_memo

    if flat:
        from reachplan.model.unit_costs import with_flat_cost_index

        plan = with_flat_cost_index(plan)
    with sensitivity_memo(known) as memo:
        # the flattened plan's allocation is compared by its money and people only
        # (:func:`cost_index_sensitivity`): its shadow prices are not ranged
        allocation = allocate(plan, funding, ranged="none" if flat else "all")
    return allocation, memo.used


SENSITIVITY_CACHE = "sensitivities.json"
"""File of the cache folder keeping row sensitivities between reports."""


def read_sensitivity_cache(cache_dir: Path | None) -> dict[str, list[list[object]]]:
    """Entries of ``<cache_dir>/sensitivities.json``; empty when absent or unreadable.

    JSON (floats written in full precision, NaN and infinities as Python writes them),
    never pickle: the file is only ever data. An entry is used only under its own key
    (:func:`solver.sensitivity.sensitivity_key`), so a file from another plan or
    scenario costs nothing but its reading.
    """
    from reachplan.solver.sensitivity import MEMO_FORMAT

    if cache_dir is None:
        return {}
    try:
        payload = json.loads((Path(cache_dir) / SENSITIVITY_CACHE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    if not isinstance(payload, dict) or payload.get("format") != MEMO_FORMAT:
        return {}
    entries = payload.get("entries")
    if not isinstance(entries, dict):
        return {}
    return {str(k): v for k, v in entries.items() if isinstance(v, list)}


def write_sensitivity_cache(cache_dir: Path | None,
                            entries: Mapping[str, list[list[object]]]) -> None:
    """Keep ``entries`` (those of the latest report) in ``<cache_dir>/sensitivities.json``.

    A cache that cannot be written only costs time on the next report.
    """
    from reachplan.reports.plan_files import write_text_atomic
    from reachplan.solver.sensitivity import MEMO_FORMAT

    if cache_dir is None or not entries:
        return
    text = json.dumps({"format": MEMO_FORMAT, "entries": dict(sorted(entries.items()))})
    with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        write_text_atomic(Path(cache_dir) / SENSITIVITY_CACHE, text + "\n")


def ladder_task(plan: Plan, funding: FundingScenario, step: float) -> Frontier:
    """The funding ladder of ``funding``'s rules on ``plan`` (top-level, for a worker)."""
    from reachplan.solver.frontier import funding_frontier

    return funding_frontier(CostModel.from_plan(plan), funding, step=step)


def report_allocation_jobs(
    plan: Plan, fundings: Sequence[tuple[str, FundingScenario]],
) -> list[tuple[FundingScenario, bool]]:
    """The allocations a report of these (name, funding) scenarios solves at the plan's figures.

    One per scenario (``flat`` False), and the planning case on the plan with its sector
    cost index flattened (``flat`` True) when the plan has a sector cost index
    (:func:`cost_index_sensitivity`).
    """
    from reachplan.solver.model import funding_usd

    jobs = [(funding, False) for _, funding in fundings]
    if has_cost_index(plan) and fundings:
        costs = CostModel.from_plan(plan)
        appeal = float(plan.tables["requirements"]["requirements_usd"].sum())
        found = _planning_index([(name, funding_usd(costs, f)) for name, f in fundings], appeal)
        if found is not None:
            jobs.append((fundings[found][1], True))
    return jobs


def _allocation_key(funding: FundingScenario, flat: bool) -> tuple[str, FundingScenario, bool]:
    return ("allocation", dataclasses.replace(funding, name=""), flat)


class ReportWork:
    """The report's work that does not depend on the draws, done while the runs go.

    The allocations at the plan's figures (:func:`allocation_task`, seconds each with
    their shadow prices' ranges) and the funding ladders (:func:`ladder_task`) depend on
    the plan and the scenarios' rules only. A run on the worker pool lends the workers
    it leaves idle while a scenario's last chunks finish (:func:`solver.batch.idle_work`):
    :meth:`fill` hands each such worker the next of these jobs. When the runs are done,
    the report takes what finished (:meth:`allocation`, :meth:`ladder`) and submits or
    computes the rest itself, as without a head start. The numbers are those of the same
    functions called in this process; a job that failed in a worker is computed again
    here, so an error is raised as this process would raise it.

    Parameters
    ----------
    plan
        The plan of every scenario.
    fundings
        (name, funding) of each scenario, in report order.
    ladder_step
        Step of the funding ladders.
    cache_dir
        The report's cache folder: ladders already there are not queued, and the row
        sensitivities found there are handed to the allocations (as
        :func:`build_report_inputs` does).
    """

    def __init__(self, plan: Plan, fundings: Sequence[tuple[str, FundingScenario]], *,
                 ladder_step: float = 0.1, cache_dir: Path | None = None) -> None:
        from collections import deque

        self.known = read_sensitivity_cache(cache_dir)
        self.started = 0
        """Jobs handed to a worker so far."""
        self._queue: deque[tuple[Any, Any, tuple[Any, ...]]] = deque()
        self._futures: dict[Any, Any] = {}
        seen: set[Any] = set()
        for funding, flat in report_allocation_jobs(plan, fundings):
            key = _allocation_key(funding, flat)
            if key not in seen:
                seen.add(key)
                self._queue.append((key, allocation_task, (plan, funding, flat, self.known)))
        for _, funding in fundings:
            key = ("ladder", ladder_key(plan, funding, ladder_step))
            if key in seen:
                continue
            seen.add(key)
            path = None if cache_dir is None else ladder_cache_path(cache_dir, key[1])
            if path is not None and path.is_file():
                continue  # the report reads it from the cache
            self._queue.append((key, ladder_task, (plan, funding, ladder_step)))

    def fill(self, pool: Any, free: int, only: str | None = None) -> None:
        """Submit queued jobs to ``pool`` while fewer than ``free`` of ours are running.

        ``only`` (``"allocation"`` or ``"ladder"``) submits jobs of that kind only.
        """
        running = sum(1 for f in self._futures.values() if not f.done())
        kept = []
        while self._queue and running < free:
            job = self._queue.popleft()
            if only is not None and job[0][0] != only:
                kept.append(job)
                continue
            key, fn, args = job
            try:
                self._futures[key] = pool.submit(fn, *args)
            except RuntimeError:  # the pool is shut down: the report computes it
                self._queue.clear()
                return
            running += 1
            self.started += 1
        self._queue.extendleft(reversed(kept))

    def knows(self, funding: FundingScenario, flat: bool = False) -> bool:
        """Whether the allocation of ``funding`` is queued or submitted here."""
        key = _allocation_key(funding, flat)
        return key in self._futures or any(job[0] == key for job in self._queue)

    def _take(self, key: Any) -> Any:
        """The result of job ``key`` if a worker ran it (waits for it); else ``None``.

        A job still queued is dropped from the queue: the caller computes it.
        """
        future = self._futures.pop(key, None)
        if future is None:
            self._queue = type(self._queue)(j for j in self._queue if j[0] != key)
            return None
        try:
            return future.result()
        except Exception:  # noqa: BLE001 - recomputed by the caller, raising its own error
            return None

    def allocation(self, funding: FundingScenario, flat: bool = False) -> Any:
        """:func:`allocation_task`'s result for ``funding`` if a worker ran it, else ``None``."""
        return self._take(_allocation_key(funding, flat))

    def ladder(self, key: str) -> Frontier | None:
        """The ladder of :func:`ladder_key` ``key`` if a worker computed it, else ``None``."""
        result = self._take(("ladder", key))
        return result if isinstance(result, Frontier) else None

    def pending(self) -> int:
        """Jobs queued or submitted and not yet taken."""
        return len(self._queue) + len(self._futures)

    def cancel(self) -> None:
        """Drop the queue and cancel what has not started (the command ends without a report)."""
        self._queue.clear()
        for future in self._futures.values():
            future.cancel()
        self._futures.clear()


class _Solves:
    """Allocations at the plan's figures, started at once on the runs' worker pool.

    Each allocation (full shadow prices and their ranges: seconds on the default plan) is
    independent of the others, so they are handed to the worker pool the runs used
    (:func:`solver.batch.shared_pool`), if one is running, while this process computes
    the ladders; without a pool they are computed here, when asked for. Either way the
    numbers are those of :func:`allocation_task` in this process: a worker runs the same
    code on the same plan and rules, and a task that fails in a worker is computed again
    here, so the error raised is the one this process would raise.
    """

    def __init__(self, plan: Plan, jobs: Sequence[tuple[FundingScenario, bool]],
                 workers: int | None = None,
                 known: Mapping[str, list[list[object]]] | None = None,
                 work: ReportWork | None = None) -> None:
        from reachplan.solver.batch import shared_pool, worker_pool

        self._plan = plan
        self._known = dict(known or {})
        self.used: dict[str, list[list[object]]] = {}
        self._futures: dict[tuple[FundingScenario, bool], Any] = {}
        self._work = work
        self._done: dict[tuple[FundingScenario, bool], Any] = {}
        found = shared_pool() if workers is None else (
            (worker_pool(workers), workers) if workers > 1 else None)
        if found is not None and (len(jobs) > 1 or work is not None):
            pool = found[0]
            if work is not None:
                # what the runs' idle workers started stays theirs; the allocations still
                # queued go to the pool now (the ladders still queued are computed here,
                # beside them), then any the head start did not know of
                work.fill(pool, len(jobs) + work.pending(), only="allocation")
            for funding, flat in jobs:
                key = (dataclasses.replace(funding, name=""), flat)
                if key in self._futures:
                    continue
                if work is not None and work.knows(funding, flat):
                    continue  # :meth:`get` takes it from the head start
                try:
                    self._futures[key] = pool.submit(allocation_task, plan, funding, flat,
                                                     self._known)
                except RuntimeError:  # the pool was shut down: compute here
                    break

    def get(self, funding: FundingScenario, flat: bool = False) -> Allocation:
        """The allocation of ``funding`` (renamed to it; :func:`renamed`)."""
        key = (dataclasses.replace(funding, name=""), flat)
        future = self._futures.pop(key, None)
        result = None
        if future is not None:
            try:
                result = future.result()
            except Exception:  # noqa: BLE001 - recomputed here, raising this process's error
                result = None
        elif self._work is not None:
            result = self._work.allocation(funding, flat)
        if result is None:
            result = allocation_task(self._plan, funding, flat, self._known)
        allocation, used = result
        self.used.update(used)
        return renamed(allocation, funding)

    def cancel(self) -> None:
        """Cancel what has not started (an error ended the report)."""
        for future in self._futures.values():
            future.cancel()
        self._futures.clear()
        if self._work is not None:
            self._work.cancel()


def has_cost_index(plan: Plan) -> bool:
    """Whether the plan has a ``sector_cost_index`` table with at least one row."""
    table = plan.tables.get("sector_cost_index")
    return table is not None and not table.empty


def cost_index_sensitivity(
    runs: Sequence[ScenarioRun],
    plan: Plan,
    allocations: Mapping[str, Allocation],
    solves: _Solves | None = None,
) -> CostIndexSensitivity | None:
    """The planning case allocated again with the plan's sector cost index flattened.

    The planning case is :func:`planning_case`; its allocation with the plan's own unit
    costs is taken from ``allocations``; the other is :func:`solver.allocate.allocate` of
    the same rules on :func:`model.unit_costs.with_flat_cost_index` of the plan (every
    sector 1, unit costs recalibrated so that full funding still reaches each
    location's targets; cost curve, overlap factor and weights kept), whose people are
    counted with the flattened plan's own unit costs.

    Returns ``None`` (the report leaves the section out) when the plan has no
    ``sector_cost_index`` table or there is no run. When the flattened plan cannot be
    allocated (a :class:`~model.errors.ReachplanError`, such as rules that hold only
    with the plan's own costs), the result carries no flat allocation and the reason,
    and the report says so rather than failing after the runs.
    """
    from reachplan.model.unit_costs import with_flat_cost_index
    from reachplan.solver.allocate import allocate

    if not has_cost_index(plan):
        return None
    appeal = float(plan.tables["requirements"]["requirements_usd"].sum())
    run = planning_case(runs, appeal)
    if run is None:
        return None
    name = run.scenario.name
    indexed = allocations.get(name)
    if indexed is None:
        indexed = allocate(plan, run.scenario.funding)
    try:
        if solves is not None:
            flat = solves.get(run.scenario.funding, flat=True)
        else:
            flat = allocate(with_flat_cost_index(plan), run.scenario.funding)
    except ReachplanError as exc:
        return CostIndexSensitivity(name, indexed, None, " ".join(str(exc).split()))
    return CostIndexSensitivity(name, indexed, flat)


def build_report_inputs(
    runs: Sequence[ScenarioRun],
    plan: Plan,
    initial: InitialState,
    *,
    warnings: Sequence[Any] = (),
    plan_files_sha256: str | None = None,
    ladder_step: float = 0.1,
    versions: Mapping[str, str] | None = None,
    created: str | None = None,
    cache_dir: Path | None = None,
    workers: int | None = None,
    work: ReportWork | None = None,
) -> ReportInputs:
    """Compute the allocations at the plan's figures, extra-$1M values, ladders and bands.

    Also the sector cost index sensitivity of the planning case
    (:func:`cost_index_sensitivity`), when the plan has a sector cost index.

    Parameters
    ----------
    runs
        Finished runs, in report order.
    plan, initial
        The plan and the simulation's initial state the runs used.
    warnings
        The plan's validation warnings.
    plan_files_sha256
        SHA-256 of the plan's files, when known.
    ladder_step
        Step of the funding ladder (share of the appeal).
    versions
        Package versions to record (default: those of :data:`REPORT_PACKAGES` installed).
    created
        Time stamp (default: when the report is assembled).
    cache_dir
        Where funding ladders are kept between reports (:func:`cached_frontier`);
        ``None`` keeps them for this call only.
    workers
        Worker processes for the allocations at the plan's figures: ``None`` uses the
        pool the runs left running (:func:`solver.batch.shared_pool`), if any; 1 computes
        them in this process. The numbers do not depend on it.
    work
        The head start the runs made on this report (:class:`ReportWork`): what its
        workers finished is taken from it, the rest is computed as without it.

    Raises
    ------
    solver.result.InfeasibleScenarioError
        When a scenario's rules cannot hold at the plan's figures.
    """
    from reachplan.model.versions import package_versions
    from reachplan.solver.marginal import line_marginals

    costs = CostModel.from_plan(plan)
    # the allocations at the plan's figures go to the runs' workers, if any, while this
    # process computes the ladders and the bands; scenarios whose funding differs only in
    # the name share one solve
    jobs = [(r.scenario.funding, False) for r in runs]
    case = planning_case(runs, float(plan.tables["requirements"]["requirements_usd"].sum())) \
        if has_cost_index(plan) else None
    if case is not None:
        jobs.append((case.scenario.funding, True))
    solves = _Solves(plan, jobs, workers, read_sensitivity_cache(cache_dir), work)
    try:
        ladders, sims = _ladders_and_bands(runs, plan, costs, initial, ladder_step, cache_dir,
                                           work)
        solved: dict[FundingScenario, Allocation] = {}
        allocations = {}
        for r in runs:
            funding = r.scenario.funding
            key = dataclasses.replace(funding, name="")
            if key not in solved:
                solved[key] = solves.get(funding)
            allocations[r.scenario.name] = renamed(solved[key], funding)
        cost_index = cost_index_sensitivity(runs, plan, allocations, solves)
    finally:
        solves.cancel()
    write_sensitivity_cache(cache_dir, solves.used)
    marginals = {
        r.scenario.name: line_marginals(
            costs, r.scenario.funding,
            allocations[r.scenario.name].cells["allocated_usd"].to_numpy(),
        )
        for r in runs
    }
    return ReportInputs(
        runs=tuple(runs),
        plan=plan,
        allocations=allocations,
        marginals=marginals,
        ladders=tuple(ladders),
        simulations=tuple(sims),
        versions=dict(versions) if versions is not None else package_versions(REPORT_PACKAGES),
        warnings=tuple(warnings),
        plan_files_sha256=plan_files_sha256,
        created=created,
        cost_index=cost_index,
    )


def _ladders_and_bands(
    runs: Sequence[ScenarioRun],
    plan: Plan,
    costs: CostModel,
    initial: InitialState,
    ladder_step: float,
    cache_dir: Path | None,
    work: ReportWork | None = None,
) -> tuple[list[Ladder], list[SimulationBands]]:
    """One funding ladder per set of rules, one set of displacement bands per set of futures."""
    rule_groups: dict[str, list[ScenarioRun]] = {}
    sim_groups: dict[str, list[ScenarioRun]] = {}
    for run in runs:
        rule_groups.setdefault(rules_key(run.scenario.funding), []).append(run)
        sim_groups.setdefault(simulation_key(run.scenario), []).append(run)
    ladders = []
    memo: dict[str, Frontier] = {}
    for group in rule_groups.values():
        names = tuple(r.scenario.name for r in group)
        frontier = cached_frontier(plan, costs, group[0].scenario.funding, ladder_step,
                                   cache_dir, memo, work)
        ladders.append(Ladder(_label(names), names, frontier))
    sims = []
    years = [int(y) for r in runs for _, y in r.need_rows]
    last_year = max(years) if years else None
    for group in sim_groups.values():
        names = tuple(r.scenario.name for r in group)
        result = simulate_run_draws(group[0].scenario, initial, last_year)
        if result is None:
            continue  # nothing simulated: no displacement bands
        sims.append(SimulationBands(_label(names), names, result.draws,
                                    percentile_table(result), _totals_table(result)))
    return ladders, sims


def report_data(
    runs: Sequence[ScenarioRun],
    plan: Plan,
    initial: InitialState,
    **options: Any,
) -> ReportData:
    """The report of finished runs: :func:`build_report_inputs`, then assembled.

    ``options`` are those of :func:`build_report_inputs`.
    """
    return build_report_data(build_report_inputs(runs, plan, initial, **options))


def write_suite_report(
    runs: Sequence[ScenarioRun],
    plan: UsablePlan,
    initial: InitialState,
    out_dir: Path,
    *,
    png: bool = False,
    ladder_step: float = 0.1,
    hxl: bool = True,
    workers: int | None = None,
    work: ReportWork | None = None,
) -> list[Path]:
    """Compute what the runs do not carry, then write the report; return the paths written.

    Parameters
    ----------
    runs
        Finished runs, in report order, all on ``plan``.
    plan
        The plan as loaded (its validation warnings and files go into the report).
    initial
        The simulation's initial state the runs used.
    out_dir
        Where the report's files go (:func:`reports.report.write_report`).
    png
        Also write the static charts.
    ladder_step
        Step of the funding ladder (share of the appeal).
    hxl
        Put a row of HXL hashtags under each CSV table's header.
    workers, work
        As :func:`build_report_inputs`; the workbook and the JSON document are rendered
        on the pool too, when one is running (:func:`reports.report.write_report`).

    Raises
    ------
    solver.result.InfeasibleScenarioError
        When a scenario's rules cannot hold at the plan's figures.
    OSError
        When a file cannot be written.
    """
    from reachplan.reports.report import write_report

    data = report_data(
        runs,
        plan.plan,
        initial,
        warnings=plan.validation.warnings,
        plan_files_sha256=files_sha256(plan.path),
        ladder_step=ladder_step,
        cache_dir=Path(out_dir) / CACHE_DIR,
        workers=workers,
        work=work,
    )
    # the workbook and the JSON document render on the workers, if a pool is running
    found = None
    if workers is None or workers > 1:
        from reachplan.solver.batch import shared_pool

        found = shared_pool()
    return write_report(data, out_dir, png=png, hxl=hxl, pool=None if found is None else found[0])


def start_report_work(
    plan: Plan,
    scenarios: Sequence[Scenario],
    out_dir: Path,
    *,
    workers: int,
    ladder_step: float = 0.1,
) -> ReportWork | None:
    """The head start of a report on runs about to go on ``workers`` pool workers.

    ``None`` when there is no pool to lend idle workers (one worker). The jobs are
    those :func:`build_report_inputs` will need for these scenarios; use the result with
    :func:`solver.batch.idle_work` around the runs (``work.fill``) and pass it to
    :func:`write_suite_report`.
    """
    if workers <= 1 or not scenarios:
        return None
    return ReportWork(plan, [(s.name, s.funding) for s in scenarios],
                      ladder_step=ladder_step, cache_dir=Path(out_dir) / CACHE_DIR)
