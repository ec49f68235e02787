"""Reading scenario files (TOML), with ``extends`` and strict keys.

A scenario file has top-level keys ``name``, ``description``, ``extends``,
``plan``, ``draws`` and ``seed``, a ``[funding]`` table (see
:meth:`model.funding.FundingScenario.from_mapping`) and a ``[simulation]``
table laid over the shipped simulation defaults. ``extends = "other.toml"``
(relative to the file) starts from another scenario: tables merge key by key,
arrays and distributions are replaced whole, and the extending file's values
win. An unknown or mistyped key anywhere is an error naming the file and key.

Files are UTF-8 (a byte-order mark is accepted); anything else (UTF-16, latin-1,
binary) is an error naming the file. The scenario's ``name`` becomes a folder under
``--out/runs/``, so it must be a safe name (see :func:`check_name`): names are
rejected, never rewritten. :func:`check_against_plan` checks a loaded scenario's rules
against the plan it will run on, before any LP is built.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from reachplan.model.funding import Envelope, FundingError, FundingScenario, Selector
from reachplan.model.plan import Plan
from reachplan.model.scenario import Scenario, ScenarioError, check_name
from reachplan.model.selection import lines_of_plan, selects_money, with_descendants
from reachplan.model.simulation import AssumptionError
from reachplan.scenarios.simulation_io import DEFAULT_SIMULATION_FILE, overlay, parse_simulation

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


MAX_FILE_BYTES = 1_000_000
"""Largest scenario file read (a real one is a few kilobytes)."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def suite_paths() -> list[Path]:
    """Paths of the shipped scenario suite."""
    return [SCENARIO_DIR / f"{name}.toml" for name in SUITE]


def resolve_scenario_path(text: str | Path) -> Path:
    """A path as given, or the name of a shipped scenario (``shortfall_50``)."""
    path = Path(text)
    try:
        if path.exists() or path.suffix == ".toml" or "/" in str(text):
            return path
        shipped = SCENARIO_DIR / f"{text}.toml"
        return shipped if shipped.exists() else path
    except (OSError, ValueError):  # a NUL or an over-long name: reading it will say so
        return path


def _extended_path(current: Path, parent: object) -> Path:
    """The file ``extends = parent`` names: relative to ``current``, or a shipped scenario.

    A bare name (``"shortfall_60"``, no folder, no ``.toml``) that is not a file beside
    ``current`` is the shipped scenario of that name, so a planner's own scenario can extend
    the shipped rules from any folder.
    """
    beside = current.parent / str(parent)
    text = str(parent)
    if not beside.exists() and "/" not in text and "\\" not in text and not text.endswith(".toml"):
        return resolve_scenario_path(text)
    return resolve_scenario_path(beside)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _decode(raw: bytes, path: Path) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ScenarioError(
            "the file is saved as UTF-16; save it as UTF-8 (in most editors: "
            "'Save as', encoding UTF-8)", file=str(path),
        )
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ScenarioError(
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}); "
            "save the file as UTF-8", file=str(path),
        ) from None


def _read(path: Path, extended_by: Path | None = None) -> tuple[dict[str, Any], bytes]:
    """The parsed file and its bytes.

    A file that cannot be opened is blamed on the ``extends`` key of ``extended_by``
    when it was named there; a file that opens but is not a scenario is blamed on itself.
    """

    def cannot(reason: str) -> ScenarioError:
        if extended_by is None:
            name = str(path)
            return ScenarioError(reason, file=repr(name) if _CONTROL.search(name) else name)
        return ScenarioError(f"{reason}: {_show(str(path))}", file=str(extended_by),
                             key="extends")

    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise cannot("no such scenario file") from None
    except IsADirectoryError:
        raise cannot("is a folder, not a scenario file") from None
    except OSError as exc:
        raise cannot(f"cannot read ({exc.strerror or exc})") from None
    except ValueError:  # a NUL in the path
        raise cannot("not a usable file name") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioError(
            f"larger than {MAX_FILE_BYTES:,} bytes; a scenario file is a few kilobytes",
            file=str(path),
        )
    text = _decode(raw, path)
    try:
        return tomllib.loads(text), raw
    except tomllib.TOMLDecodeError as exc:
        message = " ".join(str(exc).split())
        raise ScenarioError(f"not valid TOML: {message}", file=str(path)) from None
    except RecursionError:
        raise ScenarioError("not valid TOML: nested too deeply", file=str(path)) from None


