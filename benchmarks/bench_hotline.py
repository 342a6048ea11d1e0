"""Benchmark the hotline: a FLASH message from one operator's submit to the other's screen.

Two nodes, ``us`` and ``ru``, run as ``detente serve`` subprocesses on
127.0.0.1 (SQLite, synchronous=FULL). A ru watch officer's console is
open: logged in over HTTP (CSRF token and Secure session cookie, as a
browser on loopback keeps it), holding ``GET /console/events`` on ru's
node and, like a browser's EventSource, reconnecting with
``Last-Event-ID`` after the server's ``retry`` delay each time the stream
ends (every 25 s).

Figure: from before us's operator's ``POST /v1/messages`` (a ``message``,
priority FLASH, to ru) until ru's stream delivers the ``change`` event
with ``"flash": true``; p50 and p99 (goal: p99 under 50 ms). Between
trips the pair settles: ru's stream has shown the message mirrored in
order and us holds ru's receipt, so every trip starts from quiet nodes and
every FLASH event is matched to its own trip (its event id, a snapshot of
ru's tables, must show the entry ahead of the log or in the mirror; a
second alert for a message already counted is counted apart). Then
a random pause of up to 0.5 s, so that a FLASH message does not always
arrive at the same moment of a polling stream's half-second cycle. The
time until us answers the submit is kept beside each trip, as a note.

Second figure, the console's own share: from the moment the FLASH message
is seen stored in ru's SQLite file (looked for every 1 ms by a reader in
this process: taken ahead of the log, or mirrored in order) until the
same event; p50 and p99.

Reference, on a second pair of nodes in the same run: the same trips with
the push turned off (``DETENTE_CONSOLE_PUSH=0``): the stream polls ru's
tables every 0.5 s, as it did before the change bell.

Usage:
    python benchmarks/bench_hotline.py [--trips K] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import re
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from _report import Report
from bench_exchange import Setup, _operator_client, _percentile, make_nodes, start_nodes
from bench_priority import _flash, _reader, _receipted_size
from detente.console.snapshot import Snapshot, decode
from detente.node import open_node
from detente.node.logins import set_password
from detente.node.operators import Role, add_operator

OFFICER = "watch"
PASSWORD = "a ru watch officer's passphrase"  # noqa: S105 - a throwaway benchmark node's
PUSH_ENV = "DETENTE_CONSOLE_PUSH"
EVENT_TIMEOUT = 30.0
# Up to one poll of the console's stream (console.live.POLL_SECONDS).
PAUSE = 0.5
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_COOKIE = re.compile(r"^([^=;]+)=([^;]*)")


def add_officer(ru: Path) -> None:
    """Give ru's node a console operator with a password."""
    node = open_node(ru)
    try:
        add_operator(node, OFFICER, Role.operator)
        set_password(node, OFFICER, PASSWORD)
    finally:
        node.close()


def log_in(url: str) -> str:
    """Log in to the console at ``url``; the ``Cookie`` header a browser would then send.

    httpx never sends a Secure cookie over plain http; browsers do on
    127.0.0.1, so the cookies are kept here.
    """
    cookies: dict[str, str] = {}

    def keep(response: httpx.Response) -> httpx.Response:
        for header in response.headers.get_list("set-cookie"):
            found = _COOKIE.match(header)
            if found:
                cookies[found.group(1)] = found.group(2)
        return response

    def cookie() -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}

    with httpx.Client(base_url=url, timeout=30.0) as client:
        page = keep(client.get("/console/login"))
        token = _CSRF.search(page.text)
        if token is None:
            raise RuntimeError("no CSRF token on the log-in page")
        form = {"csrf": token.group(1), "name": OFFICER, "password": PASSWORD, "next": ""}
        answer = keep(
            client.post(
                "/console/login",
                content=urlencode(form),
                headers={"Content-Type": "application/x-www-form-urlencoded", **cookie()},
            )
        )
    if answer.status_code != 303:
        raise RuntimeError(f"log-in refused: {answer.status_code} {answer.text[:200]}")
    return cookie()["Cookie"]


