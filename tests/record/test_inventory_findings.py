"""Tests of detente.record.inventory_findings: what inspectors saw against what was opened."""

from __future__ import annotations

import dataclasses
import doctest
import hashlib
import json

import pytest

from detente.errors import InputError
from detente.record import inventory_findings as findings_module
from detente.record.inventory import Commitment, ItemRecord, Opening
from detente.record.inventory_findings import Finding, Mismatch, compare, compare_sample


def record(i: int) -> ItemRecord:
    loaded = i % 2 == 0
    return ItemRecord(
        f"RO-DEV-{i:04d}",
        f"cell {i:02d}",
        "deployed" if loaded else "empty",
        "SM-3 interceptor" if loaded else "none",
    )


@pytest.fixture
def kept() -> Commitment:
    salts = [hashlib.sha256(b"%d" % i).digest() for i in range(9)]
    return Commitment([record(i) for i in range(9)], salts, site="redzikowo")


def seen(item: ItemRecord) -> dict[str, str]:
    return {"status": item.status, "contents": item.contents}


def test_module_example_runs() -> None:
    result = doctest.testmod(findings_module)
    assert result.attempted > 0
    assert result.failed == 0


def test_matching_observation_is_no_finding(kept: Commitment) -> None:
    [opening] = kept.open([2])
    assert compare(opening, seen(opening.record), published=kept.published, index=2) is None
    everything = opening.record.to_json()
    assert compare(opening, everything, published=kept.published, index=2) is None


def test_mismatch_names_the_fields(kept: Commitment) -> None:
    [opening] = kept.open([2])
    observed = {"status": "deployed", "contents": "Tomahawk cruise missile", "location": "cell 09"}
    finding = compare(opening, observed, published=kept.published, index=2)
    assert finding == Finding(
        2,
        "mismatch",
        "record 2 (RO-DEV-0002): location declared 'cell 02', observed 'cell 09'; "
        "contents declared 'SM-3 interceptor', observed 'Tomahawk cruise missile'",
        "RO-DEV-0002",
        (
            Mismatch("location", "cell 02", "cell 09"),
            Mismatch("contents", "SM-3 interceptor", "Tomahawk cruise missile"),
        ),
    )
    assert json.loads(json.dumps(finding.to_json())) == {
        "index": 2,
        "kind": "mismatch",
        "detail": finding.detail,
        "item_id": "RO-DEV-0002",
        "mismatches": [
            {"field": "location", "declared": "cell 02", "observed": "cell 09"},
            {
                "field": "contents",
                "declared": "SM-3 interceptor",
                "observed": "Tomahawk cruise missile",
            },
        ],
    }


def test_observation_compared_after_nfc_and_trimming() -> None:
    item = ItemRecord("RU-KAL-0001", "b\u00e2timent 3", "d\u00e9ploy\u00e9", "none")
    kept = Commitment([item], [bytes(32)], site="kaliningrad")
    [opening] = kept.open([0])
    decomposed = {"status": "de\u0301ploye\u0301 ", "location": "\tba\u0302timent 3"}
    assert compare(opening, decomposed, published=kept.published, index=0) is None


def test_comparison_is_exact_otherwise(kept: Commitment) -> None:
    [opening] = kept.open([2])
    finding = compare(opening, {"contents": "sm-3 interceptor"}, published=kept.published, index=2)
    assert finding is not None
    assert finding.kind == "mismatch"


def test_unverified_opening_is_a_finding(kept: Commitment) -> None:
    [opening] = kept.open([2])
    forged = dataclasses.replace(
        opening, record=dataclasses.replace(opening.record, status="empty")
    )
    finding = compare(forged, {"status": "empty"}, published=kept.published, index=2)
    assert finding is not None
    assert finding.kind == "unverified"
    assert finding.item_id is None
    assert finding.mismatches == ()
    assert finding.detail.startswith("opening of record 2: it does not lead to the committed root")


def test_opening_of_another_record_is_a_finding(kept: Commitment) -> None:
    [opening] = kept.open([3])
    finding = compare(opening, seen(opening.record), published=kept.published, index=2)
    assert finding is not None
    assert finding.kind == "unverified"
    assert "opening is of record 3, not of record 2" in finding.detail


