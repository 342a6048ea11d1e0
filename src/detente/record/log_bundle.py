"""A party's whole log up to a cosigned checkpoint, carried in a file and checked offline.

A compliance report (docs/compliance.md, "Reports") rests on each party's
log up to a checkpoint that another party cosigned. It carries that prefix
as one JSON object::

    {"checkpoint": "<the signed checkpoint note>",
     "cosignatures": [{"size": 12, "line": "— detente.log/…/ru AbCd…"}, …],
     "entries": [{"leaf": base64, "body": base64, "proof": [base64, …]},
                 {"leaf": base64}, …]}

``entries`` holds every leaf from seq 0 up to the checkpoint's size, in
order, so that the log is seen complete: nothing left out, nothing added.
Only some entries carry their ``body`` (the types a report rests on, where
the builder holds it: :func:`verify_log_bundle`'s ``body_types``), each
with its RFC 9162 inclusion proof (section 2.1.3) against the checkpoint,
so any one of them can be checked alone. ``cosignatures`` are C2SP
tlog-cosignature lines by other parties on checkpoints of this log, each at
the size it is for; their timestamps are the receipts (design, "Time that
counts"). The checkpoint itself must carry one of them.

:func:`verify_log_bundle` checks all of it with the parties' public log
keys alone and returns a :class:`LogBundle`; :meth:`LogBundle.to_json`
writes one from what a node holds.

Example:
    >>> verify_log_bundle({}, party="us", agreement_id="0" * 64, keys=[],
    ...                   cosigners={}, body_types=frozenset(), holder="us",
    ...                   where="logs.us")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    detente.errors.EncodingError: logs.us.checkpoint: not a signed checkpoint note
"""

from __future__ import annotations

import base64
import bisect
import functools
import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from detente.crypto.encoding import b64decode
from detente.crypto.keys import VerifierKey
from detente.errors import (
    BodyError,
    ChainError,
    EncodingError,
    SequenceError,
    VerificationError,
    WrongAgreementError,
)
from detente.record.checkpoint import Checkpoint, Cosignature, SignedCheckpoint, origin_for
from detente.record.envelope import ZERO_HASH, Envelope
from detente.record.merkle import MerkleTree, verify_inclusion
from detente.record.report_file import json_object, key_that_verifies, located

__all__ = ["LogBundle", "verify_log_bundle"]

_MAX_PROOF = 64


@dataclass(frozen=True)
class LogBundle:
    """``party``'s log up to its checkpoint, the bodies carried, and others' cosignatures.

    Attributes:
        party: whose log it is.
        checkpoint: the signed checkpoint the prefix ends at.
        envelopes: every entry from seq 0 to ``checkpoint.size - 1``.
        bodies: the bodies carried, by seq.
        cosignatures: ``(cosigner party, size, cosignature)`` of the
            cosignatures carried, by size then cosigner.
    """

    party: str
    checkpoint: SignedCheckpoint
    envelopes: tuple[Envelope, ...]
    bodies: Mapping[int, bytes]
    cosignatures: tuple[tuple[str, int, Cosignature], ...]

    @property
    def size(self) -> int:
        """How many entries the prefix holds: the checkpoint's size."""
        return self.checkpoint.checkpoint.size

    @functools.cached_property
    def _receipts(self) -> dict[str, list[tuple[int, int]]]:
        out: dict[str, list[tuple[int, int]]] = {}
        for cosigner, size, cosignature in self.cosignatures:
            out.setdefault(cosigner, []).append((size, cosignature.timestamp))
        return {cosigner: sorted(found) for cosigner, found in out.items()}

    def received(self, cosigner: str, seq: int) -> datetime | None:
        """When ``cosigner`` received entry ``seq``: the time of its first cosignature (by
        size) on a checkpoint containing it, or None if it has none."""
        receipts = self._receipts.get(cosigner, [])
        index = bisect.bisect_right(receipts, (seq, 2**63))
        if index == len(receipts):
            return None
        return datetime.fromtimestamp(receipts[index][1], UTC)

    def cosigned_by(self) -> list[tuple[str, int]]:
        """``(cosigner party, timestamp)`` of the cosignatures on the checkpoint itself."""
        return [(p, c.timestamp) for p, size, c in self.cosignatures if size == self.size]

    def to_json(self) -> dict[str, Any]:
        """The bundle as a report carries it, inclusion proofs computed from the leaves.

        Raises:
            VerificationError: the leaves do not make the checkpoint's root
                (the store is damaged: ``detente verify`` says where).
        """
        tree = _tree(self.envelopes)
        if tree.root(self.size) != self.checkpoint.checkpoint.root:
            raise VerificationError(
                f"{self.party}'s log held here does not make the root of its checkpoint at "
                f"size {self.size}"
            )
        entries: list[dict[str, Any]] = []
        for envelope in self.envelopes:
            item: dict[str, Any] = {"leaf": _b64(envelope.leaf)}
            body = self.bodies.get(envelope.header.seq)
            if body is not None:
                item["body"] = _b64(body)
                item["proof"] = [
                    _b64(h) for h in tree.inclusion_proof(envelope.header.seq, self.size)
                ]
            entries.append(item)
        return {
            "checkpoint": self.checkpoint.to_text(),
            "cosignatures": [
                {"size": size, "line": c.to_line()} for _, size, c in self.cosignatures
            ],
            "entries": entries,
        }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _tree(envelopes: Sequence[Envelope]) -> MerkleTree:
    return MerkleTree.from_leaf_hashes([e.leaf_hash for e in envelopes])


