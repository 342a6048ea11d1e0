"""Equivocation evidence: built from a mirror, checked with the log's key alone."""

from __future__ import annotations

import base64
import copy
import doctest
import json
from typing import Any

import pytest

import detente.record.evidence as evidence_module
from detente.crypto.keys import SigningKey
from detente.errors import (
    EncodingError,
    InputError,
    SignatureError,
    TooLargeError,
    UnknownKeyError,
    VerificationError,
)
from detente.record.checkpoint import Checkpoint, SignedCheckpoint, cosign, origin_for
from detente.record.evidence import (
    MAX_EVIDENCE_NOTE_BYTES,
    MAX_EVIDENCE_PROOF,
    EquivocationProof,
    different_size_evidence,
    equal_size_evidence,
    verify_evidence,
)
from detente.record.merkle import MerkleTree

ORIGIN = origin_for("ab" * 32, "us")
KEY = SigningKey.generate(ORIGIN)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def tree(*entries: bytes) -> MerkleTree:
    t = MerkleTree()
    for entry in entries:
        t.append(entry)
    return t


def fork(common: int, honest_size: int, forked_size: int) -> tuple[MerkleTree, MerkleTree]:
    """Two histories sharing their first ``common`` entries, then diverging."""
    honest = tree(*(b"entry %d" % i for i in range(honest_size)))
    forked = tree(
        *(b"entry %d" % i if i < common else b"forged %d" % i for i in range(forked_size))
    )
    return honest, forked


def signed(t: MerkleTree, size: int, key: SigningKey = KEY) -> SignedCheckpoint:
    return Checkpoint(key.name, size, t.root(size)).sign(key)


def fork_evidence(common: int, small: int, large: int) -> dict[str, Any]:
    honest, forked = fork(common, small, large)
    return different_size_evidence(
        signed(honest, small),
        signed(forked, large),
        root_at_smaller=forked.root(small),
        proof=forked.consistency_proof(small, large),
    )


