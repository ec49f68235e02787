"""Corrupted scenario files never end in a traceback.

Starting from the shipped scenario files (made to fit the tiny fixture plan's codes), each
example corrupts one or more things: wrong types, unknown codes, huge, negative and
non-finite numbers, path-like names, unknown keys, missing tables, broken ``extends``,
then the bytes themselves (other encodings, truncation, stray bytes). Loading the file,
checking it against the plan and allocating must either give a finite allocation or raise
a :class:`ReachplanError` whose message is one line naming the file (an infeasible
scenario is diagnosed in planner words; the command line adds the file to that one).
"""

from __future__ import annotations

import math
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reachplan.model.errors import ReachplanError
from reachplan.scenarios.scenario_io import SCENARIO_DIR, SUITE, check_against_plan, load_scenario
from reachplan.scenarios.simulation_io import overlay
from reachplan.solver.allocate import allocate
from reachplan.solver.result import InfeasibleScenarioError
from tests.scenarios.test_scenario_check import tiny_plan

PLAN = tiny_plan()

# the tiny plan's codes, and codes it does not have
LOCATIONS = ["POL", "MDA"]
SECTORS = ["WASH", "HEALTH"]
OBJECTIVES = ["SO1", "SO2"]
YEARS = [2024, 2025]
FOREIGN = {
    "location": ["UKR", "pol", "XXX", "", "P\x00L"],
    "sector": ["PROTECTION", "wash", "WASH ", "../x"],
    "objective": ["SO3", "so1", ""],
    "year": [2026, 1800, 99999, -1, 10**30],
}
CLUSTERS = ["WSH", "HEA"]
TINY_CODES = {"location": LOCATIONS, "sector": SECTORS, "objective": OBJECTIVES, "year": YEARS,
              "cluster": CLUSTERS}


def _merged(name: str) -> dict[str, Any]:
    """A shipped scenario with its ``extends`` chain merged into one standalone document."""
    doc = tomllib.loads((SCENARIO_DIR / f"{name}.toml").read_text())
    parent = doc.pop("extends", None)
    return overlay(_merged(Path(parent).stem), doc) if parent else doc


