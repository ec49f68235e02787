"""Sensitivity of the allocation: where shadow prices hold, and how far unit costs may move.

Two questions a planner asks before defending an allocation in a prioritisation meeting:

1. *What does one more (or one less) dollar on this rule buy, and up to where?*
   :func:`row_sensitivities` gives, for chosen rows of the LP, the derivative of the
   objective and of people reached with respect to the row's right-hand side, for an
   increase and for a decrease separately, and the interval of right-hand sides over
   which the current dual holds (HiGHS ranging).
2. *How much can a unit cost be wrong before the answer changes?*
   :func:`unit_cost_ranges` gives, per group of cells (a location, a sector), the range
   of a multiplier on the group's unit costs over which the group's money stays within
   10% of the allocation.

Both work on the one LP definition of :mod:`solver.model` (through :mod:`solver.matrix`)
and re-solve with HiGHS from a warm start; nothing is rebuilt.

Method of :func:`row_sensitivities`
-----------------------------------
The LP is solved once. At the optimal basis B:

- the objective derivative for a change of row r's right-hand side is the row dual
  (HiGHS reports it in the problem's own sense, so for this maximisation it is positive
  when more right-hand side raises the objective);
- the people derivative is the dual of the *people* objective at the same basis,
  ``y = B^-T c_people,B`` (one transposed solve with the basis factorisation, for all rows
  at once): while the basis stays optimal the basic solution moves linearly with the
  right-hand side, so people move at rate ``y_r``;
- both hold over the interval where B stays optimal: for a row at its bound (nonbasic),
  HiGHS's ranging of the row bound (``getRanging().row_bound_dn/up``); for a row with
  slack (basic), from its activity to infinity (a ``<=`` row) or from minus infinity to
  its activity (a ``>=`` row), with dual and people derivative 0.

Where that interval ends at the current right-hand side (a degenerate point: several
rows meet there, e.g. a floor exactly on a tranche boundary), the basis says nothing
about that side. The side is then re-solved, warm-started, at ``b + h`` (or ``b - h``),
and the new optimal basis gives the derivatives; they are accepted once the secant
``(f(b + h) - f(b)) / h`` of both the objective and people equals the new basis's
derivative, which (the optimal value being concave in a right-hand side) proves that the
new basis holds on the whole step. The base optimum and the re-solves can stand a solver
tolerance apart (objectives and people about 1e-6 apart at any step, seen at the shipped
plan's regional overhead rows): then no secant meets the new basis's derivatives, and a
shorter step only divides that gap by a smaller number. So when the secants miss by no more
than :data:`TOLERANCE_GAP`, row r is moved back to ``b`` and re-solved from the new basis:
no simplex iteration proves the basis optimal at both ends of the step, hence on all of it,
and its derivatives are taken. Otherwise ``h`` is halved. ``value_up`` and ``value_down``
are then the right and left derivatives; ``one_sided`` says they differ.

Where the LP has several optimal solutions, people reached are those of the solution
HiGHS returns (the objective is unique; the people count need not be). A side whose
re-solve is infeasible (a floor raised beyond what the money allows) gets NaN.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import astuple, dataclass, field

import highspy
import numpy as np
import pandas as pd

from reachplan.solver.matrix import FloatArray, LPArrays, highs_from_arrays, lp_arrays
from reachplan.solver.model import AllocationLP

DEGENERATE_TOL = 1e-7
"""Distance, relative to ``max(|b|, rhs_scale)``, under which a ranging end (or the activity
of a row with slack) counts as at the rhs: HiGHS's primal feasibility tolerance."""

FIRST_STEP = 1e-4
"""First finite-difference step at a degenerate side, relative to ``max(|b|, rhs_scale)``."""

SMALLEST_STEP = 1e-10
"""Smallest relative step tried. When no step is accepted before it, the derivatives of the
last re-solve's basis (optimal that close to the rhs) are reported: a secant over so short a
step is mostly the solvers' tolerance divided by the step."""

SLOPE_RTOL = 1e-6
"""Relative agreement of a secant with a basis derivative (and of left with right)."""


