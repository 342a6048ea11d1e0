"""Committed inventories: a site declaration as a Merkle root over salted item records.

A host declares a site's items (issue 7) without publishing them: it
publishes a :class:`PublishedCommitment` -- site, number of records, and
the RFC 9162 Merkle root over one salted leaf per record -- and keeps the
records and their salts (a :class:`Commitment`). At an inspection it opens
exactly the sampled records: each :class:`Opening` is the record, its salt
and its inclusion proof (RFC 9162 §2.1.3.1) against the published root.
Inspectors check it with :func:`verify_opening` and record what they see;
:mod:`detente.record.inventory_findings` turns what does not hold into
findings, and :mod:`detente.record.inventory_file` keeps the host's secret
on disk. This module is pure: bytes and objects in, bytes and objects out.

Leaf encoding, version 1 (normative). For a record and its salt the leaf
data is the concatenation of, in this order:

============  ========  ===============================================
bytes         length    content
============  ========  ===============================================
context       26        ASCII ``detente/inventory-item/v1`` then LF (0x0a)
salt          32        uniformly random bytes, one salt per record
item_id       2 + n     n as u16 big-endian, then n bytes of UTF-8
location      2 + n     likewise
status        2 + n     likewise
contents      2 + n     likewise
============  ========  ===============================================

Each field is a non-empty string of at most :data:`MAX_FIELD_BYTES` bytes
of UTF-8 in Unicode NFC, with no control character (Unicode ``Cc``), no
line or paragraph separator (U+2028, U+2029), no bidirectional formatting
character (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) and no
white space at either end. A string that breaks a rule is refused, never
normalised: the committed bytes are then a function of the record as
written, and an opening parses back to the very bytes that were hashed.
The leaf hash is ``SHA-256(0x00 || data)`` (RFC 9162 §2.1.1) and the
commitment's root is ``MTH`` over the leaves in the host's order.

Binding comes from SHA-256's collision resistance: a root fixes every
record. Hiding comes from the salts: an opening shows, besides its own
record, only hashes of other leaves, each of which covers 256 random bits
no one else knows, so it tells nothing about the records behind them. What
the commitment does show is the number of records, and the position of
each record opened: a host whose order means something should shuffle its
records before committing.

Example:
    >>> records = [
    ...     ItemRecord("RO-DEV-001", "cell 01", "deployed", "SM-3 interceptor"),
    ...     ItemRecord("RO-DEV-002", "cell 02", "empty", "none"),
    ...     ItemRecord("RO-DEV-003", "cell 03", "deployed", "SM-3 interceptor"),
    ... ]
    >>> kept = commit(records, site="deveselu")
    >>> published = PublishedCommitment.from_json(kept.published.to_json())
    >>> [opening] = kept.open([2])
    >>> verify_opening(published, Opening.from_json(opening.to_json()), index=2)
    >>> opening.record.contents
    'SM-3 interceptor'
    >>> verify_opening(published, opening, index=1)
    Traceback (most recent call last):
    ...
    detente.errors.VerificationError: the opening is of record 2, not of record 1 as asked
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from detente.errors import EncodingError, InputError, TooLargeError, VerificationError
from detente.record.merkle import HASH_SIZE, MerkleTree, inclusion_plan, verify_inclusion

__all__ = [
    "FIELDS",
    "ITEM_CONTEXT",
    "MAX_FIELD_BYTES",
    "MAX_PROOF_HASHES",
    "SALT_SIZE",
    "Commitment",
    "ItemRecord",
    "Opening",
    "PublishedCommitment",
    "commit",
    "verify_opening",
]

ITEM_CONTEXT = b"detente/inventory-item/v1\n"
"""First bytes of every leaf's data: the encoding and its version."""

SALT_SIZE = 32
"""Bytes of random salt in each leaf."""

MAX_FIELD_BYTES = 256
"""Largest field of a record, in UTF-8 bytes."""

MAX_PROOF_HASHES = 64
"""Most hashes an opening's proof may carry (a tree of up to 2**64 leaves)."""

FIELDS = ("item_id", "location", "status", "contents")
"""A record's fields, in the order the encoding writes them."""

_VERSION = 1
_KEPT_KIND = "detente/inventory-secret"
_MAX_SIZE = 2**64 - 1
_LEAF_HEAD = b"\x00" + ITEM_CONTEXT
_LENGTH = [n.to_bytes(2, "big") for n in range(MAX_FIELD_BYTES + 1)]
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
_HEX64 = re.compile("[0-9a-f]{64}")
_NOT_COMMITTED = (
    "it does not lead to the committed root: the record or its salt is not what was "
    "committed, or the proof is not this record's in this commitment"
)


