"""Checking a copy of a signed document with public keys alone.

A document is issued as one ``document`` message per recipient
(``written-documents-2022``): the body holds the title, the marking, every
recipient, the copy's SHA-256 and length, and the copy itself (base64);
the header, signed by the issuer and mirrored by every peer, commits to
that body by its hash. A copy's **proof** is the receipt of its message
(:mod:`detente.exchange.receipts`: the entry's leaf, the issuer's
checkpoint cosigned by the recipient, the inclusion proof) with the body
minus the copy: :func:`verify_copy` puts the file back into the body,
recomputes the hash the issuer signed, and checks the rest with the
issuer's and the cosigner's public keys. It answers who issued the copy,
to whom, that not a byte changed, and when (the log position, and the
cosignature's time: when the recipient received it).

Example:
    >>> verify_copy(b"text", {"v": 2}, keys=[])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    detente.errors.EncodingError: proof: not a version 1 document proof
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from detente.crypto.canonical import canonical_json
from detente.crypto.keys import VerifierKey
from detente.errors import EncodingError, UnknownKeyError, VerificationError
from detente.exchange.receipts import verify_receipt
from detente.record.checkpoint import SignedCheckpoint, origin_for
from detente.record.envelope import Envelope

__all__ = [
    "DOCUMENT_TYPE",
    "MAX_PROOF_BYTES",
    "CheckedCopy",
    "copy_body",
    "make_proof",
    "verify_copy",
]

#: The message type a copy travels as.
DOCUMENT_TYPE: Final = "document"
#: Largest proof file read.
MAX_PROOF_BYTES: Final = 1024 * 1024
_BODY_KEYS: Final = frozenset(
    {"document_id", "title", "marking", "media_type", "recipient", "recipients", "sha256", "length"}
)


@dataclass(frozen=True)
class CheckedCopy:
    """What a verified copy proves."""

    issuer: str
    recipient: str
    document_id: str
    title: str
    marking: str
    sha256: str
    position: str
    received_by: str
    received_at: datetime
    checkpoint_size: int

    def to_json(self) -> dict[str, Any]:
        """As ``detente docs verify --format json`` prints it."""
        return {
            "issuer": self.issuer,
            "recipient": self.recipient,
            "document_id": self.document_id,
            "title": self.title,
            "marking": self.marking,
            "sha256": self.sha256,
            "position": self.position,
            "received_by": self.received_by,
            "received_at": self.received_at.isoformat().replace("+00:00", "Z"),
            "checkpoint_size": self.checkpoint_size,
        }


def copy_body(
    *,
    document_id: str,
    title: str,
    marking: str,
    media_type: str,
    recipient: str,
    recipients: Sequence[str],
    content: bytes,
) -> dict[str, Any]:
    """The body of one recipient's ``document`` message."""
    return {
        "document_id": document_id,
        "title": title,
        "marking": marking,
        "media_type": media_type,
        "recipient": recipient,
        "recipients": list(recipients),
        "sha256": hashlib.sha256(content).hexdigest(),
        "length": len(content),
        "content": base64.b64encode(content).decode(),
    }


def make_proof(receipt: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """A copy's proof: its message's receipt and its body without the copy."""
    return {
        "v": 1,
        "kind": "detente-document-proof",
        "receipt": dict(receipt),
        "body": {k: v for k, v in body.items() if k != "content"},
    }


def _key_for(keys: Sequence[VerifierKey], name: str, what: str) -> VerifierKey:
    for key in keys:
        if key.name == name:
            return key
    raise UnknownKeyError(f"no key for {what} ({name}) among the keys given")


def verify_copy(data: bytes, proof: object, *, keys: Sequence[VerifierKey]) -> CheckedCopy:
    """Check that ``data`` is a copy its issuer signed, unaltered, and when it was received.

    ``keys`` are public keys (C2SP verifier keys, named by their log's
    origin): the issuer's and the cosigner's must be among them.

    Raises:
        EncodingError: the proof is malformed.
        VerificationError: the file is not the copy the issuer signed (its
            hash differs), or the proof does not hold (signature, inclusion,
            cosignature), with the reason.
        UnknownKeyError: the issuer's or the cosigner's key was not given.
    """
    if (
        not isinstance(proof, dict)
        or proof.get("v") != 1
        or (proof.get("kind") != "detente-document-proof")
    ):
        raise EncodingError("proof: not a version 1 document proof")
    receipt, body = proof.get("receipt"), proof.get("body")
    if not isinstance(receipt, dict) or not isinstance(body, dict):
        raise EncodingError("proof: receipt and body are objects")
    if set(body) != _BODY_KEYS:
        raise EncodingError(f"proof.body: holds {sorted(body)}, not {sorted(_BODY_KEYS)}")
    leaf = receipt.get("leaf")
    if not isinstance(leaf, str):
        raise EncodingError("proof.receipt.leaf: missing")
    try:
        envelope = Envelope.from_leaf(base64.b64decode(leaf, validate=True))
    except ValueError as e:
        raise EncodingError(f"proof.receipt.leaf: {e}") from e
    header = envelope.header
    issuer_key = _key_for(
        keys, origin_for(header.agreement, header.sender), f"issuer {header.sender}"
    )
    text = receipt.get("checkpoint")
    if not isinstance(text, str):
        raise EncodingError("proof.receipt.checkpoint: not a signed note")
    cosigners = [k for k in keys if k.name != issuer_key.name]
    signed = SignedCheckpoint.from_text(text)
    stamps = signed.cosignatures(cosigners)
    if not stamps:
        raise UnknownKeyError(
            "the checkpoint carries no cosignature by any other key given "
            f"(its receiver: {receipt.get('receiver')!r})"
        )
    cosigner = next(k for k in cosigners if k.name == stamps[0].name)
    checked = verify_receipt(receipt, sender=issuer_key, receiver=cosigner)
    if header.type != DOCUMENT_TYPE:
        raise VerificationError(f"{envelope.position} is a {header.type}, not a document")
    digest = hashlib.sha256(data).hexdigest()
    if digest != body["sha256"] or len(data) != body["length"]:
        raise VerificationError(
            f"the file is not the copy {header.sender} issued as {envelope.position} "
            f"({body['title']!r} to {body['recipient']}): its SHA-256 is {digest}, the signed "
            f"copy's {body['sha256']} (altered, or another document)"
        )
    full = dict(body, content=base64.b64encode(data).decode())
    raw = canonical_json(full)
    if hashlib.sha256(raw).hexdigest() != header.body_sha256 or len(raw) != header.body_len:
        raise VerificationError(
            f"the proof's body is not the body {header.sender} signed for {envelope.position} "
            "(its title, marking, recipients or hash were changed)"
        )
    if header.to != (body["recipient"],):
        raise VerificationError(
            f"{envelope.position} went to {', '.join(header.to)}, not to {body['recipient']}"
        )
    return CheckedCopy(
        issuer=header.sender,
        recipient=str(body["recipient"]),
        document_id=str(body["document_id"]),
        title=str(body["title"]),
        marking=str(body["marking"]),
        sha256=digest,
        position=envelope.position,
        received_by=checked.receiver,
        received_at=datetime.fromtimestamp(checked.received_at, UTC),
        checkpoint_size=checked.checkpoint_size,
    )
