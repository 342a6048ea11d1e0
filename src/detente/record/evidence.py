"""Equivocation evidence: proof, checkable offline, that a log signed two histories.

An honest log only grows: every checkpoint it signs extends the ones before.
Two checkpoints of one origin, both validly signed, that cannot both be true
are therefore proof that the log's owner showed different histories to
different readers (design, "Wire format", "Repeats and forks"). They cannot
both be true when they have the same size and different roots, or when, for
different sizes, an RFC 9162 consistency proof shows that the larger one
commits to another root at the smaller size. A tree has one root per size,
so with SHA-256 collision resistant the two differ in some leaf below the
smaller size: a fork.

The evidence is one JSON object (version 1) with exactly these members:

``v``
    The integer ``1``.
``kind``
    The string ``"equivocation"``.
``origin``
    The log's origin, which both checkpoints carry (c2sp.org/tlog-checkpoint).
``first``
    The signed note (c2sp.org/signed-note) of the checkpoint of smaller or
    equal size, as text, byte for byte as the log signed it; at most
    :data:`MAX_EVIDENCE_NOTE_BYTES` in UTF-8. Signature lines by other keys
    (cosignatures) may stay and are ignored.
``second``
    The other signed note, under the same rules; its size is not below
    ``first``'s.
``proof``
    ``null`` when the sizes are equal. Otherwise an object with exactly:

    ``old_size``
        ``first``'s tree size (at least 1: nothing is provable about the
        empty tree, RFC 9162 §2.1.4).
    ``new_size``
        ``second``'s tree size.
    ``old_root``
        Canonical base64 (RFC 4648 §4) of the 32-byte root that
        ``second``'s tree has at ``old_size``.
    ``hashes``
        ``PROOF(old_size, D[0:new_size])`` of ``second``'s tree (RFC 9162
        §2.1.4.1), each hash as canonical base64; at most
        :data:`MAX_EVIDENCE_PROOF` of them.

The evidence holds under the log's verifier key ``K`` when both notes parse
as checkpoints of ``origin``, each carries a valid signature by ``K``, and
either the sizes are equal and the roots differ, or ``first.size <
second.size``, the proof verifies (RFC 9162 §2.1.4.2) from ``old_root`` to
``second``'s root, and ``old_root`` is not ``first``'s root. Nothing else is
needed: no cosignature, no clock, no access to either log.

The evidence is neither signed nor hashed, so it need not be canonical JSON:
everything in it is checked, nothing taken on trust.

Example:
    >>> from detente.crypto.keys import SigningKey
    >>> from detente.record.checkpoint import Checkpoint
    >>> from detente.record.merkle import MerkleTree
    >>> key = SigningKey.generate("example.org/log")
    >>> shown_to_a, shown_to_b = MerkleTree(), MerkleTree()
    >>> for entry in (b"a", b"b", b"c"):
    ...     _ = shown_to_a.append(entry)
    >>> for entry in (b"a", b"b", b"x", b"y"):
    ...     _ = shown_to_b.append(entry)
    >>> smaller = Checkpoint(key.name, 3, shown_to_a.root()).sign(key)
    >>> larger = Checkpoint(key.name, 4, shown_to_b.root()).sign(key)
    >>> evidence = different_size_evidence(
    ...     smaller,
    ...     larger,
    ...     root_at_smaller=shown_to_b.root(3),
    ...     proof=shown_to_b.consistency_proof(3, 4),
    ... )
    >>> verify_evidence(evidence, key=key.verifier).kind
    'different-size'
    >>> equal_size_evidence(smaller, smaller)
    Traceback (most recent call last):
    ...
    detente.errors.InputError: the two checkpoints agree: no equivocation
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from detente.crypto.keys import VerifierKey
from detente.errors import (
    EncodingError,
    InputError,
    TooLargeError,
    UnknownKeyError,
    VerificationError,
)
from detente.record.checkpoint import SignedCheckpoint
from detente.record.merkle import HASH_SIZE, verify_consistency

__all__ = [
    "EVIDENCE_VERSION",
    "MAX_EVIDENCE_NOTE_BYTES",
    "MAX_EVIDENCE_PROOF",
    "EquivocationProof",
    "different_size_evidence",
    "equal_size_evidence",
    "verify_evidence",
]

EVIDENCE_VERSION = 1
"""The ``v`` of the evidence objects this module writes and reads."""

MAX_EVIDENCE_NOTE_BYTES = 64 * 1024
"""Largest signed note accepted in evidence, in UTF-8 bytes."""

MAX_EVIDENCE_PROOF = 64
"""Most hashes accepted in an evidence's consistency proof."""

