"""Benchmark the exchange between two nodes on loopback, SQLite durable.

Two nodes, ``us`` and ``ru``, run as ``detente serve`` subprocesses on
127.0.0.1 (sender woken every 0.05 s or on submit). Figures, each printed
next to a reference measured in the same run on the same machine:

* delivery: N envelopes already in us's log (appended in batches of 1,000
  before the nodes start, so one signed checkpoint per 1,000) delivered to
  ru and receipted back, timed from us's first answer until ru's
  ``receipted_size`` reaches N (goal: at least 2,000 env/s). Measured
  twice on copies of the same nodes: watching progress through us's
  ``GET /v1/peers`` every 20 ms, as an operator would, and reading it from
  us's SQLite file, which costs the node nothing. Reference: the same
  envelopes read from a copy of us's database and passed to
  ``receive_delivery`` of a third node in process, receipts verified and
  stored: the work without HTTP, processes or signed requests.
* submit: ``POST /v1/messages`` from one client, then from 4 concurrent
  clients (threads), while us's sender delivers what is submitted to ru;
  accepted submits per second (any other answer than 201 is counted and
  printed, not retried). Reference: ``LogWriter.append`` of one draft at a
  time, in process.
* round trip: one message at a time, from before ``POST /v1/messages``
  until ru's receipt is seen at us, looked for every 1 ms through
  ``GET /v1/peers`` and then, in a second series, in us's SQLite file;
  p50 and p99 (goal: p99 under 25 ms). Reference: the same steps in process
  (append, read the run, ``receive_delivery``, verify and store the
  receipt): three durable commits, no HTTP.

A ratio is the reference's cost over ours: 1.0 would mean the nodes add
nothing to the in-process work; 0.25 means they take four times as long.

Usage:
    python benchmarks/bench_exchange.py [--envelopes N] [--submits M] [--trips K]
                                        [--quick] [--json]
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from _report import Report
from detente.exchange.receive import Delivery, receive_delivery
from detente.node import Node, Peer, init_node, open_node
from detente.node.operators import Role, add_operator, authenticate
from detente.node.writer import Draft, LogWriter
from detente.record.checkpoint import SignedCheckpoint
from detente.record.envelope import Envelope
from detente.store.logs import LogStore

AGREEMENT = "security-replies-2022"
PREFILL_BATCH = 1000
RETRY_INTERVAL = 0.05
CONCURRENT_CLIENTS = 4
STARTUP_TIMEOUT = 60.0

Progress = Callable[[], int]


def _draft(i: int) -> Draft:
    return Draft(type="message", body={"text": f"routine notification {i}"}, to=("ru",))


def _message(i: int) -> dict[str, Any]:
    return {"type": "message", "body": {"text": f"routine notification {i}"}, "to": ["ru"]}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of ``values``."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _cpu_seconds(pid: int) -> float | None:
    """User and system CPU seconds of process ``pid`` so far (Linux), else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _add_peer(node: Node, party: str, url: str, other: Node) -> None:
    peer = Peer(party=party, url=url, key=other.verifier)
    node.save_config(replace(node.config, peers=(*node.config.peers, peer)))


@dataclass(frozen=True)
class Setup:
    """Where the nodes live, the ports they answer on and us's operator token.

    ``root/<copy>/us`` and ``root/<copy>/ru`` are a pair keyed to each
    other; ``ref`` holds a byte copy of us (same key, same log) and a third
    node, a second ru with us as its peer, that receives in process.
    """

    root: Path
    us_port: int
    ru_port: int
    token: str

    def us(self, copy: str) -> Path:
        return self.root / copy / "us"

    def ru(self, copy: str) -> Path:
        return self.root / copy / "ru"


def make_nodes(root: Path, envelopes: int, copies: tuple[str, ...]) -> Setup:
    """Create us and ru keyed to each other, fill us's log, copy the pair for each run."""
    setup = Setup(root, _free_port(), _free_port(), "")
    us = init_node(setup.us("seed"), party="us", agreement_ref=AGREEMENT)
    ru = init_node(setup.ru("seed"), party="ru", agreement_ref=AGREEMENT)
    ru_ref = init_node(setup.ru("ref"), party="ru", agreement_ref=AGREEMENT)
    try:
        _add_peer(us, "ru", f"http://127.0.0.1:{setup.ru_port}", ru)
        _add_peer(ru, "us", f"http://127.0.0.1:{setup.us_port}", us)
        _add_peer(ru_ref, "us", "http://127.0.0.1:9", us)
        _, token = add_operator(us, "bench", Role.operator)
        writer = LogWriter(us)
        done = 0
        while done < envelopes:
            step = min(PREFILL_BATCH, envelopes - done)
            writer.append([_draft(done + i) for i in range(step)])
            done += step
    finally:
        for node in (us, ru, ru_ref):
            node.close()
    # Closed, so each WAL is checkpointed into detente.db; copies take that file.
    shutil.copytree(setup.us("seed"), setup.us("ref"))
    for copy in copies:
        shutil.copytree(setup.root / "seed", setup.root / copy)
    return replace(setup, token=token)


def _read_run(node: Node, start: int, end: int, recipient: str) -> Delivery:
    """What the sender sends for entries ``[start, end)``: leaves, bodies, checkpoint."""
    with node.database.engine.connect() as conn:
        log = LogStore(conn, node.party)
        entries: list[tuple[bytes, bytes | None]] = []
        for batch in log.iter_entries(start, end):
            for row in batch:
                header = Envelope.from_leaf(row.leaf).header
                entries.append((row.leaf, row.body if recipient in header.to else None))
        held = log.checkpoint(end)
    assert held is not None
    return Delivery(sender=node.party, checkpoint=held[1], entries=entries)


def _store_receipt(us: Node, ru: Node, delivery: Delivery) -> None:
    """Receive ``delivery`` at ``ru``; verify and store the receipt at ``us``."""
    receipt = receive_delivery(ru, delivery)
    stamp = receipt.cosignature
    if stamp is None:
        raise RuntimeError(f"no receipt for a run ending at checkpoint {receipt.size}")
    stamp.verify(SignedCheckpoint.from_text(delivery.checkpoint).checkpoint, ru.verifier)
    with us.database.engine.begin() as conn:
        LogStore(conn, us.party).add_cosignature(
            receipt.size, stamp.name, stamp.timestamp, stamp.to_line()
        )


def reference_delivery(setup: Setup) -> dict[str, float]:
    """Deliver the reference us's whole log to the third node, one run per checkpoint."""
    us, ru = open_node(setup.us("ref")), open_node(setup.ru("ref"))
    try:
        with us.database.engine.connect() as conn:
            sizes = [size for size, _ in LogStore(conn, us.party).checkpoints()]
        read = receive = 0.0
        start = 0
        for end in sizes:
            t0 = time.perf_counter()
            delivery = _read_run(us, start, end, "ru")
            t1 = time.perf_counter()
            _store_receipt(us, ru, delivery)
            read += t1 - t0
            receive += time.perf_counter() - t1
            start = end
    finally:
        us.close()
        ru.close()
    return {"rate": start / (read + receive), "read_s": read, "receive_s": receive}


def reference_round_trip(setup: Setup, trips: int) -> list[float]:
    """Milliseconds for append, read, receive, verify and store, one message at a time."""
    us, ru = open_node(setup.us("ref")), open_node(setup.ru("ref"))
    writer = LogWriter(us)
    latencies = []
    try:
        for i in range(trips):
            t0 = time.perf_counter()
            result = writer.append([_draft(i)])
            size = result.checkpoint.checkpoint.size
            _store_receipt(us, ru, _read_run(us, size - 1, size, "ru"))
            latencies.append((time.perf_counter() - t0) * 1000)
    finally:
        us.close()
        ru.close()
    return latencies


