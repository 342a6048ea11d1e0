"""AIS sentences built by pyais's encoder, then taken apart by the assembler."""

import doctest
from datetime import UTC, datetime, timedelta

import pytest
from pyais import encode_dict
from pyais.util import compute_checksum

import detente.tracks.ais as ais
from detente.tracks.ais import KNOT_MPS, AisAssembler, StaticData
from detente.tracks.quarantine import Rejection
from detente.tracks.registry import Registry
from detente.tracks.report import TrackReport

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
REGISTRY = Registry.from_toml(
    """
[[unit]]
mmsi = "273456789"
party = "ru"
name = "Neustrashimy"

[[unit]]
mmsi = "366999001"
party = "us"
kind = "warship"

[[mid]]
mid = "273"
party = "ru"
"""
)


def nmea(seq_id=None, channel="A", **fields):
    """Valid sentences (right checksums) for one message."""
    return encode_dict(
        fields, talker_id="AI", sentence_type="VDM", radio_channel=channel, seq_id=seq_id
    )


def with_checksum(body):
    return f"{body}*{compute_checksum(body):02X}"


def one(assembler, line, *, at=T0, source="ais-baltic", line_no=1):
    out = assembler.feed(line, source=source, line_no=line_no, received=at)
    assert len(out) == 1, out
    return out[0]


def rejected(assembler, line, **kw):
    got = one(assembler, line, **kw)
    assert isinstance(got, Rejection), got
    return got


def position(**extra):
    fields = {
        "type": 1,
        "mmsi": 273456789,
        "lat": 55.5,
        "lon": 19.25,
        "speed": 12.3,
        "course": 87.5,
    }
    fields.update(extra)
    return fields


def test_docstring_examples_run():
    assert doctest.testmod(ais).failed == 0


def test_class_a_position_becomes_a_report_in_metres_a_second():
    [line] = nmea(**position())
    report = one(AisAssembler(REGISTRY), line)
    assert report == TrackReport(
        id="273456789",
        party="ru",
        time=T0,
        lat=55.5,
        lon=19.25,
        course_deg=87.5,
        speed_mps=12.3 * 1852 / 3600,
        alt_m=None,
        kind="ship",
        received=T0,
        source="ais-baltic",
        name="Neustrashimy",
    )
    assert KNOT_MPS == 1852 / 3600


@pytest.mark.parametrize(
    ("fields", "speed_kn", "course", "kind", "alt"),
    [
        ({"type": 2}, 12.3, 87.5, "ship", None),
        ({"type": 3}, 12.3, 87.5, "ship", None),
        ({"type": 18}, 12.3, 87.5, "ship", None),
        ({"type": 19, "shipname": "KILO"}, 12.3, 87.5, "ship", None),
        ({"type": 27, "speed": 12, "course": 88}, 12.0, 88.0, "ship", None),
        ({"type": 9, "mmsi": 111273001, "speed": 140, "alt": 300}, 140.0, 87.5, "aircraft", 300.0),
    ],
)
def test_every_position_type(fields, speed_kn, course, kind, alt):
    [line] = nmea(**position(**fields))
    report = one(AisAssembler(REGISTRY), line)
    assert isinstance(report, TrackReport)
    assert (report.lat, report.lon) == (55.5, 19.25)
    assert report.speed_mps == speed_kn * 1852 / 3600
    assert (report.course_deg, report.kind, report.alt_m, report.party) == (course, kind, alt, "ru")


def test_sar_aircraft_altitude_not_available_keeps_the_report_without_altitude():
    [line] = nmea(**position(type=9, mmsi=111273001, speed=140, alt=4095))
    report = one(AisAssembler(REGISTRY), line)
    assert isinstance(report, TrackReport)
    assert report.alt_m is None
    assert report.id == "111273001"  # party from MID 273 of a SAR aircraft's 111MIDxxx


def test_the_registry_kind_wins_over_the_message_kind():
    [line] = nmea(**position(mmsi=366999001))
    report = one(AisAssembler(REGISTRY), line)
    assert (report.party, report.kind) == ("us", "warship")


def test_type_5_in_two_fragments_fills_the_static_cache_and_makes_no_report():
    a = AisAssembler(REGISTRY)
    first, second = nmea(
        seq_id=3, type=5, mmsi=273456789, shipname="NEUSTRASHIMY", callsign="UBCD", ship_type=35
    )
    assert a.feed(first, source="s", line_no=1, received=T0) == []
    assert a.static("273456789") is None
    assert a.feed(second, source="s", line_no=2, received=T0) == []
    assert a.static("273456789") == StaticData(name="NEUSTRASHIMY", callsign="UBCD", ship_type=35)


