"""Where the time of reachplan goes: re-solves, start-up, and the README main job by phase.

Prints, in one run, on the same draws:

1. Per-draw re-solve time of the default plan's LP on one scenario:
   - ``raw``: a bare ``highspy`` loop on the same matrix (need rows and need-sized
     columns changed per draw with vectorised calls, warm-started, a fresh instance per
     chunk as the engine does), the multipliers computed beforehand: the physical floor;
   - ``engine``: :func:`solver.batch.run_scenario` on 1 worker and on 2 workers (wall
     time / draws; simulation included, and on 1 worker also with the simulation time of
     the same draws subtracted);
   - the engine/raw ratio (goal <= 1.2x). The objectives of raw and engine must agree
     draw by draw (1e-6 relative), else the benchmark stops.
   - what bounds the raw loop: the time of a ``run()`` at the optimum with nothing
     changed (no simplex iteration, only HiGHS's checks and set-up of every solve), the
     mean simplex iterations per draw, and the raw loop's time above that floor per
     iteration.
   The repeats are interleaved (raw, engine 1, engine 2, raw, ...) so every figure sees
   the same machine state; medians are printed.
2. Whole-process wall time of ``reachplan --help`` and ``reachplan allocate --funding 60%``
   (subprocesses, median of repeats), beside a bare ``python -c pass`` and a process that
   only imports the libraries ``allocate`` cannot do without (numpy, pandas for the plan's
   tables, scipy.sparse, PuLP for the LP's one definition, HiGHS).
3. The README main job ``reachplan run --workers 2`` (shipped suite, report written) in
   a fresh process, split by phase. The workflow has no timers of its own, so the child
   process wraps the public functions each phase calls (``prepare_suite``, ``run_suite``,
   ``build_report_inputs`` and its ``allocate``, ``line_marginals``, ``funding_frontier``,
   ``diagnose_infeasibility``, ``simulate_run_draws``, ``build_report_data``,
   ``write_report``) with timers and reports their inclusive times. The displacement
   simulation of the runs happens inside the worker processes, out of reach of those
   timers: it is measured apart (every scenario's draws, one process) and printed beside.

Every figure is printed next to the issue 13 reference (the figure when the issue was
filed, same kind of 2-core machine) and the goal, with the ratio measured/reference.

On a shared machine figures of different runs do not compare; ``--reference-tree DIR``
(a checkout of reachplan, e.g. ``git archive <commit> | tar -x -C DIR``) measures that
tree in this same run, interleaved with this one (same interpreter and packages, the
tree put first on ``PYTHONPATH``), and prints both side by side with their ratio.
``--baseline FILE`` prints a ``--save`` of an earlier run beside (same machine state
not guaranteed).

Speed is checked here, never in tests. The machine may be shared: read medians.

Usage::

    python benchmarks/bench_main_job.py                 # full: 200 draws, main job at 200
    python benchmarks/bench_main_job.py --quick         # a minute or two: fewer draws
    python benchmarks/bench_main_job.py --draws 100 --repeat 3 --main-draws 50
    python benchmarks/bench_main_job.py --quick --reference-tree /tmp/reachplan-main
    python benchmarks/bench_main_job.py --save now.json --baseline before.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REFERENCE: dict[str, tuple[float | None, float | None, str]] = {
    # key: (issue 13 figure "now", goal, unit)
    "raw_ms_per_draw": (15.4, 4.0, "ms"),
    "engine1_ms_per_draw": (17.2, 4.0, "ms"),
    "engine1_solve_ms_per_draw": (17.2, 4.0, "ms"),
    "engine2_ms_per_draw": (None, None, "ms"),
    "engine_over_raw": (17.2 / 15.4, 1.2, "x"),
    "run_floor_ms": (None, None, "ms"),
    "iterations_per_draw": (None, None, "n"),
    "ms_per_iteration": (None, None, "ms"),
    "help_s": (1.10, 0.3, "s"),
    "allocate_s": (2.2, 1.0, "s"),
    "python_s": (None, None, "s"),
    "stack_s": (None, None, "s"),
    "main_job_s": (253.0, 45.0, "s"),
    "ladder_and_diagnosis_s": (120.0, 5.0, "s"),
}
"""Issue 13's table: the figure when it was filed and the goal (None: not given)."""

