"""The console's reading pages: overview, inbox, outbox, a message, the record.

Pages read through the same service functions as the operator API, so the
console shows what ``/v1/...`` answers and nothing else. Lists are filtered
on the server (plain GET forms), so they work without JavaScript; with it,
``console.js`` refreshes the regions marked ``data-live`` when the node's
state changes (see :mod:`detente.console.live`). The map, with the units
and alerts of close-approach screening, is :mod:`detente.console.tracks`.
"""

from __future__ import annotations

import json
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from detente.api import messages as api
from detente.api.peer import MAX_SEQ
from detente.console.web import current_session, read_form, render
from detente.documents.proof import DOCUMENT_TYPE
from detente.errors import InputError, NotFoundError
from detente.exchange.early import early_entries_ahead
from detente.node.alarms import acknowledge, list_alarms
from detente.node.audit import audit_node
from detente.node.directory import Node
from detente.node.inclusion import check_inclusion
from detente.node.operators import require
from detente.node.receipts import receipt_for
from detente.node.sessions import Session
from detente.node.settlement import log_settlements
from detente.node.watchlog import current_watch
from detente.record.envelope import PRIORITIES, Envelope
from detente.store.logs import LogStore

__all__ = ["router"]

router = APIRouter(prefix="/console", include_in_schema=False)

SessionDep = Annotated[Session, Depends(current_session)]
_LIST_LIMIT = 200


def _node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


@router.get("")
def root() -> Response:
    """``/console`` is the overview."""
    return RedirectResponse("/console/", status_code=307)


@router.get("/")
def overview(request: Request, session: SessionDep) -> Response:
    """The agreement in force, the peers' health, alarms until acknowledged."""
    node = _node(request)
    peers = api.peers(node, session.operator)
    alarms = list_alarms(node)
    return render(
        request,
        "overview.html",
        session=session,
        peers=peers["peers"],
        log_size=peers["log_size"],
        alarms=alarms,
        on_watch=current_watch(node),
        agreement=node.agreement,
    )


@router.post("/alarms/{alarm_id}/acknowledge")
async def acknowledge_alarm(
    request: Request, session: SessionDep, alarm_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> Response:
    """An admin acknowledges an alarm; it leaves the screen and goes to the watch log."""
    await read_form(request, session)
    require(session.operator, admin=True)
    acknowledge(_node(request), alarm_id, by=session.operator.name)
    return RedirectResponse("/console/", status_code=303)


def _one(query: dict[str, str], key: str) -> str:
    return query.get(key, "").strip()[:128]


@router.get("/inbox")
def inbox(request: Request, session: SessionDep) -> Response:
    """Messages addressed to this party; filter by type, sender, priority, exercise."""
    node = _node(request)
    query = dict(request.query_params)
    found = api.inbox(node, session.operator, limit=_LIST_LIMIT)["messages"]
    shown = [m for m in found if _matches(m, query)]
    return render(
        request,
        "inbox.html",
        session=session,
        messages=shown,
        total=len(found),
        filters=query,
        types=sorted({m["header"]["type"] for m in found}),
        senders=sorted({m["header"]["sender"] for m in found}),
        priorities=PRIORITIES,
    )


@router.get("/outbox")
def outbox(request: Request, session: SessionDep) -> Response:
    """This node's messages with each peer's delivery and receipt state."""
    node = _node(request)
    query = dict(request.query_params)
    data = api.outbox(node, session.operator, limit=_LIST_LIMIT)
    state = _one(query, "state")
    shown = [
        m
        for m in data["messages"]
        if _matches(m, query)
        and (not state or any(p["state"] == state for p in m["peers"].values()))
    ]
    return render(
        request,
        "outbox.html",
        session=session,
        messages=shown,
        total=len(data["messages"]),
        filters=query,
        peers=[p.party for p in node.config.peers],
        types=sorted({m["header"]["type"] for m in data["messages"]}),
        priorities=PRIORITIES,
        states=("queued", "delivered", "receipted", "overdue"),
    )


def _matches(message: dict[str, Any], query: dict[str, str]) -> bool:
    header = message["header"]
    checks = {
        "type": header["type"],
        "sender": header["sender"],
        "priority": header["priority"],
    }
    for key, value in checks.items():
        wanted = _one(query, key)
        if wanted and wanted != value:
            return False
    exercise = _one(query, "exercise")
    if exercise == "exercise" and not header["exercise"]:
        return False
    return not (exercise == "real" and header["exercise"])


@router.get("/messages/{party}/{seq}")
async def message(
    request: Request,
    session: SessionDep,
    party: Annotated[str, Path(max_length=64)],
    seq: Annotated[int, Path(ge=0, le=MAX_SEQ)],
) -> Response:
    """One message: header, body, log position, receipts; ``?verify=1`` proves it."""
    node = _node(request)
    with node.database.engine.connect() as conn:
        log = LogStore(conn, party)
        leaf = log.leaf(seq)
        body = log.body(seq)
        ahead = False
        if leaf is None and party != node.party:
            # A FLASH message taken ahead of the mirror (the priority lane).
            early = {row.seq: row for row in early_entries_ahead(conn, party, log.size())}
            row = early.get(seq)
            if row is not None:
                leaf, body, ahead = row.leaf, row.body, True
        if leaf is None:
            raise NotFoundError(f"this node holds no message {party}:{seq}")
    envelope = Envelope.from_leaf(leaf)
    receipts: list[dict[str, Any]] = []
    received_at = None
    if party == node.party:
        item = api.outbox_entry(node, seq)
        if item is not None:
            receipts = [{"peer": p, **state} for p, state in sorted(item["peers"].items())]
    else:
        received_at = api.received_at(node, party, seq)
    check = None
    if request.query_params.get("verify") and not ahead:
        check = await run_in_threadpool(check_inclusion, node, party=party, seq=seq)
    return render(
        request,
        "message.html",
        session=session,
        party=party,
        seq=seq,
        header=envelope.header.to_json(),
        leaf_hash=envelope.leaf_hash.hex(),
        body=None if body is None else _shown_body(envelope.header.type, json.loads(body)),
        receipts=receipts,
        received_at=received_at,
        check=check,
        ahead=ahead,
        sent=bool(request.query_params.get("sent")),
    )


def _shown_body(type_id: str, body: Any) -> Any:
    """The body as the message page shows it: a document's copy (up to megabytes of
    base64) by its size and where to get it, not inline."""
    if type_id == DOCUMENT_TYPE and isinstance(body, dict) and "content" in body:
        shown = dict(body)
        shown["content"] = (
            f"({body.get('length', '?')} bytes: download the copy from the Documents page)"
        )
        return shown
    return body


@router.get("/messages/{party}/{seq}/receipts/{peer}")
def receipt_file(
    request: Request,
    session: SessionDep,
    party: Annotated[str, Path(max_length=64)],
    seq: Annotated[int, Path(ge=0, le=MAX_SEQ)],
    peer: Annotated[str, Path(max_length=64)],
) -> Response:
    """The receipt ``peer`` gave for one of this node's messages, as a file."""
    node = _node(request)
    if party != node.party:
        raise InputError("receipts are kept by the sender: open the message on its node")
    found = receipt_for(node, seq=seq, peer=peer)
    return Response(
        json.dumps(found, indent=2, sort_keys=True) + "\n",
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="receipt-{party}-{seq}-{peer}.json"'
        },
    )