def _text(value: object, name: str) -> bytes:
    """Check one field against the encoding's rules; return its UTF-8 bytes.

    Raises:
        InputError: the value breaks a rule; the message names the field.
        TooLargeError: it is over :data:`MAX_FIELD_BYTES`.
    """
    if not isinstance(value, str):
        raise InputError(f"{name} must be a string, not {type(value).__name__}")
    if not value:
        raise InputError(f"{name} is empty")
    if len(value) > MAX_FIELD_BYTES:
        raise TooLargeError(f"{name} is longer than {MAX_FIELD_BYTES} UTF-8 bytes")
    if value.isascii():
        if not value.isprintable():
            raise InputError(f"{name} contains a control character")
        data = value.encode("ascii")
    else:
        bad = _FORBIDDEN.search(value)
        if bad:
            raise InputError(f"{name} contains the control character U+{ord(bad.group()):04X}")
        try:
            data = value.encode("utf-8")
        except UnicodeEncodeError as e:
            raise InputError(f"{name} is not valid Unicode (a lone surrogate)") from e
        if not unicodedata.is_normalized("NFC", value):
            raise InputError(f"{name} is not in Unicode NFC; normalise it before declaring it")
        if len(data) > MAX_FIELD_BYTES:
            raise TooLargeError(
                f"{name} is {len(data)} UTF-8 bytes, above the {MAX_FIELD_BYTES} allowed"
            )
    if value[0].isspace() or value[-1].isspace():
        raise InputError(f"{name} starts or ends with white space")
    return data


def _check_salt(salt: object, name: str = "salt") -> bytes:
    if type(salt) is not bytes or len(salt) != SALT_SIZE:
        raise InputError(f"{name} must be {SALT_SIZE} bytes")
    return salt


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """One declared item, as committed: identifier, where it is, its state, what it holds.

    Attributes:
        item_id: The item's unique identifier within the declaration.
        location: Where it is, e.g. ``"cell 07"`` of a launcher.
        status: Its state, e.g. ``"deployed"`` or ``"empty"``.
        contents: Its contents class, e.g. ``"SM-3 interceptor"`` or ``"none"``.

    Raises:
        InputError: a field breaks a rule of the encoding (module
            docstring); the message names the field.
        TooLargeError: a field is over :data:`MAX_FIELD_BYTES`.
    """

    item_id: str
    location: str
    status: str
    contents: str
    _fields: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = []
        for name in FIELDS:
            data = _text(getattr(self, name), name)
            parts.append(_LENGTH[len(data)])
            parts.append(data)
        object.__setattr__(self, "_fields", b"".join(parts))

    def encode(self, salt: bytes) -> bytes:
        """Return the leaf data of this record under ``salt`` (module docstring).

        Raises:
            InputError: ``salt`` is not :data:`SALT_SIZE` bytes.
        """
        return ITEM_CONTEXT + _check_salt(salt) + self._fields

    def leaf_hash(self, salt: bytes) -> bytes:
        """Return the RFC 9162 leaf hash of :meth:`encode` ``(salt)``.

        Raises:
            InputError: ``salt`` is not :data:`SALT_SIZE` bytes.
        """
        return hashlib.sha256(_LEAF_HEAD + _check_salt(salt) + self._fields).digest()

    def to_json(self) -> dict[str, str]:
        """Return the record as a JSON object of its four fields."""
        return {name: getattr(self, name) for name in FIELDS}

    @classmethod
    def from_json(cls, obj: object, *, where: str = "record") -> ItemRecord:
        """Build a record from parsed JSON, refusing what the encoding refuses.

        Raises:
            EncodingError: not an object of exactly the four fields, or a
                field breaks a rule; the message names it.
            TooLargeError: a field is over :data:`MAX_FIELD_BYTES`.
        """
        fields = _members(obj, frozenset(FIELDS), where)
        try:
            return cls(**{name: fields[name] for name in FIELDS})  # type: ignore[arg-type]
        except InputError as e:
            raise _reworded(e, f"{where}.{e}") from e


