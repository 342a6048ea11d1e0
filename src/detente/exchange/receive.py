"""Receiving a peer's envelopes into this node's mirror of its log.

A delivery carries a run of the sender's log, from some seq up to the size
of one of its signed checkpoints, with the bodies of the entries addressed
to this node. Everything the record verifies is verified again here
(:func:`detente.record.admission.admit`); then the mirror's tree, which now
holds every leaf up to the checkpoint's size, must have the checkpoint's
root at that size. That is stronger than a consistency proof: the receiver
recomputes the sender's tree itself. Only then is the run committed and the
checkpoint cosigned; the cosignature is the receipt.

One delivery is one transaction. What contradicts what is held — other
bytes at a held seq, a checkpoint whose root the mirror does not have — is
stored as evidence in a transaction of its own and refused.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select

from detente.agreement.system import gets_body
from detente.errors import (
    BodyError,
    ConsistencyError,
    ForkError,
    PermissionDeniedError,
    SequenceError,
    TypeNotAllowedError,
    UnknownKeyError,
)
from detente.exchange.early import settle_early
from detente.exchange.parts import clear_parts
from detente.exchange.peerkeys import delivery_keys, note_revocations
from detente.node.alarms import raise_alarm
from detente.node.directory import Node
from detente.record.admission import Admission, LogTip, admit
from detente.record.checkpoint import Cosignature, SignedCheckpoint, cosign, origin_for
from detente.record.envelope import ZERO_HASH, Envelope, format_time
from detente.record.keyhistory import KeyHistory
from detente.store.logs import LogStore
from detente.store.schema import evidence
from detente.store.tree import StoredTree

__all__ = [
    "Delivery",
    "Receipt",
    "receive_delivery",
    "record_evidence",
    "verified_checkpoint",
    "wire_entry",
]

MAX_ENTRIES_PER_DELIVERY = 2000


@dataclass(frozen=True)
class Delivery:
    """A run of the sender's log as received: parsed, not yet verified."""

    sender: str
    checkpoint: str
    entries: Sequence[tuple[bytes, bytes | None]]


@dataclass(frozen=True)
class Receipt:
    """This node's cosignature on the sender's checkpoint it has verified.

    A run that stops short of its checkpoint (the sender splits runs by
    size) is stored but not yet receipted: ``cosignature`` is None and
    ``held`` says where the next run must start.
    """

    party: str
    size: int
    cosignature: Cosignature | None
    held: int
    repeat: bool = False

    def to_json(self) -> dict[str, object]:
        """The receipt as the peer protocol carries it."""
        return {
            "party": self.party,
            "size": self.size,
            "cosignature": None if self.cosignature is None else self.cosignature.to_line(),
            "held": self.held,
            "repeat": self.repeat,
        }


def wire_entry(leaf: bytes, body: bytes | None, *, staged: bool = False) -> dict[str, object]:
    """An entry as the peer protocol carries it: base64 leaf, and body or null.

    A ``staged`` entry's body went ahead in parts (:mod:`detente.exchange.parts`).
    """
    entry: dict[str, object] = {
        "leaf": base64.b64encode(leaf).decode(),
        "body": None if body is None or staged else base64.b64encode(body).decode(),
    }
    if staged:
        entry["staged"] = True
    return entry


def record_evidence(node: Node, *, party: str, kind: str, detail: str, data: bytes) -> None:
    """Keep what contradicts the record, in a transaction of its own.

    A sender retrying the same refused delivery is not stored again: the
    same party, kind, finding and bytes are kept once; a different fork at
    the same position is kept beside the first.
    """
    with node.database.engine.begin() as conn:
        seen = conn.execute(
            select(evidence.c.id).where(
                evidence.c.party == party,
                evidence.c.kind == kind,
                evidence.c.detail == detail,
                evidence.c.data == data,
            )
        ).first()
        if seen is not None:
            return
        conn.execute(
            insert(evidence).values(
                party=party,
                kind=kind,
                detail=detail,
                data=data,
                received_at=format_time(node.clock()),
            )
        )
    raise_alarm(node, kind=kind, party=party, detail=detail)


def receive_delivery(node: Node, delivery: Delivery) -> Receipt:
    """Verify a delivery, store it in the mirror and cosign the checkpoint.

    Raises:
        UnknownKeyError: the sender is not a configured peer.
        PermissionDeniedError: the sender is a witness, which keeps no log.
        SignatureError, BodyError, TypeNotAllowedError, WrongAgreementError,
        ClockSkewError, EncodingError: an entry or the checkpoint is invalid.
        SequenceError: the run starts after the end of the mirror (a gap);
            the message says how much is held.
        ForkError: other bytes are held at one of the seqs (kept as evidence).
        ConsistencyError: the checkpoint's root is not the mirror's root at
            its size (kept as evidence).
    """
    envelopes = [(Envelope.from_leaf(leaf), body) for leaf, body in delivery.entries]
    before, keys = delivery_keys(node, delivery.sender, envelopes)
    signed = verified_checkpoint(node, delivery.sender, delivery.checkpoint, keys)
    try:
        with node.database.engine.begin() as conn:
            receipt = _receive(conn, node, delivery.sender, signed, envelopes, keys)
        note_revocations(node, delivery.sender, before, keys)
        return receipt
    except ForkError as e:
        record_evidence(
            node, party=delivery.sender, kind="fork", detail=str(e), data=_evidence(delivery)
        )
        raise
    except ConsistencyError as e:
        record_evidence(
            node,
            party=delivery.sender,
            kind="inconsistent_checkpoint",
            detail=str(e),
            data=_evidence(delivery),
        )
        raise


