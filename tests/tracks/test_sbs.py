"""SBS-1 lines: a position joined with the velocity before it, and what is refused."""

import doctest
from datetime import UTC, datetime, timedelta

import pytest

import detente.tracks.sbs as sbs
from detente.tracks.quarantine import Rejection
from detente.tracks.registry import Registry
from detente.tracks.report import TrackReport
from detente.tracks.sbs import FOOT_M, SbsTracker

RECEIVED = datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC)
REGISTRY = Registry.from_toml(
    """
[[unit]]
icao = "3C6444"
party = "de"
name = "GAF 10+21"

[[icao_block]]
first = "140000"
last = "15FFFF"
party = "ru"
"""
)


def msg(
    kind,
    icao="3C6444",
    *,
    date="2026/03/01",
    time="12:00:00.000",
    callsign="",
    alt="",
    speed="",
    track="",
    lat="",
    lon="",
):
    fields = [
        "MSG",
        str(kind),
        "1",
        "1",
        icao,
        "1",
        date,
        time,
        date,
        time,
        callsign,
        alt,
        speed,
        track,
        lat,
        lon,
        "",
        "",
        "",
        "",
        "",
        "0",
    ]
    assert len(fields) == 22
    return ",".join(fields)


def velocity(**kw):
    return msg(4, speed="450", track="87.5", **kw)


def position(**kw):
    kw.setdefault("time", "12:00:01.500")
    return msg(3, alt="35000", lat="55.1", lon="19.9", **kw)


def feed(tracker, *lines, at=RECEIVED):
    out = []
    for n, line in enumerate(lines, start=1):
        out.extend(tracker.feed(line, source="adsb-north", line_no=n, received=at))
    return out


def refused(line, tracker=None):
    [got] = feed(tracker or SbsTracker(REGISTRY), line)
    assert isinstance(got, Rejection), got
    return got


def test_docstring_examples_run():
    assert doctest.testmod(sbs).failed == 0


def test_a_position_after_a_velocity_is_a_report():
    [report] = feed(SbsTracker(REGISTRY), velocity(), position())
    assert report == TrackReport(
        id="3C6444",
        party="de",
        time=datetime(2026, 3, 1, 12, 0, 1, 500_000, tzinfo=UTC),
        lat=55.1,
        lon=19.9,
        course_deg=87.5,
        speed_mps=450 * 1852 / 3600,
        alt_m=35000 * 0.3048,
        kind="aircraft",
        received=RECEIVED,
        source="adsb-north",
        name="GAF 10+21",
    )
    assert FOOT_M == 0.3048


def test_every_position_after_one_velocity_reports_while_it_is_fresh():
    t = SbsTracker(REGISTRY, velocity_timeout_s=10)
    out = feed(
        t,
        velocity(),
        position(time="12:00:05.000"),
        position(time="12:00:10.000"),
        position(time="12:00:10.001"),
    )
    assert [r.time.second for r in out] == [5, 10]


def test_a_position_without_a_velocity_is_held_back_not_refused():
    t = SbsTracker(REGISTRY)
    assert feed(t, position()) == []
    assert feed(t, velocity(icao="140001"), position()) == []  # another aircraft's velocity


def test_a_velocity_received_long_ago_is_forgotten():
    t = SbsTracker(REGISTRY, velocity_timeout_s=10)
    feed(t, velocity())
    assert t.expire(RECEIVED + timedelta(seconds=10)) == []
    assert len(feed(t, position())) == 1
    t.expire(RECEIVED + timedelta(seconds=11))
    assert feed(t, position()) == []


def test_empty_generated_time_falls_back_to_the_receive_time():
    [report] = feed(SbsTracker(REGISTRY), velocity(date="", time=""), position(date="", time=""))
    assert report.time == RECEIVED


