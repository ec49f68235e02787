"""Reading scenario files (TOML), with ``extends`` and strict keys.

A scenario file has top-level keys ``name``, ``description``, ``extends``,
``plan``, ``draws`` and ``seed``, a ``[funding]`` table (see
:meth:`model.funding.FundingScenario.from_mapping`) and a ``[simulation]``
table laid over the shipped simulation defaults. ``extends = "other.toml"``
(relative to the file) starts from another scenario: tables merge key by key,
arrays and distributions are replaced whole, and the extending file's values
win. An unknown or mistyped key anywhere is an error naming the file and key.
"""

from __future__ import annotations

import difflib
import hashlib
import tomllib
from pathlib import Path
from typing import Any

from model.displacement import AssumptionError
from model.funding import FundingError, FundingScenario
from model.scenario import Scenario, ScenarioError
from scenarios.simulation_io import DEFAULT_SIMULATION_FILE, overlay, parse_simulation

SCENARIO_DIR = Path(__file__).resolve().parent
SUITE = (
    "full_funding",
    "shortfall_75",
    "shortfall_60",
    "shortfall_50",
    "shortfall_30",
    "front_loaded",
    "back_loaded",
    "catastrophic_surge",
    "tp_ends_2025",
    "baltic_influx",
    "returns_pick_up",
    "heavily_earmarked",
)
"""The shipped scenario suite, in report order (files ``scenarios/<name>.toml``)."""

TOP_LEVEL = ("name", "description", "extends", "plan", "draws", "seed", "funding", "simulation")


def suite_paths() -> list[Path]:
    """Paths of the shipped scenario suite."""
    return [SCENARIO_DIR / f"{name}.toml" for name in SUITE]


def resolve_scenario_path(text: str | Path) -> Path:
    """A path as given, or the name of a shipped scenario (``shortfall_50``)."""
    path = Path(text)
    if path.exists() or path.suffix == ".toml" or "/" in str(text):
        return path
    shipped = SCENARIO_DIR / f"{text}.toml"
    return shipped if shipped.exists() else path


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ScenarioError("no such scenario file", file=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"not valid TOML: {exc}", file=str(path)) from None
    except OSError as exc:
        raise ScenarioError(f"cannot read ({exc.strerror})", file=str(path)) from None


def _check_top(doc: dict[str, Any], path: Path) -> None:
    for key in doc:
        if key not in TOP_LEVEL:
            close = difflib.get_close_matches(key, TOP_LEVEL, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ScenarioError(
                f"unknown key{hint} (known: {', '.join(TOP_LEVEL)})", file=str(path), key=key
            )
    for table in ("funding", "simulation"):
        if table in doc and not isinstance(doc[table], dict):
            raise ScenarioError("must be a table", file=str(path), key=table)


def _chain(path: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The file and every file it extends, the file itself first."""
    chain: list[tuple[Path, dict[str, Any]]] = []
    seen: set[Path] = set()
    current: Path | None = path
    while current is not None:
        resolved = current.resolve()
        if resolved in seen:
            cycle = " -> ".join(str(p) for p, _ in chain) + f" -> {current}"
            raise ScenarioError(
                f"'extends' goes round in a circle: {cycle}", file=str(path), key="extends"
            )
        seen.add(resolved)
        doc = _read(current)
        _check_top(doc, current)
        chain.append((current, doc))
        parent = doc.get("extends")
        if parent is None:
            current = None
        elif not isinstance(parent, str):
            raise ScenarioError("must be a file name (string)", file=str(current), key="extends")
        else:
            current = resolve_scenario_path(current.parent / parent)
    return chain


def load_scenario(
    path: str | Path, *, draws: int | None = None, seed: int | None = None
) -> Scenario:
    """Read, merge and validate a scenario file.

    Parameters
    ----------
    path
        The scenario file, or the name of a shipped scenario.
    draws, seed
        Overrides from the command line.

    Raises
    ------
    ScenarioError
        Naming the file and key of the first problem.
    """
    p = resolve_scenario_path(path)
    chain = _chain(p)
    merged: dict[str, Any] = {}
    for _, doc in reversed(chain):
        merged = overlay(merged, {k: v for k, v in doc.items() if k != "extends"})
    source = str(p)
    name = merged.get("name", p.stem)
    if not isinstance(name, str) or not name.strip():
        raise ScenarioError("must be a non-empty string", file=source, key="name")
    description = merged.get("description", "")
    if not isinstance(description, str):
        raise ScenarioError("must be a string", file=source, key="description")
    n_draws = merged.get("draws", 1000) if draws is None else draws
    if isinstance(n_draws, bool) or not isinstance(n_draws, int) or n_draws < 1:
        raise ScenarioError("must be a whole number of at least 1", file=source, key="draws")
    run_seed = merged.get("seed", 0) if seed is None else seed
    if isinstance(run_seed, bool) or not isinstance(run_seed, int) or run_seed < 0:
        raise ScenarioError("must be a non-negative whole number", file=source, key="seed")
    plan = merged.get("plan")
    if plan is not None:
        if not isinstance(plan, str):
            raise ScenarioError("must be a path (string)", file=source, key="plan")
        plan = str((p.parent / plan).resolve())
    funding_table = merged.get("funding")
    if funding_table is None:
        raise ScenarioError(
            'missing [funding] table (at least: funding = "60%")', file=source, key="funding"
        )
    try:
        funding = FundingScenario.from_mapping({"name": name, **funding_table}, source)
    except FundingError as exc:
        raise ScenarioError(_strip_source(str(exc), source), file=source, key="funding") from None
    try:
        defaults = tomllib.loads(DEFAULT_SIMULATION_FILE.read_text())["simulation"]
        sim_table = overlay(defaults, merged.get("simulation", {}))
        digest = hashlib.sha256(b"".join(f.read_bytes() for f, _ in chain)).hexdigest()
        simulation = parse_simulation(sim_table, file=source, digest=digest)
    except AssumptionError as exc:
        raise ScenarioError(
            exc.message if hasattr(exc, "message") else str(exc),
            file=source,
            key=getattr(exc, "key", None),
        ) from None
    return Scenario(
        name=name,
        description=description,
        funding=funding,
        simulation=simulation,
        draws=n_draws,
        seed=run_seed,
        plan=plan,
        files=tuple(str(f) for f, _ in chain),
        sha256=digest,
    )


def _strip_source(message: str, source: str) -> str:
    prefix = f"{source}: "
    while message.startswith(prefix):
        message = message[len(prefix) :]
    return message
