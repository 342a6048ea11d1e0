"""The quarantine: counts, the newest rejections, and warnings that cannot flood the log."""

import doctest
import logging
import threading
from datetime import UTC, datetime

import detente.tracks.quarantine as quarantine
from detente.tracks.quarantine import RAW_CHARS, Quarantine, Rejection

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def rejection(line=1, reason="bad_checksum", source="ais-baltic", detail="checksum 65"):
    return Rejection.of(
        source=source, line=line, reason=reason, detail=detail, raw="!AIVDM", received=T0
    )


def warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "detente.tracks"]


def test_docstring_examples_run(caplog):
    with caplog.at_level(logging.CRITICAL, logger="detente.tracks"):
        assert doctest.testmod(quarantine).failed == 0


def test_counts_by_reason_and_keeps_the_newest(caplog):
    q = Quarantine(keep=3)
    with caplog.at_level(logging.CRITICAL, logger="detente.tracks"):
        for n, reason in enumerate(
            ["bad_checksum", "bad_sentence", "bad_checksum", "bad_id", "bad_checksum"], start=1
        ):
            q.add(rejection(line=n, reason=reason))
    assert q.counts == {"bad_checksum": 3, "bad_sentence": 1, "bad_id": 1}
    assert q.total == 5
    assert [r.line for r in q.recent()] == [3, 4, 5]
    assert [r.line for r in q.recent(2)] == [4, 5]
    assert q.recent(0) == [] and len(q.recent(10)) == 3
    q.counts["bad_id"] = 99
    assert q.counts["bad_id"] == 1  # a copy


def test_raw_text_is_cut_and_made_safe_to_print():
    r = Rejection.of(
        source="s",
        line=1,
        reason="bad_json",
        detail="bad\nline\x1b[31m",
        raw=b"\x00\xff" + b"z" * 1000,
    )
    assert r.raw.startswith("\\x00\\ufffdzzz")
    assert len(r.raw) == RAW_CHARS
    assert r.detail == "bad\\x0aline\\x1b[31m"
    assert "\n" not in str(r)
    assert Rejection.of(source="s", line=1, reason="r", detail="d", raw="é").raw == "\\xe9"


def test_each_rejection_warns_naming_the_feed_and_line(caplog):
    q = Quarantine()
    with caplog.at_level(logging.WARNING, logger="detente.tracks"):
        q.add(rejection(line=1234, detail="checksum 65, computed 66"))
    assert warnings(caplog) == ["feed ais-baltic line 1234: bad_checksum: checksum 65, computed 66"]
    assert caplog.records[0].levelno == logging.WARNING


def test_warnings_are_limited_per_source_and_reason(caplog):
    clock = Clock()
    q = Quarantine(log_every_s=10, clock=clock)
    with caplog.at_level(logging.WARNING, logger="detente.tracks"):
        q.add(rejection(line=1))
        for n in range(2, 5):
            clock.now += 1
            q.add(rejection(line=n))
        q.add(rejection(line=5, reason="bad_sentence"))
        q.add(rejection(line=6, source="ais-gulf"))
        clock.now = 110.0
        q.add(rejection(line=7))
        q.add(rejection(line=8))
        clock.now = 125.0
        q.add(rejection(line=9))
    assert warnings(caplog) == [
        "feed ais-baltic line 1: bad_checksum: checksum 65",
        "feed ais-baltic line 5: bad_sentence: checksum 65",
        "feed ais-gulf line 6: bad_checksum: checksum 65",
        "feed ais-baltic line 7: bad_checksum: checksum 65 (and 3 more like it since the last"
        " warning)",
        "feed ais-baltic line 9: bad_checksum: checksum 65 (and 1 more like it since the last"
        " warning)",
    ]
    assert q.total == 9  # all counted, whatever was logged


def test_many_threads_count_every_rejection(caplog):
    q = Quarantine(keep=50)

    def add_many():
        for n in range(500):
            q.add(rejection(line=n))

    with caplog.at_level(logging.CRITICAL, logger="detente.tracks"):
        threads = [threading.Thread(target=add_many) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert q.counts == {"bad_checksum": 2000}
    assert len(q.recent()) == 50