@pytest.mark.parametrize(
    ("observed", "message"),
    [
        ({}, "must name at least one of item_id, location, status, contents"),
        ({"colour": "grey"}, "unknown field"),
        ({"status": 1}, "observed status must be a string"),
    ],
)
def test_bad_observation_refused(kept: Commitment, observed, message: str) -> None:
    [opening] = kept.open([2])
    with pytest.raises(InputError, match=message):
        compare(opening, observed, published=kept.published, index=2)


def test_sample_as_declared_has_no_finding(kept: Commitment) -> None:
    sample = [7, 2, 4]
    openings = kept.open(sample)
    observed = {o.index: seen(o.record) for o in openings}
    assert compare_sample(kept.published, openings, sample=sample, observed=observed) == []


def test_sample_findings_in_sample_order(kept: Commitment) -> None:
    sample = [7, 2, 4, 5, 1]
    openings = kept.open([7, 2, 4, 1, 8])  # 5 not opened; 8 opened unasked
    forged = dataclasses.replace(openings[3], salt=bytes(32))  # record 1
    openings[3] = forged
    observed = {o.index: seen(o.record) for o in openings}
    observed[4] = {"status": "deployed", "contents": "Tomahawk"}
    found = compare_sample(kept.published, openings, sample=sample, observed=observed)
    assert [(f.index, f.kind) for f in found] == [
        (4, "mismatch"),
        (5, "not-opened"),
        (1, "unverified"),
    ]
    assert found[1].detail == "record 5 was sampled, not opened"


def test_unverified_record_needs_no_observation(kept: Commitment) -> None:
    [opening] = kept.open([2])
    forged = dataclasses.replace(opening, salt=bytes(32))
    found = compare_sample(kept.published, [forged], sample=[2], observed={})
    assert [f.kind for f in found] == ["unverified"]


def test_verified_record_needs_an_observation(kept: Commitment) -> None:
    openings = kept.open([2])
    with pytest.raises(InputError, match="no observation is recorded for record 2"):
        compare_sample(kept.published, openings, sample=[2], observed={})


def test_record_opened_twice_is_a_finding(kept: Commitment) -> None:
    [opening] = kept.open([2])
    found = compare_sample(
        kept.published, [opening, opening], sample=[2], observed={2: seen(opening.record)}
    )
    assert [(f.kind, f.detail) for f in found] == [("unverified", "record 2 was opened 2 times")]


def test_duplicate_ids_in_a_sample_are_a_finding() -> None:
    # commit() refuses duplicate ids; a host that bypasses it is caught
    # when two records of one id are both sampled.
    first = record(0)
    twin = dataclasses.replace(record(1), item_id=first.item_id)
    salts = [bytes([i]) * 32 for i in range(3)]
    leaves = [r.leaf_hash(s) for r, s in zip([first, twin, record(2)], salts, strict=True)]
    from detente.record.merkle import MerkleTree

    tree = MerkleTree.from_leaf_hashes(leaves)
    from detente.record.inventory import PublishedCommitment

    published = PublishedCommitment("redzikowo", 3, tree.root())
    openings = [
        Opening(0, 3, first, salts[0], tuple(tree.inclusion_proof(0, 3))),
        Opening(1, 3, twin, salts[1], tuple(tree.inclusion_proof(1, 3))),
    ]
    observed = {0: seen(first), 1: seen(twin)}
    found = compare_sample(published, openings, sample=[0, 1], observed=observed)
    assert [(f.index, f.kind, f.item_id) for f in found] == [(1, "duplicate-id", "RO-DEV-0000")]
    assert "records 0 and 1 both declare item 'RO-DEV-0000'" in found[0].detail


@pytest.mark.parametrize("sample", [[1, 1], [-1], ["1"]])
def test_bad_sample_refused(kept: Commitment, sample) -> None:
    with pytest.raises(InputError, match="is not a new non-negative integer"):
        compare_sample(kept.published, [], sample=sample, observed={})
