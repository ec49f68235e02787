"""The what-if page's settings as one value, to and from funding rules and the URL.

:class:`WhatIfState` holds what the planner typed and clicked, as typed (``"USD 50m"``,
``"25%"``): the page shows it back unchanged, and a bad entry is reported next to its
control, never silently rounded. :func:`state_to_funding` turns it into the
:class:`~reachplan.model.funding.FundingScenario` the solver runs, raising
:class:`ControlError` naming the control at fault; :func:`state_from_funding` is the
starting state of a scenario. :func:`state_to_query` / :func:`state_from_query` carry the
state in the page's URL, so a link reopens the same what-if.

The URL is readable: ``?funding=60%25&year=2025~USD+300m&carry=1&objective=headcount
&rule=earmark~Shelter~USD+50m~sector:SHELTER_NFI,location:UKR
&rule=floor~protection~40%25~cluster:PRO~location&exclude=UKR|HEALTH|2026
&lock=POL|WASH|2024=USD+1.5m``. A rule is ``kind~name~value~selector[~per]``, and a rule
switched off (kept on the page, not applied) is ``kind~name~value~selector~per~off`` (its
``per`` always written, so the marker is never read as one; a link without the marker
reads as on); a selector
is ``key:value`` items joined by commas (``location``, ``location_kind``, ``sector``,
``cluster``, ``objective``, ``tier``, ``life_saving``, ``enabler``, ``year``; a key repeats
for several values); a ``\\`` escapes a ``~ , : \\`` inside a field. It never holds a file
path: the plan and the starting scenario are chosen on the command line.

What the page does not edit (objective weights, objective share bounds, year-to-year
continuity, the default absorption factor) stays in the base scenario and passes through.

Pure: no I/O.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote_plus, urlencode

from reachplan.model.errors import ReachplanError
from reachplan.model.funding import (
    LOCATION_KINDS,
    MAX_CAP_FACTOR,
    OBJECTIVE_MODES,
    SELECTOR_FIELDS,
    Amount,
    Cap,
    Earmark,
    Envelope,
    Floor,
    FundingError,
    FundingScenario,
    Lock,
    Selector,
    parse_amount,
)
from reachplan.model.plan import Plan
from reachplan.model.scenario import ScenarioError
from reachplan.scenarios.scenario_io import (
    check_envelope_against_plan,
    check_funding_against_plan,
    rule_label,
)
from reachplan.scenarios.scenario_toml import amount_text, number_text

__all__ = [
    "RULE_KINDS",
    "ControlError",
    "RuleSetting",
    "WhatIfState",
    "describe_rule",
    "rule_sentence",
    "exclude_line",
    "line_key",
    "line_status",
    "lock_line",
    "release_line",
    "state_from_funding",
    "state_from_query",
    "state_to_funding",
    "state_to_query",
]

RULE_KINDS = ("earmark", "floor", "cap", "lock", "exclude")
"""The kinds of rule the page edits."""
FLOOR_PER = ("all", "location", "sector", "cell")
"""How a floor groups its lines (:class:`~reachplan.model.funding.Floor`)."""
MAX_QUERY_CHARS = 20_000
"""Longest URL state read (a page with a hundred rules is a few thousand characters)."""
MAX_RULES = 500
"""Most rules, locked and excluded lines (each) read from a URL."""
_SOURCE = "the what-if page"
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


class ControlError(ReachplanError, ValueError):
    """A control of the page holds something the planner must fix.

    Parameters
    ----------
    control
        The id of the page control at fault (``"funding-amount"``, ``"year-amount-2025"``,
        ``"rule-value-2"``, ``"rule-selector-0"``, ``"line-table"``, ``"url"``...).
    message
        What is wrong, in planner words, shown next to the control.
    """

    def __init__(self, control: str, message: str) -> None:
        super().__init__(message)
        self.control = control
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class RuleSetting:
    """One rule as the planner set it on the page.

    Attributes
    ----------
    kind
        ``"earmark"``, ``"floor"``, ``"cap"``, ``"lock"`` or ``"exclude"``.
    name
        The rule's name (earmarks, floors and locks; empty: ``"earmark 2"``...).
    value
        As typed: an amount for an earmark (``"USD 50m"``, ``"25%"`` of the appeal) or
        a lock (``"USD 50m"``, ``"100%"`` of the lines' requirement), a share for a floor
        (``"50%"``, ``"0.5"``), an absorption factor for a cap (``"1.2"``, ``"120%"``),
        ignored for an exclusion.
    selector
        The lines the rule is about.
    per
        Floors only: ``"all"``, ``"location"``, ``"sector"`` or ``"cell"``.
    on
        Whether the rule is applied. A rule switched off stays on the page (and in the
        link) as set, so it can be switched back on, but the funding rules, the solve and
        the exported scenario leave it out (:func:`state_to_funding`).
    """

    kind: str
    name: str
    value: str
    selector: Selector
    per: str = "all"
    on: bool = True


@dataclass(frozen=True)
class WhatIfState:
    """Everything the planner has set on the page.

    Attributes
    ----------
    funding
        The money over all plan years, as typed (``"60%"`` of the appeal, ``"USD 900m"``);
        empty: no total beyond the years' envelopes.
    years
        ``(year, amount)`` per-year envelopes as typed (a share is of that year's
        requirement); an empty amount leaves the year out. When any year has an amount,
        a year left out receives nothing (as ``--funding 2024=50%``).
    carry_over
        Whether money unspent in one year can be spent later.
    rules
        Earmarks, floors, caps, locks and exclusions, in the order shown.
    objective
        ``"priority"`` or ``"headcount"``.
    locked
        Lines clicked in the table and kept at an amount: ``"LOC|SECTOR|YEAR=AMOUNT"``
        (see :func:`lock_line`).
    excluded
        Lines clicked in the table and given nothing: ``"LOC|SECTOR|YEAR"``.
    """

    funding: str = "100%"
    years: tuple[tuple[int, str], ...] = ()
    carry_over: bool = False
    rules: tuple[RuleSetting, ...] = ()
    objective: str = "priority"
    locked: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()


# ---- lines clicked in the table -------------------------------------------------------------


def line_key(location: str, sector: str, year: int) -> str:
    """The key of one line of the table: ``"UKR|HEALTH|2025"``."""
    return f"{location}|{sector}|{int(year)}"


def _line_of(entry: str) -> str:
    return entry.split("=", 1)[0]


def lock_line(state: WhatIfState, key: str, usd: float) -> WhatIfState:
    """``state`` with the line ``key`` kept at ``usd`` (the amount shown when clicked)."""
    entry = f"{key}={amount_text(Amount('usd', float(usd)))}"
    kept = _released(state, key)
    return WhatIfState(kept.funding, kept.years, kept.carry_over, kept.rules, kept.objective,
                       (*kept.locked, entry), kept.excluded)


def exclude_line(state: WhatIfState, key: str) -> WhatIfState:
    """``state`` with the line ``key`` given nothing."""
    kept = _released(state, key)
    return WhatIfState(kept.funding, kept.years, kept.carry_over, kept.rules, kept.objective,
                       kept.locked, (*kept.excluded, key))


def release_line(state: WhatIfState, key: str) -> WhatIfState:
    """``state`` with the line ``key`` neither locked nor excluded."""
    return _released(state, key)


def _released(state: WhatIfState, key: str) -> WhatIfState:
    return WhatIfState(
        state.funding, state.years, state.carry_over, state.rules, state.objective,
        tuple(e for e in state.locked if _line_of(e) != key),
        tuple(e for e in state.excluded if e != key),
    )


def line_status(state: WhatIfState, key: str) -> str | None:
    """``"locked"``, ``"excluded"`` or ``None`` for the line ``key``."""
    if any(_line_of(e) == key for e in state.locked):
        return "locked"
    if key in state.excluded:
        return "excluded"
    return None


def _line_selector(key: str) -> Selector:
    parts = key.split("|")
    if len(parts) != 3 or not all(p.strip() for p in parts) or not re.fullmatch(
            r"[0-9]{4}", parts[2]):
        raise ControlError("line-table", f"{key!r} is not a line of the table "
                           "(LOCATION|SECTOR|YEAR)")
    return Selector(location_codes=(parts[0],), sector_codes=(parts[1],),
                    years=(int(parts[2]),))


# ---- funding rules <-> state ----------------------------------------------------------------


def state_from_funding(funding: FundingScenario) -> WhatIfState:
    """The page's starting state for ``funding``: its envelope and rules, as text.

    Every amount is written so that it reads back as the identical number
    (:func:`reachplan.scenarios.scenario_toml.amount_text`): untouched, the page runs
    exactly ``funding``. Locks and exclusions become rules (the table's locked and
    excluded lines start empty). Every rule starts on.
    """
    env = funding.envelope
    rules: list[RuleSetting] = []
    rules += [RuleSetting("earmark", e.name, amount_text(e.amount), e.selector)
              for e in funding.earmarks]
    rules += [RuleSetting("floor", f.name, amount_text(Amount("share", f.share)), f.selector,
                          f.per) for f in funding.floors]
    rules += [RuleSetting("cap", "", number_text(c.factor), c.selector) for c in funding.caps]
    rules += [RuleSetting("lock", lk.name, amount_text(lk.amount), lk.selector)
              for lk in funding.locks]
    rules += [RuleSetting("exclude", "", "", s) for s in funding.exclusions]
    return WhatIfState(
        funding="" if env.total is None else amount_text(env.total),
        years=tuple((int(y), amount_text(a)) for y, a in env.per_year),
        carry_over=env.carry_over,
        rules=tuple(rules),
        objective=funding.objective,
    )


def _amount(text: str, control: str, what: str) -> Amount:
    if not text.strip():
        raise ControlError(control, f"write {what}: a share ('60%') or dollars ('USD 300m')")
    try:
        return parse_amount(text)
    except FundingError as exc:
        raise ControlError(control, exc.message) from None


def _share(text: str, control: str) -> float:
    if not text.strip():
        raise ControlError(control, "write the share of requirement funded: '50%' or '0.5'")
    try:
        amount = parse_amount(text)
    except FundingError as exc:
        raise ControlError(control, exc.message) from None
    if amount.kind != "share":
        raise ControlError(control, "a floor is a share of the lines' requirement ('50%' or "
                           "'0.5'), not dollars")
    if amount.value > 1.0:
        raise ControlError(control, f"a floor of {amount} cannot hold: at most 100% of a "
                           "requirement is funded")
    return amount.value


def _factor(text: str, control: str) -> float:
    t = text.strip()
    if not t:
        raise ControlError(control, "write the absorption factor: '1.2' (at most 1.2 x the "
                           "requirement) or '120%'")
    try:
        value = float(t)
    except ValueError:
        try:
            amount = parse_amount(t)
        except FundingError:
            amount = None
        if amount is None or amount.kind != "share":
            raise ControlError(control, f"{t!r} is not an absorption factor: write '1.2' (at "
                               "most 1.2 x the requirement) or '120%'") from None
        value = amount.value
    if not math.isfinite(value) or value < 0:
        raise ControlError(control, "an absorption factor is a non-negative number")
    if value > MAX_CAP_FACTOR:
        raise ControlError(control, f"an absorption factor of {value:g} cannot be real (at "
                           f"most {MAX_CAP_FACTOR:g})")
    return value


def state_to_funding(state: WhatIfState, base: FundingScenario, plan: Plan) -> FundingScenario:
    """The funding rules the page's settings stand for.

    Parameters
    ----------
    state
        The settings.
    base
        The starting rules; what the page does not edit (weights, objective share bounds,
        ``max_year_fall``, ``default_cap``, the name) is taken from it.
    plan
        The plan: every code a rule names, and every year, must be the plan's.

    Raises
    ------
    ControlError
        The first problem, with the control at fault: ``funding-amount``,
        ``year-amount-<YEAR>``, ``carry-over``, ``objective``, ``rule-value-<i>``,
        ``rule-name-<i>``, ``rule-selector-<i>``, ``rule-per-<i>``, ``rule-kind-<i>``
        (``i`` counts ``state.rules`` from 0) or ``line-table`` (a locked or excluded
        line). Earmarks that add up to more than the money name the last earmark's
        value; a problem with a rule the page does not edit names ``funding-amount``.

    Notes
    -----
    A rule switched off (``RuleSetting.on`` false) is not applied: it is left out of the
    funding rules entirely, and the unnamed rules after it are numbered as if it were not
    there (``earmark 2``...), as they are in the exported scenario. Its own fields are
    still read (a value that is not an amount, a floor above 100%...) so a mistake in it
    shows next to it at once, not only when it is switched back on; whether it fits the
    plan and the other rules (its codes, the money) is checked only when it is on.
    """
    total = None if not state.funding.strip() else _amount(
        state.funding, "funding-amount", "the money available")
    plan_years = [int(y) for y in plan.years]
    per_year = []
    for year, text in state.years:
        control = f"year-amount-{year}"
        if not text.strip():
            continue
        amount = _amount(text, control, f"the money for {year}")
        try:
            check_envelope_against_plan(Envelope(None, ((int(year), amount),)), plan)
        except FundingError as exc:
            raise ControlError(control, exc.message) from None
        per_year.append((int(year), amount))
    years_seen = [y for y, _ in per_year]
    if len(set(years_seen)) != len(years_seen):
        dup = next(y for y in years_seen if years_seen.count(y) > 1)
        raise ControlError(f"year-amount-{dup}", f"{dup} is given twice")
    if total is None and not per_year:
        raise ControlError("funding-amount", "give the money available: a total ('60%' or "
                           f"'USD 300m') or an amount for at least one of {_years(plan_years)}")
    envelope = Envelope(total, tuple(sorted(per_year, key=lambda t: t[0])),
                        bool(state.carry_over))
    if state.objective not in OBJECTIVE_MODES:
        raise ControlError("objective", f"the objective is one of {', '.join(OBJECTIVE_MODES)}")

    tables: dict[str, list[object]] = {k: [] for k in
                                       ("earmarks", "floors", "caps", "locks", "exclusions")}
    controls: dict[str, list[int | None]] = {k: [] for k in tables}  # rule index, None: line
    for i, rule in enumerate(state.rules):
        if rule.on:
            _add_rule(rule, i, tables, controls)
        else:  # read, so a mistake shows next to it, then set aside
            _add_rule(rule, i, {k: [] for k in tables}, {k: [] for k in controls})
    for entry in state.locked:
        key, _, text = entry.partition("=")
        selector = _line_selector(key)
        amount = _amount(text, "line-table", f"the amount line {key} is kept at")
        tables["locks"].append(Lock(f"line {key.replace('|', ' ')}", amount, selector))
        controls["locks"].append(None)
    for key in state.excluded:
        tables["exclusions"].append(_line_selector(key))
        controls["exclusions"].append(None)

    def control_of(key: str | None) -> str:
        return _control_for(key, controls, state)

    try:
        funding = FundingScenario(
            envelope=envelope,
            earmarks=tuple(tables["earmarks"]),  # type: ignore[arg-type]
            floors=tuple(tables["floors"]),  # type: ignore[arg-type]
            caps=tuple(tables["caps"]),  # type: ignore[arg-type]
            default_cap=base.default_cap,
            objective_bounds=base.objective_bounds,
            max_year_fall=base.max_year_fall,
            locks=tuple(tables["locks"]),  # type: ignore[arg-type]
            exclusions=tuple(tables["exclusions"]),  # type: ignore[arg-type]
            weights=base.weights,
            objective=state.objective,
            name=base.name,
        )
    except FundingError as exc:
        raise ControlError(control_of(exc.key), exc.message) from None
    try:
        check_funding_against_plan(funding, plan, file=_SOURCE)
    except ScenarioError as exc:
        key = exc.key[len("funding."):] if exc.key and exc.key.startswith("funding.") else None
        raise ControlError(control_of(key), _without_label(exc.message, key, funding)) from None
    return funding


def _years(years: list[int]) -> str:
    return ", ".join(map(str, years))


def _add_rule(rule: RuleSetting, i: int, tables: dict[str, list[object]],
              controls: dict[str, list[int | None]]) -> None:
    value_id, name_id = f"rule-value-{i}", f"rule-name-{i}"
    if rule.kind not in RULE_KINDS:
        raise ControlError(f"rule-kind-{i}", f"a rule is one of {', '.join(RULE_KINDS)}")
    table = {"earmark": "earmarks", "floor": "floors", "cap": "caps", "lock": "locks",
             "exclude": "exclusions"}[rule.kind]
    name = rule.name if rule.name.strip() else f"{rule.kind} {len(tables[table]) + 1}"
    if _CONTROL_CHARS.search(name):
        raise ControlError(name_id, "a rule's name is one line of text")
    if rule.kind == "earmark":
        made: object = Earmark(name, _amount(rule.value, value_id, "the earmarked money"),
                               rule.selector)
    elif rule.kind == "lock":
        made = Lock(name, _amount(rule.value, value_id, "the amount the lines are kept at"),
                    rule.selector)
    elif rule.kind == "floor":
        if rule.per not in FLOOR_PER:
            raise ControlError(f"rule-per-{i}", "a floor holds for all the lines together, "
                               "per location, per sector or per line")
        made = Floor(name, _share(rule.value, value_id), rule.selector, rule.per)  # type: ignore[arg-type]
    elif rule.kind == "cap":
        made = Cap(_factor(rule.value, value_id), rule.selector)
    else:
        if rule.selector == Selector():
            raise ControlError(f"rule-selector-{i}", "choose the lines to exclude (an "
                               "exclusion of every line would leave nothing to fund)")
        made = rule.selector
    tables[table].append(made)
    controls[table].append(i)


_KEY = re.compile(r"^(earmarks|floors|caps|locks|exclusions)\[([0-9]+)\](?:\.(.+))?$")
_VALUE_KEYS = ("amount", "share", "factor")


def _control_for(key: str | None, controls: dict[str, list[int | None]],
                 state: WhatIfState) -> str:
    """The control a funding key (``floors[1].sectors``) stands for on the page."""
    if key is None:
        return "funding-amount"
    if key == "earmarks":  # the earmarks together exceed the money
        indices = [i for i in controls["earmarks"] if i is not None]
        return f"rule-value-{indices[-1]}" if indices else "funding-amount"
    m = _KEY.match(key)
    if m is None:
        return "objective" if key == "objective" else "funding-amount"
    table, j, sub = m.group(1), int(m.group(2)), m.group(3)
    if j >= len(controls[table]):
        return "funding-amount"
    i = controls[table][j]
    if i is None:
        return "line-table"
    if sub is None or sub in _VALUE_KEYS:
        # a rule without a sub-key is about its lines together (they select nothing)
        return f"rule-value-{i}" if sub else f"rule-selector-{i}"
    if sub == "name":
        return f"rule-name-{i}"
    if sub == "per":
        return f"rule-per-{i}"
    return f"rule-selector-{i}"


def _without_label(message: str, key: str | None, funding: FundingScenario) -> str:
    """A check's message without its ``floor 'x' ([[funding.floors]] #2): `` prefix."""
    m = _KEY.match(key or "")
    if m is None:
        return message
    table, j = m.group(1), int(m.group(2))
    rule = getattr(funding, table)[j]
    label = rule_label(table, j, getattr(rule, "name", None)) + ": "
    return message[len(label):] if message.startswith(label) else message


# ---- the rule list --------------------------------------------------------------------------


def describe_rule(rule: RuleSetting) -> str:
    """One line for the page's rule list, in planner words (plain text, not HTML).

    Examples: ``"earmark 'Shelter': USD 50m for SHELTER_NFI in UKR"``, ``"floor
    'protection': at least 40% of cluster PRO funded, in every location"``, ``"cap: all
    lines receive at most 1.2 x their requirement"``, ``"lock 'x': HEALTH in UKR, 2025
    kept at USD 1.5m"``, ``"excluded: HEALTH in UKR, 2025 receive nothing"``. A rule
    switched off ends ``" (off)"``.
    """
    before, after = rule_sentence(rule)
    value = "" if rule.kind == "exclude" else rule.value
    return before + value + after + ("" if rule.on else " (off)")


def rule_sentence(rule: RuleSetting) -> tuple[str, str]:
    """The words before and after the rule's value (the page puts its edit box between).

    ``before + rule.value + after`` is :func:`describe_rule`'s line for a rule that is on;
    an exclusion has no value (``after`` is empty, ``before`` the whole line).
    """
    lines = rule.selector.describe()
    named = f" {rule.name!r}" if rule.name else ""
    if rule.kind == "earmark":
        return f"earmark{named}: ", f" for {lines}"
    if rule.kind == "floor":
        where = {"location": ", in every location", "sector": ", in every sector",
                 "cell": ", on every line"}.get(rule.per, "")
        return f"floor{named}: at least ", f" of {lines} funded{where}, each year"
    if rule.kind == "cap":
        return f"cap: {lines} receive at most ", " x their requirement"
    if rule.kind == "lock":
        return f"lock{named}: {lines} kept at ", ""
    if rule.kind == "exclude":
        return f"excluded: {lines} receive nothing", ""
    return f"{rule.kind}{named}: ", f" ({lines})"


# ---- the URL ----------------------------------------------------------------------------------

_SELECTOR_FIELDS = SELECTOR_FIELDS
_ATTR = dict(_SELECTOR_FIELDS)


def _esc(text: str) -> str:
    """A selector code with ``\\ ~ , :`` escaped."""
    return re.sub(r"([\\~,:])", r"\\\1", text)


def _esc_field(text: str) -> str:
    """A rule's name, value or per with ``\\ ~`` escaped."""
    return re.sub(r"([\\~])", r"\\\1", text)


def _unescape(text: str) -> str:
    """A field with its backslash escapes undone."""
    if text.endswith("\\") and (len(text) - len(text.rstrip("\\"))) % 2:
        raise ControlError("url", "a '\\' ends a field of the link")
    return re.sub(r"\\(.)", r"\1", text, flags=re.DOTALL)


def _split(text: str, sep: str, keep_escapes: bool = False) -> list[str]:
    """``text`` split at every ``sep`` not escaped by a backslash.

    The parts are unescaped, or with ``keep_escapes`` kept as written (for a second split
    of each part at another separator).
    """
    parts, current, i = [], [], 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text):
                if keep_escapes:
                    current.append(c)
                    i += 1
                    continue
                raise ControlError("url", "a '\\' ends a field of the link")
            current.append(text[i:i + 2] if keep_escapes else text[i + 1])
            i += 2
            continue
        if c == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
        i += 1
    parts.append("".join(current))
    return parts


