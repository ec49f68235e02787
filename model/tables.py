"""The tables a plan is made of: names, columns, types and accepted header aliases.

A plan is a set of tables. In a directory each table is a CSV file named
``<table>.csv``; in a workbook each is a sheet named ``<table>``. Headers are
matched case-insensitively against the canonical name, the aliases used by the
humanitarian data conventions (HDX HAPI-style names) and HXL hashtags (a row of
``#hashtags`` directly under the header, or in place of it).

This module is pure data: reading files lives in :mod:`scenarios.plan_io`,
checking values in :mod:`model.validation`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

ColumnKind = Literal["code", "text", "int", "money", "number", "origin", "severity", "year"]

ORIGINS = ("source", "derived", "assumption")
"""Where a number comes from: the plan document itself, a documented derivation, or a
planning assumption (stated in the row's note, to be replaced when evidence exists)."""

OUTPUTS = ("people", "entities", "enabler")
"""What a sector's lines deliver (``sectors.output``).

``people``: people reached (the default). ``entities``: institutions supported
(authorities, collective centres, organisations), counted against ``entities_targeted``.
``enabler``: support to other lines (coordination, common services), funded as an
overhead of the programme money it serves. A location of kind ``regional`` is an enabler
in every sector.
"""

TIERS = (1, 2, 3)
"""Priority tiers: 1 life-saving, 2 other humanitarian and solutions work, 3 the rest."""

POPULATION_STATUSES = (
    "in_need",
    "targeted",
    "reached",
    "idps",
    "refugees",
    "returnees",
    "entities_targeted",
)
"""Values of ``population_status``.

``in_need``, ``targeted`` and ``reached`` are people and must nest
(reached <= targeted <= in need). ``idps``, ``refugees`` and ``returnees`` are
displaced-population stocks. ``entities_targeted`` counts institutions
(authorities, collective centres, organisations), not people.
"""

STATUS_ALIASES = {
    # HDX HAPI population_status codes
    "inn": "in_need",
    "tgt": "targeted",
    "rea": "reached",
    "idp": "idps",
    "ref": "refugees",
    "ret": "returnees",
    "people_in_need": "in_need",
    "people_targeted": "targeted",
    "people_reached": "reached",
    "inneed": "in_need",
}

NO_OBJECTIVE = "ALL"
"""Code of the one implicit strategic objective of a plan that has none.

Many plans (an HNRP by cluster) state no strategic objectives: the ``objective`` column of
``requirements`` may then be absent or blank and the ``objectives`` table missing. The plan
then holds this one objective, named :data:`NO_OBJECTIVE_NAME`, with a blank tier (= 2), and
``Plan.has_objectives`` is False.
"""

NO_OBJECTIVE_NAME = "All requirements"
"""Name of the implicit objective :data:`NO_OBJECTIVE`."""

LOCATION_KINDS = ("country", "regional", "admin1", "admin2")
"""Values of ``locations.kind`` (blank = ``country``).

``country``: an ISO 3166 alpha-3 code. ``regional``: a non-country line (regional support)
with a user-assigned code (``X..``), funded as an enabler. ``admin1``/``admin2``: a
sub-national area (province/oblast, district) with an OCHA P-code, which starts with the
ISO 3166 alpha-2 code of the country at the top (``UA14`` under ``UKR``) and names its parent
in ``parent_code`` (a country for admin1, an admin1 for admin2).
"""

SECTOR_STATUSES = ("in_need", "targeted", "reached", "entities_targeted")
"""Population statuses a ``populations`` row may give per sector (cluster): people in need,
targeted and reached by a cluster, and entities it targets. Displaced stocks (idps,
refugees, returnees) belong to a location, not to a sector."""

STATED_MEASURES = ("requirements_usd",) + tuple(f"population:{s}" for s in POPULATION_STATUSES)
"""What a stated total can be a total of."""


@dataclass(frozen=True)
class Column:
    """One column of a plan table.

    Parameters
    ----------
    name
        Canonical header.
    kind
        How values are parsed and checked.
    required
        Whether the column must be present.
    aliases
        Other accepted headers (case-insensitive), e.g. HDX HAPI names.
    hxl
        Accepted HXL hashtags (attributes in any order).
    description
        One line for the template's instructions sheet.
    """

    name: str
    kind: ColumnKind
    required: bool = True
    aliases: tuple[str, ...] = ()
    hxl: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class TableSpec:
    """One table of a plan: its columns, its key and whether it must exist."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    required: bool
    description: str
    example: tuple[tuple[str, str], ...] = ()
    """One example row as (column, value) pairs, shown in the README and the template."""

    def example_csv(self) -> str:
        """The example as two CSV lines: its columns, then its values."""
        return ",".join(c for c, _ in self.example) + "\n" + ",".join(
            f'"{v}"' if "," in v else v for _, v in self.example
        )

    @property
    def column_names(self) -> tuple[str, ...]:
        """Canonical headers in order."""
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        """Return the column spec called ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


_LOCATION = Column(
    "location_code",
    "code",
    aliases=("location", "country_code", "iso3", "admin0_code", "location_iso3"),
    hxl=("#country+code", "#adm0+code", "#country+iso3", "#loc+code"),
    description="ISO 3166 alpha-3 code, an OCHA P-code for an admin1/admin2 area (UA14), or "
    "a user-assigned X.. code for a non-country line",
)
_SECTOR = Column(
    "sector_code",
    "code",
    aliases=("sector", "cluster_code"),
    hxl=("#sector+code", "#sector"),
    description="Sector code, as listed in the sectors table",
)
_YEAR = Column(
    "year",
    "year",
    aliases=("reference_period", "plan_year"),
    hxl=("#date+year", "#date"),
    description="Calendar year of the plan, e.g. 2024",
)
_OBJECTIVE = Column(
    "objective",
    "code",
    required=False,
    aliases=("objective_code", "strategic_objective"),
    hxl=("#indicator+objective", "#objective"),
    description="Strategic objective code, as listed in the objectives table; leave the "
    "column out (or every row blank) when the plan has no strategic objectives",
)
_ORIGIN = Column(
    "origin",
    "origin",
    required=False,
    aliases=("data_origin",),
    hxl=("#meta+origin",),
    description="'source' (from the plan document) or 'derived' (documented method)",
)
_NOTE = Column(
    "note",
    "text",
    required=False,
    aliases=("notes", "comment"),
    hxl=("#meta+note", "#description"),
    description="Free text: citation, derivation, caveat",
)

@dataclass(frozen=True)
class Setting:
    """One key of the ``settings`` table that the tool reads, with its accepted values.

    Parameters
    ----------
    key
        Exact key (keys are matched exactly; a near miss such as ``Overlap factor`` is an
        error, so that a setting is never silently ignored).
    kind
        ``text`` (any), ``currency`` (must be USD) or ``number`` (checked against
        ``minimum`` and ``maximum``).
    default
        Value used when the key is absent or its value empty.
    minimum, maximum
        Inclusive range of a number. ``maximum = "sectors"`` means the number of sectors
        in the plan.
    description
        What the setting means and why the range.
    """

    key: str
    kind: Literal["text", "currency", "number"]
    default: str
    description: str
    minimum: float | None = None
    maximum: float | Literal["sectors"] | None = None


SETTING_RULES: tuple[Setting, ...] = (
    Setting("name", "text", "Unnamed plan", "Plan title shown in every report."),
    Setting(
        "currency",
        "currency",
        "USD",
        "Currency of every amount: must be USD (reports and the LP work in US dollars).",
    ),
    Setting(
        "overlap_factor",
        "number",
        "1",
        "Average number of sectors through which one person reached is served: at least 1 "
        "(no overlap) and at most the number of sectors in the plan (everyone served by "
        "every sector); people reached = sector beneficiaries / overlap_factor.",
        minimum=1.0,
        maximum="sectors",
    ),
    Setting(
        "coverage_offset",
        "number",
        "0.1",
        "Diminishing returns in each location's coverage: the value of reaching more people "
        "in a location falls as 1 / (coverage + offset), coverage being the share of its "
        "planned reach already reached. Small values protect the least covered locations "
        "most; large values approach pure headcount. Between 0.01 and 10.",
        minimum=0.01,
        maximum=10.0,
    ),
    Setting(
        "tier_weights",
        "text",
        "1:2, 2:1, 3:0.5",
        "Weight of a person (or entity) reached by lines of each priority tier, as "
        "'tier:weight' pairs: by default a person reached by life-saving (tier 1) lines "
        "counts twice.",
    ),
    Setting(
        "severity_weights",
        "text",
        "1:0.25, 2:0.5, 3:1, 4:1.5, 5:2",
        "Weight of a location and year per JIAF severity phase of its needs, as "
        "'phase:weight' pairs (severity table); locations without severity weigh 1.",
    ),
)
"""Every setting the tool reads. Other keys (source_document, notes ...) are free text kept
for provenance."""

SETTING_RULES_BY_KEY = {s.key: s for s in SETTING_RULES}


SETTINGS = TableSpec(
    "settings",
    (
        Column("key", "code", description="Setting name"),
        Column("value", "text", description="Setting value"),
        _NOTE,
    ),
    key=("key",),
    required=True,
    description="Plan name, currency, source document and planning assumptions as key/value rows.",
    example=(("key", "name"), ("value", "Flood response plan 2024")),
)

OBJECTIVES = TableSpec(
    "objectives",
    (
        Column("objective_code", "code", aliases=("objective",), description="e.g. SO1"),
        Column("objective_name", "text", description="Objective title"),
        Column(
            "tier",
            "int",
            required=False,
            description="Priority tier of the objective's lines: 1 life-saving, 2, 3 (blank = 2)",
        ),
    ),
    key=("objective_code",),
    required=False,
    description="Strategic objectives of the plan (optional: without it every requirement "
    "falls under one implicit objective, 'ALL').",
    example=(("objective_code", "SO1"), ("objective_name", "Saving lives"), ("tier", "1")),
)

LOCATIONS = TableSpec(
    "locations",
    (
        _LOCATION,
        Column(
            "location_name",
            "text",
            aliases=("country_name", "name"),
            hxl=("#country+name", "#adm0+name"),
            description="Name shown in reports",
        ),
        Column(
            "region",
            "code",
            aliases=("region_code",),
            hxl=("#region+code", "#region"),
            description="Grouping used by the plan's totals, e.g. ukraine / neighbouring",
        ),
        Column(
            "kind",
            "code",
            required=False,
            aliases=("location_kind", "admin_level"),
            description="'country' (blank), 'admin1' or 'admin2' for a sub-national area, or "
            "'regional' for a non-country line (regional support)",
        ),
        Column(
            "parent_code",
            "code",
            required=False,
            aliases=("parent", "parent_location", "parent_location_code", "parent_pcode"),
            hxl=("#loc+code+parent", "#adm1+code+parent"),
            description="For an admin1 area its country's location_code, for an admin2 area "
            "its admin1's; blank for countries and regional lines",
        ),
    ),
    key=("location_code",),
    required=True,
    description="Places the plan covers: countries, sub-national areas (admin1/admin2, "
    "OCHA P-codes) and any non-country line.",
    example=(
        ("location_code", "MZ01"),
        ("location_name", "Cabo Delgado"),
        ("region", "north"),
        ("kind", "admin1"),
        ("parent_code", "MOZ"),
    ),
)

SECTORS = TableSpec(
    "sectors",
    (
        _SECTOR,
        Column(
            "sector_name",
            "text",
            aliases=("name",),
            hxl=("#sector+name",),
            description="Name shown in reports",
        ),
        Column(
            "iasc_cluster",
            "code",
            required=False,
            aliases=("global_cluster_code", "cluster"),
            hxl=("#sector+cluster",),
            description="IASC global cluster code where one fits (SHL, WSH, HEA, PRO, ...)",
        ),
        Column(
            "tier",
            "int",
            required=False,
            description="Priority tier of every line of the sector (1, 2, 3); blank = the tier "
            "of each line's objective",
        ),
        Column(
            "output",
            "code",
            required=False,
            description="What the lines deliver: people (default), entities, or enabler",
        ),
        _NOTE,
    ),
    key=("sector_code",),
    required=True,
    description="Sectors (clusters, programme areas) of the plan.",
    example=(
        ("sector_code", "WASH"),
        ("sector_name", "Water, sanitation and hygiene"),
        ("iasc_cluster", "WSH"),
        ("tier", "1"),
        ("output", "people"),
    ),
)

REQUIREMENTS = TableSpec(
    "requirements",
    (
        _LOCATION,
        _SECTOR,
        _YEAR,
        _OBJECTIVE,
        Column(
            "requirements_usd",
            "money",
            aliases=("requirement_usd", "requirements", "funding_required_usd", "value"),
            hxl=("#value+funding+required+usd", "#value+required+usd", "#value+required"),
            description="Money required in US dollars (no separators, no currency sign)",
        ),
        _ORIGIN,
        _NOTE,
    ),
    key=("location_code", "sector_code", "year", "objective"),
    required=True,
    description="Money required per location, sector, year and (optionally) strategic "
    "objective (long table).",
    example=(
        ("location_code", "MZ01"),
        ("sector_code", "WASH"),
        ("year", "2024"),
        ("objective", "SO1"),
        ("requirements_usd", "2500000"),
    ),
)

POPULATIONS = TableSpec(
    "populations",
    (
        _LOCATION,
        Column(
            "sector_code",
            "code",
            required=False,
            aliases=("sector", "cluster_code", "cluster"),
            hxl=("#sector+code", "#sector"),
            description="Sector (cluster) whose people in need / targeted / reached the row "
            "gives; blank = the whole location (unique people across sectors)",
        ),
        _YEAR,
        Column(
            "population_status",
            "code",
            aliases=("status", "population_group"),
            hxl=("#indicator+status",),
            description="One of: " + ", ".join(POPULATION_STATUSES),
        ),
        Column(
            "population",
            "number",
            aliases=("people", "value", "count"),
            hxl=("#population", "#affected"),
            description="Number of people (or of entities for entities_targeted)",
        ),
        _ORIGIN,
        _NOTE,
    ),
    key=("location_code", "sector_code", "year", "population_status"),
    required=True,
    description=(
        "People in need, targeted and reached, displaced stocks and entities targeted, per "
        "location and year, and optionally per sector (cluster). A wide layout (one column "
        "per status, e.g. in_need, targeted, or HXL #inneed, #targeted) is also accepted."
    ),
    example=(
        ("location_code", "MZ01"),
        ("sector_code", "WASH"),
        ("year", "2024"),
        ("population_status", "targeted"),
        ("population", "350000"),
    ),
)

WIDE_POPULATION_HXL = {
    "#inneed": "in_need",
    "#targeted": "targeted",
    "#reached": "reached",
    "#affected+idps": "idps",
    "#affected+refugees": "refugees",
    "#affected+returnees": "returnees",
}
"""HXL hashtags for a wide populations layout, mapped to population statuses."""

STATED_TOTALS = TableSpec(
    "stated_totals",
    (
        Column("figure", "code", description="Identifier of the stated figure"),
        Column(
            "measure",
            "code",
            description="requirements_usd, or population:<status> (e.g. population:targeted)",
        ),
        Column("objective", "code", required=False, description="Filter; empty = all"),
        Column("region", "code", required=False, description="Filter; empty = all"),
        Column(
            "location_code", "code", required=False, aliases=("location",), description="Filter"
        ),
        Column("sector_code", "code", required=False, aliases=("sector",), description="Filter"),
        Column("year", "year", required=False, description="Filter; empty = all years"),
        Column("value", "number", description="The figure as the document states it"),
        Column(
            "precision",
            "number",
            required=False,
            description="Unit of the last stated digit (1 = exact; 100000 for '$225.4m')",
        ),
        Column(
            "on_mismatch",
            "severity",
            required=False,
            description="'error' (default) or 'warn' for a known contradiction of the document",
        ),
        Column("section", "text", required=False, description="Where the document states it"),
        _NOTE,
    ),
    key=("figure",),
    required=False,
    example=(
        ("figure", "total_requirements"),
        ("measure", "requirements_usd"),
        ("year", "2024"),
        ("value", "413000000"),
        ("precision", "1000000"),
        ("section", "p. 5"),
    ),
    description=(
        "Totals the plan document states, checked against the sums of the tables: "
        "a sum agrees when the stated value is the sum rounded or truncated to 'precision'."
    ),
)

UNIT_COSTS = TableSpec(
    "unit_costs",
    (
        _LOCATION,
        _SECTOR,
        Column(
            "unit_cost_usd",
            "money",
            aliases=("cost_per_person_usd",),
            hxl=("#value+cost+person+usd",),
            description="US dollars per person reached by the first tranche of the requirement",
        ),
        Column(
            "weight",
            "number",
            required=False,
            description="Priority weight (severity/vulnerability); default 1",
        ),
        _ORIGIN,
        _NOTE,
    ),
    key=("location_code", "sector_code"),
    required=False,
    description="Unit cost per person reached, per location and sector (planning assumption); "
    "without it, unit costs are calibrated from the people targeted when the plan is loaded "
    "('reachplan plan calibrate PLAN' writes them).",
    example=(
        ("location_code", "MZ01"),
        ("sector_code", "WASH"),
        ("unit_cost_usd", "25.00"),
        ("weight", "1"),
        ("origin", "derived"),
    ),
)

COST_CURVE = TableSpec(
    "cost_curve",
    (
        Column("tranche", "int", description="1, 2, 3 ... in order of rising cost"),
        Column(
            "share_of_requirement",
            "number",
            description="Share of a cell's requirement in this tranche; shares sum to 1",
        ),
        Column(
            "cost_factor",
            "number",
            description="Multiplier on the unit cost in this tranche (non-decreasing)",
        ),
        _NOTE,
    ),
    key=("tranche",),
    required=False,
    example=(("tranche", "1"), ("share_of_requirement", "0.6"), ("cost_factor", "1")),
    description=(
        "Diminishing returns: successive tranches of a requirement reach people at rising cost."
    ),
)

SECTOR_COST_INDEX = TableSpec(
    "sector_cost_index",
    (
        _SECTOR,
        Column(
            "cost_index",
            "number",
            description="Relative cost per person (or entity) reached in this sector; "
            "only ratios between sectors matter (1 = reference)",
        ),
        _ORIGIN,
        Column(
            "source",
            "text",
            required=False,
            description="Where the figure comes from (a published plan's cluster requirement "
            "/ cluster target), or the reasoning behind an assumption",
        ),
        _NOTE,
    ),
    key=("sector_code",),
    required=False,
    example=(
        ("sector_code", "WASH"),
        ("cost_index", "1.4"),
        ("origin", "assumption"),
        ("source", "water trucking costs more per person than hygiene kits"),
    ),
    description=(
        "Relative cost per person reached between sectors, used to calibrate unit costs per "
        "location and sector when the plan gives people targeted per location only."
    ),
)

SEVERITY = TableSpec(
    "severity",
    (
        _LOCATION,
        Column(
            "population_group",
            "code",
            aliases=("group",),
            description="all, or a group such as idps, refugees, returnees, non_displaced",
        ),
        _YEAR,
        Column("severity", "int", description="JIAF severity phase 1 (minimal) to 5 "
               "(catastrophic)"),
        Column(
            "population",
            "number",
            required=False,
            description="People in need in the group (weights the groups of a location)",
        ),
        _ORIGIN,
        _NOTE,
    ),
    key=("location_code", "population_group", "year"),
    required=False,
    example=(
        ("location_code", "MZ01"),
        ("population_group", "all"),
        ("year", "2024"),
        ("severity", "4"),
    ),
    description=(
        "Severity of needs per location, population group and year (JIAF 1-5 scale); "
        "turned into priority weights by the setting severity_weights."
    ),
)

TABLES: tuple[TableSpec, ...] = (
    SETTINGS,
    OBJECTIVES,
    LOCATIONS,
    SECTORS,
    REQUIREMENTS,
    POPULATIONS,
    STATED_TOTALS,
    UNIT_COSTS,
    COST_CURVE,
    SECTOR_COST_INDEX,
    SEVERITY,
)
"""Every table a plan may hold, in the order files and sheets are written."""

TABLES_BY_NAME = {t.name: t for t in TABLES}


# CSV cells a spreadsheet cannot run (OWASP CSV injection); written by reports.plan_files,
# read back by scenarios.plan_io.

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP)."""


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _is_numeric_text(text: str) -> bool:
    """True for text that is a plain decimal number (``-3.5``, ``+2``, ``1e-3``)."""
    return _NUMBER.fullmatch(text) is not None


def _needs_quote(text: str) -> bool:
    """True when a spreadsheet would run ``text`` (after any leading quotes) as a formula."""
    bare = text.lstrip("'")
    return bare.startswith(FORMULA_PREFIXES) and not _is_numeric_text(bare)


def escape_formula(text: str) -> str:
    """``text`` with a leading ``'`` when a spreadsheet would read it as a formula.

    Plain numbers (``-3.5``) are left alone: a spreadsheet reads them as numbers. Text
    that already begins with quotes before a formula character gets one more, so that
    :func:`unescape_csv_cell` gives back exactly the original text.
    """
    return "'" + text if _needs_quote(text) else text


def unescape_csv_cell(text: str) -> str:
    """Inverse of :func:`escape_formula`, for text read back from a CSV the tool wrote."""
    return text[1:] if text.startswith("'") and _needs_quote(text[1:]) else text
