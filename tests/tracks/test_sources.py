"""Sources on a real file, a real TCP server and a real UDP socket; feeds reading them."""

import doctest
import logging
import os
import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from pyais import encode_dict

import detente.tracks.sources as sources
from detente.errors import ConfigError
from detente.tracks.ais import AisAssembler
from detente.tracks.quarantine import Quarantine
from detente.tracks.registry import Registry
from detente.tracks.report import MAX_LINE_BYTES
from detente.tracks.sources import Feed, FileSource, TcpSource, UdpSource, parse_address

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
REGISTRY = Registry(default_party="ru")
[AIS] = encode_dict(
    {"type": 1, "mmsi": 273456789, "lat": 55.5, "lon": 19.25, "speed": 12.3, "course": 87.5},
    talker_id="AI",
    sentence_type="VDM",
)
AIS_BAD = AIS[:-1] + ("0" if AIS[-1] != "0" else "1")
SBS_VELOCITY = "MSG,4,1,1,3C6444,1,2026/03/01,12:00:00.000,,,,,450,87.5,,,0,,,,,0"
SBS_POSITION = "MSG,3,1,1,3C6444,1,2026/03/01,12:00:01.000,,,,35000,,,55.1,19.9,,,,,,0"
JSON = (
    '{"id": "a1", "party": "us", "time": "2026-03-01T12:00:00Z", "lat": 55, "lon": 19,'
    ' "course_deg": 90, "speed_mps": 10}'
)


class Clock:
    def __init__(self, now=T0):
        self.now = now
        self._lock = threading.Lock()

    def __call__(self):
        with self._lock:
            return self.now

    def advance(self, seconds):
        with self._lock:
            self.now += timedelta(seconds=seconds)


def until(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.005)


