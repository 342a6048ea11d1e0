"""Pulling a peer's log by hand: ``detente sync --peer ID``.

The node fetches the peer's newest checkpoint, proves it consistent with
the last checkpoint of that log it holds (RFC 9162 consistency proof from
the peer, checked against both roots), fetches the entries it lacks in
pages, and admits them exactly as a delivery
(:func:`detente.exchange.receive.receive_delivery`), which recomputes the
tree and cosigns the checkpoint. No gap can pass silently: a proof that
does not hold, or entries that do not hash to the checkpoint, stop it.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import httpx

from detente.errors import (
    ConsistencyError,
    InputError,
    StoreError,
    UnknownKeyError,
    VerificationError,
)
from detente.exchange.peerkeys import checkpoint_key
from detente.exchange.receive import Delivery, Receipt, receive_delivery
from detente.node.directory import Node, Peer
from detente.record.checkpoint import SignedCheckpoint
from detente.record.merkle import verify_consistency
from detente.store.logs import LogStore

__all__ = ["SyncResult", "sync_from_peer"]

_PAGE = 1000


@dataclass(frozen=True)
class SyncResult:
    """What one sync did."""

    party: str
    held_before: int
    checkpoint_size: int
    fetched: int
    consistency_checked_from: int | None
    receipt: Receipt | None


def _get(client: httpx.Client, peer: Peer, path: str, **params: int) -> Any:
    try:
        response = client.get(f"{peer.url.rstrip('/')}{path}", params=params)
    except httpx.HTTPError as e:
        raise StoreError(f"cannot reach {peer.party} at {peer.url}: {e}") from e
    if response.status_code != 200:
        raise InputError(f"{peer.party} answered {response.status_code}: {response.text[:300]}")
    return response.json()


def sync_from_peer(node: Node, peer: Peer, client: httpx.Client) -> SyncResult:
    """Bring this node's mirror of ``peer``'s log up to the peer's newest checkpoint.

    Raises:
        StoreError: the peer cannot be reached.
        InputError: the peer refused a request.
        ConsistencyError: the peer's checkpoint does not extend the one held.
        VerificationError: anything the record verifies does not hold.
    """
    party = peer.party
    base = f"/v1/peer/logs/{party}"
    data = _get(client, peer, f"{base}/checkpoint")
    signed = SignedCheckpoint.from_text(str(data.get("note")))
    size = signed.checkpoint.size
    with node.database.engine.connect() as conn:
        log = LogStore(conn, party)
        held = log.size()
        last = log.checkpoint()
    try:
        signed.verify(checkpoint_key(node, party, size) or peer.key)
    except UnknownKeyError:
        if size <= held:
            raise
        # Signed by a key that a rotation among the entries to fetch introduces:
        # receive_delivery checks it under the history those entries make.
    checked_from = None
    if last is not None:
        old = SignedCheckpoint.from_text(last[1]).checkpoint
        if size < old.size:
            raise ConsistencyError(
                f"{party}'s newest checkpoint ({size}) is behind the one held ({old.size})"
            )
        if size == old.size and signed.checkpoint.root != old.root:
            raise ConsistencyError(
                f"{party}'s checkpoint {size} has another root than the one held at that size"
            )
        if size > old.size:
            proof_data = _get(client, peer, f"{base}/proofs/consistency", old=old.size, new=size)
            proof = [base64.b64decode(h, validate=True) for h in proof_data.get("proof", [])]
            try:
                verify_consistency(old.size, size, proof, old.root, signed.checkpoint.root)
            except VerificationError as e:
                raise ConsistencyError(
                    f"{party}'s checkpoint {size} is not consistent with checkpoint "
                    f"{old.size} held: {e}"
                ) from e
            checked_from = old.size
    if size <= held:
        return SyncResult(party, held, size, 0, checked_from, None)
    entries: list[tuple[bytes, bytes | None]] = []
    start = held
    while start < size:
        # A page may stop short (the peer bounds its bytes): go on from where it ended.
        page = _get(client, peer, f"{base}/entries", start=start, stop=min(start + _PAGE, size))
        items = page.get("entries", [])
        for item in items:
            body = item.get("body")
            entries.append(
                (
                    base64.b64decode(item["leaf"], validate=True),
                    None if body is None else base64.b64decode(body, validate=True),
                )
            )
        if not items:
            break
        start += len(items)
    if len(entries) != size - held:
        raise InputError(
            f"{party} served {len(entries)} entries of the {size - held} its checkpoint covers"
        )
    receipt = receive_delivery(
        node, Delivery(sender=party, checkpoint=signed.to_text(), entries=entries)
    )
    if receipt.cosignature is None:  # pragma: no cover - every entry up to size was admitted
        raise ConsistencyError(f"{party}'s log was not complete up to its checkpoint {size}")
    return SyncResult(party, held, size, len(entries), checked_from, receipt)