LABELS = {
    "raw_ms_per_draw": "raw HiGHS warm-started loop, per draw",
    "engine1_ms_per_draw": "engine, 1 worker, per draw (simulation included)",
    "engine1_solve_ms_per_draw": "engine, 1 worker, per draw (simulation subtracted)",
    "engine2_ms_per_draw": "engine, 2 workers, per draw (wall / draws)",
    "engine_over_raw": "engine (1 worker, solve) / raw",
    "run_floor_ms": "HiGHS run() with nothing to change (cost of any solve)",
    "iterations_per_draw": "simplex iterations per draw (raw loop, mean)",
    "ms_per_iteration": "raw loop time above that floor, per iteration",
    "python_s": "python -c pass (interpreter floor)",
    "stack_s": "python importing numpy, pandas, scipy, PuLP, HiGHS",
    "help_s": "reachplan --help",
    "allocate_s": "reachplan allocate --funding 60%",
    "main_job_s": "main job: reachplan run --workers 2 (whole process)",
    "ladder_and_diagnosis_s": "main job: funding ladders incl. diagnosis",
}

# ---- the child process: the main job with timers around its phases ------------------------

PROBES: list[tuple[str, str, str]] = [
    # (phase, module, attribute); a missing attribute is skipped (the code moved on)
    ("checks (load, validate, feasibility)", "reachplan.workflow.suite", "prepare_suite"),
    ("- feasibility checks", "reachplan.workflow.suite", "_check_feasible"),
    ("model builds in this process (checks, runs)", "reachplan.solver.batch", "_prepare"),
    ("simulation + solves (workers)", "reachplan.workflow.suite", "run_suite"),
    ("report total", "reachplan.workflow.report_inputs", "write_suite_report"),
    ("report inputs", "reachplan.workflow.report_inputs", "build_report_inputs"),
    ("allocate() calls in this process", "reachplan.solver.allocate", "allocate"),
    ("report allocations computed in this process", "reachplan.workflow.report_inputs",
     "allocation_task"),
    ("extra-$1M values", "reachplan.solver.marginal", "line_marginals"),
    ("funding ladders (diagnosis included)", "reachplan.solver.frontier", "funding_frontier"),
    ("diagnosis of infeasible levels", "reachplan.solver.diagnose", "diagnose_infeasibility"),
    ("simulation bands (report)", "reachplan.workflow.report_inputs", "simulate_run_draws"),
    ("cost index sensitivity", "reachplan.workflow.report_inputs", "cost_index_sensitivity"),
    ("report assembly", "reachplan.reports.report_data", "build_report_data"),
    ("report writing (HTML, Excel, CSV)", "reachplan.reports.report", "write_report"),
]


def _install_probes(totals: dict[str, float], calls: dict[str, int]) -> None:
    """Wrap each probed function, in its module and wherever it was imported by name."""
    import functools
    import importlib

    for phase, module_name, attr in PROBES:
        module = importlib.import_module(module_name)
        target = getattr(module, attr, None)
        if target is None:
            continue
        totals.setdefault(phase, 0.0)
        calls.setdefault(phase, 0)
        depth = {"n": 0}

        def make(fn: Any, phase: str = phase, depth: dict[str, int] = depth) -> Any:
            @functools.wraps(fn)
            def timed(*args: Any, **kwargs: Any) -> Any:
                depth["n"] += 1
                start = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    depth["n"] -= 1
                    if depth["n"] == 0:  # recursion counted once
                        totals[phase] += time.perf_counter() - start
                        calls[phase] += 1

            return timed

        wrapped = make(target)
        for mod in list(sys.modules.values()):
            name = getattr(mod, "__name__", "")
            if name.startswith("reachplan") and getattr(mod, attr, None) is target:
                setattr(mod, attr, wrapped)


