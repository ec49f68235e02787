"""The scenario report as one self-contained HTML page.

:func:`render_html` returns a single page that opens offline in any browser: the
plotly.js bundle shipped with the ``plotly`` package and the style sheet are inlined,
nothing is fetched, every text from a plan or scenario file is escaped
(:func:`html.escape` in the page; JSON with ``</`` escaped inside scripts). Charts
are interactive (hover values, zoom, a scenario menu where one chart covers several
scenarios).
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from reachplan.model.formatting import format_people, format_share_of_futures, format_usd
from reachplan.reports.report_data import MODEL_ROW_KINDS, ReportData
from reachplan.reports.tables import allocation_grid
from reachplan.solver.marginal import LineStatus

__all__ = ["CHART_IDS", "figures", "render_html"]

CHART_IDS = (
    "chart-reached",
    "chart-comparison",
    "chart-heatmap",
    "chart-ladder",
    "chart-fan-idps",
    "chart-fan-refugees",
    "chart-fan-returnees",
)
"""The page's charts, in page order (one ``div`` each)."""

SERIES_TITLES = {
    "idps": "Internally displaced persons in Ukraine",
    "refugees": "Refugees from Ukraine in host countries and the rest of Europe",
    "returnees": "Returnees in Ukraine",
}

PALETTE = ("#1f5fa8", "#d9822b", "#2e8b57", "#b33a3a", "#7b5ea7", "#8c6d31", "#d16ba5",
           "#5f7f8f", "#b8a200", "#17becf", "#555555", "#9edae5")

CSS = """
:root { --ink:#1d2733; --muted:#5b6673; --line:#d5dce4; --accent:#1f5fa8; --bg:#f6f8fa; }
* { box-sizing: border-box; }
body { margin:0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
       color:var(--ink); line-height:1.45; background:#fff; }
header { background:var(--accent); color:#fff; padding:1.2rem 2rem; }
header h1 { margin:0 0 .3rem 0; font-size:1.5rem; }
header p { margin:0; opacity:.9; font-size:.9rem; }
nav { position:sticky; top:0; background:#fff; border-bottom:1px solid var(--line);
      padding:.4rem 2rem; z-index:10; font-size:.9rem; }
nav a { color:var(--accent); margin-right:1rem; text-decoration:none; }
main { padding:0 2rem 3rem 2rem; max-width:1300px; }
section { margin-top:2rem; }
h2 { border-bottom:2px solid var(--accent); padding-bottom:.2rem; font-size:1.25rem; }
h3 { font-size:1.05rem; margin-bottom:.3rem; }
.lead { font-size:1.1rem; background:var(--bg); border-left:4px solid var(--accent);
        padding:.8rem 1rem; }
.cards { display:flex; flex-wrap:wrap; gap:1rem; }
.card { border:1px solid var(--line); border-radius:6px; padding:.7rem 1rem; min-width:14rem;
        background:var(--bg); }
.card .value { font-size:1.5rem; font-weight:600; }
.card .label { color:var(--muted); font-size:.85rem; }
table { border-collapse:collapse; margin:.5rem 0 1rem 0; font-size:.88rem; }
th, td { border:1px solid var(--line); padding:.25rem .5rem; vertical-align:top; }
th { background:var(--bg); text-align:left; }
td.num { text-align:right; font-variant-numeric: tabular-nums; white-space:nowrap; }
.muted { color:var(--muted); font-size:.85rem; }
.chart { width:100%; min-height:420px; }
details { border:1px solid var(--line); border-radius:6px; padding:.3rem .8rem; margin:.5rem 0; }
summary { cursor:pointer; font-weight:600; }
code { background:var(--bg); padding:0 .2rem; word-break:break-all; }
@media print { nav { display:none; } .chart { page-break-inside:avoid; } }
"""

SCRIPT = """
(function () {
  var figures = JSON.parse(document.getElementById('figures').textContent);
  var config = {displaylogo: false, responsive: true, showLink: false,
                modeBarButtonsToRemove: ['sendDataToCloud']};
  Object.keys(figures).forEach(function (id) {
    Plotly.newPlot(id, figures[id].data, figures[id].layout, config);
  });
})();
"""


# ---- formatting ---------------------------------------------------------------------------


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _people(n: float | None) -> str:
    return format_people(n, missing="n/a")


def _usd_m(usd: float | None) -> str:
    return format_usd(usd, unit="M", missing="n/a")


def _pct(x: float) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.0%}"


def _pct1(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.1%}"


def _signed(n: float | None) -> str:
    return "n/a" if n is None or not math.isfinite(n) else f"{n:+,.0f}"


def _range(low: float | None, high: float | None) -> str:
    return f"{_people(low)} – {_people(high)}"


def _limit(value: float | None, unit: str, side: str) -> str:
    """One end of a shadow price's range: money, people, or no limit on that side."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not computed"
    if math.isinf(value):
        return f"no {side} limit"
    value = 0.0 if abs(value) < 0.5 else value  # no "$-0" for a limit of zero
    if unit != "USD":
        return _people(value)
    return ("-" if value < 0 else "") + format_usd(abs(value), unit="exact")


def _usd_change(usd: float) -> str:
    """A change in money with its sign: +$1.2M, -$0.4M."""
    if not math.isfinite(usd):
        return "n/a"
    sign = "+" if usd >= 0.05e6 else "-" if usd <= -0.05e6 else ""
    return sign + _usd_m(abs(usd))


def _table(headers: Sequence[str], rows: Sequence[Sequence[tuple[str, bool]]]) -> str:
    """HTML table; each cell is (already escaped text, is_number)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{t}</td>' if num else f"<td>{t}</td>"
                         for t, num in row) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _script_json(obj: Any) -> str:
    """JSON safe inside a ``<script>`` element."""
    text = json.dumps(obj, separators=(",", ":"), allow_nan=False)
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def _figure_json(fig: go.Figure) -> Any:
    return json.loads(pio.to_json(fig, validate=False, remove_uids=True))


