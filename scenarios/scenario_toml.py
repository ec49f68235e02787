"""Writing funding rules back as a scenario file (TOML) that ``reachplan run`` reads unchanged.

:func:`funding_to_mapping` is the inverse of
:meth:`reachplan.model.funding.FundingScenario.from_mapping`: for every funding scenario a
file can state, ``FundingScenario.from_mapping(funding_to_mapping(f), src) == f``.
:func:`scenario_toml` lays that mapping out as a scenario file, in the shape of the shipped
ones (``scenarios/shortfall_60.toml``): top-level ``name``, ``description``, ``extends``,
``plan``, then the ``[funding]`` table.

Amounts are written as a planner would type them (``"60%"``, ``"USD 400m"``) whenever
that text reads back as the very same number; otherwise as the shortest exact decimal
(``"0.6123456789"``, ``"USD 1,234,567.891"``). Nothing is rounded: a file written here
gives the same allocation, to the last digit, as the rules it was written from.

Pure: nothing here reads or writes a file.
"""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import Decimal
from typing import Any

import tomli_w

from reachplan.model.funding import (
    SELECTOR_FIELDS,
    Amount,
    Envelope,
    FundingError,
    FundingScenario,
    Selector,
    parse_amount,
)
from reachplan.model.scenario import ScenarioError, check_name
from reachplan.scenarios.simulation_io import overlay

__all__ = ["amount_text", "funding_to_mapping", "number_text", "scenario_toml",
           "selector_to_mapping"]

_SUFFIXES = ((1.0, ""), (1e9, "bn"), (1e6, "m"), (1e3, "k"))
_FIELDS = SELECTOR_FIELDS  # (key, attribute): in the order a selector's keys are written


