"""The what-if page (Dash): controls on the left, who is reached on the right.

:func:`create_app` builds the Dash application for a :class:`~reachplan.web.context.WhatIfContext`.
Every script and style is served by the installed packages (``serve_locally``): the page
opens with no network.

How the page works
------------------
- **One state, in the URL.** The controls (funding, per-year amounts, carry-over,
  objective, the rules, the lines locked or excluded in the table) make one
  :class:`~reachplan.web.state.WhatIfState`; its query string
  (:func:`~reachplan.web.state.state_to_query`) is written to ``url.search``, and every
  view is redrawn from that string alone. A link therefore reopens the same what-if: on
  load (and on back/forward) the ``sync`` callback reads ``url.search`` and sets the
  controls from it; a link that cannot be read is named in a banner (``url-error``) and
  the page shows its starting settings. The layout itself always holds the starting
  state (``--scenario``, else 100% of the appeal): the server sends
  ``Referrer-Policy: no-referrer``, so the layout request does not know the address.
  The ``token`` parameter of an address printed off loopback is never page state
  (:func:`page_query` drops it; the server has already turned it into a cookie).
- **Re-solves** go through ``context.solver.solve(funding)``: the same
  :class:`~reachplan.solver.result.Allocation` as ``reachplan allocate`` for the same
  settings, so every number matches ``reachplan allocate --json``.
- **The rule list** shows each rule in planner words with its value in an edit box
  (an earmark's or a lock's amount, a floor's share, a cap's factor; an exclusion has
  none) and an on/off tick. An edited value replaces the rule's value in the state (so
  the URL) and the page re-solves; a value that cannot be read gets its message under
  that rule and the numbers stay. Editing an earmark's amount keeps its name and lines,
  so the solver re-solves its held model (the fast path of
  :mod:`reachplan.solver.whatif`). A rule ticked off stays in the list and the link
  (``~off``) but is not applied, nor written in the exported scenario
  (:func:`~reachplan.web.state.state_to_funding`); ticked on again, it applies as set.
- **Bad input** gives a message next to the control at fault (``ControlError.control``),
  never a traceback; rules that cannot all hold give ``allocate``'s diagnosis in
  ``diagnosis``.
- **Pro rata** is every line cut by the same percentage (``pro_rata_people_reached``);
  its unmet need is, per location and year, the people in need it leaves unreached.
- **Unmet need** is a sum over every location *and year* of the plan of the people in
  need not reached: the same person unreached in 2024 and 2025 counts twice. It is
  labelled "Unmet need (person-years, 2024-2026)" so it is not read as a head count;
  coverage (reached over in need, the same sums) is given beside it.
- **What one more $1M reaches**: the allocation solved again with $1M more of
  non-earmarked money (``allocate --json`` ``one_more_million``); with per-year envelopes,
  the year of arrival where it reaches the most. *Where*: the lines where an extra $1M
  reaches the most people
  (:func:`reachplan.solver.marginal.line_marginals`).
- **Futures** run a small Monte Carlo (:data:`FUTURES_DRAWS` draws) of the current settings
  in a background thread (:func:`reachplan.solver.batch.run_scenario`), with the simulation
  assumptions of the ``--scenario`` file, else the shipped default; the band is the 5th to
  95th percentile of people reached. The same thread then writes the full report of those
  draws (:func:`reachplan.workflow.report_inputs.write_suite_report`, as ``reachplan run``)
  into a private temporary folder removed when the server stops; the page links to it by
  the run's id (``/export/full-report/<id>``), never by a path.
- **Exports** are Flask routes that rebuild the funding from the query string (never a
  file path from the browser).
"""

from __future__ import annotations

import atexit
import html as html_text
import io
import math
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import dash
import flask
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import ALL, Input, Output, State, ctx, dash_table, dcc, html

from reachplan.model.errors import ReachplanError
from reachplan.model.funding import FundingError, FundingScenario, Selector, parse_amount
from reachplan.model.plan import Plan
from reachplan.scenarios.scenario_toml import scenario_toml
from reachplan.solver.result import Allocation, InfeasibleScenarioError
from reachplan.web.context import WhatIfContext
from reachplan.web.state import (
    RULE_KINDS,
    ControlError,
    RuleSetting,
    WhatIfState,
    exclude_line,
    line_key,
    line_status,
    lock_line,
    release_line,
    rule_sentence,
    state_from_funding,
    state_from_query,
    state_to_funding,
    state_to_query,
)

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

FUTURES_SEED = 0
"""The futures' seed without ``--scenario`` (a scenario file's default ``seed``)."""

SLIDER_MAX = 150
"""Largest share of the appeal on the slider (%); larger amounts can be typed."""

PLANNER_ROWS = frozenset({"envelope", "earmark", "earmark_share", "flexible", "floor",
                          "objective_share", "continuity", "lock", "exclusion"})