def verify_log_bundle(
    value: object,
    *,
    party: str,
    agreement_id: str,
    keys: Sequence[VerifierKey],
    cosigners: Collection[str],
    body_types: Collection[str],
    holder: str,
    where: str,
    parties: Collection[str],
) -> LogBundle:
    """Check ``party``'s log prefix carried in a file (module docstring).

    Args:
        value: the parsed JSON object.
        party: whose log it must be.
        agreement_id: the agreement every entry must be made under.
        keys: the parties' log keys, each named after its log's origin.
        cosigners: the parties whose cosignatures it may carry.
        body_types: the types whose bodies it carries: every entry of these
            types addressed to all ``parties`` that ``holder`` sent or was
            sent must carry its body, and no other entry may (a body sent to
            some parties only never goes into a file others read).
        holder: the party whose node built the file.
        parties: the agreement's parties.
        where: the place of ``value`` in the file, for messages.

    Raises:
        EncodingError: the JSON is malformed.
        UnknownKeyError: no key is given for the log or a cosigner.
        SignatureError: the checkpoint, an entry or a cosignature is not
            signed by its key.
        SequenceError: an entry is missing or out of place.
        ChainError: an entry's ``prev`` is not the hash of the one before.
        WrongAgreementError: an entry is made under another agreement.
        BodyError: a body does not match its signed hash, is missing, or
            is carried where none belongs.
        VerificationError: the leaves do not make the checkpoint's root, a
            proof fails, or no other party cosigned the checkpoint.
    """
    item = json_object(value, where)
    origin = _origin(agreement_id, party, where)
    text = item.get("checkpoint")
    if not isinstance(text, str):
        raise EncodingError(f"{where}.checkpoint: not a signed checkpoint note")
    with located(f"{where}.checkpoint"):
        signed = SignedCheckpoint.from_text(text)
    key = key_that_verifies(keys, origin, party, signed.verify, f"{where}.checkpoint")
    checkpoint = signed.checkpoint
    envelopes, bodies, proofs = _entries(item.get("entries"), checkpoint, where)
    tree = _tree(envelopes)
    if tree.root(checkpoint.size) != checkpoint.root:
        raise VerificationError(
            f"{where}.entries: the {checkpoint.size} leaves do not make the root of "
            f"{party}'s checkpoint: an entry was changed, left out or added"
        )
    previous = ZERO_HASH
    for seq, envelope in enumerate(envelopes):
        place = f"{where}.entries[{seq}]"
        _check_entry(envelope, party, seq, previous, agreement_id, [key, *keys], place)
        _check_body(envelope, bodies, body_types, holder, place, parties)
        previous = envelope.leaf_hash.hex()
    for seq, proof in proofs.items():
        with located(f"{where}.entries[{seq}].proof: not in {party}'s checkpoint"):
            verify_inclusion(envelopes[seq].leaf_hash, seq, checkpoint.size, proof, checkpoint.root)
    cosignatures = _cosignatures(
        item.get("cosignatures"), checkpoint, tree, agreement_id, keys, cosigners, where
    )
    if not any(size == checkpoint.size for _, size, _ in cosignatures):
        raise VerificationError(
            f"{where}.cosignatures: none on {party}'s checkpoint at size {checkpoint.size}: "
            f"no other party ({', '.join(sorted(cosigners))}) vouches for it"
        )
    return LogBundle(
        party=party,
        checkpoint=signed,
        envelopes=tuple(envelopes),
        bodies=bodies,
        cosignatures=tuple(cosignatures),
    )


def _origin(agreement_id: str, party: str, where: str) -> str:
    with located(where):
        return origin_for(agreement_id, party)


