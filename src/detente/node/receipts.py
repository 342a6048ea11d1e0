"""Receipts of this node's own messages, from what it stores."""

from __future__ import annotations

from typing import Any

from detente.errors import InputError
from detente.exchange.priority import lane_receipts
from detente.exchange.receipts import make_receipt
from detente.node.directory import Node
from detente.record.checkpoint import Cosignature
from detente.store.logs import LogStore
from detente.store.tree import StoredTree

__all__ = ["receipt_for"]


def receipt_for(node: Node, *, seq: int, peer: str) -> dict[str, Any]:
    """The receipt ``peer`` gave for entry ``seq`` of this node's log.

    It is the peer's first cosignature on a checkpoint that contains the
    entry (its lane receipt, if it went ahead of the log), with the entry's
    inclusion proof in that checkpoint.

    Raises:
        InputError: ``peer`` is not a configured peer, no such entry, or the
            peer has not receipted it yet.
    """
    configured = node.config.peer(peer)
    if configured is None:
        raise InputError(f"{peer!r} is not a peer of this node")
    with node.database.engine.connect() as conn:
        log = LogStore(conn, node.party)
        leaf = log.leaf(seq)
        if leaf is None:
            raise InputError(f"this node's log holds no entry {seq}")
        stamps = [
            (c.timestamp, c.size, c.line)
            for c in log.cosignatures()
            if c.cosigner == configured.key.name and c.size > seq
        ]
        ahead = lane_receipts(conn).get((seq, peer))
        if ahead is not None:
            # Receipted through the priority lane, ahead of the log.
            size, line, timestamp = ahead
            stamps.append((timestamp, size, line))
        if not stamps:
            raise InputError(f"{peer} has not receipted {node.party}:{seq} yet")
        _, size, line = min(stamps)
        held = log.checkpoint(size)
        if held is None:  # pragma: no cover - a cosignature is stored only with its checkpoint
            raise InputError(f"checkpoint {size} is missing")
        proof = StoredTree(conn, node.party).inclusion_proof(seq, size)
    return make_receipt(
        leaf=leaf,
        checkpoint=held[1],
        cosignature=Cosignature.from_line(line),
        proof=proof,
    )
