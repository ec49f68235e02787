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

import difflib
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from reachplan.model.errors import ReachplanError

AmountKind = Literal["share", "usd"]
FloorPer = Literal["cell", "location", "sector", "all"]
T = TypeVar("T")


class FundingError(ReachplanError, ValueError):
    """A funding scenario is malformed; the message names the key or text at fault.

    Parameters
    ----------
    message
        What is wrong, in planner words.
    key
        Where, as a dotted key of the funding table, e.g. ``floors[2].share``
        (``None`` for a ``--funding`` text or when not known).
    source
        The file (or other label) the rules came from.
    """

    def __init__(self, message: str, *, key: str | None = None, source: str | None = None):
        super().__init__(message)
        self.message = message
        self.key = key
        self.source = source

    def __str__(self) -> str:
        where = ": ".join(p for p in (self.source, self.key) if p)
        return f"{where}: {self.message}" if where else self.message

    def at(self, key: str | None = None, source: str | None = None) -> FundingError:
        """The same error located at ``key`` (when it has no key yet) and in ``source``."""
        return FundingError(self.message, key=self.key or key, source=self.source or source)


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


SELECTOR_FIELDS: tuple[tuple[str, str], ...] = (
    ("location", "location_codes"),
    ("location_kind", "location_kinds"),
    ("sector", "sector_codes"),
    ("cluster", "clusters"),
    ("objective", "objectives"),
    ("tier", "tiers"),
    ("life_saving", "life_saving"),
    ("enabler", "enabler"),
    ("year", "years"),
)
"""``(key, attribute)`` of every :class:`Selector` key, singular, in the order files and
links write them."""


@dataclass(frozen=True)
class Selector:
    """Which cells (location x sector x year) a rule applies to; an empty tuple means all.

    Keys combine with *and*, values within a key with *or*. ``objectives``, ``tiers`` and
    ``life_saving`` select the part of each cell's money that serves those strategic
    objectives / sits in those priority tiers (a cell is split in the plan's money
    proportions). A location code selects the locations under it too (``parent_code``).
    The rules: :mod:`reachplan.model.selection`.
    """

    location_codes: tuple[str, ...] = ()
    sector_codes: tuple[str, ...] = ()
    objectives: tuple[str, ...] = ()
    years: tuple[int, ...] = ()
    tiers: tuple[int, ...] = ()
    """Priority tiers 1, 2, 3 (a line's tier: its sector's, else its objective's)."""
    life_saving: bool | None = None
    """``True``: tier-1 money only; ``False``: tiers 2 and 3 only; ``None``: either."""
    enabler: bool | None = None
    """``True``: enabler lines only; ``False``: programme lines only; ``None``: either."""
    clusters: tuple[str, ...] = ()
    """IASC cluster codes (``sectors.iasc_cluster``), upper case."""
    location_kinds: tuple[str, ...] = ()
    """Location kinds (``country``, ``regional``, ``admin1``, ``admin2``)."""
    spelled: tuple[str, ...] = field(default=(), compare=False, repr=False)
    """The keys the file used (``"sector"`` or ``"sectors"``...), for messages only."""

    def key_for(self, what: str) -> str:
        """The key a file used for ``what``: ``"sector"`` or ``"sectors"`` as written.

        ``what`` is ``"location"``, ``"sector"``, ``"objective"``, ``"year"``, ``"tier"``,
        ``"cluster"``, ``"location_kind"``, ``"life_saving"`` or ``"enabler"``; the plural
        is returned when the spelling is not known (``life_saving`` and ``enabler`` have
        none).
        """
        if what in ("life_saving", "enabler"):
            return what
        return what if what in self.spelled else what + "s"

    def keys(self) -> tuple[str, ...]:
        """The selector's keys that are set, singular (``"sector"``, ``"life_saving"``...)."""
        out = []
        for what, value in (("location", self.location_codes),
                            ("location_kind", self.location_kinds),
                            ("sector", self.sector_codes), ("cluster", self.clusters),
                            ("objective", self.objectives), ("tier", self.tiers),
                            ("life_saving", self.life_saving), ("enabler", self.enabler),
                            ("year", self.years)):
            if value not in ((), None):
                out.append(what)
        return tuple(out)

    def only(self, what: str) -> Selector:
        """A selector with only the key ``what`` of this one (to find which key selects nothing)."""
        attr = dict(SELECTOR_FIELDS)[what]
        return Selector(**{attr: getattr(self, attr)})

    def describe(self) -> str:
        """Planner words for the selection, e.g. ``'life-saving HEALTH lines in UKR, 2025'``.

        Examples: ``'HEALTH in UKR, 2025'``, ``'cluster PRO'``, ``'tier-1 (life-saving)
        money'``, ``'enabler lines in regional locations'``.
        """
        parts = []
        if self.life_saving is True:
            parts.append("life-saving (tier 1)")
        elif self.life_saving is False:
            parts.append("not life-saving (tiers 2-3)")
        if self.tiers:
            parts.append("tier " + "/".join(str(t) for t in self.tiers))
        if self.enabler is True:
            parts.append("enabler")
        elif self.enabler is False:
            parts.append("programme")
        if self.sector_codes:
            parts.append("/".join(self.sector_codes))
        if self.clusters:
            parts.append("cluster " + "/".join(self.clusters))
        if self.objectives:
            parts.append("/".join(self.objectives))
        if not parts:
            what = "all lines"
        elif self.sector_codes or self.clusters or self.objectives:
            what = " ".join(parts)
        else:
            what = " ".join(parts) + " lines"
        if self.location_codes:
            what += " in " + "/".join(self.location_codes)
        if self.location_kinds:
            what += (" and " if self.location_codes else " in ") + "/".join(
                self.location_kinds) + " locations"
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


