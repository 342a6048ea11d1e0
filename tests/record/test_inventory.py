"""Tests of detente.record.inventory: the leaf encoding, commitments, openings, verification."""

from __future__ import annotations

import dataclasses
import doctest
import hashlib
import json
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detente.errors import EncodingError, InputError, TooLargeError, VerificationError
from detente.record import inventory as inventory_module
from detente.record.inventory import (
    ITEM_CONTEXT,
    MAX_FIELD_BYTES,
    Commitment,
    ItemRecord,
    Opening,
    PublishedCommitment,
    commit,
    verify_opening,
)
from detente.record.merkle import MerkleTree, leaf_hash, node_hash

SALT = bytes(range(32))
OTHER_SALT = b"\xff" * 32


def record(i: int, **changes: str) -> ItemRecord:
    fields = {
        "item_id": f"RO-DEV-{i:04d}",
        "location": f"cell {i:02d}",
        "status": "deployed" if i % 3 else "empty",
        "contents": "SM-3 interceptor" if i % 3 else "none",
    }
    fields.update(changes)
    return ItemRecord(**fields)


def salts(n: int, tag: int = 0) -> list[bytes]:
    return [hashlib.sha256(b"salt %d %d" % (tag, i)).digest() for i in range(n)]


@pytest.fixture
def kept() -> Commitment:
    return Commitment([record(i) for i in range(11)], salts(11), site="deveselu")


def test_module_example_runs() -> None:
    result = doctest.testmod(inventory_module)
    assert result.attempted > 0
    assert result.failed == 0


# The encoding, byte by byte.


def test_encoding_test_vector() -> None:
    item = ItemRecord("RO-DEV-0007", "cell 07", "deployed", "SM-3 interceptor")
    expected = b"".join(
        [
            b"detente/inventory-item/v1\n",
            SALT,
            b"\x00\x0b", b"RO-DEV-0007",
            b"\x00\x07", b"cell 07",
            b"\x00\x08", b"deployed",
            b"\x00\x10", b"SM-3 interceptor",
        ]
    )  # fmt: skip
    assert item.encode(SALT) == expected
    assert (
        item.encode(SALT).hex() == "646574656e74652f696e76656e746f72792d6974656d2f76310a"
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
        "000b524f2d4445562d30303037000763656c6c20303700086465706c6f796564"
        "0010534d2d3320696e746572636570746f72"
    )
    assert item.leaf_hash(SALT).hex() == (
        "598033ceccf4a0664406ddc7029a8d9ec2b4878e5e72a383b4261619d5a85025"
    )
    assert item.leaf_hash(SALT) == hashlib.sha256(b"\x00" + expected).digest()


def test_encoding_of_non_ascii_counts_bytes_not_characters() -> None:
    item = ItemRecord("RU-KAL-0001", "Kaliningrad, bunker 3", "vide", "\u2014")
    data = item.encode(OTHER_SALT)
    assert data.endswith(b"\x00\x03" + "\u2014".encode())  # one character, three bytes
    assert item.leaf_hash(OTHER_SALT).hex() == (
        "ef6041f7781e4e2747a5a2d9be7f055ecfaa028caf27758f3960d8a4cedbc40a"
    )


def test_root_test_vector() -> None:
    first = ItemRecord("RO-DEV-0007", "cell 07", "deployed", "SM-3 interceptor")
    second = ItemRecord("RU-KAL-0001", "Kaliningrad, bunker 3", "vide", "\u2014")
    kept = Commitment([first, second], [SALT, OTHER_SALT], site="test")
    assert kept.root == node_hash(first.leaf_hash(SALT), second.leaf_hash(OTHER_SALT))
    assert kept.root.hex() == "76e174657bd03d261ad6effb65ea4642bc9ba4ce9247ea6e55635e8c5f5bb942"


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.text(min_size=1, max_size=20), min_size=4, max_size=4),
    st.binary(min_size=32, max_size=32),
)
def test_encoding_matches_the_specification(texts: list[str], salt: bytes) -> None:
    try:
        item = ItemRecord(*texts)
    except InputError:
        return
    spec = ITEM_CONTEXT + salt
    for text in texts:
        data = text.encode("utf-8")
        spec += struct.pack(">H", len(data)) + data
    assert item.encode(salt) == spec
    assert item.leaf_hash(salt) == leaf_hash(spec)


