"""Which lines a scenario rule selects: one definition for the LP and for the scenario check.

A rule's :class:`~reachplan.model.funding.Selector` picks lines (location x sector x year
cells) by their codes and by their tags, and the part of each picked line's money it
concerns (objective and tier selectors pick part of a line's money). Two pure functions
say it, on per-cell arrays (:class:`Lines`):

- :func:`cell_share`: the share of each cell's money the selector concerns, shape (n,);
- :func:`select_cells`: the cells with any such money (share > 0), shape (n,) bool.

The LP (:mod:`reachplan.solver.model`) reads them through its ``CostModel``; the scenario
check (:mod:`reachplan.scenarios.scenario_io`) through :func:`lines_of_plan`, so a file is
refused before anything is built or written with the same rule the LP would apply.

Rules (``docs/scenarios.md``, "Selecting lines"):

- ``location``: the named locations and every location under them (``parent_code``, at any
  depth), so ``UKR`` selects its oblasts; ``location_kind``: locations of those kinds.
- ``sector``: the named sectors; ``cluster``: sectors whose ``iasc_cluster`` is one of
  those (case-insensitive).
- ``enabler = true|false``: enabler lines only (a sector with output ``enabler`` or a
  location of kind ``regional``) or programme lines only.
- ``tier`` (1, 2, 3) and ``life_saving`` (``true`` = tier 1, ``false`` = tiers 2 and 3):
  a line's tier is its sector's tier, else its objective's (blank = 2). A line split
  between objectives of different tiers is selected for the money share of the selected
  tiers, as ``objective`` selects the money share of those objectives; both together
  select the money of those objectives in those tiers.
- keys combine with *and*; values within a key with *or*.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from reachplan.model.funding import FundingError, Selector
from reachplan.model.plan import Plan

DEFAULT_TIER = 2
"""Tier of a line whose sector and objective give none (as :mod:`reachplan.model.lines`)."""



@dataclass(frozen=True)
class LineTags:
    """What lines can be selected by besides their codes (from the plan's tables).

    Attributes
    ----------
    cluster
        IASC cluster code of each cell's sector, upper case ("" when none), shape (n,).
    location_kind
        Kind of each cell's location ("" when none), shape (n,).
    parents
        ``location_code -> parent_code`` for every location of the plan that has a parent.
    sector_tier
        Tier of the sectors that have one.
    objective_tier
        Tier of the objectives that have one.
    locations, sectors
        Every location and sector code the plan declares (with or without lines).
    """

    cluster: np.ndarray
    location_kind: np.ndarray
    parents: Mapping[str, str] = field(default_factory=dict)
    sector_tier: Mapping[str, int] = field(default_factory=dict)
    objective_tier: Mapping[str, int] = field(default_factory=dict)
    locations: tuple[str, ...] = ()
    sectors: tuple[str, ...] = ()

    @classmethod
    def empty(cls, n: int) -> LineTags:
        """No tags (a cost model built without a plan): no cluster, kind or parent."""
        blank = np.full(n, "", dtype=object)
        return cls(cluster=blank, location_kind=blank.copy())


@dataclass(frozen=True)
class Lines:
    """The per-cell arrays a selector is evaluated on.

    Attributes
    ----------
    locations, sectors, years
        Coordinates of each cell, shape (n,).
    requirement_usd
        Requirement of each cell, shape (n,).
    objective_shares
        Share of each cell's money per objective, (n, n_objectives).
    tier_share
        Share of each cell's money per tier 1, 2, 3, shape (n, 3).
    enabler
        Whether each cell is an enabler line, shape (n,) bool.
    tags
        Cluster, location kind, parents and tiers.
    """

    locations: np.ndarray
    sectors: np.ndarray
    years: np.ndarray
    requirement_usd: np.ndarray
    objective_shares: pd.DataFrame
    tier_share: np.ndarray
    enabler: np.ndarray
    tags: LineTags


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) or (
        value is pd.NA) else str(value).strip()


def _column(frame: pd.DataFrame, name: str) -> list[str]:
    if name not in frame.columns:
        return [""] * len(frame)
    return [_text(v) for v in frame[name]]


def _tiers(frame: pd.DataFrame | None, code: str) -> dict[str, int]:
    if frame is None or "tier" not in frame.columns:
        return {}
    out = {}
    for c, t in zip(_column(frame, code), _column(frame, "tier"), strict=True):
        if t:
            try:
                out[c] = int(float(t))
            except ValueError:
                continue
    return out


def line_tags(tables: Mapping[str, pd.DataFrame], locations: np.ndarray,
              sectors: np.ndarray) -> LineTags:
    """The tags of cells at ``locations`` x ``sectors`` (arrays of codes), from plan tables.

    A missing ``iasc_cluster``, ``kind`` or ``parent_code`` column means no cluster, no kind,
    no parents; a missing ``objectives`` table means no objective tiers.
    """
    locs = tables["locations"]
    secs = tables["sectors"]
    cluster = dict(zip(_column(secs, "sector_code"),
                       (c.upper() for c in _column(secs, "iasc_cluster")), strict=True))
    kind = dict(zip(_column(locs, "location_code"),
                    (k.lower() for k in _column(locs, "kind")), strict=True))
    parents = {c: p for c, p in zip(_column(locs, "location_code"), _column(locs, "parent_code"),
                                    strict=True) if p and p != c}
    return LineTags(
        cluster=np.asarray([cluster.get(str(s), "") for s in sectors], dtype=object),
        location_kind=np.asarray([kind.get(str(c), "") for c in locations], dtype=object),
        parents=parents,
        sector_tier=_tiers(secs, "sector_code"),
        objective_tier=_tiers(tables.get("objectives"), "objective_code"),
        locations=tuple(kind),
        sectors=tuple(cluster),
    )


def lines_of_plan(plan: Plan) -> Lines:
    """The plan's cells (those with a requirement line) as :class:`Lines`.

    Read once per plan (a plan is immutable; the result is shared, not to be changed).
    """
    found = _LINES_OF_PLAN.get(plan)
    if found is None:
        found = _LINES_OF_PLAN[plan] = _read_lines(plan)
    return found


_LINES_OF_PLAN: weakref.WeakKeyDictionary[Plan, Lines] = weakref.WeakKeyDictionary()


def _read_lines(plan: Plan) -> Lines:
    from reachplan.model import lines as plan_lines

    req = plan.cell_requirements().sort_index()
    cells = req.index
    locations = np.asarray(cells.get_level_values(0).astype(str), dtype=object)
    sectors = np.asarray(cells.get_level_values(1).astype(str), dtype=object)
    return Lines(
        locations=locations,
        sectors=sectors,
        years=np.asarray(cells.get_level_values(2).astype(int)),
        requirement_usd=req.to_numpy(dtype=float),
        objective_shares=plan.objective_shares().reindex(cells).fillna(0.0),
        tier_share=plan_lines.tier_shares(plan, cells).to_numpy(dtype=float),
        enabler=plan_lines.cell_outputs(plan, cells) == "enabler",
        tags=line_tags(plan.tables, locations, sectors),
    )


# ---- evaluating a selector ---------------------------------------------------------------


def with_descendants(codes: tuple[str, ...] | list[str], parents: Mapping[str, str]) -> set[str]:
    """``codes`` and every location under them (children, their children...)."""
    children: dict[str, list[str]] = {}
    for child, parent in parents.items():
        children.setdefault(parent, []).append(child)
    out: set[str] = set()
    todo = [str(c) for c in codes]
    while todo:
        code = todo.pop()
        if code in out:
            continue
        out.add(code)
        todo.extend(children.get(code, ()))
    return out


def selected_tiers(selector: Selector) -> tuple[int, ...] | None:
    """The tiers a selector keeps (``tier`` and ``life_saving`` together), ``None`` for all."""
    if not selector.tiers and selector.life_saving is None:
        return None
    keep = set(selector.tiers or (1, 2, 3))
    if selector.life_saving is True:
        keep &= {1}
    elif selector.life_saving is False:
        keep &= {2, 3}
    return tuple(sorted(keep))


def cell_share(lines: Lines, selector: Selector) -> np.ndarray:
    """Share of each cell's money the selector concerns (1 without objective or tier), (n,).

    Raises
    ------
    FundingError
        When an objective is not in the plan.
    """
    n = len(lines.locations)
    tiers = selected_tiers(selector)
    shares = lines.objective_shares
    if selector.objectives:
        unknown = sorted(set(selector.objectives) - set(map(str, shares.columns)))
        if unknown:
            raise FundingError(f"unknown objective {', '.join(unknown)}")
        if tiers is None:
            return shares[list(selector.objectives)].sum(axis=1).to_numpy(dtype=float)
    if tiers is None:
        return np.ones(n)
    if selector.objectives or len(shares.columns):
        # per objective, so that a tier that is one objective's gives exactly its share
        out = np.zeros(n)
        tags = lines.tags
        for o in selector.objectives or tuple(shares.columns):
            tier = np.asarray([tags.sector_tier.get(str(s), tags.objective_tier.get(
                str(o), DEFAULT_TIER)) for s in lines.sectors])
            out += shares[o].to_numpy(dtype=float) * np.isin(tier, tiers)
        return out
    return lines.tier_share[:, [t - 1 for t in tiers]].sum(axis=1)


def coordinate_mask(lines: Lines, selector: Selector) -> np.ndarray:
    """Cells the selector's location, sector, year and tag keys pick, shape (n,) bool.

    Raises
    ------
    FundingError
        When a location, sector or year code has no line in the plan (a parent location
        counts the lines of the locations under it).
    """
    tags = lines.tags
    mask = np.ones(len(lines.locations), dtype=bool)
    if selector.location_codes:
        wanted: set[str] = set()
        unknown = []
        have = set(map(str, lines.locations))
        for code in selector.location_codes:
            under = with_descendants((code,), tags.parents) & have
            if not under:
                unknown.append(str(code))
            wanted |= under
        if unknown:
            raise FundingError(f"unknown location {', '.join(unknown)} in "
                               f"'{selector.describe()}'")
        mask &= np.isin(lines.locations.astype(str), sorted(wanted))
    for values, column, what in ((selector.sector_codes, lines.sectors, "sector"),
                                 (selector.years, lines.years, "year")):
        if values:
            unknown = sorted(set(map(str, values)) - set(map(str, column)))
            if unknown:
                raise FundingError(
                    f"unknown {what} {', '.join(unknown)} in '{selector.describe()}'")
            mask &= np.isin(column, np.asarray(values, dtype=column.dtype))
    if selector.clusters:
        mask &= np.isin(tags.cluster.astype(str), [c.upper() for c in selector.clusters])
    if selector.location_kinds:
        mask &= np.isin(tags.location_kind.astype(str), [k.lower() for k in
                                                         selector.location_kinds])
    if selector.enabler is not None:
        mask &= lines.enabler.astype(bool) == selector.enabler
    return mask


def select_cells(lines: Lines, selector: Selector) -> np.ndarray:
    """Cells a selector picks, shape (n,) bool: its keys hold, and it concerns some money.

    A line split between objectives (or tiers) is picked when any of its money is in the
    selected objectives (tiers); :func:`cell_share` says which part.
    """
    mask = coordinate_mask(lines, selector)
    if selector.objectives or selected_tiers(selector) is not None:
        mask &= cell_share(lines, selector) > 0
    return mask


def named_lines(lines: Lines, selector: Selector) -> np.ndarray:
    """Cells a selector names by location or sector (codes or tags), or as enablers, (n,) bool.

    A floor holds enabler lines only when its selector names them this way
    (:func:`reachplan.solver.model.floor_lines`).
    """
    tags = lines.tags
    named = np.zeros(len(lines.locations), dtype=bool)
    if selector.location_codes:
        named |= np.isin(lines.locations.astype(str),
                         sorted(with_descendants(selector.location_codes, tags.parents)))
    if selector.location_kinds:
        named |= np.isin(tags.location_kind.astype(str),
                         [k.lower() for k in selector.location_kinds])
    if selector.sector_codes:
        named |= np.isin(lines.sectors.astype(str), list(map(str, selector.sector_codes)))
    if selector.clusters:
        named |= np.isin(tags.cluster.astype(str), [c.upper() for c in selector.clusters])
    if selector.enabler:
        named |= lines.enabler.astype(bool)
    return named


def selects_money(lines: Lines, selector: Selector) -> bool:
    """Whether the selector picks any requirement money of the plan."""
    mask = select_cells(lines, selector)
    return bool(np.any(mask & (cell_share(lines, selector) * lines.requirement_usd > 0)))