OBJECTIVE_MODES = ("priority", "headcount")
"""What an allocation maximises (``FundingScenario.objective``)."""


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
    objective
        What the allocation maximises: ``"priority"`` (the default: tier and severity
        weights with diminishing returns in each location's coverage) or ``"headcount"``
        (people reached, summed, for comparison). See ``docs/allocation.md``.
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
    objective: str = "priority"
    name: str = field(default="")

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVE_MODES:
            raise FundingError(
                f"objective must be one of {', '.join(OBJECTIVE_MODES)} (got {self.objective!r})",
                key="objective",
            )
        if self.max_year_fall is not None and not 0.0 <= self.max_year_fall <= 1.0:
            raise FundingError("max_year_fall must be between 0 and 1")
        if not math.isfinite(self.default_cap) or self.default_cap < 0:
            raise FundingError("default_cap must be a non-negative number")
        lows: dict[str, float] = {}
        for i, b in enumerate(self.objective_bounds):
            if b.objective in lows:
                raise FundingError(
                    f"objective {b.objective} has two bounds; give it one with min_share "
                    "and max_share", key=f"objective_bounds[{i}].objective",
                )
            lows[b.objective] = b.min_share
        if sum(lows.values()) > 1.0 + 1e-9:
            raise FundingError(
                "the objectives' min_share add up to "
                f"{sum(lows.values()):.0%} of the money, more than all of it",
                key="objective_bounds",
            )
        seen: dict[str, int] = {}
        for i, f in enumerate(self.floors):
            token = _token(f.name)
            if token in seen:
                raise FundingError(
                    f"floors {seen[token] + 1} and {i + 1} have the same name "
                    f"({self.floors[seen[token]].name!r} and {f.name!r}); give each floor "
                    "its own name", key=f"floors[{i}].name",
                )
            seen[token] = i

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
            objective=self.objective,
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
            On an unknown key, a missing required key or a bad value; ``key`` is the
            dotted key at fault within the mapping (``floors[2].share``) and ``source``
            is ``source``.
        """
        try:
            return cls._from_mapping(mapping)
        except FundingError as exc:
            raise exc.at(source=source) from None

    @classmethod
    def _from_mapping(cls, mapping: Mapping[str, object]) -> FundingScenario:
        top = _Keys(mapping, "")
        top.allow(
            "name", "funding", "earmarks", "floors", "caps", "default_cap", "objective_bounds",
            "max_year_fall", "locks", "exclusions", "weights", "objective",
        )
        envelope = _envelope_from(top.require("funding"), "funding")
        earmarks = []
        for i, k in enumerate(_tables(top.get("earmarks", []), "earmarks",
                                      ("name", "amount", *_SELECTOR_KEYS))):
            earmarks.append(_located(k.path, lambda k=k, i=i: Earmark(
                _name(k, f"earmark {i + 1}"),
                _amount_from(k.require("amount"), k.key("amount")),
                _selector_from(k),
            )))
        floors = []
        for i, k in enumerate(_tables(top.get("floors", []), "floors",
                                      ("name", "share", "per", *_SELECTOR_KEYS))):
            floors.append(_located(k.path, lambda k=k, i=i: Floor(
                _name(k, f"floor {i + 1}"),
                _number(k.require("share"), k.key("share")),
                _selector_from(k),
                _per(k.get("per", "all"), k.key("per")),
            )))
        caps = []
        for k in _tables(top.get("caps", []), "caps", ("factor", *_SELECTOR_KEYS)):
            factor = _number(k.require("factor"), k.key("factor"))
            _at_most(factor, MAX_CAP_FACTOR, k.key("factor"), "an absorption factor")
            caps.append(_located(k.path, lambda k=k, f=factor: Cap(f, _selector_from(k))))
        bounds = []
        for k in _tables(top.get("objective_bounds", []), "objective_bounds",
                         ("objective", "min_share", "max_share")):
            bounds.append(_located(k.path, lambda k=k: ObjectiveBound(
                _code(k.require("objective"), k.key("objective")),
                _number(k.get("min_share", 0.0), k.key("min_share")),
                _number(k.get("max_share", 1.0), k.key("max_share")),
            )))
        locks = []
        for i, k in enumerate(_tables(top.get("locks", []), "locks",
                                      ("name", "amount", *_SELECTOR_KEYS))):
            locks.append(_located(k.path, lambda k=k, i=i: Lock(
                _name(k, f"lock {i + 1}"),
                _amount_from(k.require("amount"), k.key("amount")),
                _selector_from(k),
            )))
        exclusions = []
        for k in _tables(top.get("exclusions", []), "exclusions", _SELECTOR_KEYS):
            selector = _selector_from(k)
            if selector == Selector():
                raise FundingError(
                    "an exclusion must name the locations, sectors, objectives, years or tags "
                    "it excludes (an empty one would exclude every line)", key=k.path,
                )
            exclusions.append(selector)
        weights = []
        for k in _tables(top.get("weights", []), "weights", ("weight", *_SELECTOR_KEYS)):
            w = _number(k.require("weight"), k.key("weight"))
            _at_most(w, MAX_WEIGHT, k.key("weight"), "an objective weight")
            weights.append(_located(k.path, lambda k=k, w=w: Weight(w, _selector_from(k))))
        fall = top.get("max_year_fall")
        if fall is False:  # "no continuity rule": overrides a parent's through `extends`
            fall = None
        elif fall is True:
            raise FundingError("expected a share between 0 and 1, or false for no "
                               "year-to-year continuity rule, got true", key="max_year_fall")
        default_cap = _number(top.get("default_cap", 1.0), "default_cap")
        _at_most(default_cap, MAX_CAP_FACTOR, "default_cap", "an absorption factor")
        name = top.get("name", "")
        if not isinstance(name, str):
            raise FundingError(f"expected a string, got {_show(name)}", key="name")
        objective = top.get("objective", "priority")
        if not isinstance(objective, str) or objective not in OBJECTIVE_MODES:
            raise FundingError(f"expected one of {', '.join(map(repr, OBJECTIVE_MODES))}, got "
                               f"{_show(objective)}", key="objective")
        return _located("", lambda: cls(
            envelope=envelope,
            earmarks=tuple(earmarks),
            floors=tuple(floors),
            caps=tuple(caps),
            default_cap=_located("default_cap", lambda: _check_cap(default_cap)),
            objective_bounds=tuple(bounds),
            max_year_fall=None if fall is None else _located(
                "max_year_fall", lambda: _share_in_range(_number(fall, "max_year_fall"))),
            locks=tuple(locks),
            exclusions=tuple(exclusions),
            weights=tuple(weights),
            objective=objective,
            name=name,
        ))


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
    return _check_magnitude(_parse_amount(text))


def _parse_amount(text: str) -> Amount:
    shown = _show(text.strip())
    t = text.strip().lower()
    m = _SHARE_PCT.match(t)
    if m:
        return Amount("share", _finite(float(m.group(1)) / 100.0, shown))
    m = _SHARE.match(t)
    if m:
        value = float(m.group(1))
        if value > 1.0:
            raise FundingError(
                f"{shown}: a bare number is a share of the appeal (0 to 1); "
                f"write '{value:g}%' for a percentage or 'USD {value:g}' for dollars"
            )
        return Amount("share", value)
    m = _USD.match(t)
    if m:
        number = m.group(1) or m.group(3)
        unit = m.group(2) if m.group(1) else m.group(4)
        if unit not in _MULTIPLIERS:
            raise FundingError(f"{shown}: unknown unit {_show(unit)} (use k, m or bn)")
        if "," in number and not re.fullmatch(r"[0-9]{1,3}(,[0-9]{3})*(\.[0-9]+)?", number):
            raise FundingError(
                f"{shown}: a comma separates thousands (1,500,000); write decimals with a "
                "point (1.5m)"
            )
        value = float(number.replace(",", "").replace("_", "")) * _MULTIPLIERS[unit]
        return Amount("usd", _finite(value, shown))
    raise FundingError(
        f"{shown} is not an amount: write a share ('60%' or '0.6') or dollars ('USD 300m')"
    )


def _finite(value: float, shown: str) -> float:
    if not math.isfinite(value):
        raise FundingError(f"{shown}: the number is too large")
    return value


def _check_magnitude(amount: Amount) -> Amount:
    """``amount``, or a :class:`FundingError` when no real plan could mean it."""
    if amount.kind == "usd" and amount.value > MAX_USD:
        raise FundingError(
            f"USD {amount.value:.4g} cannot be real (at most USD {MAX_USD:.0e}); "
            "check the number of zeros"
        )
    if amount.kind == "share" and amount.value > MAX_SHARE:
        raise FundingError(
            f"{amount.value * 100:.4g}% cannot be real (at most {MAX_SHARE * 100:g}%)"
        )
    return amount


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
                  "year", "years", "tier", "tiers", "life_saving", "enabler", "cluster",
                  "clusters", "location_kind", "location_kinds")
LOCATION_KINDS = ("country", "regional", "admin1", "admin2")
"""The kinds a ``location_kind`` selector may name (``locations.kind``)."""

MAX_USD = 1e13
"""Largest amount of money a scenario may state (USD 10 trillion): anything above is a typo."""
MAX_SHARE = 10.0
"""Largest share of a requirement a scenario may state (1000%)."""
MAX_CAP_FACTOR = 100.0
"""Largest absorption factor (a line receiving 100 x its requirement is not a real plan)."""
MAX_WEIGHT = 1000.0
"""Largest objective weight; larger ones swamp every other line and the LP's precision."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _token(text: str) -> str:
    """A rule name as it appears in the LP's row names (letters and digits)."""
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


def _show(value: object) -> str:
    """A value for a one-line message: repr, shortened."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _located(key: str, build: Callable[[], T]) -> T:
    """``build()``, with any :class:`FundingError` it raises located at ``key``."""
    try:
        return build()
    except FundingError as exc:
        raise exc.at(key=key or None) from None


class _Keys:
    """A mapping whose keys are checked against an allowed list; ``path`` is where it is."""

    def __init__(self, mapping: object, path: str) -> None:
        if not isinstance(mapping, Mapping):
            raise FundingError(
                f"must be a table of keys and values, got {_show(mapping)}", key=path or None
            )
        self.mapping: Mapping[str, object] = mapping
        self.path = path

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def allow(self, *names: str) -> None:
        for key in self.mapping:
            if key not in names:
                close = difflib.get_close_matches(str(key), names, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise FundingError(
                    f"unknown key {key!r}{hint} (known: {', '.join(names)})", key=self.key(key)
                )

    def get(self, key: str, default: object = None) -> object:
        return self.mapping.get(key, default)

    def require(self, key: str) -> object:
        if key not in self.mapping:
            raise FundingError(f"missing key {key!r}", key=self.path or None)
        return self.mapping[key]


def _tables(value: object, name: str, allowed: Iterable[str]) -> list[_Keys]:
    if not isinstance(value, list | tuple):
        raise FundingError(
            f"must be a list of tables ([[...{name}]] blocks), got {_show(value)}", key=name
        )
    out = []
    allowed = tuple(allowed)
    for i, item in enumerate(value):
        keys = _Keys(item, f"{name}[{i}]")
        keys.allow(*allowed)
        out.append(keys)
    return out


def _name(keys: _Keys, default: str) -> str:
    value = keys.get("name", default)
    if not isinstance(value, str) or not value.strip() or _CONTROL.search(value):
        raise FundingError(
            f"a rule's name must be a non-empty line of text, got {_show(value)}",
            key=keys.key("name"),
        )
    return value


def _number(value: object, where: str) -> float:
    if isinstance(value, str):
        try:
            amount = parse_amount(value)
        except FundingError as exc:
            raise exc.at(key=where) from None
        if amount.kind == "share":
            return amount.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FundingError(f"expected a number, got {_show(value)}", key=where)
    number = float(value)
    if not math.isfinite(number):
        raise FundingError(f"expected a finite number, got {_show(value)}", key=where)
    return number


def _at_most(value: float, limit: float, where: str, what: str) -> None:
    if value > limit:
        raise FundingError(f"{what} of {value:g} cannot be real (at most {limit:g})", key=where)


def _check_cap(value: float) -> float:
    if value < 0:
        raise FundingError("an absorption factor must be a non-negative number")
    return value


def _share_in_range(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise FundingError(f"must be between 0 and 1, got {value:g}")
    return value


def _per(value: object, where: str) -> FloorPer:
    if value == "cell":
        return "cell"
    if value == "location":
        return "location"
    if value == "sector":
        return "sector"
    if value == "all":
        return "all"
    raise FundingError(
        f"must be one of cell, location, sector, all (got {_show(value)})", key=where
    )


def _amount_from(value: object, where: str) -> Amount:
    if isinstance(value, str):
        try:
            amount = parse_amount(value)
        except FundingError as exc:
            raise exc.at(key=where) from None
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise FundingError(
            f"expected an amount ('60%', 'USD 300m'), got {_show(value)}", key=where
        )
    elif not math.isfinite(value) or value < 0:
        raise FundingError(
            f"an amount must be a non-negative number, got {_show(value)}", key=where
        )
    elif value > 1:
        amount = Amount("usd", float(value))
    else:
        amount = Amount("share", float(value))
    try:
        _check_magnitude(amount)
    except FundingError as exc:
        raise exc.at(key=where) from None
    return amount


def _code(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip() or _CONTROL.search(value):
        raise FundingError(f"expected a code, got {_show(value)}", key=where)
    return value


def _codes(value: object, where: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise FundingError(f"expected a code or a list of codes, got {_show(value)}", key=where)
    if not items:
        raise FundingError(
            "an empty list selects nothing; leave the key out to select every line", key=where
        )
    return tuple(_code(v, where) for v in items)


def _years(value: object, where: str) -> tuple[int, ...]:
    items = value if isinstance(value, list | tuple) else [value]
    if not items:
        raise FundingError(
            "an empty list selects nothing; leave the key out to select every year", key=where
        )
    out = []
    for v in items:
        if isinstance(v, bool) or not isinstance(v, int) or not 1900 <= v <= 2200:
            raise FundingError(
                f"expected a year or a list of years, got {_show(v)}", key=where
            )
        out.append(v)
    return tuple(out)


def _tiers(value: object, where: str) -> tuple[int, ...]:
    items = value if isinstance(value, list | tuple) else [value]
    if not items:
        raise FundingError(
            "an empty list selects nothing; leave the key out to select every tier", key=where
        )
    for v in items:
        if isinstance(v, bool) or v not in (1, 2, 3):
            raise FundingError(f"a tier is 1, 2 or 3, got {_show(v)}", key=where)
    return tuple(int(v) for v in items)  # type: ignore[call-overload]


def _flag(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise FundingError(f"expected true or false, got {_show(value)}", key=where)
    return value


def _kinds(value: object, where: str) -> tuple[str, ...]:
    out = tuple(c.strip().lower() for c in _codes(value, where))
    for kind in out:
        if kind not in LOCATION_KINDS:
            raise FundingError(
                f"a location kind is one of {', '.join(LOCATION_KINDS)}, got {_show(kind)}",
                key=where,
            )
    return out


def _selector_from(keys: _Keys) -> Selector:
    spelled: list[str] = []

    def both(single: str, plural: str) -> tuple[object, str]:
        if single in keys.mapping and plural in keys.mapping:
            raise FundingError(f"give {single!r} or {plural!r}, not both", key=keys.path)
        name = single if single in keys.mapping else plural
        if name in keys.mapping:
            spelled.append(name)
        return keys.mapping.get(name), keys.key(name)

    (loc, loc_key), (sec, sec_key) = both("location", "locations"), both("sector", "sectors")
    (obj, obj_key), (yrs, yrs_key) = both("objective", "objectives"), both("year", "years")
    (tier, tier_key), (clu, clu_key) = both("tier", "tiers"), both("cluster", "clusters")
    kind, kind_key = both("location_kind", "location_kinds")
    life, enabler = keys.mapping.get("life_saving"), keys.mapping.get("enabler")
    return Selector(
        location_codes=() if loc is None else tuple(c.upper() for c in _codes(loc, loc_key)),
        sector_codes=() if sec is None else _codes(sec, sec_key),
        objectives=() if obj is None else _codes(obj, obj_key),
        years=() if yrs is None else _years(yrs, yrs_key),
        tiers=() if tier is None else _tiers(tier, tier_key),
        life_saving=None if life is None else _flag(life, keys.key("life_saving")),
        enabler=None if enabler is None else _flag(enabler, keys.key("enabler")),
        clusters=() if clu is None else tuple(c.strip().upper() for c in _codes(clu, clu_key)),
        location_kinds=() if kind is None else _kinds(kind, kind_key),
        spelled=tuple(spelled),
    )


def _envelope_from(value: object, where: str) -> Envelope:
    if isinstance(value, str):
        try:
            return parse_funding(value)
        except FundingError as exc:
            raise exc.at(key=where) from None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Envelope(total=_amount_from(value, where))
    keys = _Keys(value, where)
    keys.allow("total", "years", "carry_over")
    total = keys.get("total")
    years = keys.get("years", {})
    if not isinstance(years, Mapping):
        raise FundingError(
            f"expected a table YEAR = AMOUNT, got {_show(years)}", key=keys.key("years")
        )
    per_year = []
    for y, a in years.items():
        if not re.fullmatch(r"[0-9]{4}", str(y)):
            raise FundingError(f"{_show(y)} is not a year", key=keys.key("years"))
        per_year.append((int(y), _amount_from(a, f"{keys.key('years')}.{y}")))
    carry = keys.get("carry_over", False)
    if not isinstance(carry, bool):
        raise FundingError(
            f"expected true or false, got {_show(carry)}", key=keys.key("carry_over")
        )
    return _located(where, lambda: Envelope(
        None if total is None else _amount_from(total, keys.key("total")),
        tuple(sorted(per_year, key=lambda t: t[0])),
        carry,
    ))