TOLERANCE_GAP = 1e-8
"""Gap, relative to the objective (or people), between a re-solve and the line of its basis
through the base optimum, under which :func:`_holds_at` asks whether the basis holds back to
the base rhs. Only decides when that question is worth a re-solve: its answer is exact."""

INFEASIBLE_TRIES = 3
"""Shorter steps tried after a re-solve is infeasible, before the side is reported as NaN."""


class SensitivitySolveError(RuntimeError):
    """HiGHS did not solve the base LP to optimality."""


@dataclass(frozen=True)
class RowSensitivity:
    """How the optimum responds to one row's right-hand side (LP units throughout).

    Attributes
    ----------
    row
        Row name.
    dual
        d objective / d rhs reported at the optimum (maximisation sign: positive when more
        rhs raises the objective). At a degenerate point it is one value between the two
        one-sided derivatives; use ``value_up`` and ``value_down``.
    people_up, people_down
        d people / d rhs for an increase, ``(people(b + h) - people(b)) / h``, and for a
        decrease, ``(people(b) - people(b - h)) / h``, for small h.
    value_up, value_down
        The same for the objective.
    valid_from, valid_to
        Interval of rhs values over which the current dual (and basis) holds; equal to
        ``rhs`` on a side where the point is degenerate.
    one_sided
        Whether ``value_up`` and ``value_down`` differ (a kink of the optimal value).
    rhs
        Current right-hand side (upper bound of a ``<=`` row, lower of a ``>=`` row).
    """

    row: str
    dual: float
    people_up: float
    people_down: float
    value_up: float
    value_down: float
    valid_from: float
    valid_to: float
    one_sided: bool
    rhs: float


def _dot(a: FloatArray, b: FloatArray) -> float:
    """Inner product without BLAS.

    A BLAS call between HiGHS solves wakes its thread pool, whose spinning threads then
    compete with HiGHS's own and slow every warm re-solve several times over on a
    machine with few cores.
    """
    return float(np.sum(a * b))


def _status_ok(h: highspy.Highs) -> bool:
    return h.getModelStatus() == highspy.HighsModelStatus.kOptimal


class _Solver:
    """One HiGHS instance holding the LP, with the readings this module needs."""

    def __init__(self, arrays: LPArrays, people: FloatArray) -> None:
        self.arrays = arrays
        self.people = np.asarray(people, dtype=float)
        self.people_idx = np.flatnonzero(self.people)
        self.people_val = self.people[self.people_idx]
        self.h = highs_from_arrays(arrays.cost, arrays.maximise, arrays.col_lower,
                                   arrays.col_upper, arrays.matrix, arrays.row_lower,
                                   arrays.row_upper)
        # HiGHS reports duals so that they are d objective / d bound in the problem's own
        # sense; for a minimisation the "maximisation sign" is the opposite
        self.sense = 1.0 if arrays.maximise else -1.0
        self.people_sign = 1.0

    def solve(self) -> bool:
        self.h.run()
        return _status_ok(self.h)

    def objective(self) -> float:
        return float(self.h.getInfo().objective_function_value)

    def people_now(self) -> float:
        x = np.asarray(self.h.getSolution().col_value, dtype=float)
        return _dot(self.people_val, x[self.people_idx])

    def basis_duals(self, column_values: FloatArray) -> FloatArray:
        """``B^-T v_B`` over rows for a vector v over columns (the duals of objective v)."""
        status, basic = self.h.getBasicVariables()
        if status != highspy.HighsStatus.kOk:
            raise SensitivitySolveError("HiGHS gave no basis for the people derivatives")
        basic = np.asarray(basic, dtype=np.int64)
        # a basic column j is given as j, a basic row i as -(i + 1); rows carry 0
        vb = np.where(basic >= 0, column_values[np.clip(basic, 0, None)], 0.0)
        status, y = self.h.getBasisTransposeSolve(vb)
        if status != highspy.HighsStatus.kOk:
            raise SensitivitySolveError("HiGHS could not solve with the basis factorisation")
        return np.asarray(y, dtype=float)

    def calibrate(self) -> None:
        """Fix the sign linking ``B^-T v_B`` to d/d rhs, from the objective's own duals.

        The objective's ``B^-T c_B`` must equal HiGHS's row duals up to the sign of its
        row convention; the sign found is applied to the people duals.
        """
        y = self.basis_duals(np.asarray(self.arrays.cost, dtype=float))
        duals = np.asarray(self.h.getSolution().row_dual, dtype=float)
        self.people_sign = -1.0 if _dot(y, duals) < 0 else 1.0

    def people_duals(self) -> FloatArray:
        """Derivative of people per row rhs while the basis holds: ``B^-T c_people,B``."""
        return self.people_sign * self.basis_duals(self.people)

    def set_row(self, r: int, rhs: float) -> None:
        lo, up = self.arrays.row_lower[r], self.arrays.row_upper[r]
        if np.isfinite(lo) and np.isfinite(up) and lo == up:
            self.h.changeRowBounds(r, rhs, rhs)
        elif np.isfinite(up):
            self.h.changeRowBounds(r, lo, rhs)
        else:
            self.h.changeRowBounds(r, rhs, up)

    def reset_row(self, r: int) -> None:
        self.h.changeRowBounds(r, float(self.arrays.row_lower[r]), float(self.arrays.row_upper[r]))