@router.get("/record")
async def record(request: Request, session: SessionDep) -> Response:
    """Each log held: size, checkpoints, cosignatures, witnesses; ``?verify=1`` audits all."""
    node = _node(request)
    logs = []
    with node.database.engine.connect() as conn:
        settlements = {s.policy.name: s.to_json() for s in log_settlements(conn, node, node.party)}
        names = {p.key.name: p.party for p in node.config.peers}
        witnesses = [p.party for p in node.config.peers if p.witness]
        for party in [node.party, *(p.party for p in node.config.peers if not p.witness)]:
            if node.config.role == "witness" and party == node.party:
                continue
            log = LogStore(conn, party)
            latest = log.checkpoint()
            size = None if latest is None else latest[0]
            cosigned = [] if size is None else log.cosignatures(size)
            logs.append(
                {
                    "party": party,
                    "size": log.size(),
                    "checkpoints": len(log.checkpoints()),
                    "checkpoint_size": size,
                    "cosigned_by": sorted(names.get(c.cosigner, c.cosigner) for c in cosigned),
                }
            )
    report = None
    busy = False
    if request.query_params.get("verify"):
        # A full audit reads everything the node holds: one at a time.
        lock: threading.Lock = request.app.state.console_audit
        if lock.acquire(blocking=False):
            try:
                report = await run_in_threadpool(audit_node, node, workers=1)
            finally:
                lock.release()
        else:
            busy = True
    evidence = [a for a in list_alarms(node, include_acknowledged=True) if a.evidence is not None]
    return render(
        request,
        "record.html",
        session=session,
        logs=logs,
        witnesses=witnesses,
        settlements=settlements,
        report=report,
        busy=busy,
        evidence=evidence,
    )


@router.get("/evidence/{alarm_id}")
def evidence(
    request: Request, session: SessionDep, alarm_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> Response:
    """An alarm's evidence as a file, for ``detente evidence verify``."""
    for alarm in list_alarms(_node(request), include_acknowledged=True):
        if alarm.id == alarm_id and alarm.evidence is not None:
            return Response(
                json.dumps(alarm.evidence, indent=2, sort_keys=True) + "\n",
                media_type="application/json",
                headers={"Content-Disposition": f'attachment; filename="evidence-{alarm_id}.json"'},
            )
    raise NotFoundError(f"alarm {alarm_id} has no evidence")