def raw_evidence(
    first: SignedCheckpoint, second: SignedCheckpoint, proof: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Evidence assembled by hand, bypassing the builders' checks."""
    return {
        "v": 1,
        "kind": "equivocation",
        "origin": first.checkpoint.origin,
        "first": first.to_text(),
        "second": second.to_text(),
        "proof": proof,
    }


def proof_object(t: MerkleTree, old: int, new: int, old_root: bytes) -> dict[str, Any]:
    return {
        "old_size": old,
        "new_size": new,
        "old_root": b64(old_root),
        "hashes": [b64(h) for h in t.consistency_proof(old, new)],
    }


@pytest.fixture
def same_size() -> tuple[SignedCheckpoint, SignedCheckpoint]:
    honest, forked = fork(2, 4, 4)
    return signed(honest, 4), signed(forked, 4)


@pytest.fixture
def different_size() -> dict[str, Any]:
    return fork_evidence(3, 5, 7)


def test_module_example_runs() -> None:
    result = doctest.testmod(evidence_module)
    assert result.attempted > 0
    assert result.failed == 0


# Equivocation that holds.


def test_equal_size_equivocation_verifies(same_size) -> None:
    first, second = same_size
    evidence = equal_size_evidence(first, second)
    assert evidence["proof"] is None
    assert evidence["origin"] == ORIGIN
    proof = verify_evidence(json.loads(json.dumps(evidence)), key=KEY.verifier)
    assert proof == EquivocationProof(
        kind="same-size",
        origin=ORIGIN,
        first_size=4,
        first_root=first.checkpoint.root,
        second_size=4,
        second_root=second.checkpoint.root,
        second_root_at_first_size=second.checkpoint.root,
    )


@pytest.mark.parametrize(
    ("common", "small", "large"),
    [
        (0, 1, 2),  # the very first entry differs
        (2, 3, 4),
        (3, 4, 8),  # old size a power of two: its root is not in the proof
        (3, 5, 7),
        (7, 8, 9),
        (4, 5, 13),
        (10, 11, 64),
    ],
)
def test_different_size_equivocation_verifies(common: int, small: int, large: int) -> None:
    honest, forked = fork(common, small, large)
    evidence = fork_evidence(common, small, large)
    assert evidence["proof"]["old_size"] == small
    assert evidence["proof"]["new_size"] == large
    proof = verify_evidence(json.loads(json.dumps(evidence)), key=KEY.verifier)
    assert proof.kind == "different-size"
    assert (proof.first_size, proof.second_size) == (small, large)
    assert proof.first_root == honest.root(small)
    assert proof.second_root == forked.root(large)
    assert proof.second_root_at_first_size == forked.root(small) != honest.root(small)


def test_cosignature_lines_do_not_matter(same_size) -> None:
    first, second = same_size
    witness = SigningKey.generate("witness.example/w1")
    cosigned = first.with_cosignature(cosign(first.checkpoint, witness, timestamp=1_700_000_000))
    verify_evidence(equal_size_evidence(cosigned, second), key=KEY.verifier)


# Honest pairs prove nothing.


def test_equal_size_builder_refuses_agreeing_checkpoints() -> None:
    t = tree(b"a", b"b")
    with pytest.raises(InputError, match="agree: no equivocation"):
        equal_size_evidence(signed(t, 2), signed(t, 2))


def test_equal_size_builder_refuses_different_sizes() -> None:
    t = tree(b"a", b"b")
    with pytest.raises(InputError, match="not one size"):
        equal_size_evidence(signed(t, 1), signed(t, 2))


def test_builders_refuse_two_logs() -> None:
    other = SigningKey.generate(origin_for("ab" * 32, "ru"))
    honest, forked = fork(1, 3, 3)
    with pytest.raises(InputError, match="two logs"):
        equal_size_evidence(signed(honest, 3), signed(forked, 3, other))
    with pytest.raises(InputError, match="two logs"):
        different_size_evidence(
            signed(honest, 2),
            signed(forked, 3, other),
            root_at_smaller=forked.root(2),
            proof=forked.consistency_proof(2, 3),
        )


def test_different_size_builder_refuses_consistent_checkpoints() -> None:
    t = tree(*(b"%d" % i for i in range(7)))
    with pytest.raises(InputError, match="consistent, no equivocation"):
        different_size_evidence(
            signed(t, 5), signed(t, 7), root_at_smaller=t.root(5), proof=t.consistency_proof(5, 7)
        )


def test_different_size_builder_refuses_a_proof_that_does_not_hold() -> None:
    honest, forked = fork(3, 5, 7)
    with pytest.raises(InputError, match="proof does not show"):
        different_size_evidence(
            signed(honest, 5),
            signed(forked, 7),
            root_at_smaller=honest.root(5),  # not what the forked tree has at 5
            proof=forked.consistency_proof(5, 7),
        )
    with pytest.raises(InputError, match="proof does not show"):
        different_size_evidence(
            signed(honest, 5),
            signed(forked, 7),
            root_at_smaller=forked.root(5),
            proof=forked.consistency_proof(5, 7)[:-1],
        )


@pytest.mark.parametrize(("small", "large"), [(5, 5), (6, 5)])
def test_different_size_builder_refuses_sizes_out_of_order(small: int, large: int) -> None:
    honest, forked = fork(3, 6, 6)
    with pytest.raises(InputError, match="not below"):
        different_size_evidence(
            signed(honest, small), signed(forked, large), root_at_smaller=bytes(32), proof=[]
        )


def test_different_size_builder_refuses_the_empty_tree() -> None:
    honest, forked = fork(0, 0, 3)
    with pytest.raises(InputError, match="empty tree"):
        different_size_evidence(
            Checkpoint(ORIGIN, 0, bytes(32)).sign(KEY),
            signed(forked, 3),
            root_at_smaller=honest.root(0),
            proof=[],
        )


def test_builder_refuses_an_oversized_proof() -> None:
    honest, forked = fork(3, 5, 7)
    with pytest.raises(TooLargeError, match="65 hashes"):
        different_size_evidence(
            signed(honest, 5),
            signed(forked, 7),
            root_at_smaller=forked.root(5),
            proof=[bytes(32)] * (MAX_EVIDENCE_PROOF + 1),
        )


def test_verify_refuses_agreeing_equal_checkpoints() -> None:
    t = tree(b"a", b"b")
    evidence = raw_evidence(signed(t, 2), signed(t, 2))
    with pytest.raises(VerificationError, match="the two checkpoints agree: no equivocation"):
        verify_evidence(evidence, key=KEY.verifier)


def test_verify_refuses_consistent_checkpoints() -> None:
    t = tree(*(b"%d" % i for i in range(7)))
    evidence = raw_evidence(signed(t, 5), signed(t, 7), proof_object(t, 5, 7, t.root(5)))
    with pytest.raises(VerificationError, match="consistent, no equivocation"):
        verify_evidence(evidence, key=KEY.verifier)


def test_verify_refuses_the_empty_tree() -> None:
    _, forked = fork(0, 0, 3)
    proof = {"old_size": 0, "new_size": 3, "old_root": b64(forked.root(0)), "hashes": []}
    evidence = raw_evidence(Checkpoint(ORIGIN, 0, bytes(32)).sign(KEY), signed(forked, 3), proof)
    with pytest.raises(VerificationError, match="empty tree proves nothing"):
        verify_evidence(evidence, key=KEY.verifier)


# Tampered or forged evidence.


def test_tampered_note_is_refused(same_size) -> None:
    first, second = same_size
    evidence = equal_size_evidence(first, second)
    old_root = b64(first.checkpoint.root)
    evidence["first"] = evidence["first"].replace(old_root, b64(bytes(32)))
    with pytest.raises(SignatureError, match="does not verify"):
        verify_evidence(evidence, key=KEY.verifier)


def test_wrong_key_of_the_same_name_is_refused(different_size) -> None:
    impostor = SigningKey.generate(ORIGIN)
    with pytest.raises(UnknownKeyError, match="no known key"):
        verify_evidence(different_size, key=impostor.verifier)


def test_key_of_another_log_is_refused(different_size) -> None:
    other = SigningKey.generate(origin_for("ab" * 32, "ru"))
    with pytest.raises(UnknownKeyError, match="is not the key of log"):
        verify_evidence(different_size, key=other.verifier)


def test_second_note_forged_by_someone_else_is_refused() -> None:
    """An accuser cannot frame a log with a checkpoint it signed itself."""
    honest, forked = fork(2, 4, 4)
    framer = SigningKey.generate(ORIGIN)
    evidence = equal_size_evidence(signed(honest, 4), signed(forked, 4, framer))
    with pytest.raises(UnknownKeyError):
        verify_evidence(evidence, key=KEY.verifier)


def test_checkpoints_of_two_logs_are_refused() -> None:
    other = SigningKey.generate(origin_for("ab" * 32, "ru"))
    honest, forked = fork(2, 4, 4)
    evidence = raw_evidence(signed(honest, 4), signed(forked, 4, other))
    with pytest.raises(VerificationError, match="second checkpoint is of log"):
        verify_evidence(evidence, key=KEY.verifier)
    evidence["origin"] = other.name
    with pytest.raises(VerificationError, match="first checkpoint is of log"):
        verify_evidence(evidence, key=other.verifier)


def test_old_root_replaced_by_the_first_root_is_refused(different_size) -> None:
    """Claiming the larger tree had the smaller's root breaks the proof."""
    first = SignedCheckpoint.from_text(different_size["first"])
    different_size["proof"]["old_root"] = b64(first.checkpoint.root)
    with pytest.raises(VerificationError, match="proof does not show"):
        verify_evidence(different_size, key=KEY.verifier)


def test_swapped_notes_are_refused(different_size) -> None:
    evidence = dict(different_size, first=different_size["second"], second=different_size["first"])
    with pytest.raises(EncodingError, match="must not be larger"):
        verify_evidence(evidence, key=KEY.verifier)


def test_swapped_proof_sizes_are_refused(different_size) -> None:
    proof = different_size["proof"]
    proof["old_size"], proof["new_size"] = proof["new_size"], proof["old_size"]
    with pytest.raises(VerificationError, match="from size 7 to 5"):
        verify_evidence(different_size, key=KEY.verifier)


@pytest.mark.parametrize("cut", [slice(None, -1), slice(1, None), slice(0, 0)])
def test_truncated_proof_is_refused(different_size, cut: slice) -> None:
    different_size["proof"]["hashes"] = different_size["proof"]["hashes"][cut]
    with pytest.raises(VerificationError, match="proof does not show"):
        verify_evidence(different_size, key=KEY.verifier)


def test_altered_proof_hash_is_refused(different_size) -> None:
    different_size["proof"]["hashes"][0] = b64(bytes(32))
    with pytest.raises(VerificationError, match="does not lead to"):
        verify_evidence(different_size, key=KEY.verifier)


# Malformed input.


def _set(evidence: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(evidence)
    target = changed
    for name in path[:-1]:
        target = target[name]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return changed


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("v",), 2, "version 2 is not 1"),
        (("v",), True, "version True is not 1"),
        (("v",), 1.0, "version 1.0 is not 1"),
        (("kind",), "fork", "kind 'fork'"),
        (("origin",), None, "origin: not a string"),
        (("first",), 42, "first: not a signed note"),
        (("first",), "not a note\n", "first: note has no blank line"),
        (("second",), "x\n\n\u2014 k AAAA\n", "evidence.second"),
        (("first",), "a\ud800\n", "lone surrogate"),
        (("v",), _DELETE, "missing v"),
        (("extra",), 1, "unexpected 'extra'"),
        (("proof",), None, "different sizes need a proof"),
        (("proof",), [], "proof: not a JSON object"),
        (("proof", "hashes"), "AAAA", "hashes: not a list"),
        (("proof", "hashes", 0), 7, r"hashes\[0\]: not a base64 hash"),
        (("proof", "hashes", 0), "not base64!", r"hashes\[0\]: not valid base64"),
        (("proof", "hashes", 0), b64(bytes(16)), "16 bytes, not 32"),
        (("proof", "old_root"), b64(bytes(32)).replace("=", "E"), "33 bytes, not 32"),
        (("proof", "old_root"), "A" * 42 + "B=", "not canonical"),
        (("proof", "old_root"), "A" * 100, "not a base64 hash"),
        (("proof", "old_size"), "5", "old_size: not a tree size"),
        (("proof", "new_size"), -1, "new_size: not a tree size"),
        (("proof", "new_size"), False, "new_size: not a tree size"),
        (("proof", "old_root"), _DELETE, "proof: missing old_root"),
    ],
)
def test_malformed_evidence_is_refused(
    different_size, path: tuple[Any, ...], value: Any, message: str
) -> None:
    with pytest.raises(EncodingError, match=message):
        verify_evidence(_set(different_size, path, value), key=KEY.verifier)