def _rhs_of(arrays: LPArrays, r: int) -> float:
    """Right-hand side of row r: its upper bound if finite, else its lower bound (NaN if free)."""
    lo, up = arrays.row_lower[r], arrays.row_upper[r]
    if np.isfinite(up):
        return float(up)
    if np.isfinite(lo):
        return float(lo)
    return float("nan")


def _one_side(
    s: _Solver, r: int, rhs: float, direction: float, base_obj: float, base_people: float,
    scale: float,
) -> tuple[float, float]:
    """Objective and people derivative for moving row r's rhs in ``direction`` (+1 or -1).

    Re-solves at ``rhs + direction h`` from the current basis and takes the new basis's
    derivatives once both secants agree with them (then the new basis holds over the
    whole step), or once the basis is shown optimal at ``rhs`` too (:func:`_holds_at`);
    halves h otherwise, down to :data:`SMALLEST_STEP`, where the last basis's derivatives
    are taken. Returns NaNs when the moved LP is infeasible.
    """
    h_step = FIRST_STEP * scale
    value = people = float("nan")
    infeasible = 0
    try:
        while h_step >= SMALLEST_STEP * scale:
            s.set_row(r, rhs + direction * h_step)
            if not s.solve():
                # no feasible point this far on that side: try a few shorter steps only
                infeasible += 1
                value = people = float("nan")
                if infeasible > INFEASIBLE_TRIES:
                    break
                h_step /= 8.0
                continue
            obj_secant = s.sense * (s.objective() - base_obj) / (direction * h_step)
            people_secant = (s.people_now() - base_people) / (direction * h_step)
            dual = s.sense * float(s.h.getSolution().row_dual[r])
            people_dual = float(s.people_duals()[r])
            value, people = dual, people_dual
            noise = 1e-9 * max(1.0, abs(base_obj)) / h_step
            noise_p = 1e-9 * max(1.0, abs(base_people)) / h_step
            if (abs(obj_secant - dual) <= SLOPE_RTOL * max(1.0, abs(dual)) + noise
                    and abs(people_secant - people_dual)
                    <= SLOPE_RTOL * max(1.0, abs(people_dual)) + noise_p):
                return dual, people_dual
            # secants a solver tolerance away from the new basis's line: ask the basis itself
            gap = abs(obj_secant - dual) * h_step / max(1.0, abs(base_obj))
            gap_p = abs(people_secant - people_dual) * h_step / max(1.0, abs(base_people))
            if max(gap, gap_p) <= TOLERANCE_GAP and _holds_at(s, r, rhs):
                return dual, people_dual
            h_step /= 2.0
        return value, people
    finally:
        s.reset_row(r)


def _holds_at(s: _Solver, r: int, rhs: float) -> bool:
    """Whether the basis just found (optimal at a moved rhs) is optimal at ``rhs`` too.

    Moves row r back to ``rhs`` and re-solves from that basis: no simplex iteration means
    the basis is optimal at both ends of the step, so on the whole step (the right-hand
    sides where a basis is optimal form an interval). Why: the module docstring.
    """
    s.reset_row(r)
    return s.solve() and int(s.h.getInfo().simplex_iteration_count) == 0


