"""Writing the report with a worker pool: the same files, and no pool needed to write them."""

from __future__ import annotations

import io
import multiprocessing
import pickle
import zipfile
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

import reachplan.reports.report as report
from reachplan.reports.excel import render_workbook
from reachplan.reports.report import write_report
from reachplan.reports.tables import render_report_json
from tests.reports.report_fixture import small_report


def _files(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory``; a workbook as its parts less the creation time."""
    out = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            name = path.relative_to(directory).as_posix()
            if name.endswith(".xlsx"):
                with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as z:
                    for member in z.namelist():
                        if member != "docProps/core.xml":  # holds the time of writing
                            out[f"{name}/{member}"] = z.read(member)
            else:
                out[name] = path.read_bytes()
    return out


@pytest.fixture(scope="module")
def serial(tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("serial")
    write_report(small_report().data, out)
    return _files(out)


class _Refusing(Executor):
    """A pool that is shut down: ``submit`` raises as a real one does."""

    def submit(self, fn, /, *args, **kwargs):
        raise RuntimeError("cannot schedule new futures after shutdown")


class _Failing(Executor):
    """A pool whose task ends in ``error`` (recording the tasks it was given)."""

    def __init__(self, error: BaseException, failing=(render_workbook, render_report_json)):
        self.error = error
        self.failing = failing
        self.futures: list[Future] = []

    def submit(self, fn, /, *args, **kwargs):
        assert fn in (render_workbook, render_report_json)
        future: Future = Future()
        if fn in self.failing:
            future.set_exception(self.error)
        else:
            future.set_result(fn(*args, **kwargs))
        self.futures.append(future)
        return future


def test_report_data_pickles():
    data = small_report().data
    back = pickle.loads(pickle.dumps(data))
    assert back.tables().keys() == data.tables().keys()
    for name, frame in data.tables().items():
        assert back.tables()[name].equals(frame), name


def test_same_files_with_a_spawned_pool(tmp_path, serial):
    assert "report.xlsx/xl/worksheets/sheet2.xml" in serial and "report.json" in serial
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        paths = write_report(small_report().data, tmp_path, pool=pool)
        # the pool did render: it still runs tasks afterwards
        assert pool.submit(len, "abc").result() == 3
    assert _files(tmp_path) == serial
    assert sorted(p.relative_to(tmp_path).as_posix() for p in paths) == sorted(
        {name.split(".xlsx/")[0] + (".xlsx" if ".xlsx/" in name else "") for name in serial})


def test_a_shut_down_pool_is_passed_over(tmp_path, serial):
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
    pool.shutdown()
    write_report(small_report().data, tmp_path, pool=pool)
    assert _files(tmp_path) == serial
    write_report(small_report().data, tmp_path / "refused", pool=_Refusing())
    assert _files(tmp_path / "refused") == serial


def test_a_broken_pool_is_passed_over(tmp_path, serial):
    pool = _Failing(BrokenProcessPool("a worker died"))
    write_report(small_report().data, tmp_path, pool=pool)
    assert len(pool.futures) == 2
    assert _files(tmp_path) == serial
    pool = _Failing(BrokenProcessPool("a worker died"), failing=(render_report_json,))
    write_report(small_report().data, tmp_path / "json", pool=pool)
    assert _files(tmp_path / "json") == serial


def test_a_rendering_error_in_the_pool_is_raised_and_nothing_written(tmp_path):
    pool = _Failing(ValueError("workbook cannot be made"), failing=(render_workbook,))
    with pytest.raises(ValueError, match="workbook cannot be made"):
        write_report(small_report().data, tmp_path / "out", pool=pool)
    assert not (tmp_path / "out").exists()


def test_an_error_here_writes_nothing_and_cancels_the_pool_task(tmp_path, monkeypatch):
    def broken_page(data):
        raise KeyError("page")

    class Pending(Executor):
        futures: list[Future] = []

        def submit(self, fn, /, *args, **kwargs):
            self.futures.append(Future())
            return self.futures[-1]

    monkeypatch.setattr(report, "render_html", broken_page)
    pool = Pending()
    with pytest.raises(KeyError, match="page"):
        write_report(small_report().data, tmp_path / "out", pool=pool)
    assert len(pool.futures) == 2 and all(f.cancelled() for f in pool.futures)
    assert not (tmp_path / "out").exists()