def take(lines, n, timeout=5.0):
    """The next n real lines from a source's generator, skipping idle ticks."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n:
        assert time.monotonic() < deadline, f"only {got}"
        item = next(lines)
        if item is not None:
            got.append(item)
    return got


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.WARNING, logger="detente.tracks")
    return caplog


def test_docstring_examples_run():
    assert doctest.testmod(sources).failed == 0


def test_parse_address():
    assert parse_address("localhost:30003") == ("localhost", 30003)
    assert parse_address("[::1]:0") == ("::1", 0)
    for bad in ("localhost", ":30003", "host:port", "host:70000", "host:-1"):
        with pytest.raises(ConfigError, match="give host:port"):
            parse_address(bad)


# --- a file -----------------------------------------------------------------------------


def test_a_file_to_its_end_with_a_too_long_line_cut_short(tmp_path):
    path = tmp_path / "feed.nmea"
    long = b"x" * (MAX_LINE_BYTES + 1)
    path.write_bytes(b"one\r\n" + long + b"\n" + b"y" * MAX_LINE_BYTES + b"\n\nlast")
    clock = Clock()
    lines = list(FileSource(path, clock=clock).lines(threading.Event()))
    assert [(x.data[:5], len(x.data), x.too_long) for x in lines] == [
        (b"one", 3, False),
        (b"xxxxx", 200, True),
        (b"yyyyy", MAX_LINE_BYTES, False),
        (b"", 0, False),
        (b"last", 4, False),
    ]
    assert all(x.received == T0 for x in lines)


def test_a_long_line_across_many_reads_is_never_held_whole(tmp_path):
    path = tmp_path / "feed.nmea"
    path.write_bytes(b"z" * 300_000 + b"\nok\n")
    lines = list(FileSource(path).lines(threading.Event()))
    assert [(len(x.data), x.too_long) for x in lines] == [(200, True), (2, False)]


def test_a_missing_file_raises_unless_followed(tmp_path):
    with pytest.raises(FileNotFoundError):
        list(FileSource(tmp_path / "none").lines(threading.Event()))
    stop = threading.Event()
    lines = FileSource(tmp_path / "none", follow=True, poll_s=0.01).lines(stop)
    assert next(lines) is None
    (tmp_path / "none").write_bytes(b"now\n")
    assert take(lines, 1)[0].data == b"now"
    lines.close()


def test_follow_reads_growth_truncation_and_rotation(tmp_path):
    path = tmp_path / "feed.nmea"
    path.write_bytes(b"a1\na2")
    stop = threading.Event()
    lines = FileSource(path, follow=True, poll_s=0.01).lines(stop)
    assert [x.data for x in take(lines, 1)] == [b"a1"]
    assert next(lines) is None  # a2 has no line end yet
    with path.open("ab") as handle:
        handle.write(b"-more\na3\n")
    assert [x.data for x in take(lines, 2)] == [b"a2-more", b"a3"]
    path.write_bytes(b"b1\n")  # truncated and written again
    assert [x.data for x in take(lines, 1)] == [b"b1"]
    os.rename(path, tmp_path / "feed.nmea.1")
    path.write_bytes(b"c1\n")
    assert [x.data for x in take(lines, 1)] == [b"c1"]
    stop.set()
    assert list(lines) == []


# --- TCP --------------------------------------------------------------------------------


class LineServer:
    """A TCP server on 127.0.0.1 that sends each connection its batch of bytes, then closes it."""

    def __init__(self, batches, delay=0.0):
        self._delay = delay
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(5)
        self.port = self.sock.getsockname()[1]
        self._batches = list(batches)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        for batch in self._batches:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                time.sleep(self._delay)
                conn.sendall(batch)

    def close(self):
        self._thread.join(5)
        self.sock.close()


def test_tcp_reads_lines_and_connects_again_when_the_connection_is_lost(logs):
    server = LineServer([b"one\r\ntwo\nhalf", b"three\n" + b"q" * (MAX_LINE_BYTES + 5) + b"\n"])
    source = TcpSource("127.0.0.1", server.port, poll_s=0.01, retry_s=0.01)
    stop = threading.Event()
    lines = source.lines(stop)
    try:
        got = take(lines, 5)
    finally:
        stop.set()
        lines.close()
        server.close()
    assert [(x.data[:5], x.too_long) for x in got] == [
        (b"one", False),
        (b"two", False),
        (b"half", False),
        (b"three", False),
        (b"qqqqq", True),
    ]
    assert source.connections == 2
    assert "connection lost" in logs.text


def test_tcp_yields_idle_ticks_while_a_connection_is_quiet():
    server = LineServer([b"late\n"], delay=0.2)
    stop = threading.Event()
    lines = TcpSource("127.0.0.1", server.port, poll_s=0.01).lines(stop)
    try:
        assert [next(lines) for _ in range(3)] == [None, None, None]
        assert take(lines, 1)[0].data == b"late"
    finally:
        stop.set()
        lines.close()
        server.close()


def test_tcp_retries_a_refused_connection_with_a_growing_wait(caplog):
    spare = socket.create_server(("127.0.0.1", 0))
    port = spare.getsockname()[1]
    spare.close()  # nothing listens there now
    source = TcpSource("127.0.0.1", port, poll_s=0.01, retry_s=0.01, max_retry_s=0.04)
    stop = threading.Event()
    lines = source.lines(stop)
    with caplog.at_level(logging.WARNING, logger="detente.tracks"):
        for _ in range(12):
            assert next(lines) is None
    stop.set()
    assert list(lines) == []
    waits = [r.getMessage().rsplit(" again in ", 1)[1] for r in caplog.records]
    assert waits[:4] == ["0.01 s", "0.02 s", "0.04 s", "0.04 s"]
    assert f"tcp 127.0.0.1:{port}: cannot connect" in caplog.records[0].getMessage()
    assert source.connections == 0


# --- UDP --------------------------------------------------------------------------------


def test_udp_datagrams_end_their_last_line():
    source = UdpSource("127.0.0.1", 0, poll_s=0.01)
    stop = threading.Event()
    lines = source.lines(stop)
    try:
        assert next(lines) is None
        host, port = source.address
        assert (host, str(source)) == ("127.0.0.1", f"udp 127.0.0.1:{port}")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(b"d1\r\nd2", (host, port))
            sender.sendto(b"d3\n", (host, port))
            sender.sendto(b"w" * (MAX_LINE_BYTES + 1), (host, port))
        got = take(lines, 4)
    finally:
        stop.set()
        lines.close()
        source.close()
    assert [(x.data[:2], x.too_long) for x in got] == [
        (b"d1", False),
        (b"d2", False),
        (b"d3", False),
        (b"ww", True),
    ]
    assert str(source) == "udp closed:0"


def test_udp_port_in_use_is_an_error_and_leaks_no_socket():
    first = UdpSource("127.0.0.1", 0)
    try:
        with pytest.raises(OSError):
            UdpSource(*first.address)
    finally:
        first.close()


# --- feeds ------------------------------------------------------------------------------


def test_a_feed_of_a_file_reports_quarantines_and_ends(tmp_path, logs):
    path = tmp_path / "baltic.nmea"
    first, _second = encode_dict({"type": 5, "mmsi": 273456789, "shipname": "X"}, seq_id=1)
    long = "L" * (MAX_LINE_BYTES + 1)
    path.write_text("\n".join([AIS, AIS_BAD, "", long, AIS, first]) + "\n", encoding="ascii")
    clock, reports, q = Clock(), [], Quarantine()
    feed = Feed(
        "ais-baltic",
        FileSource(path, clock=clock),
        format="ais",
        registry=REGISTRY,
        quarantine=q,
        on_report=reports.append,
        clock=clock,
    )
    feed.start()
    until(lambda: not feed.running)
    feed.stop()
    assert [(r.id, r.source, r.received) for r in reports] == [("273456789", "ais-baltic", T0)] * 2
    assert feed.stats() == sources.FeedStats(lines=6, reports=2, quarantined=3, last_report=T0)
    assert q.counts == {"bad_checksum": 1, "too_long": 1, "missing_fragment": 1}
    assert [(r.line, r.reason) for r in q.recent()] == [
        (2, "bad_checksum"),
        (4, "too_long"),
        (6, "missing_fragment"),
    ]
    assert "feed ais-baltic line 2: bad_checksum" in logs.text
    assert isinstance(feed.parser, AisAssembler)


def test_a_logs_feed_still_times_fragments_out(tmp_path, logs):
    path = tmp_path / "baltic.nmea"
    first, _second = encode_dict({"type": 5, "mmsi": 273456789, "shipname": "X"}, seq_id=1)
    path.write_text(first + "\n", encoding="ascii")
    clock, q = Clock(), Quarantine()
    feed = Feed(
        "ais",
        FileSource(path, follow=True, poll_s=0.01, clock=clock),
        format="ais",
        registry=REGISTRY,
        quarantine=q,
        on_report=lambda r: None,
        clock=clock,
    )
    feed.start()
    try:
        until(lambda: feed.stats().lines == 1)
        time.sleep(0.05)
        assert q.total == 0
        clock.advance(11)
        until(lambda: q.total == 1)
    finally:
        feed.stop()
    assert q.recent()[0].reason == "missing_fragment"
    assert not feed.running


def test_a_feed_over_tcp_survives_a_lost_connection_and_a_failing_callback(logs):
    server = LineServer(
        [f"{SBS_VELOCITY}\n{SBS_POSITION}\n".encode(), f"garbage\n{SBS_POSITION}\n".encode()]
    )
    reports = []

    def on_report(report):
        reports.append(report)
        if len(reports) == 1:
            raise RuntimeError("the consumer broke")

    q = Quarantine()
    feed = Feed(
        "adsb",
        TcpSource("127.0.0.1", server.port, poll_s=0.01, retry_s=0.01),
        format="sbs",
        registry=Registry(default_party="de"),
        quarantine=q,
        on_report=on_report,
    )
    feed.start()
    try:
        until(lambda: len(reports) == 2)
    finally:
        feed.stop()
        server.close()
    assert [(r.id, r.party, r.alt_m) for r in reports] == [("3C6444", "de", 35000 * 0.3048)] * 2
    assert q.counts == {"bad_line": 1}
    assert feed.stats().lines == 4
    assert "the report callback failed" in logs.text


def test_a_feed_of_udp_json_lines():
    source = UdpSource("127.0.0.1", 0, poll_s=0.01)
    reports, q = [], Quarantine()
    feed = Feed(
        "json", source, format="jsonl", registry=REGISTRY, quarantine=q, on_report=reports.append
    )
    feed.start()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(f"{JSON}\n\n{{not json\n".encode(), source.address)
        until(lambda: feed.stats().lines == 3)
    finally:
        feed.stop()
    assert [(r.id, r.party, r.source) for r in reports] == [("a1", "us", "json")]
    assert q.counts == {"bad_json": 1}
    assert not feed.running


def test_silent_for_counts_from_the_start_then_from_the_last_report(tmp_path, logs):
    path = tmp_path / "feed.nmea"
    path.write_text(AIS_BAD + "\n", encoding="ascii")
    clock = Clock()
    feed = Feed(
        "ais",
        FileSource(path, follow=True, poll_s=0.01, clock=clock),
        format="ais",
        registry=REGISTRY,
        quarantine=Quarantine(),
        on_report=lambda r: None,
        clock=clock,
    )
    feed.start()
    try:
        until(lambda: feed.stats().quarantined == 1)
        assert feed.silent_for(T0 + timedelta(seconds=90)) == timedelta(seconds=90)
        clock.advance(30)
        with path.open("a", encoding="ascii") as handle:
            handle.write(AIS + "\n")
        until(lambda: feed.stats().reports == 1)
    finally:
        feed.stop()
    assert feed.stats().last_report == T0 + timedelta(seconds=30)
    assert feed.silent_for(T0 + timedelta(seconds=90)) == timedelta(seconds=60)
    assert feed.silent_for(T0) == timedelta(0)


def test_a_feed_retries_a_source_that_fails(tmp_path, logs):
    path = tmp_path / "later.jsonl"
    reports = []
    feed = Feed(
        "json",
        FileSource(path),
        format="jsonl",
        registry=REGISTRY,
        quarantine=Quarantine(),
        on_report=reports.append,
        retry_s=0.01,
    )
    feed.start()
    try:
        until(lambda: "failed" in logs.text)
        path.write_text(JSON + "\n", encoding="ascii")
        until(lambda: not feed.running)
    finally:
        feed.stop()
    assert [r.id for r in reports] == ["a1"]


def test_a_feed_format_must_be_known():
    with pytest.raises(ConfigError, match="use ais, sbs or jsonl"):
        Feed(
            "x",
            FileSource(__file__),
            format="xml",
            registry=REGISTRY,  # type: ignore[arg-type]
            quarantine=Quarantine(),
            on_report=lambda r: None,
        )


def test_a_parser_that_fails_costs_one_line_not_the_feed(tmp_path, logs):
    path = tmp_path / "feed.jsonl"
    path.write_text(f"boom\n{JSON}\n", encoding="ascii")
    reports, q = [], Quarantine()
    feed = Feed(
        "json",
        FileSource(path),
        format="jsonl",
        registry=REGISTRY,
        quarantine=q,
        on_report=reports.append,
    )
    real = feed.parser.feed

    def fragile(line, **kw):
        if line == b"boom":
            raise KeyError("a bug")
        return real(line, **kw)

    feed.parser.feed = fragile
    feed.start()
    until(lambda: not feed.running)
    feed.stop()
    assert [r.id for r in reports] == ["a1"]
    assert [(r.line, r.reason, r.detail) for r in q.recent()] == [
        (1, "parser_error", "KeyError: 'a bug'")
    ]
    assert "feed json line 1: the jsonl parser failed" in logs.text