def _selector_text(selector: Selector) -> str:
    items = []
    for what, attr in _SELECTOR_FIELDS:
        value = getattr(selector, attr)
        if value is None or value == ():
            continue
        if isinstance(value, bool):
            items.append(f"{what}:{int(value)}")
        else:
            items += [f"{what}:{_esc(str(v))}" for v in value]
    return ",".join(items)


def _selector_from_text(text: str) -> Selector:
    if text == "":
        return Selector()
    values: dict[str, list[object]] = {}
    flags: dict[str, bool] = {}
    # split at unescaped commas, keeping escapes for the key:value split
    for item in _split(text, ",", keep_escapes=True):
        parts = _split(item, ":")
        if len(parts) != 2:
            raise ControlError("url", f"{item!r} in a rule of the link is not key:value")
        key, value = parts
        if key not in _ATTR:
            raise ControlError("url", f"a rule of the link selects by {key!r}, which is none "
                               f"of {', '.join(_ATTR)}")
        if key in ("life_saving", "enabler"):
            if value not in ("0", "1") or key in flags:
                raise ControlError("url", f"{key} in a rule of the link is 0 or 1, once")
            flags[key] = value == "1"
        elif key in ("year", "tier"):
            tier_ok = key != "tier" or value in ("1", "2", "3")
            if not re.fullmatch(r"[0-9]{1,4}", value) or not tier_ok:
                raise ControlError("url", f"{key} {value!r} in a rule of the link is not a "
                                   f"{key}")
            values.setdefault(key, []).append(int(value))
        elif key == "location_kind":
            if value not in LOCATION_KINDS:
                raise ControlError("url", f"location kind {value!r} in the link is none of "
                                   f"{', '.join(LOCATION_KINDS)}")
            values.setdefault(key, []).append(value)
        else:
            if not value.strip():
                raise ControlError("url", f"an empty {key} code in a rule of the link")
            values.setdefault(key, []).append(value)
    return Selector(**{_ATTR[k]: tuple(v) for k, v in values.items()},
                    **{_ATTR[k]: v for k, v in flags.items()})


