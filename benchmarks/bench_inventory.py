"""Benchmark committed inventories: commit to 1,000,000 items, open and verify 1,000.

Figures, each printed next to a reference measured in the same run:

* commit: :func:`detente.record.inventory.commit` of N item records -- ids
  checked unique, a fresh 32-byte salt per record, each record's leaf data
  assembled and hashed, the RFC 9162 tree built and its root taken (goal:
  under 5 s for 1,000,000). Making the records themselves (each field
  checked and encoded as UTF-8 with its length, in ``ItemRecord``) is not
  timed in the figure: it is the host's data entry, done once; it is shown
  on its own line. References, fed the very leaf bytes our commitment hashed
  (so neither pays for salts or encoding):

  - the hashlib floor: SHA-256 over each leaf's data and over N-1 interior
    nodes in a tight loop, no tree kept -- the least any RFC 9162 root of
    these leaves costs in Python;
  - pymerkle's ``InmemoryTree`` with each leaf appended, the maintained
    RFC 9162 implementation on PyPI (its root is checked to equal ours).

* open + verify: ``Commitment.open`` of K sampled records (record, salt,
  inclusion proof) and :func:`~detente.record.inventory.verify_opening` of
  each (goal: under 100 ms for 1,000). Reference: pymerkle's
  ``prove_inclusion`` and ``verify_inclusion`` of the same K leaves of its
  tree. Opening and verifying apart, and the whole trip through JSON
  (``to_json``, ``json.dumps``, ``json.loads``, ``from_json``), are shown
  for information.

Everything runs in one thread, pinned to one CPU where the OS allows. The
garbage collector is paused inside every timed region, for both sides, as
in the other benchmarks: with a million records alive, a full collection
that happens to fall inside a 30 ms region would measure the heap, not
the code.

Usage:
    python benchmarks/bench_inventory.py [--items N] [--samples K] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from _report import Report
from detente.record.inventory import (
    Commitment,
    ItemRecord,
    Opening,
    PublishedCommitment,
    commit,
    verify_opening,
)

try:
    import pymerkle
except ImportError:  # pragma: no cover - pymerkle is a dev dependency
    pymerkle = None

SEED = 7
CONTENTS = ("SM-3 interceptor", "none", "SM-3 interceptor", "SM-6 interceptor")


def _timed(fn: Callable[[], object]) -> float:
    """Run ``fn`` once with the collector paused; return seconds."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start
    finally:
        gc.enable()


def _records(n: int) -> list[ItemRecord]:
    return [
        ItemRecord(
            f"RO-DEV-{i:07d}",
            f"launcher {i // 24:05d} cell {i % 24:02d}",
            "deployed" if i % 5 else "empty",
            CONTENTS[i % 4] if i % 5 else "none",
        )
        for i in range(n)
    ]


def _floor(leaves: Sequence[bytes]) -> bytes:
    """Hash every leaf and n-1 interior nodes once, with nothing else."""
    sha256 = hashlib.sha256
    h = b""
    for data in leaves:
        h = sha256(b"\x00" + data).digest()
    for _ in range(len(leaves) - 1):
        h = sha256(b"\x01" + h + h).digest()
    return h


def _pymerkle_tree(leaves: Sequence[bytes]) -> Any:
    tree = pymerkle.InmemoryTree()
    append = tree.append_entry
    for data in leaves:
        append(data)
    return tree


def bench_commit(records: list[ItemRecord], repeats: int, report: Report) -> tuple[Commitment, Any]:
    """Time the commitment and its references; return ours and pymerkle's tree."""
    n = len(records)
    kept: list[Commitment] = []
    ours = min(
        _timed(lambda: kept.append(commit(records, site="deveselu"))) for _ in range(repeats)
    )
    commitment = kept[-1]
    del kept[:-1]
    leaf_data = [r.encode(s) for r, s in zip(commitment.records, commitment.salts, strict=True)]
    floor = min(_timed(lambda: _floor(leaf_data)) for _ in range(repeats))
    report.row(
        f"commit, {n:,} items (ms)",
        ours * 1e3,
        floor * 1e3,
        "hashlib floor: SHA-256 of the same leaf bytes + n-1 nodes",
        floor / ours,
        "< 5 s",
        ours < 5,
    )
    ref_tree = None
    if pymerkle is not None:
        holder: list[Any] = []
        ref = _timed(lambda: holder.append(_pymerkle_tree(leaf_data)))
        ref_tree = holder[0]
        if ref_tree.get_root() != commitment.root:
            raise SystemExit("pymerkle and detente disagree on the root")
        report.row(
            f"commit, {n:,} items, vs pymerkle (ms)",
            ours * 1e3,
            ref * 1e3,
            "pymerkle InmemoryTree fed the same leaf bytes",
            ref / ours,
            "< 5 s",
            ours < 5,
        )
    return commitment, ref_tree