def _check_top(doc: dict[str, Any], path: Path) -> None:
    for key in doc:
        if key not in TOP_LEVEL:
            close = difflib.get_close_matches(key, TOP_LEVEL, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ScenarioError(
                f"unknown key{hint} (known: {', '.join(TOP_LEVEL)})",
                file=str(path), key=_show(key).strip("'\""),
            )
    for table in ("funding", "simulation"):
        if table in doc and not isinstance(doc[table], dict):
            raise ScenarioError(
                f"must be a table ([{table}]), got {_show(doc[table])}", file=str(path), key=table
            )
    for key in ("extends", "plan"):
        if key in doc:
            problem = _path_problem(doc[key])
            if problem:
                raise ScenarioError(problem, file=str(path), key=key)


def _path_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return f"must be a file or folder path (a string), got {_show(value)}"
    if not value.strip():
        return "must not be empty"
    if _CONTROL.search(value):
        return f"{_show(value)} contains a control character (NUL, tab, newline...)"
    if len(value) > 4096:
        return "is longer than any real path"
    return None


def _chain(path: Path) -> list[tuple[Path, dict[str, Any], bytes]]:
    """The file and every file it extends, the file itself first."""
    chain: list[tuple[Path, dict[str, Any], bytes]] = []
    seen: set[Path] = set()
    current: Path | None = path
    child: Path | None = None
    while current is not None:
        try:
            resolved = current.resolve()
        except (OSError, ValueError, RuntimeError):
            resolved = current
        if resolved in seen:
            cycle = " -> ".join(str(p) for p, _, _ in chain) + f" -> {current}"
            raise ScenarioError(
                f"'extends' goes round in a circle: {cycle}", file=str(path), key="extends"
            )
        seen.add(resolved)
        doc, raw = _read(current, child)
        _check_top(doc, current)
        chain.append((current, doc, raw))
        parent = doc.get("extends")
        child = current
        current = None if parent is None else _extended_path(current, parent)
    return chain


def _origins(chain: Sequence[tuple[Path, dict[str, Any], bytes]]) -> dict[str, str]:
    origins: dict[str, str] = {}
    for file, doc, _ in reversed(chain):
        for key, value in doc.items():
            origins[key] = str(file)
            if key == "funding" and isinstance(value, dict):
                for sub in value:
                    origins[f"funding.{sub}"] = str(file)
    return origins


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

    Returns
    -------
    Scenario
        ``name`` is the file's own ``name`` (never inherited through ``extends``;
        without one, the file name without ``.toml``), checked by :func:`check_name`.
        ``plan`` is resolved against the file that states it and must exist.

    Raises
    ------
    ScenarioError
        Naming the file and key of the first problem.
    """
    p = resolve_scenario_path(path)
    chain = _chain(p)
    merged: dict[str, Any] = {}
    for _, doc, _ in reversed(chain):
        merged = overlay(merged, {k: v for k, v in doc.items() if k != "extends"})
    origins = _origins(chain)
    source = str(p)
    name = chain[0][1].get("name", p.stem)
    problem = check_name(name)
    if problem:
        if "name" not in chain[0][1]:
            problem = f"no 'name' given, and the file name {problem}; add name = \"...\""
        raise ScenarioError(problem, file=source, key="name")
    description = merged.get("description", "")
    if not isinstance(description, str):
        raise ScenarioError(
            f"must be a string, got {_show(description)}", file=source, key="description"
        )
    n_draws = merged.get("draws", 1000) if draws is None else draws
    if isinstance(n_draws, bool) or not isinstance(n_draws, int) or n_draws < 1:
        raise ScenarioError("must be a whole number of at least 1", file=source, key="draws")
    run_seed = merged.get("seed", 0) if seed is None else seed
    if isinstance(run_seed, bool) or not isinstance(run_seed, int) or run_seed < 0:
        raise ScenarioError("must be a non-negative whole number", file=source, key="seed")
    plan = merged.get("plan")
    if plan is not None:
        plan = _plan_path(plan, Path(origins.get("plan", source)), source)
    funding_table = merged.get("funding")
    if funding_table is None:
        raise ScenarioError(
            'missing [funding] table (at least: funding = "60%")', file=source, key="funding"
        )
    try:
        funding = FundingScenario.from_mapping({"name": name, **funding_table}, source)
    except FundingError as exc:
        key = "funding" + (f".{exc.key}" if exc.key else "")
        raise ScenarioError(exc.message, file=source, key=key) from None
    try:
        defaults = tomllib.loads(DEFAULT_SIMULATION_FILE.read_text())["simulation"]
        sim_table = overlay(defaults, merged.get("simulation", {}))
        _check_dist_names(sim_table, "simulation", source)
        digest = hashlib.sha256(b"".join(raw for _, _, raw in chain)).hexdigest()
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
        files=tuple(str(f) for f, _, _ in chain),
        sha256=digest,
        origins=tuple(sorted(origins.items())),
    )


def _check_dist_names(table: Any, key: str, source: str) -> None:
    """A distribution's ``dist`` must be text (the simulation reader compares it by value)."""
    if not isinstance(table, dict):
        return
    if "dist" in table and not isinstance(table["dist"], str):
        raise ScenarioError(
            f"must be the name of a distribution (text), got {_show(table['dist'])}",
            file=source, key=f"{key}.dist",
        )
    for sub, value in table.items():
        _check_dist_names(value, f"{key}.{sub}", source)