def test_the_root_is_rfc_9162_over_the_leaves(kept: Commitment) -> None:
    tree = MerkleTree()
    for item, salt in zip(kept.records, kept.salts, strict=True):
        tree.append(item.encode(salt))
    assert kept.root == tree.root()
    assert kept.published == PublishedCommitment("deveselu", 11, tree.root())


# Records: what is refused, and the field named.


@pytest.mark.parametrize("name", ["item_id", "location", "status", "contents"])
@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "is empty"),
        ("a\nb", "control character"),
        ("a\x7fb", "control character"),
        ("a\u0085b", "control character U\\+0085"),
        ("a\u202eb", "control character U\\+202E"),
        ("a\u2028b", "control character U\\+2028"),
        (" cell", "white space"),
        ("cell\u3000", "white space"),
        ("Cafe\u0301", "not in Unicode NFC"),
        ("a\ud800", "lone surrogate"),
    ],
)
def test_bad_field_refused_naming_it(name: str, value: str, reason: str) -> None:
    with pytest.raises(InputError, match=f"^{name} .*{reason}"):
        record(1, **{name: value})


@pytest.mark.parametrize("name", ["item_id", "location", "status", "contents"])
def test_size_limits_name_the_field(name: str) -> None:
    record(1, **{name: "x" * MAX_FIELD_BYTES})
    record(1, **{name: "\u00e9" * (MAX_FIELD_BYTES // 2)})
    with pytest.raises(TooLargeError, match=f"^{name} is longer than 256 UTF-8 bytes"):
        record(1, **{name: "x" * (MAX_FIELD_BYTES + 1)})
    with pytest.raises(TooLargeError, match=f"^{name} is 258 UTF-8 bytes, above the 256"):
        record(1, **{name: "\u00e9" * 129})


def test_field_must_be_a_string() -> None:
    with pytest.raises(InputError, match="^status must be a string, not int"):
        ItemRecord("a", "b", 3, "d")  # type: ignore[arg-type]


def test_nfc_text_is_accepted_as_written() -> None:
    item = record(1, location="Caf\u00e9 \u2014 h\u00e2ngar 2")
    assert item.location == "Caf\u00e9 \u2014 h\u00e2ngar 2"


def test_record_json_round_trip() -> None:
    item = record(5, contents="\u041a\u0430\u043b\u0438\u0431\u0440")
    assert ItemRecord.from_json(json.loads(json.dumps(item.to_json()))) == item


# Commitments.


def test_duplicate_ids_refused_naming_the_id() -> None:
    items = [record(1), record(2), record(3, item_id="RO-DEV-0001")]
    with pytest.raises(InputError, match="item id 'RO-DEV-0001' is declared twice"):
        commit(items, site="deveselu")


def test_commit_checks_its_inputs() -> None:
    with pytest.raises(InputError, match="record 1 is not an ItemRecord"):
        commit([record(0), "RO-DEV-0001"], site="deveselu")  # type: ignore[list-item]
    with pytest.raises(InputError, match="1 salts given for 2 records"):
        commit([record(0), record(1)], [SALT], site="deveselu")
    with pytest.raises(InputError, match="salt 1 must be 32 bytes"):
        commit([record(0), record(1)], [SALT, SALT[:31]], site="deveselu")
    with pytest.raises(InputError, match="^site is empty"):
        commit([record(0)], site="")


def test_commit_draws_fresh_salts() -> None:
    items = [record(i) for i in range(4)]
    one, two = commit(items, site="deveselu"), commit(items, site="deveselu")
    assert all(len(s) == 32 for s in one.salts)
    assert len(set(one.salts) | set(two.salts)) == 8
    assert one.root != two.root


def test_the_empty_inventory_has_the_empty_root() -> None:
    empty = commit([], site="deveselu")
    assert empty.size == 0
    assert empty.root == hashlib.sha256(b"").digest()
    assert empty.open([]) == []


def test_repr_shows_no_secret(kept: Commitment) -> None:
    text = repr(kept)
    assert "RO-DEV" not in text
    assert kept.salts[0].hex() not in text
    assert kept.root.hex() in text


def test_published_json_round_trip(kept: Commitment) -> None:
    body = kept.published.to_json()
    assert body == {"v": 1, "site": "deveselu", "size": 11, "root": kept.root.hex()}
    assert PublishedCommitment.from_json(json.loads(json.dumps(body))) == kept.published


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"v": 2}, "version 2 is not 1"),
        ({"root": "AB" * 32}, "commitment.root: not 64 lowercase hex"),
        ({"root": "ab" * 31}, "commitment.root: not 64 lowercase hex"),
        ({"size": -1}, "commitment.size must be an integer"),
        ({"size": True}, "commitment.size must be an integer"),
        ({"site": "a\nb"}, "commitment.site contains a control character"),
        ({"extra": 1}, "unexpected 'extra'"),
    ],
)
def test_published_parse_refuses(kept: Commitment, change: dict, message: str) -> None:
    body = {**kept.published.to_json(), **change}
    with pytest.raises(EncodingError, match=message):
        PublishedCommitment.from_json(body)