MEMO_FORMAT = 2
"""Version of :func:`sensitivity_key`, of a memo entry's layout and of the method: 2 since
sides decided within a solver tolerance (:func:`_holds_at`), so entries kept by an earlier
method are computed again (ladder caches too: :func:`workflow.report_inputs.ladder_key`)."""


@dataclass
class SensitivityMemo:
    """Row sensitivities already computed, by :func:`sensitivity_key`, and those used now.

    ``known`` holds entries found earlier (e.g. read from a report's cache folder by the
    caller: this module does no I/O); ``used`` collects every entry a
    :func:`row_sensitivities` call inside :func:`sensitivity_memo` returned, found or
    computed, for the caller to keep. An entry is a list of rows, each the fields of a
    :class:`RowSensitivity` in order (floats in full precision, so a kept entry is the
    computed one exactly).
    """

    known: dict[str, list[list[object]]] = field(default_factory=dict)
    used: dict[str, list[list[object]]] = field(default_factory=dict)
    hits: int = 0


_MEMO: ContextVar[SensitivityMemo | None] = ContextVar("reachplan_sensitivity_memo",
                                                       default=None)


@contextlib.contextmanager
def sensitivity_memo(
    known: Mapping[str, list[list[object]]] | None = None,
) -> Iterator[SensitivityMemo]:
    """Within the block, :func:`row_sensitivities` looks up and records its answers.

    The answer of a row sensitivity is a function of the LP's numbers, the rows and
    people asked and the solver's version (:func:`sensitivity_key`), so an answer found
    under the same key is the one a solve would give; a call given a starting ``basis``
    is never looked up (its answer may depend on the basis).
    """
    memo = SensitivityMemo(dict(known or {}))
    token = _MEMO.set(memo)
    try:
        yield memo
    finally:
        _MEMO.reset(token)


def sensitivity_key(
    arrays: LPArrays, people: np.ndarray, rows: Sequence[int], rhs_scale: float
) -> str:
    """SHA-256 (hex) of everything :func:`row_sensitivities` answers from (no basis given).

    The LP's numbers (objective, sense, bounds, matrix), the row names, the people
    vector, the rows asked, ``rhs_scale``, this module's tolerances and the versions of
    HiGHS and reachplan.
    """
    from reachplan.model.versions import package_versions

    digest = hashlib.sha256()
    matrix = arrays.matrix.tocsr()
    for part in (arrays.cost, arrays.col_lower, arrays.col_upper, arrays.row_lower,
                 arrays.row_upper, matrix.indptr, matrix.indices, matrix.data,
                 np.asarray(people, dtype=float), np.asarray(rows, dtype=np.int64)):
        data = np.ascontiguousarray(part)
        digest.update(str((data.dtype.str, data.shape)).encode())
        digest.update(data.tobytes())
    digest.update(repr((
        MEMO_FORMAT, bool(arrays.maximise), float(arrays.objective_constant),
        matrix.shape, float(rhs_scale), DEGENERATE_TOL, FIRST_STEP, SMALLEST_STEP,
        SLOPE_RTOL, TOLERANCE_GAP, INFEASIBLE_TRIES,
        sorted(package_versions(("reachplan", "highspy")).items()),
    )).encode())
    digest.update("\0".join(arrays.row_names).encode())
    return digest.hexdigest()


def _from_entry(entry: list[list[object]], n_rows: int) -> list[RowSensitivity] | None:
    try:
        out = [RowSensitivity(str(e[0]), *(float(x) for x in e[1:8]), bool(e[8]),
                              float(e[9])) for e in entry]
    except (TypeError, ValueError, IndexError):
        return None
    return out if len(out) == n_rows else None


