"""Benchmark detente.record.merkle against a hashlib floor and pymerkle.

Figures:

* append: time per leaf to build an N-leaf :class:`MerkleTree`, against the
  floor of hashing N leaves and N-1 interior nodes in a tight hashlib loop
  (goal: at least 0.5x the floor's speed) and against pymerkle's
  ``InmemoryTree.append_entry`` on the same entries (goal: at least 4x).
* proofs: on the N-leaf trees, inclusion proofs of random leaves and
  consistency proofs from random older sizes to N, generated and verified,
  against pymerkle's ``prove_inclusion`` / ``prove_consistency`` and its
  ``verify_inclusion`` / ``verify_consistency`` (goal: generate + verify
  under 50 us and at least 3x pymerkle). Generation and verification are
  also shown apart, for information.

The garbage collector is paused inside every timed region, for both sides.

Usage:
    python benchmarks/bench_merkle.py [--leaves N] [--samples K] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from detente.record.merkle import MerkleTree, verify_consistency, verify_inclusion

try:
    import pymerkle
except ImportError:  # pragma: no cover - pymerkle is a dev dependency
    pymerkle = None

DEFAULT_LEAVES = 1_000_000
DEFAULT_SAMPLES = 2_000
QUICK_LEAVES = 20_000
QUICK_SAMPLES = 200
SEED = 9162


@dataclass
class Row:
    """One line of the results table."""

    figure: str
    unit: str
    ours: float
    reference: float | None
    reference_name: str
    ratio: float | None
    goal: str
    met: bool | None


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


def _entries(n: int) -> list[bytes]:
    return [b"detente benchmark entry %012d" % i for i in range(n)]


def _floor(entries: Sequence[bytes]) -> None:
    """Hash every leaf and n-1 interior nodes once, with nothing else."""
    sha256 = hashlib.sha256
    prev = sha256(b"\x00" + entries[0]).digest()
    for data in entries:
        h = sha256(b"\x00" + data).digest()
    for _ in range(len(entries) - 1):
        prev = sha256(b"\x01" + prev + h).digest()


def _build_ours(entries: Sequence[bytes]) -> MerkleTree:
    tree = MerkleTree()
    append = tree.append
    for data in entries:
        append(data)
    return tree


def _build_pymerkle(entries: Sequence[bytes]) -> Any:
    tree = pymerkle.InmemoryTree()
    append = tree.append_entry
    for data in entries:
        append(data)
    return tree


def _per_item(seconds: float, count: int) -> float:
    return seconds / count * 1e6


def _faster(ours: float, reference: float | None) -> float | None:
    return None if reference is None or ours == 0 else reference / ours


def bench_append(entries: Sequence[bytes], repeats: int) -> tuple[list[Row], MerkleTree, Any]:
    """Time building the trees; return the rows and the trees for the proof figures."""
    n = len(entries)
    floor = min(_timed(lambda: _floor(entries)) for _ in range(repeats))
    trees: list[MerkleTree] = []
    ours = min(_timed(lambda: trees.append(_build_ours(entries))) for _ in range(repeats))
    tree = trees[-1]
    del trees[:-1]
    ref_tree = None
    ref: float | None = None
    if pymerkle is not None:
        holder: list[Any] = []
        ref = _timed(lambda: holder.append(_build_pymerkle(entries)))
        ref_tree = holder[0]
        if ref_tree.get_root() != tree.root():
            raise SystemExit("pymerkle and detente disagree on the root")
    ratio_floor = floor / ours
    ratio_ref = _faster(ours, ref)
    rows = [
        Row(
            f"append, {n:,} leaves, vs hashlib floor",
            "us/leaf",
            _per_item(ours, n),
            _per_item(floor, n),
            "hashlib floor",
            ratio_floor,
            ">= 0.5x floor speed",
            ratio_floor >= 0.5,
        ),
        Row(
            f"append, {n:,} leaves, vs pymerkle",
            "us/leaf",
            _per_item(ours, n),
            None if ref is None else _per_item(ref, n),
            "pymerkle InmemoryTree",
            ratio_ref,
            ">= 4x pymerkle",
            None if ratio_ref is None else ratio_ref >= 4,
        ),
    ]
    return rows, tree, ref_tree


def _proof_rows(
    name: str,
    n: int,
    ours_prove: float,
    ours_verify: float,
    ref_prove: float | None,
    ref_verify: float | None,
) -> list[Row]:
    total = ours_prove + ours_verify
    ref_total = None if ref_prove is None or ref_verify is None else ref_prove + ref_verify
    ratio = _faster(total, ref_total)
    met = total < 50 and (ratio is None or ratio >= 3)
    label = f"{name}, {n:,} leaves"
    return [
        Row(
            f"{label}: generate + verify",
            "us",
            total,
            ref_total,
            "pymerkle",
            ratio,
            "< 50 us and >= 3x pymerkle",
            met,
        ),
        Row(f"{label}: generate", "us", ours_prove, ref_prove, "pymerkle", None, "-", None),
        Row(f"{label}: verify", "us", ours_verify, ref_verify, "pymerkle", None, "-", None),
    ]


def bench_proofs(tree: MerkleTree, ref_tree: Any, samples: int) -> list[Row]:
    """Time inclusion and consistency proofs at the tree's full size."""
    n = tree.size
    rng = random.Random(SEED)
    indices = [rng.randrange(n) for _ in range(samples)]
    olds = [rng.randrange(1, n) for _ in range(samples)]
    root = tree.root()
    leaves = [tree.node(0, i) for i in indices]
    old_roots = [tree.root(old) for old in olds]

    inclusion: list[list[bytes]] = []
    consistency: list[list[bytes]] = []

    def prove_inclusion() -> None:
        prove = tree.inclusion_proof
        inclusion[:] = [prove(i, n) for i in indices]

    def check_inclusion() -> None:
        for leaf, i, proof in zip(leaves, indices, inclusion, strict=True):
            verify_inclusion(leaf, i, n, proof, root)

    def prove_consistency() -> None:
        prove = tree.consistency_proof
        consistency[:] = [prove(old, n) for old in olds]

    def check_consistency() -> None:
        for old, old_root, proof in zip(olds, old_roots, consistency, strict=True):
            verify_consistency(old, n, proof, old_root, root)

    ours = [
        _per_item(_timed(step), samples)
        for step in (prove_inclusion, check_inclusion, prove_consistency, check_consistency)
    ]
    refs: list[float | None] = [None] * 4
    if ref_tree is not None:
        refs = list(_bench_pymerkle_proofs(ref_tree, indices, olds, samples))
    return _proof_rows("inclusion proof", n, ours[0], ours[1], refs[0], refs[1]) + _proof_rows(
        "consistency proof", n, ours[2], ours[3], refs[2], refs[3]
    )