def child_main_job(out_dir: str, draws: int, workers: int) -> None:
    """Run the main job in this (fresh) process and print its phase times as JSON."""
    start = time.perf_counter()
    import reachplan.workflow  # noqa: F401  (every probed module loaded before wrapping)
    import reachplan.workflow.report_inputs  # noqa: F401
    from reachplan.cli import main

    imports = time.perf_counter() - start
    totals: dict[str, float] = {}
    calls: dict[str, int] = {}
    _install_probes(totals, calls)
    args = ["run", "--workers", str(workers), "--out", out_dir, "--quiet", "--draws", str(draws)]
    t0 = time.perf_counter()
    try:
        main.main(args, prog_name="reachplan", standalone_mode=False)
    finally:
        job = time.perf_counter() - t0
        print(json.dumps({"imports_s": imports, "job_s": job, "phases": totals,
                          "calls": calls}))


# ---- measurements -----------------------------------------------------------------------


def tree_env(tree: Path | None) -> dict[str, str] | None:
    """Environment that imports ``reachplan`` from ``tree`` (None: the installed one)."""
    if tree is None:
        return None
    import atexit
    import shutil

    link_dir = Path(tempfile.mkdtemp(prefix="reachplan-ref-"))
    atexit.register(shutil.rmtree, link_dir, ignore_errors=True)  # the link, not the tree
    (link_dir / "reachplan").symlink_to(tree.resolve(), target_is_directory=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(link_dir), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    return env


def _median(xs: list[float]) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


def _subprocess_wall(args: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, env=env)
    return time.perf_counter() - t0


def _child(args: list[str], env: dict[str, str] | None) -> dict[str, Any]:
    """Run this script in a fresh process; its last stdout line is a JSON object."""
    done = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True,
                          text=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def raw_loop(prep: Any, mults: list[Any]) -> tuple[float, Any]:
    """Seconds of the bare HiGHS loop over the draws of ``mults`` (one array per chunk).

    A fresh instance per chunk (as the engine), loaded from the prepared model's arrays;
    the draws in the engine's order (:func:`solver.batch.solve_order`), per draw one
    vectorised change of the need rows' bounds and of the need-sized columns' upper
    bounds, then ``run()`` from the previous basis. Returns the time and
    the objective of every draw (people) and the simplex iterations of all draws.
    """
    import highspy
    import numpy as np
    import scipy.sparse as sp

    try:
        from reachplan.solver.batch import solve_order
    except ImportError:  # a reference tree from before the nearest-first order
        def solve_order(mult: Any) -> range:
            return range(len(mult))

    arrays = prep.arrays
    csr = sp.csr_matrix(arrays.matrix)
    indptr = csr.indptr.astype(np.int32)
    indices = csr.indices.astype(np.int32)
    data = csr.data.astype(float)
    need_idx = np.asarray(prep.need_index, dtype=np.int32)
    lo0 = np.asarray(arrays.row_lower, dtype=float)[need_idx]
    up0 = np.asarray(arrays.row_upper, dtype=float)[need_idx]
    equal = np.isfinite(lo0) & np.isfinite(up0) & (lo0 == up0)
    upper_side = np.isfinite(up0)
    slice_cols = np.asarray(prep.slice_cols, dtype=np.int32)
    zeros = np.zeros(len(slice_cols))
    people = float(prep.lp.units.people)
    sense = highspy.ObjSense.kMaximize if arrays.maximise else highspy.ObjSense.kMinimize
    objectives = []
    iterations = 0
    t0 = time.perf_counter()
    for mult in mults:
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        n = len(arrays.cost)
        h.addCols(n, np.asarray(arrays.cost, float), np.asarray(arrays.col_lower, float),
                  np.asarray(arrays.col_upper, float), 0, np.array([], np.int32),
                  np.array([], np.int32), np.array([], float))
        h.addRows(csr.shape[0], np.asarray(arrays.row_lower, float),
                  np.asarray(arrays.row_upper, float), csr.nnz, indptr, indices, data)
        h.changeObjectiveSense(sense)
        chunk_objectives = np.zeros(len(mult))
        for d in solve_order(mult):
            m = mult[d]
            rhs = prep.need_rhs(m)
            lo = np.where(equal, rhs, np.where(upper_side, lo0, rhs))
            up = np.where(equal | upper_side, rhs, up0)
            h.changeRowsBounds(len(need_idx), need_idx, lo, up)
            if len(slice_cols):
                h.changeColsBounds(len(slice_cols), slice_cols, zeros, prep.slice_bounds(m))
            h.run()
            if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                raise SystemExit("raw loop: a draw is not optimal")
            info = h.getInfo()
            iterations += info.simplex_iteration_count
            chunk_objectives[d] = ((info.objective_function_value + arrays.objective_constant)
                                   * people)
        objectives.extend(chunk_objectives)
    return time.perf_counter() - t0, np.array(objectives), iterations


def run_floor(prep: Any, runs: int = 200) -> float:
    """Seconds of one ``run()`` of ``prep.arrays``'s LP at its optimum, nothing changed (median).

    HiGHS takes no simplex iteration then, yet each ``run()`` still checks the whole LP,
    scales it, rebuilds its row-wise copy and checks the solution's optimality
    conditions: the part of a warm-started re-solve that no choice of warm start removes.
    """
    import highspy
    import numpy as np

    from reachplan.solver.matrix import highs_from_arrays

    a = prep.arrays
    h = highs_from_arrays(a.cost, a.maximise, a.col_lower, a.col_upper, a.matrix, a.row_lower,
                          a.row_upper)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise SystemExit("run floor: the LP is not optimal")
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        h.run()
        times.append(time.perf_counter() - t0)
        if h.getInfo().simplex_iteration_count:
            raise SystemExit("run floor: a run at the optimum iterated")
    return float(np.median(times))


def child_resolves(scenario_name: str, draws: int, repeat: int) -> None:
    """Raw loop, engine on 1 and 2 workers, on the same draws; medians of ``repeat``."""
    import numpy as np

    from reachplan.scenarios.plan_io import load_plan
    from reachplan.scenarios.scenario_io import load_scenario
    from reachplan.scenarios.simulation_io import load_initial_state
    from reachplan.solver.batch import chunk_plan, need_multipliers, prepared_model, run_scenario

    plan = load_plan().plan
    scenario = load_scenario(scenario_name, draws=draws)
    initial = load_initial_state()
    t0 = time.perf_counter()
    prep = prepared_model(plan, scenario)
    build_s = time.perf_counter() - t0

    def multipliers() -> list[Any]:
        return [
            need_multipliers(scenario, initial, first, n, prep.need_rows,
                             parents=prep.parents, plan_need=prep.base_need)
            for _, first, n in chunk_plan(scenario.draws)
        ]

    raw, eng1, eng2, sim, floor = [], [], [], [], []
    iterations = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        mults = multipliers()
        sim.append(time.perf_counter() - t0)
        t_raw, raw_obj, iterations = raw_loop(prep, mults)
        raw.append(t_raw)
        floor.append(run_floor(prep))
        t0 = time.perf_counter()
        run1 = run_scenario(plan, scenario, initial, workers=1)
        eng1.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        run2 = run_scenario(plan, scenario, initial, workers=2)
        eng2.append(time.perf_counter() - t0)
        for run in (run1, run2):
            rel = np.abs(run.objective - raw_obj) / np.maximum(np.abs(raw_obj), 1.0)
            if rel.max() > 1e-6:
                raise SystemExit(f"engine and raw loop disagree (relative {rel.max():.2e})")
    n_cols = len(prep.arrays.cost)
    n_rows, nnz = prep.arrays.matrix.shape[0], prep.arrays.matrix.nnz
    ms = 1000.0 / draws
    out = {
        "raw_ms_per_draw": _median(raw) * ms,
        "engine1_ms_per_draw": _median(eng1) * ms,
        "engine1_solve_ms_per_draw": _median([e - s for e, s in zip(eng1, sim, strict=True)]) * ms,
        "engine2_ms_per_draw": _median(eng2) * ms,
        "simulation_ms_per_draw": _median(sim) * ms,
    }
    out["engine_over_raw"] = out["engine1_solve_ms_per_draw"] / out["raw_ms_per_draw"]
    out["run_floor_ms"] = _median(floor) * 1000.0
    out["iterations_per_draw"] = iterations / draws
    out["ms_per_iteration"] = ((out["raw_ms_per_draw"] - out["run_floor_ms"])
                               / max(out["iterations_per_draw"], 1e-9))
    out["lp"] = f"{n_cols:,} columns x {n_rows:,} rows, {nnz:,} nonzeros"
    out["model_build_s"] = build_s
    print(json.dumps(out))


def measure_startup(repeat: int, envs: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Wall time of whole processes, trees interleaved; medians of ``repeat``."""
    py = sys.executable
    commands = {
        "python_s": [py, "-c", "pass"],
        "stack_s": [py, "-c", "import numpy, pandas, scipy.sparse, pulp, highspy"],
        "help_s": [py, "-m", "reachplan.cli", "--help"],
        "allocate_s": [py, "-m", "reachplan.cli", "allocate", "--funding", "60%"],
    }
    times: dict[str, dict[str, list[float]]] = {t: {k: [] for k in commands} for t in envs}
    for _ in range(repeat):
        for key, args in commands.items():
            for tree, env in envs.items():
                times[tree][key].append(_subprocess_wall(args, env))
    return {t: {k: _median(v) for k, v in keys.items()} for t, keys in times.items()}


def measure_suite_simulation(draws: int) -> float:
    """Seconds to simulate every shipped scenario's draws in one process (as the workers do)."""
    from reachplan.model.costs import CostModel
    from reachplan.scenarios.plan_io import load_plan
    from reachplan.scenarios.scenario_io import SUITE, load_scenario
    from reachplan.scenarios.simulation_io import load_initial_state
    from reachplan.solver.batch import chunk_plan, location_parents, need_multipliers

    plan = load_plan().plan
    initial = load_initial_state()
    costs = CostModel.from_plan(plan)
    rows = sorted({(str(loc), int(y)) for loc, y in zip(costs.locations, costs.years,
                                                         strict=True)})
    parents = location_parents(plan)
    plan_need = [costs.people_in_need_of(loc, y) for loc, y in rows]
    t0 = time.perf_counter()
    for name in SUITE:
        scenario = load_scenario(name, draws=draws)
        for _, first, n in chunk_plan(scenario.draws):
            need_multipliers(scenario, initial, first, n, rows, parents=parents,
                             plan_need=plan_need)
    return time.perf_counter() - t0


def measure_main_job(
    draws: int, workers: int, repeat: int, env: dict[str, str] | None
) -> dict[str, Any]:
    runs = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="reachplan-bench-") as out:
            t0 = time.perf_counter()
            report = _child(["--child-main-job", out, "--main-draws", str(draws),
                             "--workers", str(workers)], env)
            report["wall_s"] = time.perf_counter() - t0
        runs.append(report)
    phases = {k: _median([r["phases"][k] for r in runs]) for k in runs[0]["phases"]}
    return {
        "main_job_s": _median([r["wall_s"] for r in runs]),
        "imports_s": _median([r["imports_s"] for r in runs]),
        "phases": phases,
        "calls": runs[0]["calls"],
        "ladder_and_diagnosis_s": phases.get("funding ladders (diagnosis included)", float("nan")),
    }


# ---- printing ----------------------------------------------------------------------------


def _fmt(value: float | None, unit: str) -> str:
    if value is None or value != value:
        return "-"
    if unit == "ms":
        return f"{value:.2f} ms"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "n":
        return f"{value:.1f}"
    return f"{value:.2f} s"


def print_table(
    figures: dict[str, Any], baseline: dict[str, Any] | None, title: str = "baseline"
) -> None:
    head = f"{'what':<55} {'measured':>11} {'issue ref':>11} {'goal':>9} {'vs ref':>7}"
    if baseline:
        head += f" {title[:11]:>11} {'ratio':>8}"
    print(head)
    for key, label in LABELS.items():
        if key not in figures:
            continue
        ref, goal, unit = REFERENCE[key]
        value = figures[key]
        row = (f"{label:<55} {_fmt(value, unit):>11} {_fmt(ref, unit):>11} "
               f"{_fmt(goal, unit):>9} {(f'{value / ref:.2f}' if ref else '-'):>7}")
        if baseline:
            base = baseline.get(key)
            row += f" {_fmt(base, unit):>11} {(f'{value / base:.2f}' if base else '-'):>8}"
        print(row)


def print_main_job(job: dict[str, Any], name: str) -> None:
    print(f"main job ({name}): whole process {job['main_job_s']:.1f} s, of which imports "
          f"{job['imports_s']:.2f} s; inclusive phase times (a phase includes those it calls):")
    for phase, seconds in job["phases"].items():
        print(f"  {phase:<45} {seconds:8.2f} s  ({job['calls'][phase]} calls)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draws", type=int, default=None,
                        help="Draws of the re-solve comparison (default 200; --quick 50).")
    parser.add_argument("--repeat", type=int, default=None,
                        help="Interleaved repeats of each figure (default 3; --quick 2).")
    parser.add_argument("--scenario", default="shortfall_60")
    parser.add_argument("--main-draws", type=int, default=None,
                        help="Draws per scenario of the main job (default 200; --quick 20).")
    parser.add_argument("--main-repeat", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="Fewer draws and repeats.")
    parser.add_argument("--no-main-job", action="store_true", help="Skip the main job.")
    parser.add_argument("--main-job-only", action="store_true",
                        help="Only the main job (no start-up or re-solve figures).")
    parser.add_argument("--save", type=Path, help="Write the figures as JSON here.")
    parser.add_argument("--baseline", type=Path, help="A --save of another run, side by side.")
    parser.add_argument("--reference-tree", type=Path,
                        help="A reachplan checkout measured in this run, interleaved.")
    parser.add_argument("--child-main-job", metavar="OUT", help=argparse.SUPPRESS)
    parser.add_argument("--child-resolves", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_main_job:
        child_main_job(args.child_main_job, args.main_draws, args.workers)
        return
    if args.child_resolves:
        child_resolves(args.scenario, args.draws, args.repeat)
        return
    draws = args.draws or (50 if args.quick else 200)
    repeat = args.repeat or (2 if args.quick else 3)
    main_draws = args.main_draws or (20 if args.quick else 200)
    print(f"machine: {os.cpu_count()} cores (shared: read medians); "
          f"python {sys.version.split()[0]}")
    envs: dict[str, Any] = {"this tree": None}
    if args.reference_tree is not None:
        envs["reference"] = tree_env(args.reference_tree)
    figures: dict[str, dict[str, Any]] = {t: {} for t in envs}
    for tree, startup in measure_startup(0 if args.main_job_only else max(repeat, 3),
                                         envs).items():
        figures[tree].update({k: v for k, v in startup.items() if v == v})
    resolves: dict[str, list[dict[str, Any]]] = {t: [] for t in envs}
    for _ in range(0 if args.main_job_only else repeat):  # a child per repeat, interleaved
        for tree, env in envs.items():
            resolves[tree].append(_child(["--child-resolves", "--scenario", args.scenario,
                                          "--draws", str(draws), "--repeat", "1"], env))
    for tree, reps in resolves.items():
        if not reps:
            continue
        for key in reps[0]:
            if isinstance(reps[0][key], float):
                figures[tree][key] = _median([r[key] for r in reps])
        print(f"{tree}: LP {reps[0]['lp']}; model build {figures[tree]['model_build_s']:.2f} s; "
              f"simulation {figures[tree]['simulation_ms_per_draw']:.2f} ms per draw")
    if not args.main_job_only:
        print(f"re-solves: scenario {args.scenario}, {draws} draws, {repeat} repeats (medians);"
              " raw and engine objectives agree to 1e-6 draw by draw")
    if not args.no_main_job:
        sim_s = measure_suite_simulation(main_draws)
        print(f"\nmain job: shipped suite x {main_draws} draws, {args.workers} workers, report "
              f"written, {args.main_repeat} run(s) per tree (medians)")
        for tree, env in envs.items():
            job = measure_main_job(main_draws, args.workers, args.main_repeat, env)
            figures[tree].update({k: v for k, v in job.items() if k not in ("phases", "calls")})
            figures[tree]["phases"] = job["phases"]
            print_main_job(job, tree)
        print(f"  {'simulation of every run (apart, 1 process)':<45} {sim_s:8.2f} s  "
              f"(inside 'simulation + solves' on the workers)")
        figures["this tree"]["suite_simulation_1proc_s"] = sim_s
    print()
    if args.reference_tree is not None:
        print_table(figures["this tree"], figures["reference"], "reference")
    else:
        baseline = json.loads(args.baseline.read_text()) if args.baseline else None
        print_table(figures["this tree"], baseline)
    if "engine_over_raw" in figures["this tree"]:
        print(f"engine_over_raw: {figures['this tree']['engine_over_raw']:.2f}x")
    figures = figures["this tree"] if args.reference_tree is None else figures
    if args.save:
        args.save.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
