"""The what-if page (Dash): controls on the left, who is reached on the right.

:func:`create_app` builds the Dash application for a :class:`~reachplan.web.context.WhatIfContext`.
Every script and style is served by the installed packages (``serve_locally``): the page
opens with no network.

How the page works
------------------
- **One state, in the URL.** The controls (funding, per-year amounts, carry-over,
  objective, the rules) make one :class:`WhatIfState`; its query string
  (``state_to_query``) is written to ``url.search``, and every view is redrawn from that
  string alone. A link therefore reopens the same what-if: the layout is built per page
  load from the query string of the page (the layout request's ``Referer``).
- **Re-solves** go through ``context.solver.solve(funding)``: the same
  :class:`~reachplan.solver.result.Allocation` as ``reachplan allocate`` for the same
  settings, so every number matches ``reachplan allocate --json``.
- **Bad input** gives a message next to the control at fault (``ControlError.control``),
  never a traceback; rules that cannot all hold give ``allocate``'s diagnosis in
  ``diagnosis``.
- **Pro rata** is every line cut by the same percentage (``pro_rata_people_reached``);
  its unmet need is, per location and year, the people in need it leaves unreached.
- **What one more $1M reaches**: the envelope's shadow price (people per extra $1M, as
  ``allocate --json`` ``shadow_prices``); with per-year envelopes, the year where it is
  largest. *Where*: the lines where an extra $1M reaches the most people
  (:func:`reachplan.solver.marginal.line_marginals`).
- **Futures** run a small Monte Carlo (:data:`FUTURES_DRAWS` draws) of the current settings
  in a background thread (:func:`reachplan.solver.batch.run_scenario`), with the simulation
  assumptions of the ``--scenario`` file, else the shipped default; the band is the 5th to
  95th percentile of people reached.
- **Exports** are Flask routes that rebuild the funding from the query string (never a
  file path from the browser).
"""

from __future__ import annotations

import html as html_text
import io
import math
import threading
import urllib.parse
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import dash
import flask
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import ALL, Input, Output, State, ctx, dash_table, dcc, html

