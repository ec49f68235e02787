"""Time of writing the scenario report's files: the previous writers against the current ones.

Prints, measured in this one process and interleaved (old, new, new with a pool, old,
...; median of ``--repeats``), the time of

- each rendering: the workbook (``render_workbook``), the JSON document
  (``render_report_json``) and the CSV tables (``render_table_csv`` of every table);
- the whole ``write_report`` into a fresh directory: the previous one, the current one
  serial, and the current one given a 2-worker spawned process pool (warmed up: the
  workers have imported the report modules, as the main job's pool has imported the
  solver's);

with the ratio previous/current beside each. The previous writers are read from git
(``--reference``, by default the commit before the column writers) into a temporary
directory and imported from there. Before timing, the current files are checked equal
to the previous ones (JSON and CSV byte for byte, the workbook part by part less its
creation time); the benchmark stops if they are not.

The report data: ``--data FILE`` loads a pickled :class:`reports.report_data.ReportData`;
without it the shipped suite is run with ``--draws`` draws into ``--out`` (runs are
reused from there) and its report data built (``--save-data FILE`` pickles it for the
next time).

Usage::

    .venv/bin/python benchmarks/bench_report_writing.py --draws 20 --save-data /tmp/data.pkl
    .venv/bin/python benchmarks/bench_report_writing.py --data /tmp/data.pkl

Speed is checked here, never in tests. The machine may be shared: read the ratios.
"""

from __future__ import annotations

import argparse
import importlib
import io
import multiprocessing
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = "729115c"
"""The commit before the column writers (cell-by-cell workbook, CSV and JSON)."""

OLD_MODULES = ("plan_files", "tables", "excel", "report")


def load_reference(commit: str, directory: Path) -> dict[str, ModuleType]:
    """The report writers of ``commit`` as modules ``old_<name>``, importing each other."""
    for name in OLD_MODULES:
        text = subprocess.run(["git", "show", f"{commit}:reports/{name}.py"], cwd=ROOT,
                              check=True, capture_output=True, text=True).stdout
        for other in OLD_MODULES:
            text = text.replace(f"from reachplan.reports.{other} import",
                                f"from old_{other} import")
        (directory / f"old_{name}.py").write_text(text)
    sys.path.insert(0, str(directory))
    return {name: importlib.import_module(f"old_{name}") for name in OLD_MODULES}


def build_data(draws: int, out: Path) -> Any:
    """The report data of the shipped suite run with ``draws`` draws into ``out``."""
    import reachplan.reports.report as report
    from reachplan.cli import main

    captured = []

    def capture(data: Any, out_dir: Path, **options: Any) -> list[Path]:
        captured.append(data)
        return []

    report.write_report = capture  # type: ignore[assignment]
    try:
        main(["report", "--workers", "2", "--draws", str(draws), "--out", str(out),
              "--quiet"], standalone_mode=False)
    finally:
        importlib.reload(report)
    return captured[0]


def xlsx_parts(content: bytes) -> dict[str, bytes]:
    """The parts of a workbook less ``docProps/core.xml`` (the time it was made)."""
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        return {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}


def check_same(data: Any, old: dict[str, ModuleType]) -> None:
    """Stop unless the current renderings equal the previous ones."""
    from reachplan.reports.excel import render_workbook
    from reachplan.reports.tables import render_report_json, render_table_csv

    problems = []
    if xlsx_parts(render_workbook(data)) != xlsx_parts(old["excel"].render_workbook(data)):
        problems.append("report.xlsx")
    if render_report_json(data) != old["tables"].render_report_json(data):
        problems.append("report.json")
    for name, frame in data.tables().items():
        for hxl in (True, False):
            if render_table_csv(frame, hxl=hxl) != old["tables"].render_table_csv(frame, hxl):
                problems.append(f"tables/{name}.csv (hxl={hxl})")
    if problems:
        sys.exit(f"the current writers differ from {REFERENCE}: {', '.join(problems)}")
    print("check: workbook parts, JSON and every CSV equal to the previous writers'")


def warm_up() -> str:
    """Import the report writers (in a pool worker)."""
    return importlib.import_module("reachplan.reports.report").__name__


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="pickled ReportData to load")
    parser.add_argument("--save-data", type=Path, help="pickle the report data built here")
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "bench-report")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--reference", default=REFERENCE, help="commit of the previous writers")
    args = parser.parse_args()

    if args.data:
        data = pickle.loads(args.data.read_bytes())
    else:
        data = build_data(args.draws, args.out)
        if args.save_data:
            args.save_data.write_bytes(pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))
    cells = sum(frame.size for frame in data.tables().values())
    print(f"report data: {len(data.tables())} tables, {cells:,} cells")

    from reachplan.reports.excel import render_workbook
    from reachplan.reports.report import write_report
    from reachplan.reports.tables import render_report_json, render_table_csv

    scratch = Path(tempfile.mkdtemp(prefix="bench-report-writing-"))
    try:
        old = load_reference(args.reference, scratch)
        check_same(data, old)
        blob = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
        print(f"pickling the data: {timed(lambda: pickle.dumps(data, protocol=5)):.3f} s, "
              f"{len(blob) / 1e6:.1f} MB; unpickling {timed(lambda: pickle.loads(blob)):.3f} s")

        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
            for f in [pool.submit(warm_up) for _ in range(2)]:
                f.result()
            runs = 0

            def write(fn: Callable[..., object], **options: Any) -> Callable[[], object]:
                def go() -> object:
                    nonlocal runs
                    runs += 1
                    return fn(data, scratch / f"out{runs}", **options)
                return go

            cases: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
                "workbook": (lambda: old["excel"].render_workbook(data),
                             lambda: render_workbook(data)),
                "report.json": (lambda: old["tables"].render_report_json(data),
                                lambda: render_report_json(data)),
                "CSV tables": (
                    lambda: [old["tables"].render_table_csv(f, True)
                             for f in data.tables().values()],
                    lambda: [render_table_csv(f, hxl=True) for f in data.tables().values()]),
                "write_report": (write(old["report"].write_report), write(write_report)),
                "write_report, 2-worker pool": (write(old["report"].write_report),
                                                write(write_report, pool=pool)),
            }
            times: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in cases}
            for _ in range(args.repeats):
                for name, (before, now) in cases.items():
                    times[name][0].append(timed(before))
                    times[name][1].append(timed(now))
        print(f"\nmedian of {args.repeats}, interleaved   previous    current    ratio")
        for name, (before, now) in times.items():
            b, n = statistics.median(before), statistics.median(now)
            print(f"{name:32s} {b:8.2f} s {n:8.2f} s {b / n:7.2f}x")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
