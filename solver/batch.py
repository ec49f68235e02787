"""The scenario engine: simulated futures in, one re-solved allocation per future out.

For each draw of the displacement simulation, people in need per location and
year move; the allocation LP is re-solved with those needs. Draws are processed
in contiguous chunks of a fixed size. Each chunk

- simulates its own range of draws of the run's stream
  (:func:`model.simulation.simulate` with ``first_draw``; the scheme is in
  :mod:`model.simulation.streams`), so a chunk's numbers do not depend on how
  many workers run, in what order, or on the chunk size;
- re-solves the one PuLP model (:func:`solver.model.build_model`, built once per
  process that runs the scenario, and sent to worker processes as arrays:
  :class:`ChunkModel`), handed to HiGHS once per chunk (:class:`solver.fast.FastLP`),
  changing only the right-hand sides of the ``need_*`` rows per draw (warm start from
  the plan's own optimal basis, then from the draw solved before: the draws are
  re-solved nearest first, :func:`solve_order`, results kept in draw order);
- runs on a worker pool kept for the whole command (:func:`worker_pool`) when
  there are several workers;
- returns a :class:`ChunkResult` of small arrays; the caller may write each
  chunk to disk atomically as it completes, so that an interrupted run can be
  resumed with the same final numbers.

How simulated needs reach the LP. For each location and year, the draw's
multiplier ``m`` is the simulated people in need in that year divided by the
simulated people in need at the start (the plan's figures are the level; the
simulation says how they move). What scales with ``m`` (and nothing else changes):

- the people-in-need bound of the location and year (``need_*`` rows);
- the columns sized by people in need (:attr:`solver.model.AllocationLP.resizable`): the
  people columns (a sector reaches at most its people in need) and the coverage segments
  of the location's people groups in that year (the caseload to cover grows with need).
  The cost per person does not change with the caseload: tranche sizes are money, as are
  requirements, floors, caps and envelopes.

Where people in need come from (the needs source, :func:`needs_source`):

- the displacement simulation (``[simulation] model = "displacement"``, the default),
  over its geography (:class:`model.simulation.Geography`) and over the plan's years:
  it runs from its initial state to December of the plan's last year, and only the
  plan's years feed the LP. A plan location the geography covers gets its own
  multiplier; one whose parent (``locations.parent_code``, walked up to the top) is
  covered gets the parent's; any other (a regional support line, a country outside the
  geography) keeps ``m = 1``, and the needs-source sentence names it. A plan none of
  whose locations is covered is refused (:class:`NeedsCoverageError`): simulating
  nothing would report p10 = p90 = mean without a word;
- ``model = "none"``: ``m = 1`` for every draw (nothing is simulated);
- ``needs_file``: the planner's people in need per draw, location and year, used as is:
  ``m`` = the file's value / the plan's figure (:class:`model.simulation.NeedsInput`);
  plan locations the file does not name keep ``m = 1``.

See ``docs/scenarios.md`` and ``docs/simulation.md``.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, overload

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from reachplan.model.costs import CostModel
from reachplan.model.errors import ReachplanError
from reachplan.model.funding import FundingScenario
from reachplan.model.plan import Plan
from reachplan.model.scenario import Scenario
from reachplan.model.simulation import (
    STREAMS_VERSION,
    UKRAINE,
    Geography,
    InitialState,
    Stream,
    needs_per_draw,
    people_in_need,
    simulate,
)
from reachplan.solver.fast import FastLP, FastSolveError
from reachplan.solver.matrix import LPArrays, lp_arrays
from reachplan.solver.model import AllocationLP, build_model
from reachplan.solver.result import ChunkResult, InfeasibleScenarioError, ScenarioRun

FloatArray = NDArray[np.float64]

CHUNK_DRAWS = 50
"""Draws per chunk. Fixed, so results never depend on the number of workers."""

BINDING_TOL = 1e-7
"""|dual| (LP units) above which a row counts as binding in a draw."""

SOLVE_ORDER = 1
"""Version of the order in which a chunk re-solves its draws (:func:`solve_order`), part of
:func:`run_key`: where a draw's LP has several optimal allocations, the one found depends on
the basis the solve starts from, so runs stored under another order are not resumed."""

SCHEDULER_TIMEOUT_S = 5.0
"""Seconds to wait for a Dask scheduler before giving up with :class:`SchedulerError`."""

RESULT_COPIES = 3
"""Copies of the per-draw arrays a run holds at its peak: the chunks, the combined
arrays of :class:`ScenarioRun` (made while the chunks are still held), and one working
copy in the reports (e.g. unmet need = need - reached). See :func:`bytes_per_draw`."""


class RunTooLargeError(ReachplanError):
    """A run needs more memory than the machine has available; the message gives the estimate."""


class SchedulerError(ReachplanError):
    """The Dask scheduler cannot be reached (or Dask is not installed)."""


class NeedsCoverageError(ReachplanError):
    """The displacement simulation covers none of the plan's locations."""


# ---- where people in need come from ------------------------------------------------------


def location_parents(plan: Plan) -> dict[str, str]:
    """Location code -> parent code, from ``locations.parent_code`` (empty without one)."""
    table = plan.tables.get("locations")
    if table is None or "parent_code" not in table.columns:
        return {}
    codes = table["location_code"] if "location_code" in table.columns else table.index
    out: dict[str, str] = {}
    for code, parent in zip(codes, table["parent_code"], strict=True):
        if isinstance(parent, str) and parent.strip() and parent.strip() != str(code):
            out[str(code)] = parent.strip()
    return out


def simulated_location(
    geography: Geography, code: str, parents: Mapping[str, str] | None = None
) -> str | None:
    """The geography location whose simulated needs drive plan location ``code``.

    ``code`` itself when the geography covers it, else the nearest covered ancestor
    through ``parents``; ``None`` when neither (the plan's figure is kept).
    """
    parents = parents or {}
    seen: set[str] = set()
    current: str | None = code
    while current is not None and current not in seen:
        if geography.covers(current):
            return current
        seen.add(current)
        current = parents.get(current)
    return None