def row_sensitivities(
    arrays: LPArrays,
    people: np.ndarray,
    rows: Sequence[int],
    rhs_scale: float = 1.0,
    basis: highspy.HighsBasis | None = None,
) -> list[RowSensitivity]:
    """Dual, one-sided objective and people derivatives, and validity range of chosen rows.

    Parameters
    ----------
    arrays
        The LP (:func:`solver.matrix.lp_arrays` of a built model).
    people
        People units per unit of each column, shape (n_columns,): people reached are
        ``people @ x`` (1 on the ``p_*`` columns of the allocation LP).
    rows
        Positions of the rows to report, in :attr:`LPArrays.row_names` order.
    rhs_scale
        Typical size of a right-hand side (LP units); the degeneracy tolerance and the
        finite-difference steps are relative to ``max(|b|, rhs_scale)``.
    basis
        An optimal basis of this very LP (e.g. from a warm-started
        :class:`solver.fast.FastLP` holding it), to start the solve from: then no simplex
        iteration is needed. Where the optimum is unique the results are those of a solve
        from scratch (the one-sided derivatives do not depend on the basis they start from).

    Returns
    -------
    list of RowSensitivity
        One per row asked, in the order asked. A row with no finite right-hand side gets
        NaN everywhere but its name.

    Raises
    ------
    SensitivitySolveError
        When the LP is not solved to optimality.

    Notes
    -----
    One solve and one ranging for all rows; re-solves (warm-started) only for the sides of
    degenerate rows. See the module docstring for the method.
    """
    memo = _MEMO.get() if basis is None else None
    key = None
    if memo is not None:
        key = sensitivity_key(arrays, people, rows, rhs_scale)
        entry = memo.known.get(key)
        found = None if entry is None else _from_entry(entry, len(rows))
        if found is not None:
            memo.used[key] = entry
            memo.hits += 1
            return found
    out = _row_sensitivities(arrays, people, rows, rhs_scale, basis)
    if memo is not None and key is not None:
        memo.used[key] = [list(astuple(r)) for r in out]
    return out


def _row_sensitivities(
    arrays: LPArrays,
    people: np.ndarray,
    rows: Sequence[int],
    rhs_scale: float,
    basis: highspy.HighsBasis | None,
) -> list[RowSensitivity]:
    s = _Solver(arrays, people)
    if basis is not None:
        s.h.setBasis(basis)
    if not s.solve():
        raise SensitivitySolveError(
            f"HiGHS: {s.h.modelStatusToString(s.h.getModelStatus())}")
    sol = s.h.getSolution()
    duals = s.sense * np.asarray(sol.row_dual, dtype=float)
    activity = np.asarray(sol.row_value, dtype=float)
    row_status = s.h.getBasis().row_status
    s.calibrate()
    status, ranging = s.h.getRanging()
    if status != highspy.HighsStatus.kOk:
        raise SensitivitySolveError("HiGHS could not range the optimal basis")
    bound_dn = np.asarray(ranging.row_bound_dn.value_, dtype=float)
    bound_up = np.asarray(ranging.row_bound_up.value_, dtype=float)
    people_y = s.people_duals()
    base_obj = s.objective()
    base_people = s.people_now()
    basis = s.h.getBasis()
    inf = highspy.kHighsInf
    out: list[RowSensitivity] = []
    for r in rows:
        r = int(r)
        name = arrays.row_names[r]
        rhs = _rhs_of(arrays, r)
        if not np.isfinite(rhs):
            nan = float("nan")
            out.append(RowSensitivity(name, nan, nan, nan, nan, nan, nan, nan, False, nan))
            continue
        lo, up = arrays.row_lower[r], arrays.row_upper[r]
        if row_status[r] == highspy.HighsBasisStatus.kBasic:
            # a row with slack: its dual is 0 until the rhs reaches the activity
            dual, p_y = 0.0, 0.0
            equality = np.isfinite(lo) and np.isfinite(up) and lo == up
            if equality:
                valid_from = valid_to = rhs
            elif np.isfinite(up):
                valid_from, valid_to = min(float(activity[r]), rhs), inf
            else:
                valid_from, valid_to = -inf, max(float(activity[r]), rhs)
        else:
            dual, p_y = float(duals[r]), float(people_y[r])
            valid_from, valid_to = float(bound_dn[r]), float(bound_up[r])
        scale = max(abs(rhs), float(rhs_scale))
        tol = DEGENERATE_TOL * scale
        value_up = value_down = dual
        people_up = people_down = p_y
        resolved = False
        if valid_to - rhs <= tol:
            value_up, people_up = _one_side(s, r, rhs, 1.0, base_obj, base_people, scale)
            valid_to = rhs
            resolved = True
        if rhs - valid_from <= tol:
            value_down, people_down = _one_side(s, r, rhs, -1.0, base_obj, base_people, scale)
            valid_from = rhs
            resolved = True
        if resolved:
            # back to the base optimum's basis, so the next row starts from it
            s.h.setBasis(basis)
        one_sided = bool(abs(value_up - value_down)
                         > SLOPE_RTOL * max(1.0, abs(value_up), abs(value_down)))
        out.append(RowSensitivity(name, dual, people_up, people_down, value_up, value_down,
                                  valid_from, valid_to, one_sided, rhs))
    return out