# ---- figures ----------------------------------------------------------------------------


def _base_layout(title: str, height: int = 460, **extra: Any) -> dict[str, Any]:
    return {"title": {"text": title, "x": 0.01}, "height": height,
            "margin": {"l": 70, "r": 30, "t": 60, "b": 60},
            "hovermode": "closest", "template": "plotly_white", **extra}


def _menu(labels: Sequence[str], n_traces: Sequence[int], title_prefix: str = "") -> list[Any]:
    """A dropdown showing one group of traces at a time."""
    buttons = []
    total = sum(n_traces)
    start = 0
    for label, n in zip(labels, n_traces, strict=True):
        visible = [False] * total
        visible[start:start + n] = [True] * n
        buttons.append({"label": label, "method": "update",
                        "args": [{"visible": visible},
                                 {"title.text": f"{title_prefix}{label}"}]})
        start += n
    # under the title, above the plot, left-aligned: long titles never run under it
    return [{"buttons": buttons, "direction": "down", "x": 0.0, "xanchor": "left",
             "y": 1.02, "yanchor": "bottom", "showactive": True}]


def _fig_reached(data: ReportData) -> go.Figure:
    fig = go.Figure()
    draws = data.people_reached_draws
    for i, name in enumerate(data.scenario_names):
        values = draws.loc[draws["scenario"] == name, "people_reached"].to_numpy()
        fig.add_trace(go.Box(y=values, name=name, boxmean=True, boxpoints="outliers",
                             marker_color=PALETTE[i % len(PALETTE)],
                             hovertemplate="%{y:,.0f} people<extra>" + _e(name) + "</extra>"))
    fig.update_layout(**_base_layout(
        "People reached across simulated futures (box: p25-p75, line: median, dashes: mean)",
        showlegend=False, yaxis={"title": "people reached", "tickformat": ",.0f"}))
    return fig


def _fig_comparison(data: ReportData) -> go.Figure:
    alloc = data.allocation
    by = alloc.groupby(["scenario", "sector_name"], sort=False)["mean_allocated_usd"].sum()
    sectors = list(dict.fromkeys(alloc["sector_name"]))
    names = data.scenario_names
    fig = go.Figure()
    for i, sector in enumerate(sectors):
        ys = [float(by.get((n, sector), 0.0)) / 1e6 for n in names]
        fig.add_trace(go.Bar(x=names, y=ys, name=sector, marker_color=PALETTE[i % len(PALETTE)],
                             hovertemplate="%{x}<br>" + _e(sector)
                             + ": $%{y:,.1f}M<extra></extra>"))
    fig.update_layout(**_base_layout(
        "Mean allocation by sector per scenario (USD millions, all years)", height=520,
        barmode="stack", yaxis={"title": "USD millions", "tickformat": ",.0f"},
        legend={"font": {"size": 10}}))
    return fig


def _heatmap_grid(data: ReportData, name: str) -> tuple[list[str], list[str], Any, Any, Any]:
    # a sector not planned in a location is NaN (blank), not shown as zero
    money, req = allocation_grid(data, name)
    share = money / req
    z = (money / 1e6).to_numpy()
    custom = np.dstack([(req / 1e6).to_numpy(), share.to_numpy()])
    return list(money.columns), list(money.index), z, custom, share