def simulation_state(scenario: Scenario, initial: InitialState) -> InitialState:
    """The initial state a scenario simulates from: its own geography's, else ``initial``."""
    own = scenario.simulation.initial_state
    return own if own is not None else initial


@dataclass(frozen=True)
class NeedsSource:
    """Where a run's people in need come from, checked against the plan.

    Attributes
    ----------
    kind
        ``"displacement"``, ``"none"`` or ``"file"``.
    sentence
        One planner sentence, e.g. "displacement simulation (Ukraine geography, 200
        draws)"; the run's ``needs_source``.
    uncovered
        Plan locations with people in need whose figures stay the plan's (displacement:
        not covered by the geography; file: not named by the file).
    """

    kind: str
    sentence: str
    uncovered: tuple[str, ...] = ()


def needs_source(
    scenario: Scenario,
    initial: InitialState | None,
    need_rows: Sequence[tuple[str, int]],
    parents: Mapping[str, str] | None = None,
) -> NeedsSource:
    """Check the scenario's needs source against the plan's need rows; say what it is.

    ``initial``: the run's initial state (its geography); ``None``: the scenario's own
    geography, else the shipped Ukraine one.

    Raises
    ------
    NeedsCoverageError
        Displacement model and no plan location covered (names the plan's locations
        and the two ways out).
    model.simulation.AssumptionError
        A needs file that does not fit the plan or the run (names file, row, field).
    """
    sim = scenario.simulation
    locations = sorted({loc for loc, _ in need_rows})
    kind = sim.source_kind
    if kind == "none":
        return NeedsSource("none", "fixed at the plan's figures (simulation model = none)")
    if kind == "file":
        if sim.needs_input is None:
            raise ReachplanError(f"{sim.needs_file}: the needs file was not read")
        sim.needs_input.check(need_rows, scenario.draws)
        named = set(sim.needs_input.locations.tolist())
        uncovered = tuple(loc for loc in locations if loc not in named)
        name = Path(sim.needs_input.path).name
        return NeedsSource("file", f"from {name} ({scenario.draws} draws)" + _kept(uncovered),
                           uncovered)
    state = scenario.simulation.initial_state or initial
    geography = state.geography if state is not None else UKRAINE
    uncovered = tuple(
        loc for loc in locations if simulated_location(geography, loc, parents) is None
    )
    if locations and len(uncovered) == len(locations):
        raise NeedsCoverageError(
            f"scenario '{scenario.name}': the displacement simulation ({geography.name} "
            f"geography: {', '.join(geography.needs_locations)}) covers none of the plan's "
            f"locations ({', '.join(locations)}); in the scenario file set "
            '[simulation] model = "none" (people in need fixed at the plan\'s figures) or '
            'needs_file = "needs.csv" (people in need per draw, location and year)'
        )
    sentence = f"displacement simulation ({geography.name} geography, {scenario.draws} draws)"
    return NeedsSource("displacement", sentence + _kept(uncovered), uncovered)


def _kept(uncovered: Sequence[str]) -> str:
    if not uncovered:
        return ""
    return f"; kept at the plan's figures (not covered): {', '.join(uncovered)}"


# ---- one chunk ----------------------------------------------------------------------------


