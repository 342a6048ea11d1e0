"""Findings of an inspection of a committed inventory: what the openings and the eyes disagree on.

Inspectors sample records of a :class:`~detente.record.inventory.PublishedCommitment`,
the host opens them, and inspectors write down what they see at each
record's location. A finding is one of:

``unverified``
    the opening of a sampled record does not verify against the published
    root (:func:`~detente.record.inventory.verify_opening` says why), or
    the host opened the record more than once;
``not-opened``
    a sampled record was not opened at all;
``mismatch``
    the opening verifies, and a field inspectors observed (typically
    ``status`` and ``contents``) differs from the record: the finding
    names each field with what was declared and what was seen;
``duplicate-id``
    two opened records declare the same item id, which a commitment must
    not do (:func:`~detente.record.inventory.commit` refuses it, so only a
    host that bypassed it can commit one).

Observed values are compared exactly after NFC normalisation and trimming
of white space at their ends; the spelling of statuses and contents classes
is the agreement's vocabulary to fix.

Example:
    >>> from detente.record.inventory import ItemRecord, commit
    >>> kept = commit(
    ...     [ItemRecord("RO-DEV-001", "cell 01", "deployed", "SM-3 interceptor"),
    ...      ItemRecord("RO-DEV-002", "cell 02", "empty", "none")],
    ...     site="deveselu",
    ... )
    >>> [opening] = kept.open([0])
    >>> seen = {"status": "deployed", "contents": "SM-3 interceptor"}
    >>> compare(opening, seen, published=kept.published, index=0) is None
    True
    >>> seen = {"status": "deployed", "contents": "Tomahawk"}
    >>> compare(opening, seen, published=kept.published, index=0).detail
    "record 0 (RO-DEV-001): contents declared 'SM-3 interceptor', observed 'Tomahawk'"
    >>> [f.kind for f in compare_sample(kept.published, [opening], sample=[0, 1],
    ...                                 observed={0: {"status": "deployed"}})]
    ['not-opened']
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from detente.errors import InputError, VerificationError
from detente.record.inventory import FIELDS, Opening, PublishedCommitment, verify_opening

__all__ = ["Finding", "FindingKind", "Mismatch", "compare", "compare_sample"]


@dataclass(frozen=True)
class Mismatch:
    """One field where what inspectors saw differs from the record opened."""

    field: str
    declared: str
    observed: str


FindingKind = Literal["mismatch", "unverified", "not-opened", "duplicate-id"]


@dataclass(frozen=True)
class Finding:
    """A discrepancy for the inspection report.

    Attributes:
        index: The sampled record it is about.
        kind: ``"mismatch"`` (the opening verifies, what was seen differs),
            ``"unverified"`` (the opening does not verify, or the record was
            opened more than once), ``"not-opened"`` (a sampled record was
            not opened) or ``"duplicate-id"`` (two opened records share an
            item id, which a commitment must not hold).
        detail: One sentence for people, naming the record and the reason.
        item_id: The record's item id when its opening verifies, else ``None``.
        mismatches: The fields that differ, for ``"mismatch"``.
    """

    index: int
    kind: FindingKind
    detail: str
    item_id: str | None = None
    mismatches: tuple[Mismatch, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Return the finding as a JSON object for a findings message."""
        return {
            "index": self.index,
            "kind": self.kind,
            "detail": self.detail,
            "item_id": self.item_id,
            "mismatches": [
                {"field": m.field, "declared": m.declared, "observed": m.observed}
                for m in self.mismatches
            ],
        }


def _observed(observed: Mapping[str, object]) -> dict[str, str]:
    if not isinstance(observed, Mapping) or not observed:
        raise InputError("an observation must name at least one of " + ", ".join(FIELDS))
    unknown = sorted(str(name) for name in observed if name not in FIELDS)
    if unknown:
        raise InputError(f"observation names unknown field(s) {', '.join(unknown)}")
    seen = {}
    for name in FIELDS:
        if name in observed:
            value = observed[name]
            if not isinstance(value, str):
                raise InputError(f"observed {name} must be a string")
            seen[name] = unicodedata.normalize("NFC", value).strip()
    return seen