def number_text(x: float) -> str:
    """``x`` as the shortest positional decimal that ``float`` reads back as ``x`` (no exponent).

    ``number_text(1.2) == "1.2"``, ``number_text(1e-7) == "0.0000001"``, ``number_text(60.0)
    == "60"``.
    """
    text = format(Decimal(repr(float(x))), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _grouped(text: str) -> str:
    """A positional decimal with thousands separators in its whole part: ``1,234,567.5``."""
    whole, dot, frac = text.partition(".")
    return f"{int(whole):,}" + dot + frac


def _reads_as(text: str, amount: Amount) -> bool:
    try:
        back = parse_amount(text)
    except FundingError:
        return False
    return back.kind == amount.kind and back.value == amount.value


def amount_text(amount: Amount, *, commas: bool = True) -> str:
    """The text of ``amount`` that :func:`~reachplan.model.funding.parse_amount` reads back exactly.

    Parameters
    ----------
    amount
        A share or US dollars.
    commas
        Whether whole dollars may carry thousands separators (``"USD 1,234,567"``); off
        for text that goes into a ``--funding`` string, where a comma separates years.

    Returns
    -------
    str
        The shortest of the planner's forms that reads back as the identical number:
        a share as ``"60%"`` (else as the exact fraction ``"0.60000000001"``), dollars as
        ``"USD 400m"``, ``"USD 1.5bn"``, ``"USD 250k"`` or ``"USD 1,234,567.5"``.

    Notes
    -----
    A share above 100% can only be written as a percentage, and ``float(text) / 100``
    does not reach every float: for the rare share above 100% that no typed
    percentage gives (it never comes from a file, a command line or the page), the
    nearest percentage is written.
    """
    v = float(amount.value)
    if amount.kind == "share":
        best: str | None = None
        p = v * 100.0
        candidates = [p]
        lo = hi = p
        for _ in range(4):
            lo, hi = math.nextafter(lo, -math.inf), math.nextafter(hi, math.inf)
            candidates += [lo, hi]
        for c in candidates:
            if c < 0 or not math.isfinite(c):
                continue
            text = number_text(c) + "%"
            if _reads_as(text, amount) and (best is None or len(text) < len(best)):
                best = text
        if best is not None and (v > 1.0 or len(best) <= len(number_text(v)) + 3):
            return best
        if v <= 1.0:
            return number_text(v)
        return number_text(p) + "%"
    options = []
    for mult, suffix in _SUFFIXES:
        number = number_text(v / mult)
        if commas and not suffix:
            number = _grouped(number)
        text = f"USD {number}{suffix}"
        if _reads_as(text, amount):
            options.append(text)
    if options:
        return min(options, key=len)  # ties: whole dollars, then the larger unit
    return f"USD {number_text(v)}"  # float(positional repr) is exact: always reads back


def selector_to_mapping(selector: Selector) -> dict[str, Any]:
    """The selector keys of a rule table, the inverse of ``from_mapping``'s reading.

    Each key is written as the file spelled it (``sector`` or ``sectors``; plural when not
    known), one value as a scalar and several as a list; keys not set are left out (a
    rule on every line).
    """
    out: dict[str, Any] = {}
    for what, attr in _FIELDS:
        value = getattr(selector, attr)
        if value in ((), None):
            continue
        if isinstance(value, bool):
            out[selector.key_for(what)] = value
        else:  # one value as a scalar (``cluster = "PRO"``), as the shipped files write it
            out[selector.key_for(what)] = value[0] if len(value) == 1 else list(value)
    return out


def _envelope(envelope: Envelope) -> str | dict[str, Any]:
    if not envelope.carry_over:
        # the --funding text: a string replaces a parent's envelope whole through `extends`
        parts = [] if envelope.total is None else [amount_text(envelope.total, commas=False)]
        if envelope.per_year:
            if parts:
                parts[0] = "total=" + parts[0]
            parts += [f"{y}={amount_text(a, commas=False)}" for y, a in envelope.per_year]
        return ",".join(parts)
    table: dict[str, Any] = {}
    if envelope.total is not None:
        table["total"] = amount_text(envelope.total)
    table["years"] = {str(y): amount_text(a) for y, a in envelope.per_year}
    table["carry_over"] = True
    return table


def funding_to_mapping(funding: FundingScenario) -> dict[str, Any]:
    """The mapping :meth:`FundingScenario.from_mapping` reads back as ``funding``.

    Parameters
    ----------
    funding
        Any funding scenario a file can state.

    Returns
    -------
    dict
        Every key of the ``[funding]`` table, set or not (empty lists too), so that a file
        that extends another inherits none of its funding rules; ``max_year_fall`` only
        when set (:func:`scenario_toml` writes ``false`` for "none" under ``extends``).
        The envelope is the ``--funding`` text (``"60%"``, ``"total=USD 900m,2024=50%"``)
        without carry-over, else the table ``{total, years, carry_over}``. Only plain
        TOML types (str, float, int, bool, list, dict).
    """
    out: dict[str, Any] = {}
    if funding.name:
        out["name"] = funding.name
    out["funding"] = _envelope(funding.envelope)
    out["objective"] = funding.objective
    out["earmarks"] = [{"name": e.name, "amount": amount_text(e.amount),
                        **selector_to_mapping(e.selector)} for e in funding.earmarks]
    out["floors"] = [{"name": f.name, "share": float(f.share), "per": f.per,
                      **selector_to_mapping(f.selector)} for f in funding.floors]
    out["caps"] = [{"factor": float(c.factor), **selector_to_mapping(c.selector)}
                   for c in funding.caps]
    out["default_cap"] = float(funding.default_cap)
    out["objective_bounds"] = [{"objective": b.objective, "min_share": float(b.min_share),
                                "max_share": float(b.max_share)}
                               for b in funding.objective_bounds]
    if funding.max_year_fall is not None:
        out["max_year_fall"] = float(funding.max_year_fall)
    out["locks"] = [{"name": lk.name, "amount": amount_text(lk.amount),
                     **selector_to_mapping(lk.selector)} for lk in funding.locks]
    out["exclusions"] = [selector_to_mapping(s) for s in funding.exclusions]
    out["weights"] = [{"weight": float(w.weight), **selector_to_mapping(w.selector)}
                      for w in funding.weights]
    return out


def scenario_toml(
    funding: FundingScenario,
    *,
    name: str,
    description: str,
    extends: str | None,
    plan: str | None,
    inherited: FundingScenario | None = None,
) -> str:
    """A scenario file stating ``funding``, as text (UTF-8 TOML).

    Parameters
    ----------
    funding
        The rules.
    name
        The scenario's name (the run folder: letters, digits, ``_ - .``). Loading the file
        gives ``funding`` with this ``name``.
    description
        One or two sentences for the report.
    extends
        A scenario the file builds on (``"shortfall_60"``, or a file path relative to
        where the file will be saved), for its ``draws``, ``seed`` and ``[simulation]``;
        every ``[funding]`` key is still written, so none of its funding rules apply.
    plan
        The plan the scenario is about (path relative to where the file will be saved);
        ``None``: the shipped default plan, or the plan of ``extends``.
    inherited
        The funding rules ``extends`` leads to, when known: the file is then checked to
        read back as ``funding`` once laid over them (``extends`` merges tables key by
        key). "No year-to-year continuity rule" is written ``max_year_fall = false``
        whenever ``extends`` is given, so a parent's rule never leaks in. What still
        cannot be said is an envelope with carry-over laid over a parent whose envelope
        is a table too: a ``total`` or a year the file leaves out would be taken from
        the parent (no shipped scenario extends into that); given ``inherited``, such a
        file raises instead of being written wrong.

    Raises
    ------
    ScenarioError
        When ``name`` cannot name a scenario, or (with ``inherited``) when the file would
        not read back as ``funding`` over the parent's rules.
    """
    problem = check_name(name)
    if problem:
        raise ScenarioError(problem, file="the exported scenario", key="name")
    mapping = funding_to_mapping(funding)
    mapping.pop("name", None)  # the file's `name` names the rules
    if extends is not None and funding.max_year_fall is None:
        # `false`: no continuity rule, whatever the parent says
        mapping["max_year_fall"] = False
    if extends is not None and inherited is not None:
        _check_nothing_inherited(funding, inherited, extends)
    doc: dict[str, Any] = {"name": name, "description": description}
    if extends is not None:
        doc["extends"] = extends
    if plan is not None:
        doc["plan"] = plan
    doc["funding"] = mapping
    return tomli_w.dumps(doc)


def _check_nothing_inherited(funding: FundingScenario, inherited: FundingScenario,
                             extends: str) -> None:
    """Raise when ``funding``'s mapping, laid over ``inherited``'s, reads as other rules."""
    mapping = funding_to_mapping(funding)
    if funding.max_year_fall is None:
        mapping["max_year_fall"] = False
    mapping.pop("name", None)
    merged = overlay(funding_to_mapping(inherited), mapping)
    back = FundingScenario.from_mapping(merged, "the exported scenario")
    if replace(back, name=funding.name) == funding:
        return
    if back.envelope != funding.envelope:
        raise ScenarioError(
            f"the money available would read as '{replace(back, name='').describe()}' once "
            f"laid over {extends}'s: give a total and every year, or write the file "
            "without extends",
            file="the exported scenario", key="funding.funding",
        )
    raise ScenarioError(  # pragma: no cover - every other key is written whole
        f"the rules would not read back the same once laid over {extends}'s; write the "
        "file without extends",
        file="the exported scenario", key="funding",
    )
