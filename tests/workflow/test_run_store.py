"""The run store: damaged, foreign or empty chunks are reported and recomputed; names stay inside.

A tiny plan (three lines, two need rows) keeps every run well under a second; one
subprocess test checks the command line's JSON with the default plan.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reachplan.model.funding import Amount, Envelope, FundingScenario
from reachplan.reports import plan_files
from reachplan.scenarios.scenario_io import load_scenario
from reachplan.scenarios.simulation_io import load_initial_state
from reachplan.solver.batch import ChunkResult, ScenarioRun, run_key, run_scenario
from reachplan.workflow.run_store import RunStore, RunStoreError, chunk_checksum, run_directory
from tests.solver.conftest import HAND_CELLS, HAND_COSTS, make_plan

ROOT = Path(__file__).resolve().parents[2]

# MDA's need binds (40,000 people could be reached with its $2M), so people reached
# move from draw to draw with the simulated needs.
PLAN = make_plan(HAND_CELLS, HAND_COSTS, {("MDA", 2024): 3e4, ("UKR", 2024): 1e6})
FUNDING = FundingScenario(Envelope(total=Amount("usd", 5e6)))


@pytest.fixture(scope="module")
def initial():
    return load_initial_state()


def _scenario(seed: int = 3, draws: int = 160):
    scenario = load_scenario("catastrophic_surge", draws=draws, seed=seed)
    return dataclasses.replace(scenario, funding=FUNDING)


def _run(out: Path, scenario, initial, resume: bool, warnings: list[str] | None = None):
    """What the command line does: start the store, run the missing chunks, write each."""
    store = RunStore(out, scenario.name, warn=None if warnings is None else warnings.append)
    done = store.start(run_key(PLAN, scenario), resume=resume)
    computed: list[int] = []

    def on_chunk(chunk: ChunkResult) -> None:
        store.write(chunk)
        computed.append(chunk.chunk)

    run = run_scenario(PLAN, scenario, initial, done=done, on_chunk=on_chunk)
    return run, store, sorted(computed)


def _assert_same_run(a: ScenarioRun, b: ScenarioRun) -> None:
    np.testing.assert_array_equal(a.people_reached, b.people_reached)
    np.testing.assert_array_equal(a.objective, b.objective)
    np.testing.assert_array_equal(a.mean_allocation_usd, b.mean_allocation_usd)
    np.testing.assert_array_equal(a.need, b.need)
    np.testing.assert_array_equal(a.reached, b.reached)
    assert a.binding_share == b.binding_share


def _npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def _save(path: Path, arrays: dict[str, np.ndarray]) -> None:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path.write_bytes(buf.getvalue())


def _zero_bytes(path: Path, tmp_path: Path, initial) -> None:
    path.write_bytes(b"")


def _truncated(path: Path, tmp_path: Path, initial) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _altered(path: Path, tmp_path: Path, initial) -> None:
    arrays = _npz(path)
    arrays["money_sum"] = arrays["money_sum"] * 1.05  # run key and checksum kept
    _save(path, arrays)


def _foreign(path: Path, tmp_path: Path, initial) -> None:
    other = _scenario(seed=99)
    _run(tmp_path / "other", other, initial, resume=False)
    shutil.copyfile(tmp_path / "other" / "runs" / other.name / path.name, path)


def _old_format(path: Path, tmp_path: Path, initial) -> None:
    arrays = _npz(path)
    _save(path, {k: v for k, v in arrays.items() if k not in ("run_key", "checksum", "format")})


def _no_draws(path: Path, tmp_path: Path, initial) -> None:
    arrays = _npz(path)
    key = str(arrays["run_key"])
    payload = {k: v for k, v in arrays.items() if k not in ("run_key", "checksum", "format")}
    for name in ("people_reached", "objective"):
        payload[name] = payload[name][:0]
    for name in ("need", "reached"):
        payload[name] = payload[name][:0]
    _save(path, {**payload, "run_key": np.array(key),
                 "checksum": np.array(chunk_checksum(key, payload))})


def _renamed(path: Path, tmp_path: Path, initial) -> None:
    shutil.copyfile(path.with_name("chunk_00000.npz"), path)


DAMAGE = {
    "zero_bytes": (_zero_bytes, "empty file (0 bytes)"),
    "truncated": (_truncated, "unreadable, truncated or not a chunk file"),
    "altered": (_altered, "checksum mismatch"),
    "foreign": (_foreign, "belongs to another run"),
    "old_format": (_old_format, "no checksum"),
    "no_draws": (_no_draws, "holds no draws"),
    "renamed": (_renamed, "holds chunk 0, not the one its name says"),
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_damaged_chunk_is_reported_recomputed_and_the_run_is_unchanged(kind, tmp_path, initial):
    scenario = _scenario()
    clean, _, computed = _run(tmp_path / "out", scenario, initial, resume=False)
    assert computed == [0, 1, 2, 3]
    target = tmp_path / "out" / "runs" / scenario.name / "chunk_00002.npz"
    damage, reason = DAMAGE[kind]
    damage(target, tmp_path, initial)

    warnings: list[str] = []
    resumed, store, recomputed = _run(tmp_path / "out", scenario, initial, True, warnings)

    assert recomputed == [2]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"{target.resolve()}: {reason}")
    assert warnings[0].endswith("recomputing it")
    assert store.problems == warnings
    _assert_same_run(resumed, clean)
    # the recomputed chunk is valid again: a second resume computes nothing, warns nothing
    again: list[str] = []
    third, _, none = _run(tmp_path / "out", scenario, initial, True, again)
    assert none == [] and again == []
    _assert_same_run(third, clean)


def test_stored_chunk_carries_run_key_and_checksum(tmp_path, initial):
    scenario = _scenario(draws=50)
    _run(tmp_path, scenario, initial, resume=False)
    arrays = _npz(tmp_path / "runs" / scenario.name / "chunk_00000.npz")
    key = run_key(PLAN, scenario)
    assert str(arrays["run_key"]) == key
    payload = {k: v for k, v in arrays.items() if k not in ("run_key", "checksum", "format")}
    assert str(arrays["checksum"]) == chunk_checksum(key, payload)
    assert len(str(arrays["checksum"])) == 64


def test_unreadable_manifest_is_reported_and_valid_chunks_kept(tmp_path, initial):
    scenario = _scenario(draws=100)
    clean, _, _ = _run(tmp_path, scenario, initial, resume=False)
    manifest = tmp_path / "runs" / scenario.name / "manifest.json"
    manifest.write_bytes(b"")
    warnings: list[str] = []
    resumed, _, recomputed = _run(tmp_path, scenario, initial, True, warnings)
    assert recomputed == []
    assert len(warnings) == 1 and "manifest.json: unreadable" in warnings[0]
    assert json.loads(manifest.read_text())["run_key"] == run_key(PLAN, scenario)
    _assert_same_run(resumed, clean)


def test_leftover_temporary_files_are_removed(tmp_path, initial):
    scenario = _scenario(draws=50)
    _run(tmp_path, scenario, initial, resume=False)
    leftover = tmp_path / "runs" / scenario.name / ".chunk_00001.npz.abc.tmp"
    leftover.write_bytes(b"half")
    _run(tmp_path, scenario, initial, resume=True)
    assert not leftover.exists()


def test_resume_still_refuses_a_different_run(tmp_path, initial):
    _run(tmp_path, _scenario(draws=50), initial, resume=False)
    store = RunStore(tmp_path, "catastrophic_surge")
    with pytest.raises(RunStoreError, match="holds a different run"):
        store.start(run_key(PLAN, _scenario(seed=4, draws=50)), resume=True)


@pytest.mark.parametrize(
    "name",
    ["../escaped", "../../x", "/srv/x", "..", ".", "", "  ", "a/../..", "a/../../b", "x\0y"],
)
def test_names_that_leave_the_runs_folder_are_refused(name, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(RunStoreError, match="scenario name"):
        RunStore(out, name)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_symbolic_link_out_of_the_runs_folder_is_refused(tmp_path):
    (tmp_path / "out" / "runs").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out" / "runs" / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(RunStoreError, match="outside"):
        RunStore(tmp_path / "out", "link")


def test_plain_and_nested_names_stay_inside(tmp_path):
    root = (tmp_path / "runs").resolve()
    assert run_directory(tmp_path, "shortfall_50") == root / "shortfall_50"
    assert run_directory(tmp_path, "a/../b") == root / "b"
    assert run_directory(tmp_path, "team/shortfall") == root / "team" / "shortfall"


def test_atomic_write_syncs_file_and_directory_before_and_after_rename(tmp_path, monkeypatch):
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync-dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "fsync-file")
        real_fsync(fd)

    def replace(src, dst) -> None:
        events.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(plan_files.os, "fsync", fsync)
    monkeypatch.setattr(plan_files.os, "replace", replace)
    plan_files.write_text_atomic(tmp_path / "a.txt", "hello")
    assert (tmp_path / "a.txt").read_text() == "hello"
    if sys.platform.startswith("linux"):
        assert events == ["fsync-file", "replace", "fsync-dir"]
    else:
        assert events[:2] == ["fsync-file", "replace"]


@pytest.mark.slow
def test_damaged_chunks_resume_to_the_json_of_a_clean_run(tmp_path):
    """Command line, default plan: a 0-byte, an altered and a foreign chunk."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "0"}
    args = [sys.executable, "-m", "reachplan.cli", "run", "shortfall_50", "--draws", "150",
            "--seed", "5", "--json", "--quiet", "--no-report"]
    clean = subprocess.run([*args, "--out", str(tmp_path / "a")], capture_output=True,
                           text=True, env=env, cwd=ROOT, timeout=600)
    assert clean.returncode == 0, clean.stderr
    json.loads(clean.stdout)
    chunks = tmp_path / "a" / "runs" / "shortfall_50"
    _zero_bytes(chunks / "chunk_00000.npz", tmp_path, None)
    _altered(chunks / "chunk_00001.npz", tmp_path, None)
    # a chunk of another run: same arrays, stored under another run key with its checksum
    arrays = _npz(chunks / "chunk_00002.npz")
    payload = {k: v for k, v in arrays.items() if k not in ("run_key", "checksum", "format")}
    other = "0" * 64
    _save(chunks / "chunk_00002.npz", {**payload, "run_key": np.array(other),
                                       "checksum": np.array(chunk_checksum(other, payload))})
    resumed = subprocess.run([*args, "--out", str(tmp_path / "a"), "--resume"],
                             capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert "Traceback" not in resumed.stderr and "Aborted" not in resumed.stderr
    assert json.loads(resumed.stdout) == json.loads(clean.stdout)
    assert resumed.stdout == clean.stdout