def compare(
    opening: Opening,
    observed: Mapping[str, str],
    *,
    published: PublishedCommitment,
    index: int,
) -> Finding | None:
    """Compare what inspectors saw of record ``index`` with its opening.

    Values are compared exactly, after normalising the observed ones to
    NFC and trimming white space at their ends (a record has neither, so
    neither can hide a difference): spelling is the agreement's vocabulary
    of statuses and contents classes, not this function's to guess.

    Args:
        opening: What the host revealed for record ``index``.
        observed: What inspectors saw, by field name: any of
            :data:`FIELDS`, typically ``status`` and ``contents``.
        published: The commitment the opening must verify against.
        index: The record the inspectors asked for.

    Returns:
        ``None`` when the opening verifies and every observed field
        matches; otherwise the finding.

    Raises:
        InputError: ``observed`` names no field, an unknown field, or a
            value that is not a string.
    """
    seen = _observed(observed)
    try:
        verify_opening(published, opening, index=index)
    except VerificationError as e:
        return Finding(index, "unverified", str(e))
    record = opening.record
    mismatches = tuple(
        Mismatch(name, getattr(record, name), value)
        for name, value in seen.items()
        if getattr(record, name) != value
    )
    if not mismatches:
        return None
    parts = "; ".join(
        f"{m.field} declared {m.declared!r}, observed {m.observed!r}" for m in mismatches
    )
    return Finding(
        index, "mismatch", f"record {index} ({record.item_id}): {parts}", record.item_id, mismatches
    )


def compare_sample(
    published: PublishedCommitment,
    openings: Iterable[Opening],
    *,
    sample: Sequence[int],
    observed: Mapping[int, Mapping[str, str]],
) -> list[Finding]:
    """Check a whole inspection: every sampled record opened once, verified, as seen.

    Openings of records outside the sample are ignored: the host may reveal
    more than asked, and it proves nothing either way.

    Args:
        published: The commitment from the host's log.
        openings: Everything the host revealed.
        sample: The record indices drawn for inspection.
        observed: What inspectors saw, by record index; needed for every
            sampled record whose opening verifies.

    Returns:
        The findings in sample order; empty when all is as declared.

    Raises:
        InputError: the sample repeats an index or holds a non-integer, or
            a verified record has no observation (or a malformed one).
    """
    by_index: dict[int, list[Opening]] = {}
    for opening in openings:
        by_index.setdefault(opening.index, []).append(opening)
    findings: list[Finding] = []
    first_with_id: dict[str, int] = {}
    asked: set[int] = set()
    for index in sample:
        if type(index) is not int or index < 0 or index in asked:
            raise InputError(f"sample index {index!r} is not a new non-negative integer")
        asked.add(index)
        given = by_index.get(index, [])
        if not given:
            findings.append(Finding(index, "not-opened", f"record {index} was sampled, not opened"))
            continue
        if len(given) > 1:
            findings.append(
                Finding(index, "unverified", f"record {index} was opened {len(given)} times")
            )
            continue
        try:
            verify_opening(published, given[0], index=index)
        except VerificationError as e:
            findings.append(Finding(index, "unverified", str(e)))
            continue
        if index not in observed:
            raise InputError(f"no observation is recorded for record {index}")
        finding = compare(given[0], observed[index], published=published, index=index)
        if finding is not None:
            findings.append(finding)
        item_id = given[0].record.item_id
        if item_id in first_with_id:
            findings.append(
                Finding(
                    index,
                    "duplicate-id",
                    f"records {first_with_id[item_id]} and {index} both declare item "
                    f"{item_id!r}: a commitment must not declare an item twice",
                    item_id,
                )
            )
        else:
            first_with_id[item_id] = index
    return findings