def test_published_commitment_checks_its_members() -> None:
    with pytest.raises(InputError, match="root must be 32 bytes"):
        PublishedCommitment("deveselu", 1, bytes(31))
    with pytest.raises(InputError, match="size must be an integer"):
        PublishedCommitment("deveselu", 2**64, bytes(32))


def test_published_parse_names_missing_members() -> None:
    with pytest.raises(EncodingError, match="missing root, size"):
        PublishedCommitment.from_json({"v": 1, "site": "x"})
    with pytest.raises(EncodingError, match="not a JSON object"):
        PublishedCommitment.from_json([])


# Openings that verify.


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 11, 33])
def test_every_opening_verifies(size: int) -> None:
    kept = Commitment([record(i) for i in range(size)], salts(size), site="deveselu")
    published = kept.published
    for opening in kept.open(range(size)):
        verify_opening(published, opening, index=opening.index)
        assert opening.record == kept.records[opening.index]


def test_open_refuses_bad_indices(kept: Commitment) -> None:
    with pytest.raises(InputError, match="index 11 is not a record of the 11 committed"):
        kept.open([11])
    with pytest.raises(InputError, match="index -1 is not a record"):
        kept.open([-1])
    with pytest.raises(InputError, match="record 3 is asked for twice"):
        kept.open([3, 4, 3])


def test_opening_json_round_trip(kept: Commitment) -> None:
    for opening in kept.open([0, 5, 10]):
        body = json.loads(json.dumps(opening.to_json()))
        assert set(body) == {"index", "size", "record", "salt", "proof"}
        again = Opening.from_json(body)
        assert again == opening
        verify_opening(kept.published, again, index=opening.index)


# Openings refused, each with its reason.


def test_changed_field_refused(kept: Commitment) -> None:
    [opening] = kept.open([4])
    for name in ("item_id", "location", "status", "contents"):
        forged = dataclasses.replace(
            opening, record=dataclasses.replace(opening.record, **{name: "forged"})
        )
        with pytest.raises(VerificationError, match="record 4: it does not lead to the committed"):
            verify_opening(kept.published, forged, index=4)


def test_changed_salt_refused(kept: Commitment) -> None:
    [opening] = kept.open([4])
    forged = dataclasses.replace(opening, salt=bytes(32))
    with pytest.raises(VerificationError, match="record or its salt is not what was committed"):
        verify_opening(kept.published, forged, index=4)


def test_opening_of_another_record_refused(kept: Commitment) -> None:
    [opening] = kept.open([5])
    with pytest.raises(VerificationError, match="opening is of record 5, not of record 4 as asked"):
        verify_opening(kept.published, opening, index=4)


def test_wrong_index_claimed_refused(kept: Commitment) -> None:
    [opening] = kept.open([5])
    # Record 5 presented as record 4 (same proof length in a tree of 11).
    forged = dataclasses.replace(opening, index=4)
    with pytest.raises(VerificationError, match="record 4: it does not lead to the committed"):
        verify_opening(kept.published, forged, index=4)
    # Record 5 presented as record 10, whose path is shorter.
    forged = dataclasses.replace(opening, index=10)
    with pytest.raises(VerificationError, match="record 10: its proof has 4 hashes, .* needs 2"):
        verify_opening(kept.published, forged, index=10)


