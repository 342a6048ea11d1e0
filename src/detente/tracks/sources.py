"""Where track lines come from — a file, a TCP feed, UDP datagrams — and the feed that reads them.

A source yields :class:`Line` items: the bytes of one line without its end
and the time it was received. No line is ever held longer than
:data:`~detente.tracks.report.MAX_LINE_BYTES`: the rest of a longer one is
read and thrown away, and the line comes out marked ``too_long`` with its
first bytes only. Between lines a source yields ``None`` whenever nothing
came for ``poll_s`` seconds, so that the reader can notice it is asked to
stop and can time out fragments even on a quiet feed.

* :class:`FileSource` reads a file, to its end or (``follow``) on as it
  grows, like ``tail -F``: a file truncated is read again from the start, a
  file replaced (log rotation) is opened anew.
* :class:`TcpSource` connects to a receiver's port (AIS receivers and
  dump1090's port 30003 serve lines this way) and connects again when the
  connection fails or is closed, waiting 1, 2, 4 … up to 60 seconds.
* :class:`UdpSource` listens for datagrams of one or more lines, as AIS
  receivers often send them.

A :class:`Feed` joins a source with its format (``ais``, ``sbs`` or
``jsonl``), the registry and the quarantine, and reads in a background
thread: each report goes to the callback, each refused line to the
quarantine, and nothing in the input — nor a failing callback, nor a lost
connection — ends the thread before :meth:`Feed.stop`. Besides the
format's own reason codes, a feed quarantines ``too_long`` (a line over
the limit) and ``parser_error`` (the parser failed on a line: a bug here,
logged with its traceback, that costs that line only).

Example:
    >>> import threading
    >>> from pathlib import Path
    >>> from tempfile import TemporaryDirectory
    >>> with TemporaryDirectory() as tmp:
    ...     path = Path(tmp, "ais.nmea")
    ...     _ = path.write_bytes(b"!AIVDM,1,1,,A,144jNUOP1s1H7aPOhN83Jh01P000,0*65\\r\\n")
    ...     [(line.data[:6], line.too_long) for line in FileSource(path).lines(threading.Event())]
    [(b'!AIVDM', False)]
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, Final, Literal, NamedTuple, Protocol

from detente.errors import ConfigError
from detente.tracks.ais import AisAssembler
from detente.tracks.quarantine import RAW_CHARS, Quarantine, Rejection
from detente.tracks.registry import Registry
from detente.tracks.report import MAX_LINE_BYTES, ReportError, TrackReport, parse_json_report
from detente.tracks.sbs import SbsTracker

__all__ = [
    "FileSource",
    "Feed",
    "FeedStats",
    "Format",
    "JsonLinesParser",
    "Line",
    "Parser",
    "Source",
    "TcpSource",
    "UdpSource",
    "parse_address",
]

log = logging.getLogger("detente.tracks")

#: The line formats a feed reads.
Format = Literal["ais", "sbs", "jsonl"]

_CHUNK: Final = 65536
Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Line(NamedTuple):
    """One line as received: its bytes (the first few only, if it was too long) and when."""

    data: bytes
    received: datetime
    too_long: bool = False


class Source(Protocol):
    """Anything that yields lines until asked to stop."""

    def lines(self, stop: threading.Event) -> Generator[Line | None, None, None]:
        """Lines as they come, ``None`` when none came for a while; ends at ``stop``."""
        ...

    def close(self) -> None:
        """Let go of what the source holds open between reads (a bound socket)."""
        ...


def parse_address(text: str) -> tuple[str, int]:
    """``host:port`` (or ``[v6 address]:port``) as a host and a port number.

    >>> parse_address("127.0.0.1:10110"), parse_address("[::1]:30003")
    (('127.0.0.1', 10110), ('::1', 30003))

    Raises:
        ConfigError: not a host and a port from 0 to 65535.
    """
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"address {text!r}: give host:port, such as 127.0.0.1:10110")
    return host, int(port)


class _Splitter:
    """Bytes in, lines out, never holding more than one line's limit."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._held = bytearray()
        self._over = False

    def push(self, chunk: bytes) -> list[Line]:
        out = []
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            self._add(chunk[start:end])
            out.append(self._take())
            start = end + 1
        self._add(chunk[start:])
        return out

    def end(self) -> list[Line]:
        """The last line, if the bytes ended without a line end."""
        return [self._take()] if self._held or self._over else []

    def _add(self, part: bytes) -> None:
        if self._over:
            return
        if len(self._held) + len(part) > MAX_LINE_BYTES:
            self._held = bytearray((bytes(self._held[:RAW_CHARS]) + part[:RAW_CHARS])[:RAW_CHARS])
            self._over = True
        else:
            self._held += part

    def _take(self) -> Line:
        data = bytes(self._held)
        line = Line(data if self._over else data.removesuffix(b"\r"), self._clock(), self._over)
        self._held.clear()
        self._over = False
        return line