def _nan_to_none(x: Any) -> Any:
    if isinstance(x, list):
        return [_nan_to_none(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _fig_heatmap(data: ReportData) -> go.Figure:
    fig = go.Figure()
    names = data.scenario_names
    for i, name in enumerate(names):
        locs, secs, z, custom, _ = _heatmap_grid(data, name)
        fig.add_trace(go.Heatmap(
            x=locs, y=secs, z=_nan_to_none(np.asarray(z, dtype=float).tolist()),
            customdata=_nan_to_none(np.asarray(custom, dtype=float).tolist()),
            colorscale="Blues", visible=i == 0,
            colorbar={"title": {"text": "USD M"}}, hoverongaps=False, name=name,
            hovertemplate=("%{y} in %{x}<br>mean allocation $%{z:,.1f}M of "
                           "$%{customdata[0]:,.1f}M required (%{customdata[1]:.0%})"
                           "<extra>" + _e(name) + "</extra>")))
    title = "Mean allocation, sector by location, all years (USD millions): "
    layout = _base_layout(title + names[0], height=620,
                          xaxis={"tickangle": -40}, yaxis={"automargin": True})
    if len(names) > 1:
        layout["updatemenus"] = _menu(names, [1] * len(names), title)
        layout["margin"] = {**layout["margin"], "t": 120}
    fig.update_layout(**layout)
    return fig


def _fig_ladder(data: ReportData) -> go.Figure:
    fig = go.Figure()
    lad = data.funding_ladder
    for i, (rules, group) in enumerate(lad.groupby("rules", sort=False)):
        color = PALETTE[i % len(PALETTE)]
        x = (group["funding_usd"] / 1e6).tolist()
        fig.add_trace(go.Scatter(
            x=x, y=_nan_to_none(group["people_reached"].tolist()), mode="lines+markers",
            name=f"optimised: {rules}", line={"color": color},
            customdata=_nan_to_none(np.column_stack([
                group["share_of_appeal"].to_numpy(float),
                group["people_per_extra_1m"].to_numpy(float)]).tolist()),
            hovertemplate=("%{customdata[0]:.0%} of the appeal ($%{x:,.0f}M): "
                           "%{y:,.0f} people<br>next $1M: about %{customdata[1]:,.0f} "
                           "more people<extra>" + _e(rules) + "</extra>")))
        fig.add_trace(go.Scatter(
            x=x, y=_nan_to_none(group["pro_rata_people_reached"].tolist()), mode="lines",
            name=f"pro-rata cuts: {rules}", line={"color": color, "dash": "dot"},
            hovertemplate="pro-rata at $%{x:,.0f}M: %{y:,.0f} people<extra></extra>"))
    sc = data.scenarios
    fig.add_trace(go.Scatter(
        x=(sc["funding_usd"] / 1e6).tolist(), y=sc["plan_people_reached"].tolist(),
        mode="markers+text", text=sc["scenario"].tolist(), textposition="top left",
        marker={"size": 10, "color": "#000", "symbol": "diamond"}, name="scenarios",
        hovertemplate="%{text}: $%{x:,.0f}M reaches %{y:,.0f} people<extra></extra>"))
    fig.update_layout(**_base_layout(
        "Funding ladder: people reached by funding level, at the plan's figures", height=520,
        xaxis={"title": "funding (USD millions)", "tickformat": ",.0f"},
        yaxis={"title": "people reached", "tickformat": ",.0f"},
        legend={"font": {"size": 10}}))
    return fig


def _fig_fan(data: ReportData, series: str) -> go.Figure:
    fig = go.Figure()
    tot = data.displacement_totals
    tot = tot[tot["series"] == series]
    labels, counts = [], []
    for g, (label, group) in enumerate(tot.groupby("simulation", sort=False)):
        months = group["month"].tolist()
        visible = g == 0
        color = PALETTE[g % len(PALETTE)]
        traces = [
            go.Scatter(x=months, y=group["p95"].tolist(), mode="lines", line={"width": 0},
                       showlegend=False, hoverinfo="skip", visible=visible),
            go.Scatter(x=months, y=group["p05"].tolist(), mode="lines", line={"width": 0},
                       fill="tonexty", fillcolor="rgba(31,95,168,0.15)", name="5-95%",
                       visible=visible, hovertemplate="p05 %{y:,.0f}<extra></extra>"),
            go.Scatter(x=months, y=group["p90"].tolist(), mode="lines", line={"width": 0},
                       showlegend=False, hoverinfo="skip", visible=visible),
            go.Scatter(x=months, y=group["p10"].tolist(), mode="lines", line={"width": 0},
                       fill="tonexty", fillcolor="rgba(31,95,168,0.30)", name="10-90%",
                       visible=visible, hovertemplate="p10 %{y:,.0f}<extra></extra>"),
            go.Scatter(x=months, y=group["p50"].tolist(), mode="lines",
                       line={"color": color, "width": 2}, name="median", visible=visible,
                       customdata=np.column_stack([group["p10"], group["p90"]]).tolist(),
                       hovertemplate=("%{x|%b %Y}: median %{y:,.0f}<br>80% of futures "
                                      "between %{customdata[0]:,.0f} and "
                                      "%{customdata[1]:,.0f}<extra></extra>")),
        ]
        for t in traces:
            fig.add_trace(t)
        labels.append(str(label))
        counts.append(len(traces))
    title = f"{SERIES_TITLES[series]}: "
    layout = _base_layout(title + (labels[0] if labels else ""), height=440,
                          yaxis={"title": "persons", "tickformat": ",.0f"},
                          xaxis={"title": "month end"})
    if len(labels) > 1:
        layout["updatemenus"] = _menu(labels, counts, title)
        layout["margin"] = {**layout["margin"], "t": 120}
    fig.update_layout(**layout)
    return fig


def figures(data: ReportData) -> dict[str, go.Figure]:
    """The page's charts by ``div`` id (:data:`CHART_IDS`)."""
    return {
        "chart-reached": _fig_reached(data),
        "chart-comparison": _fig_comparison(data),
        "chart-heatmap": _fig_heatmap(data),
        "chart-ladder": _fig_ladder(data),
        "chart-fan-idps": _fig_fan(data, "idps"),
        "chart-fan-refugees": _fig_fan(data, "refugees"),
        "chart-fan-returnees": _fig_fan(data, "returnees"),
    }


# ---- text sections ------------------------------------------------------------------------


def _row(data: ReportData, name: str) -> pd.Series:
    sc = data.scenarios
    return sc[sc["scenario"] == name].iloc[0]


def _headline(data: ReportData) -> str:
    first = _row(data, data.scenario_names[0])
    lead = (
        f"<p class='lead'>In <b>{_e(first['scenario'])}</b>, "
        f"{_usd_m(first['funding_usd'])} ({_pct(first['share_of_appeal'])} of the "
        f"{_usd_m(data.appeal_usd)} appeal) reaches on average "
        f"<b>{_people(first['people_reached_mean'])} people</b> across "
        f"{int(first['draws']):,} simulated futures (80% of futures between "
        f"{_people(first['people_reached_p10'])} and {_people(first['people_reached_p90'])})."
        f" At the plan's own figures for people in need, that is "
        f"<b>{_people(abs(first['gain_over_pro_rata']))} "
        f"{'more' if first['gain_over_pro_rata'] >= 0 else 'fewer'} people</b> than cutting "
        f"every line by the same percentage"
        + (" (pro-rata cuts ignore the scenario's earmarks, floors and other rules)"
           if first["gain_over_pro_rata"] < 0 else "") + ".</p>"
    )
    cards = (
        "<div class='cards'>"
        f"<div class='card'><div class='value'>{_usd_m(first['funding_usd'])}</div>"
        f"<div class='label'>funding ({_pct(first['share_of_appeal'])} of the appeal)</div></div>"
        f"<div class='card'><div class='value'>{_people(first['people_reached_mean'])}</div>"
        "<div class='label'>people reached, mean over futures: person-years (summed over "
        "years)</div></div>"
        f"<div class='card'><div class='value'>{_pct1(first['coverage_mean'])}</div>"
        "<div class='label'>coverage of people in need, mean over futures</div></div>"
        f"<div class='card'><div class='value'>{first['gain_over_pro_rata']:+,.0f}</div>"
        "<div class='label'>people over pro-rata cuts (plan's figures)</div></div>"
        f"<div class='card'><div class='value'>{_people(first['unmet_need_mean'])}</div>"
        "<div class='label'>people in need not reached in an average year, mean over "
        "futures</div></div>"
        "</div>"
    )
    rows = []
    for r in data.scenarios.itertuples(index=False):
        rows.append([
            (f"<b>{_e(r.scenario)}</b><br><span class='muted'>{_e(r.description)}</span>",
             False),
            (_usd_m(r.funding_usd), True), (_pct(r.share_of_appeal), True),
            (_usd_m(r.allocated_usd_mean), True),
            (_people(r.people_reached_mean), True),
            (f"{_people(r.people_reached_p10)} – {_people(r.people_reached_p90)}", True),
            (_pct1(r.coverage_mean), True),
            (_people(r.unmet_need_mean), True),
            (_people(r.pro_rata_people_reached), True),
            (_people(r.gain_over_pro_rata), True),
            (_people(r.gain_over_pro_rata_programme), True),
        ])
    table = _table(["scenario", "funding", "of appeal", "allocated (mean)",
                    "people reached, person-years (summed over years; mean)", "p10 – p90",
                    "coverage of people in need (mean)",
                    "unmet need in an average year (mean)", "pro-rata (plan's figures)",
                    "gain over pro-rata", "gain over pro-rata, programme lines only "
                    "(without enablers)"], rows)
    return (lead + cards + "<h3>All scenarios</h3>" + table
            + "<p class='muted'>Person-years: people reached in each year, summed over the "
            "plan's years (someone reached in 2024 and in 2025 counts twice, as plan targets "
            "do). Mean, p10 – p90, coverage and unmet need are over the simulated futures; "
            "pro-rata and the gains at the plan's figures.</p>")


def _money_by(frame: pd.DataFrame, key: str, label_col: str, names: Sequence[str],
              extra: str | None = None) -> list[list[tuple[str, bool]]]:
    """Rows of a money table, one column per scenario, summed over years, then a total.

    ``frame`` is a ``by_*`` table of the report; ``extra`` a column shown muted after
    the label.
    """
    by = frame.groupby([key, "scenario"], sort=False)["mean_allocated_usd"].sum()
    keys = list(dict.fromkeys(frame[key]))
    label = dict(zip(frame[key], frame[label_col], strict=False))
    more = dict(zip(frame[key], frame[extra], strict=False)) if extra else {}
    rows = []
    for k in keys:
        text = f"{_e(label.get(k) or k)} <span class='muted'>{_e(k)}"
        text += f" in {_e(more[k])}</span>" if extra else "</span>"
        rows.append([(text, False)] + [(_usd_m(float(by.get((k, n), 0.0))), True)
                                       for n in names])
    totals = frame.groupby("scenario", sort=False)["mean_allocated_usd"].sum()
    rows.append([("<b>total</b>", False)] + [(_usd_m(float(totals.get(n, 0.0))), True)
                                             for n in names])
    return rows


def _comparison_table(data: ReportData) -> str:
    names = data.scenario_names
    countries = data.allocation_by_country
    sub = data.allocation_by_subnational
    rows = _money_by(countries, "location_code", "location_name", names)
    rows.insert(-1, [("<b>people reached, person-years (summed over years; mean)</b>", False)]
                + [(_people(_row(data, n)["people_reached_mean"]), True) for n in names])
    out = ("<h3>Mean allocation by country (all years)</h3>"
           + ("<p class='muted'>Sub-national lines are summed to their country; their "
              "detail follows the sector table.</p>" if not sub.empty else "")
           + _table(["country" if not sub.empty else "location", *names], rows))
    out += ("<h3>Mean allocation by sector (all years)</h3>"
            + _table(["sector", *names], _money_by(data.allocation_by_sector, "sector_code",
                                                   "sector_name", names)))
    if not sub.empty:
        out += ("<h3>Mean allocation by sub-national location (all years)</h3>"
                + _table(["location", *names], _money_by(sub, "location_code",
                                                         "location_name", names,
                                                         extra="country_code")))
    return out + _people_comparison(data)


def _by_year(data: ReportData, name: str) -> pd.DataFrame:
    by = data.by_year
    return by[by["scenario"] == name].set_index("year")


def _people_comparison(data: ReportData) -> str:
    """Coverage, unmet need per year, unique people and entities, scenario by scenario."""
    names = data.scenario_names
    years = sorted({int(y) for y in data.by_year["year"]})
    rows: list[list[tuple[str, bool]]] = []

    def add(label: str, values: Sequence[str]) -> None:
        rows.append([(label, False)] + [(v, True) for v in values])

    def head(label: str) -> None:
        rows.append([(f"<b>{_e(label)}</b>", False)] + [("", False) for _ in names])

    sc = {n: _row(data, n) for n in names}
    by = {n: _by_year(data, n) for n in names}

    def year_value(n: str, year: int, col: str) -> float:
        return float(by[n][col].get(year, np.nan)) if year in by[n].index else np.nan

    head("over the simulated futures (mean)")
    add("coverage of people in need", [_pct1(sc[n]["coverage_mean"]) for n in names])
    for year in years:
        add(f"unmet need per year: {year}",
            [_people(year_value(n, year, "unmet_need_mean")) for n in names])
    add("unmet need in an average year", [_people(sc[n]["unmet_need_mean"]) for n in names])
    if data.has_entities:
        add("entities reached, summed over years",
            [_people(sc[n]["entities_reached_mean"]) for n in names])
    head("at the plan's figures")
    add("objective", [_e(sc[n]["objective"]) for n in names])
    add("people reached, person-years (summed over years)",
        [_people(sc[n]["plan_people_reached"]) for n in names])
    add("unique people reached, whole period (range)",
        [_range(sc[n]["plan_unique_people_low"], sc[n]["plan_unique_people_high"])
         for n in names])
    for year in years:
        add(f"unique people reached per year: {year} (range)",
            [_range(year_value(n, year, "unique_people_low"),
                    year_value(n, year, "unique_people_high")) for n in names])
    add("coverage of people in need", [_pct1(sc[n]["plan_coverage"]) for n in names])
    for year in years if data.has_entities else ():
        add(f"entities reached per year: {year}",
            [_people(year_value(n, year, "entities_reached")) for n in names])
    add("gain over pro-rata (with enablers)",
        [_signed(sc[n]["gain_over_pro_rata"]) for n in names])
    add("gain over pro-rata, programme lines only (without enablers)",
        [_signed(sc[n]["gain_over_pro_rata_programme"]) for n in names])
    return ("<h3>People, coverage and unmet need</h3>" + _table(["", *names], rows)
            + "<p class='muted'>Unmet need is per year, or in an average year (the mean over "
            "the plan's years), never summed across years. Unique people: at least the "
            "largest sector's beneficiaries, at most the sum over sectors; over the whole "
            "period, from the same people every year to different people every year.</p>")


def _constraint_effect(kind: str, value: float, unit: str) -> str:
    if not math.isfinite(value):
        return "not binding at the plan's figures"
    if kind == "need":
        return f"each extra person in need here adds about {value:,.2f} people reached"
    if kind == "envelope":
        return f"+$1M more reaches about {value:,.0f} more people"
    if kind == "floor" and value < 0:
        return f"each extra $1M this floor requires costs about {-value:,.0f} people reached"
    if kind == "cap":
        return f"letting these lines absorb $1M more reaches about {value:,.0f} more people"
    if kind in ("earmark", "flexible"):
        return f"+$1M more of this money reaches about {value:,.0f} more people"
    if value < 0:
        return f"each $1M it moves costs about {-value:,.0f} people reached"
    return f"+$1M on this rule reaches about {value:,.0f} more people ({unit})"


def _extra_section(data: ReportData, top: int = 8) -> str:
    out = []
    for i, name in enumerate(data.scenario_names):
        row = _row(data, name)
        env = float(row["envelope_people_per_1m"])
        year = row.get("envelope_per_1m_year", np.nan)
        where = f" (arriving for {int(year)})" if pd.notna(year) else ""
        if math.isfinite(env) and env > 0.5:
            env_text = (f"One more <b>unearmarked</b> $1M{where}, allocated as the rules allow, "
                        f"reaches about <b>{env:,.0f} more people</b>.")
        elif math.isfinite(env) and env < -0.5:
            env_text = (f"One more <b>unearmarked</b> $1M{where}, allocated as the rules allow, "
                        f"goes to higher-priority lines and reaches about "
                        f"<b>{-env:,.0f} fewer people</b> (the priority objective weighs "
                        "life-saving lines and severity, not heads alone).")
        else:
            env_text = ("More unearmarked money reaches nobody more at this funding level: "
                        "every line that could use it is at its absorption limit or its "
                        "location's people in need are all reached.")
        lines = data.extra_1m[data.extra_1m["scenario"] == name]
        best = lines[lines["people_per_extra_1m"] > 0.5].head(top)
        items = "".join(
            f"<li>+$1M to <b>{_e(r.sector_name or r.sector_code)}</b> in "
            f"<b>{_e(r.location_name or r.location_code)}</b> in {int(r.year)} reaches about "
            f"<b>{r.people_per_extra_1m:,.0f} more people</b>"
            + (f" <span class='muted'>({_e(r.note)})</span>" if r.note else "") + "</li>"
            for r in best.itertuples(index=False)
        )
        at_limit = int((lines["status"] == LineStatus.AT_LIMIT).sum())
        saturated = int((lines["status"] == LineStatus.NEED_MET).sum())
        none_text = (f"<p class='muted'>{at_limit} lines are at their absorption limit and "
                     f"{saturated} are in a location and year whose people in need are all "
                     "reached: more money there reaches nobody more. Every line is in "
                     "<code>extra_1m.csv</code>.</p>")
        body = (f"<p>{env_text}</p><p>Earmarked to one line, on top of this allocation:</p>"
                f"<ul>{items or '<li>no line reaches more people with more money</li>'}</ul>"
                + none_text)
        out.append(f"<details{' open' if i == 0 else ''}><summary>{_e(name)}</summary>"
                   f"{body}</details>")
    return "".join(out)


def _binding_section(data: ReportData, top: int = 12) -> str:
    out = []
    bc = data.binding_constraints
    for i, name in enumerate(data.scenario_names):
        mine = bc[bc["scenario"] == name]
        rows_df = mine[~mine["kind"].isin(MODEL_ROW_KINDS)]
        rows = [
            [(_e(r.description), False), (format_share_of_futures(r.share_of_draws_binding), True),
             (_e(_constraint_effect(str(r.kind), float(r.shadow_price), str(r.unit))), False)]
            for r in rows_df.head(top).itertuples(index=False)
        ]
        more = len(rows_df) - len(rows)
        body = (_table(["rule", "binding in % of futures", "effect at the plan's figures"],
                       rows) if rows else "<p>No rule is binding.</p>")
        model_rows = len(mine) - len(rows_df)
        if more > 0 or model_rows > 0:
            body += ("<p class='muted'>"
                     + (f"{more} more binding rules; " if more > 0 else "")
                     + (f"{model_rows} rows of the model itself (absorption caps, "
                        "people-in-need bounds, coverage and enabler rows) bind too; "
                        if model_rows > 0 else "")
                     + "every one is in <code>binding_constraints.csv</code>.</p>")
        out.append(f"<details{' open' if i == 0 else ''}><summary>{_e(name)}</summary>"
                   f"{body}</details>")
    return "".join(out)


def _coverage_section(data: ReportData) -> str:
    """Per scenario: people, coverage and unmet need per year, and per location and year."""
    out = []
    for i, name in enumerate(data.scenario_names):
        r = _row(data, name)
        by = _by_year(data, name)
        objective = str(r["objective"])
        text = (
            f"<p>Over the simulated futures, coverage of people in need is "
            f"<b>{_pct1(r['coverage_mean'])}</b> on average"
            + (f" and <b>{_people(r['entities_reached_mean'])} entities</b> are reached "
               "(summed over years)" if data.has_entities else "")
            + f". At the plan's figures, with the <b>{_e(objective)}</b> objective"
            + (" (tiers, severity, diminishing returns in each location's coverage)"
               if objective == "priority" else " (people reached, summed)")
            + f", <b>{_people(r['plan_people_reached'])}</b> person-years (summed over years) "
            f"are reached: between <b>{_people(r['plan_unique_people_low'])}</b> and "
            f"<b>{_people(r['plan_unique_people_high'])}</b> unique people over the whole "
            f"period; coverage {_pct1(r['plan_coverage'])}; "
            f"{_signed(r['gain_over_pro_rata'])} people over pro-rata cuts with enablers, "
            f"{_signed(r['gain_over_pro_rata_programme'])} on programme lines only (without "
            "enablers).</p>"
        )
        year_rows = [
            [(str(int(y)), False), (_people(v.unmet_need_mean), True),
             (_people(v.people_in_need), True), (_people(v.people_reached), True),
             (_pct1(v.coverage), True), (_people(v.unmet_need), True),
             (_range(v.unique_people_low, v.unique_people_high), True),
             *([(_people(v.entities_reached), True)] if data.has_entities else [])]
            for y, v in by.iterrows()
        ]
        years = _table(["year", "unmet need per year (mean over futures)",
                        "people in need per year", "people reached per year",
                        "coverage", "unmet need per year", "unique people per year (range)",
                        *(["entities reached per year"] if data.has_entities else [])],
                       year_rows)
        cov = data.coverage[data.coverage["scenario"] == name]
        loc_rows = [
            [(f"{_e(c.location_name or c.location_code)} <span class='muted'>"
              f"{_e(c.location_code)}</span>", False), (str(int(c.year)), True),
             (_people(c.people_in_need), True), (_people(c.planned_reach), True),
             (_people(c.people_reached), True), (_pct1(c.coverage), True),
             (_pct1(c.coverage_of_planned), True), (_people(c.unmet_need), True)]
            for c in cov.itertuples(index=False)
        ]
        locs = (_table(["location", "year", "people in need", "planned reach",
                        "people reached", "coverage of people in need",
                        "coverage of planned reach", "unmet need"], loc_rows)
                if loc_rows else "<p>No location gives people in need.</p>")
        body = (text + "<h3>Per year (never summed across years)</h3>"
                "<p class='muted'>Columns after the first figure are at the plan's "
                "figures.</p>" + years
                + "<h3>Per location and year, at the plan's figures</h3>" + locs)
        out.append(f"<details{' open' if i == 0 else ''}><summary>{_e(name)}</summary>"
                   f"{body}</details>")
    return "".join(out)


def _shadow_section(data: ReportData, top: int = 15) -> str:
    """Per scenario: the binding rules' shadow prices with the range over which each holds."""
    out = []
    sp = data.shadow_prices
    for i, name in enumerate(data.scenario_names):
        mine = sp[sp["scenario"] == name]
        rules = mine[~mine["kind"].isin(MODEL_ROW_KINDS)]
        rules = pd.concat([rules[rules["kind"] == "envelope"], rules[rules["kind"] != "envelope"]])
        rows = []
        for r in rules.head(top).itertuples(index=False):
            down = (_signed(r.shadow_price_down) if bool(r.one_sided)
                    else "<span class='muted'>same</span>")
            rows.append([
                (_e(r.description), False),
                (_signed(r.shadow_price), True),
                (down, True),
                (f"{_e(_limit(r.valid_from, r.range_unit, 'lower'))} to "
                 f"{_e(_limit(r.valid_to, r.range_unit, 'upper'))}", True),
            ])
        body = (_table(["rule", "people per extra $1M (increase)",
                        "people per $1M less (decrease, where one-sided)",
                        "holds while the rule's limit is between"], rows)
                if rows else "<p>No rule a planner sets is binding.</p>")
        more = len(rules) - len(rows)
        counts = {k: int((mine["kind"] == k).sum()) for k in MODEL_ROW_KINDS}
        body += ("<p class='muted'>"
                 + (f"{more} more binding rules; " if more > 0 else "")
                 + f"binding too: {counts['cap']} absorption caps, {counts['enabler']} "
                 f"enabler overheads and {counts['need']} people-in-need bounds. Every binding "
                 "row, with its price for a decrease and its range, is in "
                 "<code>shadow_prices.csv</code>.</p>")
        out.append(f"<details{' open' if i == 0 else ''}><summary>{_e(name)}</summary>"
                   f"{body}</details>")
    return ("<p>At the plan's figures: what one more $1M on a rule's limit reaches, and over "
            "which range of the limit that holds (HiGHS ranging). At a kink (one-sided), one "
            "dollar less buys a different amount than one dollar more; both are shown. "
            "A negative value is a rule that costs people.</p>" + "".join(out))


def _cost_index_section(data: ReportData, top: int = 12) -> str:
    """How far the planning case moves when the sector cost index is flattened."""
    summary = data.cost_index_summary.iloc[0]
    name = str(summary["scenario"])
    intro = (f"<p>The plan's sector cost index sets how much more a person reached costs in "
             f"one sector than in another (mostly stated assumptions). Here "
             f"<b>{_e(name)}</b> ({_usd_m(summary['funding_usd'])}) is allocated again with "
             "every sector costing the same per person, unit costs recalibrated so that full "
             "funding still reaches each location's targets.</p>")
    if not math.isfinite(float(summary["moved_share"])):
        return intro + f"<p>The comparison could not be made: {_e(summary['note'])}.</p>"
    text = (f"<p class='lead'>Flattening the index moves <b>{_pct1(summary['moved_share'])} "
            f"of the envelope</b> ({_usd_m(summary['moved_usd'])}). People reached, "
            "person-years (summed over years): "
            f"<b>{_people(summary['people_reached_indexed'])}</b> with the plan's index, "
            f"<b>{_people(summary['people_reached_flat'])}</b> with a flat index "
            f"(coverage {_pct1(summary['coverage_indexed'])} and "
            f"{_pct1(summary['coverage_flat'])}).</p>"
            "<p class='muted'>Share moved: the sum over lines of |money with the index - "
            "money flat| / 2, over the envelope. The flat-index allocation's people are "
            "counted with the flattened plan's own unit costs, so the two people figures rest "
            "on different cost assumptions.</p>")
    tables = []
    ci = data.cost_index
    for dimension, title in (("sector", "Money per sector"), ("location", "Money per location")):
        part = ci[(ci["scenario"] == name) & (ci["dimension"] == dimension)]
        rows = [
            [(f"{_e(r.name or r.code)} <span class='muted'>{_e(r.code)}</span>", False),
             (_usd_m(r.indexed_usd), True), (_usd_m(r.flat_usd), True),
             (_usd_change(r.difference_usd), True)]
            for r in part.head(top).itertuples(index=False)
        ]
        more = len(part) - len(rows)
        tables.append(f"<h3>{title} (largest moves first)</h3>"
                      + _table([dimension, "with the plan's index", "flat index",
                                "change"], rows)
                      + (f"<p class='muted'>{more} more in <code>cost_index.csv</code>.</p>"
                         if more > 0 else ""))
    return intro + text + "".join(tables)


def _ladder_text(data: ReportData) -> str:
    parts = []
    for rules, group in data.funding_ladder.groupby("rules", sort=False):
        bad = group[group["status"] != "optimal"]
        if not bad.empty:
            levels = ", ".join(_pct(float(v)) for v in bad["share_of_appeal"])
            reason = str(bad.sort_values("share_of_appeal")["status"].iloc[-1])
            parts.append(f"<p>Rules of <b>{_e(rules)}</b>: at {levels} of the appeal the "
                         f"rules cannot all hold; at {_pct(float(bad['share_of_appeal'].max()))}"
                         f": {_e(reason)}.</p>")
    return "".join(parts)


def _needs_sources(data: ReportData) -> str:
    """One line per scenario: where its people in need came from."""
    items = "".join(
        f"<li><b>{_e(s['name'])}</b>: {_e(s['needs_source'])}</li>"
        for s in data.runs_json if s.get("needs_source")
    )
    return f"<p>People in need:</p><ul>{items}</ul>" if items else ""


def _displacement_text(data: ReportData) -> str:
    groups = data.displacement_totals.drop_duplicates("simulation")
    items = "".join(f"<li><b>{_e(r.simulation)}</b></li>" for r in groups.itertuples())
    return ("<p>Median and 80% / 90% bands of the simulated stocks at each month end, from "
            "the same draws the allocation was re-solved in. Scenarios with the same "
            "displacement assumptions, seed and number of draws share one set of bands "
            f"(choose with the menu):</p><ul>{items}</ul>")


def _assumptions(data: ReportData) -> str:
    notes = "".join(f"<li>{_e(n)}</li>" for n in data.notes)
    prov = _table(["section", "item", "value"], [
        [(_e(r.section), False), (_e(r.item), False), (f"<code>{_e(r.value)}</code>", False)]
        for r in data.provenance.itertuples(index=False)
    ])
    if data.warnings.empty:
        warn = "<p>The plan has no validation warnings.</p>"
    else:
        warn = ("<p>The plan document contradicts itself in these places (validation "
                "warnings; the tables' figures are used):</p>" + _table(
                    ["source", "row", "column", "message"],
                    [[(_e(r.source), False), (_e(r.row), True), (_e(r.column), False),
                      (_e(r.message), False)] for r in data.warnings.itertuples(index=False)]))
    reproduce = (f"<p class='muted'>To reproduce (same plan and scenario files, same "
                 f"package versions): <code id='reproduce'>{_e(data.reproduce)}</code></p>"
                 if data.reproduce else "")
    return (f"<h3>How to read the figures</h3><ul>{notes}</ul>"
            f"<h3>Provenance</h3>{prov}{reproduce}"
            f"<h3>Plan validation warnings</h3>{warn}")


# ---- the page ---------------------------------------------------------------------------


def render_html(data: ReportData) -> str:
    """The report as one self-contained HTML page (UTF-8 text).

    Parameters
    ----------
    data
        The report.

    Returns
    -------
    str
        An HTML5 document; the plotly.js bundle and the style sheet are inlined, and
        it refers to no external resource.
    """
    figs = {k: _figure_json(v) for k, v in figures(data).items()}
    plotly_js = get_plotlyjs().replace("</script", "<\\/script")
    charts = {cid: f'<div id="{cid}" class="chart"></div>' for cid in CHART_IDS}
    sections = [
        ("headline", "Headline", _headline(data)),
        ("distribution", "People reached across futures",
         "<p>Each box summarises the people reached in every simulated future of one "
         "scenario.</p>" + charts["chart-reached"]),
        ("comparison", "Scenario comparison",
         charts["chart-comparison"] + _comparison_table(data)),
        ("allocation", "Allocation by sector and location",
         "<p>Mean over the simulated futures, summed over the plan's years. Blank cells: "
         "the sector is not planned in that location. Hover for the requirement and the "
         "share funded.</p>" + charts["chart-heatmap"]),
        ("ladder", "Funding ladder",
         "<p>People reached at each funding level with the scenario's rules (solid) against "
         "cutting every line by the same percentage (dotted), at the plan's figures. "
         "Diamonds: the scenarios.</p>" + charts["chart-ladder"] + _ladder_text(data)),
        ("coverage", "Coverage and unmet need",
         "<p>People reached against people in need, per year and per location, for each "
         "scenario. Unmet need is never summed across years.</p>" + _needs_sources(data)
         + _coverage_section(data)),
        ("extra", "What one more $1M reaches", _extra_section(data)),
        ("binding", "Binding constraints",
         "<p>Rules that hold the allocation back, how often in the simulated futures, and "
         "what they cost at the plan's figures.</p>" + _binding_section(data)),
        ("shadow", "Shadow prices and their ranges", _shadow_section(data)),
        *([("cost-index", "Sector cost index sensitivity", _cost_index_section(data))]
          if data.has_cost_index else []),
        *([("displacement", "Displacement futures",
            _displacement_text(data) + charts["chart-fan-idps"] + charts["chart-fan-refugees"]
            + charts["chart-fan-returnees"])]
          if not data.displacement_totals.empty else []),
        ("assumptions", "Assumptions and provenance", _assumptions(data)),
    ]
    nav = "".join(f'<a href="#{sid}">{_e(title)}</a>' for sid, title, _ in sections)
    body = "".join(f'<section id="{sid}"><h2>{_e(title)}</h2>{content}</section>'
                   for sid, title, content in sections)
    fingerprint = data.provenance.loc[
        data.provenance["item"].str.startswith("content fingerprint"), "value"]
    fp = str(fingerprint.iloc[0])[:12] if len(fingerprint) else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>Scenario report: {_e(data.title)}</title>\n"
        f"<style>{CSS}</style>\n"
        f"<script>{plotly_js}</script>\n"
        "</head>\n<body>\n"
        f"<header><h1>Scenario report: {_e(data.title)}</h1>"
        f"<p>{len(data.scenario_names)} scenario(s) · made {_e(data.created)} UTC · plan "
        f"fingerprint {_e(fp)}</p></header>\n"
        f"<nav>{nav}</nav>\n<main>{body}</main>\n"
        f"<script type=\"application/json\" id=\"figures\">{_script_json(figs)}</script>\n"
        f"<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )
