"""Benchmark the priority lane: a FLASH round trip behind a routine backlog.

Two nodes, ``us`` and ``ru``, run as ``detente serve`` subprocesses on
127.0.0.1 (SQLite, synchronous=FULL). us's log is prefilled with routine
messages to ru, far more than ru can take during the run, so that at every
FLASH at least 10,000 routine messages are still queued for ru: the
backlog is read from us's database before each FLASH and printed, and a
trip with fewer queued is not counted.

Figures, each beside a reference measured in the same run:

* FLASH round trip: from before ``POST /v1/messages`` (priority FLASH, to
  ru) until ru's receipt is seen in us's SQLite file, looked for every
  1 ms (the lane's receipt, or the ordinary one when nothing was queued and
  the ordinary delivery got there first); p50 and p99 (goal: p99 under
  50 ms). Reference: the same FLASH round trip with nothing queued, on a
  second pair of nodes.
* ROUTINE behind the backlog: one routine message submitted behind the
  same backlog, timed until ru's receipt covers it: what the FLASH would
  wait without the lane. Reference: the backlog over the delivery rate.

Usage:
    python benchmarks/bench_priority.py [--backlog N] [--trips K] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

from _report import Report
from bench_exchange import _operator_client, _percentile, make_nodes, start_nodes

QUEUED = 10_000
# ru takes about 3,000 routine envelopes a second: enough to stay above
# QUEUED for the whole run.
DRAIN_PER_TRIP = 400


def _flash(i: int, priority: str = "FLASH") -> dict[str, Any]:
    return {
        "type": "message",
        "body": {"text": f"{priority} {i}: unsafe close approach, alter course"},
        "to": ["ru"],
        "priority": priority,
    }


@contextmanager
def _reader(us: Path) -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(f"file:{us / 'detente.db'}?mode=ro", uri=True)
    db.isolation_level = None
    try:
        yield db
    finally:
        db.close()


def _queued(db: sqlite3.Connection) -> int:
    size = db.execute("SELECT COALESCE(MAX(seq) + 1, 0) FROM entries WHERE party = 'us'")
    delivered = db.execute("SELECT delivered_size FROM deliveries WHERE peer = 'ru'").fetchone()
    return int(size.fetchone()[0]) - (0 if delivered is None else int(delivered[0]))


def _receipted(db: sqlite3.Connection, seq: int) -> bool:
    """ru's receipt for ``seq``: through the lane, or in order if the lane had no need."""
    row = db.execute(
        "SELECT cosignature FROM priority_lane WHERE seq = ? AND peer = 'ru'", (seq,)
    ).fetchone()
    return (row is not None and row[0] is not None) or _receipted_size(db) > seq


def _receipted_size(db: sqlite3.Connection) -> int:
    row = db.execute("SELECT receipted_size FROM deliveries WHERE peer = 'ru'").fetchone()
    return -1 if row is None else int(row[0])


def flash_trips(
    client: httpx.Client, db: sqlite3.Connection, trips: int, *, minimum: int
) -> tuple[list[float], list[int]]:
    """FLASH round trips (ms) and the backlog before each; trips below ``minimum`` dropped."""
    latencies, backlogs = [], []
    for i in range(trips):
        queued = _queued(db)
        start = time.perf_counter()
        response = client.post("/v1/messages", json=_flash(i))
        if response.status_code != 201:
            raise RuntimeError(f"submit failed: {response.status_code} {response.text}")
        seq = int(response.json()["seq"])
        deadline = time.monotonic() + 30.0
        while not _receipted(db, seq):
            if time.monotonic() > deadline:
                raise RuntimeError(f"FLASH us:{seq} not receipted within 30 s")
            time.sleep(0.001)
        elapsed = (time.perf_counter() - start) * 1000
        if queued >= minimum:
            latencies.append(elapsed)
            backlogs.append(queued)
    return latencies, backlogs