def test_type_24_parts_and_type_19_add_to_what_is_known():
    a = AisAssembler(REGISTRY)
    [part_a] = nmea(type=24, mmsi=273456789, partno=0, shipname="BOAT")
    [part_b] = nmea(type=24, mmsi=273456789, partno=1, ship_type=36, callsign="AB12")
    assert a.feed(part_a, source="s", line_no=1, received=T0) == []
    assert a.static("273456789") == StaticData(name="BOAT")
    assert a.feed(part_b, source="s", line_no=2, received=T0) == []
    assert a.static("273456789") == StaticData(name="BOAT", callsign="AB12", ship_type=36)
    [class_b] = nmea(**position(type=19, shipname="RENAMED"))
    assert isinstance(one(a, class_b), TrackReport)
    assert a.static("273456789").name == "RENAMED"


def test_static_cache_is_bounded():
    a = AisAssembler(REGISTRY, max_static=2)
    for mmsi in (273000001, 273000002, 273000003):
        [line] = nmea(type=24, mmsi=mmsi, partno=0, shipname=f"S{mmsi % 10}")
        a.feed(line, source="s", line_no=1, received=T0)
    assert a.static("273000001") is None
    assert a.static("273000003") == StaticData(name="S3")


def test_a_lost_second_fragment_is_missing_fragment_after_the_timeout():
    a = AisAssembler(REGISTRY, fragment_timeout_s=10)
    first, _lost = nmea(seq_id=1, type=5, mmsi=273456789, shipname="X")
    assert a.feed(first, source="ais-baltic", line_no=7, received=T0) == []
    assert a.expire(T0 + timedelta(seconds=10)) == []
    [later] = nmea(**position())
    out = a.feed(later, source="ais-baltic", line_no=8, received=T0 + timedelta(seconds=11))
    assert [type(o) for o in out] == [Rejection, TrackReport]
    gone = out[0]
    assert (gone.reason, gone.line, gone.source) == ("missing_fragment", 7, "ais-baltic")
    assert gone.detail.startswith("1 of 2 fragments")
    assert gone.raw == first
    assert a.expire(T0 + timedelta(hours=1)) == []


def test_fragment_two_without_fragment_one():
    _first, second = nmea(seq_id=2, type=5, mmsi=273456789, shipname="X")
    got = rejected(AisAssembler(REGISTRY), second, line_no=4)
    assert (got.reason, got.line) == ("missing_fragment", 4)
    assert "without fragment 1" in got.detail


def test_a_new_first_fragment_gives_up_the_one_before():
    a = AisAssembler(REGISTRY)
    first, second = nmea(seq_id=5, type=5, mmsi=273456789, shipname="X")
    a.feed(first, source="s", line_no=1, received=T0)
    out = a.feed(first, source="s", line_no=2, received=T0)
    assert [(o.reason, o.line) for o in out] == [("missing_fragment", 1)]
    assert a.feed(second, source="s", line_no=3, received=T0) == []
    assert a.static("273456789") == StaticData(name="X")


def test_fragments_are_joined_per_source_and_channel():
    a = AisAssembler(REGISTRY)
    ru = nmea(seq_id=1, type=5, mmsi=273000001, shipname="RU")
    us = nmea(seq_id=1, type=5, mmsi=366000001, shipname="US")
    ch_b = nmea(seq_id=1, channel="B", type=5, mmsi=273000002, shipname="B")
    for line, source in (
        (ru[0], "north"),
        (us[0], "south"),
        (ch_b[0], "north"),
        (ru[1], "north"),
        (us[1], "south"),
        (ch_b[1], "north"),
    ):
        assert a.feed(line, source=source, line_no=1, received=T0) == []
    assert [a.static(m).name for m in ("273000001", "366000001", "273000002")] == ["RU", "US", "B"]


def test_flush_and_the_bound_on_waiting_messages():
    a = AisAssembler(REGISTRY, max_pending=2)
    firsts = [nmea(seq_id=n, type=5, mmsi=273456789, shipname="X")[0] for n in (1, 2, 3)]
    assert a.feed(firsts[0], source="s", line_no=1, received=T0) == []
    assert a.feed(firsts[1], source="s", line_no=2, received=T0) == []
    [dropped] = a.feed(firsts[2], source="s", line_no=3, received=T0)
    assert (dropped.reason, dropped.line) == ("missing_fragment", 1)
    assert [(r.reason, r.line) for r in a.flush()] == [
        ("missing_fragment", 2),
        ("missing_fragment", 3),
    ]
    assert a.flush() == []


def test_a_flipped_character_fails_the_checksum():
    [line] = nmea(**position())
    body, checksum = line.rsplit("*", 1)
    i = body.index("144j") + 5
    corrupt = body[:i] + ("A" if body[i] != "A" else "B") + body[i + 1 :] + "*" + checksum
    got = rejected(AisAssembler(REGISTRY), corrupt)
    assert got.reason == "bad_checksum"
    assert got.detail.startswith(f"checksum {checksum}, computed ")
    assert rejected(AisAssembler(REGISTRY), body).detail.startswith("no checksum")


