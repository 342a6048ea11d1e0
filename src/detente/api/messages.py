"""Operator endpoints: submit messages, the outbox and inbox, peers' health.

A message of a type the agreement holds for two-person release is not
sent by ``POST /v1/messages``: it is proposed (202), and sent when a
second operator approves it (:mod:`detente.api.releases`).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from detente.agreement import Priority
from detente.api.deps import MAX_OPERATOR_BODY, CurrentNode, OperatorAuth, read_limited
from detente.api.peer import MAX_SEQ
from detente.errors import InputError
from detente.exchange.early import early_entries_ahead, early_receipt_times
from detente.exchange.freshness import fresh_since, stale_after
from detente.exchange.priority import lane_receipts
from detente.exchange.sender import DeliveryState, delivery_states
from detente.node.directory import Node
from detente.node.operators import require
from detente.node.receipts import receipt_for
from detente.node.releases import needs_release, propose
from detente.node.settlement import log_settlements
from detente.node.writer import AppendResult, Draft, LogWriter
from detente.record.envelope import PRIORITIES, Envelope, format_time, parse_time
from detente.store.logs import LogStore, StoredCosignature

__all__ = ["router", "sent", "wake_sender"]

router = APIRouter(prefix="/v1", tags=["operator"])


class MessageIn(BaseModel):
    """A message to sign and send."""

    model_config = ConfigDict(extra="forbid")
    type: str = Field(description="a message type of the agreement this party may send")
    body: dict[str, Any] = Field(description="the body, checked against the type's schema")
    to: list[str] = Field(default_factory=list, max_length=256)
    refs: list[str] = Field(default_factory=list, max_length=1024)
    priority: str | None = Field(default=None, description=", ".join(PRIORITIES))
    article: str | None = Field(default=None, max_length=256)
    exercise: bool = False


@router.post(
    "/messages",
    status_code=201,
    responses={202: {"description": "Held for a second operator's approval (a release)."}},
)
async def submit(
    request: Request,
    response: Response,
    node: CurrentNode,
    operator: OperatorAuth,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> dict[str, Any]:
    """Sign a message into this node's log; the sender delivers it to every peer.

    With an ``Idempotency-Key`` header, a retried submission returns the
    envelope the first one created instead of creating another.

    A type the agreement lists under ``two_person_release`` is checked and
    held instead (202, ``{"release": ...}``): a second operator sends it
    with ``POST /v1/releases/{id}/approve``. A retried proposal with an
    ``Idempotency-Key`` returns the same pending release.
    """
    require(operator, send=True)
    raw = await read_limited(request, MAX_OPERATOR_BODY)
    try:
        message = MessageIn.model_validate_json(raw)
    except ValueError as e:
        raise InputError(f"message: {str(e).splitlines()[0]}: {_first_error(e)}") from e
    draft = Draft(
        type=message.type,
        body=message.body,
        to=tuple(message.to),
        refs=tuple(message.refs),
        article=message.article,
        priority=message.priority.upper() if message.priority else None,
        exercise=message.exercise,
    )
    if needs_release(node, draft.type):
        release = await run_in_threadpool(
            lambda: propose(node, draft, by=operator, reuse_pending=idempotency_key is not None)
        )
        response.status_code = 202
        return {"release": release.to_json()}
    key = (operator.name, idempotency_key) if idempotency_key else None
    # The append is blocking database work: off the event loop.
    result = await run_in_threadpool(LogWriter(node).append, [draft], idempotency=key)
    wake_sender(request, result)
    return sent(result)


def wake_sender(request: Request, result: AppendResult) -> None:
    """Have the background sender deliver what was just appended, at its priority."""
    sender = getattr(request.app.state, "sender", None)
    if sender is not None:
        sender.wake(priority=result.envelopes[0].header.priority)


def sent(result: AppendResult) -> dict[str, Any]:
    """What the API answers for a message appended to the log."""
    envelope = result.envelopes[0]
    return {
        "position": envelope.position,
        "seq": envelope.header.seq,
        "header": envelope.header.to_json(),
        "leaf_hash": envelope.leaf_hash.hex(),
        "checkpoint_size": result.checkpoint.checkpoint.size,
        "repeat": result.repeat,
    }


def _first_error(error: ValueError) -> str:
    errors = getattr(error, "errors", None)
    if callable(errors):
        first = errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(error)


def _receipts_by_size(stored: list[StoredCosignature]) -> dict[str, list[tuple[int, int]]]:
    """Per cosigner, its (size, timestamp) receipts in size order."""
    out: dict[str, list[tuple[int, int]]] = {}
    for c in stored:
        out.setdefault(c.cosigner, []).append((c.size, c.timestamp))
    return out


def _receipt_time(receipts: list[tuple[int, int]], seq: int) -> int | None:
    """The timestamp of the first receipt whose checkpoint covers ``seq``."""
    for size, timestamp in receipts:
        if size > seq:
            return timestamp
    return None


def _lane_time(
    ahead: dict[tuple[int, str], tuple[int, str, int]], seq: int, peer: str
) -> int | None:
    receipt = ahead.get((seq, peer))
    return None if receipt is None else receipt[2]


def _first(*times: int | None) -> int | None:
    known = [t for t in times if t is not None]
    return min(known) if known else None


def _state(
    node: Node,
    envelope: Envelope,
    delivery: DeliveryState,
    receipted_at: int | None,
    now: datetime,
) -> dict[str, Any]:
    seq = envelope.header.seq
    if receipted_at is not None or seq < delivery.receipted_size:
        state = "receipted"
    elif seq < delivery.delivered_size:
        state = "delivered"
    else:
        state = "queued"
    overdue = False
    hotline = node.agreement.hotline
    addressed = delivery.peer in envelope.header.to
    if state != "receipted" and addressed and hotline is not None:
        deadline = hotline.ack_deadline(Priority(envelope.header.priority))
        overdue = deadline is not None and now > parse_time(envelope.header.created) + deadline
    return {
        "state": "overdue" if overdue else state,
        "receipted_at": receipted_at,
    }


def _entry(envelope: Envelope, body: bytes | None) -> dict[str, Any]:
    return {
        "position": envelope.position,
        # Exercise traffic is marked on every message it appears in.
        "exercise": envelope.header.exercise,
        "header": envelope.header.to_json(),
        "leaf_hash": envelope.leaf_hash.hex(),
        "body": None if body is None else json.loads(body),
    }


@router.get("/outbox")
def outbox(
    node: CurrentNode,
    operator: OperatorAuth,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """This node's messages, newest first, with each peer's delivery state.

    With k-of-n policies configured, ``settled`` says per policy whether
    each message lies within a settled checkpoint, and ``policies`` how far
    the log is settled.
    """
    with node.database.engine.connect() as conn:
        size = LogStore(conn, node.party).size()
        items, settlements = _outbox_items(conn, node, max(0, size - limit), size)
    items.reverse()
    return {
        "party": node.party,
        "size": size,
        "policies": [s.to_json() for s in settlements],
        "messages": items,
    }


def outbox_entry(node: Node, seq: int) -> dict[str, Any] | None:
    """Entry ``seq`` of this node's log as the outbox shows it, or None if not held."""
    with node.database.engine.connect() as conn:
        items, _ = _outbox_items(conn, node, seq, seq + 1)
    return items[0] if items else None


