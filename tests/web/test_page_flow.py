"""The what-if page in real headless Chromium (Debian's /usr/bin/chromium, via Playwright).

The page is served by a real ``python -m reachplan.cli serve --port 0`` subprocess
(``served`` in tests/web/conftest.py) and driven in ``browser_page``. The planner's flow
of issue 14: move the funding to 60%, add an earmark, pin, change to 50%, export the
scenario; the page's numbers must equal ``reachplan allocate --json`` on the exported file
(run in a subprocess), with no console error and no request leaving 127.0.0.1. Then a
per-year edit with carry-over and a switch to headcount, each checked the same way, and
the exported URL reopened in a fresh page shows the same numbers (the state is the URL).
A floor added, switched off (the numbers of the page without it), on again and its share
edited in the list, each checked against ``allocate --json`` on the exported file.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest


def _value(page, element: str) -> str:
    return page.get_attribute(f"#{element}", "data-value") or ""


def _wait_changed(page, element: str, old: str) -> str:
    page.wait_for_function(
        "([id, old]) => { const e = document.getElementById(id);"
        " const v = e && e.getAttribute('data-value'); return v && v !== old; }",
        arg=[element, old], timeout=60_000)
    return _value(page, element)


def _type_amount(page, element: str, text: str) -> None:
    box = page.locator(f"#{element}")
    box.fill(text)
    box.press("Enter")


def _choose(page, dropdown: str, text: str) -> None:
    """Add the option of a multi-choice dropdown whose label contains ``text``.

    The text is typed to filter the list, as a planner would, and the matching option is
    then clicked: pressing Enter instead would take whichever option is highlighted when
    the key arrives, the first of the unfiltered list if the filter has not run yet.
    """
    page.click(f"#{dropdown}")
    page.keyboard.type(text)
    page.locator(".dash-dropdown-option", has_text=text).first.click()
    page.keyboard.press("Escape")
    page.wait_for_function(
        "([id, text]) => document.getElementById(id).innerText.includes(text)",
        arg=[dropdown, text], timeout=10_000)


def _export_and_allocate(page, base_url: str, tmp_path: Path, stem: str) -> dict:
    href = page.get_attribute("#export-scenario", "href")
    assert href.startswith("/export/scenario.toml?")
    response = page.request.get(urllib.parse.urljoin(base_url, href))
    assert response.status == 200, response.text()
    toml_file = tmp_path / f"{stem}.toml"
    toml_file.write_bytes(response.body())
    done = subprocess.run(
        [sys.executable, "-m", "reachplan.cli", "allocate", "--scenario", str(toml_file),
         "--json"], capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _check_numbers(page, cli: dict) -> None:
    assert float(_value(page, "people-reached")) == pytest.approx(cli["people_reached"],
                                                                  rel=1e-9)
    assert float(_value(page, "pro-rata-people")) == pytest.approx(
        cli["pro_rata_people_reached"], rel=1e-9)
    assert float(_value(page, "gain-over-pro-rata")) == pytest.approx(
        cli["gain_over_pro_rata"], rel=1e-9, abs=1e-6)
    unmet = sum(r["unmet_need"] for r in cli["coverage_by_location_year"]
                if r["people_in_need"] is not None and r["unmet_need"] is not None)
    assert float(_value(page, "unmet-need")) == pytest.approx(unmet, rel=1e-9)


def _no_errors_nothing_foreign(page) -> None:
    assert page.console_errors == []
    foreign = [u for u in page.request_urls
               if urllib.parse.urlsplit(u).hostname != "127.0.0.1"
               and not u.startswith("data:")]
    assert foreign == []


def test_planner_flow_matches_allocate_json(served, browser_page, tmp_path: Path):
    server = served()
    page = browser_page
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(server.url)
    start = _wait_changed(page, "people-reached", "")
    assert "person-years" in page.inner_text(".kpis")

    # funding to 60% (typed; the slider follows)
    _type_amount(page, "funding-amount", "60%")
    at_60 = _wait_changed(page, "people-reached", start)
    page.wait_for_function(
        "() => document.querySelector('#funding-slider [role=slider]')"
        ".getAttribute('aria-valuenow') === '60'", timeout=10_000)

    # an earmark: USD 50m for housing in Ukraine (binding at 60%)
    page.fill("#rule-name", "Shelter donor")
    page.fill("#rule-value", "USD 50m")
    _choose(page, "rule-sector", "HOUSING")
    _choose(page, "rule-location", "UKR")
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
    cli = _export_and_allocate(page, server.base_url, tmp_path, "exported")
    _check_numbers(page, cli)
    assert cli["funding_usd"] > 0 and "50%" in cli["scenario"]

    # what one more $1M reaches: the CLI's figure, and a CLI run with $1M more funding
    shown = float(_value(page, "marginal-1m"))
    assert shown == pytest.approx(cli["one_more_million"]["people"], rel=1e-9)
    toml_file = tmp_path / "exported.toml"
    done = subprocess.run(
        [sys.executable, "-m", "reachplan.cli", "allocate", "--scenario", str(toml_file),
         "--funding", f"USD {cli['funding_usd'] + 1e6:.6f}", "--json"],
        capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    more = json.loads(done.stdout)
    assert shown == pytest.approx(more["people_reached"] - cli["people_reached"],
                                  rel=1e-6, abs=1e-3)

    # the state is the URL: a fresh page on the exported URL shows the same numbers
    link = page.url
    numbers = {e: _value(page, e) for e in ("people-reached", "pro-rata-people",
                                            "unmet-need", "marginal-1m")}
    other = page.context.new_page()
    other.on("console", lambda m: page.console_errors.append(m.text)
             if m.type == "error" else None)
    other.goto(link)
    assert _wait_changed(other, "people-reached", "") == numbers["people-reached"]
    for element, value in numbers.items():
        assert _value(other, element) == value, element
    # the controls are set from the URL by their own callback, maybe after the views
    other.wait_for_function(
        "() => document.getElementById('funding-amount').value === '50%' &&"
        " document.getElementById('rules-list').innerText.includes('Shelter donor')",
        timeout=10_000)
    assert urllib.parse.urlsplit(other.url).query == urllib.parse.urlsplit(link).query
    other.close()
    _no_errors_nothing_foreign(page)


def test_per_year_carry_over_and_headcount_match_allocate_json(served, browser_page,
                                                                tmp_path: Path):
    server = served()
    page = browser_page
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(server.url)
    start = _wait_changed(page, "people-reached", "")

    # 2025 money capped at USD 300m with the rest of the appeal at 60%, carry-over on
    _type_amount(page, "funding-amount", "60%")
    at_60 = _wait_changed(page, "people-reached", start)
    page.click("details summary")
    _type_amount(page, "year-amount-2025", "USD 300m")
    capped = _wait_changed(page, "people-reached", at_60)
    page.click("#carry-over input[type=checkbox]")
    carried = _wait_changed(page, "people-reached", capped)
    query = urllib.parse.unquote_plus(page.evaluate("() => window.location.search"))
    assert "year=2025~USD 300m" in query and "carry=1" in query
    cli = _export_and_allocate(page, server.base_url, tmp_path, "per_year")
    _check_numbers(page, cli)
    assert float(carried) == pytest.approx(cli["people_reached"], rel=1e-9)

    # a malformed year amount: a message next to it, the numbers stay
    _type_amount(page, "year-amount-2024", "lots")
    page.wait_for_function(
        "() => document.getElementById('year-amount-2024-error').innerText.length > 0",
        timeout=10_000)
    assert "lots" in page.inner_text("#year-amount-2024-error")
    assert _value(page, "people-reached") == carried
    _type_amount(page, "year-amount-2024", "")
    page.wait_for_function(
        "() => document.getElementById('year-amount-2024-error').innerText === ''",
        timeout=10_000)

    # headcount
    page.click("#objective input[value=headcount]")
    headcount = _wait_changed(page, "people-reached", carried)
    assert "objective=headcount" in page.evaluate("() => window.location.search")
    cli = _export_and_allocate(page, server.base_url, tmp_path, "headcount")
    _check_numbers(page, cli)
    assert float(headcount) == pytest.approx(cli["people_reached"], rel=1e-9)
    _no_errors_nothing_foreign(page)


def _pick(page, dropdown: str, text: str) -> None:
    """Choose the option of a single-choice dropdown whose label starts ``text``."""
    page.click(f"#{dropdown}")
    page.locator(".dash-dropdown-option", has_text=text).first.click()
    page.wait_for_function(
        "([id, text]) => document.getElementById(id).innerText.includes(text)",
        arg=[dropdown, text], timeout=10_000)


def test_a_floor_switched_off_on_and_edited_matches_allocate_json(served, browser_page,
                                                                 tmp_path: Path):
    server = served()
    page = browser_page
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(server.url)
    start = _wait_changed(page, "people-reached", "")
    _type_amount(page, "funding-amount", "45%")
    at_45 = _wait_changed(page, "people-reached", start)

    # a floor: half of every tier-1 requirement funded, in each location (binds at 45%)
    _pick(page, "rule-kind", "Floor (at least")
    page.fill("#rule-name", "Tier 1 half")
    page.fill("#rule-value", "50%")
    _choose(page, "rule-tier", "Tier 1")
    _pick(page, "rule-per", "Floor for each location")
    page.click("#rule-add")
    page.wait_for_function("() => document.querySelectorAll('#rules-list li').length === 1",
                           timeout=10_000)
    floored = _wait_changed(page, "people-reached", at_45)
    item = page.locator("#rules-list li").first
    assert "Tier 1 half" in item.inner_text() and "every location" in item.inner_text()
    assert item.locator("input[type=text]").input_value() == "50%"

    # switched off: kept in the list and the link, not applied
    item.locator("input[type=checkbox]").click()
    off = _wait_changed(page, "people-reached", floored)
    assert off == at_45
    assert "rule-off" in (item.get_attribute("class") or "")
    assert "Tier 1 half" in page.inner_text("#rules-list")
    query = urllib.parse.unquote_plus(page.evaluate("() => window.location.search"))
    assert "rule=floor~Tier 1 half~50%~tier:1~location~off" in query
    cli = _export_and_allocate(page, server.base_url, tmp_path, "floor_off")
    assert "Tier 1 half" not in (tmp_path / "floor_off.toml").read_text()  # only rules on
    _check_numbers(page, cli)

    # on again: the floor's numbers back
    item.locator("input[type=checkbox]").click()
    assert _wait_changed(page, "people-reached", off) == floored
    assert "~off" not in urllib.parse.unquote(page.evaluate("() => window.location.search"))

    # a share that cannot be: a message under the rule, the numbers stay
    box = item.locator("input[type=text]")
    box.fill("150%")
    box.press("Enter")
    page.wait_for_function(
        "() => document.getElementById('rule-error-0').innerText.length > 0",
        timeout=10_000)
    assert "100%" in page.inner_text("#rule-error-0")
    assert _value(page, "people-reached") == floored
    assert "150" not in page.evaluate("() => window.location.search")

    # its share edited in place
    box = page.locator("#rules-list li").first.locator("input[type=text]")
    box.fill("70%")
    box.press("Enter")
    raised = _wait_changed(page, "people-reached", floored)
    page.wait_for_function(
        "() => document.getElementById('rule-error-0').innerText === ''", timeout=10_000)
    assert "~70%~" in urllib.parse.unquote(page.evaluate("() => window.location.search"))
    cli = _export_and_allocate(page, server.base_url, tmp_path, "floor_70")
    _check_numbers(page, cli)
    assert float(raised) == pytest.approx(cli["people_reached"], rel=1e-9)
    exported = (tmp_path / "floor_70.toml").read_text()
    assert "Tier 1 half" in exported and "share = 0.7" in exported
    _no_errors_nothing_foreign(page)


def test_futures_button_runs_the_draws_with_progress(served, browser_page):
    server = served()
    page = browser_page
    # a link the page cannot read: a banner, and the starting settings
    page.goto(server.base_url + "?funding=60%25&bonus=1")
    _wait_changed(page, "people-reached", "")
    assert "bonus" in page.inner_text("#url-error")
    assert page.evaluate("() => window.location.search") == "?funding=100%25"
    assert page.input_value("#funding-amount") == "100%"
    page.click("#futures")
    page.wait_for_function(
        "() => document.getElementById('futures-progress').innerText.includes('draws')",
        timeout=30_000)
    band = _wait_changed(page, "futures-band", "")
    low, mid, high = (float(v) for v in band.split(","))
    assert low <= mid <= high
    assert page.get_attribute("#futures-band", "data-draws") == "100"
    assert page.get_attribute("#futures-band", "data-seed") == "0"
    # then the full report of those futures, offered as a link once written
    page.wait_for_selector("#export-full-report:not([hidden])", timeout=300_000)
    assert page.inner_text("#futures-progress") == "100 of 100 draws done"
    href = page.get_attribute("#export-full-report", "href")
    assert href is not None and href.startswith("/export/full-report/")
    report = page.request.get(server.base_url.rstrip("/") + href)
    assert report.status == 200
    body = report.text()
    assert body.startswith("<!DOCTYPE html>") and "whatif" in body
    _no_errors_nothing_foreign(page)