# ---- unit cost ranges ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _GroupColumns:
    """The reach-row coefficients a group's unit cost multiplier scales."""

    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    money_cols: np.ndarray


def _reach_row_of_cells(lp: AllocationLP) -> dict[tuple[str, str, int], str]:
    return {(str(row.location), str(row.sector), int(row.year or 0)): row.name
            for row in lp.rows.values() if row.kind == "reach"}


def unit_cost_ranges(
    lp: AllocationLP,
    groups: Mapping[str, np.ndarray],
    base_money: np.ndarray,
    tolerance: float = 0.10,
    lo: float = 0.1,
    hi: float = 10.0,
    steps: int = 8,
) -> pd.DataFrame:
    """Per group of cells, the unit-cost multipliers over which its money stays within 10%.

    A multiplier f on the unit costs of a group's cells divides the coefficients of
    their tranche columns in their ``reach`` rows by f (people per dollar fall as cost
    rises); the LP held in HiGHS is changed in place (``changeCoeff``) and re-solved from
    a warm start, never rebuilt. The group's money is the sum of its cells' tranche
    columns.

    Parameters
    ----------
    lp
        The built allocation model.
    groups
        Group name -> boolean mask over the model's cells, shape (n_cells,) (for example
        one group per location and one per sector).
    base_money
        Money per cell at the optimum, money units (:attr:`LPSolution.money`), shape (n,).
    tolerance
        Allowed relative change of a group's money (0.10: within 10% of its base).
    lo, hi
        Search limits for the multiplier (``lo < 1 < hi``).
    steps
        Bisection steps on each side; the bound is found to a factor of
        ``(hi)**(2**-steps)`` above 1 and ``(1/lo)**(2**-steps)`` below (0.9% for the
        defaults).

    Returns
    -------
    pandas.DataFrame
        Indexed by group name, columns ``factor_low``, ``factor_high`` (the multipliers
        at the ends of the range, ``lo``/``hi`` when the money stays within tolerance all
        the way), ``low_at_limit``, ``high_at_limit`` (whether that is so),
        ``money_base_usd``, ``money_low_usd``, ``money_high_usd`` (the group's money at
        base and at each end, USD), ``cells`` (cells in the group that reach people).

    Notes
    -----
    Each end is the last multiplier tested at which the money is within tolerance; the
    first tested beyond it is not. Bisection (on a log scale, between 1 and the first
    multiplier found outside) assumes the group's money leaves the tolerance band at most
    once on each side of 1, as it does when money falls as the group's own unit cost
    rises. That is not guaranteed: where a people-in-need bound binds, a cheaper line
    needs *less* money to reach everyone, and the money can leave the band and come
    back. The band is then reported up to one crossing found by bisection, not
    necessarily the first; between tested multipliers nothing is checked.
    Two simplifications against rebuilding the model with scaled unit costs
    (:meth:`CostModel.with_unit_costs`): the tie-break penalty, which depends on the mean
    unit cost, is kept at its base value, and the LP units are not re-chosen; both move
    the allocation by far less than the tolerance.
    The tolerance band is ``|money - base| <= tolerance * base + 1e-6 x total money``, so
    an unfunded group's range is where it stays (practically) unfunded.
    """
    if not lo < 1.0 < hi:
        raise ValueError(f"need lo < 1 < hi (got lo={lo}, hi={hi})")
    arrays = lp_arrays(lp.problem)
    s = highs_from_arrays(arrays.cost, arrays.maximise, arrays.col_lower, arrays.col_upper,
                          arrays.matrix, arrays.row_lower, arrays.row_upper)
    s.run()
    if not _status_ok(s):
        raise SensitivitySolveError(f"HiGHS: {s.modelStatusToString(s.getModelStatus())}")
    basis = s.getBasis()
    col_of = {name: j for j, name in enumerate(arrays.variable_names)}
    row_of = {name: i for i, name in enumerate(arrays.row_names)}
    reach = _reach_row_of_cells(lp)
    costs = lp.costs
    matrix = arrays.matrix.tocsr()
    base_money = np.asarray(base_money, dtype=float)
    atol = 1e-6 * max(float(np.abs(base_money).sum()), 1.0)
    usd = lp.units.usd

    def columns_of(mask: np.ndarray) -> _GroupColumns:
        rows, cols, values, money = [], [], [], []
        for i in np.flatnonzero(mask):
            tranche = [col_of[v.name] for v in lp.tranche_vars[i]]
            money.extend(tranche)
            key = (str(costs.locations[i]), str(costs.sectors[i]), int(costs.years[i]))
            name = reach.get(key)
            if name is None:
                continue
            r = row_of[name]
            row = matrix.getrow(r)
            coef = dict(zip(row.indices.tolist(), row.data.tolist(), strict=True))
            for j in tranche:
                if j in coef:
                    rows.append(r)
                    cols.append(j)
                    values.append(coef[j])
        return _GroupColumns(np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64),
                             np.array(values, dtype=float), np.array(money, dtype=np.int64))

    def money_at(group: _GroupColumns, f: float) -> float:
        for r, j, v in zip(group.rows.tolist(), group.cols.tolist(), group.values.tolist(),
                           strict=True):
            s.changeCoeff(r, j, v / f)
        s.run()
        if not _status_ok(s):
            raise SensitivitySolveError(
                f"HiGHS: {s.modelStatusToString(s.getModelStatus())} at unit cost x{f:g}")
        x = np.asarray(s.getSolution().col_value, dtype=float)
        return float(x[group.money_cols].sum())

    records = []
    for name, mask in groups.items():
        mask = np.asarray(mask, dtype=bool)
        group = columns_of(mask)
        base = float(base_money[mask].sum())

        def within(money: float, base: float = base) -> bool:
            return abs(money - base) <= tolerance * abs(base) + atol

        ends: dict[str, tuple[float, float, bool]] = {}
        for side, limit in (("high", hi), ("low", lo)):
            s.setBasis(basis)
            if len(group.rows) == 0:
                ends[side] = (limit, base, True)
                continue
            money_limit = money_at(group, limit)
            if within(money_limit):
                ends[side] = (limit, money_limit, True)
                continue
            good, good_money, bad = 1.0, base, limit
            for _ in range(steps):
                mid = float(np.sqrt(good * bad))
                m = money_at(group, mid)
                if within(m):
                    good, good_money = mid, m
                else:
                    bad = mid
            ends[side] = (good, good_money, False)
        # restore the base coefficients
        for r, j, v in zip(group.rows.tolist(), group.cols.tolist(), group.values.tolist(),
                           strict=True):
            s.changeCoeff(r, j, v)
        records.append({
            "group": name,
            "factor_low": ends["low"][0],
            "factor_high": ends["high"][0],
            "low_at_limit": ends["low"][2],
            "high_at_limit": ends["high"][2],
            "money_base_usd": base * usd,
            "money_low_usd": ends["low"][1] * usd,
            "money_high_usd": ends["high"][1] * usd,
            "cells": int(np.count_nonzero(mask & costs.reaches_people)),
        })
    s.setBasis(basis)
    columns = ["factor_low", "factor_high", "low_at_limit", "high_at_limit", "money_base_usd",
               "money_low_usd", "money_high_usd", "cells"]
    if not records:
        return pd.DataFrame(columns=columns, index=pd.Index([], name="group"))
    return pd.DataFrame(records).set_index("group")[columns]