def _fit_codes(value: Any, rng: np.random.Generator) -> Any:
    """Shipped codes and tags replaced by the tiny plan's, so that most seeds can allocate."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            what = key.rstrip("s")
            if what in TINY_CODES and key != "years" or key in ("year", "years") and isinstance(
                    item, list | int):
                pool = TINY_CODES[what if what in TINY_CODES else "year"]
                out[key] = [pool[int(rng.integers(len(pool)))]] if isinstance(item, list) else \
                    pool[int(rng.integers(len(pool)))]
            elif key == "life_saving":  # the tiny plan has no tier 1 line: one objective
                out["objectives"] = [OBJECTIVES[int(rng.integers(len(OBJECTIVES)))]]
            elif key == "amount" and isinstance(item, str) and item.startswith("USD"):
                out[key] = "USD 20"
            elif key == "years" and isinstance(item, dict):
                out[key] = {str(y): a for y, a in zip(YEARS, item.values(), strict=False)}
            else:
                out[key] = _fit_codes(item, rng)
        return out
    if isinstance(value, list):
        return [_fit_codes(v, rng) for v in value]
    return value


SEEDS = [_fit_codes(_merged(name), np.random.default_rng(i)) for i, name in enumerate(SUITE)]

# ---- TOML out (inline tables: any key, any value) ----------------------------------------


def _string(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        elif 0xD800 <= ord(ch) <= 0xDFFF:
            out.append("?")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(max(min(value, 2**63 - 1), -(2**63)))
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_string(str(k))} = {_value(v)}" for k, v in value.items()) + "}"
    return _string(str(value))


def to_toml(doc: dict[str, Any]) -> str:
    return "".join(f"{_string(str(k))} = {_value(v)}\n" for k, v in doc.items())


# ---- corruptions ---------------------------------------------------------------------------

NUMBERS = st.one_of(
    st.sampled_from([0, -1, 1, 2, 1e308, -1e308, 1e-308, 5e-324, 1e13, 1e14, 2**63 - 1,
                     float("nan"), float("inf"), float("-inf"), 0.5, 1.5, 100.0]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**63), 2**63 - 1),
)
TEXTS = st.one_of(
    st.sampled_from(["", "60%", "USD 1e308", "USD 300m", "-5%", "1,5m", "USD 1,5m", "nan",
                     "/srv/x", "../../x", "a/b", "..", "\x00", "CON", "x" * 200, "110%",
                     "99999999999999999999999999%", "USD 99999999999999999999bn", "inf%",
                     "2024=50%,2099=10%", "total=60%", "location", "all"]),
    st.text(max_size=20),
)
VALUES = st.one_of(
    NUMBERS, TEXTS, st.booleans(),
    st.lists(st.one_of(NUMBERS, TEXTS), max_size=3),
    st.dictionaries(st.text(max_size=8), st.one_of(NUMBERS, TEXTS), max_size=2),
)
RULE_KEYS = ["earmarks", "floors", "caps", "locks", "exclusions", "weights", "objective_bounds"]
SELECTOR_KEYS = ["location", "locations", "sector", "sectors", "objective", "objectives",
                 "year", "years"]


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        doc = doc[step]
    doc[path[-1]] = value


def _delete(doc: Any, path: tuple[Any, ...]) -> None:
    for step in path[:-1]:
        doc = doc[step]
    del doc[path[-1]]


@st.composite
def corrupted_docs(draw: st.DrawFn) -> dict[str, Any]:
    doc = tomllib.loads(to_toml(draw(st.sampled_from(SEEDS))))  # a deep copy
    funding = doc.setdefault("funding", {})
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(
            ["none", "set", "set", "delete", "unknown_key", "code", "code", "code", "rule",
             "rule", "name", "amount", "amount", "simulation"]))
        paths = _paths(doc)
        if kind == "set" and paths:
            _set(doc, draw(st.sampled_from(paths)), draw(VALUES))
        elif kind == "delete" and paths:
            _delete(doc, draw(st.sampled_from(paths)))
        elif kind == "unknown_key":
            target = draw(st.sampled_from([doc, funding if isinstance(funding, dict) else doc]))
            target[draw(st.sampled_from(["fundng", "florrs", "draw", "x", "Name"]))] = draw(VALUES)
        elif kind == "code" and isinstance(funding, dict):
            what = draw(st.sampled_from(list(FOREIGN)))
            code = draw(st.sampled_from(FOREIGN[what] + TINY_CODES[what]))
            rule = {draw(st.sampled_from([what, what + "s"])): code}
            table = draw(st.sampled_from(RULE_KEYS[:-1]))
            rule.update({"earmarks": {"amount": "USD 10"}, "locks": {"amount": "USD 5"},
                         "floors": {"share": 0.1}, "caps": {"factor": 0.9},
                         "weights": {"weight": 2}, "exclusions": {}}[table])
            rules = funding.get(table)
            funding[table] = ([*rules, rule] if isinstance(rules, list) else [rule])
        elif kind == "rule" and isinstance(funding, dict):
            table = draw(st.sampled_from(RULE_KEYS))
            funding[table] = draw(st.one_of(
                VALUES,
                st.lists(st.dictionaries(
                    st.sampled_from(["name", "amount", "share", "factor", "weight", "per",
                                     "objective", "min_share", "max_share", *SELECTOR_KEYS]),
                    st.one_of(NUMBERS, TEXTS, st.sampled_from(
                        [*LOCATIONS, *SECTORS, *OBJECTIVES, *YEARS]))),
                    max_size=3),
            ))
        elif kind == "simulation" and isinstance(doc.get("simulation"), dict):
            paths = _paths(doc["simulation"], ("simulation",))
            if paths:
                _set(doc, draw(st.sampled_from(paths)), draw(VALUES))
        elif kind == "name":
            doc["name"] = draw(st.one_of(TEXTS, NUMBERS))
        elif kind == "amount" and isinstance(funding, dict):
            funding["funding"] = draw(st.one_of(TEXTS, NUMBERS, st.fixed_dictionaries(
                {"years": st.dictionaries(st.sampled_from(["2024", "2025", "2099", "x"]),
                                          st.one_of(TEXTS, NUMBERS), max_size=2)})))
    return doc


@st.composite
def corrupted_bytes(draw: st.DrawFn, text: str) -> bytes:
    kind = draw(st.sampled_from(["utf8"] * 14 + ["bom", "utf16", "latin1", "truncate",
                                                   "garbage", "insert"]))
    data = text.encode("utf-8", "surrogatepass")
    if kind == "bom":
        return b"\xef\xbb\xbf" + data
    if kind == "utf16":
        return text.encode("utf-16")
    if kind == "latin1":
        return text.encode("latin-1", "replace") + draw(st.sampled_from([b"\xe9", b"\xff", b""]))
    if kind == "truncate":
        return data[: draw(st.integers(0, max(len(data) - 1, 0)))]
    if kind == "garbage":
        return draw(st.binary(max_size=200))
    if kind == "insert":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    return data


@st.composite
def scenario_files(draw: st.DrawFn) -> tuple[bytes, bytes | None, str]:
    """The main file's bytes, an optional parent file's bytes, and the main file's name."""
    doc = draw(corrupted_docs())
    parent: bytes | None = None
    link = draw(st.sampled_from(["none"] * 12 + ["parent", "missing", "self", "odd"]))
    if link == "parent":
        parent = draw(corrupted_bytes(to_toml(draw(corrupted_docs()))))
        doc = {"extends": "parent.toml", **doc}
    elif link == "missing":
        doc = {"extends": "no_such.toml", **doc}
    elif link == "self":
        doc = {"extends": "s.toml", **doc}
    elif link == "odd":
        doc = {"extends": draw(st.one_of(TEXTS, NUMBERS)), **doc}
    stem = draw(st.sampled_from(["s"] * 6 + ["my scenario", "s.v2"]))
    if link == "self":
        stem = "s"
    return draw(corrupted_bytes(to_toml(doc))), parent, stem