@pytest.mark.parametrize(
    "line",
    [
        "garbage",
        with_checksum("$GPGGA,120000,5530.0,N,01915.0,E,1,08,0.9,10.0,M,,,,"),
        with_checksum("!AIVDM,1,1,,A,144jNUOP1s1H7a,0"),  # payload cut short
        with_checksum("!AIVDM,1,1,,A,,0"),  # no payload
        with_checksum("!AIVDM,a,1,,A,144jNUOP1s1H7aPOhN83Jh01P000,0"),
        with_checksum("!AIVDM,1,1,,A,w0000000000000000,0"),  # type 63
        "!AIVDM,1,1,,A,144jNUOP1s1H7aPOhN83Jh01P000,0*65\u00e9",
    ],
)
def test_what_is_not_a_sentence(line):
    assert rejected(AisAssembler(REGISTRY), line).reason == "bad_sentence"


def test_types_without_a_position_are_unsupported():
    [base_station] = nmea(type=4, mmsi=2734567, lat=55.0, lon=19.0)
    [binary] = nmea(type=8, mmsi=273456789, dac=1, fid=1, data=b"\x00\x01")
    for line, kind in ((base_station, 4), (binary, 8)):
        got = rejected(AisAssembler(REGISTRY), line)
        assert (got.reason, got.detail) == ("unsupported_type", f"type {kind} carries no position")


@pytest.mark.parametrize(
    ("extra", "detail"),
    [
        ({"lat": 91}, "lat 91 means not available"),
        ({"lon": 181}, "lon 181 means not available"),
        ({"speed": 102.3}, "speed 102.3 means not available"),
        ({"course": 360}, "course 360 means not available"),
        ({"type": 18, "course": 360}, "course 360 means not available"),
        ({"type": 27, "speed": 63, "course": 10}, "speed 63 means not available"),
        ({"type": 27, "speed": 5, "course": 511}, "course 511 means not available"),
        ({"type": 9, "speed": 1023}, "speed 1023 means not available"),
        ({"lat": 95}, "lat 95 is not within [-90, 90]"),
        ({"course": 400}, "course_deg 400 is not within [0, 360]"),
    ],
)
def test_not_available_and_out_of_range_values_name_the_field(extra, detail):
    [line] = nmea(**position(**extra))
    got = rejected(AisAssembler(REGISTRY), line)
    assert (got.reason, got.detail) == ("out_of_range", detail)


@pytest.mark.parametrize("mmsi", [0, 1_000_000_000])
def test_an_mmsi_that_is_not_nine_digits(mmsi):
    [line] = nmea(**position(mmsi=mmsi))
    got = rejected(AisAssembler(REGISTRY), line)
    assert (got.reason, got.detail) == ("bad_id", f"MMSI {mmsi} is not 9 digits")


def test_a_short_mmsi_keeps_its_leading_zeros():
    [line] = nmea(**position(mmsi=2734567))
    report = one(AisAssembler(Registry(default_party="xx")), line)
    assert report.id == "002734567"


def test_units_not_in_the_registry_unless_it_has_a_default():
    [line] = nmea(**position(mmsi=412000001))
    got = rejected(AisAssembler(REGISTRY), line)
    assert (got.reason, got.detail) == ("unknown_unit", "MMSI 412000001 is not in the registry")
    report = one(AisAssembler(Registry(default_party="cn")), line)
    assert report.party == "cn"


def test_blank_lines_give_nothing_and_str_or_bytes_both_work():
    a = AisAssembler(REGISTRY)
    assert a.feed(b"  \r\n", source="s", line_no=1, received=T0) == []
    [line] = nmea(**position())
    assert one(a, line.encode() + b"\r\n") == one(a, line)


def test_a_rejected_line_is_kept_short_and_printable():
    got = rejected(AisAssembler(REGISTRY), "x\x1b[2J" + "y" * 500)
    assert got.reason == "bad_sentence"
    assert got.raw.startswith("x\\x1b[2Jyyy")
    assert len(got.raw) == 200


def test_a_position_in_two_fragments_is_checked_once_joined():
    [whole] = nmea(**position(lat=91))
    payload = whole.split(",")[5]
    first = with_checksum(f"!AIVDM,2,1,9,B,{payload[:14]},0")
    second = with_checksum(f"!AIVDM,2,2,9,B,{payload[14:]},0")
    a = AisAssembler(REGISTRY)
    assert a.feed(first, source="s", line_no=10, received=T0) == []
    [got] = a.feed(second, source="s", line_no=11, received=T0)
    assert (got.reason, got.line, got.detail) == ("out_of_range", 10, "lat 91 means not available")
    assert got.raw == f"{first}\\x0a{second}"
