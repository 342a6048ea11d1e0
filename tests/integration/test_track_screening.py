"""Close-approach screening on real nodes: reports in over HTTP, alerts, drafts, the line.

Three nodes (us, nato, ru) served on loopback with an injected clock. A US
destroyer and a Russian frigate on converging courses in the Baltic raise
an alert on the US node; its draft incident report goes to Russia with the
screening that raised it, and Russia's node recomputes the call from the
message alone. Hysteresis, staleness, restarts and bad reports besides.
"""

import json
from datetime import timedelta

import pytest

from detente.node.tracks import TrackService, list_alerts
from detente.record.envelope import format_time
from tests.fakes.network import make_network


@pytest.fixture
def network(tmp_path, clock, database_url):
    yield from make_network(tmp_path, clock, database_url)


def _auth(network, party):
    return {"Authorization": f"Bearer {network.tokens[party]}"}


def report(clock, unit, party, lat, lon, course, speed, *, alt=None, ago=0.0):
    body = {
        "id": unit,
        "party": party,
        "time": format_time(clock.now - timedelta(seconds=ago)),
        "lat": lat,
        "lon": lon,
        "course_deg": course,
        "speed_mps": speed,
    }
    if alt is not None:
        body["alt_m"] = alt
    return json.dumps(body)