def _bench_pymerkle_proofs(
    ref_tree: Any, indices: Sequence[int], olds: Sequence[int], samples: int
) -> tuple[float, float, float, float]:
    """The same proofs with pymerkle (whose leaf indices count from one)."""
    n = ref_tree.get_size()
    samples = min(samples, len(indices))
    indices, olds = indices[:samples], olds[:samples]
    root = ref_tree.get_root()
    bases = [ref_tree.get_leaf(i + 1) for i in indices]
    old_roots = [ref_tree.get_root(old) for old in olds]
    inclusion: list[Any] = []
    consistency: list[Any] = []

    def prove_inclusion() -> None:
        prove = ref_tree.prove_inclusion
        inclusion[:] = [prove(i + 1, n) for i in indices]

    def check_inclusion() -> None:
        verify = pymerkle.verify_inclusion
        for base, i, proof in zip(bases, indices, inclusion, strict=True):
            verify(base, root, proof, index=i + 1, size=n)

    def prove_consistency() -> None:
        prove = ref_tree.prove_consistency
        consistency[:] = [prove(old, n) for old in olds]

    def check_consistency() -> None:
        verify = pymerkle.verify_consistency
        for old, old_root, proof in zip(olds, old_roots, consistency, strict=True):
            verify(old_root, root, proof, prior_size=old, later_size=n)

    a, b, c, d = (
        _per_item(_timed(step), samples)
        for step in (prove_inclusion, check_inclusion, prove_consistency, check_consistency)
    )
    return a, b, c, d


def _fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _print_table(rows: Sequence[Row], header: str) -> None:
    cells = [("figure", "ours", "reference", "ratio", "goal", "met")]
    for row in rows:
        cells.append(
            (
                row.figure,
                f"{_fmt(row.ours)} {row.unit}",
                f"{_fmt(row.reference)} {row.unit}" if row.reference is not None else "n/a",
                "-" if row.ratio is None else f"{row.ratio:.2f}x",
                row.goal,
                "-" if row.met is None else ("yes" if row.met else "no"),
            )
        )
    widths = [max(len(line[i]) for line in cells) for i in range(len(cells[0]))]
    print(header)
    for k, line in enumerate(cells):
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
        if k == 0:
            print("  ".join("-" * width for width in widths))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print a table (or JSON); return 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, help=f"tree size (default {DEFAULT_LEAVES:,})")
    parser.add_argument("--samples", type=int, help="proofs sampled per figure")
    parser.add_argument("--quick", action="store_true", help="a few seconds' smoke run")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    leaves = args.leaves or (QUICK_LEAVES if args.quick else DEFAULT_LEAVES)
    samples = args.samples or (QUICK_SAMPLES if args.quick else DEFAULT_SAMPLES)
    if leaves < 2 or samples < 1:
        parser.error("--leaves must be at least 2 and --samples at least 1")
    repeats = 1 if args.quick else 3

    entries = _entries(leaves)
    rows, tree, ref_tree = bench_append(entries, repeats)
    rows += bench_proofs(tree, ref_tree, samples)

    env = {
        "python": sys.version.split()[0],
        "pymerkle": getattr(pymerkle, "__version__", "installed") if pymerkle else None,
        "leaves": leaves,
        "samples": samples,
    }
    if args.json:
        print(json.dumps({"benchmark": "merkle", **env, "rows": [asdict(r) for r in rows]}))
    else:
        _print_table(rows, f"detente.record.merkle benchmark ({json.dumps(env)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