def bench_open(commitment: Commitment, ref_tree: Any, samples: int, report: Report) -> None:
    """Time opening and verifying a sample, alone and through JSON."""
    n = commitment.size
    sample = random.Random(SEED).sample(range(n), samples)
    published = commitment.published
    openings: list[Opening] = []

    def open_sample() -> None:
        openings[:] = commitment.open(sample)

    def verify_sample() -> None:
        for opening, index in zip(openings, sample, strict=True):
            verify_opening(published, opening, index=index)

    def round_trip() -> None:
        body = json.dumps(
            {
                "commitment": published.to_json(),
                "openings": [o.to_json() for o in commitment.open(sample)],
            }
        )
        received = json.loads(body)
        there = PublishedCommitment.from_json(received["commitment"])
        for obj, index in zip(received["openings"], sample, strict=True):
            verify_opening(there, Opening.from_json(obj), index=index)

    opened = min(_timed(open_sample) for _ in range(3)) * 1e3
    verified = min(_timed(verify_sample) for _ in range(3)) * 1e3
    trip = min(_timed(round_trip) for _ in range(3)) * 1e3
    total = opened + verified
    ref: float | None = None
    if ref_tree is not None:
        ref = _pymerkle_open_verify(ref_tree, commitment, sample) * 1e3
    report.row(
        f"open + verify {samples:,} of {n:,} (ms)",
        total,
        ref,
        "pymerkle prove_inclusion + verify_inclusion",
        None if ref is None else ref / total,
        "< 100 ms",
        total < 100,
    )
    report.row(f"  open {samples:,} (ms)", opened, None, "", None, "-", None)
    report.row(f"  verify {samples:,} (ms)", verified, None, "", None, "-", None)
    report.row(f"open + JSON out and in + verify {samples:,} (ms)", trip, None, "", None, "-", None)


def _pymerkle_open_verify(ref_tree: Any, commitment: Commitment, sample: Sequence[int]) -> float:
    """The same proofs with pymerkle (whose leaf indices count from one)."""
    n = ref_tree.get_size()
    root = ref_tree.get_root()
    bases = [ref_tree.get_leaf(i + 1) for i in sample]

    def run() -> None:
        prove = ref_tree.prove_inclusion
        verify = pymerkle.verify_inclusion
        for base, i in zip(bases, sample, strict=True):
            verify(base, root, prove(i + 1, n), index=i + 1, size=n)

    return min(_timed(run) for _ in range(3))


def _pin_one_cpu() -> str:
    try:
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
    except (AttributeError, OSError):
        return "not pinned"
    return f"pinned to CPU {cpu}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=1_000)
    parser.add_argument("--quick", action="store_true", help="20,000 items, a smoke run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.items = 20_000
    if args.items < 1 or not 1 <= args.samples <= args.items:
        parser.error("--items must be at least 1 and --samples between 1 and --items")
    repeats = 1 if args.quick else 3
    pinned = _pin_one_cpu()
    report = Report()

    holder: list[list[ItemRecord]] = []
    made = _timed(lambda: holder.append(_records(args.items)))
    commitment, ref_tree = bench_commit(holder[0], repeats, report)
    report.row(
        f"  making {args.items:,} ItemRecords, not in the figure (ms)",
        made * 1e3,
        None,
        "",
        None,
        "-",
        None,
    )
    bench_open(commitment, ref_tree, args.samples, report)

    context = {
        "benchmark": "inventory",
        "python": sys.version.split()[0],
        "pymerkle": getattr(pymerkle, "__version__", "installed") if pymerkle else None,
        "items": args.items,
        "samples": args.samples,
        "cpu": pinned,
    }
    if args.json:
        report.print_json(**context)
    else:
        report.print_table(f"inventory benchmark ({json.dumps(context)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
