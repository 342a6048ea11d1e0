"""Peer endpoints: receive deliveries, serve logs, checkpoints, proofs and bodies.

Every request here is signed by a peer (RFC 9421, :mod:`detente.exchange.httpsig`).
Any peer may read any party's log of headers (design, principle 6); a
body goes only to a party the envelope is addressed to.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from detente.agreement.model import WIRE_MAX_BODY_BYTES
from detente.agreement.system import gets_body
from detente.api.deps import CurrentNode, PeerRequest, SignedPeerRequest
from detente.crypto.encoding import b64decode
from detente.errors import InputError, PermissionDeniedError
from detente.exchange.gossip import MAX_GOSSIP_PARTIES, receive_gossip
from detente.exchange.parts import PART_BYTES, reassemble, store_part
from detente.exchange.priority import AheadDelivery, receive_ahead
from detente.exchange.receive import (
    MAX_ENTRIES_PER_DELIVERY,
    Delivery,
    receive_delivery,
    wire_entry,
)
from detente.node.directory import Node
from detente.record.envelope import Envelope
from detente.store.logs import LogStore
from detente.store.tree import StoredTree

__all__ = ["router"]

router = APIRouter(prefix="/v1/peer", tags=["peer"])

_Model = TypeVar("_Model", bound=BaseModel)

# Sizes and positions stay within what canonical JSON and both databases hold.
MAX_SEQ = 2**53 - 1

_MAX_RANGE = 1000
# Bytes of leaves and bodies in one entries page (before base64), as a run.
_MAX_PAGE_BYTES = 8 * 1024 * 1024
# A proof in a tree of up to 2**64 leaves has at most 64 hashes (RFC 9162).
MAX_PROOF = 64


class DeliveryEntry(BaseModel):
    """One entry of a delivery: the exact leaf bytes and, for recipients, the body."""

    model_config = ConfigDict(extra="forbid")
    leaf: str = Field(description="base64 of the leaf bytes (canonical JSON of header and sig)")
    body: str | None = Field(default=None, description="base64 of the body, for recipients")
    staged: bool = Field(
        default=False, description="the body was sent ahead in parts (POST /v1/peer/parts)"
    )


class DeliveryIn(BaseModel):
    """A run of the sender's log up to one of its signed checkpoints."""

    model_config = ConfigDict(extra="forbid")
    sender: str
    checkpoint: str = Field(description="the sender's checkpoint, a C2SP signed note")
    entries: list[DeliveryEntry] = Field(max_length=MAX_ENTRIES_PER_DELIVERY)


class ReceiptOut(BaseModel):
    """The receiver's cosignature on the sender's checkpoint: the receipt.

    ``cosignature`` is null when the run stopped short of the checkpoint
    (split by size); ``held`` is then where the next run starts.
    """

    party: str
    size: int
    cosignature: str | None
    held: int
    repeat: bool


def _within(tree: StoredTree, party: str, size: int) -> None:
    held = tree.size()
    if size > held:
        raise InputError(f"this node holds {party}'s log up to size {held}, not {size}")


def _parse(model: type[_Model], request: PeerRequest, what: str) -> _Model:
    """The request body as ``model``; a 422 naming ``what`` and the first problem if not."""
    try:
        return model.model_validate_json(request.body)
    except ValueError as e:
        raise InputError(f"{what}: {str(e).splitlines()[0]}") from e


def _own_log(sender: str, request: PeerRequest) -> None:
    """A peer sends only its own log (403 otherwise)."""
    if sender != request.party:
        raise PermissionDeniedError(f"peer {request.party} may not deliver {sender}'s log")


@router.post("/envelopes", response_model=ReceiptOut)
def receive(node: CurrentNode, request: SignedPeerRequest) -> dict[str, Any]:
    """Receive a run of the sender's log; answer with the receipt."""
    delivery = _parse(DeliveryIn, request, "delivery")
    _own_log(delivery.sender, request)
    entries = [
        (b64decode(e.leaf, where=f"entries[{i}].leaf"), _body(node, delivery.sender, i, e))
        for i, e in enumerate(delivery.entries)
    ]
    receipt = receive_delivery(
        node, Delivery(sender=delivery.sender, checkpoint=delivery.checkpoint, entries=entries)
    )
    return receipt.to_json()