def _outbox_items(
    conn: Connection, node: Node, start: int, stop: int
) -> tuple[list[dict[str, Any]], list[Any]]:
    now = node.clock()
    log = LogStore(conn, node.party)
    states = delivery_states(conn, node)
    receipts = _receipts_by_size(log.cosignatures())
    ahead = lane_receipts(conn)
    settlements = log_settlements(conn, node, node.party)
    items = []
    for batch in log.iter_entries(start, stop):
        for row in batch:
            envelope = Envelope.from_leaf(row.leaf)
            peers = {
                peer.party: _state(
                    node,
                    envelope,
                    states[peer.party],
                    _first(
                        _receipt_time(receipts.get(peer.key.name, []), row.seq),
                        _lane_time(ahead, row.seq, peer.party),
                    ),
                    now,
                )
                for peer in node.config.peers
            }
            settled = {s.policy.name: s.covers(row.seq) for s in settlements}
            items.append({**_entry(envelope, row.body), "peers": peers, "settled": settled})
    return items, settlements


@router.get("/outbox/{seq}/receipts/{peer}")
def receipt(
    seq: Annotated[int, Path(ge=0, le=MAX_SEQ)],
    peer: Annotated[str, Path(max_length=64)],
    node: CurrentNode,
    operator: OperatorAuth,
) -> dict[str, Any]:
    """The receipt ``peer`` gave for message ``seq``: checkable offline with two keys."""
    return receipt_for(node, seq=seq, peer=peer)