def post(network, party, *lines):
    response = network.clients[party].post(
        "/v1/tracks/reports",
        content="\n".join(lines).encode(),
        headers={**_auth(network, party), "Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def deliver(network, *parties):
    for party in parties or tuple(network.senders):
        network.senders[party].run_lane()
        network.senders[party].run_once()


def converging(network, clock):
    # 14 km apart on one parallel, closing at 20 m/s: nearest (0 m) in 700 s.
    return post(
        network,
        "us",
        report(clock, "366999001", "us", 55.5, 18.9, 90, 10),
        report(clock, "273999002", "ru", 55.5, 19.122, 270, 10),
    )


def test_an_approach_raises_an_alert_whose_draft_goes_to_russia_and_recomputes(network, clock):
    answer = converging(network, clock)
    assert answer["accepted"] == 2 and answer["rejected"] == []
    [raised] = answer["events"]
    assert raised["kind"] == "raised"
    assert (raised["a"], raised["b"]) == ("273999002", "366999001")
    assert raised["tcpa_s"] == pytest.approx(700, abs=5)
    assert raised["dcpa_m"] < 10

    picture = network.clients["us"].get("/v1/tracks", headers=_auth(network, "us")).json()
    assert [u["id"] for u in picture["units"]] == ["273999002", "366999001"]
    [alert] = picture["alerts"]
    assert alert["state"] == "raised" and alert["domain"] == "sea"
    assert alert["parties"] == ["ru", "us"]
    assert {t["id"] for t in alert["tracks"]} == {"273999002", "366999001"}

    one = (
        network.clients["us"]
        .get(f"/v1/tracks/alerts/{alert['id']}", headers=_auth(network, "us"))
        .json()
    )
    assert [e["kind"] for e in one["events"]] == ["raised"]
    assert len(one["events"][0]["tracks"]) == 2
    incident = one["incident"]
    assert incident["to"] == ["ru"]
    assert incident["body"]["kind"] == "sea"
    assert incident["body"]["position"]["lat"] == pytest.approx(55.5, abs=0.01)
    assert incident["body"]["screening"]["thresholds"]["horizontal_m"] == 3704

    sent = network.clients["us"].post(
        f"/v1/tracks/alerts/{alert['id']}/send", json={}, headers=_auth(network, "us")
    )
    assert sent.status_code == 201, sent.text
    ref = f"us:{sent.json()['message']['seq']}"
    assert sent.json()["alert"]["draft"] == {
        "state": "sent",
        "ref": ref,
        "by": "officer",
        "at": format_time(clock.now),
    }
    again = network.clients["us"].post(
        f"/v1/tracks/alerts/{alert['id']}/send", json={}, headers=_auth(network, "us")
    )
    assert again.status_code == 409

    deliver(network, "us")
    line = network.clients["ru"].get("/v1/hotline", headers=_auth(network, "ru")).json()
    assert [i["ref"] for i in line["incidents"]] == [ref]
    party, seq = ref.split(":")
    check = network.clients["ru"].get(
        f"/v1/tracks/recompute/{party}/{seq}", headers=_auth(network, "ru")
    )
    assert check.status_code == 200, check.text
    recomputed = check.json()["recomputed"]
    assert recomputed["alert"] is True and recomputed["agrees"] is True
    assert recomputed["tcpa_s"] == pytest.approx(raised["tcpa_s"], abs=1)


def test_a_pair_hovering_at_the_threshold_raises_once_and_clears_past_the_margin(network, clock):
    # Parallel, same course and speed: the distance stays what it is now.
    def at(distance_m):
        return post(
            network,
            "us",
            report(clock, "366999001", "us", 55.5, 18.9, 0, 8),
            report(clock, "273999002", "ru", 55.5, 18.9 + distance_m / 63_170, 0, 8),
        )["events"]

    assert [e["kind"] for e in at(3600)] == ["raised"]
    clock.advance(seconds=5)
    assert at(3750) == []  # beyond 3,704 m but within the 10 % margin
    clock.advance(seconds=5)
    assert at(3650) == []  # back under: still the same alert
    clock.advance(seconds=5)
    assert [e["kind"] for e in at(4200)] == ["cleared"]
    alerts = list_alerts(network.nodes["us"])
    assert [(a["state"], a["clear_reason"]) for a in alerts] == [("cleared", "clear")]


def test_same_party_units_are_never_screened_and_bad_reports_are_refused_by_line(network, clock):
    answer = post(
        network,
        "us",
        report(clock, "366999001", "us", 55.5, 18.9, 90, 10),
        report(clock, "366999003", "us", 55.5, 18.9001, 270, 10),
        '{"id": "x", "party": "ru"}',
        report(clock, "273999004", "ru", 91, 18.9, 90, 10),
        report(clock, "273999005", "ru", 55.5, 18.9, 90, 10, ago=-3600),
        report(clock, "273999006", "ru", 55.5, 18.9, 90, 10, ago=3600),
        "not json",
    )
    assert answer["accepted"] == 2 and answer["events"] == []
    assert [(r["line"], r["reason"]) for r in answer["rejected"]] == [
        (3, "missing_field"),
        (4, "out_of_range"),
        (5, "future_time"),
        (6, "stale"),
        (7, "bad_json"),
    ]
    quarantine = (
        network.clients["us"].get("/v1/tracks/quarantine", headers=_auth(network, "us")).json()
    )
    assert quarantine["total"] == 5
    assert quarantine["by_reason"]["stale"] == 1


def test_a_unit_gone_stale_clears_its_alerts_and_a_restart_clears_what_was_raised(network, clock):
    converging(network, clock)
    service = network.served["us"].app.state.tracks
    clock.advance(seconds=service.config.max_age_seconds + 1)
    events = service.tick()
    assert [(e.kind.value, e.reason) for e in events] == [("cleared", "stale")]
    assert service.units() == []

    converging(network, clock)
    assert [a["state"] for a in list_alerts(network.nodes["us"])] == ["raised", "cleared"]
    TrackService(network.nodes["us"])  # as a restarted node does
    newest = list_alerts(network.nodes["us"])[0]
    assert (newest["state"], newest["clear_reason"]) == ("cleared", "restart")


def test_an_aircraft_over_a_ship_is_judged_by_the_air_thresholds(network, clock):
    # A Russian aircraft 20 km west of a US ship, flying at it at 200 m/s at 150 m.
    answer = post(
        network,
        "us",
        report(clock, "366999001", "us", 55.5, 19.0, 0, 0),
        report(clock, "ru-aircraft-1", "ru", 55.5, 18.684, 90, 200, alt=150),
    )
    [raised] = answer["events"]
    assert raised["tcpa_s"] == pytest.approx(100, abs=2)
    [alert] = list_alerts(network.nodes["us"])
    assert alert["domain"] == "air"
    assert alert["thresholds"] == {"horizontal_m": 9260, "vertical_m": 304.8, "horizon_s": 300}


def test_dismissed_drafts_stay_dismissed(network, clock):
    converging(network, clock)
    [alert] = list_alerts(network.nodes["us"])
    url = f"/v1/tracks/alerts/{alert['id']}"
    gone = network.clients["us"].post(f"{url}/dismiss", headers=_auth(network, "us"))
    assert gone.status_code == 200, gone.text
    assert gone.json()["draft"]["state"] == "dismissed"
    late = network.clients["us"].post(f"{url}/send", json={}, headers=_auth(network, "us"))
    assert late.status_code == 409
    assert "dismissed" in late.json()["detail"]
    missing = network.clients["us"].get("/v1/tracks/alerts/999", headers=_auth(network, "us"))
    assert missing.status_code == 404
