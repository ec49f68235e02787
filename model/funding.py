"""A funding scenario: how much money there is and the rules it is allocated under.

One frozen dataclass tree, :class:`FundingScenario`, holds everything a scenario can
switch on: the envelope (a share of the appeal or USD, total and per year, with or
without carry-over), earmarked money next to flexible money, floors, caps, objective
share bounds, year-to-year continuity, locked and excluded lines, and objective
weights. Sweeps use :func:`dataclasses.replace`.

Two pure entry points build it: :func:`parse_funding` reads the ``--funding`` text of
the command line, and :meth:`FundingScenario.from_mapping` reads a mapping (as loaded
from a scenario file), rejecting unknown keys by name.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from model.errors import ReachplanError

AmountKind = Literal["share", "usd"]
FloorPer = Literal["cell", "location", "sector", "all"]


class FundingError(ReachplanError, ValueError):
    """A funding scenario is malformed; the message names the key or text at fault."""


@dataclass(frozen=True)
class Amount:
    """An amount of money, either a share of a reference requirement or US dollars.

    Parameters
    ----------
    kind
        ``"share"``: ``value`` is a fraction of the reference requirement (0.6 = 60%).
        ``"usd"``: ``value`` is US dollars.
    value
        Non-negative, finite.
    """

    kind: AmountKind
    value: float

    def __post_init__(self) -> None:
        if self.kind not in ("share", "usd"):
            raise FundingError(f"amount kind must be 'share' or 'usd', not {self.kind!r}")
        if not math.isfinite(self.value) or self.value < 0:
            raise FundingError(f"an amount must be a non-negative number, not {self.value}")

    def usd(self, reference_usd: float) -> float:
        """US dollars, resolving a share against ``reference_usd`` (the requirement it shares)."""
        return self.value * reference_usd if self.kind == "share" else self.value

    def scaled(self, k: float) -> Amount:
        """The same amount with every dollar multiplied by ``k`` (shares are unchanged)."""
        return self if self.kind == "share" else Amount("usd", self.value * k)

    def __str__(self) -> str:
        if self.kind == "share":
            return f"{self.value * 100:g}%"
        return f"USD {self.value:,.0f}"


@dataclass(frozen=True)
class Selector:
    """Which cells (location x sector x year) a rule applies to; an empty tuple means all.

    ``objectives`` selects the part of each cell's money that serves those strategic
    objectives (cells are split between objectives in the plan's proportions).
    """

    location_codes: tuple[str, ...] = ()
    sector_codes: tuple[str, ...] = ()
    objectives: tuple[str, ...] = ()
    years: tuple[int, ...] = ()

    def describe(self) -> str:
        """Planner words for the selection, e.g. ``'HEALTH in UKR, 2025'``."""
        parts = []
        if self.sector_codes:
            parts.append("/".join(self.sector_codes))
        if self.objectives:
            parts.append("/".join(self.objectives))
        what = " ".join(parts) if parts else "all lines"
        if self.location_codes:
            what += " in " + "/".join(self.location_codes)
        if self.years:
            what += ", " + "/".join(str(y) for y in self.years)
        return what


@dataclass(frozen=True)
class Envelope:
    """The money available: total and/or per year.

    Parameters
    ----------
    total
        Money over all plan years (a share of the whole appeal, or USD); ``None`` for no
        total limit beyond the per-year envelopes.
    per_year
        ``(year, amount)`` pairs; a share is of that year's requirement.
    carry_over
        Whether money unspent in one year can be spent in a later year.
    """

    total: Amount | None = None
    per_year: tuple[tuple[int, Amount], ...] = ()
    carry_over: bool = False

    def __post_init__(self) -> None:
        if self.total is None and not self.per_year:
            raise FundingError("a funding envelope needs a total or at least one year")
        years = [y for y, _ in self.per_year]
        if len(set(years)) != len(years):
            raise FundingError("a year appears twice in the funding envelope")


@dataclass(frozen=True)
class Earmark:
    """Money that may only go to the selected lines, part of the envelope (not on top of it)."""

    name: str
    amount: Amount
    selector: Selector


@dataclass(frozen=True)
class Floor:
    """A minimum share of requirement funded for the selected lines.

    ``per`` says how the selected cells are grouped before the share is applied, always
    within one year: ``"cell"`` (every line on its own), ``"location"`` (presence in every
    location), ``"sector"`` or ``"all"`` (the selection as a whole).
    """

    name: str
    share: float
    selector: Selector = Selector()
    per: FloorPer = "all"

    def __post_init__(self) -> None:
        if not 0.0 <= self.share <= 1.0:
            raise FundingError(f"floor '{self.name}': share must be between 0 and 1")
        if self.per not in ("cell", "location", "sector", "all"):
            raise FundingError(f"floor '{self.name}': per must be cell, location, sector or all")


@dataclass(frozen=True)
class Cap:
    """Absorption limit: a selected cell cannot receive more than ``factor`` x its requirement."""

    factor: float
    selector: Selector = Selector()

    def __post_init__(self) -> None:
        if not math.isfinite(self.factor) or self.factor < 0:
            raise FundingError("an absorption factor must be a non-negative number")


@dataclass(frozen=True)
class ObjectiveBound:
    """Bounds on the share of all allocated money that serves one strategic objective."""

    objective: str
    min_share: float = 0.0
    max_share: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_share <= self.max_share <= 1.0:
            raise FundingError(
                f"objective bound {self.objective}: need 0 <= min_share <= max_share <= 1"
            )


@dataclass(frozen=True)
class Lock:
    """The selected lines together receive exactly this amount (a share is of their requirement)."""

    name: str
    amount: Amount
    selector: Selector


@dataclass(frozen=True)
class Weight:
    """Priority weight on people reached in the selected cells (severity, vulnerability)."""

    weight: float
    selector: Selector

    def __post_init__(self) -> None:
        if not math.isfinite(self.weight) or self.weight < 0:
            raise FundingError("an objective weight must be a non-negative number")


@dataclass(frozen=True)
class FundingScenario:
    """Everything that constrains an allocation, as one frozen value.

    Attributes
    ----------
    envelope
        The money available.
    earmarks
        Restricted money, part of the envelope.
    floors
        Minimum shares of requirement.
    caps
        Absorption limits; cells not selected by any cap absorb at most ``default_cap``
        x requirement. Where several caps select a cell the smallest factor holds.
    default_cap
        Absorption factor of every other cell (1.0: no cell receives more than it asks).
    objective_bounds
        Share bounds per strategic objective.
    max_year_fall
        Continuity: a cell's money falls at most this fraction from one year to the next
        (``None``: no continuity rule).
    locks
        Lines fixed at an amount.
    exclusions
        Lines that receive nothing.
    weights
        Objective weights; default 1, multiplied where several select a cell.
    name
        Label shown in reports.
    """

    envelope: Envelope
    earmarks: tuple[Earmark, ...] = ()
    floors: tuple[Floor, ...] = ()
    caps: tuple[Cap, ...] = ()
    default_cap: float = 1.0
    objective_bounds: tuple[ObjectiveBound, ...] = ()
    max_year_fall: float | None = None
    locks: tuple[Lock, ...] = ()
    exclusions: tuple[Selector, ...] = ()
    weights: tuple[Weight, ...] = ()
    name: str = field(default="")

    def __post_init__(self) -> None:
        if self.max_year_fall is not None and not 0.0 <= self.max_year_fall <= 1.0:
            raise FundingError("max_year_fall must be between 0 and 1")
        if not math.isfinite(self.default_cap) or self.default_cap < 0:
            raise FundingError("default_cap must be a non-negative number")

    def scaled(self, k: float) -> FundingScenario:
        """The same scenario with every USD amount multiplied by ``k`` (shares unchanged)."""
        env = self.envelope
        return FundingScenario(
            envelope=Envelope(
                None if env.total is None else env.total.scaled(k),
                tuple((y, a.scaled(k)) for y, a in env.per_year),
                env.carry_over,
            ),
            earmarks=tuple(Earmark(e.name, e.amount.scaled(k), e.selector) for e in self.earmarks),
            floors=self.floors,
            caps=self.caps,
            default_cap=self.default_cap,
            objective_bounds=self.objective_bounds,
            max_year_fall=self.max_year_fall,
            locks=tuple(Lock(lk.name, lk.amount.scaled(k), lk.selector) for lk in self.locks),
            exclusions=self.exclusions,
            weights=self.weights,
            name=self.name,
        )

    def describe(self) -> str:
        """One line: the envelope in planner words."""
        env = self.envelope
        parts = []
        if env.total is not None:
            parts.append(f"{env.total} of the appeal")
        parts += [f"{y}: {a}" for y, a in env.per_year]
        text = ", ".join(parts)
        if env.per_year:
            text += " (carry-over on)" if env.carry_over else " (no carry-over)"
        return (self.name + ": " if self.name else "") + text

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, object], source: str) -> FundingScenario:
        """Build a scenario from a mapping (e.g. a parsed TOML file), validating every key.

        Parameters
        ----------
        mapping
            Keys: ``name``, ``funding`` (text as for :func:`parse_funding`, or a table
            with ``total``, ``years`` and ``carry_over``), ``earmarks``, ``floors``,
            ``caps``, ``default_cap``, ``objective_bounds``, ``max_year_fall``, ``locks``,
            ``exclusions``, ``weights``. See ``docs/allocation.md``.
        source
            Where the mapping came from, used in messages (file name).

        Raises
        ------
        FundingError
            On an unknown key (named), a missing required key or a bad value.
        """
        try:
            return cls._from_mapping(mapping, source)
        except FundingError as exc:
            if str(exc).startswith(source):
                raise
            raise FundingError(f"{source}: {exc}") from None

    @classmethod
    def _from_mapping(cls, mapping: Mapping[str, object], source: str) -> FundingScenario:
        top = _Keys(mapping, source, "scenario")
        top.allow(
            "name", "funding", "earmarks", "floors", "caps", "default_cap", "objective_bounds",
            "max_year_fall", "locks", "exclusions", "weights",
        )
        envelope = _envelope_from(top.require("funding"), f"{source}: funding")
        earmarks = tuple(
            Earmark(
                str(k.get("name", f"earmark {i + 1}")),
                _amount_from(k.require("amount"), k.where + ".amount"),
                _selector_from(k),
            )
            for i, k in enumerate(_tables(top.get("earmarks", []), source, "earmarks",
                                          ("name", "amount", *_SELECTOR_KEYS)))
        )
        floors = tuple(
            Floor(
                str(k.get("name", f"floor {i + 1}")),
                _number(k.require("share"), k.where + ".share"),
                _selector_from(k),
                _per(k.get("per", "all"), k.where + ".per"),
            )
            for i, k in enumerate(_tables(top.get("floors", []), source, "floors",
                                          ("name", "share", "per", *_SELECTOR_KEYS)))
        )
        caps = tuple(
            Cap(_number(k.require("factor"), k.where + ".factor"), _selector_from(k))
            for k in _tables(top.get("caps", []), source, "caps", ("factor", *_SELECTOR_KEYS))
        )
        bounds = tuple(
            ObjectiveBound(
                str(k.require("objective")),
                _number(k.get("min_share", 0.0), k.where + ".min_share"),
                _number(k.get("max_share", 1.0), k.where + ".max_share"),
            )
            for k in _tables(top.get("objective_bounds", []), source, "objective_bounds",
                             ("objective", "min_share", "max_share"))
        )
        locks = tuple(
            Lock(
                str(k.get("name", f"lock {i + 1}")),
                _amount_from(k.require("amount"), k.where + ".amount"),
                _selector_from(k),
            )
            for i, k in enumerate(_tables(top.get("locks", []), source, "locks",
                                          ("name", "amount", *_SELECTOR_KEYS)))
        )
        exclusions = tuple(
            _selector_from(k)
            for k in _tables(top.get("exclusions", []), source, "exclusions", _SELECTOR_KEYS)
        )
        weights = tuple(
            Weight(_number(k.require("weight"), k.where + ".weight"), _selector_from(k))
            for k in _tables(top.get("weights", []), source, "weights",
                             ("weight", *_SELECTOR_KEYS))
        )
        fall = top.get("max_year_fall")
        return cls(
            envelope=envelope,
            earmarks=earmarks,
            floors=floors,
            caps=caps,
            default_cap=_number(top.get("default_cap", 1.0), f"{source}: default_cap"),
            objective_bounds=bounds,
            max_year_fall=None if fall is None else _number(fall, f"{source}: max_year_fall"),
            locks=locks,
            exclusions=exclusions,
            weights=weights,
            name=str(top.get("name", "")),
        )


# ---- parsing ----------------------------------------------------------------------------

_MULTIPLIERS = {"": 1.0, "k": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6, "b": 1e9, "bn": 1e9,
                "billion": 1e9}
_USD = re.compile(
    r"^(?:usd|us\$|\$)\s*([0-9][0-9,_]*(?:\.[0-9]+)?)\s*([a-z]*)$|"
    r"^([0-9][0-9,_]*(?:\.[0-9]+)?)\s*([a-z]*)\s*(?:usd)$"
)
_SHARE_PCT = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*%$")
_SHARE = re.compile(r"^([0-9]*\.?[0-9]+)$")


def parse_amount(text: str) -> Amount:
    """Read one amount: ``"60%"``, ``"0.6"``, ``"USD 300m"``, ``"$1.2bn"``, ``"300000 USD"``.

    A bare number is a share of the appeal and must lie in [0, 1]; larger shares are
    written with ``%`` (``"110%"``) and dollars with ``USD`` or ``$``.

    Raises
    ------
    FundingError
        When the text is none of these forms.
    """
    t = text.strip().lower()
    m = _SHARE_PCT.match(t)
    if m:
        return Amount("share", float(m.group(1)) / 100.0)
    m = _SHARE.match(t)
    if m:
        value = float(m.group(1))
        if value > 1.0:
            raise FundingError(
                f"{text.strip()!r}: a bare number is a share of the appeal (0 to 1); "
                f"write '{value:g}%' for a percentage or 'USD {value:g}' for dollars"
            )
        return Amount("share", value)
    m = _USD.match(t)
    if m:
        number = m.group(1) or m.group(3)
        unit = m.group(2) if m.group(1) else m.group(4)
        if unit not in _MULTIPLIERS:
            raise FundingError(f"{text.strip()!r}: unknown unit {unit!r} (use k, m or bn)")
        return Amount("usd", float(number.replace(",", "").replace("_", "")) * _MULTIPLIERS[unit])
    raise FundingError(
        f"{text.strip()!r} is not an amount: write a share ('60%' or '0.6') or dollars ('USD 300m')"
    )


def parse_funding(text: str, carry_over: bool = False) -> Envelope:
    """Read the ``--funding`` option into an :class:`Envelope`.

    Parameters
    ----------
    text
        ``"60%"``, ``"0.6"`` or ``"USD 300m"`` for the whole plan period, or per-year
        envelopes ``"2024=50%,2025=60%"`` (a share is of that year's requirement;
        years not listed receive nothing). ``"total=USD 900m,2024=50%"`` adds a total.
    carry_over
        Whether money unspent in one year can be spent later.

    Raises
    ------
    FundingError
        Naming the part of the text that cannot be read.
    """
    if not text.strip():
        raise FundingError("the funding envelope is empty: write e.g. '60%' or 'USD 300m'")
    if "=" not in text:
        return Envelope(total=parse_amount(text), carry_over=carry_over)
    total: Amount | None = None
    per_year: list[tuple[int, Amount]] = []
    for part in text.split(","):
        if "=" not in part:
            raise FundingError(f"{part.strip()!r}: per-year funding is written YEAR=AMOUNT")
        key, value = (s.strip() for s in part.split("=", 1))
        if key.lower() == "total":
            total = parse_amount(value)
            continue
        if not re.fullmatch(r"[0-9]{4}", key):
            raise FundingError(f"{key!r} is not a year (per-year funding is YEAR=AMOUNT)")
        per_year.append((int(key), parse_amount(value)))
    return Envelope(total=total, per_year=tuple(sorted(per_year, key=lambda t: t[0])),
                    carry_over=carry_over)


# ---- mapping helpers --------------------------------------------------------------------

_SELECTOR_KEYS = ("location", "locations", "sector", "sectors", "objective", "objectives",
                  "year", "years")


class _Keys:
    """A mapping whose keys are checked against an allowed list."""

    def __init__(self, mapping: object, source: str, where: str) -> None:
        if not isinstance(mapping, Mapping):
            raise FundingError(f"{source}: {where} must be a table of keys and values")
        self.mapping: Mapping[str, object] = mapping
        self.source = source
        self.where = f"{source}: {where}"

    def allow(self, *names: str) -> None:
        for key in self.mapping:
            if key not in names:
                raise FundingError(
                    f"{self.where}: unknown key {key!r} (known: {', '.join(names)})"
                )

    def get(self, key: str, default: object = None) -> object:
        return self.mapping.get(key, default)

    def require(self, key: str) -> object:
        if key not in self.mapping:
            raise FundingError(f"{self.where}: missing key {key!r}")
        return self.mapping[key]


def _tables(value: object, source: str, name: str, allowed: Iterable[str]) -> list[_Keys]:
    if not isinstance(value, list | tuple):
        raise FundingError(f"{source}: {name} must be a list of tables")
    out = []
    allowed = tuple(allowed)
    for i, item in enumerate(value):
        keys = _Keys(item, source, f"{name}[{i}]")
        keys.allow(*allowed)
        out.append(keys)
    return out


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, str):
            amount = parse_amount(value)
            if amount.kind == "share":
                return amount.value
        raise FundingError(f"{where}: expected a number, got {value!r}")
    return float(value)


def _per(value: object, where: str) -> FloorPer:
    if value == "cell":
        return "cell"
    if value == "location":
        return "location"
    if value == "sector":
        return "sector"
    if value == "all":
        return "all"
    raise FundingError(f"{where}: must be one of cell, location, sector, all (got {value!r})")


def _amount_from(value: object, where: str) -> Amount:
    if isinstance(value, str):
        try:
            return parse_amount(value)
        except FundingError as exc:
            raise FundingError(f"{where}: {exc}") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FundingError(f"{where}: expected an amount ('60%', 'USD 300m'), got {value!r}")
    if value > 1:
        return Amount("usd", float(value))
    return Amount("share", float(value))


def _codes(value: object, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise FundingError(f"{where}: expected a code or a list of codes, got {value!r}")


def _years(value: object, where: str) -> tuple[int, ...]:
    items = value if isinstance(value, list | tuple) else [value]
    out = []
    for v in items:
        if isinstance(v, bool) or not isinstance(v, int):
            raise FundingError(f"{where}: expected a year or a list of years, got {v!r}")
        out.append(v)
    return tuple(out)


def _selector_from(keys: _Keys) -> Selector:
    def both(single: str, plural: str) -> object:
        if single in keys.mapping and plural in keys.mapping:
            raise FundingError(f"{keys.where}: give {single!r} or {plural!r}, not both")
        return keys.mapping.get(single, keys.mapping.get(plural))

    loc, sec = both("location", "locations"), both("sector", "sectors")
    obj, yrs = both("objective", "objectives"), both("year", "years")
    return Selector(
        location_codes=() if loc is None else tuple(c.upper() for c in _codes(loc, keys.where)),
        sector_codes=() if sec is None else _codes(sec, keys.where),
        objectives=() if obj is None else _codes(obj, keys.where),
        years=() if yrs is None else _years(yrs, keys.where),
    )


def _envelope_from(value: object, where: str) -> Envelope:
    if isinstance(value, str):
        try:
            return parse_funding(value)
        except FundingError as exc:
            raise FundingError(f"{where}: {exc}") from None
    keys = _Keys(value, where.split(":")[0], "funding")
    keys.allow("total", "years", "carry_over")
    total = keys.get("total")
    years = keys.get("years", {})
    if not isinstance(years, Mapping):
        raise FundingError(f"{where}.years: expected a table YEAR = AMOUNT")
    per_year = []
    for y, a in years.items():
        try:
            year = int(y)
        except (TypeError, ValueError):
            raise FundingError(f"{where}.years: {y!r} is not a year") from None
        per_year.append((year, _amount_from(a, f"{where}.years.{y}")))
    carry = keys.get("carry_over", False)
    if not isinstance(carry, bool):
        raise FundingError(f"{where}.carry_over: expected true or false")
    try:
        return Envelope(
            None if total is None else _amount_from(total, f"{where}.total"),
            tuple(sorted(per_year, key=lambda t: t[0])),
            carry,
        )
    except FundingError as exc:
        raise FundingError(f"{where}: {exc}") from None