class ChunkPlan(Sequence[tuple[int, int, int]]):
    """(chunk index, first draw, number of draws) of each chunk, computed on demand.

    A lazy sequence: ``len``, indexing and iteration cost O(1) memory whatever the
    number of draws (a run of 10**12 draws has 2 * 10**10 chunks; none is built
    until asked for).
    """

    def __init__(self, draws: int, chunk_draws: int = CHUNK_DRAWS) -> None:
        if draws < 0 or chunk_draws < 1:
            raise ValueError(f"draws {draws} and chunk size {chunk_draws} must be >= 0 and >= 1")
        self.draws = int(draws)
        self.chunk_draws = int(chunk_draws)

    def __len__(self) -> int:
        return -(-self.draws // self.chunk_draws)

    def _item(self, k: int) -> tuple[int, int, int]:
        start = k * self.chunk_draws
        return k, start, min(self.chunk_draws, self.draws - start)

    @overload
    def __getitem__(self, k: int) -> tuple[int, int, int]: ...

    @overload
    def __getitem__(self, k: slice) -> list[tuple[int, int, int]]: ...

    def __getitem__(self, k: int | slice) -> tuple[int, int, int] | list[tuple[int, int, int]]:
        n = len(self)
        if isinstance(k, slice):
            return [self._item(i) for i in range(*k.indices(n))]
        if k < 0:
            k += n
        if not 0 <= k < n:
            raise IndexError(f"chunk {k} out of range (run of {n} chunks)")
        return self._item(k)

    def __iter__(self) -> Iterator[tuple[int, int, int]]:
        return (self._item(k) for k in range(len(self)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ChunkPlan):
            return (self.draws, self.chunk_draws) == (other.draws, other.chunk_draws)
        if isinstance(other, list | tuple):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ChunkPlan(draws={self.draws}, chunk_draws={self.chunk_draws})"


def chunk_plan(draws: int, chunk_draws: int = CHUNK_DRAWS) -> ChunkPlan:
    """(chunk index, first draw, number of draws) for a run of ``draws``, lazily."""
    return ChunkPlan(draws, chunk_draws)


# ---- memory --------------------------------------------------------------------------------


def bytes_per_draw(n_need_rows: int) -> int:
    """Memory one draw takes at the peak of a run, in bytes.

    Per draw a run keeps two floats (people reached, objective) and two per need row
    (people in need and reached), 8 bytes each, in :data:`RESULT_COPIES` copies.
    """
    return 8 * (2 + 2 * int(n_need_rows)) * RESULT_COPIES


def available_memory() -> int | None:
    """Bytes of memory available to this process, or None when it cannot be known.

    ``psutil.virtual_memory().available`` when psutil is installed (it is not a
    dependency); otherwise the physical memory from ``os.sysconf`` (POSIX), an upper
    bound, so that a run that might fit is never refused; None elsewhere.
    """
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        with contextlib.suppress(OSError, RuntimeError, AttributeError):
            return int(psutil.virtual_memory().available)
    # no psutil, or it failed: physical memory from the system configuration
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1024 or unit == "PB":
            return f"{n:,.1f} {unit}" if unit != "B" else f"{n:,.0f} B"
        n /= 1024
    raise AssertionError("unreachable")


def check_memory(
    draws: int, n_need_rows: int, available: int | None = None, *, name: str = ""
) -> int:
    """Refuse a run whose draws cannot fit in memory; return the estimate in bytes.

    The rule: ``bytes_per_draw(n_need_rows) * draws`` must not exceed the memory
    available (``available``, or :func:`available_memory`). Where the available memory
    cannot be known, nothing is refused.

    Raises
    ------
    RunTooLargeError
        With the estimate, the bytes per draw and the memory available.
    """
    per_draw = bytes_per_draw(n_need_rows)
    need = per_draw * int(draws)
    avail = available_memory() if available is None else available
    if avail is not None and need > avail:
        most = max(avail // per_draw, 0)
        who = f"scenario '{name}': " if name else ""
        raise RunTooLargeError(
            f"{who}{draws:,} draws need about {_size(need)} of memory "
            f"({_size(per_draw)} per draw x {draws:,} draws) but {_size(avail)} is available; "
            f"use at most {most:,} draws"
        )
    return need


def estimate_run_bytes(plan: Plan, scenario: Scenario, available: int | None = None) -> int:
    """Check that ``scenario.draws`` fit in memory (:func:`check_memory`); return the estimate.

    Builds the scenario's model (needed for the run anyway) to count its need rows.

    Raises
    ------
    RunTooLargeError
        When they do not fit.
    """
    prep = prepared_model(plan, scenario)
    return check_memory(
        scenario.draws, len(prep.need_rows), available, name=scenario.name
    )


@dataclass(eq=False)
class ChunkModel:
    """What solving a chunk of draws needs of a prepared model: arrays and indices only.

    The picklable part of a :class:`PreparedModel` (no PuLP objects), handed to worker
    processes so that they re-solve the model the calling process built instead of
    building it again. ``key`` identifies the model (:func:`model_key`): a worker keeps the
    last model it was given, with its start basis, and reuses it for the next chunk of
    the same key.
    """

    key: str
    arrays: LPArrays
    need_rows: list[tuple[str, int]]
    need_index: NDArray[np.int32]
    base_need: FloatArray
    slice_cols: NDArray[np.int32]
    slice_upper: FloatArray
    slice_group: NDArray[np.int64]
    tranche_cols: list[NDArray[np.int64]]
    people_cols: NDArray[np.int64]
    people_row: NDArray[np.int64]
    entity_cols: NDArray[np.int64]
    people_units: float
    usd_units: float
    parents: dict[str, str] = field(default_factory=dict)
    _start: Any = field(default=None, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        # a HiGHS basis does not pickle: its statuses travel, and the worker sets the
        # same basis again (the same start, so the same numbers as in this process)
        state = dict(self.__dict__)
        start = state.pop("_start")
        state["_start"] = None
        if start is False:
            state["_start"] = False
        elif start is not None:
            state["_start_status"] = (
                np.array([int(v) for v in start.col_status], dtype=np.int8),
                np.array([int(v) for v in start.row_status], dtype=np.int8),
                bool(start.valid), bool(start.alien),
            )
        state.pop("money_matrix", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        status = state.pop("_start_status", None)
        self.__dict__.update(state)
        if status is not None:
            import highspy

            cols, rows, valid, alien = status
            basis = highspy.HighsBasis()
            basis.col_status = [highspy.HighsBasisStatus(int(v)) for v in cols]
            basis.row_status = [highspy.HighsBasisStatus(int(v)) for v in rows]
            basis.valid = valid
            basis.alien = alien
            self._start = basis

    @cached_property
    def money_matrix(self) -> sp.csr_matrix:
        """Sums the money columns of each cell: ``money_matrix @ values`` is money per cell."""
        n_cols = len(self.arrays.variable_names)
        lengths = [len(c) for c in self.tranche_cols]
        cols = np.concatenate(self.tranche_cols) if self.tranche_cols else np.zeros(0, int)
        indptr = np.concatenate(([0], np.cumsum(lengths)))
        return sp.csr_matrix((np.ones(len(cols)), cols, indptr),
                             shape=(len(self.tranche_cols), n_cols))

    def start_basis(self) -> Any:
        """Optimal basis of the plan's own model (its own needs), solved once per process.

        Every chunk starts its first draw from it, so that no chunk pays a cold solve; it
        depends only on the model, so a chunk's numbers still depend only on the chunk.
        ``None`` when the plan's own model has no optimal solution (the chunk then starts
        cold, and the draw that cannot be solved says so).
        """
        if self._start is None:
            fast = FastLP(self.arrays)
            try:
                fast.solve()
            except FastSolveError:
                self._start = False
            else:
                self._start = fast.basis()
        return self._start or None

    def need_rhs(self, mult: FloatArray) -> FloatArray:
        """Right-hand sides of the need rows for a draw's multipliers (LP people units)."""
        return self.base_need * mult / self.people_units

    def slice_bounds(self, mult: FloatArray) -> FloatArray:
        """Upper bounds of the resizable tranche columns for a draw's multipliers."""
        return self.slice_upper * mult[self.slice_group]

    def apply_draw(self, fast: FastLP, mult: FloatArray) -> None:
        """Set a draw's needs on a fast model built from :attr:`arrays`."""
        fast.set_rhs((self.need_index, self.need_rhs(mult)))
        fast.set_col_bounds(
            self.slice_cols, np.zeros(len(self.slice_cols)), self.slice_bounds(mult)
        )


@dataclass(eq=False)
class PreparedModel:
    """The model of one (plan, scenario), built once per process and re-solved per draw.

    Holds the one PuLP model, its arrays (read once), and where a draw's needs go: the
    right-hand sides of the ``need_*`` rows and the upper bounds of the tranche columns.
    """

    costs: CostModel
    lp: AllocationLP
    arrays: LPArrays
    need_names: list[str]
    need_rows: list[tuple[str, int]]
    need_index: NDArray[np.int32]
    base_need: FloatArray
    slice_cols: NDArray[np.int32]
    slice_upper: FloatArray
    slice_group: NDArray[np.int64]
    tranche_cols: list[NDArray[np.int64]]
    people_cols: NDArray[np.int64]
    people_cell: NDArray[np.int64]
    entity_cols: NDArray[np.int64]
    parents: dict[str, str] = field(default_factory=dict)
    key: str = ""

    @cached_property
    def chunk_model(self) -> ChunkModel:
        """The arrays a chunk's re-solves need (:class:`ChunkModel`), sharing its start basis."""
        loc_year = {cell: r for r, cell in enumerate(self.need_rows)}
        costs = self.costs
        people_row = np.array(
            [loc_year.get((str(costs.locations[i]), int(costs.years[i])), -1)
             for i in self.people_cell],
            dtype=np.int64,
        )
        return ChunkModel(
            key=self.key,
            arrays=self.arrays,
            need_rows=self.need_rows,
            need_index=self.need_index,
            base_need=self.base_need,
            slice_cols=self.slice_cols,
            slice_upper=self.slice_upper,
            slice_group=self.slice_group,
            tranche_cols=self.tranche_cols,
            people_cols=self.people_cols,
            people_row=people_row,
            entity_cols=self.entity_cols,
            people_units=float(self.lp.units.people),
            usd_units=float(self.lp.units.usd),
            parents=self.parents,
        )

    @property
    def money_matrix(self) -> sp.csr_matrix:
        """Sums the money columns of each cell: ``money_matrix @ values`` is money per cell."""
        return self.chunk_model.money_matrix

    def start_basis(self) -> Any:
        """Optimal basis of the plan's own model (:meth:`ChunkModel.start_basis`)."""
        return self.chunk_model.start_basis()

    def need_rhs(self, mult: FloatArray) -> FloatArray:
        """Right-hand sides of the need rows for a draw's multipliers (LP people units)."""
        return self.chunk_model.need_rhs(mult)

    def slice_bounds(self, mult: FloatArray) -> FloatArray:
        """Upper bounds of the resizable tranche columns for a draw's multipliers."""
        return self.chunk_model.slice_bounds(mult)

    def apply_draw(self, fast: FastLP, mult: FloatArray) -> None:
        """Set a draw's needs on a fast model built from :attr:`arrays`."""
        self.chunk_model.apply_draw(fast, mult)


_COSTS: dict[str, CostModel] = {}


def _costs_of(plan: Plan) -> CostModel:
    """The plan's cost model, read once per plan (by fingerprint) in this process."""
    costs = _COSTS.get(plan.fingerprint)
    if costs is None:
        _COSTS.clear()
        costs = _COSTS[plan.fingerprint] = CostModel.from_plan(plan)
    return costs


def _prepare(plan: Plan, scenario: Scenario) -> PreparedModel:
    costs = _costs_of(plan)
    lp = build_model(costs, scenario.funding)
    arrays = lp_arrays(lp.problem)
    col = {name: j for j, name in enumerate(arrays.variable_names)}
    row = {name: i for i, name in enumerate(arrays.row_names)}
    needs = lp.rows_of("need")
    need_names = [r.name for r in needs]
    need_rows = [(str(r.location), int(r.year or 0)) for r in needs]
    tranche_cols = [np.array([col[v.name] for v in xs], dtype=np.int64) for xs in lp.tranche_vars]
    people = [(i, col[p.name]) for i, p in enumerate(lp.people_vars)
              if p is not None and costs.reaches_people[i]]
    entities = [col[p.name] for i, p in enumerate(lp.people_vars)
                if p is not None and costs.reaches_entities[i]]
    group_of = {cell: r for r, cell in enumerate(need_rows)}
    # columns sized by people in need (coverage segments, people columns): a draw rescales
    # them by its need multiplier; tranche sizes (the cost per person) do not change
    slice_cols, slice_upper, slice_group = [], [], []
    for v, key in lp.resizable:
        g = group_of.get(key)
        if g is None or v.upBound is None:
            continue
        slice_cols.append(col[v.name])
        slice_upper.append(float(v.upBound))
        slice_group.append(g)
    return PreparedModel(
        costs=costs,
        lp=lp,
        arrays=arrays,
        need_names=need_names,
        need_rows=need_rows,
        need_index=np.array([row[n] for n in need_names], dtype=np.int32),
        base_need=np.array([costs.people_in_need_of(loc, y) for loc, y in need_rows]),
        slice_cols=np.array(slice_cols, dtype=np.int32),
        slice_upper=np.array(slice_upper, dtype=float),
        slice_group=np.array(slice_group, dtype=np.int64),
        tranche_cols=tranche_cols,
        people_cols=np.array([j for _, j in people], dtype=np.int64),
        people_cell=np.array([i for i, _ in people], dtype=np.int64),
        entity_cols=np.array(entities, dtype=np.int64),
        parents=location_parents(plan),
        key=model_key(plan, scenario.funding),
    )


def model_key(plan: Plan, funding: FundingScenario) -> str:
    """Identity of a run's model: the plan and the funding rules, but for the name.

    The model of a run depends on nothing else (:func:`_prepare` reads the plan and
    ``scenario.funding`` only; the name enters no row): scenarios that differ in their
    futures only (simulation, seed, draws) share one model.
    """
    identity = {"plan": plan.fingerprint, "funding": repr(replace(funding, name=""))}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


_CACHE: dict[str, PreparedModel] = {}

CACHE_COLUMNS = 200_000
"""Columns of the models :func:`prepared_model` keeps at most (about 10 MB per 8,000):
a suite's scenarios are built once when checked and re-solved from the same models."""


def prepared_model(plan: Plan, scenario: Scenario) -> PreparedModel:
    """Per-process memo of built models (a cache, not a setting: same inputs, same model).

    Keyed by :func:`model_key`: scenarios whose funding differs only in the name (e.g.
    the simulation variants of one shortfall) get the same model, built and solved for
    its start basis once; its ``lp.scenario`` is the funding of the first of them to
    ask. The most recently used models are kept while their columns add up to at most
    :data:`CACHE_COLUMNS` (always the latest one).
    """
    key = model_key(plan, scenario.funding)
    prep = _CACHE.pop(key, None)
    if prep is None:
        prep = _prepare(plan, scenario)
    _CACHE[key] = prep  # most recent last
    total = sum(len(p.arrays.cost) for p in _CACHE.values())
    while len(_CACHE) > 1 and total > CACHE_COLUMNS:
        oldest = next(iter(_CACHE))
        total -= len(_CACHE.pop(oldest).arrays.cost)
    return prep


def need_multipliers(
    scenario: Scenario,
    initial: InitialState,
    first_draw: int,
    n: int,
    need_rows: Sequence[tuple[str, int]],
    stream: int = Stream.RUN,
    *,
    parents: Mapping[str, str] | None = None,
    plan_need: FloatArray | None = None,
) -> FloatArray:
    """People in need relative to the plan's figures, per draw and need row, shape (n, rows).

    By the scenario's needs source (module docstring): ``model = "none"``: all 1,
    nothing simulated; ``needs_file``: the file's value over ``plan_need`` (the plan's
    people in need per need row, required then); the displacement simulation:
    simulated people in need in the year over those at the start, draws
    ``[first_draw, first_draw + n)`` of ``stream`` for ``scenario.seed``
    (:mod:`model.simulation.streams`: the same numbers however the draws are chunked),
    simulated to December of the last year of ``need_rows``. A location takes its own
    simulated location or its nearest covered ancestor through ``parents``; others
    get 1 (the plan's figure).
    """
    sim = scenario.simulation
    kind = sim.source_kind
    if kind == "none":
        return np.ones((n, len(need_rows)))
    if kind == "file":
        if sim.needs_input is None or plan_need is None:
            raise ValueError("a needs file needs the file read and the plan's people in need")
        sim.needs_input.check(need_rows, first_draw + n)
        return sim.needs_input.multipliers(need_rows, plan_need, first_draw, n)
    state = simulation_state(scenario, initial)
    out = np.ones((n, len(need_rows)))
    if not need_rows:
        return out
    last_year = max(int(y) for _, y in need_rows)
    months = (pd.Period(f"{last_year}-12", freq="M") - state.month).n
    if months < 1:
        return out  # the plan ends before the simulation starts: its own figures
    result = simulate(
        sim, state, draws=n, seed=scenario.seed, months=months, record_flows=False,
        first_draw=first_draw, stream=stream,
    )
    table = needs_per_draw(result)
    start = people_in_need(result)[0, 0, :]
    loc_pos = {code: i for i, code in enumerate(table.locations)}
    year_pos = {int(y): j for j, y in enumerate(table.years)}
    geography = state.geography
    for r, (loc, year) in enumerate(need_rows):
        code = simulated_location(geography, str(loc), parents)
        if code is not None and int(year) in year_pos and start[loc_pos[code]] > 0:
            i = loc_pos[code]
            out[:, r] = table.values[:, i, year_pos[int(year)]] / start[i]
    return out


def draw_model(
    costs: CostModel,
    funding: FundingScenario,
    need_rows: Sequence[tuple[str, int]],
    multipliers: FloatArray,
) -> AllocationLP:
    """The allocation LP of one draw, built from scratch with :func:`build_model`.

    People in need of each need row multiplied by its multiplier; the model then sizes
    the columns that follow people in need (coverage segments, people bounds) from them:
    exactly what a fast re-solve changes (used to check the fast path, and by the
    benchmark). The cost per person does not change with the caseload.
    """
    pin = costs.people_in_need.copy()
    index = pd.MultiIndex.from_tuples(list(need_rows), names=pin.index.names)
    base = pin.loc[index].to_numpy(dtype=float)
    pin.loc[index] = base * np.asarray(multipliers, dtype=float)
    return build_model(replace(costs, people_in_need=pin), funding)


def solve_order(mult: FloatArray) -> list[int]:
    """The order in which a chunk re-solves its draws: each time the nearest one left.

    A warm-started re-solve takes fewer simplex iterations the less the right-hand sides
    move from the basis it starts at. The chunk starts at the plan's own needs (every
    multiplier 1, where its start basis is optimal); the next draw solved is the one left
    whose multipliers (one per need row) are nearest, in the sum of absolute differences,
    to those of the draw just solved, the lowest draw on a tie. On the shipped plan's
    scenarios this takes about half the iterations of draw order
    (``benchmarks/bench_main_job.py`` prints iterations per draw).

    The order is a function of the chunk's draws alone, so a chunk's numbers still do not
    depend on the number of workers or on resuming.

    Parameters
    ----------
    mult
        Multipliers, shape (draws, need rows).

    Returns
    -------
    list of int
        Every draw index once.
    """
    n = len(mult)
    left = np.ones(n, dtype=bool)
    here = np.ones(mult.shape[1])
    order: list[int] = []
    for _ in range(n):
        dist = np.abs(mult - here).sum(axis=1)
        dist[~left] = np.inf
        k = int(np.argmin(dist))
        order.append(k)
        left[k] = False
        here = mult[k]
    return order


def solve_chunk(
    plan: Plan,
    scenario: Scenario,
    initial: InitialState,
    chunk: int,
    first_draw: int,
    n: int,
) -> ChunkResult:
    """Simulate draws ``[first_draw, first_draw + n)`` and re-solve the allocation for each.

    Raises
    ------
    InfeasibleScenarioError
        When a draw's LP cannot be solved; the message names the scenario and the draw.
    """
    prep = prepared_model(plan, scenario)
    return solve_chunk_on(prep.chunk_model, scenario, initial, chunk, first_draw, n)


def solve_chunk_on(
    model: ChunkModel,
    scenario: Scenario,
    initial: InitialState,
    chunk: int,
    first_draw: int,
    n: int,
) -> ChunkResult:
    """:func:`solve_chunk` on a model already prepared (e.g. by the process that sent it)."""
    # a fresh HiGHS instance per chunk, started from the plan's own optimal basis: the
    # warm-start path depends only on the chunk
    fast = FastLP(model.arrays)
    start = model.start_basis()
    if start is not None:
        fast.set_basis(start)
    mult = need_multipliers(
        scenario, initial, first_draw, n, model.need_rows,
        parents=model.parents, plan_need=model.base_need,
    )
    need = model.base_need[None, :] * mult
    n_cells = len(model.tranche_cols)
    people = np.zeros(n)
    entities = np.zeros(n)
    objective = np.zeros(n)
    reached = np.zeros_like(need)
    binding = np.zeros(len(model.arrays.row_names), dtype=np.int64)
    cell_row = model.people_row
    mask = cell_row >= 0
    money_of = model.money_matrix
    usd, people_units = model.usd_units, model.people_units
    money_of_draw = np.zeros((n, n_cells))
    solved = np.zeros(n, dtype=bool)
    for d in solve_order(mult):
        model.apply_draw(fast, mult[d])
        try:
            sol = fast.solve()
        except FastSolveError as exc:
            # name the chunk's first draw without an allocation, not the first tried
            first_bad, reason = d, exc
            for j in np.flatnonzero(~solved[:d]):
                model.apply_draw(fast, mult[j])
                try:
                    fast.solve()
                except FastSolveError as exc_j:
                    first_bad, reason = int(j), exc_j
                    break
            raise InfeasibleScenarioError(
                f"scenario '{scenario.name}', draw {first_draw + first_bad} (draws 0-"
                f"{scenario.draws - 1}, seed {scenario.seed}): no allocation meets every rule "
                f"({reason}); the floors, earmarks, caps and envelopes cannot all hold with "
                "this draw's needs (`reachplan allocate` on the scenario names the conflicting "
                "rules)"
            ) from None
        solved[d] = True
        values = sol.values
        money_of_draw[d] = np.clip((money_of @ values) * usd, 0.0, None)
        cell_people = values[model.people_cols] * people_units
        people[d] = cell_people.sum()
        entities[d] = values[model.entity_cols].sum() * people_units
        objective[d] = sol.objective * people_units
        reached[d] = np.bincount(
            cell_row[mask], weights=cell_people[mask], minlength=len(model.need_rows)
        )
        binding += (np.abs(sol.row_duals) > BINDING_TOL).astype(np.int64)
    # a sum over the draws as stored, whatever the order of the solves
    return ChunkResult(chunk, first_draw, people, objective, money_of_draw.sum(axis=0), need,
                       reached, binding, entities)


# ---- a whole run -------------------------------------------------------------------------


def run_key(plan: Plan, scenario: Scenario, chunk_draws: int = CHUNK_DRAWS) -> str:
    """Identity of a run: same key, same numbers (used to refuse resuming a different run)."""
    identity: dict[str, Any] = {
        "plan": plan.fingerprint,
        "scenario": scenario.sha256,
        "funding": repr(scenario.funding),
        "seed": scenario.seed,
        "draws": scenario.draws,
        "chunk": chunk_draws,
        "streams": STREAMS_VERSION,
        "solve_order": SOLVE_ORDER,
    }
    # files the scenario reads besides itself (only when named: earlier keys stay valid)
    sim = scenario.simulation
    if sim.needs_input is not None:
        identity["needs_file"] = sim.needs_input.sha256
    if sim.initial_state is not None:
        identity["geography"] = repr(sim.initial_state)
    text = json.dumps(identity, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def combine(
    plan: Plan,
    scenario: Scenario,
    chunks: Iterable[ChunkResult],
    chunk_draws: int = CHUNK_DRAWS,
    initial: InitialState | None = None,
) -> ScenarioRun:
    """Aggregate chunk results (in chunk order) into a :class:`ScenarioRun`.

    ``initial``: the simulation's initial state the run used (names the geography in
    the run's ``needs_source``; default: the scenario's own, else the shipped one).
    """
    ordered = sorted(chunks, key=lambda c: c.chunk)
    prep = prepared_model(plan, scenario)
    source = needs_source(scenario, initial, prep.need_rows, prep.parents)
    draws = sum(len(c.people_reached) for c in ordered)
    if draws != scenario.draws:
        raise ValueError(f"expected {scenario.draws} draws, got {draws}")
    money = np.sum([c.money_sum for c in ordered], axis=0) / draws
    binding = np.sum([c.binding for c in ordered], axis=0) / draws
    rows = prep.lp.rows
    return ScenarioRun(
        scenario=scenario,
        draws=draws,
        people_reached=np.concatenate([c.people_reached for c in ordered]),
        objective=np.concatenate([c.objective for c in ordered]),
        cells=prep.costs.cells,
        mean_allocation_usd=money,
        need_rows=tuple(prep.need_rows),
        need=np.concatenate([c.need for c in ordered]),
        reached=np.concatenate([c.reached for c in ordered]),
        binding_share={
            name: float(share)
            for name, share in zip(prep.arrays.row_names, binding, strict=True)
            if share > 0 and rows[name].kind != "reach"
        },
        row_descriptions={name: row.description for name, row in rows.items()},
        rows=dict(rows),
        entities_reached=np.concatenate([c.entities_reached for c in ordered]),
        funding_usd=float(prep.lp.funding_usd),
        needs_source=source.sentence,
        provenance={
            "plan_fingerprint": plan.fingerprint,
            "plan_source": plan.source,
            "scenario_files": ";".join(scenario.files),
            "scenario_sha256": scenario.sha256,
            "seed": str(scenario.seed),
            "chunk_draws": str(chunk_draws),
            "run_key": run_key(plan, scenario, chunk_draws),
        },
    )


def run_chunks_serial(
    plan: Plan,
    scenario: Scenario,
    initial: InitialState,
    todo: Sequence[tuple[int, int, int]],
) -> Iterable[ChunkResult]:
    """Yield chunk results one by one in this process."""
    for k, first, n in todo:
        yield solve_chunk(plan, scenario, initial, k, first, n)


def solve_chunk_task(
    plan: Plan, scenario: Scenario, initial: InitialState, k: int, first: int, n: int
) -> ChunkResult:
    """Top-level task for worker processes (picklable): builds the model in the worker."""
    return solve_chunk(plan, scenario, initial, k, first, n)


_WORKER_MODEL: dict[str, ChunkModel] = {}


def solve_chunk_model_task(
    model: ChunkModel, scenario: Scenario, initial: InitialState, k: int, first: int, n: int
) -> ChunkResult:
    """Top-level task for worker processes: a chunk on the model the caller prepared.

    The worker keeps the last model it received (by :attr:`ChunkModel.key`), so the
    start basis is solved once per worker and run, as when the worker built the model.
    """
    kept = _WORKER_MODEL.get(model.key)
    if kept is None:
        _WORKER_MODEL.clear()
        _WORKER_MODEL[model.key] = kept = model
    return solve_chunk_on(kept, scenario, initial, k, first, n)


_POOL: dict[str, Any] = {}

IdleFill = Callable[[Any, int], None]
"""``fill(pool, free)``: hand at most ``free`` jobs of other work to ``pool``."""

_IDLE_WORK: ContextVar[IdleFill | None] = ContextVar("reachplan_idle_work", default=None)


@contextlib.contextmanager
def idle_work(fill: IdleFill | None) -> Iterator[None]:
    """Within the block, a run on the worker pool lends its idle workers to ``fill``.

    A scenario's chunks are all handed out at once; while its last chunks finish, the
    workers without a chunk would wait for the next scenario. :func:`run_scenario` then
    calls ``fill(pool, free)`` with the number of workers without a chunk, and ``fill``
    submits at most that many jobs of its own (e.g. the report's work that does not
    depend on the draws: :class:`workflow.report_inputs.ReportWork`) and counts those
    still running against ``free``. The draws and their numbers do not change: each
    chunk is solved from the plan's own basis, whatever ran before it on its worker.
    ``None`` lends nothing.
    """
    token = _IDLE_WORK.set(fill)
    try:
        yield
    finally:
        _IDLE_WORK.reset(token)


def worker_pool(workers: int) -> Any:
    """A pool of ``workers`` spawned processes, kept for the rest of this process.

    Starting a worker costs its imports (about a second on two cores) and its first
    model; a suite of scenarios, and the report after it, share one pool instead of
    starting one per scenario. A pool asked for with another worker count, or broken
    (a worker died), is shut down and replaced. :func:`close_worker_pool` ends it; it
    also ends when this process exits.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = _POOL.get("pool")
    if pool is not None and (_POOL.get("workers") != workers or getattr(pool, "_broken", False)):
        close_worker_pool()
        pool = None
    if pool is None:
        ctx = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
        if not _POOL.get("atexit"):
            import atexit

            atexit.register(close_worker_pool)  # before the interpreter tears modules down
            _POOL["atexit"] = True
        _POOL.update(pool=pool, workers=workers)
    return pool


def shared_pool() -> tuple[Any, int] | None:
    """The pool :func:`worker_pool` keeps and its worker count, if one is running."""
    pool = _POOL.get("pool")
    if pool is None or getattr(pool, "_broken", False):
        return None
    return pool, int(_POOL["workers"])


def close_worker_pool(terminate: bool = False) -> None:
    """Shut down the pool :func:`worker_pool` keeps, if any.

    Jobs not started are cancelled; by default the workers finish the job they are on.
    ``terminate`` (an interrupted command) stops them at once instead: a worker writes
    nothing, so nothing is lost but its unfinished job.
    """
    pool = _POOL.pop("pool", None)
    _POOL.pop("workers", None)
    if pool is None:
        return
    if terminate:
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            with contextlib.suppress(Exception):
                process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


def run_scenario(
    plan: Plan,
    scenario: Scenario,
    initial: InitialState,
    *,
    workers: int = 1,
    done: Sequence[ChunkResult] = (),
    on_chunk: Callable[[ChunkResult], None] | None = None,
    executor: str = "processes",
    scheduler: str | None = None,
    available_bytes: int | None = None,
) -> ScenarioRun:
    """Run every draw of a scenario and aggregate.

    Before any draw is computed, the run's memory is estimated and a run that cannot
    fit is refused (:func:`check_memory`). Chunks are generated lazily and handed to
    workers a few at a time, so the number of draws costs no memory of its own.

    Parameters
    ----------
    plan, scenario, initial
        The plan, the scenario, and the simulation's initial state.
    workers
        Worker processes (1: in this process). Results do not depend on it.
    done
        Chunks already computed (resuming); only the others are run.
    on_chunk
        Called with each newly computed chunk, in completion order (e.g. to write it).
    executor
        ``"processes"`` (local worker processes) or ``"dask"`` (a Dask cluster at
        ``scheduler``; needs the optional ``dask`` extra).
    scheduler
        Address of the Dask scheduler, e.g. ``tcp://127.0.0.1:8786``; it must answer
        within :data:`SCHEDULER_TIMEOUT_S` seconds.
    available_bytes
        Memory to plan for (default: :func:`available_memory`).

    Returns
    -------
    ScenarioRun

    Raises
    ------
    RunTooLargeError
        When the draws cannot fit in memory (the message gives the estimate).
    InfeasibleScenarioError
        When a draw's allocation cannot meet every rule (names the scenario and draw).
    SchedulerError
        When the Dask scheduler cannot be reached, or Dask is not installed.
    """
    with contextlib.ExitStack() as stack:
        # connect first: an unreachable scheduler fails before the model is built
        client = stack.enter_context(_dask_client(scheduler)) if executor == "dask" else None
        prep = prepared_model(plan, scenario)
        # the needs source is checked before any draw (coverage, a needs file's fit)
        needs_source(scenario, initial, prep.need_rows, prep.parents)
        check_memory(scenario.draws, len(prep.need_rows), available_bytes, name=scenario.name)
        return _run(plan, scenario, initial, workers, done, on_chunk, client)


def _run(
    plan: Plan,
    scenario: Scenario,
    initial: InitialState,
    workers: int,
    done: Sequence[ChunkResult],
    on_chunk: Callable[[ChunkResult], None] | None,
    client: Any,
) -> ScenarioRun:
    plan_chunks = chunk_plan(scenario.draws)
    have: dict[int, ChunkResult] = {}
    for c in done:
        if not 0 <= c.chunk < len(plan_chunks) or plan_chunks[c.chunk] != (
            c.chunk,
            c.first_draw,
            len(c.people_reached),
        ):
            raise ValueError(f"chunk {c.chunk} does not belong to a run of {scenario.draws} draws")
        have[c.chunk] = c
    todo = (c for c in plan_chunks if c[0] not in have)
    results = dict(have)

    def accept(result: ChunkResult) -> None:
        results[result.chunk] = result
        if on_chunk is not None:
            on_chunk(result)

    if client is not None:
        for result in _run_dask(client, plan, scenario, initial, todo):
            accept(result)
    elif workers <= 1 or len(plan_chunks) - len(have) <= 1:
        for result in run_chunks_serial(plan, scenario, initial, todo):
            accept(result)
    else:
        from concurrent.futures import FIRST_COMPLETED, Future, wait

        window = 2 * workers  # chunks in flight: enough to keep every worker busy
        pool = worker_pool(workers)
        model = prepared_model(plan, scenario).chunk_model
        model.start_basis()  # solved once here, sent with the model
        pending: set[Future[ChunkResult]] = set()
        try:
            for k, first, n in todo:
                pending.add(pool.submit(solve_chunk_model_task, model, scenario, initial,
                                        k, first, n))
                if len(pending) >= window:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        accept(future.result())
            fill = _IDLE_WORK.get()
            while pending:
                if fill is not None and len(pending) < workers:
                    fill(pool, workers - len(pending))
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    accept(future.result())
        except BaseException as exc:
            for future in pending:
                future.cancel()
            if not isinstance(exc, Exception):  # interrupted: the workers go with the run
                close_worker_pool(terminate=True)
            raise
    return combine(plan, scenario, results.values(), initial=initial)


def _dask_client(scheduler: str | None) -> Any:
    """A connected Dask client (a context manager), within :data:`SCHEDULER_TIMEOUT_S`.

    Raises
    ------
    SchedulerError
        When Dask is not installed or the scheduler does not answer in time.
    """
    try:
        from distributed import Client
    except ImportError as exc:
        raise SchedulerError(
            "the dask executor needs the optional dask extra: pip install 'reachplan[dask]'"
        ) from exc
    where = scheduler if scheduler is not None else "a new local cluster"
    try:
        return Client(scheduler, timeout=SCHEDULER_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SchedulerError(
            f"cannot reach the Dask scheduler at {where} within {SCHEDULER_TIMEOUT_S:g} s "
            f"({reason}); check --scheduler, or start one with `dask scheduler`"
        ) from None


def check_scheduler(scheduler: str | None) -> None:
    """Connect to the Dask scheduler once and disconnect, so a run can fail before writing.

    Raises
    ------
    SchedulerError
        As :func:`_dask_client`.
    """
    if scheduler is None:
        return  # a local cluster is started by the run itself
    _dask_client(scheduler).close()


def _run_dask(
    client: Any,
    plan: Plan,
    scenario: Scenario,
    initial: InitialState,
    todo: Iterable[tuple[int, int, int]],
) -> Iterator[ChunkResult]:
    """Chunk results from a Dask cluster, a bounded number of chunks in flight."""
    from distributed import as_completed as dask_completed

    def submit(item: tuple[int, int, int]) -> Any:
        k, first, n = item
        return client.submit(solve_chunk_task, plan, scenario, initial, k, first, n, pure=False)

    window = max(2 * sum(client.nthreads().values()), 4)  # chunks in flight
    it = iter(todo)
    futures = dask_completed([submit(item) for item in itertools.islice(it, window)])
    for future in futures:
        yield future.result()
        nxt = next(it, None)
        if nxt is not None:
            futures.add(submit(nxt))