def reference_submit(setup: Setup, submits: int) -> dict[str, float]:
    """Single-draft appends per second in process, and one token check's cost."""
    us = open_node(setup.us("ref"))
    try:
        writer = LogWriter(us)
        start = time.perf_counter()
        for i in range(submits):
            writer.append([_draft(i)])
        rate = submits / (time.perf_counter() - start)
        checks = 50
        start = time.perf_counter()
        for _ in range(checks):
            authenticate(us, setup.token)
        auth_ms = (time.perf_counter() - start) / checks * 1000
    finally:
        us.close()
    return {"rate": rate, "auth_ms": auth_ms}


@contextmanager
def serving(directory: Path, port: int, logs: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``detente serve`` on ``directory``; terminate it (then kill) on exit."""
    log = (logs / f"{directory.parent.name}-{directory.name}.log").open("wb")
    command = [
        sys.executable,
        "-m",
        "detente.cli.app",
        "serve",
        "--dir",
        str(directory),
        "--port",
        str(port),
        "--retry-interval",
        str(RETRY_INTERVAL),
    ]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_healthy(process: subprocess.Popen[bytes], port: int, logs: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                tails = "\n".join(log.read_text()[-2000:] for log in sorted(logs.glob("*.log")))
                raise RuntimeError(f"the node on port {port} exited:\n{tails}")
            try:
                if client.get(f"http://127.0.0.1:{port}/v1/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.02)
    raise RuntimeError(f"the node on port {port} did not answer within {STARTUP_TIMEOUT} s")


def _operator_client(setup: Setup) -> httpx.Client:
    return httpx.Client(
        base_url=f"http://127.0.0.1:{setup.us_port}",
        headers={"Authorization": f"Bearer {setup.token}"},
        timeout=30.0,
    )


def _ru_state(client: httpx.Client) -> dict[str, Any] | None:
    """us's view of ru (``GET /v1/peers``), or None if us did not answer it."""
    try:
        response = client.get("/v1/peers")
    except httpx.TransportError:
        return None
    if response.status_code != 200:
        return None
    peers: list[dict[str, Any]] = response.json()["peers"]
    return next(p for p in peers if p["party"] == "ru")


def _receipted_by_api(client: httpx.Client) -> Progress:
    def receipted() -> int:
        state = _ru_state(client)
        return -1 if state is None else int(state["receipted_size"])

    return receipted


@contextmanager
def _receipted_in_database(us: Path) -> Iterator[Progress]:
    """ru's ``receipted_size`` read from us's SQLite file by a WAL reader."""
    db = sqlite3.connect(f"file:{us / 'detente.db'}?mode=ro", uri=True)
    db.isolation_level = None

    def receipted() -> int:
        row = db.execute("SELECT receipted_size FROM deliveries WHERE peer = 'ru'").fetchone()
        return -1 if row is None else int(row[0])

    try:
        yield receipted
    finally:
        db.close()


def start_nodes(
    setup: Setup, copy: str, stack: ExitStack, logs: Path
) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes], float]:
    """Start ru and wait for it, then launch us; return both and us's launch time."""
    ru = stack.enter_context(serving(setup.ru(copy), setup.ru_port, logs))
    _wait_healthy(ru, setup.ru_port, logs)
    launched = time.perf_counter()
    us = stack.enter_context(serving(setup.us(copy), setup.us_port, logs))
    _wait_healthy(us, setup.us_port, logs)
    return us, ru, launched