from reachplan.model.errors import ReachplanError
from reachplan.model.funding import (
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
from reachplan.solver.result import Allocation, InfeasibleScenarioError
from reachplan.web.context import WhatIfContext

__all__ = [
    "FUTURES_DRAWS",
    "PageNumbers",
    "create_app",
    "export_csv_text",
    "export_workbook",
    "format_people",
    "format_usd",
    "funding_for_query",
    "marginal_text",
    "page_numbers",
]

FUTURES_DRAWS = 100
"""Draws of the futures button's Monte Carlo."""

SLIDER_MAX = 150
"""Largest share of the appeal on the slider (%); larger amounts can be typed."""

RULE_KINDS = ("earmark", "floor", "cap", "lock", "exclude")

PLANNER_ROWS = frozenset({"envelope", "earmark", "earmark_share", "flexible", "floor",
                          "objective_share", "continuity", "lock", "exclusion"})
"""Binding rows shown as rules (absorption caps are counted; model rows are not shown)."""

# ---- state: web/state.py and scenarios/scenario_toml.py, or a private fallback ----------

try:  # pragma: no cover - whichever exists
    from reachplan.web.state import (
        ControlError,
        RuleSetting,
        WhatIfState,
        state_from_funding,
        state_from_query,
        state_to_funding,
        state_to_query,
    )
except ImportError:  # pragma: no cover - the state module is not there yet

    class ControlError(ReachplanError, ValueError):  # type: ignore[no-redef]
        """_fallback_: a control's value cannot be used; ``control`` is the control's id."""

        def __init__(self, control: str, message: str) -> None:
            super().__init__(message)
            self.control = control
            self.message = message

        def __str__(self) -> str:
            return self.message

    @dataclass(frozen=True)
    class RuleSetting:  # type: ignore[no-redef]
        """_fallback_ of ``web.state.RuleSetting``."""

        kind: str
        name: str
        value: str
        selector: Selector = field(default_factory=Selector)
        per: str = "all"

    @dataclass(frozen=True)
    class WhatIfState:  # type: ignore[no-redef]
        """_fallback_ of ``web.state.WhatIfState``."""

        funding: str = "100%"
        years: tuple[tuple[int, str], ...] = ()
        carry_over: bool = False
        rules: tuple[RuleSetting, ...] = ()
        objective: str = "priority"
        locked: tuple[str, ...] = ()
        excluded: tuple[str, ...] = ()

    state_from_funding = None  # type: ignore[assignment]
    state_from_query = None  # type: ignore[assignment]
    state_to_funding = None  # type: ignore[assignment]
    state_to_query = None  # type: ignore[assignment]

try:  # pragma: no cover - whichever exists
    from reachplan.scenarios.scenario_toml import scenario_toml
except ImportError:  # pragma: no cover
    scenario_toml = None  # type: ignore[assignment]


def _fallback_selector_text(sel: Selector) -> str:
    parts = []
    if sel.sector_codes:
        parts.append("sector:" + "/".join(sel.sector_codes))
    if sel.location_codes:
        parts.append("location:" + "/".join(sel.location_codes))
    if sel.years:
        parts.append("year:" + "/".join(str(y) for y in sel.years))
    if sel.tiers:
        parts.append("tier:" + "/".join(str(t) for t in sel.tiers))
    return ",".join(parts)


def _fallback_selector_from(text: str) -> Selector:
    out: dict[str, tuple[Any, ...]] = {}
    for part in filter(None, text.split(",")):
        key, _, values = part.partition(":")
        items = tuple(v for v in values.split("/") if v)
        if key == "sector":
            out["sector_codes"] = items
        elif key == "location":
            out["location_codes"] = items
        elif key in ("year", "tier"):
            try:
                out[key + "s"] = tuple(int(v) for v in items)
            except ValueError:
                raise ControlError("url", f"{part!r}: {key} must be numbers") from None
        else:
            raise ControlError("url", f"{part!r}: unknown selector {key!r}")
    return Selector(**out)


def _fallback_state_from_funding(funding: FundingScenario) -> WhatIfState:
    env = funding.envelope
    rules: list[RuleSetting] = []
    rules += [RuleSetting("earmark", e.name, _amount_text(e.amount), e.selector)
              for e in funding.earmarks]
    rules += [RuleSetting("floor", f.name, f"{f.share * 100:g}%", f.selector, f.per)
              for f in funding.floors]
    rules += [RuleSetting("cap", f"cap {i + 1}", f"{c.factor:g}", c.selector)
              for i, c in enumerate(funding.caps)]
    rules += [RuleSetting("lock", lk.name, _amount_text(lk.amount), lk.selector)
              for lk in funding.locks]
    rules += [RuleSetting("exclude", f"exclusion {i + 1}", "", s)
              for i, s in enumerate(funding.exclusions)]
    return WhatIfState(
        funding="" if env.total is None else _amount_text(env.total),
        years=tuple((y, _amount_text(a)) for y, a in env.per_year),
        carry_over=env.carry_over, rules=tuple(rules), objective=funding.objective,
    )


def _amount_text(amount: Amount) -> str:
    if amount.kind == "share":
        return f"{amount.value * 100:.10g}%"
    return f"USD {amount.value:.15g}"


def _fallback_state_to_funding(state: WhatIfState, base: FundingScenario,
                               plan: Plan) -> FundingScenario:
    def amount(text: str, control: str) -> Amount:
        try:
            return parse_amount(text)
        except FundingError as exc:
            raise ControlError(control, str(exc)) from None

    total = amount(state.funding, "funding-amount") if state.funding.strip() else None
    years = tuple((y, amount(t, f"year-amount-{y}")) for y, t in state.years if t.strip())
    if total is None and not years:
        raise ControlError("funding-amount", "write a total ('60%', 'USD 300m') or per-year "
                                             "amounts")
    earmarks, floors, caps, locks, exclusions = [], [], [], [], []
    for i, r in enumerate(state.rules):
        control = f"rule-value-{i}"
        try:
            if r.kind == "earmark":
                earmarks.append(Earmark(r.name, amount(r.value, control), r.selector))
            elif r.kind == "lock":
                locks.append(Lock(r.name, amount(r.value, control), r.selector))
            elif r.kind == "floor":
                share = amount(r.value, control)
                if share.kind != "share":
                    raise ControlError(control, "a floor is a share of requirement ('50%')")
                floors.append(Floor(r.name, share.value, r.selector, r.per))  # type: ignore[arg-type]
            elif r.kind == "cap":
                try:
                    factor = float(r.value)
                except ValueError:
                    raise ControlError(control, f"{r.value!r}: a cap is a factor of "
                                                "requirement ('1.2')") from None
                caps.append(Cap(factor, r.selector))
            elif r.kind == "exclude":
                if r.selector == Selector():
                    raise ControlError(control, "an exclusion must name what it excludes")
                exclusions.append(r.selector)
        except FundingError as exc:
            raise ControlError(control, str(exc)) from None
    try:
        return replace(
            base, envelope=Envelope(total, years, state.carry_over), earmarks=tuple(earmarks),
            floors=tuple(floors), caps=tuple(caps), locks=tuple(locks),
            exclusions=tuple(exclusions), objective=state.objective,
        )
    except FundingError as exc:
        raise ControlError("rule-error", str(exc)) from None


def _fallback_state_to_query(state: WhatIfState) -> str:
    pairs: list[tuple[str, str]] = [("funding", state.funding)]
    pairs += [("year", f"{y}~{t}") for y, t in state.years]
    if state.carry_over:
        pairs.append(("carry", "1"))
    if state.objective != "priority":
        pairs.append(("objective", state.objective))
    pairs += [("rule", "~".join((r.kind, r.name, r.value, _fallback_selector_text(r.selector),
                                 r.per))) for r in state.rules]
    return "?" + urllib.parse.urlencode(pairs)


def _fallback_state_from_query(query: str) -> WhatIfState:
    try:
        pairs = urllib.parse.parse_qsl(query.lstrip("?"), keep_blank_values=True,
                                       strict_parsing=bool(query.lstrip("?")))
    except ValueError:
        raise ControlError("url", "the address's settings cannot be read") from None
    funding, years, carry, objective, rules = "100%", [], False, "priority", []
    for key, value in pairs:
        if key == "funding":
            funding = value
        elif key == "year":
            y, _, t = value.partition("~")
            if not y.isdigit():
                raise ControlError("url", f"{value!r} is not YEAR~AMOUNT")
            years.append((int(y), t))
        elif key == "carry":
            carry = value == "1"
        elif key == "objective":
            if value not in ("priority", "headcount"):
                raise ControlError("url", f"unknown objective {value!r}")
            objective = value
        elif key == "rule":
            parts = value.split("~")
            if len(parts) != 5 or parts[0] not in RULE_KINDS:
                raise ControlError("url", f"{value!r} is not a rule")
            rules.append(RuleSetting(parts[0], parts[1], parts[2],
                                     _fallback_selector_from(parts[3]), parts[4] or "all"))
        elif key != "token":
            raise ControlError("url", f"unknown setting {key!r}")
    return WhatIfState(funding, tuple(years), carry, tuple(rules), objective)


def _fallback_scenario_toml(funding: FundingScenario, *, name: str, description: str,
                            extends: str | None, plan: str | None) -> str:
    import tomli_w

    def sel(s: Selector) -> dict[str, object]:
        out: dict[str, object] = {}
        if s.location_codes:
            out["locations"] = list(s.location_codes)
        if s.sector_codes:
            out["sectors"] = list(s.sector_codes)
        if s.years:
            out["years"] = list(s.years)
        if s.tiers:
            out["tiers"] = list(s.tiers)
        if s.objectives:
            out["objectives"] = list(s.objectives)
        return out

    env = funding.envelope
    env_table: dict[str, object] = {"carry_over": env.carry_over,
                                    "years": {str(y): _amount_text(a) for y, a in env.per_year}}
    if env.total is not None:
        env_table["total"] = _amount_text(env.total)
    table: dict[str, object] = {
        "funding": env_table,
        "objective": funding.objective,
        "earmarks": [{"name": e.name, "amount": _amount_text(e.amount), **sel(e.selector)}
                     for e in funding.earmarks],
        "floors": [{"name": f.name, "share": f.share, "per": f.per, **sel(f.selector)}
                   for f in funding.floors],
        "caps": [{"factor": c.factor, **sel(c.selector)} for c in funding.caps],
        "default_cap": funding.default_cap,
        "locks": [{"name": lk.name, "amount": _amount_text(lk.amount), **sel(lk.selector)}
                  for lk in funding.locks],
        "exclusions": [sel(s) for s in funding.exclusions],
        "weights": [{"weight": w.weight, **sel(w.selector)} for w in funding.weights],
        "objective_bounds": [{"objective": b.objective, "min_share": b.min_share,
                              "max_share": b.max_share} for b in funding.objective_bounds],
    }
    if funding.max_year_fall is not None:
        table["max_year_fall"] = funding.max_year_fall
    doc: dict[str, object] = {"name": name, "description": description}
    if extends is not None:
        doc["extends"] = extends
    if plan is not None:
        doc["plan"] = plan
    doc["funding"] = table
    return tomli_w.dumps(doc)


if state_to_funding is None:  # pragma: no cover
    state_from_funding = _fallback_state_from_funding
    state_from_query = _fallback_state_from_query
    state_to_funding = _fallback_state_to_funding
    state_to_query = _fallback_state_to_query
if scenario_toml is None:  # pragma: no cover
    scenario_toml = _fallback_scenario_toml


# ---- numbers the page shows --------------------------------------------------------------


def format_people(n: float) -> str:
    """People as a whole number with thousands separators (``1,234,567``)."""
    return f"{n:,.0f}" if math.isfinite(n) else "-"


def format_usd(usd: float) -> str:
    """Money for a planner: ``$12.3M`` above a million, else whole dollars (``$45,600``).

    The cent-rounded amount (:func:`reports.views.round_money`) is what files carry;
    on screen millions with one decimal are read faster.
    """
    usd = round(usd, 2) + 0.0
    if abs(usd) >= 1e9:
        return f"${usd / 1e9:,.2f}B"
    if abs(usd) >= 1e6:
        return f"${usd / 1e6:,.1f}M"
    return f"${usd:,.0f}"


@dataclass(frozen=True)
class PageNumbers:
    """The headline numbers of one allocation, as the page shows them (full precision)."""

    people_reached: float
    pro_rata_people: float
    gain_over_pro_rata: float
    coverage: float
    pro_rata_coverage: float
    unmet_need: float
    pro_rata_unmet_need: float
    funding_usd: float
    allocated_usd: float


def page_numbers(result: Allocation) -> PageNumbers:
    """The headline numbers of ``result`` (``people_reached`` as ``allocate --json``).

    Unmet need sums, over the locations and years with a known need, the people in need
    not reached; pro rata's is computed the same way from each location and year's
    pro-rata people reached (at most its people in need).
    """
    table = result.coverage_by_location_year
    unmet = pr_unmet = 0.0
    coverage = pr_coverage = 0.0
    if table is not None and not table.empty:
        known = table[np.isfinite(table["people_in_need"])]
        need = known.set_index(["location_code", "year"])["people_in_need"]
        unmet = float(known["unmet_need"].clip(lower=0).sum())
        pro = result.cells.groupby(level=["location_code", "year"])[
            "pro_rata_people_reached"].sum().reindex(need.index).fillna(0.0)
        reached_pr = np.minimum(pro.to_numpy(), need.to_numpy())
        pr_unmet = float(np.clip(need.to_numpy() - reached_pr, 0, None).sum())
        total_need = float(need.sum())
        if total_need > 0:
            coverage = result.coverage
            pr_coverage = float(reached_pr.sum()) / total_need
    return PageNumbers(
        people_reached=result.people_reached,
        pro_rata_people=result.pro_rata_people_reached,
        gain_over_pro_rata=result.gain_over_pro_rata,
        coverage=coverage,
        pro_rata_coverage=pr_coverage,
        unmet_need=unmet,
        pro_rata_unmet_need=pr_unmet,
        funding_usd=result.funding_usd,
        allocated_usd=result.allocated_usd,
    )


def marginal_text(result: Allocation, context: WhatIfContext, top: int = 3) -> tuple[float, str]:
    """What one more $1M reaches: (people, planner words with where it reaches most).

    People: the envelope's shadow price (the largest over per-year envelopes) plus the
    flexible-money row's (with earmarks, flexible money is limited by its own row);
    where: the ``top`` lines where an extra $1M reaches the most people.
    """
    from reachplan.solver.marginal import line_marginals

    prices = [s for s in result.shadow_prices if s.kind == "envelope"]
    if not prices:
        return 0.0, "No envelope limits the allocation: more money would stay unallocated."
    best = max(prices, key=lambda s: s.value)
    # flexible money raises the envelope and, with earmarks, the flexible (non-earmarked)
    # money limit: both rows' prices add up
    flexible = [s for s in result.shadow_prices if s.kind == "flexible"]
    value = float(best.value) + float(sum(s.value for s in flexible))
    where = "" if best.constraint == "envelope_total" else f" (in {best.description})"
    costs = context.costs
    allocated = result.cells["allocated_usd"].reindex(costs.cells).fillna(0.0).to_numpy()
    marg = line_marginals(costs, result.scenario, allocated)
    order = np.argsort(-marg.people)[:top]
    sectors = context.plan.sectors
    names = sectors["sector_name"] if "sector_name" in sectors else None
    parts = []
    for i in order:
        if marg.people[i] <= 0:
            continue
        loc, sector, year = costs.cells[i]
        label = str(names.get(sector, sector)) if names is not None else str(sector)
        parts.append(f"{label} in {loc}, {int(year)} ({format_people(marg.people[i])})")
    lines = " Best lines for it: " + "; ".join(parts) + "." if parts else ""
    text = (f"One more $1M of flexible money reaches about {format_people(value)} more "
            f"people{where}.{lines}")
    return value, text


# ---- query -> funding ---------------------------------------------------------------------


def state_for_query(query: str) -> WhatIfState:
    """The page state of a URL search string (``ControlError("url", ...)`` when malformed)."""
    return state_from_query(query or "")


def funding_for_query(context: WhatIfContext, query: str) -> FundingScenario:
    """The funding rules of a URL search string, on the context's plan and base rules.

    Raises
    ------
    ControlError
        Naming the control at fault.
    """
    state = state_for_query(query)
    funding = state_to_funding(state, context.base, context.plan)
    return replace(funding, name=context.base.name or "what-if")


def solve_query(context: WhatIfContext, query: str) -> Allocation:
    """The allocation of a URL search string.

    Errors as :func:`funding_for_query`, plus ``InfeasibleScenarioError`` and
    ``ValueError`` (codes the plan does not have).
    """
    return context.solver.solve(funding_for_query(context, query))


# ---- exports ------------------------------------------------------------------------------


def export_csv_text(result: Allocation, plan: Plan) -> str:
    """The allocation's line table as CSV (``reachplan allocate --out``'s ``cells.csv``)."""
    from reachplan.reports.allocation import render_csv_tables

    return render_csv_tables(result, plan)["cells"]


def export_workbook(result: Allocation, plan: Plan) -> bytes:
    """The allocation as an xlsx workbook: one sheet per table of ``allocate --out``.

    Sheets as :func:`reports.allocation.render_csv_tables` (cells, locations, sectors,
    shadow prices, unfunded, provenance); money in whole dollars with separators, as the
    report's workbook (:func:`reports.views.is_money_amount`).
    """
    from openpyxl import Workbook

    from reachplan.reports.allocation import render_csv_tables
    from reachplan.reports.views import is_money_amount, is_money_rate

    wb = Workbook()
    wb.remove(wb.active)
    for name, text in render_csv_tables(result, plan).items():
        frame = pd.read_csv(io.StringIO(text), keep_default_na=False)
        ws = wb.create_sheet(name[:31])
        ws.append([str(c) for c in frame.columns])
        for row in frame.itertuples(index=False):
            ws.append([_cell(v) for v in row])
        for j, col in enumerate(frame.columns, start=1):
            fmt = "#,##0" if is_money_amount(col) else "0.00####" if is_money_rate(col) else None
            if fmt:
                for (cell,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                    cell.number_format = fmt
        ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _cell(value: object) -> object:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@")):
        try:
            return float(value)
        except ValueError:
            return "'" + value
    return value


def _register_exports(app: dash.Dash, context: WhatIfContext) -> None:
    server = app.server

    def failure(exc: Exception) -> flask.Response:
        message = str(exc) if isinstance(exc, ReachplanError | ValueError) else "cannot export"
        return flask.Response(f"cannot export: {message}\n", status=400,
                              mimetype="text/plain")

    def attachment(body: str | bytes, mimetype: str, filename: str) -> flask.Response:
        return flask.Response(body, mimetype=mimetype, headers={
            "Content-Disposition": f'attachment; filename="{filename}"'})

    def query() -> str:
        return flask.request.query_string.decode("utf-8", "replace")

    @server.route("/export/scenario.toml")
    def export_scenario() -> flask.Response:
        try:
            funding = funding_for_query(context, query())
            plan = None if context.plan_path is None else str(context.plan_path)
            text = scenario_toml(
                funding, name=_scenario_name(context), extends=None, plan=plan,
                description=f"What-if on {context.plan.name}: {funding.describe()}",
            )
        except (ReachplanError, ValueError) as exc:
            return failure(exc)
        return attachment(text, "application/toml", "whatif.toml")

    @server.route("/export/allocation.csv")
    def export_csv() -> flask.Response:
        try:
            text = export_csv_text(solve_query(context, query()), context.plan)
        except (ReachplanError, ValueError) as exc:
            return failure(exc)
        return attachment(text, "text/csv", "allocation.csv")

    @server.route("/export/allocation.xlsx")
    def export_xlsx() -> flask.Response:
        try:
            body = export_workbook(solve_query(context, query()), context.plan)
        except (ReachplanError, ValueError) as exc:
            return failure(exc)
        return attachment(
            body, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "allocation.xlsx")

    @server.route("/export/report.html")
    def export_report() -> flask.Response:
        try:
            result = solve_query(context, query())
        except (ReachplanError, ValueError) as exc:
            return failure(exc)
        return attachment(report_html(context, result), "text/html", "whatif-report.html")


def _scenario_name(context: WhatIfContext) -> str:
    return "whatif"


def report_html(context: WhatIfContext, result: Allocation) -> str:
    """A self-contained HTML report of one what-if allocation (opens offline).

    The full scenario report (``reachplan run``) needs a Monte Carlo run and the funding
    ladder (minutes on the default plan); this page report holds the allocation's
    headline numbers, rules, binding constraints and the line table, all escaped.
    """
    e = html_text.escape
    nums = page_numbers(result)
    rows = []
    frame = result.by("location_code", "sector_code")
    for (loc, sec), r in frame.iterrows():
        rows.append(f"<tr><td>{e(str(loc))}</td><td>{e(str(sec))}</td>"
                    f"<td class=n>{format_usd(r['requirement_usd'])}</td>"
                    f"<td class=n>{format_usd(r['allocated_usd'])}</td>"
                    f"<td class=n>{r['share_funded']:.0%}</td>"
                    f"<td class=n>{format_people(r['people_reached'])}</td></tr>")
    binding = "".join(f"<li>{e(s.description)}: {s.value:,.0f} {e(s.unit)}</li>"
                      for s in result.binding[:15])
    warn = "".join(f"<li>{e(w)}</li>" for w in result.warnings)
    return f"""<!doctype html><html lang=en><head><meta charset=utf-8>
<title>What-if: {e(context.plan.name)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;color:#1d2733}}
table{{border-collapse:collapse}}td,th{{padding:2px 8px;border-bottom:1px solid #ddd}}
.n{{text-align:right;font-variant-numeric:tabular-nums}}</style></head><body>
<h1>What-if: {e(context.plan.name)}</h1>
<p>{e(result.scenario.describe())}</p>
<table>
<tr><th>People reached</th><td class=n>{format_people(nums.people_reached)}</td></tr>
<tr><th>Pro rata (every line cut equally)</th>
<td class=n>{format_people(nums.pro_rata_people)}</td></tr>
<tr><th>Gain over pro rata</th><td class=n>{format_people(nums.gain_over_pro_rata)}</td></tr>
<tr><th>Unmet need</th><td class=n>{format_people(nums.unmet_need)}</td></tr>
<tr><th>Funding</th><td class=n>{format_usd(nums.funding_usd)}</td></tr>
<tr><th>Allocated</th><td class=n>{format_usd(nums.allocated_usd)}</td></tr>
</table>
<h2>Binding rules</h2><ul>{binding or "<li>none</li>"}</ul>
{f"<h2>Warnings</h2><ul>{warn}</ul>" if warn else ""}
<h2>Sector by location</h2>
<table><tr><th>Location</th><th>Sector</th><th>Requirement</th><th>Allocated</th>
<th>Funded</th><th>People reached</th></tr>{"".join(rows)}</table>
</body></html>
"""


# ---- futures ------------------------------------------------------------------------------


class Futures:
    """Monte Carlo runs of the page's settings, one background thread each, polled by id."""

    def __init__(self, context: WhatIfContext) -> None:
        self.context = context
        self._lock = threading.Lock()
        self._jobs: dict[str, dict[str, Any]] = {}

    def start(self, funding: FundingScenario, draws: int = FUTURES_DRAWS) -> str:
        """Start a run of ``draws`` draws of ``funding``; return its id."""
        job = uuid.uuid4().hex
        with self._lock:
            if len(self._jobs) > 16:
                self._jobs.pop(next(iter(self._jobs)))
            self._jobs[job] = {"done": 0, "total": draws, "band": None, "error": None}
        threading.Thread(target=self._run, args=(job, funding, draws), daemon=True).start()
        return job

    def status(self, job: str) -> dict[str, Any] | None:
        """``done``, ``total``, ``band`` (p5, median, p95) or ``error`` of a run."""
        with self._lock:
            found = self._jobs.get(job)
            return None if found is None else dict(found)

    def _run(self, job: str, funding: FundingScenario, draws: int) -> None:
        from reachplan.model.scenario import Scenario
        from reachplan.scenarios.simulation_io import load_simulation
        from reachplan.solver.batch import CHUNK_DRAWS, run_scenario
        from reachplan.workflow.suite import load_initial_state

        try:
            base = self.context.scenario
            scenario = Scenario(
                name="whatif", description="", funding=funding,
                simulation=base.simulation if base is not None else load_simulation(None),
                draws=draws, seed=base.seed if base is not None else 20240101,
            )

            def on_chunk(chunk: Any) -> None:
                with self._lock:
                    self._jobs[job]["done"] = min(
                        draws, self._jobs[job]["done"] + min(CHUNK_DRAWS, draws))

            run = run_scenario(self.context.plan, scenario, load_initial_state(),
                               on_chunk=on_chunk)
            band = (run.percentile(5), run.percentile(50), run.percentile(95))
            with self._lock:
                self._jobs[job].update(done=draws, band=band)
        except Exception as exc:  # noqa: BLE001 - shown to the planner, never raised
            message = str(exc) if isinstance(exc, ReachplanError | ValueError) else (
                "the futures run failed")
            with self._lock:
                self._jobs[job]["error"] = message


# ---- layout -------------------------------------------------------------------------------


def _number(id_: str, label: str, note_id: str | None = None) -> html.Div:
    return html.Div([
        html.Div(label, className="kpi-label"),
        html.Div("-", id=id_, className="kpi-value", **{"data-value": ""}),
        html.Div(id=note_id, className="kpi-note") if note_id else None,
    ], className="kpi")


def _options(frame: pd.DataFrame, name_col: str) -> list[dict[str, str]]:
    return [{"label": f"{name} ({code})", "value": str(code)}
            for code, name in frame[name_col].items()]


def _years(context: WhatIfContext) -> list[int]:
    return sorted({int(y) for y in context.costs.years})


def _share_of(text: str) -> float | None:
    try:
        amount = parse_amount(text)
    except (FundingError, AttributeError):
        return None
    return amount.value * 100 if amount.kind == "share" else None


def _rule_label(rule: RuleSetting) -> str:
    what = rule.selector.describe()
    if rule.kind == "earmark":
        return f"Earmark {rule.name}: {rule.value} for {what}"
    if rule.kind == "floor":
        per = "" if rule.per == "all" else f" (each {rule.per})"
        return f"Floor {rule.name}: at least {rule.value} of requirement for {what}{per}"
    if rule.kind == "cap":
        return f"Cap: at most {rule.value} x requirement for {what}"
    if rule.kind == "lock":
        return f"Lock {rule.name}: {rule.value} to {what}"
    return f"Exclude {what}"


def _layout(context: WhatIfContext, state: WhatIfState, search: str) -> html.Div:
    plan = context.plan
    years = _years(context)
    year_text = dict(state.years)
    share = _share_of(state.funding)
    controls = html.Div([
        html.H2("Funding"),
        html.Label("Share of the appeal", htmlFor="funding-slider"),
        dcc.Slider(id="funding-slider", min=0, max=SLIDER_MAX, step=5,
                   value=min(share, SLIDER_MAX) if share is not None else None,
                   marks={v: f"{v}%" for v in range(0, SLIDER_MAX + 1, 25)},
                   tooltip={"placement": "bottom"}, updatemode="mouseup"),
        html.Label("Total (e.g. 60%, USD 300m)", htmlFor="funding-amount"),
        dcc.Input(id="funding-amount", type="text", value=state.funding, debounce=True,
                  className="text-input"),
        html.Div(id="funding-amount-error", className="control-error"),
        html.Details([
            html.Summary("Per year"),
            html.Div([
                html.Div([
                    html.Label(str(y), htmlFor=f"year-amount-{y}"),
                    dcc.Input(id=f"year-amount-{y}", type="text", debounce=True,
                              value=year_text.get(y, ""), placeholder="(no limit)",
                              className="text-input year-input"),
                    html.Div(id=f"year-amount-{y}-error", className="control-error"),
                ], className="year-row") for y in years
            ]),
            dcc.Checklist(id="carry-over", options=[
                {"label": " Money unspent in a year can be spent later", "value": "on"}],
                value=["on"] if state.carry_over else []),
        ], open=bool(state.years)),
        html.H2("Objective"),
        dcc.RadioItems(id="objective", value=state.objective, options=[
            {"label": " Priority (tiers, severity)", "value": "priority"},
            {"label": " Headcount (people reached)", "value": "headcount"},
        ]),
        html.H2("Rules"),
        html.Div([
            dcc.Dropdown(id="rule-kind", clearable=False, value="earmark", options=[
                {"label": "Earmark (money for)", "value": "earmark"},
                {"label": "Floor (at least a share)", "value": "floor"},
                {"label": "Cap (at most x requirement)", "value": "cap"},
                {"label": "Lock (fixed amount)", "value": "lock"},
                {"label": "Exclude (nothing for)", "value": "exclude"},
            ]),
            dcc.Input(id="rule-name", type="text", placeholder="Name (e.g. Shelter donor)",
                      className="text-input"),
            dcc.Input(id="rule-value", type="text",
                      placeholder="Amount: USD 50m / 25%; floor 50%; cap 1.2",
                      className="text-input"),
            dcc.Dropdown(id="rule-sector", multi=True, placeholder="Sectors (all)",
                         options=_options(plan.sectors, "sector_name")),
            dcc.Dropdown(id="rule-location", multi=True, placeholder="Locations (all)",
                         options=_options(plan.locations, "location_name")),
            dcc.Dropdown(id="rule-year", multi=True, placeholder="Years (all)",
                         options=[{"label": str(y), "value": y} for y in years]),
            dcc.Dropdown(id="rule-tier", multi=True, placeholder="Tiers (all)",
                         options=[{"label": f"Tier {t}", "value": t} for t in (1, 2, 3)]),
            dcc.Dropdown(id="rule-per", clearable=False, value="all", options=[
                {"label": "Floor over all selected lines", "value": "all"},
                {"label": "Floor for each location", "value": "location"},
                {"label": "Floor for each sector", "value": "sector"},
                {"label": "Floor for each line", "value": "cell"},
            ]),
            html.Button("Add rule", id="rule-add", n_clicks=0, className="button primary"),
            html.Div(id="rule-error", className="control-error"),
        ], className="rule-editor"),
        html.Div(id="rules-list", className="rules-list"),
    ], className="controls")

    kpis = html.Div([
        _number("people-reached", "People reached"),
        _number("pro-rata-people", "Pro rata (every line cut equally)"),
        _number("gain-over-pro-rata", "Gain over pro rata"),
        _number("unmet-need", "Unmet need", "unmet-note"),
        _number("pinned-people", "Pinned baseline", "pinned-note"),
        _number("gain-over-pinned", "Change from pinned"),
    ], className="kpis")

    views = html.Div([
        html.Div([
            kpis,
            html.Div([
                html.Button("Pin this allocation", id="pin", n_clicks=0, className="button"),
                html.Span(id="funding-summary", className="summary"),
            ], className="bar"),
        ]),
        html.Div(id="diagnosis", className="diagnosis", role="alert"),
        html.Div([
            html.Div([html.H3("What one more $1M reaches"),
                      html.P(id="marginal-1m", **{"data-value": ""})], className="panel"),
            html.Div([html.H3("Binding rules"), html.Ul(id="binding-rules")],
                     className="panel"),
        ], className="two"),
        html.Div([
            html.H3("Share funded by sector and location (all years)"),
            dcc.Graph(id="heatmap", config={"displaylogo": False, "responsive": True},
                      style={"height": "560px"}),
        ], className="panel"),
        html.Div([
            html.H3("Lines (click a line to lock it, exclude it or release it)"),
            html.Div([
                html.Span(id="line-selected", className="summary"),
                html.Button("Lock at shown amount", id="line-lock", n_clicks=0,
                            className="button"),
                html.Button("Exclude", id="line-exclude", n_clicks=0, className="button"),
                html.Button("Release", id="line-release", n_clicks=0, className="button"),
            ], className="bar"),
            dash_table.DataTable(
                id="line-table", page_size=15, sort_action="native",
                filter_action="native", row_selectable=False,
                columns=[
                    {"name": "Location", "id": "location"},
                    {"name": "Sector", "id": "sector"},
                    {"name": "Year", "id": "year", "type": "numeric"},
                    {"name": "Requirement", "id": "requirement"},
                    {"name": "Allocated", "id": "allocated"},
                    {"name": "Funded", "id": "funded"},
                    {"name": "People reached", "id": "people"},
                    {"name": "Rule", "id": "rule"},
                ],
                style_cell={"fontFamily": "inherit", "fontSize": "13px", "padding": "4px 8px"},
                style_cell_conditional=[{"if": {"column_id": c}, "textAlign": "right"}
                                        for c in ("requirement", "allocated", "funded",
                                                  "people", "year")],
                style_header={"fontWeight": "600", "backgroundColor": "#eef2f6"},
            ),
        ], className="panel"),
        html.Div([
            html.H3("Futures"),
            html.P(f"A Monte Carlo of {FUTURES_DRAWS} displacement futures under these "
                   "settings: the band of people reached.", className="muted"),
            html.Button("Run futures", id="futures", n_clicks=0, className="button"),
            html.Span(id="futures-progress", className="summary"),
            html.Div(id="futures-band", className="band", **{"data-value": ""}),
            dcc.Interval(id="futures-poll", interval=500, disabled=True),
            dcc.Store(id="futures-job"),
        ], className="panel"),
        html.Div([
            html.H3("Export"),
            html.A("Scenario (TOML)", id="export-scenario", className="button",
                   href="/export/scenario.toml" + search),
            html.A("Allocation (CSV)", id="export-csv", className="button",
                   href="/export/allocation.csv" + search),
            html.A("Allocation (xlsx)", id="export-xlsx", className="button",
                   href="/export/allocation.xlsx" + search),
            html.A("Report (HTML)", id="export-report", className="button",
                   href="/export/report.html" + search),
        ], className="panel exports"),
    ], className="views")

    return html.Div([
        dcc.Location(id="url", refresh=False),
        dcc.Store(id="rules-store", data=_rules_data(state.rules)),
        dcc.Store(id="pinned-store", storage_type="memory"),
        html.Header([
            html.H1("reachplan what-if"),
            html.Span(plan.name, className="plan-name"),
        ], className="top"),
        html.Main([controls, views], className="page"),
    ])


def _rules_data(rules: Sequence[RuleSetting]) -> list[dict[str, Any]]:
    return [{"kind": r.kind, "name": r.name, "value": r.value, "per": r.per,
             "sector": list(r.selector.sector_codes),
             "location": list(r.selector.location_codes),
             "year": list(r.selector.years), "tier": list(r.selector.tiers),
             "selector": _selector_key(r.selector)} for r in rules]


def _selector_key(sel: Selector) -> str:
    return repr(sel)


def rules_from_data(data: Sequence[Mapping[str, Any]] | None,
                    state_rules: Sequence[RuleSetting] = ()) -> tuple[RuleSetting, ...]:
    """Rule settings from the rules store.

    Selectors the editor cannot show (objectives or clusters from a ``--scenario`` file)
    are kept from ``state_rules``.
    """
    known = {_selector_key(r.selector): r.selector for r in state_rules}
    out = []
    for d in data or ():
        sel = known.get(d.get("selector", "")) or Selector(
            location_codes=tuple(d.get("location") or ()),
            sector_codes=tuple(d.get("sector") or ()),
            years=tuple(int(y) for y in d.get("year") or ()),
            tiers=tuple(int(t) for t in d.get("tier") or ()),
        )
        out.append(RuleSetting(d["kind"], d["name"], d["value"], sel, d.get("per") or "all"))
    return tuple(out)


def _line_key(row: Mapping[str, Any]) -> str:
    return f"{row['location']}|{row['sector']}|{row['year']}"


# ---- the app ------------------------------------------------------------------------------


def create_app(context: WhatIfContext) -> dash.Dash:
    """The Dash application of the page (not yet served: see :mod:`reachplan.web.server`)."""
    import os

    app = dash.Dash(
        __name__,
        title=f"reachplan what-if: {context.plan.name}",
        serve_locally=True,
        update_title=None,
        assets_folder=os.path.join(os.path.dirname(__file__), "assets"),
        suppress_callback_exceptions=False,
    )
    years = _years(context)
    start = state_from_funding(context.base)
    futures = Futures(context)

    def layout() -> html.Div:
        state, search = start, state_to_query(start)
        if flask.has_request_context():
            ref = flask.request.headers.get("Referer", "")
            query = urllib.parse.urlsplit(ref).query
            if query:
                try:
                    params = [(k, v) for k, v in urllib.parse.parse_qsl(query)
                              if k != "token"]
                    cleaned = "?" + urllib.parse.urlencode(params) if params else ""
                    state = state_for_query(cleaned) if cleaned else start
                    search = state_to_query(state)
                except ReachplanError:
                    state, search = start, state_to_query(start)
        return _layout(context, state, search)

    app.layout = layout
    _register_exports(app, context)

    # slider <-> typed amount
    @app.callback(
        Output("funding-slider", "value"),
        Output("funding-amount", "value"),
        Input("funding-slider", "value"),
        Input("funding-amount", "value"),
        prevent_initial_call=True,
    )
    def sync_funding(slider: float | None, text: str | None) -> tuple[Any, Any]:
        if ctx.triggered_id == "funding-slider":
            if slider is None:
                return dash.no_update, dash.no_update
            return dash.no_update, f"{slider:g}%"
        share = _share_of(text or "")
        if share is None:
            return None, dash.no_update
        return min(share, SLIDER_MAX), dash.no_update

    # rule editor and line clicks -> rules store
    @app.callback(
        Output("rules-store", "data"),
        Output("rule-error", "children"),
        Input("rule-add", "n_clicks"),
        Input({"type": "rule-remove", "index": ALL}, "n_clicks"),
        Input("line-lock", "n_clicks"),
        Input("line-exclude", "n_clicks"),
        Input("line-release", "n_clicks"),
        State("rules-store", "data"),
        State("rule-kind", "value"),
        State("rule-name", "value"),
        State("rule-value", "value"),
        State("rule-sector", "value"),
        State("rule-location", "value"),
        State("rule-year", "value"),
        State("rule-tier", "value"),
        State("rule-per", "value"),
        State("line-table", "active_cell"),
        State("line-table", "derived_viewport_data"),
        prevent_initial_call=True,
    )
    def edit_rules(_add: int, _removes: list[int | None], _lock: int, _exclude: int,
                   _release: int, data: list[dict[str, Any]] | None, kind: str | None,
                   name: str | None, value: str | None, sectors: list[str] | None,
                   locations: list[str] | None, rule_years: list[int] | None,
                   tiers: list[int] | None, per: str | None, cell: dict[str, Any] | None,
                   rows: list[dict[str, Any]] | None) -> tuple[Any, str]:
        data = list(data or [])
        trigger = ctx.triggered_id
        if isinstance(trigger, Mapping) and trigger.get("type") == "rule-remove":
            if not any(ctx.triggered[i]["value"] for i in range(len(ctx.triggered))):
                return dash.no_update, dash.no_update
            index = int(trigger["index"])
            return [d for i, d in enumerate(data) if i != index], ""
        if trigger in ("line-lock", "line-exclude", "line-release"):
            line = _clicked_line(cell, rows)
            if line is None:
                return dash.no_update, "Click a line in the table first."
            return apply_line_action(data, trigger.removeprefix("line-"), line), ""
        if trigger == "rule-add":
            try:
                rule = new_rule(kind, name, value, sectors, locations, rule_years, tiers, per,
                                len(data))
            except ControlError as exc:
                return dash.no_update, exc.message
            return data + _rules_data([rule]), ""
        return dash.no_update, dash.no_update

    # controls -> URL state and control errors
    year_outputs = [Output(f"year-amount-{y}-error", "children") for y in years]
    year_inputs = [Input(f"year-amount-{y}", "value") for y in years]

    @app.callback(
        Output("url", "search"),
        Output("funding-amount-error", "children"),
        *year_outputs,
        Output("rules-list", "children"),
        Input("funding-amount", "value"),
        Input("carry-over", "value"),
        Input("objective", "value"),
        Input("rules-store", "data"),
        *year_inputs,
    )
    def collect(text: str | None, carry: list[str] | None, objective: str | None,
                data: list[dict[str, Any]] | None, *year_values: str | None) -> tuple[Any, ...]:
        state = WhatIfState(
            funding=(text or "").strip(),
            years=tuple((y, (v or "").strip()) for y, v in zip(years, year_values, strict=True)
                        if (v or "").strip()),
            carry_over=bool(carry),
            rules=rules_from_data(data, start.rules),
            objective=objective or "priority",
        )
        errors = {"funding-amount": ""} | {f"year-amount-{y}": "" for y in years}
        rule_errors: dict[int, str] = {}
        search: Any = state_to_query(state)
        try:
            state_to_funding(state, context.base, context.plan)
        except ControlError as exc:
            if exc.control in errors:
                errors[exc.control] = exc.message
                search = dash.no_update
            elif exc.control.startswith("rule-value-"):
                rule_errors[int(exc.control.rsplit("-", 1)[1])] = exc.message
        items = [html.Li([
            html.Span(_rule_label(r)),
            html.Button("Remove", id={"type": "rule-remove", "index": i}, n_clicks=0,
                        className="button small"),
            html.Div(rule_errors.get(i, ""), className="control-error"),
        ]) for i, r in enumerate(state.rules)]
        listing = html.Ul(items) if items else html.P("No rules: all money is flexible.",
                                                       className="muted")
        return (search, errors["funding-amount"],
                *(errors[f"year-amount-{y}"] for y in years), listing)

    # URL state -> every view
    @app.callback(
        Output("people-reached", "children"), Output("people-reached", "data-value"),
        Output("pro-rata-people", "children"), Output("pro-rata-people", "data-value"),
        Output("gain-over-pro-rata", "children"), Output("gain-over-pro-rata", "data-value"),
        Output("unmet-need", "children"), Output("unmet-need", "data-value"),
        Output("unmet-note", "children"),
        Output("pinned-people", "children"), Output("pinned-people", "data-value"),
        Output("pinned-note", "children"),
        Output("gain-over-pinned", "children"), Output("gain-over-pinned", "data-value"),
        Output("funding-summary", "children"),
        Output("marginal-1m", "children"), Output("marginal-1m", "data-value"),
        Output("binding-rules", "children"),
        Output("diagnosis", "children"),
        Output("heatmap", "figure"),
        Output("line-table", "data"),
        Output("export-scenario", "href"), Output("export-csv", "href"),
        Output("export-xlsx", "href"), Output("export-report", "href"),
        Input("url", "search"),
        Input("pinned-store", "data"),
    )
    def redraw(search: str | None, pinned: dict[str, Any] | None) -> tuple[Any, ...]:
        return views_for(context, search or "", pinned)

    @app.callback(
        Output("pinned-store", "data"),
        Input("pin", "n_clicks"),
        State("url", "search"),
        prevent_initial_call=True,
    )
    def pin(_n: int, search: str | None) -> Any:
        try:
            result = solve_query(context, search or "")
        except (ReachplanError, ValueError):
            return dash.no_update
        nums = page_numbers(result)
        return {"people_reached": nums.people_reached, "unmet_need": nums.unmet_need,
                "coverage": nums.coverage, "search": search or "",
                "label": result.scenario.describe()}

    @app.callback(
        Output("line-selected", "children"),
        Input("line-table", "active_cell"),
        State("line-table", "derived_viewport_data"),
    )
    def selected(cell: dict[str, Any] | None, rows: list[dict[str, Any]] | None) -> str:
        line = _clicked_line(cell, rows)
        if line is None:
            return "No line selected."
        return f"Selected: {line['sector']} in {line['location']}, {line['year']} " \
               f"({line['allocated']})"

    @app.callback(
        Output("futures-job", "data"),
        Output("futures-poll", "disabled"),
        Output("futures-progress", "children", allow_duplicate=True),
        Input("futures", "n_clicks"),
        State("url", "search"),
        prevent_initial_call=True,
    )
    def start_futures(_n: int, search: str | None) -> tuple[Any, bool, str]:
        try:
            funding = funding_for_query(context, search or "")
        except (ReachplanError, ValueError) as exc:
            return dash.no_update, True, f"Cannot run: {exc}"
        return futures.start(funding), False, f"0 of {FUTURES_DRAWS} draws"

    @app.callback(
        Output("futures-progress", "children"),
        Output("futures-band", "children"),
        Output("futures-band", "data-value"),
        Output("futures-poll", "disabled", allow_duplicate=True),
        Input("futures-poll", "n_intervals"),
        State("futures-job", "data"),
        prevent_initial_call=True,
    )
    def poll_futures(_n: int, job: str | None) -> tuple[Any, Any, Any, bool]:
        status = futures.status(job) if job else None
        if status is None:
            return dash.no_update, dash.no_update, dash.no_update, True
        if status["error"]:
            return f"Failed: {status['error']}", "", "", True
        if status["band"] is None:
            return (f"{status['done']} of {status['total']} draws", dash.no_update,
                    dash.no_update, False)
        low, mid, high = status["band"]
        return (f"{status['total']} draws done",
                f"People reached: {format_people(low)} to {format_people(high)} "
                f"(5th to 95th percentile; median {format_people(mid)})",
                f"{low!r},{mid!r},{high!r}", True)

    return app


def _clicked_line(cell: Mapping[str, Any] | None,
                  rows: Sequence[Mapping[str, Any]] | None) -> Mapping[str, Any] | None:
    if not cell or not rows:
        return None
    row = cell.get("row")
    if row is None or not 0 <= row < len(rows):
        return None
    return rows[row]


def new_rule(kind: str | None, name: str | None, value: str | None,
             sectors: Sequence[str] | None, locations: Sequence[str] | None,
             years: Sequence[int] | None, tiers: Sequence[int] | None, per: str | None,
             count: int) -> RuleSetting:
    """A rule from the editor's fields; ``ControlError("rule-value", ...)`` when unusable."""
    kind = kind or "earmark"
    if kind not in RULE_KINDS:
        raise ControlError("rule-kind", f"unknown rule kind {kind!r}")
    value = (value or "").strip()
    name = (name or "").strip() or f"{kind} {count + 1}"
    sel = Selector(location_codes=tuple(locations or ()), sector_codes=tuple(sectors or ()),
                   years=tuple(int(y) for y in years or ()),
                   tiers=tuple(int(t) for t in tiers or ()))
    if kind == "exclude":
        if sel == Selector():
            raise ControlError("rule-value", "Choose what to exclude (sector, location, "
                                             "year or tier).")
        value = ""
    elif not value:
        raise ControlError("rule-value", "Write the rule's amount (e.g. USD 50m, 25%; "
                                         "a cap as 1.2).")
    elif kind == "cap":
        try:
            factor = float(value)
        except ValueError:
            raise ControlError("rule-value", f"{value!r}: a cap is a factor of requirement "
                                             "(e.g. 1.2).") from None
        if not math.isfinite(factor) or factor < 0:
            raise ControlError("rule-value", "a cap is a non-negative factor (e.g. 1.2)")
    else:
        try:
            amount = parse_amount(value)
        except FundingError as exc:
            raise ControlError("rule-value", str(exc)) from None
        if kind == "floor" and amount.kind != "share":
            raise ControlError("rule-value", "A floor is a share of requirement (e.g. 50%).")
    return RuleSetting(kind, name, value, sel, per if kind == "floor" and per else "all")


def apply_line_action(data: list[dict[str, Any]], action: str,
                      line: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rules store after locking, excluding or releasing one table line.

    A lock keeps the line at the amount the table shows (to the cent); releasing removes
    the page's lock or exclusion of exactly that line.
    """
    sel = Selector(location_codes=(str(line["location"]),),
                   sector_codes=(str(line["sector"]),), years=(int(line["year"]),))
    key = _selector_key(sel)
    kept = [d for d in data if not (d["kind"] in ("lock", "exclude") and
                                    d.get("selector") == key)]
    if action == "release":
        return kept
    if action == "lock":
        usd = float(line["allocated_usd"])
        rule = RuleSetting("lock", f"lock {_line_key(line)}", f"USD {round(usd, 2):.2f}", sel)
    else:
        rule = RuleSetting("exclude", f"exclude {_line_key(line)}", "", sel)
    return kept + _rules_data([rule])


def views_for(context: WhatIfContext, search: str,
              pinned: Mapping[str, Any] | None) -> tuple[Any, ...]:
    """Every view's content for a URL search string (see :func:`create_app`'s ``redraw``)."""
    hrefs = tuple(f"/export/{f}{search}" for f in
                  ("scenario.toml", "allocation.csv", "allocation.xlsx", "report.html"))
    keep = dash.no_update
    try:
        result = solve_query(context, search)
    except ControlError:
        return (keep,) * 21 + hrefs
    except InfeasibleScenarioError as exc:
        text = "These rules cannot all hold. " + str(exc)
        return (keep,) * 18 + (text, keep, keep) + hrefs
    except (ReachplanError, ValueError) as exc:
        return (keep,) * 18 + (f"These settings cannot be allocated: {exc}", keep, keep) + hrefs
    nums = page_numbers(result)
    marg_value, marg_text = marginal_text(result, context)
    if pinned:
        pinned_people = float(pinned["people_reached"])
        pin_text, pin_value = format_people(pinned_people), repr(pinned_people)
        gain = nums.people_reached - pinned_people
        gain_text, gain_value = _signed(gain), repr(gain)
        pin_note = (f"{pinned.get('label', '')}; unmet need "
                    f"{format_people(float(pinned['unmet_need']))}")
    else:
        pin_text, pin_value, gain_text, gain_value = "-", "", "-", ""
        pin_note = "Pin an allocation to compare with it."
    unmet_note = (f"Coverage {nums.coverage:.1%} (pro rata {nums.pro_rata_coverage:.1%}); "
                  f"pro rata leaves {format_people(nums.pro_rata_unmet_need)} unmet")
    summary = (f"{format_usd(nums.funding_usd)} available, {format_usd(nums.allocated_usd)} "
               f"allocated")
    if result.warnings:
        summary += " - " + " ".join(result.warnings)
    return (
        format_people(nums.people_reached), repr(nums.people_reached),
        format_people(nums.pro_rata_people), repr(nums.pro_rata_people),
        _signed(nums.gain_over_pro_rata), repr(nums.gain_over_pro_rata),
        format_people(nums.unmet_need), repr(nums.unmet_need), unmet_note,
        pin_text, pin_value, pin_note, gain_text, gain_value,
        summary,
        marg_text, repr(marg_value),
        binding_items(result),
        "",
        heatmap_figure(result, context.plan),
        line_rows(result, context.plan),
    ) + hrefs


def _signed(n: float) -> str:
    return ("+" if n > 0.5 else "") + format_people(n)


def binding_items(result: Allocation, top: int = 8) -> list[html.Li]:
    """The binding rules in planner words, largest effect first (absorption caps counted)."""
    binding = result.binding
    caps = [s for s in binding if s.kind == "cap"]
    others = [s for s in binding if s.kind in PLANNER_ROWS]
    items = [html.Li(f"{s.description[:1].upper()}{s.description[1:]}: "
                     f"{format_people(s.value)} {s.unit}") for s in others[:top]]
    if caps:
        items.append(html.Li(f"{len(caps)} lines at their absorption limit (more money "
                             f"there reaches nobody more); largest: {caps[0].description}"))
    if not items:
        items = [html.Li("No rule limits the allocation beyond the envelope.")]
    return items


def heatmap_figure(result: Allocation, plan: Plan) -> go.Figure:
    """Share funded by sector (rows) and location (columns), money in the hover text."""
    frame = result.by("sector_code", "location_code")
    share = frame["share_funded"].unstack()
    money = frame["allocated_usd"].unstack()
    req = frame["requirement_usd"].unstack()
    names = plan.sectors["sector_name"] if "sector_name" in plan.sectors else None
    rows = [str(names.get(s, s)) if names is not None else str(s) for s in share.index]
    hover = [[f"{r} in {c}<br>{format_usd(money.loc[s, c])} of {format_usd(req.loc[s, c])}"
              if pd.notna(req.loc[s, c]) and req.loc[s, c] > 0 else f"{r} in {c}: no requirement"
              for c in share.columns] for s, r in zip(share.index, rows, strict=True)]
    text = [[f"{v:.0%}" if pd.notna(v) else "" for v in row] for row in share.to_numpy()]
    fig = go.Figure(go.Heatmap(
        z=share.to_numpy(), x=[str(c) for c in share.columns], y=rows, text=text,
        texttemplate="%{text}", hovertext=hover, hoverinfo="text", zmin=0, zmax=1,
        colorscale="Blues", colorbar={"title": "funded", "tickformat": ".0%"},
        xgap=1, ygap=1,
    ))
    fig.update_layout(margin={"l": 10, "r": 10, "t": 10, "b": 10}, plot_bgcolor="white",
                      font={"size": 12}, yaxis={"autorange": "reversed"})
    return fig


def line_rows(result: Allocation, plan: Plan) -> list[dict[str, Any]]:
    """The line table's rows (money rounded to the cent, as the CSV files)."""
    scenario = result.scenario
    locked = {(s.location_codes, s.sector_codes, s.years) for s in
              (lk.selector for lk in scenario.locks)}
    excluded = {(s.location_codes, s.sector_codes, s.years) for s in scenario.exclusions}
    out = []
    for (loc, sec, year), r in result.cells.iterrows():
        key = ((str(loc),), (str(sec),), (int(year),))
        out.append({
            "location": str(loc), "sector": str(sec), "year": int(year),
            "requirement": format_usd(r["requirement_usd"]),
            "allocated": format_usd(r["allocated_usd"]),
            "allocated_usd": round(float(r["allocated_usd"]), 2),
            "funded": f"{r['share_funded']:.0%}" if r["requirement_usd"] > 0 else "-",
            "people": format_people(r["people_reached"]),
            "rule": "locked" if key in locked else "excluded" if key in excluded else "",
        })
    return out