class AlternativeIn(BaseModel):
    """A consistency proof from another size the receiver's mirror may hold."""

    model_config = ConfigDict(extra="forbid")
    base_size: int = Field(ge=0, le=MAX_SEQ)
    consistency: list[str] = Field(max_length=MAX_PROOF)


class AheadIn(BaseModel):
    """One entry delivered ahead of the log (priority lane), with its proofs."""

    model_config = ConfigDict(extra="forbid")
    sender: str
    checkpoint: str = Field(description="the sender's checkpoint containing the entry")
    base_size: int = Field(ge=0, le=MAX_SEQ, description="the size the receiver's mirror holds")
    consistency: list[str] = Field(max_length=MAX_PROOF, description="base_size → checkpoint")
    inclusion: list[str] = Field(max_length=MAX_PROOF, description="the entry in the checkpoint")
    leaf: str = Field(description="base64 of the leaf bytes")
    body: str = Field(description="base64 of the body")
    alternatives: list[AlternativeIn] = Field(
        default_factory=list, max_length=4, description="proofs from other sizes (a run in flight)"
    )


@router.post("/priority", response_model=ReceiptOut)
def priority(node: CurrentNode, request: SignedPeerRequest) -> dict[str, Any]:
    """Take a FLASH entry ahead of the entries before it; answer with its receipt."""
    sent = _parse(AheadIn, request, "priority delivery")
    _own_log(sent.sender, request)
    receipt = receive_ahead(
        node,
        AheadDelivery(
            sender=sent.sender,
            checkpoint=sent.checkpoint,
            base_size=sent.base_size,
            consistency=[
                b64decode(h, where=f"consistency[{i}]") for i, h in enumerate(sent.consistency)
            ],
            inclusion=[b64decode(h, where=f"inclusion[{i}]") for i, h in enumerate(sent.inclusion)],
            leaf=b64decode(sent.leaf, where="leaf"),
            body=b64decode(sent.body, where="body"),
            alternatives=[
                (
                    alt.base_size,
                    [
                        b64decode(h, where=f"alternatives[{i}].consistency[{j}]")
                        for j, h in enumerate(alt.consistency)
                    ],
                )
                for i, alt in enumerate(sent.alternatives)
            ],
        ),
    )
    return receipt.to_json()


def _body(node: Node, sender: str, index: int, entry: DeliveryEntry) -> bytes | None:
    where = f"entries[{index}]"
    if not entry.staged:
        return None if entry.body is None else b64decode(entry.body, where=f"{where}.body")
    if entry.body is not None:
        raise InputError(f"{where}: a staged entry carries no body")
    seq = Envelope.from_leaf(b64decode(entry.leaf, where=f"{where}.leaf")).header.seq
    return reassemble(node, sender=sender, seq=seq)


