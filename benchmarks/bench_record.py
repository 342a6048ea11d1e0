"""Benchmark the stored record: envelope appends, stored proofs, `detente verify`.

Figures, each printed next to the reference measured in the same run:

* append: signed envelopes appended durably to a SQLite node (WAL,
  synchronous=FULL, one commit per batch), against the raw Ed25519 signing
  rate of pyca/cryptography on one core (goal: at least 0.5x).
* stored proofs: inclusion and consistency proofs generated from the
  database-backed tree of the N-entry log and verified (goal: under 50 us
  each, at least 3x pymerkle's in-memory tree of the same size).
* verify: `detente verify` (every leaf, signature, link, body hash, tree
  node and checkpoint) of the N-entry log, against the raw Ed25519
  verification rate times the cores used (goal: at least 0.8x).

Usage:
    python benchmarks/bench_record.py [--entries N] [--batch B] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from _report import Report
from detente.node import init_node, open_node
from detente.node.audit import audit_node
from detente.node.writer import Draft, LogWriter
from detente.record.merkle import leaf_hash, verify_consistency, verify_inclusion
from detente.store.logs import LogStore
from detente.store.tree import StoredTree

try:
    import pymerkle
except ImportError:  # pragma: no cover - a dev dependency
    pymerkle = None

SEED = 2022


def _header_sized_message() -> bytes:
    # About the size of a canonical envelope header.
    return b"detente/envelope/v1\n" + b"x" * 420


def raw_sign_rate(seconds: float = 2.0) -> float:
    """Ed25519 signatures per second on one core."""
    key = Ed25519PrivateKey.generate()
    message = _header_sized_message()
    count = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(200):
            key.sign(message)
        count += 200
    return count / (time.perf_counter() - start)


def raw_verify_rate(seconds: float = 2.0) -> float:
    """Ed25519 verifications per second on one core."""
    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    message = _header_sized_message()
    signature = key.sign(message)
    count = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(200):
            public.verify(signature, message)
        count += 200
    return count / (time.perf_counter() - start)


def bench_append(directory: Path, entries: int, batch: int) -> float:
    """Append ``entries`` envelopes in batches; return envelopes per second."""
    node = open_node(directory)
    writer = LogWriter(node)
    drafts = [
        Draft(type="message", body={"text": f"routine notification {i}"}, to=("ru",))
        for i in range(batch)
    ]
    done = 0
    start = time.perf_counter()
    while done < entries:
        step = min(batch, entries - done)
        writer.append(drafts[:step])
        done += step
    elapsed = time.perf_counter() - start
    node.close()
    return entries / elapsed


def bench_stored_proofs(directory: Path, samples: int) -> dict[str, float]:
    """Mean microseconds to generate and verify proofs from the stored tree."""
    node = open_node(directory)
    rng = random.Random(SEED)
    result: dict[str, float] = {}
    with node.database.engine.connect() as conn:
        tree = StoredTree(conn, node.party)
        size = tree.size()
        root = tree.root(size)
        log = LogStore(conn, node.party)

        leaves = {i: leaf_hash(log.leaf(i) or b"") for i in rng.sample(range(size), samples)}
        olds = [rng.randrange(1, size) for _ in range(samples)]
        old_roots = {old: tree.root(old) for old in olds}
        start = time.perf_counter()
        for index, digest in leaves.items():
            verify_inclusion(digest, index, size, tree.inclusion_proof(index, size), root)
        result["inclusion_us"] = (time.perf_counter() - start) / samples * 1e6
        start = time.perf_counter()
        for old in olds:
            proof = tree.consistency_proof(old, size)
            verify_consistency(old, size, proof, old_roots[old], root)
        result["consistency_us"] = (time.perf_counter() - start) / samples * 1e6
    node.close()
    return result


def bench_pymerkle_proofs(size: int, samples: int) -> dict[str, float] | None:
    """The same figures for pymerkle's in-memory tree of ``size`` leaves."""
    if pymerkle is None:
        return None
    from pymerkle import verify_consistency as pm_consistency
    from pymerkle import verify_inclusion as pm_inclusion

    tree = pymerkle.InmemoryTree()
    for i in range(size):
        tree.append_entry(f"entry {i}".encode())
    rng = random.Random(SEED)
    indices = [rng.randrange(1, size + 1) for _ in range(samples)]
    root = tree.get_root(size)
    start = time.perf_counter()
    for index in indices:
        proof = tree.prove_inclusion(index, size)
        pm_inclusion(tree.get_leaf(index), root, proof)
    inclusion = (time.perf_counter() - start) / samples * 1e6
    olds = [rng.randrange(1, size) for _ in range(samples)]
    states = {old: tree.get_root(old) for old in olds}
    start = time.perf_counter()
    for old in olds:
        proof = tree.prove_consistency(old, size)
        pm_consistency(states[old], root, proof)
    consistency = (time.perf_counter() - start) / samples * 1e6
    return {"inclusion_us": inclusion, "consistency_us": consistency}


def bench_verify(directory: Path, workers: int) -> tuple[float, bool]:
    """Entries per second checked by ``detente verify`` with ``workers`` processes."""
    node = open_node(directory)
    start = time.perf_counter()
    report = audit_node(node, workers=workers)
    elapsed = time.perf_counter() - start
    entries = sum(log.entries for log in report.logs)
    node.close()
    return entries / elapsed, report.ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="20,000 entries, a smoke run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.entries, args.samples = 20_000, 200
    cores = os.cpu_count() or 1
    report = Report()
    row = report.row

    with tempfile.TemporaryDirectory(prefix="detente-bench-") as tmp:
        directory = Path(tmp) / "us"
        init_node(directory, party="us", agreement_ref="security-replies-2022").close()
        sign_rate = raw_sign_rate()
        append_rate = bench_append(directory, args.entries, args.batch)
        row(
            "append signed envelope, durable SQLite (env/s)",
            append_rate,
            sign_rate,
            "raw Ed25519 sign/s, 1 core",
            append_rate / sign_rate,
            ">= 0.5x",
            append_rate / sign_rate >= 0.5,
        )
        proofs = bench_stored_proofs(directory, args.samples)
        reference = bench_pymerkle_proofs(args.entries, args.samples)
        for name in ("inclusion_us", "consistency_us"):
            ref = None if reference is None else reference[name]
            ratio = None if ref is None else ref / proofs[name]
            row(
                f"stored {name[:-3]} proof, generate+verify (us)",
                proofs[name],
                ref,
                "pymerkle in-memory",
                ratio,
                "< 50 us and >= 3x",
                proofs[name] < 50 and (ratio or 0) >= 3,
            )
        verify_one = raw_verify_rate()
        verify_rate, ok = bench_verify(directory, cores)
        if not ok:
            print("detente verify FAILED on the benchmark log", file=sys.stderr)
            return 1
        reference_rate = verify_one * cores
        row(
            f"detente verify ({cores} processes) (env/s)",
            verify_rate,
            reference_rate,
            f"raw Ed25519 verify/s x {cores} cores",
            verify_rate / reference_rate,
            ">= 0.8x",
            verify_rate / reference_rate >= 0.8,
        )

    if args.json:
        report.print_json(entries=args.entries, cores=cores)
        return 0
    report.print_table(
        f"record benchmark: {args.entries:,} entries, batch {args.batch}, {cores} cores"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