def _plan_path(value: str, stated_in: Path, source: str) -> str:
    """The plan path, resolved against the file that states it; it must exist."""
    try:
        resolved = (stated_in.parent / value).resolve()
        exists = resolved.exists()
    except (OSError, ValueError, RuntimeError) as exc:
        raise ScenarioError(f"{_show(value)} is not a usable path ({exc})", file=source,
                            key="plan") from None
    if not exists:
        where = "" if str(stated_in) == source else f" (stated in {stated_in})"
        raise ScenarioError(
            f"no plan folder or workbook at {resolved}{where}", file=source, key="plan"
        )
    return str(resolved)


# ---- the scenario against its plan ------------------------------------------------------

_RULES = ("earmarks", "floors", "caps", "locks", "exclusions", "weights")


def check_against_plan(scenario: Scenario, plan: Plan) -> None:
    """Check that every rule of a scenario fits the plan it will run on.

    Call it right after loading the plan and the scenario, before any LP is built.

    Raises
    ------
    ScenarioError
        ``file`` is the scenario's own file and ``key`` the rule's key (for example
        ``funding.floors[2].sectors``) when a rule names a location, sector, objective or
        year the plan does not have (the message lists the plan's codes), when an
        earmark or lock selects no requirement line, when the earmarks add up to more
        than the money available, or when a minimum objective share asks for an
        objective without requirements. When the rule was set in a file the scenario
        extends, the message says which.
    """
    check_funding_against_plan(
        scenario.funding,
        plan,
        file=scenario.files[0] if scenario.files else scenario.name,
        origin=scenario.origin,
    )