@dataclass(frozen=True)
class PublishedCommitment:
    """What the host publishes in the log: the root, not the records.

    Attributes:
        site: The site (or any label) the declaration is for.
        size: Number of records committed, the tree size.
        root: ``MTH`` over the records' leaves, 32 bytes.
    """

    site: str
    size: int
    root: bytes

    def __post_init__(self) -> None:
        _text(self.site, "site")
        if type(self.size) is not int or not 0 <= self.size <= _MAX_SIZE:
            raise InputError(f"size must be an integer from 0 to 2**64 - 1, not {self.size!r}")
        if type(self.root) is not bytes or len(self.root) != HASH_SIZE:
            raise InputError(f"root must be {HASH_SIZE} bytes")

    def to_json(self) -> dict[str, Any]:
        """Return the message body: ``v``, ``site``, ``size``, ``root`` (lowercase hex)."""
        return {"v": _VERSION, "site": self.site, "size": self.size, "root": self.root.hex()}

    @classmethod
    def from_json(cls, obj: object) -> PublishedCommitment:
        """Parse a published commitment, checking every member.

        Raises:
            EncodingError: a member is missing, unknown or malformed.
        """
        fields = _members(obj, frozenset({"v", "site", "size", "root"}), "commitment")
        _version(fields["v"], "commitment")
        root = fields["root"]
        if not isinstance(root, str) or not _HEX64.fullmatch(root):
            raise EncodingError("commitment.root: not 64 lowercase hex digits")
        try:
            return cls(fields["site"], fields["size"], bytes.fromhex(root))  # type: ignore[arg-type]
        except InputError as e:
            raise _reworded(e, f"commitment.{e}") from e


@dataclass(frozen=True)
class Opening:
    """One record revealed: the record, its salt and its path to the root.

    Attributes:
        index: The record's position in the commitment, from 0.
        size: The commitment's size the proof is for.
        record: The record as committed.
        salt: Its salt.
        proof: ``PATH(index, D[0:size])`` (RFC 9162 §2.1.3.1), leaf first:
            hashes of other leaves and subtrees, never their records.

    Raises:
        InputError: a member has the wrong type or length.
    """

    index: int
    size: int
    record: ItemRecord
    salt: bytes
    proof: tuple[bytes, ...]

    def __post_init__(self) -> None:
        for name in ("index", "size"):
            value = getattr(self, name)
            if type(value) is not int or not 0 <= value <= _MAX_SIZE:
                raise InputError(f"{name} must be an integer from 0 to 2**64 - 1")
        if not isinstance(self.record, ItemRecord):
            raise InputError("record must be an ItemRecord")
        _check_salt(self.salt)
        proof = tuple(self.proof)
        if len(proof) > MAX_PROOF_HASHES:
            raise TooLargeError(f"proof has {len(proof)} hashes, above {MAX_PROOF_HASHES}")
        for i, h in enumerate(proof):
            if type(h) is not bytes or len(h) != HASH_SIZE:
                raise InputError(f"proof[{i}] must be {HASH_SIZE} bytes")
        object.__setattr__(self, "proof", proof)

    @property
    def leaf_hash(self) -> bytes:
        """The leaf hash the opening claims for its record."""
        return self.record.leaf_hash(self.salt)

    def to_json(self) -> dict[str, Any]:
        """Return the opening as JSON: salt and proof hashes in base64 (RFC 4648 §4)."""
        return {
            "index": self.index,
            "size": self.size,
            "record": self.record.to_json(),
            "salt": _b64(self.salt),
            "proof": [_b64(h) for h in self.proof],
        }

    @classmethod
    def from_json(cls, obj: object) -> Opening:
        """Parse an opening from the host, checking every member.

        Raises:
            EncodingError: a member is missing, unknown or malformed: the
                message names it.
            TooLargeError: a field or the proof is over its limit.
        """
        fields = _members(obj, frozenset({"index", "size", "record", "salt", "proof"}), "opening")
        for name in ("index", "size"):
            value = fields[name]
            if type(value) is not int or not 0 <= value <= _MAX_SIZE:
                raise EncodingError(f"opening.{name}: not an integer from 0 to 2**64 - 1")
        hashes = fields["proof"]
        if not isinstance(hashes, list):
            raise EncodingError("opening.proof: not a list of hashes")
        if len(hashes) > MAX_PROOF_HASHES:
            raise TooLargeError(
                f"opening.proof: {len(hashes)} hashes, above the {MAX_PROOF_HASHES} allowed"
            )
        return cls(
            index=fields["index"],  # type: ignore[arg-type]
            size=fields["size"],  # type: ignore[arg-type]
            record=ItemRecord.from_json(fields["record"], where="opening.record"),
            salt=_unb64(fields["salt"], SALT_SIZE, "opening.salt"),
            proof=tuple(_unb64(h, HASH_SIZE, f"opening.proof[{i}]") for i, h in enumerate(hashes)),
        )


