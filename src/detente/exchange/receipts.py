"""Receipts anyone can check offline.

A receipt is one self-contained JSON object (design, "Receipt"): the
entry's leaf bytes, the sender's checkpoint that contains it carrying the
receiver's C2SP cosignature line, and the RFC 9162 inclusion proof of the
entry in that checkpoint. With the two parties' public keys alone it proves
that the sender sent exactly this entry and that the receiver vouched for a
log containing it at the cosignature's time, which is the time that counts
(design, "Time that counts").

Example:
    >>> verify_receipt({"v": 2}, sender=None, receiver=None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    detente.errors.EncodingError: receipt: not a version 1 receipt object
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from detente.crypto.encoding import b64decode
from detente.crypto.keys import VerifierKey
from detente.errors import EncodingError, UnknownKeyError, VerificationError
from detente.record.checkpoint import Checkpoint, Cosignature, SignedCheckpoint, origin_for
from detente.record.envelope import Envelope
from detente.record.merkle import verify_inclusion

__all__ = ["CheckedReceipt", "make_receipt", "verify_receipt"]

MAX_RECEIPT_PROOF = 64


@dataclass(frozen=True)
class CheckedReceipt:
    """What a receipt proves once verified."""

    position: str
    type: str
    receiver: str
    received_at: int
    checkpoint_size: int


def make_receipt(
    *,
    leaf: bytes,
    checkpoint: str,
    cosignature: Cosignature,
    proof: Sequence[bytes],
) -> dict[str, Any]:
    """Assemble the receipt of one entry from what the sender's node stores."""
    signed = SignedCheckpoint.from_text(checkpoint).with_cosignature(cosignature)
    envelope = Envelope.from_leaf(leaf)
    return {
        "v": 1,
        "position": envelope.position,
        "leaf": base64.b64encode(leaf).decode(),
        "checkpoint": signed.to_text(),
        "receiver": cosignature.name,
        "proof": [base64.b64encode(h).decode() for h in proof],
    }


def verify_receipt(
    receipt: object, *, sender: VerifierKey, receiver: VerifierKey
) -> CheckedReceipt:
    """Check a receipt with the sender's and the receiver's public keys.

    Raises:
        EncodingError: the receipt is malformed.
        SignatureError: the checkpoint or the cosignature does not verify.
        UnknownKeyError: the receiver's cosignature is not on the checkpoint.
        VerificationError: the entry is not in the checkpoint.
    """
    if not isinstance(receipt, dict) or receipt.get("v") != 1:
        raise EncodingError("receipt: not a version 1 receipt object")
    leaf = b64decode(receipt.get("leaf"), where="receipt.leaf")
    proof_items = receipt.get("proof")
    if not isinstance(proof_items, list) or len(proof_items) > MAX_RECEIPT_PROOF:
        raise EncodingError("receipt.proof: not a list of hashes")
    proof = [b64decode(h, where=f"receipt.proof[{i}]") for i, h in enumerate(proof_items)]
    text = receipt.get("checkpoint")
    if not isinstance(text, str):
        raise EncodingError("receipt.checkpoint: not a signed note")
    signed = SignedCheckpoint.from_text(text)
    signed.verify(sender)
    stamps = signed.cosignatures([receiver])
    if not stamps:
        raise UnknownKeyError(f"the checkpoint carries no cosignature by {receiver.name}")
    envelope = Envelope.from_leaf(leaf)
    checkpoint: Checkpoint = signed.checkpoint
    if checkpoint.origin != origin_for(envelope.header.agreement, envelope.header.sender):
        raise VerificationError(
            f"entry {envelope.position} is not from the log {checkpoint.origin}"
        )
    envelope.verify_signature(sender)
    verify_inclusion(
        envelope.leaf_hash, envelope.header.seq, checkpoint.size, proof, checkpoint.root
    )
    return CheckedReceipt(
        position=envelope.position,
        type=envelope.header.type,
        receiver=receiver.name,
        received_at=stamps[0].timestamp,
        checkpoint_size=checkpoint.size,
    )