@pytest.mark.parametrize("garbage", [None, [], "evidence", 1, {}])
def test_garbage_is_refused(garbage: object) -> None:
    with pytest.raises(EncodingError, match="evidence"):
        verify_evidence(garbage, key=KEY.verifier)


def test_proof_for_equal_sizes_is_refused(same_size) -> None:
    first, second = same_size
    evidence = equal_size_evidence(first, second)
    evidence["proof"] = {"old_size": 4, "new_size": 4, "old_root": b64(bytes(32)), "hashes": []}
    with pytest.raises(EncodingError, match="must be null"):
        verify_evidence(evidence, key=KEY.verifier)


@pytest.mark.parametrize(
    "note",
    [
        "x" * (MAX_EVIDENCE_NOTE_BYTES + 1),
        "\u00e9" * (MAX_EVIDENCE_NOTE_BYTES // 2 + 1),  # few characters, too many bytes
    ],
)
def test_oversized_note_is_refused(different_size, note: str) -> None:
    different_size["second"] = note
    with pytest.raises(TooLargeError, match="evidence.second: note above 65536 bytes"):
        verify_evidence(different_size, key=KEY.verifier)


def test_oversized_proof_is_refused(different_size) -> None:
    different_size["proof"]["hashes"] = [b64(bytes(32))] * (MAX_EVIDENCE_PROOF + 1)
    with pytest.raises(TooLargeError, match="65 hashes"):
        verify_evidence(different_size, key=KEY.verifier)


def test_oversized_note_is_refused_by_the_builder() -> None:
    honest, forked = fork(2, 4, 4)
    extensions = tuple("e" * 1000 for _ in range(70))
    big = Checkpoint(ORIGIN, 4, honest.root(), extensions).sign(KEY)
    with pytest.raises(TooLargeError, match="the first checkpoint is"):
        equal_size_evidence(big, signed(forked, 4))