def _outcome(path: Path) -> str:
    """Load, check, allocate; 'ok' or the error's one line (any other exception escapes)."""
    try:
        scenario = load_scenario(path, draws=1)
        check_against_plan(scenario, PLAN)
        result = allocate(PLAN, scenario.funding)
    except InfeasibleScenarioError as exc:
        text = str(exc)
        assert text and "\n" not in text, text
        return text
    except ReachplanError as exc:
        text = str(exc)
        assert "\n" not in text, text
        assert str(path) in text or str(path.parent / "parent.toml") in text, text
        return text
    people = result.people_reached
    money = result.cells["allocated_usd"].to_numpy(dtype=float)
    assert math.isfinite(people) and people >= -1e-6, people
    assert np.all(np.isfinite(money)) and np.all(money >= -1e-6), money
    assert math.isfinite(result.funding_usd)
    return "ok"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.data_too_large])
@given(scenario_files())
def test_corrupted_scenario_files_end_well(files):
    main, parent, stem = files
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{stem}.toml"
        path.write_bytes(main)
        if parent is not None:
            (Path(tmp) / "parent.toml").write_bytes(parent)
        _outcome(path)


def test_the_seeds_allocate_on_the_tiny_plan():
    """Most seeds are usable as they are, so the corruptions start from working files."""
    ok = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, doc in enumerate(SEEDS):
            path = Path(tmp) / f"seed_{i}.toml"
            path.write_text(to_toml({**doc, "name": f"seed_{i}"}))
            ok += _outcome(path) == "ok"
    assert ok >= len(SEEDS) // 2
