"""Close-approach screening in Chromium: units and an alert on the map, sent from it, live.

Reports go to the United States' node as a feed's would (``POST
/v1/tracks/reports``, an operator's token, the real clock). A US destroyer
and a Russian frigate closing head on raise an alert; the officer sends its
incident report from the map, and Russia's console recomputes the call. A
unit reported while a viewer's map is open appears without a reload, and
moves on the map's own timer.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime

import httpx
import pytest
from playwright.sync_api import expect

from detente.node.operators import Role, add_operator
from detente.node.tracks import list_alerts
from detente.record.envelope import format_time
from tests.browser.conftest import log_in, shot
from tests.browser.test_hotline import CONTRAST, _watch

pytestmark = pytest.mark.slow

SHIP, FRIGATE, AIRCRAFT = "366999101", "273999102", "ru-aircraft-77"


@pytest.fixture(scope="module")
def feed(demo) -> str:
    """An operator's API token on the US node, for posting reports."""
    _, token = add_operator(demo.nodes["us"], "feed", Role.operator)
    return token


def _report(unit, party, lat, lon, course, speed, alt=None) -> str:
    body = {
        "id": unit,
        "party": party,
        "time": format_time(datetime.now(UTC)),
        "lat": lat,
        "lon": lon,
        "course_deg": course,
        "speed_mps": speed,
    }
    if alt is not None:
        body["alt_m"] = alt
    return json.dumps(body)


def _post(demo, token: str, *lines: str) -> dict:
    response = httpx.post(
        demo.url("us", "/v1/tracks/reports"),
        content="\n".join(lines).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def _alert(demo) -> dict:
    found = [
        a
        for a in list_alerts(demo.nodes["us"], state="raised")
        if {a["a"], a["b"]} == {SHIP, FRIGATE}
    ]
    assert found, "the pair raised an alert"
    return found[0]


def test_the_map_shows_the_units_and_the_alert_and_sends_its_report(demo, context, feed):
    # 14 km apart, 1 km off one parallel, closing at 20 m/s: within 2 NM in some 700 s.
    _post(
        demo,
        feed,
        _report(SHIP, "us", 55.5, 18.9, 90, 10),
        _report(FRIGATE, "ru", 55.51, 19.122, 270, 10),
    )
    alert = _alert(demo)
    page = context.new_page()
    problems = _watch(page)
    log_in(page, demo, "us", "officer")
    page.goto(demo.url("us", "/console/map"))
    for unit in (SHIP, FRIGATE):
        expect(page.locator(f'svg#map g.unit[data-unit="{unit}"]')).to_be_visible()
    drawn = page.locator(f'svg#map g.alert[data-alert="{alert["id"]}"]')
    expect(drawn.locator("path.alert-line")).to_have_count(1)
    expect(drawn.locator("g.cpa circle")).to_be_visible()
    assert (
        page.locator(f'svg#map g.unit[data-unit="{SHIP}"] path.hull').get_attribute("transform")
        == "rotate(90)"
    )
    row = page.locator(f'#alerts-table tr[data-alert="{alert["id"]}"]')
    expect(row).to_contain_text("at sea")
    expect(row.locator(".cpa-countdown")).to_have_text(re.compile(r"^in 1?\d:\d\d$"))
    expect(page.locator(f'#units-table tr[data-unit="{SHIP}"]')).to_contain_text("api:feed")
    assert page.evaluate(CONTRAST) == []
    assert page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0
    shot(page, "map-tracks")

    row.locator("input[name=account]").fill("Frigate closing head on; we hold course and speed.")
    row.locator("button.send-alert").click()
    expect(page).to_have_url(re.compile(rf"/console/map\?done=sent&alert={alert['id']}#alerts$"))
    sent = page.locator("#sent-ref")
    expect(sent).to_have_text(re.compile(r"^us:\d+$"))
    ref = sent.text_content()
    assert sent.get_attribute("href") == "/console/messages/" + ref.replace(":", "/")
    row = page.locator(f'#alerts-table tr[data-alert="{alert["id"]}"]')
    expect(row).to_have_attribute("data-draft", "sent")
    expect(row.locator("button.send-alert")).to_have_count(0)
    shot(page, "map-alert-sent")

    # Russia's console: the report arrives, and its screening is recomputed there.
    ru = context.new_page()
    log_in(ru, demo, "ru", "officer")
    path = "/console/hotline/incidents/" + ref.replace(":", "/")
    deadline = time.monotonic() + 15
    while (response := ru.goto(demo.url("ru", path))).status != 200:
        assert time.monotonic() < deadline, "the incident report did not reach ru"
        ru.wait_for_timeout(200)
    expect(ru.locator("#screening-verdict")).to_have_text("agrees with the report")
    expect(ru.locator("#accounts")).to_contain_text("we hold course and speed")
    shot(ru, "incident-recomputed")
    assert response.status == 200
    assert problems == []


def test_a_unit_reported_appears_live_and_moves_on_the_map_s_timer(demo, context, feed):
    page = context.new_page()
    problems = _watch(page)
    log_in(page, demo, "us", "viewer")
    page.goto(demo.url("us", "/console/map"))
    expect(page.locator("body")).to_have_attribute("data-live", "connected")
    page.evaluate("window.detenteKept = 'no reload'")
    page.focus("svg#map")
    page.keyboard.press("+")
    page.keyboard.press("+")

    # Far from the ships, flying north at 250 m/s: no alert, but it moves.
    _post(demo, feed, _report(AIRCRAFT, "ru", 58.0, 22.0, 0, 250, alt=9000))
    marker = page.locator(f'svg#map g.unit[data-unit="{AIRCRAFT}"]')
    expect(marker).to_have_count(1, timeout=10_000)
    expect(page.locator(f'#units-table tr[data-unit="{AIRCRAFT}"]')).to_contain_text("9000 m")
    assert page.evaluate("window.detenteKept") == "no reload"
    assert int(page.locator("body").get_attribute("data-refreshed")) >= 1
    # Swapped in, the markers take the zoomed view's scale, as the sites have.
    site = page.locator("svg#map g.site .glyph").first.get_attribute("transform")
    assert marker.locator(".glyph").get_attribute("transform") == site
    assert marker.locator("path.hull").get_attribute("d").startswith("M0-10"), "an aircraft"

    # No report comes, yet the picture moves on within the timer (5 s).
    before = marker.get_attribute("transform")
    expect(marker).not_to_have_attribute("transform", before, timeout=12_000)
    assert page.evaluate("window.detenteKept") == "no reload"
    expect(page.locator(f'svg#map g.unit[data-unit="{AIRCRAFT}"] .glyph')).to_have_attribute(
        "transform", site
    )
    shot(page, "map-live-unit")
    assert problems == []