def _wait(stop: threading.Event, seconds: float, poll_s: float) -> Iterator[None]:
    """Wait ``seconds`` (or until ``stop``), yielding ``None`` every ``poll_s``."""
    left = seconds
    while left > 0 and not stop.is_set():
        step = min(poll_s, left)
        stop.wait(step)
        left -= step
        yield None


class FileSource:
    """The lines of a file, and with ``follow`` the lines added to it later.

    The receive time of a line is when it was read.
    """

    def __init__(
        self, path: Path, *, follow: bool = False, poll_s: float = 0.5, clock: Clock = _utcnow
    ) -> None:
        self.path = path
        self._follow = follow
        self._poll = poll_s
        self._clock = clock

    def __str__(self) -> str:
        return f"file {self.path}"

    def close(self) -> None:
        """Nothing is held open between reads."""

    def lines(self, stop: threading.Event) -> Generator[Line | None, None, None]:
        """The file's lines; with ``follow``, on until ``stop``.

        Raises:
            OSError: the file cannot be opened or read (the feed retries).
        """
        while not stop.is_set():
            try:
                handle = self.path.open("rb")
            except FileNotFoundError:
                if not self._follow:
                    raise
                yield from _wait(stop, self._poll, self._poll)
                continue
            with handle:
                replaced = yield from self._read(handle, stop)
            if not replaced:
                return

    def _read(self, handle: BinaryIO, stop: threading.Event) -> Generator[Line | None, None, bool]:
        """Read to the end (and on, following); True when the file was replaced."""
        split = _Splitter(self._clock)
        while not stop.is_set():
            chunk = handle.read(_CHUNK)
            if chunk:
                yield from split.push(chunk)
                continue
            if not self._follow:
                yield from split.end()
                return False
            try:
                now = os.stat(self.path)
            except FileNotFoundError:
                now = None
            held = os.fstat(handle.fileno())
            if now is not None and (now.st_ino, now.st_dev) != (held.st_ino, held.st_dev):
                yield from split.end()
                return True
            if held.st_size < handle.tell():
                handle.seek(0)
                split = _Splitter(self._clock)
                continue
            yield from _wait(stop, self._poll, self._poll)
        return False


