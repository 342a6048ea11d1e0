"""Pure checks behind ``detente verify``: entries, chain, tree levels.

Everything here takes bytes and returns findings, so the node can run the
costly part (parsing and signature checks) in worker processes and a
third party can run it on an exported log.

Example:
    >>> check_tree_level([b"a" * 32, b"b" * 32], [node_hash(b"a" * 32, b"b" * 32)])
    -1
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from detente.crypto.keys import VerifierKey
from detente.errors import DetenteError
from detente.record.envelope import Envelope
from detente.record.merkle import leaf_hash, node_hash

__all__ = ["ChunkJob", "ChunkResult", "check_chunk", "check_tree_level"]


@dataclass(frozen=True, slots=True)
class ChunkJob:
    """A run of consecutive entries of one log to check (picklable)."""

    party: str
    agreement_id: str
    verifier: str
    rows: Sequence[tuple[int, bytes, bytes | None]]


@dataclass(frozen=True, slots=True)
class ChunkResult:
    """Leaf hashes and prev links of a checked chunk, or its first problem."""

    leaf_hashes: list[bytes]
    prevs: list[str]
    problem: tuple[int, str] | None = None


@functools.lru_cache(maxsize=64)
def _verifier(text: str) -> VerifierKey:
    return VerifierKey.from_text(text)


def check_chunk(job: ChunkJob) -> ChunkResult:
    """Check each entry of ``job`` on its own: form, signature, seq, body.

    The links between entries (prev, and seq following seq) need the
    previous chunk, so the caller checks them with the hashes returned.
    """
    key = _verifier(job.verifier)
    hashes: list[bytes] = []
    prevs: list[str] = []
    for seq, leaf, body in job.rows:
        where = f"{job.party}:{seq}"
        try:
            envelope = Envelope.from_leaf(leaf)
            header = envelope.header
            if header.sender != job.party or header.seq != seq:
                return ChunkResult(
                    hashes,
                    prevs,
                    (
                        seq,
                        f"{where}: stored as {job.party}:{seq} but its header says "
                        f"{header.sender}:{header.seq}",
                    ),
                )
            if header.agreement != job.agreement_id:
                return ChunkResult(hashes, prevs, (seq, f"{where}: made under another agreement"))
            envelope.verify_signature(key)
        except DetenteError as e:
            return ChunkResult(hashes, prevs, (seq, f"{where}: envelope: {e}"))
        if body is not None and (
            len(body) != header.body_len or hashlib.sha256(body).hexdigest() != header.body_sha256
        ):
            return ChunkResult(
                hashes, prevs, (seq, f"{where}: body does not match header.body_sha256/body_len")
            )
        hashes.append(leaf_hash(leaf))
        prevs.append(header.prev)
    return ChunkResult(hashes, prevs)


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