"""Binding rows shown as rules (absorption caps are counted; model rows are not shown)."""

IGNORED_QUERY = ("token",)
"""Query parameters that are not page state: the access token (:mod:`reachplan.web.server`
turns it into a cookie by a redirect, so it never reaches the page; dropped here too)."""


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

    People: the allocation re-solved with $1M more of non-earmarked money
    (:attr:`solver.result.Allocation.one_more_million`, the console's and the report's
    figure; with per-year envelopes, the year of arrival where it reaches the most);
    where: the ``top`` lines where an extra $1M reaches the most people.
    """
    from reachplan.solver.marginal import line_marginals

    extra = result.one_more_million
    if extra is None:
        return 0.0, "No envelope limits the allocation: more money would stay unallocated."
    value = extra.people
    where = extra.where()
    flexible = [s for s in result.shadow_prices if s.kind == "flexible"]
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
    money = "flexible (non-earmarked) money" if flexible else "money"
    if value < -0.5:
        # the priority objective may move money to higher-priority lines reaching fewer
        text = (f"One more $1M of {money}{where} goes to higher-priority lines and reaches "
                f"about {format_people(-value)} fewer people.{lines}")
    else:
        text = (f"One more $1M of {money} reaches about {format_people(value)} more "
                f"people{where}.{lines}")
    return value, text


# ---- query -> funding ---------------------------------------------------------------------


def page_query(query: str | None) -> str:
    """``query`` without the parameters that are not page state (:data:`IGNORED_QUERY`).

    The other parameters are kept byte for byte, so the state reads as written.
    """
    text = (query or "").removeprefix("?")
    kept = [p for p in text.split("&")
            if p and p.split("=", 1)[0] not in IGNORED_QUERY]
    return "?" + "&".join(kept) if kept else ""


def state_for_query(query: str | None) -> WhatIfState:
    """The page state of a URL search string (``ControlError("url", ...)`` when malformed).

    An empty string is not the defaults of :class:`WhatIfState` but the page's starting
    state, which the layout shows (see :func:`create_app`); callers decide which.
    """
    return state_from_query(page_query(query))


def rules_query(state: WhatIfState) -> str:
    """The rules store's value: the rules, locked and excluded lines of ``state`` as a query."""
    return state_to_query(WhatIfState(funding="", rules=state.rules, locked=state.locked,
                                      excluded=state.excluded))


def rules_state(data: str | None) -> WhatIfState:
    """The rules, locked and excluded lines the rules store holds (:func:`rules_query`)."""
    return state_from_query(data or "")


def funding_for_query(context: WhatIfContext, query: str) -> FundingScenario:
    """The funding rules of a URL search string, on the context's plan and base rules.

    Raises
    ------
    ControlError
        Naming the control at fault.
    """
    query = page_query(query)
    state = state_for_query(query) if query else state_from_funding(context.base)
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