def test_icao_blocks_lowercase_addresses_and_unknown_units():
    t = SbsTracker(REGISTRY)
    [report] = feed(t, velocity(icao="14abcd"), position(icao="14abcd"))
    assert (report.id, report.party) == ("14ABCD", "ru")
    assert feed(t, velocity(icao="A00001")) == []
    got = refused(position(icao="A00001"), t)
    assert (got.reason, got.detail) == (
        "unknown_unit",
        "ICAO address A00001 is not in the registry",
    )


def test_a_track_of_360_is_north():
    t = SbsTracker(REGISTRY)
    [report] = feed(t, msg(4, speed="100", track="360"), position())
    assert report.course_deg == 0.0


def test_a_position_without_altitude_has_none():
    t = SbsTracker(REGISTRY)
    [report] = feed(t, velocity(), msg(3, lat="55", lon="19"))
    assert report.alt_m is None


def test_callsigns_are_kept_and_other_messages_make_nothing():
    t = SbsTracker(REGISTRY)
    assert (
        feed(
            t,
            msg(1, callsign="GAF021  "),
            msg(5, alt="3000"),
            msg(8),
            "SEL,,,,,,,,,,",
            msg(2, lat="55", lon="19", speed="10", track="20"),
            "",
            "  ",
        )
        == []
    )
    assert t.callsign("3c6444") == "GAF021"
    assert t.callsign("140000") is None


def test_state_is_bounded():
    t = SbsTracker(REGISTRY, max_aircraft=2)
    feed(t, velocity(icao="140001"), velocity(icao="140002"), velocity(icao="140003"))
    assert feed(t, position(icao="140001")) == []
    assert len(feed(t, position(icao="140003"))) == 1


@pytest.mark.parametrize("icao", ["3C644", "3C64445", "ZZZZZZ", "~3C644", "000000", ""])
def test_an_address_that_is_not_six_hex_digits(icao):
    got = refused(position(icao=icao))
    assert got.reason == "bad_id"
    assert got.line == 1 and got.source == "adsb-north"


@pytest.mark.parametrize(
    "line",
    [
        "MSG,3,1,1,3C6444",
        position() + ",extra",
        "FOO," + position()[4:],
        msg(9),
        msg("x"),
        b"MSG,3,\xff",
    ],
)
def test_lines_that_are_not_sbs(line):
    assert refused(line).reason == "bad_line"


@pytest.mark.parametrize(
    ("date", "time"),
    [
        ("2026-03-01", "12:00:00.000"),
        ("2026/03/01", ""),
        ("2026/02/30", "12:00:00"),
        ("2026/03/01", "25:00:00"),
        ("2026/03/01", "12:00:00.1234567"),
    ],
)
def test_a_generated_time_that_is_not_one(date, time):
    assert refused(position(date=date, time=time)).reason == "bad_time"


def test_fields_that_are_missing_bad_or_out_of_range():
    t = SbsTracker(REGISTRY)
    feed(t, velocity())
    cases = [
        (msg(3, alt="35000", lat="", lon="19"), "missing_field", "lat (field 15) is empty"),
        (msg(4, speed="450"), "missing_field", "track (field 14) is empty"),
        (msg(3, alt="high", lat="55", lon="19"), "bad_field", "altitude 'high' is not a number"),
        (msg(3, lat="nan", lon="19"), "bad_field", "lat 'nan' is not a finite number"),
        (msg(3, lat="95", lon="19"), "out_of_range", "lat 95 is not within [-90, 90]"),
        (
            msg(3, alt="200000", lat="55", lon="19"),
            "out_of_range",
            "alt_m 60960 is not within [-1000, 50000]",
        ),
        (
            msg(4, speed="5000", track="10"),
            "out_of_range",
            "speed_mps 2572.22 is not within [0, 1500]",
        ),
        (msg(4, speed="100", track="361"), "out_of_range", "course_deg 361 is not within [0, 360]"),
    ]
    for line, reason, detail in cases:
        got = refused(line, t)
        assert (got.reason, got.detail) == (reason, detail)
    assert len(feed(t, position())) == 1  # the velocity held was not replaced by a bad one