def bench_delivery(
    setup: Setup, copy: str, envelopes: int, stack: ExitStack, logs: Path, *, in_database: bool
) -> dict[str, Any]:
    """Time the backlog's delivery and receipts from us's first answer; each node's CPU."""
    us_process, ru_process, launched = start_nodes(setup, copy, stack, logs)
    answered = time.perf_counter()
    cpu_before = _cpu_seconds(us_process.pid), _cpu_seconds(ru_process.pid)
    with ExitStack() as watch:
        client = watch.enter_context(_operator_client(setup))
        receipted = (
            watch.enter_context(_receipted_in_database(setup.us(copy)))
            if in_database
            else _receipted_by_api(client)
        )
        at_answer = max(0, receipted())
        deadline = time.monotonic() + STARTUP_TIMEOUT + envelopes / 100
        done = at_answer
        while done < envelopes:
            if time.monotonic() > deadline:
                raise RuntimeError(f"delivery stalled; us's view of ru: {_ru_state(client)}")
            if us_process.poll() is not None or ru_process.poll() is not None:
                raise RuntimeError(f"a node exited; see {logs}")
            time.sleep(0.02)
            done = receipted()
        finished = time.perf_counter()
    cpu_after = _cpu_seconds(us_process.pid), _cpu_seconds(ru_process.pid)
    cpu = [
        None if a is None or b is None else a - b
        for a, b in zip(cpu_after, cpu_before, strict=True)
    ]
    return {
        "rate": (envelopes - at_answer) / (finished - answered),
        "seconds": finished - answered,
        "startup_s": answered - launched,
        "receipted_at_answer": at_answer,
        "us_cpu_s": cpu[0],
        "ru_cpu_s": cpu[1],
    }


def _submit_many(client: httpx.Client, numbers: range, errors: list[str]) -> None:
    for i in numbers:
        response = client.post("/v1/messages", json=_message(i))
        if response.status_code != 201:
            errors.append(f"{response.status_code} {response.text[:200]}")