class TcpSource:
    """Lines from a TCP server, connecting again with a growing wait whenever it is lost."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        poll_s: float = 0.5,
        connect_timeout_s: float = 10.0,
        retry_s: float = 1.0,
        max_retry_s: float = 60.0,
        clock: Clock = _utcnow,
    ) -> None:
        self.host, self.port = host, port
        self._poll = poll_s
        self._connect_timeout = connect_timeout_s
        self._retry, self._max_retry = retry_s, max_retry_s
        self._clock = clock
        #: Connections made so far (for the node's status page and for tests).
        self.connections = 0

    def __str__(self) -> str:
        return f"tcp {self.host}:{self.port}"

    def close(self) -> None:
        """Nothing is held open between reads: the connection closes as :meth:`lines` ends."""

    def lines(self, stop: threading.Event) -> Generator[Line | None, None, None]:
        """Lines as they come, over as many connections as it takes, until ``stop``."""
        delay = self._retry
        while not stop.is_set():
            try:
                conn = socket.create_connection(
                    (self.host, self.port), timeout=self._connect_timeout
                )
            except OSError as e:
                log.warning("%s: cannot connect (%s); again in %g s", self, e, delay)
                yield from _wait(stop, delay, self._poll)
                delay = min(delay * 2, self._max_retry)
                continue
            self.connections += 1
            with conn:
                conn.settimeout(self._poll)
                got = yield from self._read(conn, stop)
            if stop.is_set():
                return
            if got:
                delay = self._retry
            log.warning("%s: connection lost; again in %g s", self, delay)
            yield from _wait(stop, delay, self._poll)
            delay = min(delay * 2, self._max_retry)

    def _read(
        self, conn: socket.socket, stop: threading.Event
    ) -> Generator[Line | None, None, bool]:
        """Read one connection to its end; True if it brought any bytes."""
        split = _Splitter(self._clock)
        got = False
        while not stop.is_set():
            try:
                chunk = conn.recv(_CHUNK)
            except TimeoutError:
                yield None
                continue
            except OSError as e:
                log.warning("%s: %s", self, e)
                break
            if not chunk:
                break
            got = True
            yield from split.push(chunk)
        yield from split.end()
        return got


class UdpSource:
    """Lines from UDP datagrams sent to one address; each datagram ends its last line.

    The socket is bound when the source is made, so that a port of 0 has
    its number in :attr:`address` before the feed starts.

    Raises:
        OSError: the address cannot be bound.
    """

    def __init__(
        self, host: str, port: int, *, poll_s: float = 0.5, clock: Clock = _utcnow
    ) -> None:
        family, kind, proto, _, where = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        self._sock = socket.socket(family, kind, proto)
        try:
            self._sock.bind(where)
        except OSError:
            self._sock.close()
            raise
        self._sock.settimeout(poll_s)
        self._clock = clock

    @property
    def address(self) -> tuple[str, int]:
        """The host and port bound."""
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    def __str__(self) -> str:
        host, port = self.address if self._sock.fileno() >= 0 else ("closed", 0)
        return f"udp {host}:{port}"

    def close(self) -> None:
        """Let go of the port."""
        self._sock.close()

    def lines(self, stop: threading.Event) -> Generator[Line | None, None, None]:
        """The lines of each datagram as it comes, until ``stop`` or :meth:`close`."""
        split = _Splitter(self._clock)
        while not stop.is_set():
            try:
                datagram = self._sock.recv(_CHUNK)
            except TimeoutError:
                yield None
                continue
            except OSError:
                return  # closed
            yield from split.push(datagram)
            yield from split.end()


class Parser(Protocol):
    """A line format: lines in, reports and rejections out, and what waits timed out."""

    def feed(
        self, line: bytes, *, source: str, line_no: int, received: datetime
    ) -> list[TrackReport | Rejection]:
        """Take one line."""
        ...

    def expire(self, now: datetime) -> list[Rejection]:
        """Give up what waited too long."""
        ...

    def flush(self) -> list[Rejection]:
        """Give up all that waits (the input ended)."""
        ...


class JsonLinesParser:
    """The JSON-lines report format (:func:`~detente.tracks.report.parse_json_report`).

    The party is the line's own ``party`` field: a JSON feed comes from a
    system that knows it, not from a radio.
    """

    def feed(
        self, line: bytes, *, source: str, line_no: int, received: datetime
    ) -> list[TrackReport | Rejection]:
        """One report, or why the line is not one; a blank line gives nothing."""
        if not line.strip():
            return []
        try:
            return [parse_json_report(line, source=source, received=received)]
        except ReportError as e:
            return [
                Rejection.of(
                    source=source,
                    line=line_no,
                    reason=e.reason,
                    detail=e.detail,
                    raw=line,
                    received=received,
                )
            ]

    def expire(self, now: datetime) -> list[Rejection]:
        """Nothing waits in JSON lines."""
        return []

    def flush(self) -> list[Rejection]:
        """Nothing waits in JSON lines."""
        return []


@dataclass(frozen=True, slots=True)
class FeedStats:
    """What a feed has read so far; ``last_report`` is the receive time of the newest report."""

    lines: int
    reports: int
    quarantined: int
    last_report: datetime | None


class Feed:
    """One source read in the background: reports to a callback, the rest to the quarantine.

    Args:
        name: the feed's name in logs, reports and the quarantine
            (``ais-baltic``).
        source: where the lines come from.
        format: ``ais``, ``sbs`` or ``jsonl``.
        registry: places each unit with a party (``ais`` and ``sbs``).
        quarantine: where refused lines go.
        on_report: called, in the feed's thread, with each report; returning
            False says it was refused, and the feed stays silent for it.
        clock: now, as an aware UTC time; passed in for tests.
        retry_s: wait before opening the source again after it failed.
    """

    def __init__(
        self,
        name: str,
        source: Source,
        *,
        format: Format,
        registry: Registry,
        quarantine: Quarantine,
        on_report: Callable[[TrackReport], bool | None],
        clock: Clock = _utcnow,
        retry_s: float = 5.0,
    ) -> None:
        self.name = name
        self.source = source
        self.format = format
        #: The format's parser; an :class:`AisAssembler` holds the vessels' static data.
        self.parser = _parser(format, registry)
        self._quarantine = quarantine
        self._on_report = on_report
        self._clock = clock
        self._retry = retry_s
        self._lock = threading.Lock()
        self._lines = self._reports = self._quarantined = 0
        self._last: datetime | None = None
        self._since = clock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Read in the background until :meth:`stop`."""
        self._since = self._clock()
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, name=f"detente-feed-{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop reading (within the source's ``poll_s``) and let go of the source."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.source.close()

    @property
    def running(self) -> bool:
        """Whether the thread is reading (a file without ``follow`` ends by itself)."""
        return self._thread is not None and self._thread.is_alive()

    def stats(self) -> FeedStats:
        """The counts so far, all taken at one instant."""
        with self._lock:
            return FeedStats(self._lines, self._reports, self._quarantined, self._last)

    def silent_for(self, now: datetime) -> timedelta:
        """How long no good report came: since the last one, or since the start if none.

        The node raises a "feed silent" alarm when this passes its limit:
        a feed that only sends garbage is as silent as one that sends
        nothing.
        """
        with self._lock:
            since = self._last if self._last is not None else self._since
        return max(now - since, timedelta(0))

    def run(self, stop: threading.Event) -> None:
        """Read the source until ``stop`` (or a file's end): the body of the thread."""
        while not stop.is_set():
            lines = self.source.lines(stop)
            try:
                for line in lines:
                    if line is None:
                        self._handle(self.parser.expire(self._clock()))
                    else:
                        self._line(line)
            except Exception as e:  # noqa: BLE001 - the feed must outlive any one failure
                log.warning(
                    "feed %s: %s failed (%s); again in %g s", self.name, self.source, e, self._retry
                )
                stop.wait(self._retry)
                continue
            finally:
                lines.close()
            if not stop.is_set():  # the source ended: the end of a file
                self._handle(self.parser.flush())
                return

    def _loop(self) -> None:
        self.run(self._stop)

    def _line(self, line: Line) -> None:
        with self._lock:
            self._lines += 1
            number = self._lines
        if line.too_long:
            self._reject(number, line, "too_long", f"longer than {MAX_LINE_BYTES} bytes")
            return
        try:
            outcomes = self.parser.feed(
                line.data, source=self.name, line_no=number, received=line.received
            )
        except Exception as e:  # noqa: BLE001 - a parser's bug must cost one line, not the feed
            log.exception("feed %s line %d: the %s parser failed", self.name, number, self.format)
            self._reject(number, line, "parser_error", f"{type(e).__name__}: {e}")
            return
        self._handle(outcomes)

    def _reject(self, number: int, line: Line, reason: str, detail: str) -> None:
        rejection = Rejection.of(
            source=self.name,
            line=number,
            reason=reason,
            detail=detail,
            raw=line.data,
            received=line.received,
        )
        self._handle([rejection])

    def _handle(self, outcomes: Sequence[TrackReport | Rejection]) -> None:
        for outcome in outcomes:
            if isinstance(outcome, Rejection):
                with self._lock:
                    self._quarantined += 1
                self._quarantine.add(outcome)
                continue
            with self._lock:
                self._reports += 1
            try:
                taken = self._on_report(outcome)
            except Exception:  # noqa: BLE001 - a failing consumer must not stop the feed
                log.exception("feed %s: the report callback failed", self.name)
                continue
            if taken is not False:  # refused downstream (stale, say): still silent
                with self._lock:
                    self._last = outcome.received or self._clock()


def _parser(format: Format, registry: Registry) -> AisAssembler | SbsTracker | JsonLinesParser:
    if format == "ais":
        return AisAssembler(registry)
    if format == "sbs":
        return SbsTracker(registry)
    if format == "jsonl":
        return JsonLinesParser()
    raise ConfigError(f"feed format {format!r}: use ais, sbs or jsonl")
