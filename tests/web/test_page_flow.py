"""The what-if page in real headless Chromium (Debian's /usr/bin/chromium, via Playwright).

The planner's flow of issue 14: move the funding to 60%, add an earmark, pin, change to
50%, export the scenario; the page's numbers must equal ``reachplan allocate --json`` on
the exported file (run in a subprocess), with no console error and no request leaving
127.0.0.1.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="no /usr/bin/chromium (apt-get install -y chromium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def page_url() -> Iterator[str]:
    """The page on the shipped plan, served by waitress on 127.0.0.1 in a thread."""
    from waitress.server import create_server

    from reachplan.web.app import create_app
    from reachplan.web.context import make_context
    from reachplan.workflow.suite import load_usable_plan

    app = create_app(make_context(load_usable_plan(None).plan, None, None))
    server = create_server(app.server, host="127.0.0.1", port=_free_port(), threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}/"
    server.close()


@pytest.fixture()
def browser_page() -> Iterator[tuple[object, list[str], list[str]]]:
    """A Playwright page; the console errors and every request URL, recorded."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        errors: list[str] = []
        requests: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        yield page, errors, requests
        browser.close()


def _value(page: object, element: str) -> str:
    return page.get_attribute(f"#{element}", "data-value") or ""  # type: ignore[attr-defined]


def _wait_changed(page: object, element: str, old: str) -> str:
    page.wait_for_function(  # type: ignore[attr-defined]
        "([id, old]) => { const e = document.getElementById(id);"
        " const v = e && e.getAttribute('data-value'); return v && v !== old; }",
        arg=[element, old], timeout=60_000)
    return _value(page, element)


def _type_amount(page: object, element: str, text: str) -> None:
    box = page.locator(f"#{element}")  # type: ignore[attr-defined]
    box.fill(text)
    box.press("Enter")


def test_planner_flow_matches_allocate_json(page_url: str, browser_page: tuple, tmp_path: Path):
    page, errors, requests = browser_page
    page.goto(page_url)
    start = _wait_changed(page, "people-reached", "")

    # funding to 60% (typed; the slider follows)
    _type_amount(page, "funding-amount", "60%")
    at_60 = _wait_changed(page, "people-reached", start)
    page.wait_for_function(
        "() => document.querySelector('#funding-slider [role=slider]')"
        ".getAttribute('aria-valuenow') === '60'", timeout=10_000)

    # an earmark: USD 50m for housing in Ukraine (binding at 60%)
    page.fill("#rule-name", "Shelter donor")
    page.fill("#rule-value", "USD 50m")
    for dropdown, text in (("rule-sector", "HOUSING"), ("rule-location", "UKR")):
        page.click(f"#{dropdown}")
        page.keyboard.type(text)
        page.keyboard.press("Enter")
        page.keyboard.press("Escape")
    page.click("#rule-add")
    page.wait_for_function("() => document.querySelectorAll('#rules-list li').length === 1",
                           timeout=10_000)
    assert "Shelter donor" in page.inner_text("#rules-list")
    assert "HOUSING" in page.inner_text("#rules-list")
    earmarked = _wait_changed(page, "people-reached", at_60)
    search = page.evaluate("() => window.location.search")
    assert "rule=earmark" in urllib.parse.unquote(search)

    # pin, then 50%
    page.click("#pin")
    pinned = _wait_changed(page, "pinned-people", "")
    assert float(pinned) == float(earmarked)
    _type_amount(page, "funding-amount", "50%")
    at_50 = _wait_changed(page, "people-reached", earmarked)
    assert float(at_50) < float(pinned)
    assert float(_value(page, "gain-over-pinned")) == pytest.approx(
        float(at_50) - float(pinned), abs=1e-6)

    # export the scenario the page shows, allocate it with the CLI
    href = page.get_attribute("#export-scenario", "href")
    assert href.startswith("/export/scenario.toml?")
    response = page.request.get(urllib.parse.urljoin(page_url, href))
    assert response.status == 200
    toml_file = tmp_path / "exported.toml"
    toml_file.write_bytes(response.body())
    done = subprocess.run(
        [sys.executable, "-m", "reachplan.cli", "allocate", "--scenario", str(toml_file),
         "--json"], capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    cli = json.loads(done.stdout)
    assert float(_value(page, "people-reached")) == pytest.approx(cli["people_reached"],
                                                                  rel=1e-9)
    assert float(_value(page, "pro-rata-people")) == pytest.approx(
        cli["pro_rata_people_reached"], rel=1e-9)
    assert float(_value(page, "gain-over-pro-rata")) == pytest.approx(
        cli["gain_over_pro_rata"], rel=1e-9, abs=1e-6)
    unmet = sum(r["unmet_need"] for r in cli["coverage_by_location_year"]
                if r["people_in_need"] is not None and r["unmet_need"] is not None)
    assert float(_value(page, "unmet-need")) == pytest.approx(unmet, rel=1e-9)
    assert cli["funding_usd"] > 0 and "50%" in cli["scenario"]

    page.screenshot(path=str(tmp_path / "whatif.png"), full_page=False)
    assert errors == []
    foreign = [u for u in requests
               if urllib.parse.urlsplit(u).hostname not in ("127.0.0.1",)
               and not u.startswith("data:")]
    assert foreign == []

    # what one more $1M reaches: the envelope's and the flexible money's shadow prices
    envelope = [s["value"] for s in cli["shadow_prices"] if s["kind"] == "envelope"]
    flexible = [s["value"] for s in cli["shadow_prices"] if s["kind"] == "flexible"]
    assert len(envelope) == 1 and len(flexible) == 1  # one total envelope, one earmark pool
    shown = float(_value(page, "marginal-1m"))
    assert shown == pytest.approx(envelope[0] + flexible[0], rel=1e-9)