def bench_submit(setup: Setup, submits: int, clients: int) -> tuple[float, list[str]]:
    """Accepted submits per second from ``clients`` threads, each with its own connection."""
    errors: list[str] = []
    share = -(-submits // clients)
    parts = [range(k * share, min(submits, (k + 1) * share)) for k in range(clients)]
    with ExitStack() as stack:
        sessions = [stack.enter_context(_operator_client(setup)) for _ in parts]
        threads = [
            threading.Thread(target=_submit_many, args=(s, part, errors))
            for s, part in zip(sessions, parts, strict=True)
        ]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
    return (submits - len(errors)) / elapsed, errors


def _wait_drained(client: httpx.Client, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = _ru_state(client)
        if state is not None and state["backlog"] == 0:
            return
        time.sleep(0.05)
    raise RuntimeError(f"us's backlog to ru did not drain within {timeout} s")


def bench_round_trip(setup: Setup, copy: str, trips: int, *, in_database: bool) -> list[float]:
    """Milliseconds from submit until ru's receipt is seen at us, one message at a time."""
    latencies = []
    with ExitStack() as stack:
        client = stack.enter_context(_operator_client(setup))
        _wait_drained(client, 120.0)
        receipted = (
            stack.enter_context(_receipted_in_database(setup.us(copy)))
            if in_database
            else _receipted_by_api(client)
        )
        for i in range(trips):
            start = time.perf_counter()
            response = client.post("/v1/messages", json=_message(i))
            if response.status_code != 201:
                raise RuntimeError(f"submit failed: {response.status_code} {response.text}")
            wanted = int(response.json()["seq"]) + 1
            deadline = time.monotonic() + 30.0
            while receipted() < wanted:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"message {wanted - 1} not receipted within 30 s")
                time.sleep(0.001)
            latencies.append((time.perf_counter() - start) * 1000)
    return latencies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envelopes", type=int, default=20_000)
    parser.add_argument("--submits", type=int, default=2_000)
    parser.add_argument("--trips", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="2,000 / 200 / 50, a smoke run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.envelopes, args.submits, args.trips = 2_000, 200, 50
    cores = os.cpu_count() or 1
    report = Report()
    row = report.row

    watched = {"API": "GET /v1/peers", "database": "us's SQLite"}
    with tempfile.TemporaryDirectory(prefix="detente-bench-") as tmp, ExitStack() as servers:
        root = Path(tmp)
        logs = root / "logs"
        logs.mkdir()
        setup = make_nodes(root, args.envelopes, copies=("api",))

        ref_delivery = reference_delivery(setup)
        ref_trips = reference_round_trip(setup, args.trips)
        ref_submit = reference_submit(setup, args.submits)

        with ExitStack() as first:
            by_api = bench_delivery(setup, "api", args.envelopes, first, logs, in_database=False)
        by_db = bench_delivery(setup, "seed", args.envelopes, servers, logs, in_database=True)
        for where, delivery in (("API", by_api), ("database", by_db)):
            row(
                f"delivery, watched in {watched[where]} (env/s)",
                delivery["rate"],
                ref_delivery["rate"],
                "in process, no HTTP (receive_delivery)",
                delivery["rate"] / ref_delivery["rate"],
                ">= 2,000 env/s",
                delivery["rate"] >= 2000,
            )

        sequential, errors_1 = bench_submit(setup, args.submits, 1)
        concurrent, errors_n = bench_submit(setup, args.submits, CONCURRENT_CLIENTS)
        for label, rate in (
            ("1 client", sequential),
            (f"{CONCURRENT_CLIENTS} clients", concurrent),
        ):
            row(
                f"POST /v1/messages, {label} (submits/s)",
                rate,
                ref_submit["rate"],
                "LogWriter.append of 1 draft, in process",
                rate / ref_submit["rate"],
                "n/a",
                None,
            )

        trips = {
            where: bench_round_trip(setup, "seed", args.trips, in_database=where == "database")
            for where in watched
        }
        for where, seen in watched.items():
            for p in (50, 99):
                ours, ref = _percentile(trips[where], p), _percentile(ref_trips, p)
                row(
                    f"round trip, receipt seen in {seen}, p{p} (ms)",
                    ours,
                    ref,
                    f"in process, p{p}: append, receive, store receipt",
                    ref / ours,
                    "< 25 ms" if p == 99 else "n/a",
                    ours < 25 if p == 99 else None,
                )
    notes: dict[str, Any] = {
        "delivery": {"API": by_api, "database": by_db},
        "reference_delivery_read_s": ref_delivery["read_s"],
        "reference_delivery_receive_s": ref_delivery["receive_s"],
        "token_check_ms": ref_submit["auth_ms"],
        "round_trip_max_ms": {where: max(v) for where, v in trips.items()},
        "submit_errors": {"1 client": errors_1, f"{CONCURRENT_CLIENTS} clients": errors_n},
    }

    if args.json:
        sizes = {"envelopes": args.envelopes, "submits": args.submits, "trips": args.trips}
        report.print_json(**sizes, cores=cores, notes=notes)
        return 0
    report.print_table(
        f"exchange benchmark: {args.envelopes:,} envelopes, {args.submits:,} submits, "
        f"{args.trips} round trips, {cores} cores, loopback, SQLite synchronous=FULL"
    )
    for where, delivery in notes["delivery"].items():
        cpu = ""
        if delivery["us_cpu_s"] is not None and delivery["ru_cpu_s"] is not None:
            cpu = f"; CPU us {delivery['us_cpu_s']:.2f} s, ru {delivery['ru_cpu_s']:.2f} s"
        print(
            f"delivery watched in {watched[where]}: {delivery['seconds']:.2f} s after us's "
            f"first answer ({delivery['startup_s']:.2f} s after launch, "
            f"{delivery['receipted_at_answer']:,} receipted by then){cpu}"
        )
    print(
        f"reference delivery: {notes['reference_delivery_read_s']:.2f} s reading runs, "
        f"{notes['reference_delivery_receive_s']:.2f} s receiving and storing receipts"
    )
    worst = notes["round_trip_max_ms"]
    print(
        f"one operator token check (argon2id), in process: {notes['token_check_ms']:.2f} ms; "
        f"round trip max {worst['API']:.1f} ms (API), {worst['database']:.1f} ms (database)"
    )
    for label, errors in notes["submit_errors"].items():
        if errors:
            print(
                f"POST /v1/messages, {label}: {len(errors):,} of {args.submits:,} refused "
                f"(not counted in the rate); first: {errors[0]}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