def test_index_beyond_the_commitment_refused(kept: Commitment) -> None:
    [opening] = kept.open([5])
    forged = dataclasses.replace(opening, index=11)
    with pytest.raises(VerificationError, match="record 11: no such record, the commitment has 11"):
        verify_opening(kept.published, forged, index=11)


def test_wrong_size_refused(kept: Commitment) -> None:
    [opening] = kept.open([5])
    forged = dataclasses.replace(opening, size=12)
    with pytest.raises(VerificationError, match="made for a commitment of 12 records, .* has 11"):
        verify_opening(kept.published, forged, index=5)


def test_proof_from_another_commitment_refused(kept: Commitment) -> None:
    items = list(kept.records)
    other = Commitment(items, salts(11, tag=1), site="deveselu")
    [theirs] = other.open([5])
    with pytest.raises(VerificationError, match="the proof is not this record's in this commit"):
        verify_opening(kept.published, theirs, index=5)
    # Even with this commitment's salt, the other tree's siblings do not fit.
    mixed = dataclasses.replace(theirs, salt=kept.salts[5])
    with pytest.raises(VerificationError, match="does not lead to the committed root"):
        verify_opening(kept.published, mixed, index=5)


def test_truncated_and_padded_proofs_refused(kept: Commitment) -> None:
    [opening] = kept.open([5])
    short = dataclasses.replace(opening, proof=opening.proof[:-1])
    with pytest.raises(VerificationError, match="its proof has 3 hashes, record 5 of 11 needs 4"):
        verify_opening(kept.published, short, index=5)
    long = dataclasses.replace(opening, proof=(*opening.proof, bytes(32)))
    with pytest.raises(VerificationError, match="its proof has 5 hashes, record 5 of 11 needs 4"):
        verify_opening(kept.published, long, index=5)


def test_published_of_another_site_or_root_refused(kept: Commitment) -> None:
    [opening] = kept.open([5])
    elsewhere = PublishedCommitment("deveselu", 11, bytes(32))
    with pytest.raises(VerificationError, match="does not lead to the committed root"):
        verify_opening(elsewhere, opening, index=5)


def test_opening_checks_its_members() -> None:
    item = record(1)
    with pytest.raises(InputError, match="salt must be 32 bytes"):
        Opening(0, 1, item, b"short", ())
    with pytest.raises(InputError, match=r"proof\[1\] must be 32 bytes"):
        Opening(0, 4, item, SALT, (bytes(32), b"x"))
    with pytest.raises(TooLargeError, match="proof has 65 hashes"):
        Opening(0, 4, item, SALT, (bytes(32),) * 65)
    with pytest.raises(InputError, match="index must be an integer"):
        Opening(-1, 4, item, SALT, ())
    with pytest.raises(InputError, match="record must be an ItemRecord"):
        Opening(0, 4, item.to_json(), SALT, ())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("path", "value", "error", "message"),
    [
        (("salt",), "AAAA", EncodingError, "opening.salt: not canonical base64 of 32 bytes"),
        (("salt",), "!" * 44, EncodingError, "opening.salt: not valid base64"),
        (("salt",), 7, EncodingError, "opening.salt: not base64"),
        (("proof",), "x", EncodingError, "opening.proof: not a list"),
        (("proof",), ["A" * 44] * 65, TooLargeError, "opening.proof: 65 hashes"),
        (("index",), "3", EncodingError, "opening.index: not an integer"),
        (("size",), 2**64, EncodingError, "opening.size: not an integer"),
        (("record", "status"), "", EncodingError, "opening.record.status is empty"),
        (("record", "contents"), "x" * 300, TooLargeError, "opening.record.contents is longer"),
        (("record", "colour"), "red", EncodingError, "opening.record: unexpected 'colour'"),
    ],
)
def test_opening_parse_refuses(kept: Commitment, path, value, error, message) -> None:
    [opening] = kept.open([5])
    body = json.loads(json.dumps(opening.to_json()))
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(error, match=message):
        Opening.from_json(body)


def test_opening_parse_refuses_a_non_canonical_proof_hash(kept: Commitment) -> None:
    [opening] = kept.open([5])
    body = opening.to_json()
    body["proof"][0] = body["proof"][0][:-2] + "B="  # "B" sets one of the two padding bits
    with pytest.raises(EncodingError, match=r"opening.proof\[0\]: not canonical"):
        Opening.from_json(body)


