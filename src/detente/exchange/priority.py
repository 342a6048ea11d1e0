"""The priority lane: a FLASH message goes ahead of the routine backlog.

A peer's mirror takes a log in order, so a FLASH entry appended behind
10,000 undelivered routine entries would wait for all of them. Instead the
sender delivers it *ahead* (``POST /v1/peer/priority``), with:

* the sender's newest signed checkpoint, which contains the entry;
* an RFC 9162 consistency proof from the size the receiver's mirror holds
  to that checkpoint, so the receiver knows the checkpoint extends the
  history it has already verified (the same check a C2SP witness makes);
* the entry's inclusion proof in that checkpoint, which fixes its position
  and content without the entries before it.

The receiver checks all of it and everything :func:`~detente.record.admission.admit`
checks except the chain, keeps the entry as *early*, and cosigns the
checkpoint at once: that cosignature with the inclusion proof is the
entry's receipt, and its timestamp the time that counts. It is kept apart
from the mirror's receipts, because the routine entries the checkpoint also
covers have not been received. The ordinary delivery fills the gap
afterwards; when the mirror reaches the entry and the checkpoint, the
receiver checks that the bytes and the root are the ones it was shown
ahead, or keeps the contradiction as evidence.

Only a recipient takes an entry ahead (it needs the body and must act on
it), and only at a priority in
:data:`~detente.record.envelope.LANE_PRIORITIES` (FLASH).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import Connection, func, insert, select, update

from detente.errors import (
    ConsistencyError,
    DetenteError,
    ForkError,
    SequenceError,
    TypeNotAllowedError,
    VerificationError,
)
from detente.exchange.deliveries import delivery_states, error_kind, held_size, save_delivery
from detente.exchange.peerkeys import cosigner_key, delivery_keys
from detente.exchange.receive import Receipt, record_evidence, verified_checkpoint, wire_entry
from detente.node.directory import Node, Peer
from detente.record.admission import admit_ahead
from detente.record.checkpoint import Cosignature, SignedCheckpoint, cosign
from detente.record.envelope import LANE_PRIORITIES, Envelope
from detente.record.merkle import verify_consistency, verify_inclusion
from detente.store.logs import LogStore
from detente.store.schema import deliveries, early_entries, priority_lane
from detente.store.tree import StoredTree

__all__ = [
    "AheadDelivery",
    "deliver_ahead",
    "lane_receipts",
    "peers_waiting",
    "receive_ahead",
]

log = logging.getLogger("detente.exchange")

# Times in a row the lane follows the peer's size before it gives up until later.
_MAX_RESYNCS = 3


@dataclass(frozen=True)
class AheadDelivery:
    """One entry delivered ahead of the mirror, with its proofs: parsed, not verified."""

    sender: str
    checkpoint: str
    base_size: int
    consistency: Sequence[bytes]
    inclusion: Sequence[bytes]
    leaf: bytes
    body: bytes
    # Other (size, consistency proof) pairs, for a mirror that has moved on
    # from ``base_size`` (a run in flight): the receiver uses the one it holds.
    alternatives: Sequence[tuple[int, Sequence[bytes]]] = ()


# --- Receiver ---------------------------------------------------------------


def receive_ahead(node: Node, delivery: AheadDelivery) -> Receipt:
    """Take a FLASH entry ahead of the log; see :func:`_receive_ahead`.

    Routine runs being received meanwhile in this process pause between
    entries until it is done, so it does not share the interpreter with them.
    """
    with node.lane_gate.closed():
        return _receive_ahead(node, delivery)


def _receive_ahead(node: Node, delivery: AheadDelivery) -> Receipt:
    """Verify an entry delivered ahead, keep it as early and cosign its checkpoint.

    Raises:
        UnknownKeyError, SignatureError: the sender or its checkpoint.
        TypeNotAllowedError: not addressed to this node, or not at a lane priority.
        SequenceError: ``base_size`` is not the size this node's mirror holds,
            or the entry is already mirrored; the answer says what is held.
        ConsistencyError: the checkpoint does not extend the mirror (kept as
            evidence).
        ForkError: other bytes were taken ahead at that seq (kept as evidence).
        VerificationError: the inclusion proof does not hold.
        BodyError, WrongAgreementError, ClockSkewError: as for any entry.
    """
    sender = delivery.sender
    # Keys as the mirror holds them: a rotation in the gap makes the lane
    # fail to verify, and the entry then comes in order.
    _, keys = delivery_keys(node, sender, [])
    signed = verified_checkpoint(node, sender, delivery.checkpoint, keys)
    envelope = Envelope.from_leaf(delivery.leaf)
    header = envelope.header
    if header.sender != sender:
        raise TypeNotAllowedError(f"{envelope.position}: not an entry of {sender}'s log")
    if node.party not in header.to:
        raise TypeNotAllowedError(
            f"{envelope.position}: only a recipient takes an entry ahead of the log, "
            f"and it is not addressed to {node.party}"
        )
    if header.priority not in LANE_PRIORITIES:
        raise TypeNotAllowedError(
            f"{envelope.position}: priority {header.priority} does not go ahead of the log "
            f"(only {', '.join(sorted(LANE_PRIORITIES))})"
        )
    checkpoint = signed.checkpoint
    if header.seq >= checkpoint.size:
        raise VerificationError(
            f"{envelope.position}: not in {sender}'s checkpoint of size {checkpoint.size}"
        )
    now = node.clock()
    try:
        with node.database.engine.begin() as conn:
            tree = StoredTree(conn, sender)
            held = tree.size()
            if header.seq < held:
                raise SequenceError(
                    f"{envelope.position}: already in the mirror, which holds {sender}'s "
                    f"log up to size {held}; deliver it in order"
                )
            proofs = {delivery.base_size: delivery.consistency, **dict(delivery.alternatives)}
            if held not in proofs:
                raise SequenceError(
                    f"consistency proof from size {', '.join(map(str, sorted(proofs)))}, but "
                    f"this node holds {sender}'s log up to size {held}"
                )
            if held > 0:
                try:
                    verify_consistency(
                        held,
                        checkpoint.size,
                        proofs[held],
                        tree.root(held),
                        checkpoint.root,
                    )
                except VerificationError as e:
                    raise ConsistencyError(
                        f"{sender}'s checkpoint at size {checkpoint.size} does not extend the "
                        f"{held} entries this node holds: the sender shows another history ({e})"
                    ) from e
            verify_inclusion(
                envelope.leaf_hash, header.seq, checkpoint.size, delivery.inclusion, checkpoint.root
            )
            admit_ahead(
                envelope,
                delivery.body,
                agreement=node.agreement,
                key=keys.key_for(header.seq),
                now=now,
            )
            earlier = conn.execute(
                select(early_entries).where(
                    early_entries.c.party == sender, early_entries.c.seq == header.seq
                )
            ).first()
            if earlier is not None:
                if bytes(earlier.leaf) != delivery.leaf:
                    raise ForkError(
                        f"{envelope.position}: other bytes were delivered ahead at this position"
                    )
                return Receipt(
                    party=sender,
                    size=int(earlier.checkpoint_size),
                    cosignature=Cosignature.from_line(earlier.cosignature),
                    held=held,
                    repeat=True,
                )
            stamp = cosign(checkpoint, node.key, timestamp=int(now.timestamp()))
            conn.execute(
                insert(early_entries).values(
                    party=sender,
                    seq=header.seq,
                    leaf=delivery.leaf,
                    body=delivery.body,
                    checkpoint_size=checkpoint.size,
                    checkpoint=signed.to_text(),
                    cosignature=stamp.to_line(),
                    received_at=stamp.timestamp,
                    mirrored=0,
                )
            )
    except ConsistencyError as e:
        record_evidence(
            node,
            party=sender,
            kind="inconsistent_checkpoint",
            detail=str(e),
            data=_evidence(delivery),
        )
        raise
    except ForkError as e:
        record_evidence(node, party=sender, kind="fork", detail=str(e), data=_evidence(delivery))
        raise
    log.info("took %s ahead of the log (mirror at %d)", envelope.position, held)
    return Receipt(party=sender, size=checkpoint.size, cosignature=stamp, held=held)


def _evidence(delivery: AheadDelivery) -> bytes:
    return delivery.checkpoint.encode() + b"\n" + delivery.leaf


# --- Sender -----------------------------------------------------------------


def lane_receipts(conn: Connection) -> dict[tuple[int, str], tuple[int, str, int]]:
    """Receipts given through the lane: (seq, peer) → (checkpoint size, cosignature, time)."""
    rows = conn.execute(select(priority_lane).where(priority_lane.c.cosignature.is_not(None)))
    return {
        (int(r.seq), str(r.peer)): (int(r.checkpoint_size), str(r.cosignature), int(r.receipted_at))
        for r in rows
    }


def peers_waiting(conn: Connection) -> set[str]:
    """Peers with a lane entry neither receipted through the lane nor delivered in order."""
    cursor = func.coalesce(deliveries.c.delivered_size, 0)
    rows = conn.execute(
        select(priority_lane.c.peer)
        .distinct()
        .select_from(priority_lane.outerjoin(deliveries, deliveries.c.peer == priority_lane.c.peer))
        .where(priority_lane.c.cosignature.is_(None), priority_lane.c.seq >= cursor)
    )
    return {str(peer) for peer in rows.scalars()}


def _pending(conn: Connection, peer: str, delivered: int) -> list[int]:
    return [
        int(seq)
        for seq in conn.execute(
            select(priority_lane.c.seq)
            .where(
                priority_lane.c.peer == peer,
                priority_lane.c.cosignature.is_(None),
                priority_lane.c.seq >= delivered,
            )
            .order_by(priority_lane.c.seq)
        ).scalars()
    ]


def _payload(
    conn: Connection, node: Node, seq: int, base: int, in_flight: int | None
) -> tuple[dict[str, Any], int]:
    """The lane request for ``seq``, proved in the newest own checkpoint, and its size.

    With a run in flight to the peer (ending at ``in_flight``), the peer may
    already hold it: the request carries the consistency proof from there too.
    """
    own = LogStore(conn, node.party)
    latest = own.checkpoint()
    leaf, body = own.leaf(seq), own.body(seq)
    if latest is None or leaf is None or body is None:  # pragma: no cover - one append wrote all
        raise VerificationError(f"{node.party}:{seq} or its checkpoint is missing")
    size, note = latest
    tree = StoredTree(conn, node.party)
    consistency = tree.consistency_proof(base, size) if 0 < base < size else []
    alternatives = []
    if in_flight is not None and base < in_flight < size:
        proof = tree.consistency_proof(in_flight, size)
        alternatives.append(
            {"base_size": in_flight, "consistency": [base64.b64encode(h).decode() for h in proof]}
        )
    entry = wire_entry(leaf, body)
    payload = {
        "sender": node.party,
        "checkpoint": note,
        "base_size": base,
        "consistency": [base64.b64encode(h).decode() for h in consistency],
        "inclusion": [base64.b64encode(h).decode() for h in tree.inclusion_proof(seq, size)],
        "leaf": entry["leaf"],
        "body": entry["body"],
        "alternatives": alternatives,
    }
    return payload, size


def deliver_ahead(
    node: Node, peer: Peer, client: httpx.Client, *, in_flight: int | None = None
) -> tuple[int, bool]:
    """Deliver this node's pending lane entries for ``peer``.

    ``in_flight`` is the end of the ordinary run on its way to the peer, if any.

    Returns how many the peer receipted, and whether an attempt failed.
    Failures are logged and left pending: the caller retries, and the
    ordinary delivery carries the entry in order in any case.
    """
    done = resyncs = 0
    while True:
        with node.database.engine.connect() as conn:
            base = delivery_states(conn, node)[peer.party].delivered_size
            seqs = _pending(conn, peer.party, base)
            if not seqs:
                return done, False
            payload, size = _payload(conn, node, seqs[0], base, in_flight)
        outcome = _send(node, peer, client, payload, seq=seqs[0], size=size)
        if outcome is None:
            return done, True
        if outcome == 0:
            # The ordinary delivery moved on meanwhile: retry from where the peer is.
            resyncs += 1
            if resyncs > _MAX_RESYNCS:
                log.warning("priority lane to %s: the peer's size keeps moving", peer.party)
                return done, True
        done += outcome


def _send(
    node: Node, peer: Peer, client: httpx.Client, payload: dict[str, Any], *, seq: int, size: int
) -> int | None:
    """Send one lane entry: 1 when receipted, 0 to go on (cursor moved), None on failure."""
    url = f"{peer.url.rstrip('/')}/v1/peer/priority"
    try:
        response = client.post(url, json=payload)
    except httpx.HTTPError as e:
        log.warning("priority delivery of %s:%d to %s failed: %s", node.party, seq, peer.party, e)
        return None
    if response.status_code == 409 and error_kind(response) == "SequenceError":
        return _resync(node, peer, response)
    if response.status_code != 200:
        log.warning(
            "priority delivery of %s:%d to %s: answered %d: %s",
            node.party,
            seq,
            peer.party,
            response.status_code,
            response.text[:300],
        )
        return None
    try:
        data = response.json()
        line = data["cosignature"]
        if data.get("party") != node.party or data.get("size") != size or not isinstance(line, str):
            raise VerificationError(f"receipt is not for {node.party} at size {size}")
        stamp = Cosignature.from_line(line)
        signed = SignedCheckpoint.from_text(str(payload["checkpoint"]))
        stamp.verify(signed.checkpoint, cosigner_key(node, peer.party, stamp))
    except (DetenteError, ValueError, KeyError, TypeError) as e:
        log.warning(
            "priority receipt from %s for %s:%d refused: %s", peer.party, node.party, seq, e
        )
        return None
    with node.database.engine.begin() as conn:
        conn.execute(
            update(priority_lane)
            .where(priority_lane.c.seq == seq, priority_lane.c.peer == peer.party)
            .values(checkpoint_size=size, cosignature=line, receipted_at=stamp.timestamp)
        )
    return 1


def _resync(node: Node, peer: Peer, response: httpx.Response) -> int | None:
    """The peer holds another size than the send cursor says: move the cursor, retry."""
    held = held_size(response)
    with node.database.engine.begin() as conn:
        own = LogStore(conn, node.party).size()
        if held is None or held > own:
            log.warning("priority delivery to %s refused: %s", peer.party, response.text[:300])
            return None
        # The ordinary delivery may have moved the cursor there already.
        if delivery_states(conn, node)[peer.party].delivered_size != held:
            save_delivery(conn, peer.party, delivered_size=held)
    log.info("peer %s holds %d of our log; priority lane resumes from there", peer.party, held)
    return 0
