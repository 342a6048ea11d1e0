"""Feeds into a node's screening: real sockets and files, the quarantine, silence alarms.

A node (security-replies-2022) with a TrackService reading an AIS feed over
UDP, a JSON-lines file and an SBS-1 feed over TCP, configured as
``tracks.toml`` would; the clock is the test's.
"""

import json
import socket
import socketserver
import threading
import time

import pyais
import pytest

from detente.node import init_node
from detente.node.alarms import list_alarms
from detente.node.feeds import FeedConfig, TracksConfig, load_tracks_config
from detente.node.tracks import TrackService, list_alerts
from detente.record.envelope import format_time
from detente.tracks.report import parse_json_report

REGISTRY = """
[[unit]]
mmsi = "369970120"
party = "us"
name = "USS Donald Cook"

[[mid]]
mid = "273"
party = "ru"

[[icao_block]]
first = "140000"
last = "15FFFF"
party = "ru"
"""


@pytest.fixture
def node(tmp_path, clock, database_url):
    node = init_node(
        tmp_path / "us",
        party="us",
        agreement_ref="security-replies-2022",
        database_url="" if database_url.startswith("sqlite") else database_url,
        clock=clock,
    )
    (tmp_path / "us" / "units.toml").write_text(REGISTRY, encoding="utf-8")
    yield node
    node.close()


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ais(mmsi, lat, lon, course, knots):
    return pyais.encode_dict(
        {
            "msg_type": 1,
            "mmsi": mmsi,
            "lat": lat,
            "lon": lon,
            "speed": knots,
            "course": course,
            "heading": int(course),
            "accuracy": 1,
            "second": 60,
        },
        talker_id="AI",
    )


def test_ais_over_udp_raises_an_alert_and_quarantines_what_is_garbled(node, clock):
    port = free_udp_port()
    config = TracksConfig(
        registry="units.toml",
        feeds=(FeedConfig("ais-baltic", "ais", f"udp://127.0.0.1:{port}", 60.0),),
    )
    service = TrackService(node, config=config)
    service.start(interval=0.05)
    try:
        lines = ais(369970120, 55.3, 19.0, 90, 17.5) + ais(273350110, 55.3, 19.2, 270, 17.5)
        garbled = lines[0][:-1] + ("0" if lines[0][-1] != "0" else "1")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for line in [*lines, garbled, "!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0*2B"]:
                s.sendto((line + "\r\n").encode(), ("127.0.0.1", port))
        assert wait_for(lambda: list_alerts(node, state="raised"))
        [alert] = list_alerts(node, state="raised")
        assert alert["parties"] == ["ru", "us"]
        assert {t["id"]: t.get("name") for t in alert["tracks"]} == {
            "273350110": None,
            "369970120": "USS Donald Cook",
        }
        assert all(t["source"] == "ais-baltic" for t in alert["tracks"])
        assert wait_for(lambda: service.quarantine.total >= 2)
        assert service.quarantine.counts["bad_checksum"] >= 1
        [status] = service.feed_status()
        assert status["reports"] == 2 and status["quarantined"] >= 2
    finally:
        service.stop()


def test_a_feed_gone_silent_raises_an_alarm_once(node, clock):
    port = free_udp_port()
    config = TracksConfig(feeds=(FeedConfig("ais-quiet", "ais", f"udp://127.0.0.1:{port}", 30.0),))
    service = TrackService(node, config=config)
    service.start(interval=3600)  # ticks by hand below
    try:
        service.tick()
        assert [a for a in list_alarms(node) if a.kind == "feed_silent"] == []
        clock.advance(seconds=31)
        service.tick()
        service.tick()
        [alarm] = [a for a in list_alarms(node) if a.kind == "feed_silent"]
        assert "feed ais-quiet" in alarm.detail and f"udp://127.0.0.1:{port}" in alarm.detail
    finally:
        service.stop()