class Commitment:
    """The host's side of a commitment: the records, their salts and the tree.

    Secret until opened: keep it (:mod:`detente.record.inventory_file`), never
    publish it; publish :attr:`published`. :func:`commit` builds one with
    fresh salts; the constructor takes given salts (tests, reloading).
    """

    __slots__ = ("_records", "_salts", "_site", "_tree")

    def __init__(self, records: Iterable[ItemRecord], salts: Sequence[bytes], *, site: str) -> None:
        """Check the records and salts and build the tree; :func:`commit` draws the salts.

        Raises:
            InputError: as :func:`commit`.
        """
        _text(site, "site")
        records = tuple(records)
        for i, record in enumerate(records):
            if not isinstance(record, ItemRecord):
                raise InputError(f"record {i} is not an ItemRecord")
        ids = [record.item_id for record in records]
        if len(set(ids)) != len(ids):
            seen: set[str] = set()
            for item_id in ids:  # pragma: no branch - a duplicate is there
                if item_id in seen:
                    raise InputError(f"item id {item_id!r} is declared twice; ids must be unique")
                seen.add(item_id)
        salts = tuple(salts)
        if len(salts) != len(records):
            raise InputError(f"{len(salts)} salts given for {len(records)} records")
        for i, salt in enumerate(salts):
            _check_salt(salt, f"salt {i}")
        head = _LEAF_HEAD
        sha256 = hashlib.sha256
        leaves = [
            sha256(head + salt + record._fields).digest()
            for record, salt in zip(records, salts, strict=True)
        ]
        self._site = site
        self._records = records
        self._salts = salts
        self._tree = MerkleTree.from_leaf_hashes(leaves)

    def __repr__(self) -> str:
        return f"Commitment(site={self._site!r}, size={self.size}, root={self.root.hex()})"

    @property
    def site(self) -> str:
        """The site the declaration is for."""
        return self._site

    @property
    def size(self) -> int:
        """Number of records."""
        return len(self._records)

    @property
    def root(self) -> bytes:
        """The Merkle root over the records' leaves."""
        return self._tree.root()

    @property
    def records(self) -> tuple[ItemRecord, ...]:
        """The records, in committed order."""
        return self._records

    @property
    def salts(self) -> tuple[bytes, ...]:
        """The salts, one per record, in the same order."""
        return self._salts

    @property
    def published(self) -> PublishedCommitment:
        """The part to publish: site, size, root."""
        return PublishedCommitment(self._site, self.size, self.root)

    def open(self, indices: Iterable[int]) -> list[Opening]:
        """Open the records at ``indices``, in the order given, each with its proof.

        Raises:
            InputError: an index is not a record's, or is asked for twice.
        """
        size = self.size
        tree = self._tree
        seen: set[int] = set()
        openings = []
        for index in indices:
            if type(index) is not int or not 0 <= index < size:
                raise InputError(f"index {index!r} is not a record of the {size} committed")
            if index in seen:
                raise InputError(f"record {index} is asked for twice")
            seen.add(index)
            proof = tuple(tree.inclusion_proof(index, size))
            openings.append(Opening(index, size, self._records[index], self._salts[index], proof))
        return openings

    def to_json(self) -> dict[str, Any]:
        """Return the secret material as JSON: every record with its base64 salt."""
        return {
            "v": _VERSION,
            "kind": _KEPT_KIND,
            "site": self._site,
            "size": self.size,
            "root": self.root.hex(),
            "items": [
                {"record": record.to_json(), "salt": _b64(salt)}
                for record, salt in zip(self._records, self._salts, strict=True)
            ],
        }

    @classmethod
    def from_json(cls, obj: object) -> Commitment:
        """Rebuild a commitment from :meth:`to_json`, checking it still gives its root.

        Raises:
            EncodingError: a member is missing, unknown or malformed, two
                records share an item id, or the records and salts do not
                give the size and root written.
            TooLargeError: a field is over :data:`MAX_FIELD_BYTES`.
        """
        where = "inventory secret"
        fields = _members(obj, frozenset({"v", "kind", "site", "size", "root", "items"}), where)
        _version(fields["v"], where)
        if fields["kind"] != _KEPT_KIND:
            raise EncodingError(f"{where}: kind {fields['kind']!r} is not {_KEPT_KIND!r}")
        items = fields["items"]
        if not isinstance(items, list):
            raise EncodingError(f"{where}.items: not a list")
        records = []
        salts = []
        for i, item in enumerate(items):
            entry = _members(item, frozenset({"record", "salt"}), f"{where}.items[{i}]")
            records.append(
                ItemRecord.from_json(entry["record"], where=f"{where}.items[{i}].record")
            )
            salts.append(_unb64(entry["salt"], SALT_SIZE, f"{where}.items[{i}].salt"))
        try:
            kept = cls(records, salts, site=fields["site"])  # type: ignore[arg-type]
        except InputError as e:
            raise _reworded(e, f"{where}: {e}") from e
        size, root = fields["size"], fields["root"]
        if type(size) is not int or size != kept.size or root != kept.root.hex():
            raise EncodingError(
                f"{where}: its records and salts do not give the size and root it names"
            )
        return kept