def routine_behind(client: httpx.Client, db: sqlite3.Connection) -> dict[str, float]:
    """One ROUTINE message behind the backlog: seconds until ru receipts it."""
    queued = _queued(db)
    start = time.perf_counter()
    response = client.post("/v1/messages", json=_flash(0, "ROUTINE"))
    if response.status_code != 201:
        raise RuntimeError(f"submit failed: {response.status_code} {response.text}")
    wanted = int(response.json()["seq"]) + 1
    first = _receipted_size(db)
    deadline = time.monotonic() + 600.0
    while _receipted_size(db) < wanted:
        if time.monotonic() > deadline:
            raise RuntimeError("the routine message was not receipted within 600 s")
        time.sleep(0.01)
    seconds = time.perf_counter() - start
    rate = (wanted - max(first, 0)) / seconds
    return {"seconds": seconds, "queued": queued, "rate": rate}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trips", type=int, default=200)
    parser.add_argument("--backlog", type=int, default=0, help="prefill (default: enough)")
    parser.add_argument("--quick", action="store_true", help="50 trips, a smoke run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.trips = 50
    prefill = args.backlog or QUEUED + DRAIN_PER_TRIP * args.trips + 20_000
    cores = os.cpu_count() or 1
    report = Report()

    with tempfile.TemporaryDirectory(prefix="detente-bench-") as tmp:
        root = Path(tmp)
        logs = root / "logs"
        logs.mkdir()
        backlog = make_nodes(root / "backlog", prefill, copies=("run",))
        idle = make_nodes(root / "idle", 0, copies=("run",))

        with ExitStack() as stack:
            start_nodes(idle, "run", stack, logs)
            client = stack.enter_context(_operator_client(idle))
            db = stack.enter_context(_reader(idle.us("run")))
            reference, _ = flash_trips(client, db, args.trips, minimum=0)

        with ExitStack() as stack:
            start_nodes(backlog, "run", stack, logs)
            client = stack.enter_context(_operator_client(backlog))
            db = stack.enter_context(_reader(backlog.us("run")))
            ours, queued = flash_trips(client, db, args.trips, minimum=QUEUED)
            behind = routine_behind(client, db)

    if not ours:
        raise RuntimeError(f"no FLASH trip had {QUEUED:,} queued; raise --backlog")
    for p in (50, 99):
        mine, ref = _percentile(ours, p), _percentile(reference, p)
        report.row(
            f"FLASH round trip, >= {QUEUED:,} queued, p{p} (ms)",
            mine,
            ref,
            f"FLASH, nothing queued, p{p}",
            ref / mine,
            "< 50 ms" if p == 99 else "n/a",
            mine < 50 if p == 99 else None,
        )
    report.row(
        "ROUTINE behind the same backlog (s)",
        behind["seconds"],
        behind["queued"] / behind["rate"],
        "backlog / delivery rate",
        None,
        "n/a",
        None,
    )
    notes = {
        "trips_counted": len(ours),
        "trips": args.trips,
        "queued_min": min(queued),
        "queued_max": max(queued),
        "flash_p90_ms": _percentile(ours, 90),
        "flash_max_ms": max(ours),
        "routine": behind,
    }
    if args.json:
        report.print_json(prefill=prefill, cores=cores, notes=notes)
        return 0
    report.print_table(
        f"priority lane benchmark: {args.trips} FLASH trips, {prefill:,} routine prefilled, "
        f"{cores} cores, loopback, SQLite synchronous=FULL"
    )
    print(
        f"{notes['trips_counted']} of {args.trips} trips had >= {QUEUED:,} routine queued "
        f"(from {notes['queued_min']:,} to {notes['queued_max']:,}); "
        f"FLASH p90 {notes['flash_p90_ms']:.1f} ms, max {notes['flash_max_ms']:.1f} ms"
    )
    print(
        f"a ROUTINE message behind {behind['queued']:,} queued took {behind['seconds']:.1f} s "
        f"(delivery at {behind['rate']:,.0f} env/s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