def verified_checkpoint(node: Node, sender: str, text: str, keys: KeyHistory) -> SignedCheckpoint:
    """``sender``'s checkpoint ``text``, signed for its own log by the key in force at its size.

    Raises:
        UnknownKeyError: not a peer, or the checkpoint is of another log.
        PermissionDeniedError: the peer is a witness, which keeps no log.
        SignatureError, EncodingError: the note does not parse or verify.
    """
    peer = node.config.peer(sender)
    if peer is None or sender == node.party:
        raise UnknownKeyError(f"{sender!r} is not a peer of this node")
    if peer.witness:
        raise PermissionDeniedError(f"{sender} is a witness: it has no log to deliver")
    signed = SignedCheckpoint.from_text(text)
    signed.verify(keys.checkpoint_key(signed.checkpoint.size))
    if signed.checkpoint.origin != origin_for(node.agreement.id, sender):
        raise UnknownKeyError(f"checkpoint origin {signed.checkpoint.origin} is not {sender}'s")
    return signed


def _evidence(delivery: Delivery) -> bytes:
    parts = [delivery.checkpoint.encode()] + [leaf for leaf, _ in delivery.entries]
    return b"\n".join(parts)


def _receive(
    conn: Connection,
    node: Node,
    sender: str,
    signed: SignedCheckpoint,
    envelopes: list[tuple[Envelope, bytes | None]],
    keys: KeyHistory,
) -> Receipt:
    peer = node.config.peer(sender)
    assert peer is not None  # checked by the caller  # noqa: S101
    log = LogStore(conn, sender)
    tree = StoredTree(conn, sender)
    size = tree.size()
    last = ZERO_HASH if size == 0 else tree.leaf_hashes(size - 1, size)[size - 1].hex()
    tip = LogTip(size=size, last_leaf_hash=last)
    now = node.clock()
    new_rows: list[tuple[int, bytes, str, str]] = []
    new_bodies: list[tuple[int, bytes]] = []
    new_hashes: list[bytes] = []
    added: dict[int, bytes] = {}
    for envelope, body in envelopes:
        # A FLASH message being taken ahead goes first (exchange.priority).
        node.lane_gate.wait()
        seq = envelope.header.seq
        if envelope.header.sender != sender:
            raise TypeNotAllowedError(
                f"{envelope.position}: an entry of {envelope.header.sender}'s log delivered "
                f"as {sender}'s; a peer delivers only its own log"
            )
        header = envelope.header
        addressed = gets_body(type_id=header.type, to=header.to, node=node.party)
        if addressed and body is None:
            raise BodyError(f"{envelope.position}: addressed to {node.party} but sent without body")
        if not addressed and body is not None:
            raise BodyError(
                f"{envelope.position}: a body was sent for an entry not addressed to {node.party}"
            )
        held = (added.get(seq) or log.leaf(seq)) if seq < tip.size else None
        if seq > tip.size:
            raise SequenceError(
                f"{envelope.position}: seq {seq} leaves a gap; this node holds "
                f"{sender}'s log up to size {tip.size}"
            )
        outcome = admit(
            envelope,
            body,
            agreement=node.agreement,
            key=keys.key_for(seq),
            tip=tip,
            held=held,
            now=now,
        )
        if outcome is Admission.REPEAT:
            continue
        digest = envelope.leaf_hash
        new_rows.append((seq, envelope.leaf, envelope.header.type, envelope.header.created))
        if body is not None:
            new_bodies.append((seq, body))
        new_hashes.append(digest)
        added[seq] = envelope.leaf
        tip = LogTip(size=seq + 1, last_leaf_hash=digest.hex())
    if new_rows:
        log.insert(new_rows, new_bodies)
        tree.append(new_hashes)
        # Entries taken ahead of the log (priority lane) must be what arrives now.
        settle_early(conn, sender, tree, log)
        clear_parts(conn, sender, below=tip.size)
    checkpoint = signed.checkpoint
    if checkpoint.size > tip.size:
        # A run split by size: stored, receipted when the rest arrives.
        return Receipt(party=sender, size=checkpoint.size, cosignature=None, held=tip.size)
    if checkpoint.size == 0 or tree.root(checkpoint.size) != checkpoint.root:
        raise ConsistencyError(
            f"{sender}'s checkpoint at size {checkpoint.size} does not match the log this "
            "node holds: the sender shows another history"
        )
    if log.checkpoint(checkpoint.size) is None:
        log.add_checkpoint(checkpoint.size, signed.to_text())
    mine = _own_cosignature(conn, node, sender, checkpoint.size)
    if mine is not None:
        return Receipt(
            party=sender,
            size=checkpoint.size,
            cosignature=mine,
            held=tip.size,
            repeat=not new_rows,
        )
    stamp = cosign(checkpoint, node.key, timestamp=int(now.timestamp()))
    log.add_cosignature(checkpoint.size, stamp.name, stamp.timestamp, stamp.to_line())
    return Receipt(party=sender, size=checkpoint.size, cosignature=stamp, held=tip.size)


def _own_cosignature(conn: Connection, node: Node, party: str, size: int) -> Cosignature | None:
    held = LogStore(conn, party).cosignature(size, node.config.key_name)
    return None if held is None else Cosignature.from_line(held.line)
