"""The workflow layer: checks before anything is written, the run store, resume, progress.

A tiny plan (two countries, five lines; tests/conftest.py) keeps every run well under
a second.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reachplan.scenarios.plan_io import load_plan
from reachplan.scenarios.scenario_io import load_scenario
from reachplan.workflow import (
    PlanBook,
    RunProgress,
    ScenarioRunError,
    SuiteError,
    UnusablePlanError,
    load_initial_state,
    load_usable_plan,
    prepare_suite,
    run_suite,
)
from tests.conftest import tiny_tables


def _plan_dir(tmp_path: Path) -> Path:
    from reachplan.reports.template import write_template

    directory = tmp_path / "plan"
    write_template(tiny_tables(), directory)
    (directory / "plan.xlsx").unlink()  # the CSV tables are the plan
    return directory


def _scenario_file(tmp_path: Path, name: str, plan: Path, funding: str = "50%",
                   floor: float | None = None, draws: int = 120) -> Path:
    text = (f'name = "{name}"\ndescription = "test"\ndraws = {draws}\nseed = 5\n'
            f"plan = '{plan.as_posix()}'\n\n[funding]\nfunding = \"{funding}\"\n")
    if floor is not None:
        text += (f'\n[[funding.floors]]\nname = "every SO1 line"\nshare = {floor}\n'
                 'objectives = ["SO1"]\nper = "all"\n')
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def initial():
    return load_initial_state()


def test_a_suite_runs_reports_progress_and_resumes_to_the_same_numbers(tmp_path, initial):
    plan = _plan_dir(tmp_path)
    scenarios = [load_scenario(_scenario_file(tmp_path, n, plan, funding=f))
                 for n, f in (("half", "50%"), ("most", "80%"))]
    suite = prepare_suite(scenarios, for_report=True, distinct_names=True)
    assert suite.plan.path == plan
    assert suite.plan.plan.name == "Tiny"
    out = tmp_path / "out"
    events: list[RunProgress] = []
    finished: list[str] = []
    first = run_suite(suite, initial, out, progress=events.append,
                      on_run=lambda run: finished.append(run.scenario.name))
    assert finished == ["half", "most"]
    assert [r.scenario.name for r in first.runs] == ["half", "most"]
    for name in ("half", "most"):
        mine = [e for e in events if e.scenario == name]
        assert mine[0].chunks_done == 0
        assert [e.chunks_done for e in mine] == list(range(mine[0].chunks_total + 1))
        assert len(list((out / "runs" / name).glob("chunk_*.npz"))) == mine[0].chunks_total
    # a second run reuses every stored chunk: progress starts complete, numbers equal
    events.clear()
    again = run_suite(suite, initial, out, resume=True, progress=events.append)
    assert all(e.chunks_done == e.chunks_total for e in events)
    assert len(events) == 2
    for a, b in zip(first.runs, again.runs, strict=True):
        np.testing.assert_array_equal(a.people_reached, b.people_reached)
        np.testing.assert_array_equal(a.mean_allocation_usd, b.mean_allocation_usd)
    assert first.runs[0].people_reached.mean() < first.runs[1].people_reached.mean()


def test_an_infeasible_scenario_is_refused_before_anything_is_written(tmp_path):
    plan = _plan_dir(tmp_path)
    good = load_scenario(_scenario_file(tmp_path, "good", plan))
    bad_file = _scenario_file(tmp_path, "bad", plan, funding="10%", floor=1.0)
    bad = load_scenario(bad_file)
    with pytest.raises(ScenarioRunError) as info:
        prepare_suite([good, bad])
    message = str(info.value)
    assert message.startswith(f"{bad_file}: infeasible scenario: ")
    assert "\n" not in message
    assert not (tmp_path / "out").exists()


def test_a_report_refuses_scenarios_on_different_plans_or_with_one_name(tmp_path):
    plan = _plan_dir(tmp_path)
    mine = load_scenario(_scenario_file(tmp_path, "mine", plan))
    shipped = load_scenario("shortfall_60", draws=10)
    with pytest.raises(SuiteError, match=r"different plans .*the shipped plan"):
        prepare_suite([mine, shipped], for_report=True)
    twice = load_scenario(_scenario_file(tmp_path, "mine", plan, funding="60%"))
    with pytest.raises(SuiteError, match="share a name"):
        prepare_suite([mine, twice], for_report=True, distinct_names=True)


def test_a_plan_with_errors_is_not_usable_and_lists_every_error(tmp_path):
    from reachplan.reports.template import write_template

    tables = tiny_tables()
    tables["requirements"].loc[0, "requirements_usd"] = -5.0
    tables["requirements"].loc[1, "year"] = 1850
    directory = tmp_path / "broken"
    write_template(tables, directory)
    (directory / "plan.xlsx").unlink()
    loaded = load_plan(directory)
    assert loaded.usable() is None
    with pytest.raises(UnusablePlanError) as info:
        load_usable_plan(directory)
    assert len(info.value.errors) == len(loaded.validation.errors) >= 2
    assert str(info.value).startswith(f"{directory}: the plan has {len(info.value.errors)} error")


def test_a_plan_book_reads_each_plan_once(tmp_path):
    plan = _plan_dir(tmp_path)
    book = PlanBook()
    first = book.plan(plan)
    assert book.plan(plan) is first
    assert first.plan is not None and first.validation.ok


def test_too_many_draws_are_refused_per_scenario_with_the_plans_need_rows(tmp_path, monkeypatch):
    import reachplan.solver.batch as batch
    from reachplan.model.costs import CostModel
    from reachplan.solver.batch import RunTooLargeError, bytes_per_draw
    from reachplan.solver.model import build_model

    plan = _plan_dir(tmp_path)
    small = load_scenario(_scenario_file(tmp_path, "small", plan, draws=10))
    large = load_scenario(_scenario_file(tmp_path, "large", plan, funding="80%", draws=1000))
    # the need rows, counted on a fresh build of the large scenario's own model
    usable = load_usable_plan(plan)
    rows = len(build_model(CostModel.from_plan(usable.plan), large.funding).rows_of("need"))
    monkeypatch.setattr(batch, "available_memory", lambda: bytes_per_draw(rows) * 500)
    with pytest.raises(RunTooLargeError, match=r"scenario 'large': 1,000 draws .* "
                                               r"use at most 500 draws"):
        prepare_suite([small, large])
    suite = prepare_suite([small, load_scenario(_scenario_file(tmp_path, "ok", plan, draws=500))])
    assert [s.name for s in suite.scenarios] == ["small", "ok"]
