"""The map's units and close-approach alerts over HTTP: drawn, listed, sent, dismissed, rechecked.

Reports go in as a feed's would, through ``POST /v1/tracks/reports`` with an
operator's token; a US destroyer and a Russian frigate 14 km apart on one
parallel, closing at 20 m/s, raise an alert on the US node (nearest, 0 m,
in 700 s), as in tests/integration/test_track_screening.py.
"""

from __future__ import annotations

import doctest
import json
import re
from datetime import timedelta
from importlib.resources import files

import httpx
import pytest

from detente.console import trackmap
from detente.console.incidents import screening_check
from detente.console.projection import project
from detente.console.trackmap import approach, render_tracks
from detente.node import init_node
from detente.node.logins import set_password
from detente.node.operators import Role, add_operator
from detente.node.tracks import get_alert, list_alerts
from detente.record.envelope import format_time
from detente.store.logs import LogStore
from tests.console.conftest import PASSWORD, Browser
from tests.console.test_map_assets import colour, contrast
from tests.fakes.servers import ServedNode, free_port

SHIP, FRIGATE, AIRCRAFT = "366999001", "273999002", "ru-aircraft-7"
CSS = files("detente.console").joinpath("static/map.css").read_text(encoding="utf-8")


def report(clock, unit, party, lat, lon, course, speed, *, alt=None):
    body = {
        "id": unit,
        "party": party,
        "time": format_time(clock.now),
        "lat": lat,
        "lon": lon,
        "course_deg": course,
        "speed_mps": speed,
    }
    if alt is not None:
        body["alt_m"] = alt
    return json.dumps(body)


