"""The emergency line's page: what to acknowledge, what is awaited, links, incidents, notices.

``GET /console/hotline`` shows the line as this party sees it
(:func:`detente.node.line.line_state`): the messages it must acknowledge,
most urgent first, each with its deadline counting down (``console.js``
ticks every element carrying ``data-deadline``); those the other parties
owe it; the latest acknowledgements both ways; each link's tests; the
incident threads; and the notices given out of band. Every part of it is
a ``data-live`` region, so a FLASH message, or the other side's
acknowledgement, appears without a reload.

Its forms send on the line through the node's actions
(:mod:`detente.node.hotline`): acknowledge a message (as the operator
logged in), send a message (free text, a template in English and Russian,
or both), record a notice given out of band and confirm or dispute one.
Incident reports and threads are :mod:`.incidents`. Operators who may send
see the forms; viewers read. Each sending form carries a one-time key (as
compose does) and each button a key of what it acts on, so a double
submission sends once.
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from detente.agreement.hotline import (
    INCIDENT_REPORT_TYPE,
    LINE_MESSAGE_TYPE,
    NOTICE_TYPE,
)
from detente.console.i18n import translations
from detente.console.lineforms import UNIT_KINDS, field_for, message_from_form, notice_from_form
from detente.console.web import current_session, read_form, render
from detente.errors import ConflictError, DetenteError, InputError
from detente.measures.hotline import Acknowledgement, AckState, Line, parse_body_time
from detente.node.directory import Node
from detente.node.hotline import acknowledge, record_notice, reply_notice, send_line_message
from detente.node.line import line_state
from detente.node.operators import require
from detente.node.sessions import Session
from detente.node.writer import AppendResult
from detente.record.envelope import PRIORITIES, format_time

__all__ = ["choices", "done", "keyed", "line_page", "recipients", "router", "wake"]

router = APIRouter(prefix="/console/hotline", include_in_schema=False)

SessionDep = Annotated[Session, Depends(current_session)]

#: Acknowledgements listed as recently given, both ways.
RECENT = 20
_REF = re.compile(r"^[a-z][a-z0-9_-]{0,63}:\d{1,15}$")
#: What a redirect after an action tells the page to say (the template words it).
DONE = frozenset(
    {"acknowledged", "already", "sent", "reported", "recorded", "confirmed", "disputed"}
)
_MESSAGE_FIELDS = ("to", "priority", "text", "template")
_NOTICE_FIELDS = ("to", "given_at", "means", "given_by", "given_to", "summary")


def _node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


def recipients(node: Node) -> list[str]:
    """The parties this one may address on the line: every other party of the agreement."""
    return sorted(node.agreement.party_ids() - {node.party})


def choices(node: Node, type_id: str, name: str) -> tuple[str, ...]:
    """The values a body property of ``type_id`` may take, as its schema lists them."""
    message_type = node.agreement.message_types.get(type_id)
    if message_type is None:
        return ()
    spec = (message_type.body_schema.get("properties") or {}).get(name) or {}
    return tuple(str(v) for v in spec.get("enum", ()))


def wake(request: Request, result: AppendResult) -> None:
    """Have the background sender deliver what was just appended, at its priority."""
    sender = getattr(request.app.state, "sender", None)
    if sender is not None:
        sender.wake(priority=result.envelopes[0].header.priority)


def done(what: str, result: AppendResult | None = None, *, ref: str = "", anchor: str = "") -> str:
    """Where the browser goes after an action: the page, saying what was done."""
    if result is not None:
        ref = result.envelopes[0].position
    target = f"/console/hotline?done={what}"
    if ref:
        target += f"&ref={ref}"
    return target + (f"#{anchor}" if anchor else "")


def keyed(
    node: Node,
    session: Session,
    action: Callable[..., AppendResult],
    *args: Any,
    key: str,
    **kwargs: Any,
) -> Callable[[], AppendResult]:
    """``action`` on ``node`` with an idempotency key of this operator, for the thread pool."""
    return functools.partial(
        action, node, *args, idempotency=(session.operator.name, key[:128]), **kwargs
    )


def _message_fields(arguments: Mapping[str, Any]) -> tuple[str, ...]:
    return _MESSAGE_FIELDS + tuple(f"field.{n}" for n in arguments.get("fields", {}))


def _left(deadline: datetime, now: datetime) -> str:
    """A span as the countdown shows it: ``4:59``, ``1:02:03`` (console.js does the same)."""
    seconds = int(abs(deadline - now) / timedelta(seconds=1))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _default_priority(node: Node) -> str:
    message_type = node.agreement.message_types.get(LINE_MESSAGE_TYPE)
    return "IMMEDIATE" if message_type is None else message_type.priority.value


def _about(line: Line) -> dict[str, tuple[str, str]]:
    """The incident thread or notice each entry on the line belongs to, by its ref."""
    out: dict[str, tuple[str, str]] = {}
    for incident in line.incidents:
        out.update((e.ref, ("incident", incident.ref)) for e in incident.entries)
    for notice in line.notices:
        out[notice.ref] = ("notice", notice.ref)
        out.update((r.ref, ("notice", notice.ref)) for r in notice.replies)
    return out


def _recent(line: Line) -> list[Acknowledgement]:
    given = [
        (a.acknowledged_at, a)
        for a in line.acknowledgements
        if a.state in (AckState.ACKNOWLEDGED, AckState.LATE) and a.acknowledged_at is not None
    ]
    given.sort(key=lambda pair: (pair[0], pair[1].ref), reverse=True)
    return [a for _, a in given[:RECENT]]


def line_page(
    request: Request,
    session: Session,
    *,
    failed: str | None = None,
    values: Mapping[str, list[str]] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The hotline page; after a refused form, that form with its values and errors."""
    node = _node(request)
    line = line_state(node)
    values = values or {}
    query = request.query_params
    chosen = (values.get("template") or [""])[0] if failed == "message" else query.get("template")
    templates = sorted(node.agreement.templates.values(), key=lambda t: t.id)
    said = query.get("done", "")
    ref = query.get("ref", "")
    nonces = {
        name: (values.get("nonce") or [""])[0][:64] if failed == name else ""
        for name in ("message", "incident", "notice")
    }
    return render(
        request,
        "hotline.html",
        session=session,
        status=status,
        line=line,
        has_line=LINE_MESSAGE_TYPE in node.agreement.message_types,
        owed=line.owed_by_me(),
        awaiting=line.owed_to_me(),
        recent=_recent(line),
        about=_about(line),
        incidents=sorted(line.incidents, key=lambda i: i.entries[0].created, reverse=True),
        notices=sorted(line.notices, key=lambda n: n.created, reverse=True),
        parties=recipients(node),
        priorities=PRIORITIES,
        templates=templates,
        chosen=node.agreement.templates.get(chosen or ""),
        kinds=choices(node, INCIDENT_REPORT_TYPE, "kind"),
        unit_kinds=UNIT_KINDS,
        means=choices(node, NOTICE_TYPE, "means"),
        failed=failed,
        values=values,
        errors=errors or {},
        nonces={k: v or secrets.token_urlsafe(16) for k, v in nonces.items()},
        done=said if said in DONE else "",
        done_ref=ref if _REF.fullmatch(ref) else "",
        default_priority=_default_priority(node),
        left=_left,
        rfc3339=format_time,
        moment=parse_body_time,
    )


