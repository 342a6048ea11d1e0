"""Pure checks behind ``detente verify``: a run of entries, and tree levels.

Everything here takes bytes and returns findings, so a node can check runs
of its logs in worker processes, each reading its own rows, and a third
party can run the same checks on an exported log.

Example:
    >>> check_tree_level([b"a" * 32, b"b" * 32], [node_hash(b"a" * 32, b"b" * 32)])
    -1
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from detente.crypto.keys import VerifierKey
from detente.errors import DetenteError
from detente.record.envelope import Envelope
from detente.record.merkle import leaf_hash, node_hash

__all__ = ["Row", "RunResult", "check_run", "check_tree_level"]

# (seq, leaf bytes, body or None, stored level-0 tree node or None)
Row = tuple[int, bytes, bytes | None, bytes | None]


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a run of consecutive entries holds, for linking runs together.

    Attributes:
        start: the first seq the run was asked to cover.
        count: entries checked and found sound.
        bodies: how many of them had a body held.
        first_prev: ``prev`` of the first entry (to link with the run before).
        last_hash: hex leaf hash of the last entry (for the run after).
        problem: the first problem found, or None.
    """

    start: int
    count: int
    bodies: int
    first_prev: str | None
    last_hash: str | None
    problem: str | None = None


def check_run(
    rows: Iterable[Row],
    *,
    party: str,
    agreement_id: str,
    key: VerifierKey | Callable[[int], VerifierKey],
    start: int,
    stop: int,
    holder: str | None = None,
) -> RunResult:
    """Check the run ``[start, stop)`` of entries of ``party``'s log.

    ``holder`` is the party whose node holds the rows: it must hold the body
    of every entry of its own log and of every entry addressed to it.

    Each entry is parsed (and must be canonical), its signature checked under
    ``key`` (or, when the log rotated keys, under ``key(seq)``, the key in force
    at its position), its place (sender, seq, agreement) and body hash checked, its
    leaf hash compared with the stored level-0 tree node, and its ``prev``
    with the leaf hash of the entry before it in the run. The link into the
    run before is left to the caller through ``first_prev``.
    """
    expected = start
    bodies = 0
    first_prev: str | None = None
    last: str | None = None

    def result(problem: str | None = None) -> RunResult:
        return RunResult(start, expected - start, bodies, first_prev, last, problem)

    for seq, leaf, body, stored in rows:
        where = f"{party}:{seq}"
        if seq != expected:
            return result(f"log {party}: entry {party}:{expected} is missing (next held: {seq})")
        try:
            envelope = Envelope.from_leaf(leaf)
            envelope.verify_signature(key if isinstance(key, VerifierKey) else key(seq))
        except DetenteError as e:
            return result(f"{where}: envelope: {e}")
        header = envelope.header
        if header.sender != party or header.seq != seq:
            return result(f"{where}: stored here, but its header says {header.sender}:{header.seq}")
        if header.agreement != agreement_id:
            return result(f"{where}: made under another agreement")
        if body is None and holder is not None and (holder == party or holder in header.to):
            return result(f"{where}: the body is missing")
        if body is not None:
            if len(body) != header.body_len or (
                hashlib.sha256(body).hexdigest() != header.body_sha256
            ):
                return result(f"{where}: body does not match header.body_sha256/body_len")
            bodies += 1
        digest = leaf_hash(leaf)
        if stored != digest:
            return result(f"{where}: tree node level 0 does not equal the entry's leaf hash")
        if last is None:
            first_prev = header.prev
        elif header.prev != last:
            return result(
                f"{where}: prev {header.prev[:16]}… is not the leaf hash of "
                f"{party}:{seq - 1} ({last[:16]}…)"
            )
        last = digest.hex()
        expected += 1
    if expected != stop:
        return result(f"log {party}: entry {party}:{expected} is missing")
    return result()


def check_tree_level(children: Sequence[bytes], parents: Sequence[bytes]) -> int:
    """Check stored parent nodes against the hashes of their stored children.

    Returns:
        The index (within ``parents``) of the first parent that is not
        ``node_hash(left, right)`` of its two children, or -1 if all hold.
    """
    for i, parent in enumerate(parents):
        left = children[2 * i] if 2 * i < len(children) else b""
        right = children[2 * i + 1] if 2 * i + 1 < len(children) else b""
        if not left or not right or node_hash(left, right) != parent:
            return i
    return -1