def _entries(
    value: object, checkpoint: Checkpoint, where: str
) -> tuple[list[Envelope], dict[int, bytes], dict[int, list[bytes]]]:
    if not isinstance(value, list):
        raise EncodingError(f"{where}.entries: not a list")
    if len(value) != checkpoint.size:
        raise SequenceError(
            f"{where}.entries: {len(value)} entries, but the checkpoint is at size "
            f"{checkpoint.size}: every entry up to it must be carried"
        )
    envelopes: list[Envelope] = []
    bodies: dict[int, bytes] = {}
    proofs: dict[int, list[bytes]] = {}
    for seq, raw in enumerate(value):
        place = f"{where}.entries[{seq}]"
        entry = json_object(raw, place)
        with located(place):
            envelope = Envelope.from_leaf(b64decode(entry.get("leaf"), where="leaf"))
        envelopes.append(envelope)
        if "body" in entry:
            bodies[seq] = b64decode(entry["body"], where=f"{place}.body")
            items = entry.get("proof")
            if not isinstance(items, list) or len(items) > _MAX_PROOF:
                raise EncodingError(f"{place}.proof: not a list of hashes")
            proofs[seq] = [b64decode(h, where=f"{place}.proof[{j}]") for j, h in enumerate(items)]
        elif "proof" in entry:
            raise EncodingError(f"{place}.proof: carried without a body")
    return envelopes, bodies, proofs


def _check_entry(
    envelope: Envelope,
    party: str,
    seq: int,
    previous: str,
    agreement_id: str,
    keys: Sequence[VerifierKey],
    where: str,
) -> None:
    """Its place in the log (sender, seq, the link to the entry before), agreement, signature."""
    header = envelope.header
    if header.sender != party or header.seq != seq:
        raise SequenceError(
            f"{where}: is {envelope.position}, not {party}:{seq}: an entry is missing or out "
            "of place"
        )
    place = f"{where} ({envelope.position})"
    if header.prev != previous:
        raise ChainError(f"{place}: prev is not the leaf hash of the entry before")
    if header.agreement != agreement_id:
        raise WrongAgreementError(f"{place}: made under another agreement")
    origin = _origin(agreement_id, party, where)
    key_that_verifies(keys, origin, party, envelope.verify_signature, place)


def is_public(envelope: Envelope, parties: Collection[str]) -> bool:
    """Whether ``envelope`` went to every one of ``parties`` (or came from it): only
    such bodies may go into a report that any party, or anyone, reads."""
    header = envelope.header
    return set(parties) <= {header.sender, *header.to}


def _check_body(
    envelope: Envelope,
    bodies: Mapping[int, bytes],
    body_types: Collection[str],
    holder: str,
    where: str,
    parties: Collection[str],
) -> None:
    header = envelope.header
    place = f"{where} ({envelope.position} {header.type})"
    body = bodies.get(header.seq)
    wanted = header.type in body_types and is_public(envelope, parties)
    if body is None:
        if wanted and (header.sender == holder or holder in header.to):
            raise BodyError(
                f"{place}: no body, though {holder} built the report and holds it: a report "
                f"carries the body of every {header.type} sent to every party"
            )
        return
    if not wanted:
        raise BodyError(
            f"{place}: carries a body the report does not rest on (a report carries only "
            "the bodies of its types addressed to every party)"
        )
    if len(body) != header.body_len or hashlib.sha256(body).hexdigest() != header.body_sha256:
        raise BodyError(f"{place}: the body does not match the signed body_sha256 and body_len")


def _cosignatures(
    value: object,
    checkpoint: Checkpoint,
    tree: MerkleTree,
    agreement_id: str,
    keys: Sequence[VerifierKey],
    cosigners: Collection[str],
    where: str,
) -> list[tuple[str, int, Cosignature]]:
    if not isinstance(value, list):
        raise EncodingError(f"{where}.cosignatures: not a list")
    names = {_origin(agreement_id, p, where): p for p in cosigners}
    out: list[tuple[str, int, Cosignature]] = []
    seen: set[tuple[str, int]] = set()
    for i, raw in enumerate(value):
        place = f"{where}.cosignatures[{i}]"
        item = json_object(raw, place)
        size, line = item.get("size"), item.get("line")
        if type(size) is not int or not 1 <= size <= checkpoint.size:
            raise EncodingError(f"{place}.size: not a size from 1 to {checkpoint.size}")
        if not isinstance(line, str):
            raise EncodingError(f"{place}.line: not a cosignature line")
        with located(place):
            cosignature = Cosignature.from_line(line)
        cosigner = names.get(cosignature.name)
        if cosigner is None:
            raise VerificationError(
                f"{place}: by {cosignature.name}, not by a party whose receipts count here "
                f"({', '.join(sorted(cosigners)) or 'none'})"
            )
        if (cosigner, size) in seen:
            raise VerificationError(f"{place}: a second cosignature by {cosigner} at size {size}")
        seen.add((cosigner, size))
        at_size = Checkpoint(checkpoint.origin, size, tree.root(size))
        check = functools.partial(_check_cosignature, cosignature, at_size)
        key_that_verifies(keys, cosignature.name, cosigner, check, place)
        out.append((cosigner, size, cosignature))
    return sorted(out, key=lambda c: (c[1], c[0]))


def _check_cosignature(cosignature: Cosignature, checkpoint: Checkpoint, key: VerifierKey) -> None:
    cosignature.verify(checkpoint, key)