@dataclass(frozen=True)
class Event:
    """A ``change`` event as the console received it (``perf_counter`` seconds)."""

    at: float
    snapshot: Snapshot
    flash: bool


@dataclass
class ConsoleStream:
    """ru's console: ``GET /console/events``, read in a thread like an EventSource.

    Each ``change`` event is queued with its arrival time. When the server
    ends the stream, it waits the server's ``retry`` time and reconnects
    with ``Last-Event-ID``, as a browser does; ``gaps`` holds when each
    stream ended and when the next one answered, the time the console was
    not listening.
    """

    url: str
    cookie: str = ""
    events: queue.Queue[Event] = field(default_factory=queue.Queue)
    gaps: list[tuple[float, float]] = field(default_factory=list)
    failure: BaseException | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _ended: float | None = None

    def start(self, cookie: str) -> None:
        """Open the stream with the session ``cookie`` (a ``Cookie`` header)."""
        self.cookie = cookie
        self._thread = threading.Thread(target=self._run, name="console-stream", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop reconnecting; the thread ends when its node closes the stream."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(EVENT_TIMEOUT)

    def _run(self) -> None:
        last_id, retry = "", 1.0
        with httpx.Client(base_url=self.url, timeout=2 * EVENT_TIMEOUT) as client:
            while not self._stop.is_set():
                headers = {"Cookie": self.cookie, "Accept": "text/event-stream"}
                if last_id:
                    headers["Last-Event-ID"] = last_id
                try:
                    last_id, retry = self._read(client, headers, last_id, retry)
                except httpx.HTTPError as e:
                    if not self._stop.is_set():
                        self.failure = e
                    return
                except BaseException as e:  # noqa: BLE001 - handed to the main thread
                    self.failure = e
                    return
                if self._stop.is_set():
                    return
                self._ended = time.perf_counter()
                time.sleep(retry)

    def _read(
        self, client: httpx.Client, headers: dict[str, str], last_id: str, retry: float
    ) -> tuple[str, float]:
        with client.stream("GET", "/console/events", headers=headers) as response:
            if response.status_code != 200:
                raise RuntimeError(f"/console/events answered {response.status_code}")
            if self._ended is not None:
                self.gaps.append((self._ended, time.perf_counter()))
            event_id, data = "", ""
            for line in response.iter_lines():
                if line.startswith("retry: "):
                    retry = int(line.removeprefix("retry: ")) / 1000
                elif line.startswith("id: "):
                    event_id = line.removeprefix("id: ")
                elif line.startswith("data: "):
                    data = line.removeprefix("data: ")
                elif line == "" and data:
                    at = time.perf_counter()
                    snapshot = decode(event_id)
                    if snapshot is None:
                        raise RuntimeError(f"an event id that is no snapshot: {event_id[:80]}")
                    self.events.put(Event(at, snapshot, bool(json.loads(data)["flash"])))
                    last_id, event_id, data = event_id, "", ""
        return last_id, retry

    def next(self) -> Event:
        """The next event; raises if the stream failed or nothing came for a long time."""
        try:
            return self.events.get(timeout=EVENT_TIMEOUT)
        except queue.Empty:
            raise RuntimeError(
                f"no console event within {EVENT_TIMEOUT} s ({self.failure!r})"
            ) from None


def _mirrored(snapshot: Snapshot) -> int:
    """How much of us's log ru's mirror holds, in an event's snapshot."""
    return dict(snapshot[0]).get("us", 0)


def _early(snapshot: Snapshot) -> int:
    """How many entries ru holds ahead of its mirrors, in an event's snapshot."""
    return snapshot[1][1]


class Arrival(threading.Thread):
    """When the FLASH message us:``seq`` is first seen stored in ru's SQLite file."""

    def __init__(self, ru: Path, seq: int, early: int) -> None:
        super().__init__(name="arrival", daemon=True)
        self._path, self._seq, self._early = ru / "detente.db", seq, early
        self.at: float | None = None

    def run(self) -> None:
        db = sqlite3.connect(f"file:{self._path}?mode=ro", uri=True)
        db.isolation_level = None
        try:
            deadline = time.monotonic() + EVENT_TIMEOUT
            while time.monotonic() < deadline:
                early = db.execute("SELECT COUNT(*) FROM early_entries").fetchone()[0]
                mirrored = db.execute(
                    "SELECT COALESCE(MAX(seq) + 1, 0) FROM entries WHERE party = 'us'"
                ).fetchone()[0]
                if early > self._early or mirrored > self._seq:
                    self.at = time.perf_counter()
                    return
                time.sleep(0.001)
        finally:
            db.close()


def hotline_trips(setup: Setup, copy: str, trips: int, logs: Path) -> dict[str, Any]:
    """FLASH trips (ms) from us's submit to ru's console; the stream's reconnections."""
    latencies: list[float] = []
    answered: list[float] = []
    stored: list[float] = []
    duplicates = 0
    spanning = 0
    rng = random.Random(6)
    with ExitStack() as stack:
        # Registered first, so it runs after the nodes have stopped (and ended the stream).
        stream = ConsoleStream(f"http://127.0.0.1:{setup.ru_port}")
        stack.callback(stream.stop)
        start_nodes(setup, copy, stack, logs)
        client = stack.enter_context(_operator_client(setup))
        db = stack.enter_context(_reader(setup.us(copy)))
        stream.start(log_in(stream.url))
        began = time.perf_counter()
        seen = stream.next()  # the stream's first event: where the console stands
        for i in range(trips):
            time.sleep(rng.uniform(0, PAUSE))
            while not stream.events.empty():
                seen = stream.next()
                # Nothing was submitted since the last trip: a second alert for it.
                duplicates += seen.flash
            # The next seq: one FLASH message a trip, nothing else appended to us's log.
            seq = _mirrored(seen.snapshot)
            arrival = Arrival(setup.ru(copy), seq, _early(seen.snapshot))
            arrival.start()
            start = time.perf_counter()
            response = client.post("/v1/messages", json=_flash(i))
            answered.append((time.perf_counter() - start) * 1000)
            if response.status_code != 201:
                raise RuntimeError(f"submit failed: {response.status_code} {response.text}")
            if int(response.json()["seq"]) != seq:
                raise RuntimeError(f"us appended {response.json()['seq']}, not {seq}")
            event = stream.next()
            while not event.flash:
                event = stream.next()
            if event.at < start or not (
                _mirrored(event.snapshot) > seq or _early(event.snapshot) > _early(seen.snapshot)
            ):
                raise RuntimeError(f"a FLASH event that is not us:{seq}'s: {event}")
            latencies.append((event.at - start) * 1000)
            arrival.join()
            if arrival.at is None:
                raise RuntimeError(f"us:{seq} never seen in ru's database")
            stored.append((event.at - arrival.at) * 1000)
            if any(ended <= event.at and start <= up for ended, up in stream.gaps):
                spanning += 1
            # Settle: ru's console shows the message mirrored in order, us holds the receipt.
            seen = event
            while _mirrored(seen.snapshot) <= seq:
                seen = stream.next()
            deadline = time.monotonic() + EVENT_TIMEOUT
            while _receipted_size(db) <= seq:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"FLASH us:{seq} not receipted within {EVENT_TIMEOUT} s")
                time.sleep(0.001)
        if stream.failure is not None:
            raise RuntimeError(f"the console stream failed: {stream.failure!r}")
        listened = time.perf_counter() - began
        gaps = list(stream.gaps)
    return {
        "latencies": latencies,
        "answered": answered,
        "stored": stored,
        "reconnects": len(gaps),
        "down": sum(up - ended for ended, up in gaps) / listened,
        "spanning": spanning,
        "duplicates": duplicates,
    }