class PartIn(BaseModel):
    """One part of a large body, sent ahead of the run that carries its entry."""

    model_config = ConfigDict(extra="forbid")
    sender: str
    seq: int = Field(ge=0, le=MAX_SEQ)
    start: int = Field(ge=0, le=WIRE_MAX_BODY_BYTES)
    total: int = Field(ge=1, le=WIRE_MAX_BODY_BYTES)
    data: str = Field(max_length=4 * (PART_BYTES // 3 + 1), description="base64 of the part")


@router.post("/parts")
def part(node: CurrentNode, request: SignedPeerRequest) -> dict[str, Any]:
    """Keep one part of a large body of the caller's log until its entry arrives."""
    sent = _parse(PartIn, request, "part")
    _own_log(sent.sender, request)
    held = store_part(
        node,
        sender=sent.sender,
        seq=sent.seq,
        start=sent.start,
        total=sent.total,
        data=b64decode(sent.data, where="data"),
    )
    return {"sender": sent.sender, "seq": sent.seq, "held_bytes": held, "total": sent.total}


class GossipIn(BaseModel):
    """The newest checkpoint the caller holds of each party's log."""

    model_config = ConfigDict(extra="forbid")
    checkpoints: dict[str, str] = Field(max_length=MAX_GOSSIP_PARTIES)


@router.post("/gossip")
def gossip(node: CurrentNode, request: SignedPeerRequest) -> dict[str, Any]:
    """Compare checkpoints: check the caller's against what is held, answer with ours."""
    sent = _parse(GossipIn, request, "gossip")
    return {"checkpoints": receive_gossip(node, source=request.party, notes=sent.checkpoints)}


@router.get("/logs/{party}/checkpoint")
def checkpoint(party: str, node: CurrentNode, request: SignedPeerRequest) -> dict[str, Any]:
    """The newest checkpoint of ``party``'s log held here, with its cosignatures."""
    with node.database.engine.connect() as conn:
        log = LogStore(conn, party)
        latest = log.checkpoint()
        if latest is None:
            raise InputError(f"this node holds no checkpoint of {party}'s log")
        size, note = latest
        lines = [c.line for c in log.cosignatures() if c.size == size]
    return {"party": party, "size": size, "note": note, "cosignatures": lines}


@router.get("/logs/{party}/entries")
def entries(
    party: str,
    node: CurrentNode,
    request: SignedPeerRequest,
    start: Annotated[int, Query(ge=0, le=MAX_SEQ)],
    stop: Annotated[int, Query(ge=0, le=MAX_SEQ)],
) -> dict[str, Any]:
    """Entries ``[start, stop)`` of ``party``'s log; bodies only to their recipients.

    The answer stops early, after at least one entry, once it holds
    :data:`_MAX_PAGE_BYTES` of leaves and bodies: the caller asks again from
    where it ended.
    """
    if stop <= start or stop - start > _MAX_RANGE:
        raise InputError(f"stop must be above start, by at most {_MAX_RANGE}")
    out: list[dict[str, Any]] = []
    budget = _MAX_PAGE_BYTES
    with node.database.engine.connect() as conn:
        for batch in LogStore(conn, party).iter_entries(start, stop):
            for row in batch:
                header = Envelope.from_leaf(row.leaf).header
                given = gets_body(type_id=header.type, to=header.to, node=request.party)
                body = row.body if given else None
                cost = len(row.leaf) + (0 if body is None else len(body))
                if out and cost > budget:
                    return {"party": party, "entries": out}
                budget -= cost
                out.append({"seq": row.seq, **wire_entry(row.leaf, body)})
    return {"party": party, "entries": out}


@router.get("/logs/{party}/proofs/inclusion")
def inclusion(
    party: str,
    node: CurrentNode,
    request: SignedPeerRequest,
    index: Annotated[int, Query(ge=0, le=MAX_SEQ)],
    size: Annotated[int, Query(ge=1, le=MAX_SEQ)],
) -> dict[str, Any]:
    """RFC 9162 inclusion proof of entry ``index`` in ``party``'s tree of ``size``."""
    with node.database.engine.connect() as conn:
        tree = StoredTree(conn, party)
        _within(tree, party, size)
        if index >= size:
            raise InputError(f"index {index} is not below size {size}")
        proof = tree.inclusion_proof(index, size)
    return {"index": index, "size": size, "proof": [base64.b64encode(h).decode() for h in proof]}


@router.get("/logs/{party}/proofs/consistency")
def consistency(
    party: str,
    node: CurrentNode,
    request: SignedPeerRequest,
    old: Annotated[int, Query(ge=1, le=MAX_SEQ)],
    new: Annotated[int, Query(ge=1, le=MAX_SEQ)],
) -> dict[str, Any]:
    """RFC 9162 consistency proof between two sizes of ``party``'s tree."""
    if old > new:
        raise InputError(f"old size {old} is above new size {new}")
    with node.database.engine.connect() as conn:
        tree = StoredTree(conn, party)
        _within(tree, party, new)
        proof = tree.consistency_proof(old, new)
    return {"old": old, "new": new, "proof": [base64.b64encode(h).decode() for h in proof]}