_KIND = "equivocation"
_MAX_TREE_SIZE = 2**64 - 1
_MEMBERS = frozenset({"v", "kind", "origin", "first", "second", "proof"})
_PROOF_MEMBERS = frozenset({"old_size", "new_size", "old_root", "hashes"})


@dataclass(frozen=True)
class EquivocationProof:
    """What verified evidence proves: the log signed two roots for one tree size.

    Attributes:
        kind: ``"same-size"`` or ``"different-size"``.
        origin: The log that equivocated.
        first_size: Size of the smaller (or equal) checkpoint.
        first_root: Its root.
        second_size: Size of the other checkpoint.
        second_root: Its root.
        second_root_at_first_size: The root the second checkpoint commits to
            at ``first_size``: its own root for same-size evidence, the
            proven old root otherwise. It is never ``first_root``.
    """

    kind: Literal["same-size", "different-size"]
    origin: str
    first_size: int
    first_root: bytes
    second_size: int
    second_root: bytes
    second_root_at_first_size: bytes


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _check_note_size(signed: SignedCheckpoint, what: str) -> None:
    size = len(signed.to_bytes())
    if size > MAX_EVIDENCE_NOTE_BYTES:
        raise TooLargeError(
            f"{what} is {size} bytes, above the {MAX_EVIDENCE_NOTE_BYTES} evidence allows"
        )


def _check_pair(first: SignedCheckpoint, second: SignedCheckpoint) -> None:
    if first.checkpoint.origin != second.checkpoint.origin:
        raise InputError(
            f"the checkpoints are of two logs, {first.checkpoint.origin!r} and "
            f"{second.checkpoint.origin!r}: no equivocation"
        )
    _check_note_size(first, "the first checkpoint")
    _check_note_size(second, "the second checkpoint")


def equal_size_evidence(first: SignedCheckpoint, second: SignedCheckpoint) -> dict[str, Any]:
    """Evidence that a log signed two roots for the same tree size.

    The signatures are not checked here: the caller holds both checkpoints
    because it verified them when they arrived. :func:`verify_evidence`
    checks them again for whoever receives the evidence.

    Args:
        first: A signed checkpoint of the log.
        second: A signed checkpoint of the same log and size, another root.

    Returns:
        The evidence object, ready for ``json.dumps``.

    Raises:
        InputError: the checkpoints are of different origins or sizes, or
            have the same root, so they prove nothing.
        TooLargeError: a note is above :data:`MAX_EVIDENCE_NOTE_BYTES`.
    """
    _check_pair(first, second)
    if first.checkpoint.size != second.checkpoint.size:
        raise InputError(
            f"the checkpoints have sizes {first.checkpoint.size} and "
            f"{second.checkpoint.size}, not one size: use different_size_evidence"
        )
    if first.checkpoint.root == second.checkpoint.root:
        raise InputError("the two checkpoints agree: no equivocation")
    return {
        "v": EVIDENCE_VERSION,
        "kind": _KIND,
        "origin": first.checkpoint.origin,
        "first": first.to_text(),
        "second": second.to_text(),
        "proof": None,
    }