def _register_exports(app: dash.Dash, context: WhatIfContext, futures: Futures) -> None:
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
            extends = extends_ref(context)
            text = scenario_toml(
                funding, name=_scenario_name(context), extends=extends,
                plan=None if context.plan_path is None else str(context.plan_path),
                description=f"What-if on {context.plan.name}: {funding.describe()}",
                inherited=context.base if extends is not None else None,
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

    @server.route("/export/full-report/<job>")
    def export_full_report(job: str) -> flask.Response:
        # the job is a key of the page's own runs, never a path: anything else is unknown
        found = futures.report_file(job) if _JOB.fullmatch(job) else None
        if found is None or not found.is_file():
            return flask.Response("no such report: run the futures first, then follow the "
                                  "link they give\n", status=404, mimetype="text/plain")
        return attachment(found.read_bytes(), "text/html", "whatif-full-report.html")


def _scenario_name(context: WhatIfContext) -> str:
    return "whatif"


def extends_ref(context: WhatIfContext) -> str | None:
    """What the exported scenario ``extends``: the ``--scenario`` the page was started with.

    A shipped scenario's name (``shortfall_60``) is written as given; a file is written as
    its absolute path, since the exported file is saved wherever the browser puts it (a
    relative ``extends`` is read relative to the file that states it). ``None``: no
    ``--scenario`` (the file then stands alone, on the shipped simulation defaults).
    The page's rules are all written out (``scenario_toml``), so ``extends`` brings only
    the parent's draws, seed and simulation assumptions.
    """
    ref = context.scenario_ref
    if ref is None:
        return None
    path = Path(ref)
    if path.suffix == ".toml" or len(path.parts) > 1 or path.is_file():
        return str(path.resolve())
    return ref


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
<tr><th>{e(unmet_label(_years(context)))}</th>
<td class=n>{format_people(nums.unmet_need)}</td></tr>
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


_JOB = re.compile(r"[0-9a-f]{32}")
"""A futures run's id (:func:`uuid.uuid4` hex)."""


# ---- futures ------------------------------------------------------------------------------


class Futures:
    """Monte Carlo runs of the page's settings, one background thread each, polled by id."""

    def __init__(self, context: WhatIfContext) -> None:
        self.context = context
        self._lock = threading.Lock()
        self._jobs: dict[str, dict[str, Any]] = {}
        self._dir: Path | None = None

    def _directory(self) -> Path:
        """A private folder for the full reports, removed when the server stops."""
        with self._lock:
            if self._dir is None:
                self._dir = Path(tempfile.mkdtemp(prefix="reachplan-whatif-"))
                atexit.register(shutil.rmtree, self._dir, ignore_errors=True)
            return self._dir

    def report_file(self, job: str) -> Path | None:
        """The full report of a finished run (``None`` until it is written)."""
        with self._lock:
            found = self._jobs.get(job)
            if found is None or found.get("report") != "ready" or self._dir is None:
                return None
            return self._dir / job / "report.html"

    def start(self, funding: FundingScenario, draws: int = FUTURES_DRAWS) -> str:
        """Start a run of ``draws`` draws of ``funding``; return its id.

        The simulation and the seed are the ``--scenario`` file's, else the shipped
        simulation defaults and :data:`FUTURES_SEED` (a scenario file's default seed):
        the same draws as ``reachplan run`` of the exported scenario with ``--draws``.
        """
        job = uuid.uuid4().hex
        base = self.context.scenario
        seed = base.seed if base is not None else FUTURES_SEED
        with self._lock:
            if len(self._jobs) > 16:
                self._jobs.pop(next(iter(self._jobs)))
            self._jobs[job] = {"done": 0, "total": draws, "band": None, "error": None,
                               "seed": seed, "report": None}
        threading.Thread(target=self._run, args=(job, funding, draws, seed),
                         daemon=True).start()
        return job

    def status(self, job: str) -> dict[str, Any] | None:
        """``done``, ``total``, ``seed``, ``band`` (p5, median, p95) or ``error`` of a run."""
        with self._lock:
            found = self._jobs.get(job)
            return None if found is None else dict(found)

    def _run(self, job: str, funding: FundingScenario, draws: int, seed: int) -> None:
        from reachplan.model.scenario import Scenario
        from reachplan.scenarios.simulation_io import load_simulation
        from reachplan.solver.batch import CHUNK_DRAWS, run_scenario
        from reachplan.workflow.suite import load_initial_state

        try:
            base = self.context.scenario
            scenario = Scenario(
                name="whatif", description="", funding=funding,
                simulation=base.simulation if base is not None else load_simulation(None),
                draws=draws, seed=seed,
            )

            def on_chunk(chunk: Any) -> None:
                with self._lock:
                    self._jobs[job]["done"] = min(
                        draws, self._jobs[job]["done"] + min(CHUNK_DRAWS, draws))

            initial = load_initial_state()
            run = run_scenario(self.context.plan, scenario, initial, on_chunk=on_chunk)
            band = (run.percentile(5), run.percentile(50), run.percentile(95))
            with self._lock:
                self._jobs[job].update(done=draws, band=band, report="writing")
            self._write_report(job, run, initial)
        except Exception as exc:  # noqa: BLE001 - shown to the planner, never raised
            message = str(exc) if isinstance(exc, ReachplanError | ValueError) else (
                "the futures run failed")
            with self._lock:
                self._jobs[job]["error"] = message

    def _write_report(self, job: str, run: Any, initial: Any) -> None:
        """The full report of the run (as ``reachplan run`` writes it) into the job's folder.

        The plan is read again from where ``reachplan serve`` read it (the report lists
        its files and validation); a plan whose files changed since is refused.
        """
        from reachplan.workflow.report_inputs import write_suite_report
        from reachplan.workflow.suite import load_usable_plan

        usable = load_usable_plan(self.context.plan_path)
        if usable.plan.fingerprint != self.context.plan.fingerprint:
            raise ReachplanError("the plan's files changed since the page started; restart "
                                 "reachplan serve to report on them")
        write_suite_report([run], usable, initial, self._directory() / job, hxl=False)
        with self._lock:
            self._jobs[job]["report"] = "ready"


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
        html.Div(id="funding-amount-error", className="control-error", role="alert"),
        html.Details([
            html.Summary("Per year"),
            html.Div([
                html.Div([
                    html.Label(str(y), htmlFor=f"year-amount-{y}"),
                    dcc.Input(id=f"year-amount-{y}", type="text", debounce=True,
                              value=year_text.get(y, ""), placeholder="(no limit)",
                              className="text-input year-input"),
                    html.Div(id=f"year-amount-{y}-error", className="control-error",
                             role="alert"),
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
        html.Div(id="objective-error", className="control-error", role="alert"),
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
        _number("unmet-need", unmet_label(years), "unmet-note"),
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
            html.Div(id="line-table-error", className="control-error", role="alert"),
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
            html.Div(id="futures-band", className="band",
                     **{"data-value": "", "data-draws": "", "data-seed": ""}),
            html.A("Full report of these futures (HTML)", id="export-full-report",
                   className="button", href="", hidden=True),
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
        dcc.Store(id="rules-store", data=rules_query(state)),
        dcc.Store(id="pinned-store", storage_type="memory"),
        html.Header([
            html.H1("reachplan what-if"),
            html.Span(plan.name, className="plan-name"),
        ], className="top"),
        html.Div(id="url-error", className="diagnosis", role="alert"),
        html.Main([controls, views], className="page"),
    ])


def unmet_label(years: Sequence[int]) -> str:
    """The unmet-need figure's label: a sum over the plan years, so person-years."""
    span = f"{min(years)}-{max(years)}" if len(years) > 1 else str(years[0]) if years else ""
    return f"Unmet need (person-years, {span})" if span else "Unmet need (person-years)"


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
    # the layout shows the starting state; a link's state is read from url.search in the
    # browser (`sync` below): the server answers with Referrer-Policy: no-referrer, so the
    # layout request cannot know the page's address
    app.layout = lambda: _layout(context, start, state_to_query(start))
    _register_exports(app, context, futures)
    app.server.extensions["reachplan_futures"] = futures  # the page's runs, for tests

    # slider -> typed amount (the typed amount -> slider in `follow_amount`)
    @app.callback(
        Output("funding-amount", "value", allow_duplicate=True),
        Input("funding-slider", "value"),
        prevent_initial_call=True,
    )
    def slide(slider: float | None) -> Any:
        return dash.no_update if slider is None else f"{slider:g}%"

    @app.callback(
        Output("funding-slider", "value"),
        Input("funding-amount", "value"),
        prevent_initial_call=True,
    )
    def follow_amount(text: str | None) -> Any:
        share = _share_of(text or "")
        return None if share is None else min(share, SLIDER_MAX)

    # rule editor and line clicks -> rules store
    @app.callback(
        Output("rules-store", "data", allow_duplicate=True),
        Output("rule-error", "children"),
        Input("rule-add", "n_clicks"),
        Input({"type": "rule-remove", "index": ALL}, "n_clicks"),
        Input({"type": "rule-edit", "index": ALL}, "value"),
        Input({"type": "rule-on", "index": ALL}, "value"),
        Input("line-lock", "n_clicks"),
        Input("line-exclude", "n_clicks"),
        Input("line-release", "n_clicks"),
        State("rules-store", "data"),
        State("url", "search"),
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
    def edit_rules(_add: int, _removes: list[int | None], _edits: list[str | None],
                   _ons: list[list[str] | None], _lock: int, _exclude: int,
                   _release: int, data: str | None, search: str | None, kind: str | None,
                   name: str | None, value: str | None, sectors: list[str] | None,
                   locations: list[str] | None, rule_years: list[int] | None,
                   tiers: list[int] | None, per: str | None, cell: dict[str, Any] | None,
                   rows: list[dict[str, Any]] | None) -> tuple[Any, str]:
        try:
            held = rules_state(data)
        except ControlError:
            held = WhatIfState(funding="")
        trigger = ctx.triggered_id
        if isinstance(trigger, Mapping):
            # the list's boxes, ticks and remove buttons (all of them when the list is
            # redrawn: then nothing differs from the store and nothing changes)
            changes = [(ident["type"], int(ident["index"]), t["value"])
                       for t in ctx.triggered
                       for ident in [ctx.triggered_prop_ids.get(t["prop_id"])]
                       if isinstance(ident, Mapping)]
            changed = change_rules(data, changes)
            return (dash.no_update, dash.no_update) if changed is None else (changed, "")
        if trigger in ("line-lock", "line-exclude", "line-release"):
            line = _clicked_line(cell, rows)
            if line is None:
                return dash.no_update, "Click a line in the table first."
            return apply_line_action(data, trigger.removeprefix("line-"), line), ""
        if trigger == "rule-add":
            try:
                rule = new_rule(kind, name, value, sectors, locations, rule_years, tiers, per)
                check_new_rule(context, _page_state(search, start), held, rule)
            except ControlError as exc:
                return dash.no_update, exc.message
            return rules_query(replace(held, rules=(*held.rules, rule))), ""
        return dash.no_update, dash.no_update

    # the URL <-> the controls; control errors next to their controls
    year_values = [Output(f"year-amount-{y}", "value") for y in years]
    year_errors = [Output(f"year-amount-{y}-error", "children") for y in years]
    year_inputs = [Input(f"year-amount-{y}", "value") for y in years]

    @app.callback(
        Output("url", "search"),
        Output("funding-amount", "value"),
        Output("carry-over", "value"),
        Output("objective", "value"),
        Output("rules-store", "data"),
        *year_values,
        Output("funding-amount-error", "children"),
        *year_errors,
        Output("objective-error", "children"),
        Output("line-table-error", "children"),
        Output("url-error", "children"),
        Output("rules-list", "children"),
        Input("url", "search"),
        Input("funding-amount", "value"),
        Input("carry-over", "value"),
        Input("objective", "value"),
        Input("rules-store", "data"),
        *year_inputs,
    )
    def sync(search: str | None, text: str | None, carry: list[str] | None,
             objective: str | None, data: str | None,
             *year_texts: str | None) -> tuple[Any, ...]:
        keep = dash.no_update
        from_url = ctx.triggered_id in (None, "url")
        url_error = ""
        state = None
        if from_url and page_query(search):
            try:  # a link (or back/forward): the URL sets the controls
                state = state_for_query(search)
            except ControlError as exc:
                url_error = f"This link's settings cannot be read: {exc.message}. " \
                            "The page shows its starting settings."
                state = start
        if state is None:
            from_url = from_url and not page_query(search)
            try:
                held = rules_state(data)
            except ControlError:
                held = WhatIfState(funding="")
            state = WhatIfState(
                funding=(text or "").strip(),
                years=tuple((y, (v or "").strip()) for y, v in
                            zip(years, year_texts, strict=True) if (v or "").strip()),
                carry_over=bool(carry),
                rules=held.rules,
                objective=objective or "priority",
                locked=held.locked,
                excluded=held.excluded,
            )
        errors = control_errors(context, state, years)
        query = state_to_query(state)
        write = keep if errors or query == (search or "") else query
        if from_url:
            year_text = dict(state.years)
            controls = (state.funding, ["on"] if state.carry_over else [], state.objective,
                        rules_query(state), *(year_text.get(y, "") for y in years))
        else:
            controls = (keep,) * (4 + len(years))
        return (write, *controls, errors.get("funding-amount", ""),
                *(errors.get(f"year-amount-{y}", "") for y in years),
                errors.get("objective", ""), errors.get("line-table", ""),
                url_error or errors.get("url", ""), rules_list(state, errors))

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
        Output("futures-band", "data-draws"),
        Output("futures-band", "data-seed"),
        Output("futures-poll", "disabled", allow_duplicate=True),
        Output("export-full-report", "href"),
        Output("export-full-report", "hidden"),
        Input("futures-poll", "n_intervals"),
        State("futures-job", "data"),
        prevent_initial_call=True,
    )
    def poll_futures(_n: int, job: str | None) -> tuple[Any, ...]:
        status = futures.status(job) if job else None
        keep = dash.no_update
        if status is None:
            return keep, keep, keep, keep, keep, True, keep, keep
        if status["error"]:
            return f"Failed: {status['error']}", keep, keep, keep, keep, True, "", True
        if status["band"] is None:
            return (f"{status['done']} of {status['total']} draws", keep, keep, keep, keep,
                    False, "", True)
        low, mid, high = status["band"]
        done = status["report"] == "ready"
        progress = (f"{status['total']} of {status['total']} draws done"
                    + ("" if done else "; writing the full report ..."))
        return (progress,
                f"People reached: {format_people(low)} to {format_people(high)} "
                f"(5th to 95th percentile; median {format_people(mid)})",
                f"{low!r},{mid!r},{high!r}", str(status["total"]), str(status["seed"]),
                done, f"/export/full-report/{job}" if done else "", not done)

    return app


def _page_state(search: str | None, start: WhatIfState) -> WhatIfState:
    """The state of the page's URL (its starting state when empty or unreadable)."""
    try:
        return state_for_query(search) if page_query(search) else start
    except ControlError:
        return start


def control_errors(context: WhatIfContext, state: WhatIfState,
                   years: Sequence[int]) -> dict[str, str]:
    """The message to show next to each control at fault (empty when the state is usable).

    Keys are the error element a message goes to: ``funding-amount``,
    ``year-amount-<YEAR>``, ``objective``, ``line-table``, ``url``, or ``rule-<i>`` (the
    rule list's item ``i``: every ``rule-value-<i>``, ``rule-name-<i>``,
    ``rule-selector-<i>``... of :func:`~reachplan.web.state.state_to_funding`).
    ``carry-over`` goes next to the per-year amounts' first year; a control the page
    does not show goes to ``url`` (the banner).
    """
    try:
        state_to_funding(state, context.base, context.plan)
    except ControlError as exc:
        control = exc.control
        if control in ("funding-amount", "objective", "line-table", "url") or (
                control.startswith("year-amount-")
                and control.removeprefix("year-amount-").isdigit()
                and int(control.removeprefix("year-amount-")) in years):
            return {control: exc.message}
        if control.startswith("rule-") and control.rsplit("-", 1)[-1].isdigit():
            return {f"rule-{control.rsplit('-', 1)[-1]}": exc.message}
        if control == "carry-over" and years:
            return {f"year-amount-{years[0]}": exc.message}
        return {"url": exc.message}
    return {}


def rules_list(state: WhatIfState, errors: Mapping[str, str]) -> html.Div:
    """The rule list, then the lines locked or excluded in the table.

    Each rule in planner words (:func:`~reachplan.web.state.rule_sentence`), its value
    in an edit box ``{"type": "rule-edit", "index": i}`` (none for an exclusion), an
    on/off tick ``{"type": "rule-on", "index": i}``, its remove button and its error
    element ``rule-error-<i>``. A rule switched off is greyed and says so.
    """
    items = [_rule_item(i, r, errors.get(f"rule-{i}", "")) for i, r in enumerate(state.rules)]
    parts: list[Any] = [html.Ul(items) if items else html.P(
        "No rules: all money is flexible.", className="muted")]
    lines = [f"{e.split('=', 1)[0].replace('|', ' ')} kept at {e.split('=', 1)[1]}"
             for e in state.locked if "=" in e]
    lines += [f"{e.replace('|', ' ')} receives nothing" for e in state.excluded]
    if lines:
        parts.append(html.P("Lines set in the table (release them there): "
                            + "; ".join(lines) + ".", className="muted"))
    return html.Div(parts)


def _rule_item(i: int, rule: RuleSetting, error: str) -> html.Li:
    before, after = rule_sentence(rule)
    words: list[Any] = [html.Span(before)]
    if rule.kind != "exclude":
        words += [dcc.Input(id={"type": "rule-edit", "index": i}, type="text",
                            value=rule.value, debounce=True, className="rule-value-input",
                            placeholder={"earmark": "USD 50m", "lock": "USD 5m",
                                         "floor": "50%", "cap": "1.2"}.get(rule.kind, "")),
                  html.Span(after)]
    if not rule.on:
        words.append(html.Span(" (off: not applied)", className="muted"))
    return html.Li([
        html.Div(dcc.Checklist(id={"type": "rule-on", "index": i},
                               options=[{"label": "", "value": "on"}],
                               value=["on"] if rule.on else []),
                 title="Apply this rule (untick to switch it off and keep it here)",
                 className="rule-on"),
        html.Span(words, className="rule-words"),
        html.Button("Remove", id={"type": "rule-remove", "index": i}, n_clicks=0,
                    className="button small"),
        html.Div(error, id=f"rule-error-{i}", className="control-error", role="alert"),
    ], className="rule" if rule.on else "rule rule-off")


def edit_rule_value(data: str | None, index: int, value: str | None) -> str | None:
    """The rules store (:func:`rules_query`) with rule ``index``'s value set to ``value``.

    The value is kept as typed (trimmed), even when it cannot be read: the page shows
    it back with its message under the rule (:func:`control_errors`) and does not
    re-solve until it is fixed. Only the value changes (kind, name, lines, on or off
    stay), so a new earmark amount keeps the solver's held model. ``None`` when nothing
    changes (the same value, or no rule ``index``: a list redrawn meanwhile).
    """
    held = rules_state(data)
    if not 0 <= index < len(held.rules) or held.rules[index].kind == "exclude":
        return None
    rule = held.rules[index]
    text = (value or "").strip()
    if text == rule.value:
        return None
    rules = (*held.rules[:index], replace(rule, value=text), *held.rules[index + 1:])
    return rules_query(replace(held, rules=rules))


def switch_rule(data: str | None, index: int, on: bool) -> str | None:
    """The rules store with rule ``index`` switched on or off (``None``: nothing changes).

    A rule switched off stays in the list and the link, as set, but is not applied
    (:func:`~reachplan.web.state.state_to_funding`).
    """
    held = rules_state(data)
    if not 0 <= index < len(held.rules) or held.rules[index].on == bool(on):
        return None
    rule = replace(held.rules[index], on=bool(on))
    rules = (*held.rules[:index], rule, *held.rules[index + 1:])
    return rules_query(replace(held, rules=rules))


def remove_rule(data: str | None, index: int) -> str | None:
    """The rules store without rule ``index`` (``None``: no such rule)."""
    held = rules_state(data)
    if not 0 <= index < len(held.rules):
        return None
    return rules_query(replace(held, rules=held.rules[:index] + held.rules[index + 1:]))


def change_rules(data: str | None, changes: Sequence[tuple[str, int, Any]]) -> str | None:
    """The rules store after the rule list's controls fired, ``None`` when nothing changed.

    ``changes`` are ``(type, index, value)`` of the controls that fired: ``rule-remove``
    (clicks), ``rule-edit`` (the typed value), ``rule-on`` (the tick's values, ``["on"]``
    or ``[]``). A remove button counts only when clicked (a redrawn list fires its
    buttons with no click); a remove is applied alone, since the indices after it move.
    """
    for kind, index, value in changes:
        if kind == "rule-remove" and value:
            return remove_rule(data, index)
    current, changed = data, False
    for kind, index, value in changes:
        if kind == "rule-edit":
            after = edit_rule_value(current, index, value)
        elif kind == "rule-on":
            after = switch_rule(current, index, bool(value) and "on" in value)
        else:
            continue
        if after is not None:
            current, changed = after, True
    return current if changed else None


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
             years: Sequence[int] | None, tiers: Sequence[int] | None,
             per: str | None) -> RuleSetting:
    """A rule from the editor's fields, as typed (checked by :func:`check_new_rule`).

    An unnamed rule is named by :func:`~reachplan.web.state.state_to_funding` when run
    (``earmark 2``); an exclusion has no value; ``per`` is a floor's only.
    """
    kind = kind or "earmark"
    if kind not in RULE_KINDS:
        raise ControlError("rule-kind", f"a rule is one of {', '.join(RULE_KINDS)}")
    sel = Selector(location_codes=tuple(locations or ()), sector_codes=tuple(sectors or ()),
                   years=tuple(int(y) for y in years or ()),
                   tiers=tuple(int(t) for t in tiers or ()))
    return RuleSetting(kind, (name or "").strip(),
                       "" if kind == "exclude" else (value or "").strip(), sel,
                       (per or "all") if kind == "floor" else "all")


def check_new_rule(context: WhatIfContext, page: WhatIfState, held: WhatIfState,
                   rule: RuleSetting) -> None:
    """Raise ``ControlError("rule-value", ...)`` when ``rule`` cannot be added.

    The rule is checked as :func:`~reachplan.web.state.state_to_funding` checks it, on
    the page's current settings (``page``) with the rules already set (``held``): a
    problem of the new rule itself refuses it, with the message shown under the editor;
    a problem elsewhere on the page is not the new rule's (it shows next to its control).
    """
    index = len(held.rules)
    trial = replace(page, rules=(*held.rules, rule), locked=held.locked,
                    excluded=held.excluded)
    try:
        state_to_funding(trial, context.base, context.plan)
    except ControlError as exc:
        if exc.control.startswith("rule-") and exc.control.endswith(f"-{index}"):
            raise ControlError("rule-value", exc.message) from None


def apply_line_action(data: str | None, action: str, line: Mapping[str, Any]) -> str:
    """The rules store (:func:`rules_query`) after locking, excluding or releasing a line.

    A lock keeps the line at the amount the table shows, to the cent (the table's
    ``allocated_usd``); releasing removes the table's lock or exclusion of that line
    (rules set in the editor stay).
    """
    held = rules_state(data)
    key = line_key(str(line["location"]), str(line["sector"]), int(line["year"]))
    if action == "lock":
        held = lock_line(held, key, float(line["allocated_usd"]))
    elif action == "exclude":
        held = exclude_line(held, key)
    else:
        held = release_line(held, key)
    return rules_query(held)


def views_for(context: WhatIfContext, search: str,
              pinned: Mapping[str, Any] | None) -> tuple[Any, ...]:
    """Every view's content for a URL search string (see :func:`create_app`'s ``redraw``)."""
    search = page_query(search)
    hrefs = tuple(f"/export/{f}{search}" for f in
                  ("scenario.toml", "allocation.csv", "allocation.xlsx", "report.html"))
    keep = dash.no_update
    try:
        state = state_for_query(search) if search else state_from_funding(context.base)
        result = solve_query(context, search)
    except ControlError:
        return (keep,) * 21 + hrefs
    except InfeasibleScenarioError as exc:
        return _no_allocation("These rules cannot all hold: " + _sentence(str(exc)),
                              pinned) + hrefs
    except (ReachplanError, ValueError) as exc:
        return _no_allocation(f"These settings cannot be allocated: {_sentence(str(exc))}",
                              pinned) + hrefs
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
        line_rows(result, state),
    ) + hrefs


def _sentence(text: str) -> str:
    """``text`` with a capital first letter and a full stop (a message shown on its own)."""
    text = text.strip()
    if not text:
        return text
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _no_allocation(message: str, pinned: Mapping[str, Any] | None) -> tuple[Any, ...]:
    """The views when there is no allocation to show.

    Every figure is blank and the reason is in the diagnosis; the pinned baseline stays
    (it is what the planner compares with).
    """
    if pinned:
        people = float(pinned["people_reached"])
        pin = (format_people(people), repr(people), str(pinned.get("label", "")))
    else:
        pin = ("-", "", "Pin an allocation to compare with it.")
    figure = go.Figure()
    figure.update_layout(
        xaxis={"visible": False}, yaxis={"visible": False}, plot_bgcolor="white",
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        annotations=[{"text": "No allocation: see the message above", "showarrow": False,
                      "font": {"size": 14, "color": "#5b6b7b"}}])
    return ("-", "", "-", "", "-", "", "-", "", "", *pin, "-", "", "", "", "", [],
            message, figure, [])


def _signed(n: float) -> str:
    return ("+" if n > 0.5 else "") + format_people(n)


def binding_items(result: Allocation, top: int = 8) -> list[html.Li]:
    """The binding rules in planner words, largest effect first (absorption caps counted)."""
    binding = result.binding
    caps = [s for s in binding if s.kind == "cap"]
    others = [s for s in binding if s.kind in PLANNER_ROWS]
    items = [html.Li(f"{s.description[:1].upper()}{s.description[1:]}: "
                     f"{format_people(s.value)} {s.unit}{_range_note(s)}")
             for s in others[:top]]
    if caps:
        items.append(html.Li(f"{len(caps)} lines at their absorption limit (more money "
                             "there reaches nobody more)"))
    if not items:
        items = [html.Li("No rule limits the allocation beyond the envelope.")]
    return items


NARROW_RANGE_USD = 1e6
"""A shadow price whose range of validity is narrower than this is flagged as a knife edge."""


def _range_note(price: Any) -> str:
    """A warning when a rule's people per $1M holds only over a narrow range of its amount.

    The rate is the derivative at the optimum; past its range (HiGHS ranging, in USD)
    another line or rule takes over, so a planner must not multiply it by a million.
    """
    low, high = price.valid_from, price.valid_to
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return ""
    if high - low >= NARROW_RANGE_USD:
        return ""
    return f" (a knife edge: this rate holds over {format_usd(high - low)} only)"


def heatmap_figure(result: Allocation, plan: Plan) -> go.Figure:
    """Share funded by sector (rows) and location (columns), money in the hover text."""
    frame = result.by("sector_code", "location_code")
    share = frame["share_funded"].unstack()
    money = frame["allocated_usd"].unstack()
    req = frame["requirement_usd"].unstack()
    names = plan.sectors["sector_name"] if "sector_name" in plan.sectors else None
    rows = [str(names.get(s, s)) if names is not None else str(s) for s in share.index]
    columns = [str(c) for c in share.columns]
    money_v, req_v = money.to_numpy(dtype=float), req.to_numpy(dtype=float)
    hover = [[f"{r} in {c}<br>{format_usd(m)} of {format_usd(q)}" if q > 0
              else f"{r} in {c}: no requirement"
              for c, m, q in zip(columns, m_row, q_row, strict=True)]
             for r, m_row, q_row in zip(rows, money_v, np.nan_to_num(req_v), strict=True)]
    text = [[f"{v:.0%}" if v == v else "" for v in row] for row in share.to_numpy(dtype=float)]
    fig = go.Figure(go.Heatmap(
        z=share.to_numpy(), x=columns, y=rows, text=text,
        texttemplate="%{text}", hovertext=hover, hoverinfo="text", zmin=0, zmax=1,
        colorscale="Blues", colorbar={"title": "funded", "tickformat": ".0%"},
        xgap=1, ygap=1,
    ))
    fig.update_layout(margin={"l": 10, "r": 10, "t": 10, "b": 10}, plot_bgcolor="white",
                      font={"size": 12}, yaxis={"autorange": "reversed"})
    return fig


def line_rows(result: Allocation, state: WhatIfState) -> list[dict[str, Any]]:
    """The line table's rows (money rounded to the cent, as the CSV files).

    ``rule``: ``locked`` or ``excluded`` for the lines set in the table (``state``'s
    locked and excluded lines, :func:`~reachplan.web.state.line_status`).
    """
    cells = result.cells
    index = cells.index
    req = cells["requirement_usd"].to_numpy(dtype=float)
    money = cells["allocated_usd"].to_numpy(dtype=float)
    funded = cells["share_funded"].to_numpy(dtype=float)
    people = cells["people_reached"].to_numpy(dtype=float)
    out = []
    for i, (loc, sec, year) in enumerate(index):
        status = line_status(state, line_key(str(loc), str(sec), int(year)))
        out.append({
            "location": str(loc), "sector": str(sec), "year": int(year),
            "requirement": format_usd(req[i]),
            "allocated": format_usd(money[i]),
            "allocated_usd": round(float(money[i]), 2),
            "funded": f"{funded[i]:.0%}" if req[i] > 0 else "-",
            "people": format_people(people[i]),
            "rule": status or "",
        })
    return out
