"""Compose a message, and the two-person release of the types that need it.

The form of a type is generated from its body schema (:mod:`.forms`); the
envelope's fields (recipients, priority, references, article, exercise
marking) are the same for every type. A message goes through the same
writer as ``POST /v1/messages``: every rule is checked there and an error
comes back next to the field it names. A type the agreement puts under
two-person release is proposed instead of sent, and waits on the releases
page for a second operator.
"""

from __future__ import annotations

import functools
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from detente.agreement import MessageType
from detente.agreement._base import ANY_PARTY
from detente.console.forms import body_from_form, field_of, fields_for
from detente.console.web import current_session, read_form, render
from detente.errors import DetenteError, InputError
from detente.node.directory import Node
from detente.node.operators import require
from detente.node.releases import (
    ReleaseState,
    approve,
    list_releases,
    needs_release,
    propose,
    reject,
    withdraw,
)
from detente.node.sessions import Session
from detente.node.writer import Draft, LogWriter
from detente.record.envelope import PRIORITIES

__all__ = ["router"]

router = APIRouter(prefix="/console", include_in_schema=False)

SessionDep = Annotated[Session, Depends(current_session)]


def _node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


def sendable(node: Node) -> list[MessageType]:
    """The types this party may send from the console, by id (key entries excepted)."""
    return sorted(
        (t for t in node.agreement.message_types.values() if t.may_send(node.party)),
        key=lambda t: t.id,
    )


def _recipients(node: Node, message_type: MessageType) -> list[str]:
    others = sorted(node.agreement.party_ids() - {node.party})
    if ANY_PARTY in message_type.recipients:
        return others
    return [p for p in message_type.recipients if p in others]


def _page(
    request: Request,
    session: Session,
    node: Node,
    message_type: MessageType | None,
    *,
    values: dict[str, list[str]] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "compose.html",
        session=session,
        status=status,
        types=sendable(node),
        message_type=message_type,
        fields=[] if message_type is None else fields_for(message_type.body_schema),
        two_person=message_type is not None and needs_release(node, message_type.id),
        parties=sorted(node.agreement.party_ids() - {node.party}),
        default_to=[] if message_type is None else _recipients(node, message_type),
        priorities=PRIORITIES,
        values=values or {},
        errors=errors or {},
        # One per form: a second submission of the same form (a double
        # click, a reload) returns what the first one did.
        nonce=((values or {}).get("nonce") or [secrets.token_urlsafe(16)])[0][:64],
    )


@router.get("/compose")
def compose_form(request: Request, session: SessionDep) -> Response:
    """Choose a type, then fill in its form."""
    node = _node(request)
    type_id = request.query_params.get("type", "")
    message_type = next((t for t in sendable(node) if t.id == type_id), None)
    if type_id and message_type is None:
        raise InputError(f"{node.party} may not send messages of type {type_id!r}")
    return _page(request, session, node, message_type)


@router.post("/compose")
async def compose(request: Request, session: SessionDep) -> Response:
    """Sign and send the message (or propose it for release); errors beside their fields."""
    form = await read_form(request, session)
    require(session.operator, send=True)
    node = _node(request)
    type_id = (form.get("type") or [""])[0]
    message_type = next((t for t in sendable(node) if t.id == type_id), None)
    if message_type is None:
        raise InputError(f"{node.party} may not send messages of type {type_id!r}")
    body_form = {k.removeprefix("body."): v for k, v in form.items() if k.startswith("body.")}
    body, errors = body_from_form(message_type.body_schema, body_form)
    if errors:
        return _page(request, session, node, message_type, values=form, errors=errors, status=422)
    draft = Draft(
        type=type_id,
        body=body,
        to=tuple(p for p in form.get("to", []) if p),
        refs=tuple(
            line.strip() for line in (form.get("refs") or [""])[0].splitlines() if line.strip()
        ),
        article=(form.get("article") or [""])[0].strip() or None,
        priority=(form.get("priority") or [""])[0] or None,
        exercise=bool(form.get("exercise")),
    )
    nonce = (form.get("nonce") or [""])[0][:64]
    try:
        if needs_release(node, type_id):
            release = await run_in_threadpool(
                functools.partial(propose, node, draft, by=session.operator, reuse_pending=True)
            )
            return RedirectResponse(f"/console/releases#release-{release.id}", status_code=303)
        key = (session.operator.name, f"console:{nonce}") if nonce else None
        result = await run_in_threadpool(LogWriter(node).append, [draft], idempotency=key)
    except DetenteError as e:
        where = field_of(str(e)) or "_form"
        return _page(
            request, session, node, message_type, values=form, errors={where: str(e)}, status=422
        )
    envelope = result.envelopes[0]
    sender = getattr(request.app.state, "sender", None)
    if sender is not None:
        sender.wake(priority=envelope.header.priority)
    return RedirectResponse(
        f"/console/messages/{node.party}/{envelope.header.seq}?sent=1", status_code=303
    )


@router.get("/releases")
def releases(request: Request, session: SessionDep) -> Response:
    """Messages waiting for a second operator, and the latest decisions."""
    node = _node(request)
    pending = list_releases(node, state=ReleaseState.pending, limit=1000)
    latest = list_releases(node, limit=100)
    return render(
        request,
        "releases.html",
        session=session,
        pending=pending,
        decided=[r for r in latest if r.state != ReleaseState.pending][:50],
    )


@router.post("/releases/{release_id}/{action}")
async def decide(
    request: Request,
    session: SessionDep,
    release_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    action: Annotated[str, Path(pattern="^(approve|reject|withdraw)$")],
) -> Response:
    """Approve (a second operator), reject with a reason, or withdraw (the proposer)."""
    form = await read_form(request, session)
    node = _node(request)
    target = "/console/releases"
    if action == "approve":
        _, result = await run_in_threadpool(approve, node, release_id, by=session.operator)
        envelope = result.envelopes[0]
        sender = getattr(request.app.state, "sender", None)
        if sender is not None:
            sender.wake(priority=envelope.header.priority)
        target = f"/console/messages/{node.party}/{envelope.header.seq}?sent=1"
    elif action == "reject":
        reason = (form.get("reason") or [""])[0].strip()
        await run_in_threadpool(reject, node, release_id, by=session.operator, reason=reason)
    else:
        await run_in_threadpool(withdraw, node, release_id, by=session.operator)
    return RedirectResponse(target, status_code=303)