@router.get("")
def hotline(request: Request, session: SessionDep) -> Response:
    """The line as this party sees it; ``?template=`` chooses the message form's template."""
    return line_page(request, session)


@router.post("/acknowledge")
async def acknowledge_message(request: Request, session: SessionDep) -> Response:
    """A person acknowledges a message on the line (signed as read by this operator)."""
    form = await read_form(request, session)
    require(session.operator, send=True)
    ref = (form.get("ref") or [""])[0]
    if not _REF.fullmatch(ref):
        raise InputError("ref: not a message on the line (party:seq)")
    node = _node(request)
    action = keyed(
        node, session, acknowledge, ref, by=session.operator.name, key=f"console:ack:{ref}"
    )
    try:
        result = await run_in_threadpool(action)
    except ConflictError:
        return RedirectResponse(done("already", ref=ref, anchor="owed"), status_code=303)
    wake(request, result)
    return RedirectResponse(done("acknowledged", ref=ref, anchor="owed"), status_code=303)


@router.post("/send")
async def send_message(request: Request, session: SessionDep) -> Response:
    """Send a message on the line; errors beside their fields, nothing sent."""
    form = await read_form(request, session)
    require(session.operator, send=True)
    node = _node(request)
    gettext = translations(session.language).gettext
    arguments, errors = message_from_form(
        form, parties=recipients(node), templates=node.agreement.templates, gettext=gettext
    )
    nonce = (form.get("nonce") or [""])[0][:64] or secrets.token_urlsafe(16)
    if not errors:
        action = keyed(node, session, send_line_message, key=f"console:{nonce}", **arguments)
        try:
            result = await run_in_threadpool(action)
        except DetenteError as e:
            errors = {field_for(str(e), _message_fields(arguments)): str(e)}
        else:
            wake(request, result)
            return RedirectResponse(done("sent", result, anchor="awaiting"), status_code=303)
    return line_page(request, session, failed="message", values=form, errors=errors, status=422)


@router.post("/notices")
async def record(request: Request, session: SessionDep) -> Response:
    """Record a notice given by telephone, fax or radio while the link was down."""
    form = await read_form(request, session)
    require(session.operator, send=True)
    node = _node(request)
    gettext = translations(session.language).gettext
    arguments, errors = notice_from_form(
        form,
        parties=recipients(node),
        means=choices(node, NOTICE_TYPE, "means"),
        gettext=gettext,
    )
    nonce = (form.get("nonce") or [""])[0][:64] or secrets.token_urlsafe(16)
    if not errors:
        action = keyed(node, session, record_notice, key=f"console:{nonce}", **arguments)
        try:
            result = await run_in_threadpool(action)
        except DetenteError as e:
            errors = {field_for(str(e), _NOTICE_FIELDS): str(e)}
        else:
            wake(request, result)
            return RedirectResponse(done("recorded", result, anchor="notices"), status_code=303)
    return line_page(request, session, failed="notice", values=form, errors=errors, status=422)


@router.post("/notices/reply")
async def reply(request: Request, session: SessionDep) -> Response:
    """Confirm or dispute a notice given to this party, with an optional text."""
    form = await read_form(request, session)
    require(session.operator, send=True)
    ref = (form.get("ref") or [""])[0]
    verdict = (form.get("verdict") or [""])[0]
    if not _REF.fullmatch(ref):
        raise InputError("ref: not a notice on the line (party:seq)")
    if verdict not in ("confirmed", "disputed"):
        raise InputError("verdict: confirmed or disputed")
    text = (form.get("text") or [""])[0].strip()[:4000] or None
    node = _node(request)
    action = keyed(
        node, session, reply_notice, ref, verdict=verdict, text=text, key=f"console:reply:{ref}"
    )
    result = await run_in_threadpool(action)
    wake(request, result)
    return RedirectResponse(done(verdict, ref=ref, anchor="notices"), status_code=303)
