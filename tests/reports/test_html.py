"""The HTML report in a real browser: no console error, every chart drawn, nothing fetched."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from reachplan.reports.html import CHART_IDS, render_html
from reachplan.reports.scenario_report import render_runs_json
from tests.reports.report_fixture import MARKUP_NAME, small_report

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _browser() -> str | None:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass(frozen=True)
class PageLoad:
    dom: str
    console: list[str]
    page_requests: list[str]


def load_in_browser(path: Path, wait_ms: int = 20000) -> PageLoad:
    """Open a file in headless Chromium with every host unresolvable.

    Returns the DOM after scripts ran, the console messages, and the network requests
    the page itself made (Chromium's own background requests are left out: they are not
    tied to the page's file:// origin).
    """
    browser = _browser()
    assert browser is not None
    with tempfile.TemporaryDirectory() as tmp:
        netlog = Path(tmp) / "net.json"
        cmd = [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={tmp}/profile", "--enable-logging=stderr",
            "--v=0", f"--virtual-time-budget={wait_ms}", "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--log-net-log={netlog}", "--window-size=1300,900", "--dump-dom", path.as_uri(),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180,
                              env={**os.environ, "LANG": "C.UTF-8"})
        assert proc.returncode == 0, proc.stderr[-2000:]
        console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
        requests = []
        if netlog.exists():
            text = netlog.read_text(errors="replace")
            try:
                log = json.loads(text)
            except json.JSONDecodeError:  # a log cut short ends inside its event list
                log = json.loads(text.rstrip().rstrip(",") + "]}")
            for event in log.get("events", []):
                params = event.get("params", {})
                url = params.get("url", "")
                if url.startswith(("http:", "https:", "ws:", "wss:")) and "file://" in str(
                        params.get("network_isolation_key", "")):
                    requests.append(url)
        return PageLoad(proc.stdout, console, sorted(set(requests)))


needs_browser = pytest.mark.skipif(
    _browser() is None,
    reason="no Chromium found (CI installs Debian's chromium: apt-get install -y chromium)",
)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    text = render_html(small_report().data)
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(text, encoding="utf-8")
    return text, path


def _array(value: object) -> np.ndarray:
    """A plotly data array: a list, or a typed array ``{"dtype", "bdata"}``."""
    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
    return np.asarray(value, dtype=float)


def _chart_segments(dom: str) -> dict[str, str]:
    starts = [(cid, dom.find(f'id="{cid}"')) for cid in CHART_IDS]
    assert all(pos >= 0 for _, pos in starts), [cid for cid, pos in starts if pos < 0]
    out = {}
    for k, (cid, pos) in enumerate(starts):
        end = starts[k + 1][1] if k + 1 < len(starts) else len(dom)
        out[cid] = dom[pos:end]
    return out


@needs_browser
def test_every_chart_drawn_without_console_errors_or_requests(page):
    _, path = page
    load = load_in_browser(path)
    assert load.console == []
    assert load.page_requests == []
    data = small_report().data
    segments = _chart_segments(load.dom)
    for cid, seg in segments.items():
        assert "js-plotly-plot" in seg[:200], cid
        assert seg.count('class="main-svg"') >= 2, cid
    n_scen = len(data.scenario_names)
    n_sectors = data.allocation["sector_name"].nunique()
    n_ladders = data.funding_ladder["rules"].nunique()
    assert segments["chart-reached"].count('class="trace boxes"') == n_scen
    assert segments["chart-comparison"].count('class="trace bars"') == n_sectors
    assert re.search(r'class="hm".*?<image', segments["chart-heatmap"], re.S)
    assert segments["chart-ladder"].count("trace scatter") == 2 * n_ladders + 1
    for cid in ("chart-fan-idps", "chart-fan-refugees", "chart-fan-returnees"):
        # one set of bands shown at a time: 2 bands (4 edges) and the median
        assert segments[cid].count("trace scatter") == 5, cid
        assert segments[cid].count('class="js-line"') >= 1, cid
    # two sets of displacement assumptions: a menu to switch between them
    assert "updatemenu" in segments["chart-fan-idps"]
    # markup in a scenario name is shown as text, never becomes an element
    assert '<b id="injected">' not in load.dom
    assert '&lt;b id="injected"&gt;' in load.dom


@needs_browser
def test_browser_check_sees_errors_and_requests(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><script>console.error("broken");'
                   'notAFunction();</script><img src="https://example.org/x.png">'
                   '<div id="x"></div></body></html>')
    load = load_in_browser(bad, wait_ms=3000)
    assert any("broken" in line for line in load.console)
    assert any("notAFunction" in line for line in load.console)
    assert load.page_requests == ["https://example.org/x.png"]


def test_nothing_is_fetched_from_the_network(page):
    text, _ = page
    scripts = re.findall(r"<script\b([^>]*)>", text, re.I)
    assert scripts and all("src" not in attrs.lower() for attrs in scripts)
    assert not re.search(r"<link\b", text, re.I)
    assert not re.search(r"<(img|iframe|source|video|audio|embed|object)\b", text, re.I)
    # outside the inlined plotly.js bundle, no address at all
    bundle_end = text.index("</script>")
    rest = text[bundle_end:]
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", rest, re.I), re.search(
        r"https?://\S+", rest)
    assert "@import" not in text[: text.index("<script>")]


def test_text_is_escaped(page):
    text, _ = page
    assert MARKUP_NAME not in text
    assert "tp &lt;b id=&quot;injected&quot;&gt;ends&lt;/b&gt;" in text
    figures = text[text.index('id="figures">'):]
    assert "</b>" not in figures.split("</script>")[0]


def test_figures_carry_the_run_numbers(page):
    text, _ = page
    report = small_report()
    blob = text[text.index('id="figures">') + len('id="figures">'):]
    figures = json.loads(blob[: blob.index("</script>")])
    assert sorted(figures) == sorted(CHART_IDS)
    run_json = json.loads(render_runs_json(report.runs))["scenarios"]
    boxes = figures["chart-reached"]["data"]
    assert [b["name"] for b in boxes] == [s["name"] for s in run_json]
    for box, run in zip(boxes, report.runs, strict=True):
        np.testing.assert_array_equal(_array(box["y"]), run.people_reached)
    for trace, scen in zip(figures["chart-heatmap"]["data"], run_json, strict=True):
        z = np.asarray([[np.nan if v is None else v for v in row] for row in trace["z"]])
        total = sum(c["mean_allocated_usd"] for c in scen["cells"])
        assert np.nansum(z) * 1e6 == pytest.approx(total, rel=1e-9)


def test_headline_shows_the_run_json_figures(page):
    text, _ = page
    for scen in json.loads(render_runs_json(small_report().runs))["scenarios"]:
        assert f"{scen['people_reached_mean']:,.0f}" in text
        assert f"${scen['funding_usd'] / 1e6:,.1f}M" in text
        assert f"{scen['people_reached_p10']:,.0f}" in text
