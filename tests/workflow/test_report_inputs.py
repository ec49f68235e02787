"""Ladders and allocations a report computes once: cache keys, cache files, shared solves."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from reachplan.model.costs import CostModel
from reachplan.model.funding import Amount, Envelope, Floor, FundingScenario, Selector
from reachplan.model.plan import Plan
from reachplan.solver.allocate import allocate
from reachplan.solver.frontier import funding_frontier
from reachplan.workflow.report_inputs import (
    cached_frontier,
    ladder_cache_path,
    ladder_key,
    renamed,
)


@pytest.fixture
def plan(tiny):
    return Plan.from_tables(tiny)


def _scenario(share=0.6, carry_over=False, floor=None, name="a"):
    floors = () if floor is None else (Floor("WASH", floor, Selector(sector_codes=("WASH",))),)
    return FundingScenario(Envelope(total=Amount("share", share), carry_over=carry_over),
                           floors=floors, name=name)


def test_ladder_key_ignores_envelope_name_and_carry_over_but_not_rules(plan):
    key = ladder_key(plan, _scenario(), 0.1)
    assert ladder_key(plan, _scenario(share=0.3, name="b", carry_over=True), 0.1) == key
    per_year = dataclasses.replace(
        _scenario(), envelope=Envelope(per_year=((2024, Amount("share", 0.5)),), carry_over=True))
    assert ladder_key(plan, per_year, 0.1) == key  # a ladder's envelope is a total
    assert ladder_key(plan, _scenario(floor=0.5), 0.1) != key
    assert ladder_key(plan, _scenario(), 0.2) != key


def _assert_same(a, b):
    pd.testing.assert_frame_equal(a.levels, b.levels, check_exact=True)
    pd.testing.assert_frame_equal(a.first_funded, b.first_funded, check_exact=True)


def test_cached_ladder_is_the_computed_one_exactly(plan, tmp_path):
    costs = CostModel.from_plan(plan)
    sc = _scenario(floor=0.8)  # levels below 65% infeasible: NaNs and messages round-trip
    fresh = funding_frontier(costs, sc, step=0.125)
    first = cached_frontier(plan, costs, sc, 0.125, tmp_path)
    _assert_same(first, fresh)
    path = ladder_cache_path(tmp_path, ladder_key(plan, sc, 0.125))
    assert path.is_file()
    # a second report reads the file: change it on disk and the change shows
    text = path.read_text()
    marked = text.replace('"optimal"', '"optimal (cached)"')
    path.write_text(marked)
    again = cached_frontier(plan, costs, _scenario(share=0.3, floor=0.8), 0.125, tmp_path)
    assert (again.levels["status"] == "optimal (cached)").sum() == (
        fresh.levels["status"] == "optimal").sum() > 0
    np.testing.assert_array_equal(again.levels["people_reached"].to_numpy(),
                                  fresh.levels["people_reached"].to_numpy())


def test_damaged_or_foreign_cache_file_is_recomputed(plan, tmp_path):
    costs = CostModel.from_plan(plan)
    sc = _scenario()
    fresh = funding_frontier(costs, sc, step=0.25)
    path = ladder_cache_path(tmp_path, ladder_key(plan, sc, 0.25))
    path.write_text('{"key": "another", "format": 1}')
    _assert_same(cached_frontier(plan, costs, sc, 0.25, tmp_path), fresh)
    path.write_text(path.read_text()[:50])  # truncated
    _assert_same(cached_frontier(plan, costs, sc, 0.25, tmp_path), fresh)
    assert ladder_key(plan, sc, 0.25) in path.read_text()


def test_memo_computes_a_ladder_once(plan, monkeypatch):
    import reachplan.solver.frontier as frontier

    calls = []
    real = frontier.funding_frontier
    monkeypatch.setattr(frontier, "funding_frontier",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    costs = CostModel.from_plan(plan)
    memo = {}
    a = cached_frontier(plan, costs, _scenario(name="x"), 0.25, None, memo)
    b = cached_frontier(plan, costs, _scenario(share=1.0, carry_over=True, name="y"), 0.25,
                        None, memo)
    assert a is b and len(calls) == 1


def test_renamed_allocation_is_the_fresh_one_with_its_own_name(plan):
    a, b = _scenario(name="a"), _scenario(name="b")
    shared = renamed(allocate(plan, a), b)
    fresh = allocate(plan, b)
    assert shared.scenario == b
    assert shared.provenance["scenario"] == fresh.provenance["scenario"]
    pd.testing.assert_frame_equal(shared.cells, fresh.cells)
    assert [s.value for s in shared.shadow_prices] == pytest.approx(
        [s.value for s in fresh.shadow_prices])


# ---- the report's numbers with caches warm, cold, and on worker processes ----------------


def _tiny_runs(plan, fundings, draws=3):
    from reachplan.scenarios.scenario_io import load_scenario
    from reachplan.scenarios.simulation_io import load_initial_state
    from reachplan.solver.batch import run_scenario

    initial = load_initial_state()
    base = load_scenario("catastrophic_surge", draws=draws, seed=3)
    runs = [run_scenario(plan, dataclasses.replace(base, name=f.name, funding=f), initial)
            for f in fundings]
    return runs, initial


def _report_json(runs, plan, initial, **options):
    from reachplan.reports.report_data import build_report_data
    from reachplan.reports.tables import render_report_json
    from reachplan.workflow.report_inputs import build_report_inputs

    # in this process (a pool an earlier test left would take the allocations away from
    # the counting below) unless a test asks for workers
    options.setdefault("workers", 1)
    inputs = build_report_inputs(runs, plan, initial, ladder_step=0.25,
                                 versions={"reachplan": "test"}, created="2026-01-01",
                                 **options)
    return render_report_json(build_report_data(inputs)), inputs


@pytest.fixture
def count_sensitivity_solves(monkeypatch):
    import reachplan.solver.sensitivity as sensitivity

    calls = []
    real = sensitivity._row_sensitivities

    def counted(*args, **kwargs):
        # the allocations at the plan's figures (the ladders range their own models)
        if sensitivity._MEMO.get() is not None:
            calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(sensitivity, "_row_sensitivities", counted)
    return calls


def test_report_with_caches_warm_is_the_report_with_caches_cold(
        plan, tmp_path, count_sensitivity_solves):
    from reachplan.workflow.report_inputs import SENSITIVITY_CACHE

    fundings = [_scenario(name="a"), _scenario(share=0.7, floor=0.8, name="b")]
    runs, initial = _tiny_runs(plan, fundings)
    uncached, fresh = _report_json(runs, plan, initial)  # no cache folder at all
    solves = len(count_sensitivity_solves)
    assert solves == 2  # one per scenario
    cold, _ = _report_json(runs, plan, initial, cache_dir=tmp_path)
    assert len(count_sensitivity_solves) == 2 * solves
    assert (tmp_path / SENSITIVITY_CACHE).is_file()
    warm, inputs = _report_json(runs, plan, initial, cache_dir=tmp_path)
    assert len(count_sensitivity_solves) == 2 * solves  # nothing solved again
    assert warm == cold == uncached
    # the shadow prices themselves, field by field, against a fresh allocation
    for f in fundings:
        expected = allocate(plan, f).shadow_prices
        got = inputs.allocations[f.name].shadow_prices
        assert [dataclasses.astuple(s) for s in got] == [dataclasses.astuple(s)
                                                         for s in expected]
    assert fresh.allocations["b"].shadow_prices == inputs.allocations["b"].shadow_prices


def test_changed_plan_or_rules_miss_the_sensitivity_cache(
        plan, tiny, tmp_path, count_sensitivity_solves):
    runs, initial = _tiny_runs(plan, [_scenario(name="a")])
    _report_json(runs, plan, initial, cache_dir=tmp_path)
    assert len(count_sensitivity_solves) == 1
    # another scenario's rules: its own solve
    other_runs, _ = _tiny_runs(plan, [_scenario(floor=0.5, name="a")])
    _report_json(other_runs, plan, initial, cache_dir=tmp_path)
    assert len(count_sensitivity_solves) == 2
    # another plan (one requirement changed): its own solve, and other numbers
    tables = {k: v.copy() for k, v in tiny.items()}
    req = tables["requirements"]
    req.loc[req.index[0], "requirements_usd"] = float(req["requirements_usd"].iloc[0]) * 2
    changed = Plan.from_tables(tables)
    assert changed.fingerprint != plan.fingerprint
    changed_runs, _ = _tiny_runs(changed, [_scenario(name="a")])
    _, inputs = _report_json(changed_runs, changed, initial, cache_dir=tmp_path)
    assert len(count_sensitivity_solves) == 3
    fresh = allocate(changed, _scenario(name="a"))
    assert [s.value for s in inputs.allocations["a"].shadow_prices] == [
        s.value for s in fresh.shadow_prices]


def test_damaged_sensitivity_cache_is_recomputed(plan, tmp_path, count_sensitivity_solves):
    from reachplan.workflow.report_inputs import SENSITIVITY_CACHE

    runs, initial = _tiny_runs(plan, [_scenario(name="a")])
    cold, _ = _report_json(runs, plan, initial, cache_dir=tmp_path)
    path = tmp_path / SENSITIVITY_CACHE
    for damaged in (path.read_text()[:40], '{"format": 1, "entries": {"x": 3}}', "[]"):
        path.write_text(damaged)
        again, _ = _report_json(runs, plan, initial, cache_dir=tmp_path)
        assert again == cold
    assert len(count_sensitivity_solves) == 4


def test_report_on_two_workers_is_the_report_on_one(plan, tmp_path):
    from reachplan.solver.batch import close_worker_pool

    fundings = [_scenario(name="a"), _scenario(share=0.7, floor=0.8, name="b"),
                _scenario(share=0.9, name="c")]
    runs, initial = _tiny_runs(plan, fundings)
    one, _ = _report_json(runs, plan, initial, workers=1)
    try:
        two, _ = _report_json(runs, plan, initial, workers=2)
    finally:
        close_worker_pool()
    assert two == one


# ---- the head start: the report's work on the workers the runs leave idle ---------------


def test_report_with_a_head_start_is_the_report_without(plan, tmp_path):
    from reachplan.scenarios.scenario_io import load_scenario
    from reachplan.scenarios.simulation_io import load_initial_state
    from reachplan.solver.batch import close_worker_pool, idle_work, run_scenario
    from reachplan.workflow.report_inputs import ReportWork

    fundings = [_scenario(name="a"), _scenario(share=0.7, floor=0.8, name="b"),
                _scenario(share=0.9, name="c")]
    initial = load_initial_state()
    base = load_scenario("catastrophic_surge", draws=120, seed=3)  # three chunks each
    scenarios = [dataclasses.replace(base, name=f.name, funding=f) for f in fundings]
    work = ReportWork(plan, [(s.name, s.funding) for s in scenarios], ladder_step=0.25,
                      cache_dir=tmp_path)
    lent = []

    def fill(pool, free):
        lent.append(free)
        work.fill(pool, free)

    try:
        with idle_work(fill):
            runs = [run_scenario(plan, s, initial, workers=2) for s in scenarios]
        assert lent and all(1 <= free <= 2 for free in lent)
        assert work.started >= 1  # the idle workers took some of the report's jobs
        ahead, inputs = _report_json(runs, plan, initial, workers=2, work=work,
                                     cache_dir=tmp_path)
        assert work.pending() == 0
    finally:
        close_worker_pool()
    alone = [run_scenario(plan, s, initial, workers=1) for s in scenarios]
    for a, b in zip(runs, alone, strict=True):  # the draws are unchanged by the loan
        np.testing.assert_array_equal(a.people_reached, b.people_reached)
        np.testing.assert_array_equal(a.mean_allocation_usd, b.mean_allocation_usd)
    plain, fresh = _report_json(alone, plan, initial, workers=1)
    assert ahead == plain
    for f in fundings:
        assert inputs.allocations[f.name].shadow_prices == fresh.allocations[f.name].shadow_prices
    assert [ld.frontier.levels.equals(fl.frontier.levels)
            for ld, fl in zip(inputs.ladders, fresh.ladders, strict=True)] == [True, True]


class _FailingPool:
    """A pool whose every job fails in the worker."""

    def __init__(self):
        self.submitted = []

    def submit(self, fn, *args):
        from concurrent.futures import Future

        self.submitted.append(fn.__name__)
        future = Future()
        future.set_exception(RuntimeError("the worker died"))
        return future


def test_a_job_that_fails_on_a_worker_is_computed_here(plan, tmp_path):
    from reachplan.workflow.report_inputs import ReportWork, ladder_key

    funding = _scenario(name="a")
    work = ReportWork(plan, [("a", funding)], ladder_step=0.25, cache_dir=tmp_path)
    pool = _FailingPool()
    work.fill(pool, 1)
    assert pool.submitted == ["allocation_task"] and work.started == 1
    assert work.allocation(funding) is None  # failed there: the caller computes it
    runs, initial = _tiny_runs(plan, [funding])
    got, _ = _report_json(runs, plan, initial, work=work, cache_dir=tmp_path)
    expected, _ = _report_json(runs, plan, initial)
    assert got == expected
    # a ladder the head start never handed out is computed by the report, and cached
    assert (tmp_path / f"ladder_{ladder_key(plan, funding, 0.25)}.json").is_file()


def test_head_start_skips_cached_ladders_and_takes_only_allocations_late(plan, tmp_path):
    from reachplan.workflow.report_inputs import ReportWork

    funding = _scenario(name="a")
    costs = CostModel.from_plan(plan)
    cached_frontier(plan, costs, funding, 0.25, tmp_path)  # the ladder is in the cache
    work = ReportWork(plan, [("a", funding), ("b", _scenario(share=0.3, name="b"))],
                      ladder_step=0.25, cache_dir=tmp_path)
    assert work.pending() == 2  # two allocations (same rules: one ladder, cached)
    other = ReportWork(plan, [("a", funding)], ladder_step=0.25, cache_dir=tmp_path / "x")
    pool = _FailingPool()
    other.fill(pool, 5, only="allocation")
    assert pool.submitted == ["allocation_task"] and other.pending() == 2  # ladder kept
    other.fill(pool, 5)
    assert pool.submitted == ["allocation_task", "ladder_task"]


def test_flattened_plan_allocation_is_not_ranged(plan):
    from reachplan.workflow.report_inputs import allocation_task

    funding = _scenario(name="a")
    flat, used = allocation_task(plan, funding, flat=True)
    assert used == {}  # no row sensitivities computed
    assert all(s.value_down is None and s.valid_from is None for s in flat.shadow_prices)
    full, used_full = allocation_task(plan, funding, flat=False)
    assert used_full and any(s.valid_from is not None for s in full.shadow_prices)