_OFF = "off"
"""The last field of a rule switched off, in the link."""


def _rule_text(rule: RuleSetting) -> str:
    fields = [_esc_field(rule.kind), _esc_field(rule.name), _esc_field(rule.value),
              _selector_text(rule.selector)]
    if rule.per != "all" or not rule.on:
        fields.append(_esc_field(rule.per))
    if not rule.on:
        fields.append(_OFF)
    return "~".join(fields)


def _rule_from_text(text: str) -> RuleSetting:
    fields = _split(text, "~", keep_escapes=True)
    if not 4 <= len(fields) <= 6:
        raise ControlError("url", "a rule in the link is kind~name~value~selector[~per], "
                           "or kind~name~value~selector~per~off when switched off")
    on = len(fields) < 6
    if not on and fields[5] != _OFF:
        raise ControlError("url", f"a rule in the link ends {fields[5]!r}: only {_OFF!r} "
                           "(switched off) may follow its per")
    kind, name, value = (_unescape(f) for f in fields[:3])
    if kind not in RULE_KINDS:
        raise ControlError("url", f"{kind!r} in the link is not a rule (one of "
                           f"{', '.join(RULE_KINDS)})")
    per = _unescape(fields[4]) if len(fields) >= 5 else "all"
    return RuleSetting(kind, name, value, _selector_from_text(fields[3]), per, on)