def check_funding_against_plan(
    funding: FundingScenario,
    plan: Plan,
    *,
    file: str,
    origin: Any = None,
) -> None:
    """:func:`check_against_plan` for funding rules alone (e.g. with a ``--funding`` envelope).

    Parameters
    ----------
    funding
        The rules.
    plan
        The plan.
    file
        The scenario file the rules came from, named in the error.
    origin
        ``key -> file`` for rules set in an extended file (:meth:`Scenario.origin`).
    """
    codes = _PlanCodes(plan)

    def fail(key: str, message: str) -> None:
        table = key.split("[")[0].split(".")[:2]
        stated = origin(".".join(table)) if origin is not None else file
        if stated != file:
            message += f" (set in {stated}, which this scenario extends)"
        raise ScenarioError(message, file=file, key=key)

    try:
        check_envelope_against_plan(funding.envelope, plan)
    except FundingError as exc:
        fail("funding.funding", exc.message)
    for table in _RULES:
        for i, rule in enumerate(getattr(funding, table)):
            selector = rule if isinstance(rule, Selector) else rule.selector
            base = f"funding.{table}[{i}]"
            label = rule_label(table, i, getattr(rule, "name", None))
            problem = codes.unknown(selector)
            if problem:
                what, message = problem
                fail(f"{base}.{selector.key_for(what)}", f"{label}: {message}")
            if not selects_money(codes.lines, selector):
                key, message = codes.empty(selector)
                if table in ("earmarks", "locks") and rule.amount.value > 0:
                    message += f", so its {rule.amount} cannot be spent"
                fail(f"{base}.{selector.key_for(key)}" if key else base, f"{label}: {message}")
    for i, bound in enumerate(funding.objective_bounds):
        base = f"funding.objective_bounds[{i}]"
        if bound.objective not in codes.objectives:
            fail(f"{base}.objective", codes.unknown_message("objective", bound.objective,
                                                             codes.objectives, ()))
        if bound.min_share > 0 and not codes.money(Selector(objectives=(bound.objective,))):
            fail(f"{base}.min_share", f"objective {bound.objective} has no requirement in "
                 f"the plan, so no money can serve it: a minimum share of "
                 f"{bound.min_share:.0%} would leave everything unallocated")
    bounded = {b.objective: b.max_share for b in funding.objective_bounds}
    funded = [o for o in codes.objectives if codes.money(Selector(objectives=(o,)))]
    if funded and all(o in bounded for o in funded) and sum(
            bounded[o] for o in funded) < 1.0 - 1e-9:
        fail("funding.objective_bounds", "the max_share of the plan's objectives add up to "
             f"{sum(bounded[o] for o in funded):.0%}: every dollar serves one of them, so "
             "only part of the money could ever be allocated")
    available = codes.available(funding.envelope)
    earmarked = sum(e.amount.usd(codes.appeal) for e in funding.earmarks)
    if funding.earmarks and earmarked > available * (1 + 1e-9):
        fail("funding.earmarks", f"the earmarks add up to USD {earmarked:,.0f}, more than "
             f"the USD {available:,.0f} available")


def check_envelope_against_plan(envelope: Envelope, plan: Plan) -> None:
    """Check that a per-year envelope names only years the plan has.

    Raises
    ------
    FundingError
        Naming the year and the plan's years (no file: the caller knows where the
        envelope came from, e.g. ``--funding`` or a scenario file).
    """
    years = [int(y) for y in plan.years]
    for year, _ in envelope.per_year:
        if year not in years:
            raise FundingError(
                f"funding for {year}, which the plan does not have (its years: "
                f"{', '.join(map(str, years))})"
            )


def rule_label(table: str, index: int, name: str | None = None) -> str:
    """A rule in planner words: ``floor 'protection' ([[funding.floors]] #2)``.

    ``index`` counts from 0; the label counts from 1, as a reader counts the blocks.
    """
    block = f"[[funding.{table}]] #{index + 1}"
    if not name:
        return block
    kind = {"earmarks": "earmark", "floors": "floor", "locks": "lock"}.get(table, "rule")
    return f"{kind} {name!r} ({block})"


def _listed(values: Sequence[object]) -> str:
    return ", ".join(map(str, values[:8])) + (f", ... ({len(values)} in all)"
                                              if len(values) > 8 else "")


