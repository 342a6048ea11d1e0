"""Large bodies travel in parts and are reassembled before the entry is admitted.

A body may be as large as the agreement's ``max_body_bytes`` (at most
16 MiB). Sent whole inside a run, one such body would make the run's
request, and the receiver's memory and transaction, as large; and a run
carrying it would hold up everything behind it. So a body larger than
:data:`PART_BYTES` goes ahead of its run in parts (``POST
/v1/peer/parts``): each part names the entry's seq, its offset and the
body's total length. The receiver keeps the parts of entries it does not
hold yet, within :data:`MAX_STAGED_BYTES` per sender. The run then carries
the entry with ``"staged": true`` instead of the body; the receiver joins
the parts, and the ordinary checks against the header (length, SHA-256,
schema) decide whether the body is the one signed. The parts are deleted
in the transaction that stores the entry.

Example:
    >>> [(start, len(chunk)) for start, chunk in split(b"x" * 5, size=2)]
    [(0, 2), (2, 2), (4, 1)]
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
from sqlalchemy import Connection, delete, func, insert, select

from detente.errors import BodyError, InputError, SequenceError, TooLargeError
from detente.node.directory import Node, Peer
from detente.store.logs import as_bytes
from detente.store.schema import body_parts
from detente.store.tree import StoredTree

__all__ = [
    "MAX_STAGED_BYTES",
    "PART_BYTES",
    "clear_parts",
    "reassemble",
    "split",
    "store_part",
    "upload_parts",
]

# One part: small enough that a part request stays far below every limit.
PART_BYTES = 1024 * 1024
# Parts a sender may have waiting at a receiver: four bodies at the wire cap.
MAX_STAGED_BYTES = 64 * 1024 * 1024
# How far beyond the mirror a staged entry may lie: one run.
STAGE_AHEAD = 2000


def split(body: bytes, *, size: int | None = None) -> Iterator[tuple[int, bytes]]:
    """The parts of ``body``: (offset, bytes), in order, of ``size`` (default PART_BYTES)."""
    size = size or PART_BYTES
    for start in range(0, len(body), size):
        yield start, body[start : start + size]


# --- Receiver ---------------------------------------------------------------


def store_part(node: Node, *, sender: str, seq: int, start: int, total: int, data: bytes) -> int:
    """Keep one part of the body of ``sender:seq``; return how many bytes of it are held.

    Raises:
        InputError: the part does not fit the body it says it belongs to.
        BodyError: the total exceeds the agreement's ``max_body_bytes``.
        SequenceError: the entry is already held, or lies too far ahead.
        TooLargeError: the sender has too many bytes waiting already.
    """
    where = f"{sender}:{seq} part at {start}"
    limit = node.agreement.max_body_bytes
    if total > limit:
        raise BodyError(f"{where}: body of {total} bytes exceeds max_body_bytes ({limit})")
    if not data or len(data) > PART_BYTES or start % PART_BYTES:
        raise InputError(f"{where}: a part is 1 to {PART_BYTES} bytes at a multiple of that")
    if start + len(data) > total or (start + len(data) < total and len(data) != PART_BYTES):
        raise InputError(f"{where}: {len(data)} bytes do not fit a body of {total} bytes")
    with node.database.engine.begin() as conn:
        held = StoredTree(conn, sender).size()
        if seq < held:
            raise SequenceError(f"{where}: this node already holds {sender}'s log to size {held}")
        if seq >= held + STAGE_AHEAD:
            raise SequenceError(
                f"{where}: more than {STAGE_AHEAD} entries beyond the {held} this node holds"
            )
        mine = (body_parts.c.party == sender) & (body_parts.c.seq == seq)
        other_total = conn.execute(
            select(body_parts.c.total).where(mine, body_parts.c.total != total)
        ).first()
        if other_total is not None:
            # A retry after the sender re-planned: the old parts are of no use.
            conn.execute(delete(body_parts).where(mine))
        conn.execute(delete(body_parts).where(mine, body_parts.c.start == start))
        staged = conn.execute(
            select(func.coalesce(func.sum(func.length(body_parts.c.data)), 0)).where(
                body_parts.c.party == sender
            )
        ).scalar_one()
        if int(staged) + len(data) > MAX_STAGED_BYTES:
            raise TooLargeError(
                f"{where}: {sender} already has {staged} bytes of parts waiting here "
                f"(at most {MAX_STAGED_BYTES})"
            )
        conn.execute(
            insert(body_parts).values(party=sender, seq=seq, start=start, total=total, data=data)
        )
        held_bytes = conn.execute(
            select(func.sum(func.length(body_parts.c.data))).where(mine)
        ).scalar_one()
    return int(held_bytes)


def reassemble(node: Node, *, sender: str, seq: int) -> bytes:
    """The body of ``sender:seq`` joined from its parts.

    Raises:
        BodyError: parts are missing; the message says how much is held.
    """
    with node.database.engine.connect() as conn:
        rows = conn.execute(
            select(body_parts.c.start, body_parts.c.total, body_parts.c.data)
            .where(body_parts.c.party == sender, body_parts.c.seq == seq)
            .order_by(body_parts.c.start)
        ).all()
    chunks, expected, total = [], 0, None
    for start, row_total, data in rows:
        if int(start) != expected:
            break
        chunk = as_bytes(data)
        chunks.append(chunk)
        expected += len(chunk)
        total = int(row_total)
    if total is None or expected != total:
        raise BodyError(
            f"{sender}:{seq}: staged body incomplete: {expected} contiguous bytes held"
            + ("" if total is None else f" of {total}")
        )
    return b"".join(chunks)


def clear_parts(conn: Connection, party: str, *, below: int) -> None:
    """Drop the parts of entries of ``party`` the mirror now holds (inside its transaction)."""
    conn.execute(delete(body_parts).where(body_parts.c.party == party, body_parts.c.seq < below))


# --- Sender -----------------------------------------------------------------


def upload_parts(
    client: httpx.Client, node: Node, peer: Peer, *, seq: int, body: bytes
) -> httpx.Response | None:
    """Send the body of this node's entry ``seq`` to ``peer`` in parts.

    Returns None when every part was taken, else the peer's refusal, which
    the caller handles like a refused run.

    Raises:
        httpx.HTTPError: the peer could not be reached.
    """
    url = f"{peer.url.rstrip('/')}/v1/peer/parts"
    for start, chunk in split(body):
        response = client.post(
            url,
            json={
                "sender": node.party,
                "seq": seq,
                "start": start,
                "total": len(body),
                "data": base64.b64encode(chunk).decode(),
            },
        )
        if response.status_code != 200:
            return response
    return None