@contextmanager
def _environment(name: str, value: str | None) -> Iterator[None]:
    """``os.environ[name]`` set (or removed) for the nodes started within."""
    before = os.environ.get(name)
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trips", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="30 trips, a smoke run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.trips = 30
    cores = os.cpu_count() or 1
    report = Report()

    with tempfile.TemporaryDirectory(prefix="detente-bench-") as tmp:
        root = Path(tmp)
        logs = root / "logs"
        logs.mkdir()
        setup = make_nodes(root, 0, copies=("push", "poll"))
        for copy in ("push", "poll"):
            add_officer(setup.ru(copy))
        with _environment(PUSH_ENV, None):
            push = hotline_trips(setup, "push", args.trips, logs)
        with _environment(PUSH_ENV, "0"):
            poll = hotline_trips(setup, "poll", args.trips, logs)

    ours, reference = push["latencies"], poll["latencies"]
    for p in (50, 99):
        mine, ref = _percentile(ours, p), _percentile(reference, p)
        report.row(
            f"FLASH submit to the other console, p{p} (ms)",
            mine,
            ref,
            f"poll only (DETENTE_CONSOLE_PUSH=0), p{p}",
            ref / mine,
            "< 50 ms" if p == 99 else "n/a",
            mine < 50 if p == 99 else None,
        )
    for p in (50, 99):
        mine, ref = _percentile(push["stored"], p), _percentile(poll["stored"], p)
        report.row(
            f"FLASH stored at ru to ru's console, p{p} (ms)",
            mine,
            ref,
            f"poll only (DETENTE_CONSOLE_PUSH=0), p{p}",
            ref / mine if mine > 0 else None,
            "n/a",
            None,
        )
    notes = {
        "trips": args.trips,
        "push_p90_ms": _percentile(ours, 90),
        "push_max_ms": max(ours),
        "poll_p90_ms": _percentile(reference, 90),
        "poll_max_ms": max(reference),
        "submit_answered_p50_ms": _percentile(push["answered"], 50),
        "submit_answered_p99_ms": _percentile(push["answered"], 99),
        "stream_reconnects": {"push": push["reconnects"], "poll": poll["reconnects"]},
        "trips_spanning_a_reconnect": {"push": push["spanning"], "poll": poll["spanning"]},
        "stream_down_fraction": {"push": push["down"], "poll": poll["down"]},
        "second_alerts": {"push": push["duplicates"], "poll": poll["duplicates"]},
    }
    if args.json:
        report.print_json(cores=cores, notes=notes)
        return 0
    report.print_table(
        f"hotline benchmark: {args.trips} FLASH trips us -> ru's console, {cores} cores, "
        "loopback, SQLite synchronous=FULL"
    )
    print(
        f"push: p90 {notes['push_p90_ms']:.1f} ms, max {notes['push_max_ms']:.1f} ms; "
        f"poll only: p90 {notes['poll_p90_ms']:.1f} ms, max {notes['poll_max_ms']:.1f} ms"
    )
    print(
        f"us answered the submit (push run) after {notes['submit_answered_p50_ms']:.1f} ms "
        f"at p50, {notes['submit_answered_p99_ms']:.1f} ms at p99"
    )
    print(
        f"the console's stream reconnected {push['reconnects']} times (push) and "
        f"{poll['reconnects']} times (poll), and was down {push['down']:.1%} and "
        f"{poll['down']:.1%} of the time; trips spanning a reconnection: "
        f"{push['spanning']} (push), {poll['spanning']} (poll)"
    )
    if push["duplicates"] or poll["duplicates"]:
        print(
            f"a second FLASH alert for the same message between trips: {push['duplicates']} "
            f"(push), {poll['duplicates']} (poll)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