class _PlanCodes:
    """The codes a plan has, and its lines as a selector sees them (model.selection)."""

    def __init__(self, plan: Plan) -> None:
        self.lines = lines_of_plan(plan)
        self.locs = self.lines.locations.astype(str)
        self.years = self.lines.years
        self.req = self.lines.requirement_usd
        self.appeal = float(self.req.sum())
        self.locations = _unique(self.locs)
        self.sectors = _unique(self.lines.sectors.astype(str))
        self.plan_years = sorted({int(y) for y in self.years})
        self.objectives = [str(o) for o in plan.objectives_index]
        self.declared = {
            "location": {str(c) for c in plan.locations_index},
            "sector": {str(c) for c in plan.sectors_index},
        }

    def unknown(self, selector: Selector) -> tuple[str, str] | None:
        parents = self.lines.tags.parents
        for what, given, have in (
            ("location", selector.location_codes, self.locations),
            ("sector", selector.sector_codes, self.sectors),
            ("objective", selector.objectives, self.objectives),
            ("year", selector.years, self.plan_years),
        ):
            for code in given:
                if what == "location" and with_descendants((code,), parents) & set(have):
                    continue
                if code not in have:
                    declared = self.declared.get(what, ())
                    return what, self.unknown_message(what, code, have, declared)
        return None

    def empty(self, selector: Selector) -> tuple[str | None, str]:
        """The key that selects nothing on its own (``None``: only together) and why."""
        lines = self.lines
        has = self.req > 0
        for what in selector.keys():
            if selects_money(lines, selector.only(what)):
                continue
            if what == "cluster":
                have = _unique(lines.tags.cluster[has & (lines.tags.cluster != "")].astype(str))
                given = "/".join(selector.clusters)
                return what, (f"no sector with requirements has IASC cluster {given} ("
                              + (f"the plan's clusters: {_listed(have)}" if have else
                                 "the plan's sectors have no iasc_cluster") + ")")
            if what == "location_kind":
                have = _unique(lines.tags.location_kind[has].astype(str))
                return what, (f"no location with requirements is of kind "
                              f"{'/'.join(selector.location_kinds)} (the plan's kinds: "
                              f"{_listed([k or '(blank)' for k in have])})")
            if what in ("tier", "life_saving"):
                share = lines.tier_share[has].sum(axis=0)
                have = [t for t in (1, 2, 3) if share[t - 1] > 0]
                asked = ("life-saving (tier 1)" if selector.life_saving else
                         "in tiers 2-3 (not life-saving)") if what == "life_saving" else (
                    "in tier " + "/".join(map(str, selector.tiers)))
                return what, (f"no requirement money is {asked} (the plan's tiers: "
                              f"{_listed(have)}; a line's tier is its sector's tier, else its "
                              "objective's, blank = 2)")
            if what == "enabler":
                return what, ("the plan has no enabler line (a sector with output 'enabler' "
                              "or a location of kind 'regional')" if selector.enabler else
                              "every line of the plan is an enabler line")
            return what, f"{selector.only(what).describe()} has no requirement in the plan"
        return None, (f"{selector.describe()}: selects no requirement line of the plan "
                      f"(keys {', '.join(selector.keys())} together)")

    @staticmethod
    def unknown_message(what: str, code: object, have: Sequence[object],
                        declared: Iterable[str]) -> str:
        if code in declared:
            return f"{what} {code!r} has no requirement line in the plan"
        listed = _listed(have)
        hint = ""
        if isinstance(code, str):
            by_upper = {str(h).upper(): str(h) for h in have}
            close = difflib.get_close_matches(code.upper(), list(by_upper), n=1)
            if close:
                hint = f"; did you mean {by_upper[close[0]]!r}?"
        return f"the plan has no {what} {_show(code)}{hint} (its {what}s: {listed})"

    def money(self, selector: Selector) -> bool:
        """Whether the selector picks any requirement money."""
        return selects_money(self.lines, selector)

    def available(self, envelope: Envelope) -> float:
        """The money of the envelope in USD (the total or the years' sum, the lesser)."""
        values = []
        if envelope.total is not None:
            values.append(envelope.total.usd(self.appeal))
        if envelope.per_year:
            given = dict(envelope.per_year)
            values.append(sum(given[y].usd(float(self.req[self.years == y].sum()))
                              for y in self.plan_years if y in given))
        return float(min(values)) if values else 0.0


def _unique(values: np.ndarray) -> list[str]:
    return list(dict.fromkeys(values.tolist()))