def commit(
    records: Iterable[ItemRecord], salts: Sequence[bytes] | None = None, *, site: str
) -> Commitment:
    """Commit to an inventory: salt each record and build the Merkle tree over them.

    Args:
        records: The declared items, in the order to commit them.
        salts: One :data:`SALT_SIZE`-byte salt per record; drawn with
            :func:`secrets.token_bytes` when ``None``, as they should be
            (given salts are for tests and for reloading a commitment).
        site: The site (or any label) the declaration is for.

    Returns:
        The host's commitment; publish its :attr:`~Commitment.published`.

    Raises:
        InputError: an item is not an :class:`ItemRecord`, two records
            share an item id (the message names it), the salts are not one
            per record or not :data:`SALT_SIZE` bytes each, or ``site``
            breaks a field rule.
    """
    if salts is None:
        records = tuple(records)
        pool = secrets.token_bytes(SALT_SIZE * len(records))
        salts = [pool[i : i + SALT_SIZE] for i in range(0, len(pool), SALT_SIZE)]
    return Commitment(records, salts, site=site)


def verify_opening(published: PublishedCommitment, opening: Opening, *, index: int) -> None:
    """Check that ``opening`` reveals record ``index`` of the published commitment.

    Args:
        published: The commitment as read from the host's log.
        opening: What the host revealed.
        index: The record the inspectors asked for (their sample): an
            opening of another record, however valid, is refused.

    Raises:
        VerificationError: the opening is of another record than asked,
            made for another size, of a record outside the commitment, has
            a proof too short or too long for its place, or does not lead
            to the committed root. The message names the record and why.
    """
    if opening.index != index:
        raise VerificationError(
            f"the opening is of record {opening.index}, not of record {index} as asked"
        )
    where = f"opening of record {index}"
    if opening.size != published.size:
        raise VerificationError(
            f"{where}: made for a commitment of {opening.size} records, "
            f"the published one has {published.size}"
        )
    if index >= published.size:
        raise VerificationError(
            f"{where}: no such record, the commitment has {published.size} records"
        )
    needed = len(inclusion_plan(index, published.size).groups)
    if len(opening.proof) != needed:
        raise VerificationError(
            f"{where}: its proof has {len(opening.proof)} hashes, record {index} of "
            f"{published.size} needs {needed}"
        )
    try:
        verify_inclusion(opening.leaf_hash, index, published.size, opening.proof, published.root)
    except VerificationError as e:
        raise VerificationError(f"{where}: {_NOT_COMMITTED}") from e


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: object, length: int, where: str) -> bytes:
    """``length`` bytes in canonical base64 (RFC 4648 §4), nothing else."""
    if not isinstance(value, str) or len(value) > 4 * length:
        raise EncodingError(f"{where}: not base64 of {length} bytes")
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as e:
        raise EncodingError(f"{where}: not valid base64") from e
    if len(raw) != length or _b64(raw) != value:
        raise EncodingError(f"{where}: not canonical base64 of {length} bytes")
    return raw


def _members(value: object, expected: frozenset[str], where: str) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise EncodingError(f"{where}: not a JSON object")
    names = set(value)
    if names != expected:
        missing = ", ".join(sorted(expected - names))
        extra = ", ".join(sorted(repr(n) for n in names - expected))
        parts = [f"missing {missing}" if missing else "", f"unexpected {extra}" if extra else ""]
        raise EncodingError(f"{where}: {'; '.join(p for p in parts if p)}")
    return value


def _reworded(error: InputError, message: str) -> InputError:
    """The error to raise for untrusted JSON: too large stays so, anything else is encoding."""
    return TooLargeError(message) if isinstance(error, TooLargeError) else EncodingError(message)


def _version(value: object, where: str) -> None:
    if type(value) is not int or value != _VERSION:
        raise EncodingError(f"{where}: version {value!r} is not {_VERSION}")
