"""`reachplan robust --json` in a subprocess: old keys kept, new keys present and consistent."""

import json
import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def data():
    res = subprocess.run(
        [sys.executable, "-m", "reachplan.cli", "robust", "shortfall_60", "--planning-draws", "1",
         "--evaluation-draws", "3", "--replicates", "2", "--json"],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_robust_json_keeps_its_keys_and_adds_the_fair_comparison(data):
    old = {"scenario", "evaluation_draws", "planning_draws", "alpha",
           "value_of_planning_with_simulation", "plans"}
    new = {"replicates", "planning_seeds", "confidence_level", "recourse",
           "value_of_planning_with_simulation_ci", "replicate_results"}
    assert old | new <= set(data)
    assert data["replicates"] == 2 and len(set(data["planning_seeds"])) == 2
    assert data["confidence_level"] == 0.95
    assert {"rule", "forecast"} <= set(data["recourse"])
    assert [p["method"] for p in data["plans"]] == ["mean_needs", "saa", "cvar", "two_stage"]
    ci = data["value_of_planning_with_simulation_ci"]
    assert ci["low"] <= data["value_of_planning_with_simulation"] <= ci["high"]
    base = data["plans"][0]
    for plan in data["plans"]:
        assert {"people_reached_mean", "people_reached_mean_without_recourse", "objective_mean",
                "objective_mean_without_recourse", "vs_mean_needs", "cells"} <= set(plan)
        vs = plan["vs_mean_needs"]
        assert set(vs) == {"people", "objective", "people_without_recourse",
                           "objective_without_recourse"}
        people = vs["people"]
        assert people["n"] == 3 and len(people["replicates"]) == 2
        assert people["mean_difference"] == pytest.approx(
            plan["people_reached_mean"] - base["people_reached_mean"], rel=1e-9, abs=1e-6)
        assert people["ci_low"] <= people["mean_difference"] <= people["ci_high"]
        fixed = vs["people_without_recourse"]
        assert fixed["mean_difference"] == pytest.approx(
            plan["people_reached_mean_without_recourse"]
            - base["people_reached_mean_without_recourse"], rel=1e-9, abs=1e-6)
        gains = [r["relative_gain"] for r in people["replicates"]]
        assert people["spread"]["relative_gain_min"] == min(gains)
        assert people["spread"]["relative_gain_max"] == max(gains)
    assert base["vs_mean_needs"]["people"]["mean_difference"] == 0.0
    reps = data["replicate_results"]
    assert [r["planning_seed"] for r in reps] == data["planning_seeds"]
    for j, plan in enumerate(data["plans"]):
        mean = sum(r["plans"][j]["people_reached_mean"] for r in reps) / 2
        assert plan["people_reached_mean"] == pytest.approx(mean, rel=1e-12)
