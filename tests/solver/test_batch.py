"""The scenario engine: same seed, same numbers on any number of workers, resumed or not."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from reachplan.cli import main
from reachplan.model.costs import CostModel
from reachplan.model.errors import ReachplanError
from reachplan.model.simulation import DRAW_BLOCK, block_sequence
from reachplan.scenarios.plan_io import load_plan
from reachplan.scenarios.scenario_io import load_scenario
from reachplan.scenarios.simulation_io import load_initial_state
from reachplan.solver.allocate import solve_lp
from reachplan.solver.batch import (
    RunTooLargeError,
    SchedulerError,
    bytes_per_draw,
    check_memory,
    chunk_plan,
    draw_model,
    need_multipliers,
    prepared_model,
    run_scenario,
    solve_chunk,
)
from reachplan.solver.model import build_model


@pytest.fixture(scope="module")
def plan():
    return load_plan().plan


@pytest.fixture(scope="module")
def initial():
    return load_initial_state()


def test_chunks_cover_every_draw_once():
    chunks = chunk_plan(123, 50)
    assert [(k, s, n) for k, s, n in chunks] == [(0, 0, 50), (1, 50, 50), (2, 100, 23)]


def test_fast_resolves_agree_with_fresh_pulp_solves(plan, initial):
    scenario = load_scenario("catastrophic_surge", draws=6, seed=11)
    chunk = solve_chunk(plan, scenario, initial, 0, 0, 6)
    costs = CostModel.from_plan(plan)
    lp = build_model(costs, scenario.funding)
    rows = lp.rows_of("need")
    assert chunk.need.shape == (6, len(rows))
    need_rows = [(row.location, row.year) for row in rows]
    base = np.array([costs.people_in_need_of(loc, y) for loc, y in need_rows])
    for d in range(6):
        fresh = draw_model(costs, scenario.funding, need_rows, chunk.need[d] / base)
        sol = solve_lp(fresh)
        assert chunk.objective[d] == pytest.approx(sol.objective * fresh.units.people, rel=1e-6)


def test_needs_move_with_the_simulation(plan, initial):
    scenario = load_scenario("catastrophic_surge", draws=20, seed=3)
    rows = [("UKR", 2025), ("POL", 2025)]
    m = need_multipliers(scenario, initial, 0, 20, rows)
    assert m.shape == (20, 2)
    assert np.all(m > 0) and m[:, 0].std() > 0


def test_one_and_two_workers_give_identical_results(plan, initial):
    scenario = load_scenario("tp_ends_2025", draws=120, seed=5)
    one = run_scenario(plan, scenario, initial, workers=1)
    two = run_scenario(plan, scenario, initial, workers=2)
    np.testing.assert_array_equal(one.people_reached, two.people_reached)
    np.testing.assert_array_equal(one.mean_allocation_usd, two.mean_allocation_usd)
    np.testing.assert_array_equal(one.need, two.need)
    assert one.binding_share == two.binding_share


def test_run_json_identical_on_one_and_two_workers(tmp_path):
    runner = CliRunner()
    args = ["run", "shortfall_50", "--draws", "100", "--json", "--quiet", "--no-report"]
    a = runner.invoke(main, [*args, "--out", str(tmp_path / "a")])
    b = runner.invoke(main, [*args, "--workers", "2", "--out", str(tmp_path / "b")])
    assert a.exit_code == 0, a.output
    assert b.exit_code == 0, b.output
    assert a.output == b.output
    payload = json.loads(a.output)["scenarios"][0]
    for key in (
        "name",
        "draws",
        "people_reached_mean",
        "people_reached_p10",
        "people_reached_p90",
        "cells",
    ):
        assert key in payload
    assert payload["draws"] == 100
    assert (
        payload["people_reached_p10"]
        <= payload["people_reached_mean"]
        <= payload["people_reached_p90"]
        or payload["people_reached_p10"] == payload["people_reached_p90"]
    )


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_json(tmp_path):
    exe = [sys.executable, "-c", "from cli import main; main()"]
    args = ["run", "returns_pick_up", "--draws", "400", "--json", "--quiet", "--no-report"]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    full = subprocess.run(
        [*exe, *args, "--out", str(tmp_path / "full")],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [*exe, *args, "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    chunks = out / "runs" / "returns_pick_up"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(chunks.glob("chunk_*.npz"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    written = len(list(chunks.glob("chunk_*.npz")))
    assert 2 <= written < len(chunk_plan(400))
    # a write the kill cut short leaves a temporary file: the resume must ignore and clear it
    leftover = chunks / ".chunk_0007.npz.x1y2.tmp"
    leftover.write_bytes(b"half a chunk")
    resumed = subprocess.run(
        [*exe, *args, "--out", str(out), "--resume"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    assert resumed.stdout == full.stdout
    assert not leftover.exists()


def test_resume_refuses_a_different_run(tmp_path):
    runner = CliRunner()
    first = runner.invoke(
        main,
        ["run", "shortfall_30", "--draws", "50", "--quiet", "--no-report", "--out", str(tmp_path)],
    )
    assert first.exit_code == 0, first.output
    other = runner.invoke(
        main,
        ["run", "shortfall_30", "--draws", "60", "--quiet", "--out", str(tmp_path), "--resume"],
    )
    assert other.exit_code == 1
    assert "different run" in other.output


def test_bad_scenario_file_exits_1_naming_file_and_key(tmp_path):
    path = tmp_path / "s.toml"
    parent = Path(load_scenario("shortfall_50").files[0]).as_posix()
    path.write_text(f'extends = "{parent}"\nname = "x"\n[funding]\nfundin = "50%"\n')
    result = CliRunner().invoke(main, ["run", str(path), "--quiet", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert str(path) in result.output and "fundin" in result.output
    assert "Traceback" not in result.output


def test_dask_executor_gives_the_same_numbers(plan, initial):
    distributed = pytest.importorskip("distributed")
    scenario = load_scenario("baltic_influx", draws=60, seed=9)
    local = run_scenario(plan, scenario, initial, workers=1)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        remote = run_scenario(
            plan, scenario, initial, executor="dask", scheduler=cluster.scheduler_address
        )
    np.testing.assert_array_equal(local.people_reached, remote.people_reached)
    np.testing.assert_array_equal(local.mean_allocation_usd, remote.mean_allocation_usd)


# ---- robustness: lazy chunk plan, memory estimate, infeasible draws, unreachable scheduler --


def _tiny_run(draws: int, funding=None):
    """A three-line plan and a scenario with plain USD funding (fast to build and solve)."""
    import dataclasses

    from reachplan.model.funding import Amount, Envelope, FundingScenario
    from tests.solver.conftest import HAND_CELLS, HAND_COSTS, HAND_NEED, make_plan

    tiny = make_plan(HAND_CELLS, HAND_COSTS, HAND_NEED)
    scenario = load_scenario("catastrophic_surge", draws=draws, seed=3)
    funding = funding or FundingScenario(Envelope(total=Amount("usd", 5e6)))
    return tiny, dataclasses.replace(scenario, funding=funding)


def test_chunk_plan_of_a_trillion_draws_allocates_nothing():
    import itertools
    import tracemalloc

    tracemalloc.start()
    chunks = chunk_plan(10**12, 50)
    n = len(chunks)
    last = chunks[-1]
    first = list(itertools.islice(chunks, 3))
    middle = chunks[10**10]
    seed = block_sequence(42, (10**12 - 1) // DRAW_BLOCK).generate_state(2)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert n == 2 * 10**10
    assert last == (n - 1, 10**12 - 50, 50)
    assert first == [(0, 0, 50), (1, 50, 50), (2, 100, 50)]
    assert middle == (10**10, 5 * 10**11, 50)
    assert seed.shape == (2,)
    assert peak < 1_000_000  # bytes: nothing proportional to the chunk count


def test_a_chunk_simulates_the_same_draws_as_one_whole_run(initial):
    scenario = load_scenario("catastrophic_surge", draws=120, seed=5)
    rows = [("UKR", 2025), ("POL", 2026)]
    whole = need_multipliers(scenario, initial, 0, 120, rows)
    parts = [need_multipliers(scenario, initial, first, n, rows) for _, first, n in
             chunk_plan(120, 50)]
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_too_many_draws_are_refused_with_the_estimate_before_any_work(initial):
    tiny, scenario = _tiny_run(10**12)
    computed = []
    with pytest.raises(RunTooLargeError) as info:
        run_scenario(tiny, scenario, initial, on_chunk=computed.append)
    message = str(info.value)
    assert computed == []
    # two need rows: 8 bytes x (2 + 2 x 2) floats x 3 copies = 144 bytes per draw
    assert bytes_per_draw(2) == 144
    assert "1,000,000,000,000 draws" in message and "144 B per draw" in message
    assert "catastrophic_surge" in message and "use at most" in message
    assert isinstance(info.value, ReachplanError)


def test_memory_rule_against_a_stated_amount():
    assert check_memory(1000, 2, available=144_000) == 144_000
    with pytest.raises(RunTooLargeError, match=r"1,001 draws need about 140\.8 KB .* "
                                                r"140\.6 KB is available; use at most 1,000 draws"):
        check_memory(1001, 2, available=144_000)


def test_a_draw_without_a_feasible_allocation_raises_infeasible_scenario_error(initial):
    from reachplan.model.funding import Amount, Envelope, Floor, FundingScenario
    from reachplan.solver.result import InfeasibleScenarioError

    # every line fully funded, with $5M for $12M of requirements: no draw can hold
    funding = FundingScenario(Envelope(total=Amount("usd", 5e6)), floors=(Floor("all", 1.0),))
    tiny, scenario = _tiny_run(100, funding)
    with pytest.raises(InfeasibleScenarioError, match=r"scenario 'catastrophic_surge', draw 0 "
                                                      r"\(draws 0-99, seed 3\)"):
        run_scenario(tiny, scenario, initial)
    with pytest.raises(InfeasibleScenarioError, match=r"draw 50 \(draws 0-99"):
        solve_chunk(tiny, scenario, initial, 1, 50, 50)


def test_unreachable_dask_scheduler_is_a_one_line_error_within_seconds(initial):
    pytest.importorskip("distributed")
    tiny, scenario = _tiny_run(100)
    started = time.monotonic()
    with pytest.raises(SchedulerError) as info:
        run_scenario(tiny, scenario, initial, executor="dask", scheduler="tcp://127.0.0.1:9")
    assert time.monotonic() - started < 15
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("cannot reach the Dask scheduler at tcp://127.0.0.1:9")
    assert isinstance(info.value, ReachplanError)


def test_prepared_models_are_kept_up_to_the_column_budget(monkeypatch):
    import dataclasses

    import reachplan.solver.batch as batch
    from reachplan.model.funding import Amount, Envelope, FundingScenario

    tiny, scenario = _tiny_run(4)
    others = [dataclasses.replace(scenario, funding=FundingScenario(
        Envelope(total=Amount("usd", usd)))) for usd in (4e6, 3e6)]
    a = prepared_model(tiny, scenario)
    b = prepared_model(tiny, others[0])
    assert prepared_model(tiny, scenario) is a and prepared_model(tiny, others[0]) is b
    # a budget of one model: only the latest is kept
    monkeypatch.setattr(batch, "CACHE_COLUMNS", len(a.arrays.cost))
    c = prepared_model(tiny, others[1])
    assert prepared_model(tiny, others[1]) is c
    assert prepared_model(tiny, scenario) is not a


def test_a_chunk_model_sent_to_a_worker_solves_as_here():
    import pickle

    from reachplan.solver.batch import solve_chunk_on

    tiny, scenario = _tiny_run(6)
    initial = load_initial_state()
    model = prepared_model(tiny, scenario).chunk_model
    start = model.start_basis()
    here = solve_chunk_on(model, scenario, initial, 0, 0, 6)
    sent = pickle.loads(pickle.dumps(model))
    assert [int(v) for v in sent.start_basis().col_status] == [int(v)
                                                              for v in start.col_status]
    assert [int(v) for v in sent.start_basis().row_status] == [int(v)
                                                              for v in start.row_status]
    there = solve_chunk_on(sent, scenario, initial, 0, 0, 6)
    for field in ("people_reached", "objective", "money_sum", "need", "reached", "binding",
                  "entities_reached"):
        np.testing.assert_array_equal(getattr(there, field), getattr(here, field))


def test_scenarios_differing_only_in_their_futures_share_one_model(plan, initial):
    import dataclasses

    import reachplan.solver.batch as batch

    surge = load_scenario("catastrophic_surge", draws=60)
    tp_ends = load_scenario("tp_ends_2025", draws=60)
    assert surge.funding != tp_ends.funding  # the names differ ...
    assert dataclasses.replace(surge.funding, name="") == dataclasses.replace(
        tp_ends.funding, name="")  # ... the rules do not
    shared = prepared_model(plan, surge)
    assert prepared_model(plan, tp_ends) is shared
    other = load_scenario("shortfall_30", draws=60)
    assert prepared_model(plan, other) is not shared
    assert batch.model_key(plan, other.funding) != shared.key
    # a run on the shared model (after the other scenario's run, one and two workers)
    # gives the numbers of a run on a model built for it alone
    run_scenario(plan, surge, initial, workers=1)
    after = [run_scenario(plan, tp_ends, initial, workers=w) for w in (1, 2)]
    batch.close_worker_pool()
    batch._CACHE.clear()
    alone = run_scenario(plan, tp_ends, initial, workers=1)
    assert prepared_model(plan, tp_ends) is not shared
    for run in after:
        np.testing.assert_array_equal(run.people_reached, alone.people_reached)
        np.testing.assert_array_equal(run.mean_allocation_usd, alone.mean_allocation_usd)
        np.testing.assert_array_equal(run.reached, alone.reached)
        assert run.binding_share == alone.binding_share
        assert run.scenario.name == "tp_ends_2025"


def test_solve_order_goes_to_the_nearest_draw_left_each_time():
    from reachplan.solver.batch import solve_order

    rng = np.random.default_rng(5)
    mult = rng.uniform(0.5, 1.5, size=(40, 7))
    order = solve_order(mult)
    assert sorted(order) == list(range(40))
    here = np.ones(7)
    left = set(range(40))
    for d in order:
        dist = {j: np.abs(mult[j] - here).sum() for j in left}
        assert dist[d] == min(dist.values())  # the nearest to the draw solved before
        left.remove(d)
        here = mult[d]
    # the plan's own needs first, then the others by distance from there and each other
    assert solve_order(np.array([[2.0], [1.0], [1.5], [0.9]])) == [1, 3, 2, 0]
    # ties go to the lower draw; no need rows: draw order
    assert solve_order(np.array([[1.2], [0.8], [1.2]])) == [0, 2, 1]
    assert solve_order(np.ones((3, 0))) == [0, 1, 2]


def _cell_money_range_at_optimum(model, fast, objective, cell):
    """Least and most money cell ``cell`` can hold among the optimal allocations of the LP
    held in ``fast`` (objective within 1e-9 of ``objective``), money units."""
    import highspy

    a = model.arrays
    h = fast._highs
    cost = np.asarray(a.cost, dtype=float)
    nz = np.flatnonzero(cost).astype(np.int32)
    value = objective - a.objective_constant
    tol = 1e-9 * max(1.0, abs(value))
    h.addRow(value - tol, highspy.kHighsInf, len(nz), nz, cost[nz])  # a maximisation
    row = model.money_matrix.getrow(cell)
    every = np.arange(len(cost), dtype=np.int32)
    ends = []
    for sense in (highspy.ObjSense.kMinimize, highspy.ObjSense.kMaximize):
        h.changeColsCost(len(every), every, np.zeros(len(cost)))
        h.changeColsCost(len(row.indices), row.indices.astype(np.int32), row.data)
        h.changeObjectiveSense(sense)
        h.run()
        assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        ends.append(h.getInfo().objective_function_value)
    h.deleteRows(1, np.array([a.matrix.shape[0]], dtype=np.int32))
    h.changeColsCost(len(every), every, cost)
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    return ends[0], ends[1]


@pytest.mark.slow
def test_solving_nearest_first_saves_iterations_and_keeps_each_draws_optimum(plan, initial):
    """Against draw order on the shipped planning case's first chunk: the same optimum per
    draw, fewer simplex iterations (a count, not a time: the same on any machine), and money
    moved only in cells whose money the optimum leaves open (several allocations reach the
    same people: which one a draw reports depends on where its solve starts)."""
    from reachplan.solver.batch import solve_chunk_on, solve_order
    from reachplan.solver.fast import FastLP

    scenario = load_scenario("shortfall_60", draws=50)
    model = prepared_model(plan, scenario).chunk_model
    assert model.arrays.maximise
    mult = need_multipliers(scenario, initial, 0, 50, model.need_rows, parents=model.parents,
                            plan_need=model.base_need)

    def solve_in(order):
        fast = FastLP(model.arrays)
        fast.set_basis(model.start_basis())
        objective, money, iterations = np.zeros(50), {}, 0
        for d in order:
            model.apply_draw(fast, mult[d])
            sol = fast.solve()
            objective[d], iterations = sol.objective, iterations + sol.iterations
            money[d] = model.money_matrix @ sol.values
        return objective, money, iterations

    nearest, nearest_money, nearest_its = solve_in(solve_order(mult))
    in_order, in_order_money, in_order_its = solve_in(range(50))
    np.testing.assert_allclose(nearest, in_order, rtol=1e-6)
    assert nearest_its < 0.75 * in_order_its
    chunk = solve_chunk_on(model, scenario, initial, 0, 0, 50)
    np.testing.assert_allclose(chunk.objective, nearest * model.people_units, rtol=1e-12)

    moved_cells = 0
    for d in range(50):
        moved = np.flatnonzero(np.abs(nearest_money[d] - in_order_money[d]) * model.usd_units
                               > 1.0)
        if not len(moved):
            continue
        fast = FastLP(model.arrays)
        model.apply_draw(fast, mult[d])
        optimum = fast.solve().objective
        for cell in moved[:4]:
            least, most = _cell_money_range_at_optimum(model, fast, optimum, int(cell))
            a, b = sorted((nearest_money[d][cell], in_order_money[d][cell]))
            slack = 1e-6 * max(1.0, abs(most))
            assert least - slack <= a and b <= most + slack
            moved_cells += 1
        if moved_cells >= 12:
            break
    assert moved_cells >= 12  # the check above ran on cells that did move
