"""Build time of the shipped plan's LPs (:func:`solver.model.build_model`), and their reading.

For every shipped scenario's funding rules (``suite_paths()``), plain and elastic, prints
the CPU time (``time.process_time``: the machine may be shared) per model of

- ``build_model``, each build after a full collection of the garbage collector, with
  the young-generation collection it leaves behind (the build alone), and
  ``lp_arrays`` on the model built; the trees alternate model by model;
- ``build_model`` in a row: the shipped models built one after another and kept, as a
  caller that holds its models does, with the collector's work they cause (a full
  collection at the end is counted).

``--reference-tree DIR`` (a checkout of reachplan, e.g. ``git archive <commit> | tar -x
-C DIR``) imports that tree too, in this same process under its own copy of the
``reachplan`` modules, and times both trees interleaved repeat by repeat (same
interpreter, packages and machine state), then prints the ratio reference / this tree.
It also checks that both trees build the same LP: the arrays of every model must agree
to the last bit (names, bounds, matrix, objective), else the benchmark stops.

Speed is checked here, never in tests. The machine may be shared: read medians.

Usage::

    python benchmarks/bench_build.py
    python benchmarks/bench_build.py --repeat 7 --reference-tree /tmp/reachplan-ref
"""

from __future__ import annotations

import argparse
import gc
import importlib
import importlib.util
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np


def _is_reachplan(name: str) -> bool:
    return name == "reachplan" or name.startswith("reachplan.")


def import_tree(tree: Path | None) -> dict[str, ModuleType]:
    """The ``reachplan`` modules the benchmark uses, imported from ``tree`` (None: installed).

    ``sys.modules`` is left as found; the modules returned are activated around each
    call (:func:`active`) so that imports done inside functions find the same tree.
    """
    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if _is_reachplan(k)}
    try:
        if tree is not None:
            init = tree.resolve() / "__init__.py"
            spec = importlib.util.spec_from_file_location(
                "reachplan", init, submodule_search_locations=[str(init.parent)])
            assert spec is not None and spec.loader is not None
            package = importlib.util.module_from_spec(spec)
            sys.modules["reachplan"] = package
            spec.loader.exec_module(package)
        for name in ("reachplan.model.costs", "reachplan.scenarios.plan_io",
                     "reachplan.scenarios.scenario_io", "reachplan.solver.model",
                     "reachplan.solver.matrix"):
            importlib.import_module(name)
        return {k: v for k, v in sys.modules.items() if _is_reachplan(k)}
    finally:
        for k in [k for k in sys.modules if _is_reachplan(k)]:
            del sys.modules[k]
        sys.modules.update(saved)


@contextmanager
def active(modules: dict[str, ModuleType]) -> Iterator[None]:
    """``modules`` as the ``reachplan`` of ``sys.modules`` for the duration."""
    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if _is_reachplan(k)}
    sys.modules.update(modules)
    try:
        yield
    finally:
        for k in [k for k in sys.modules if _is_reachplan(k)]:
            del sys.modules[k]
        sys.modules.update(saved)


class Tree:
    """One tree's build and reading of the shipped models."""

    def __init__(self, modules: dict[str, ModuleType]) -> None:
        self.modules = modules
        with active(modules):
            costs_mod = modules["reachplan.model.costs"]
            scenario_io = modules["reachplan.scenarios.scenario_io"]
            plan = modules["reachplan.scenarios.plan_io"].load_plan().plan
            self.costs = costs_mod.CostModel.from_plan(plan)
            self.names = [p.stem for p in scenario_io.suite_paths()]
            self.funding = [scenario_io.load_scenario(p).funding
                            for p in scenario_io.suite_paths()]
        self.build_model: Callable[..., Any] = modules["reachplan.solver.model"].build_model
        self.lp_arrays: Callable[..., Any] = modules["reachplan.solver.matrix"].lp_arrays

    def measure(self, k: int, elastic: bool) -> tuple[float, float, Any]:
        """Build and reading CPU time of shipped model ``k``, seconds; and its arrays.

        The build is timed after a full collection, with the young-generation collection
        it leaves behind; freeing the model is not timed.
        """
        with active(self.modules):
            gc.collect()
            t0 = time.process_time()
            lp = self.build_model(self.costs, self.funding[k], elastic=elastic)
            gc.collect(0)
            t1 = time.process_time()
            arrays = self.lp_arrays(lp.problem)
            t2 = time.process_time()
            del lp
        return t1 - t0, t2 - t1, arrays

    def in_a_row(self, elastic: bool) -> float:
        """CPU time per model of building every shipped model in a row, keeping them."""
        with active(self.modules):
            gc.collect()
            t0 = time.process_time()
            kept = [self.build_model(self.costs, funding, elastic=elastic)
                    for funding in self.funding]
            gc.collect()
            elapsed = time.process_time() - t0
        del kept
        return elapsed / len(self.funding)