def different_size_evidence(
    smaller: SignedCheckpoint,
    larger: SignedCheckpoint,
    *,
    root_at_smaller: bytes,
    proof: Sequence[bytes],
) -> dict[str, Any]:
    """Evidence that a log's larger checkpoint does not extend its smaller one.

    The caller computes ``root_at_smaller`` and ``proof`` from a mirror that
    holds the history ``larger`` commits to; the proof then shows that
    ``larger`` fixes, at ``smaller``'s size, a root other than ``smaller``'s.
    Signatures are not checked here, as for :func:`equal_size_evidence`.

    Args:
        smaller: A signed checkpoint of the log.
        larger: A signed checkpoint of the same log, of a larger size.
        root_at_smaller: The root of ``larger``'s tree at ``smaller``'s size.
        proof: ``PROOF(smaller size, D[0:larger size])`` of ``larger``'s tree
            (RFC 9162 §2.1.4.1).

    Returns:
        The evidence object, ready for ``json.dumps``.

    Raises:
        InputError: the checkpoints are of different origins, ``larger`` is
            not larger, the proof does not lead from ``root_at_smaller`` to
            ``larger``'s root, or ``root_at_smaller`` is ``smaller``'s root
            (the two are consistent).
        TooLargeError: a note is above :data:`MAX_EVIDENCE_NOTE_BYTES`, or
            the proof has more than :data:`MAX_EVIDENCE_PROOF` hashes.
    """
    _check_pair(smaller, larger)
    old, new = smaller.checkpoint, larger.checkpoint
    if old.size >= new.size:
        raise InputError(
            f"the smaller checkpoint has size {old.size}, not below the larger's {new.size}"
        )
    if len(proof) > MAX_EVIDENCE_PROOF:
        raise TooLargeError(
            f"the consistency proof has {len(proof)} hashes, above the "
            f"{MAX_EVIDENCE_PROOF} evidence allows"
        )
    try:
        verify_consistency(old.size, new.size, proof, root_at_smaller, new.root)
    except VerificationError as e:
        raise InputError(
            f"the proof does not show what the checkpoint of size {new.size} commits to "
            f"at size {old.size}: {e}"
        ) from e
    if root_at_smaller == old.root:
        raise InputError(
            f"the checkpoint of size {new.size} extends the one of size {old.size}: "
            "the two are consistent, no equivocation"
        )
    return {
        "v": EVIDENCE_VERSION,
        "kind": _KIND,
        "origin": old.origin,
        "first": smaller.to_text(),
        "second": larger.to_text(),
        "proof": {
            "old_size": old.size,
            "new_size": new.size,
            "old_root": _b64(root_at_smaller),
            "hashes": [_b64(h) for h in proof],
        },
    }


def _members(value: object, expected: frozenset[str], where: str) -> Mapping[str, object]:
    """``value`` as a JSON object with exactly the ``expected`` members."""
    if not isinstance(value, dict):
        raise EncodingError(f"{where}: not a JSON object")
    names = set(value)
    if names != expected:
        missing = sorted(expected - names)
        extra = sorted(repr(n) for n in names - expected)
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected {', '.join(extra)}")
        raise EncodingError(f"{where}: {'; '.join(parts)}")
    return value


def _size(value: object, where: str) -> int:
    if type(value) is not int or not 0 <= value <= _MAX_TREE_SIZE:
        raise EncodingError(f"{where}: not a tree size (an integer from 0 to 2**64 - 1)")
    return value


def _hash(value: object, where: str) -> bytes:
    """A 32-byte hash in canonical base64 (RFC 4648 §4), nothing else."""
    if not isinstance(value, str) or len(value) > 64:
        raise EncodingError(f"{where}: not a base64 hash")
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as e:
        raise EncodingError(f"{where}: not valid base64") from e
    if _b64(raw) != value:
        raise EncodingError(f"{where}: not canonical base64 (RFC 4648 §4)")
    if len(raw) != HASH_SIZE:
        raise EncodingError(f"{where}: a hash of {len(raw)} bytes, not {HASH_SIZE}")
    return raw


def _note(value: object, where: str) -> SignedCheckpoint:
    if not isinstance(value, str):
        raise EncodingError(f"{where}: not a signed note as text")
    # A str never has more characters than its UTF-8 bytes: refuse huge ones before encoding.
    if len(value) > MAX_EVIDENCE_NOTE_BYTES:
        raise TooLargeError(f"{where}: note above {MAX_EVIDENCE_NOTE_BYTES} bytes")
    try:
        data = value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise EncodingError(f"{where}: not valid UTF-8 (a lone surrogate)") from e
    if len(data) > MAX_EVIDENCE_NOTE_BYTES:
        raise TooLargeError(f"{where}: note above {MAX_EVIDENCE_NOTE_BYTES} bytes")
    try:
        return SignedCheckpoint.from_bytes(data)
    except EncodingError as e:
        raise EncodingError(f"{where}: {e}") from e


@dataclass(frozen=True)
class _Proof:
    old_size: int
    new_size: int
    old_root: bytes
    hashes: tuple[bytes, ...]