def state_to_query(state: WhatIfState) -> str:
    """The URL search string of ``state`` (with the leading ``?``), readable.

    ``state_from_query(state_to_query(s)) == s`` for every state. Parameters:
    ``funding`` (always), ``year`` (``YEAR~AMOUNT``, one per year), ``carry=1``,
    ``objective`` (when not ``priority``), ``rule`` (one per rule; one switched off
    ends ``~off``), ``lock`` and ``exclude`` (lines of the table). Settings at their
    default are left out.
    """
    pairs: list[tuple[str, str]] = [("funding", state.funding)]
    pairs += [("year", f"{int(y)}~{_esc_field(text)}") for y, text in state.years]
    if state.carry_over:
        pairs.append(("carry", "1"))
    if state.objective != "priority":
        pairs.append(("objective", state.objective))
    pairs += [("rule", _rule_text(r)) for r in state.rules]
    pairs += [("lock", e) for e in state.locked]
    pairs += [("exclude", e) for e in state.excluded]
    return "?" + urlencode(pairs, quote_via=quote_plus, safe=":,~|=()/")


_SINGLE = ("funding", "carry", "objective")
_REPEATED = ("year", "rule", "lock", "exclude")


def state_from_query(query: str) -> WhatIfState:
    """The state a URL search string holds (``"?funding=60%25&..."``; ``""``: the defaults).

    Raises
    ------
    ControlError
        ``control == "url"``, naming what in the link cannot be read: an unknown setting,
        one given twice, a rule or year that is not in the link's form, a link too long.
        Amounts are not checked here: :func:`state_to_funding` reports them next to their
        control.
    """
    if len(query) > MAX_QUERY_CHARS:
        raise ControlError("url", f"the link is longer than {MAX_QUERY_CHARS:,} characters")
    text = query[1:] if query.startswith("?") else query
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text),
                          errors="strict", max_num_fields=4 * MAX_RULES + 10)
    except (ValueError, UnicodeDecodeError):
        raise ControlError("url", "the link's settings cannot be read (not name=value pairs "
                           "joined by &)") from None
    single: dict[str, str] = {}
    many: dict[str, list[str]] = {k: [] for k in _REPEATED}
    for key, value in pairs:
        if key in _SINGLE:
            if key in single:
                raise ControlError("url", f"the link gives {key} twice")
            single[key] = value
        elif key in _REPEATED:
            many[key].append(value)
        else:
            raise ControlError("url", f"the link has a setting {key!r} this page does not "
                               f"know (known: {', '.join(_SINGLE + _REPEATED)})")
    for key, values in many.items():
        if len(values) > MAX_RULES:
            raise ControlError("url", f"the link has more than {MAX_RULES} {key} settings")
    carry = single.get("carry", "0")
    if carry not in ("0", "1"):
        raise ControlError("url", "carry in the link is 0 or 1")
    years = []
    for item in many["year"]:
        parts = _split(item, "~")
        if len(parts) != 2 or not re.fullmatch(r"[0-9]{4}", parts[0]):
            raise ControlError("url", f"year {item!r} in the link is not YEAR~AMOUNT")
        years.append((int(parts[0]), parts[1]))
    for entry in many["lock"] + many["exclude"]:
        if _CONTROL_CHARS.search(entry):
            raise ControlError("url", "a line in the link holds a control character")
    return WhatIfState(
        funding=single.get("funding", "100%"),
        years=tuple(years),
        carry_over=carry == "1",
        rules=tuple(_rule_from_text(r) for r in many["rule"]),
        objective=single.get("objective", "priority"),
        locked=tuple(many["lock"]),
        excluded=tuple(many["exclude"]),
    )