def same_arrays(a: Any, b: Any) -> bool:
    """Whether two :class:`LPArrays` agree to the last bit (CSR read as built)."""
    if a.variable_names != b.variable_names or a.row_names != b.row_names:
        return False
    if a.maximise != b.maximise or a.matrix.shape != b.matrix.shape:
        return False
    if np.float64(a.objective_constant).tobytes() != np.float64(b.objective_constant).tobytes():
        return False
    ma, mb = a.matrix.tocsr(), b.matrix.tocsr()
    pairs = [(a.cost, b.cost), (a.col_lower, b.col_lower), (a.col_upper, b.col_upper),
             (a.row_lower, b.row_lower), (a.row_upper, b.row_upper), (ma.data, mb.data)]
    if any(np.asarray(x, dtype=np.float64).tobytes() != np.asarray(y, dtype=np.float64).tobytes()
           for x, y in pairs):
        return False
    return all(np.array_equal(np.asarray(x, dtype=np.int64), np.asarray(y, dtype=np.int64))
               for x, y in ((ma.indices, mb.indices), (ma.indptr, mb.indptr)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3,
                        help="Rounds over every shipped model (medians are printed).")
    parser.add_argument("--reference-tree", type=Path,
                        help="A reachplan checkout measured in this process, interleaved.")
    args = parser.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)
    trees = {"this tree": Tree(import_tree(None))}
    if args.reference_tree is not None:
        trees["reference"] = Tree(import_tree(args.reference_tree))
    first = trees["this tree"]
    print(f"machine: {os.cpu_count()} cores (shared: read medians); "
          f"python {sys.version.split()[0]}")
    print(f"shipped models: {len(first.names)} scenarios, plain and elastic; "
          f"{args.repeat} rounds, trees interleaved")
    times: dict[tuple[str, bool], dict[str, list[float]]] = {
        (t, e): {"build": [], "read": [], "row": []} for t in trees for e in (False, True)}
    order = list(trees)
    built: dict[tuple[str, bool], list[Any]] = {}
    for r in range(args.repeat):
        for elastic in (False, True):
            for k in range(len(first.names)):
                # model by model, the trees alternating who goes first
                for tree in order if (r + k) % 2 == 0 else order[::-1]:
                    build, read, arrays = trees[tree].measure(k, elastic)
                    times[(tree, elastic)]["build"].append(build)
                    times[(tree, elastic)]["read"].append(read)
                    if r == 0:
                        built.setdefault((tree, elastic), []).append(arrays)
            for tree in order if r % 2 == 0 else order[::-1]:
                times[(tree, elastic)]["row"].append(trees[tree].in_a_row(elastic))
    if "reference" in trees:
        for elastic in (False, True):
            pairs = zip(first.names, built[("this tree", elastic)],
                        built[("reference", elastic)], strict=True)
            for name, a, b in pairs:
                if not same_arrays(a, b):
                    raise SystemExit(f"the trees build different LPs: {name}, elastic={elastic}")
        print("both trees build the same LPs (every shipped model, plain and elastic, "
              "to the last bit)")
    header = f"{'CPU s per model, median':<30}" + "".join(f"{t:>12}" for t in trees)
    print(header + (f"{'ratio ref/this':>16}" if "reference" in trees else ""))
    for elastic in (False, True):
        for what, label in (("build", "build_model"), ("read", "lp_arrays"),
                            ("row", "build_model in a row")):
            meds = [statistics.median(times[(t, elastic)][what]) for t in trees]
            line = f"{label + (' (elastic)' if elastic else ''):<30}"
            line += "".join(f"{m:12.3f}" for m in meds)
            if len(meds) == 2:
                line += f"{meds[1] / meds[0]:15.2f}x"
            print(line)


if __name__ == "__main__":
    main()