def _proof(value: object) -> _Proof | None:
    if value is None:
        return None
    proof = _members(value, _PROOF_MEMBERS, "evidence.proof")
    items = proof["hashes"]
    if not isinstance(items, list):
        raise EncodingError("evidence.proof.hashes: not a list of hashes")
    if len(items) > MAX_EVIDENCE_PROOF:
        raise TooLargeError(
            f"evidence.proof.hashes: {len(items)} hashes, above the {MAX_EVIDENCE_PROOF} allowed"
        )
    return _Proof(
        old_size=_size(proof["old_size"], "evidence.proof.old_size"),
        new_size=_size(proof["new_size"], "evidence.proof.new_size"),
        old_root=_hash(proof["old_root"], "evidence.proof.old_root"),
        hashes=tuple(_hash(h, f"evidence.proof.hashes[{i}]") for i, h in enumerate(items)),
    )


def verify_evidence(evidence: object, *, key: VerifierKey) -> EquivocationProof:
    """Check equivocation evidence with the log's public key alone.

    Args:
        evidence: The parsed JSON object (see the module docstring).
        key: The verifier key of the log accused; its name must be the
            evidence's origin.

    Returns:
        What the evidence proves.

    Raises:
        EncodingError: the evidence is not a version 1 evidence object:
            a member missing, extra or of the wrong type, a note or hash
            that does not parse, the notes out of order of size, or a proof
            present for equal sizes or absent for different ones.
        TooLargeError: a note is above :data:`MAX_EVIDENCE_NOTE_BYTES`, or
            the proof has more than :data:`MAX_EVIDENCE_PROOF` hashes.
        UnknownKeyError: ``key`` is not the log's key, or a note carries
            no signature by ``key``.
        SignatureError: a note's signature by ``key`` does not verify.
        VerificationError: the evidence does not prove equivocation: the
            checkpoints are of another log than ``origin``, the proof is
            not for their sizes or does not verify, or the two checkpoints
            agree.
    """
    fields = _members(evidence, _MEMBERS, "evidence")
    version = fields["v"]
    if type(version) is not int or version != EVIDENCE_VERSION:
        raise EncodingError(f"evidence: version {version!r} is not {EVIDENCE_VERSION}")
    if fields["kind"] != _KIND:
        raise EncodingError(f"evidence: kind {fields['kind']!r} is not {_KIND!r}")
    origin = fields["origin"]
    if not isinstance(origin, str):
        raise EncodingError("evidence.origin: not a string")
    first = _note(fields["first"], "evidence.first")
    second = _note(fields["second"], "evidence.second")
    proof = _proof(fields["proof"])
    a, b = first.checkpoint, second.checkpoint
    if a.size > b.size:
        raise EncodingError(
            f"evidence: the first checkpoint (size {a.size}) must not be larger than "
            f"the second (size {b.size})"
        )
    if a.size == b.size and proof is not None:
        raise EncodingError("evidence.proof: must be null for checkpoints of one size")
    if a.size != b.size and proof is None:
        raise EncodingError("evidence.proof: checkpoints of different sizes need a proof")

    for name, checkpoint in (("first", a), ("second", b)):
        if checkpoint.origin != origin:
            raise VerificationError(
                f"the {name} checkpoint is of log {checkpoint.origin!r}, not {origin!r}"
            )
    if key.name != origin:
        raise UnknownKeyError(f"key {key.name!r} is not the key of log {origin!r}")
    first.verify(key)
    second.verify(key)

    if proof is None:
        if a.root == b.root:
            raise VerificationError("the two checkpoints agree: no equivocation")
        return EquivocationProof("same-size", origin, a.size, a.root, b.size, b.root, b.root)
    if (proof.old_size, proof.new_size) != (a.size, b.size):
        raise VerificationError(
            f"the proof is from size {proof.old_size} to {proof.new_size}, but the "
            f"checkpoints have sizes {a.size} and {b.size}"
        )
    try:
        verify_consistency(a.size, b.size, proof.hashes, proof.old_root, b.root)
    except VerificationError as e:
        raise VerificationError(
            f"the proof does not show what the checkpoint of size {b.size} commits to "
            f"at size {a.size}: {e}"
        ) from e
    if proof.old_root == a.root:
        raise VerificationError(
            f"the checkpoint of size {b.size} extends the one of size {a.size}: "
            "the two are consistent, no equivocation"
        )
    return EquivocationProof(
        "different-size", origin, a.size, a.root, b.size, b.root, proof.old_root
    )
