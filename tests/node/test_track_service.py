"""The node's screening service on its own: late reports, clears, refusals, feeds that fail.

Found in review: a late report screened from its own time disagreed with
every sweep (alerts flapped); a draft sent after its alert cleared carried
the clear's instant; a peer's incident report could buy unbounded work; a
huge number stopped a screen; a feed of refused reports never fell silent;
a feed that could not start left the others running.
"""

import json
import socket
from datetime import UTC, datetime, timedelta

import pytest

from detente.errors import BodyError, ConfigError
from detente.node.feeds import FeedConfig, TracksConfig
from detente.node.operators import Role, add_operator, list_operators
from detente.node.tracks import (
    TrackService,
    draft_incident,
    get_alert,
    list_alerts,
    send_alert,
)
from detente.record.envelope import format_time
from detente.tracks.recompute import recompute
from detente.tracks.report import ReportError, TrackReport, parse_json_report


def report(clock, unit, party, lon, course, *, ago=0.0, lat=55.5, speed=10.0):
    return parse_json_report(
        json.dumps(
            {
                "id": unit,
                "party": party,
                "time": format_time(clock.now - timedelta(seconds=ago)),
                "lat": lat,
                "lon": lon,
                "course_deg": course,
                "speed_mps": speed,
            }
        )
    )


def test_late_reports_are_screened_from_now_and_do_not_flap(node, clock):
    service = TrackService(node, config=TracksConfig(sweep_seconds=10))
    # Closing at 20 m/s from 14 km; every report arrives 200 s after it was made.
    kinds = []
    for step in range(60):
        moved = step * 10 * 10 / 63_170
        for event in (
            service.submit(report(clock, "us-1", "us", 18.9 + moved - 0.0317, 90, ago=200))
            + service.submit(report(clock, "ru-1", "ru", 19.122 - moved + 0.0317, 270, ago=200))
            + service.tick()
        ):
            kinds.append(event.kind.value)
        clock.advance(seconds=10)
    assert kinds.count("raised") == 1
    assert len(list_alerts(node)) == 1


def test_a_draft_sent_after_its_alert_cleared_carries_the_call_that_raised_it(node, clock):
    add_operator(node, "officer", Role.operator)
    officer = next(o for o in list_operators(node) if o.name == "officer")
    service = TrackService(node, config=TracksConfig())
    service.submit(report(clock, "us-1", "us", 18.9, 90))
    service.submit(report(clock, "ru-1", "ru", 19.122, 270))
    [alert] = list_alerts(node)
    raised_at = alert["updated_at"]
    clock.advance(seconds=300)
    service.submit(report(clock, "ru-1", "ru", 19.6, 0))  # far off now, heading away
    [cleared] = list_alerts(node)
    assert cleared["state"] == "cleared" and cleared["updated_at"] == raised_at
    sent, _ = send_alert(node, alert["id"], by=officer)
    assert sent["draft"]["state"] == "sent"
    body = get_alert(node, alert["id"])
    assert body["updated_at"] == raised_at
    screening = draft_incident(node, body)["body"]["screening"]
    assert screening["at"] == raised_at and recompute(screening).agrees


def test_a_peers_screening_cannot_buy_unbounded_work():
    track = {
        "id": "a",
        "party": "us",
        "time": "2026-03-01T12:00:00Z",
        "lat": 55.0,
        "lon": 19.0,
        "course_deg": 90,
        "speed_mps": 1500,
    }
    other = dict(track, id="b", lon=19.5)
    screening = {
        "at": "2026-03-01T12:00:00Z",
        "tcpa_s": 0,
        "dcpa_m": 0,
        "thresholds": {"horizontal_m": 1000, "horizon_s": 1e5},
        "tracks": [track, other],
    }
    with pytest.raises(BodyError, match="horizon_s"):
        recompute(screening)
    screening["thresholds"]["horizon_s"] = 600
    screening["tracks"] = [dict(track, time="2025-03-01T12:00:00Z"), other]
    with pytest.raises(BodyError, match=r"tracks\[0\]\.time is more than"):
        recompute(screening)
    screening["at"] = "yesterday"
    with pytest.raises(BodyError, match="screening.at"):
        recompute(screening)


def test_numbers_too_large_or_too_deep_are_bad_lines_not_crashes():
    line = (
        '{"id": "a", "party": "us", "time": "2026-03-01T12:00:00Z", "lat": 1'
        + "0" * 400
        + ', "lon": 0, "course_deg": 0, "speed_mps": 0}'
    )
    with pytest.raises(ReportError) as caught:
        parse_json_report(line)
    assert caught.value.reason == "bad_field"
    with pytest.raises(ReportError) as caught:
        parse_json_report("[" * 2000)
    assert caught.value.reason == "bad_json"


def test_a_feed_of_refused_reports_is_silent(node, clock):
    service = TrackService(node, config=TracksConfig())
    stale = report(clock, "us-1", "us", 18.9, 90, ago=3600)
    assert service._from_feed(stale) is False
    assert service._from_feed(report(clock, "us-2", "us", 18.9, 90)) is True
    assert service.quarantine.counts == {"stale": 1}


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_feed_that_cannot_start_closes_the_ones_opened(node):
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    first = free_udp_port()
    config = TracksConfig(
        feeds=(
            FeedConfig("first", "jsonl", f"udp://127.0.0.1:{first}"),
            FeedConfig("second", "jsonl", f"udp://127.0.0.1:{port}"),
        )
    )
    service = TrackService(node, config=config)
    try:
        with pytest.raises(ConfigError, match="feed second: cannot listen"):
            service.start()
        assert service.feeds == []
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as again:
            again.bind(("127.0.0.1", first))  # the first feed's port was let go
    finally:
        taken.close()


def test_a_report_carries_its_units_name():
    r = TrackReport(
        id="a",
        party="us",
        time=datetime(2026, 3, 1, tzinfo=UTC),
        lat=0,
        lon=0,
        course_deg=0,
        speed_mps=0,
        name="Ship",
    )
    assert r.to_json()["name"] == "Ship"