def test_a_jsonl_file_and_sbs_over_tcp_feed_the_same_picture(node, clock, tmp_path):
    lines = [
        json.dumps(
            {
                "id": "366999001",
                "party": "us",
                "time": format_time(clock.now),
                "lat": 55.5,
                "lon": 18.9,
                "course_deg": 90,
                "speed_mps": 10,
            }
        ),
        "garbage",
    ]
    (tmp_path / "us" / "tracks.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    at = clock.now
    sbs = [
        f"MSG,4,1,1,150001,1,{at:%Y/%m/%d},{at:%H:%M:%S}.000,{at:%Y/%m/%d},{at:%H:%M:%S}.000,"
        ",,420,270,,,0,,,,,0",
        f"MSG,3,1,1,150001,1,{at:%Y/%m/%d},{at:%H:%M:%S}.000,{at:%Y/%m/%d},{at:%H:%M:%S}.000,"
        ",1000,,,55.5,19.1,,,0,0,0,0",
    ]

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.sendall(("\r\n".join(sbs) + "\r\n").encode())
            time.sleep(0.5)

    server = socketserver.TCPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    (tmp_path / "us" / "tracks.toml").write_text(
        'registry = "units.toml"\n'
        '[[feeds]]\nname = "track-file"\nformat = "jsonl"\nsource = "file:tracks.jsonl"\n'
        '[[feeds]]\nname = "adsb"\nformat = "sbs"\n'
        f'source = "tcp://127.0.0.1:{server.server_address[1]}"\n',
        encoding="utf-8",
    )
    service = TrackService(node, config=load_tracks_config(tmp_path / "us"))
    service.start(interval=0.05)
    try:
        assert wait_for(lambda: len(service.units()) == 2)
        units = {u["id"]: u for u in service.units()}
        assert units["150001"]["kind"] == "aircraft" and units["150001"]["party"] == "ru"
        assert units["150001"]["alt_m"] == pytest.approx(304.8)
        assert wait_for(lambda: list_alerts(node, state="raised"))
        [alert] = list_alerts(node, state="raised")
        assert alert["domain"] == "air"
        assert service.quarantine.counts.get("bad_json") == 1
    finally:
        service.stop()
        server.shutdown()
        server.server_close()


def test_tracks_toml_errors_name_the_feed_and_key(tmp_path):
    from detente.errors import ConfigError

    (tmp_path / "tracks.toml").write_text(
        '[[feeds]]\nname = "ais"\nformat = "nmea"\nsource = "udp://127.0.0.1:1"\n'
    )
    with pytest.raises(ConfigError, match=r"feeds\[0\] \(ais\): format 'nmea'"):
        load_tracks_config(tmp_path)
    (tmp_path / "tracks.toml").write_text(
        '[[feeds]]\nname = "ais"\nformat = "ais"\nsource = "http://x"\n'
    )
    with pytest.raises(ConfigError, match="source 'http://x'"):
        load_tracks_config(tmp_path)
    (tmp_path / "tracks.toml").write_text("max_age_seconds = -1\n")
    with pytest.raises(ConfigError, match="max_age_seconds"):
        load_tracks_config(tmp_path)
    (tmp_path / "tracks.toml").write_text('registry = "missing.toml"\n')
    assert load_tracks_config(tmp_path).registry == "missing.toml"


def test_a_report_for_a_unit_already_newer_is_ignored(node, clock):
    service = TrackService(node, config=TracksConfig())
    before = clock.now
    clock.advance(seconds=10)
    newer = {
        "id": "366999001",
        "party": "us",
        "time": format_time(clock.now),
        "lat": 55.5,
        "lon": 18.9,
        "course_deg": 90,
        "speed_mps": 10,
    }
    service.submit(parse_json_report(json.dumps(newer)))
    older = dict(newer, lat=10.0, time=format_time(before))
    service.submit(parse_json_report(json.dumps(older)))
    [unit] = service.units()
    assert unit["lat"] == 55.5