@router.get("/inbox")
def inbox(
    node: CurrentNode,
    operator: OperatorAuth,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Messages addressed to this party, newest first, with their receipt times."""
    items: list[tuple[tuple[str, str, int], dict[str, Any]]] = []
    with node.database.engine.connect() as conn:
        for peer in node.config.peers:
            items.extend(_addressed(conn, node, peer.party, limit))
    items.sort(key=lambda item: item[0], reverse=True)
    return {"party": node.party, "messages": [m for _, m in items[:limit]]}


def received_at(node: Node, party: str, seq: int) -> int | None:
    """When this node receipted entry ``seq`` of ``party``'s log (its first cosignature)."""
    with node.database.engine.connect() as conn:
        mine = _receipts_by_size(LogStore(conn, party).cosignatures()).get(node.config.key_name, [])
        early = early_receipt_times(conn, party)
    return _first(_receipt_time(mine, seq), early.get(seq))


def _addressed(
    conn: Connection, node: Node, party: str, limit: int
) -> list[tuple[tuple[str, str, int], dict[str, Any]]]:
    log = LogStore(conn, party)
    size = log.size()
    mine = _receipts_by_size(log.cosignatures()).get(node.config.key_name, [])
    early = early_receipt_times(conn, party)
    out: list[tuple[tuple[str, str, int], dict[str, Any]]] = []
    for row in early_entries_ahead(conn, party, size):
        # Taken ahead of the log (priority lane): the mirror has not reached it yet.
        envelope = Envelope.from_leaf(row.leaf)
        entry = {**_entry(envelope, row.body), "ahead_of_log": True}
        entry["received_at"] = early[row.seq]
        header = envelope.header
        out.append(((header.created, header.sender, header.seq), entry))
    position = size
    while position > 0 and len(out) < limit:
        start = max(0, position - 500)
        for batch in log.iter_entries(start, position):
            for row in batch:
                if row.body is None:
                    continue
                envelope = Envelope.from_leaf(row.leaf)
                entry = _entry(envelope, row.body)
                entry["received_at"] = _first(_receipt_time(mine, row.seq), early.get(row.seq))
                header = envelope.header
                out.append(((header.created, header.sender, header.seq), entry))
        position = start
    return out


@router.get("/peers")
def peers(node: CurrentNode, operator: OperatorAuth) -> dict[str, Any]:
    """Each peer: where it answers, its key, delivery backlog, last contact, freshness."""
    now, limit = node.clock(), stale_after(node)
    with node.database.engine.connect() as conn:
        size = LogStore(conn, node.party).size()
        states = delivery_states(conn, node)
        result = []
        for peer in node.config.peers:
            state = states[peer.party]
            mirrored = LogStore(conn, peer.party)
            latest = mirrored.checkpoint()
            fresh = fresh_since(node, peer.party)
            result.append(
                {
                    "party": peer.party,
                    "url": peer.url,
                    "fingerprint": peer.key.fingerprint(),
                    "backlog": size - state.receipted_size,
                    "delivered_size": state.delivered_size,
                    "receipted_size": state.receipted_size,
                    "attempts": state.attempts,
                    "next_attempt_at": state.next_attempt_at,
                    "last_error": state.last_error,
                    "last_contact_at": state.last_contact_at,
                    "mirrored_size": mirrored.size(),
                    "last_checkpoint_size": None if latest is None else latest[0],
                    "fresh_at": None if fresh is None else format_time(fresh),
                    "stale": fresh is not None and now - fresh > limit,
                }
            )
    return {"party": node.party, "log_size": size, "peers": result}