def post(url: str, token: str, *lines: str) -> dict:
    response = httpx.post(
        f"{url}/v1/tracks/reports",
        content="\n".join(lines).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def feed(console):
    """An operator's API token on the US node, for posting reports."""
    _, token = add_operator(console.served.node, "feed", Role.operator)
    return token


def converging(console, feed, clock) -> dict:
    """The destroyer and the frigate; the alert they raise."""
    answer = post(
        console.served.url,
        feed,
        report(clock, SHIP, "us", 55.5, 18.9, 90, 10),
        report(clock, FRIGATE, "ru", 55.5, 19.122, 270, 10),
    )
    assert [e["kind"] for e in answer["events"]] == ["raised"]
    [alert] = list_alerts(console.served.node, state="raised")
    return alert


def _region(page: str, name: str) -> str:
    if name == "map-tracks":  # the last layer of the map's svg
        start = page.index('<g class="tracks" data-live="map-tracks"')
        return page[start : page.index("</svg>", start)]
    found = re.search(rf'<(section|g)[^>]*data-live="{name}".*?</\1>', page, re.S)
    assert found, f"no region {name}"
    return found.group(0)


def _row(page: str, attribute: str, value: str) -> str:
    found = re.search(rf'<tr[^>]*{attribute}="{re.escape(value)}".*?</tr>', page, re.S)
    assert found, f"no row {attribute}={value}"
    return found.group(0)


def _translate(svg_element: str) -> tuple[float, float]:
    found = re.search(r'transform="translate\(([-\d.]+) ([-\d.]+)\)"', svg_element)
    assert found, svg_element[:200]
    return float(found.group(1)), float(found.group(2))


def _unit(page: str, unit: str) -> str:
    found = re.search(
        rf'<g class="unit [^"]*" data-unit="{re.escape(unit)}".*?</g></g>', page, re.S
    )
    assert found, f"no marker of {unit}"
    return found.group(0)


# --- the map ------------------------------------------------------------------------------


def test_the_map_draws_the_units_and_the_alert(console, feed, clock):
    alert = converging(console, feed, clock)
    post(console.served.url, feed, report(clock, AIRCRAFT, "ru", 60.0, 25.0, 45, 220, alt=9000))
    page = console.browser("officer").get("/console/map")
    assert page.status_code == 200, page.text
    text = page.text
    assert "<script>" not in text and " style=" not in text
    assert "&amp;tracks=1" in re.search(r'data-live-events="[^"]+"', text).group(0)

    tracks = _region(text, "map-tracks")
    assert 'data-live-every="5"' in tracks
    ship = _unit(tracks, SHIP)
    assert 'class="unit unit-us kind-other"' in ship and f">{SHIP}</text>" in ship
    assert 'transform="rotate(90)"' in ship, "turned to its course"
    assert _translate(ship) == pytest.approx(project(18.9, 55.5), abs=0.01)
    plane = _unit(tracks, AIRCRAFT)
    assert 'class="unit unit-ru kind-aircraft"' in plane
    assert 'd="M0-10L2-3' in plane, "an aircraft's shape, not a hull"
    # A line to where each unit will be in five minutes: 3 km east for the ship.
    vector = re.search(r'<path class="vector vector-us" d="M([\d.]+) ([\d.]+)L([\d.]+)', tracks)
    assert float(vector.group(3)) - float(vector.group(1)) == pytest.approx(
        project(18.9 + 3000 / 63_170, 55.5)[0] - project(18.9, 55.5)[0], rel=0.02
    )

    drawn = re.search(
        rf'<g class="alert alert-sea" data-alert="{alert["id"]}".*?</g></g></g>', tracks
    )
    assert drawn, "the alert is drawn"
    assert 'class="alert-line"' in drawn.group(0) and drawn.group(0).count("alert-path") == 2
    # The predicted point of closest approach: both ships at 19.011°E in 700 s.
    cpa = re.search(r'<g class="cpa" transform="translate\(([-\d.]+) ([-\d.]+)\)"', drawn.group(0))
    x, y = float(cpa.group(1)), float(cpa.group(2))
    assert (x, y) == pytest.approx(project(19.011, 55.5), abs=0.02)
    assert approach(alert).at == clock.now + timedelta(seconds=alert["tcpa_s"])

    units = _region(text, "map-units")
    row = _row(units, "data-unit", SHIP)
    assert "55.5000, 18.9000" in row and "90°" in row and "10.0 m/s (19.4 kn)" in row
    assert "api:feed" in row and "0:00" in row
    assert "9000 m" in _row(units, "data-unit", AIRCRAFT)

    alerts = _region(text, "map-alerts")
    row = _row(alerts, "data-alert", str(alert["id"]))
    assert f'{FRIGATE}</span> (ru) ↔ <span class="unit-ref">{SHIP}</span> (us)' in row
    assert "at sea" in row and "raised" in row and "to send or dismiss" in row
    assert f'href="/console/tracks/alerts/{alert["id"]}"' in row
    countdown = re.search(r'<span class="countdown cpa-countdown"[^>]*>([^<]*)</span>', row)
    assert re.fullmatch(r"in 11:4\d", countdown.group(1).strip()), "700 s or so"
    assert f'data-deadline="{format_time(approach(alert).at)}"' in row
    assert 'class="primary send-alert"' in row and 'class="dismiss-alert"' in row
    assert 'name="csrf"' in row and 'name="account"' in row
    # The sites and zones stay.
    assert 'data-site="redzikowo"' in text and 'id="sites"' in text


def test_the_russian_map_is_translated(console, feed, clock):
    converging(console, feed, clock)
    browser = console.browser("officer")
    token = browser.csrf("/console/map")
    browser.post("/console/language", {"csrf": token, "lang": "ru", "next": "/console/map"})
    text = browser.get("/console/map").text
    assert "Сближения" in text and "на море" in text and "Отправить донесение об инциденте" in text
    assert "10.0 м/с (19.4 уз)" in text


def test_without_screening_the_map_says_so(tmp_path):
    node = init_node(tmp_path / "us", party="us", agreement_ref="new-start")
    add_operator(node, "viewer", Role.viewer)
    set_password(node, "viewer", PASSWORD)
    served = ServedNode(node, free_port(), start_sender=False).start()
    browser = Browser(served.url)
    try:
        browser.log_in("viewer")
        page = browser.get("/console/map")
        assert page.status_code == 200
        assert 'id="screening-off"' in page.text and 'data-live="map-tracks"' not in page.text
    finally:
        browser.close()
        served.stop()
        node.close()


# --- sending and dismissing ------------------------------------------------------------------


def test_sending_from_the_map_signs_the_incident_report(console, feed, clock):
    alert = converging(console, feed, clock)
    node = console.served.node
    officer = console.browser("officer")
    token = officer.csrf("/console/map")
    path = f"/console/tracks/alerts/{alert['id']}/send"
    form = {"csrf": token, "back": "map", "account": "Frigate closing; we hold course."}
    response = officer.post(path, form)
    assert response.status_code == 303, response.text
    target = f"/console/map?done=sent&alert={alert['id']}#alerts"
    assert response.headers["location"] == target

    sent = get_alert(node, alert["id"], events=False)["draft"]
    assert (sent["state"], sent["by"]) == ("sent", "officer")
    party, seq = sent["ref"].split(":")
    assert party == "us"
    with node.database.engine.connect() as conn:
        log = LogStore(conn, "us")
        body = json.loads(log.body(int(seq)))
    assert body["account"] == "Frigate closing; we hold course."
    assert body["screening"]["dcpa_m"] == pytest.approx(alert["dcpa_m"])
    assert {u["id"] for u in body["units"]} == {SHIP, FRIGATE}

    page = officer.get(target).text
    notice = re.search(r'<p class="notice" role="status" id="done-notice".*?</p>', page, re.S)
    assert f'href="/console/messages/us/{seq}" id="sent-ref">us:{seq}</a>' in notice.group(0)
    row = _row(_region(page, "map-alerts"), "data-alert", str(alert["id"]))
    assert 'data-draft="sent"' in row and f'href="/console/messages/us/{seq}"' in row
    assert "send-alert" not in row and "by officer" in row

    # Twice (a double click, a second officer): one report, and the page says so.
    again = console.browser("second")
    response = again.post(path, {"csrf": again.csrf("/console/map"), "back": "alert"})
    assert response.status_code == 303
    assert response.headers["location"].startswith(
        f"/console/tracks/alerts/{alert['id']}?done=already"
    )
    assert "was decided already: its draft is sent" in again.get(response.headers["location"]).text
    with node.database.engine.connect() as conn:
        assert LogStore(conn, "us").size() == int(seq) + 1


def test_dismissing_sends_nothing(console, feed, clock):
    alert = converging(console, feed, clock)
    node = console.served.node
    with node.database.engine.connect() as conn:
        before = LogStore(conn, "us").size()
    officer = console.browser("officer")
    token = officer.csrf("/console/map")
    response = officer.post(
        f"/console/tracks/alerts/{alert['id']}/dismiss", {"csrf": token, "back": "map"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/console/map?done=dismissed&alert={alert['id']}#alerts"
    assert get_alert(node, alert["id"], events=False)["draft"]["state"] == "dismissed"
    page = officer.get(response.headers["location"]).text
    assert "dismissed: no incident report is sent for it" in page
    row = _row(_region(page, "map-alerts"), "data-alert", str(alert["id"]))
    assert 'data-draft="dismissed"' in row and "send-alert" not in row
    with node.database.engine.connect() as conn:
        assert LogStore(conn, "us").size() == before
    late = officer.post(f"/console/tracks/alerts/{alert['id']}/send", {"csrf": token})
    assert late.headers["location"].startswith("/console/map?done=already")


def test_a_viewer_sees_no_buttons_and_may_not_send(console, feed, clock):
    alert = converging(console, feed, clock)
    viewer = console.browser("viewer")
    page = viewer.get("/console/map").text
    row = _row(_region(page, "map-alerts"), "data-alert", str(alert["id"]))
    assert "send-alert" not in row and "dismiss-alert" not in row
    assert "an operator sends or dismisses it" in row
    detail = viewer.get(f"/console/tracks/alerts/{alert['id']}").text
    assert "send-alert" not in detail
    token = viewer.csrf("/console/map")
    for action in ("send", "dismiss"):
        refused = viewer.post(f"/console/tracks/alerts/{alert['id']}/{action}", {"csrf": token})
        assert refused.status_code == 403, refused.text
    assert get_alert(console.served.node, alert["id"], events=False)["draft"]["state"] == "open"


def test_a_form_without_its_csrf_token_is_refused(console, feed, clock):
    alert = converging(console, feed, clock)
    officer = console.browser("officer")
    officer.csrf("/console/map")
    for form in ({}, {"csrf": "not-the-token"}):
        for action in ("send", "dismiss"):
            refused = officer.post(f"/console/tracks/alerts/{alert['id']}/{action}", form)
            assert refused.status_code == 403
            assert "security token is missing or stale" in refused.text
    assert get_alert(console.served.node, alert["id"], events=False)["draft"]["state"] == "open"


# --- an alert's page ---------------------------------------------------------------------------


def test_the_alert_page_shows_the_geometry_the_reports_and_the_draft_as_sent(console, feed, clock):
    alert = converging(console, feed, clock)
    officer = console.browser("officer")
    page = officer.get(f"/console/tracks/alerts/{alert['id']}")
    assert page.status_code == 200, page.text
    text = page.text
    assert 'href="/console/map" accesskey="m"' in text
    assert "&amp;tracks=1" in re.search(r'data-live-events="[^"]+"', text).group(0)
    assert re.search(r'id="alert-dcpa">\d m<', text), "0 m or so: head on"
    assert 'id="alert-tcpa">70' in text
    thresholds = re.search(r'id="alert-thresholds">([^<]*)<', text).group(1)
    assert thresholds == "closer than 3704 m within 1200 s"
    assert "19.0110" in re.search(r'id="alert-cpa">([^<]*)<', text).group(1)

    reports = re.search(r'<table class="list" id="reports-table">.*?</table>', text, re.S).group(0)
    for unit in (SHIP, FRIGATE):
        row = _row(reports, "data-unit", unit)
        assert "api:feed" in row and f'datetime="{format_time(clock.now)}"' in row
    events = re.search(r'id="events-table">.*?</table>', text, re.S).group(0)
    assert 'data-event="raised"' in events and SHIP in events and FRIGATE in events

    draft = re.search(r'<section id="draft".*?</section>', text, re.S).group(0)
    assert 'id="draft-to">ru<' in draft
    assert "<code>incident-report</code>" in draft and "<dd>IMMEDIATE</dd>" in draft
    body = json.loads(
        re.search(r'<pre class="body" id="draft-body">(.*?)</pre>', draft, re.S)
        .group(1)
        .replace("&#34;", '"')
        .replace("&quot;", '"')
        .replace("&#39;", "'")
        .replace("&amp;", "&")
    )
    assert body["kind"] == "sea" and body["position"]["lat"] == pytest.approx(55.5, abs=0.01)
    assert body["screening"]["thresholds"]["horizontal_m"] == 3704
    assert body["account"].startswith("Predicted close approach:")
    assert 'name="back" value="alert"' in draft and "send-alert" in draft

    token = officer.csrf(f"/console/tracks/alerts/{alert['id']}")
    response = officer.post(
        f"/console/tracks/alerts/{alert['id']}/send", {"csrf": token, "back": "alert"}
    )
    location = response.headers["location"]
    assert location == f"/console/tracks/alerts/{alert['id']}?done=sent&alert={alert['id']}#draft"
    after = officer.get(location).text
    assert 'id="sent-ref"' in after and "send-alert" not in after

    missing = officer.get("/console/tracks/alerts/999")
    assert missing.status_code == 404 and "no such alert" in missing.text


# --- live ---------------------------------------------------------------------------------------


def _version(browser, path: str) -> str:
    return re.search(r'data-version="([^"]*)"', browser.get(path).text).group(1)


def test_a_report_changes_the_map_s_version_and_not_the_other_pages(console, feed, clock):
    officer = console.browser("officer")
    map_before, inbox_before = (
        _version(officer, "/console/map"),
        _version(officer, "/console/inbox"),
    )
    post(console.served.url, feed, report(clock, SHIP, "us", 55.5, 18.9, 90, 10))
    assert _version(officer, "/console/map") != map_before
    assert _version(officer, "/console/inbox") == inbox_before, "a feed must not refresh every page"
    alert = converging(console, feed, clock)
    map_before = _version(officer, "/console/map")
    token = officer.csrf("/console/map")
    officer.post(f"/console/tracks/alerts/{alert['id']}/dismiss", {"csrf": token})
    assert _version(officer, "/console/map") != map_before, "a dismissal is seen live"


def test_the_map_s_event_stream_tells_of_a_report(console, feed, clock):
    officer = console.browser("officer")
    since = _version(officer, "/console/map")
    post(console.served.url, feed, report(clock, SHIP, "us", 55.5, 18.9, 90, 10))

    def first_event(query: str) -> str:
        headers = officer._headers(None)
        with officer.client.stream("GET", f"/console/events?{query}", headers=headers) as stream:
            for line in stream.iter_lines():
                if line.startswith("id: "):
                    return line[4:]
        raise AssertionError("no event")

    assert first_event(f"since={since}&tracks=1") != since


# --- the incident page ---------------------------------------------------------------------------


def test_the_incident_page_recomputes_the_screening_on_both_sides(line, clock):
    us = line.network.served["us"]
    post(
        us.url,
        line.network.tokens["us"],
        report(clock, SHIP, "us", 55.5, 18.9, 90, 10),
        report(clock, FRIGATE, "ru", 55.5, 19.122, 270, 10),
    )
    [alert] = list_alerts(line.node("us"), state="raised")
    officer = line.browser("us", "officer")
    token = officer.csrf("/console/map")
    officer.post(f"/console/tracks/alerts/{alert['id']}/send", {"csrf": token})
    ref = get_alert(line.node("us"), alert["id"], events=False)["draft"]["ref"]
    path = "/console/hotline/incidents/" + ref.replace(":", "/")
    line.deliver("us")
    for browser in (officer, line.browser("ru", "officer")):
        page = browser.get(path)
        assert page.status_code == 200, page.text
        check = re.search(r'<div class="check good" id="screening-check".*?</div>', page.text, re.S)
        assert check, "the recomputation agrees"
        said = check.group(0)
        assert "Screening recomputed here: closest approach in 70" in said
        assert 'id="screening-verdict">agrees with the report<' in said
        assert "within the thresholds it carries" in said


def test_a_screening_that_does_not_add_up_differs_or_cannot_be_recomputed(console, feed, clock):
    alert = converging(console, feed, clock)
    from detente.node.tracks import draft_incident

    body = draft_incident(console.served.node, alert)["body"]
    agrees, problem = screening_check(body)
    assert agrees.agrees and agrees.alert and problem == ""
    body["screening"]["dcpa_m"] = 2500.0
    differs, _ = screening_check(body)
    assert not differs.agrees and differs.alert
    body["screening"]["tracks"] = body["screening"]["tracks"][:1]
    assert screening_check(body) == (None, "screening.tracks: two tracks are needed")
    assert screening_check({"account": "no screening"}) == (None, "")


# --- the layer itself (pure) ----------------------------------------------------------------------


def test_the_module_example_runs():
    assert doctest.testmod(trackmap).failed == 0


def _unit_json(unit, party, lat, lon, course, speed, kind="ship"):
    return {
        "id": unit,
        "party": party,
        "time": "2026-03-01T12:00:00.000Z",
        "lat": lat,
        "lon": lon,
        "course_deg": course,
        "speed_mps": speed,
        "kind": kind,
        "now": {"lat": lat, "lon": lon},
    }


def test_lines_across_the_antimeridian_are_drawn_on_both_edges(clock):
    # A ship just west of 180° heading east at 30 knots: its vector crosses.
    ship = _unit_json("ship-1", "us", 65.0, 179.99, 90, 15.4)
    svg = str(render_tracks([ship], [], scale=1.0, now=clock.now))
    [vector] = re.findall(r'<path class="vector vector-us" d="([^"]+)"', svg)
    starts = re.findall(r"M([-\d.]+) ", vector)
    assert len(starts) == 2, "the vector and its copy a world-width away"
    xs = sorted(float(x) for x in starts)
    assert xs[0] < 0.1 and xs[1] == pytest.approx(3599.9, abs=0.1)
    ends = [float(x) for x in re.findall(r"L([-\d.]+) ", vector)]
    assert max(ends) > 3600 and min(ends) > 0, "each copy reaches just past its edge"


def test_the_layer_escapes_report_text_and_is_styled_by_class_only(clock):
    # Unit ids are checked as reports come in; party names come from the agreement.
    unit = _unit_json("ship-1", "us", 55.0, 19.0, 0, 5)
    svg = str(render_tracks([unit], [], scale=1.0, now=clock.now, parties={"us": '"><b>US'}))
    assert "<b>" not in svg and "&#34;&gt;&lt;b&gt;US" in svg
    assert " style=" not in svg and "<style" not in svg and "<script" not in svg
    for css_class in {c for v in re.findall(r'class="([^"]+)"', svg) for c in v.split()} - {
        "tracks",
        "lines",
        "units",
        "glyph",
        "unit-us",
        "vector-us",
        "kind-ship",
    }:
        assert f".{css_class}" in CSS, css_class
    for css_class in ("unit-us", "unit-nato", "unit-ru", "vector-us", "kind-other", "cpa"):
        assert f".{css_class}" in CSS


@pytest.mark.parametrize("ground", ["sea", "land"])
def test_the_alerts_stand_out_on_sea_and_land(ground):
    assert contrast(colour("alert"), colour(ground)) >= 3.0


def test_an_alert_joins_its_units_where_its_reports_put_them_when_they_are_not_drawn(clock):
    a = _unit_json("a", "us", 55.0, 19.0, 90, 10)
    b = _unit_json("b", "ru", 55.0, 19.2, 270, 10)
    alert = {
        "id": 4,
        "a": "a",
        "b": "b",
        "state": "raised",
        "domain": "sea",
        "updated_at": "2026-03-01T12:00:00Z",
        "tcpa_s": 640.0,
        "dcpa_m": 0.0,
        "tracks": [{k: v for k, v in t.items() if k != "now"} for t in (a, b)],
    }
    svg = str(render_tracks([], [alert], scale=1.0, now=clock.now + timedelta(seconds=100)))
    line = re.search(r'class="alert-line" d="M([\d.]+) ([\d.]+)L([\d.]+) ([\d.]+)"', svg)
    # 100 s on, each 1 km nearer the other: 0.0157° of longitude at 55°N.
    assert float(line.group(1)) == pytest.approx(project(19.0157, 55.0)[0], abs=0.01)
    assert float(line.group(3)) == pytest.approx(project(19.1843, 55.0)[0], abs=0.01)
    cpa = re.search(r'<g class="cpa" transform="translate\(([\d.]+) ([\d.]+)\)"', svg)
    assert (float(cpa.group(1)), float(cpa.group(2))) == pytest.approx(
        project(19.1, 55.0), abs=0.02
    )
    assert 'data-live-every="0"' in svg and "vector" not in svg