# Hiding: what an opening shows, and what it does not.


def test_same_record_under_two_salts_gives_unrelated_leaves() -> None:
    item = record(7)
    first, second = item.leaf_hash(salts(2)[0]), item.leaf_hash(salts(2)[1])
    assert first != second
    differing = bin(int.from_bytes(first, "big") ^ int.from_bytes(second, "big")).count("1")
    assert 64 < differing < 192  # about half of 256 bits, as for unrelated hashes


def test_leaf_of_a_guessable_record_cannot_be_found_without_its_salt(kept: Commitment) -> None:
    # The inspector knows every plausible record for cell 04; with the salt
    # unknown, none of the guesses reproduces the leaf the proof shows.
    [opening] = kept.open([5])
    sibling_leaf = opening.proof[0]
    assert sibling_leaf == kept.records[4].leaf_hash(kept.salts[4])
    for status, contents in [("deployed", "SM-3 interceptor"), ("empty", "none")]:
        guess = record(4, status=status, contents=contents)
        assert guess.leaf_hash(bytes(32)) != sibling_leaf


def test_an_opening_carries_only_hashes_of_other_records(kept: Commitment) -> None:
    [opening] = kept.open([5])
    text = json.dumps(opening.to_json())
    for i, (item, salt) in enumerate(zip(kept.records, kept.salts, strict=True)):
        if i == 5:
            continue
        assert item.item_id not in text
        assert item.location not in text
        assert salt.hex() not in text
        assert salt not in b"".join(opening.proof)
    # Two inventories that differ only in unopened records, with leaf
    # hashes kept apart by their salts, give openings of record 5 of the
    # same form: its own record and salt, and 32-byte hashes.
    changed = list(kept.records)
    changed[4] = record(4, status="empty", contents="none")
    other = Commitment(changed, kept.salts, site="deveselu")
    [theirs] = other.open([5])
    assert (theirs.index, theirs.size, theirs.record, theirs.salt) == (
        opening.index,
        opening.size,
        opening.record,
        opening.salt,
    )
    assert [len(h) for h in theirs.proof] == [len(h) for h in opening.proof]
    assert theirs.proof[0] != opening.proof[0]


def test_a_large_commitment_opens_and_verifies() -> None:
    n = 5000
    kept = commit([record(i) for i in range(n)], site="deveselu")
    published = PublishedCommitment.from_json(json.loads(json.dumps(kept.published.to_json())))
    for opening in kept.open([0, 1, 2047, 2048, 4095, 4096, 4999]):
        body = json.loads(json.dumps(opening.to_json()))
        verify_opening(published, Opening.from_json(body), index=opening.index)


# Secret material as JSON (the file itself: test_inventory_file.py).


def test_secret_json_round_trip(kept: Commitment) -> None:
    obj = json.loads(json.dumps(kept.to_json()))
    again = Commitment.from_json(obj)
    assert again.root == kept.root
    assert again.records == kept.records
    assert again.salts == kept.salts
    assert again.site == kept.site


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda o: o.update(root="00" * 32), "do not give the size and root it names"),
        (lambda o: o.update(size=10), "do not give the size and root it names"),
        (lambda o: o.update(kind="other"), "kind 'other' is not"),
        (lambda o: o.update(v=2), "version 2 is not 1"),
        (lambda o: o.update(items={}), r"items: not a list"),
        (lambda o: o["items"][3].update(salt="AAAA"), r"items\[3\].salt: not canonical"),
        (lambda o: o["items"][3].pop("salt"), r"items\[3\]: missing salt"),
        (
            lambda o: o["items"][3]["record"].update(status="forged"),
            "do not give the size and root",
        ),
        (
            lambda o: o["items"][3]["record"].update(item_id="RO-DEV-0001"),
            "item id 'RO-DEV-0001' is declared twice",
        ),
        (lambda o: o["items"][3]["record"].update(location=""), r"items\[3\].record.location"),
    ],
)
def test_secret_json_refused(kept: Commitment, change, message: str) -> None:
    obj = json.loads(json.dumps(kept.to_json()))
    change(obj)
    with pytest.raises(EncodingError, match=message):
        Commitment.from_json(obj)
