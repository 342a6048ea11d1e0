"""Incident threads on the emergency line: report one, read one, add an account, move its status.

An ``incident-report`` opens a thread between the reporter and its
recipients (:mod:`detente.measures.hotline`). Its page,
``/console/hotline/incidents/{party}/{seq}``, shows every entry that cites
the report, in order, and each side's accounts side by side; an operator
who may send adds this side's account or says the incident is explained,
closed (for this side: it is closed once every side has closed it) or
open again. The report form itself is on the hotline page.

A report drafted from a close-approach alert carries the ``screening``
that raised it (the two units' reports, the instant, the thresholds and
the predicted geometry); the page screens that pair again here, from the
message alone (:func:`detente.tracks.recompute.recompute`), and says
whether this node's call agrees with the reporter's.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from detente.agreement.hotline import INCIDENT_REPORT_TYPE
from detente.api.peer import MAX_SEQ
from detente.console.hotline import choices, keyed, line_page, recipients, wake
from detente.console.i18n import translations
from detente.console.lineforms import field_for, incident_from_form, units_from_lines
from detente.console.web import current_session, read_form, render
from detente.errors import DetenteError, InputError, NotFoundError
from detente.measures.hotline import Incident, line_text
from detente.node.directory import Node
from detente.node.hotline import INCIDENT_STATUSES, add_account, report_incident, set_status
from detente.node.line import line_state
from detente.node.operators import require
from detente.node.sessions import Session
from detente.tracks.recompute import Recomputed, recompute

__all__ = ["router", "screening_check"]

router = APIRouter(prefix="/console/hotline/incidents", include_in_schema=False)

SessionDep = Annotated[Session, Depends(current_session)]
Party = Annotated[str, Path(max_length=64)]
Seq = Annotated[int, Path(ge=0, le=MAX_SEQ)]

_INCIDENT_FIELDS = ("to", "kind", "at", "lat", "lon", "units", "account", "area")
_THREAD_DONE = frozenset({"reported", "account", "status"})


def _node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


def _incident(node: Node, ref: str) -> Incident:
    """The thread ``ref`` as this party sees it.

    Raises:
        NotFoundError: no incident report ``ref`` to or from this party is held.
    """
    found = next((i for i in line_state(node).incidents if i.ref == ref), None)
    if found is None:
        raise NotFoundError(f"{ref}: no incident report held here")
    return found


def screening_check(body: Mapping[str, Any] | None) -> tuple[Recomputed | None, str]:
    """The close approach a report's ``screening`` claims, recomputed; or why it cannot be.

    ``(None, "")`` for a report without a ``screening`` object.
    """
    screening = (body or {}).get("screening")
    if screening is None:
        return None, ""
    if not isinstance(screening, Mapping):
        return None, "screening: not an object"
    try:
        return recompute(screening), ""
    except DetenteError as e:
        return None, str(e)


def _thread_page(
    request: Request,
    session: Session,
    incident: Incident,
    *,
    values: Mapping[str, list[str]] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    node = _node(request)
    accounts = incident.accounts()
    said = request.query_params.get("done", "")
    recomputed, unrecomputable = screening_check(incident.entries[0].body)
    return render(
        request,
        "incident.html",
        session=session,
        status=status,
        incident=incident,
        sides=[(party, accounts.get(party, [])) for party in incident.parties],
        line_text=lambda body: line_text(node.agreement, body),
        statuses=INCIDENT_STATUSES,
        values=values or {},
        errors=errors or {},
        nonce=((values or {}).get("nonce") or [secrets.token_urlsafe(16)])[0][:64],
        done=said if said in _THREAD_DONE else "",
        recomputed=recomputed,
        unrecomputable=unrecomputable,
    )


def _thread(ref: str) -> str:
    party, seq = ref.split(":")
    return f"/console/hotline/incidents/{party}/{seq}"


@router.post("")
async def report(request: Request, session: SessionDep) -> Response:
    """Open an incident thread with this side's account; errors beside their fields."""
    form = await read_form(request, session)
    require(session.operator, send=True)
    node = _node(request)
    arguments, errors = incident_from_form(
        form,
        parties=recipients(node),
        kinds=choices(node, INCIDENT_REPORT_TYPE, "kind"),
        gettext=translations(session.language).gettext,
    )
    nonce = (form.get("nonce") or [""])[0][:64] or secrets.token_urlsafe(16)
    if not errors:
        action = keyed(node, session, report_incident, key=f"console:{nonce}", **arguments)
        try:
            result = await run_in_threadpool(action)
        except DetenteError as e:
            errors = {field_for(str(e), _INCIDENT_FIELDS): str(e)}
        else:
            wake(request, result)
            target = _thread(result.envelopes[0].position) + "?done=reported"
            return RedirectResponse(target, status_code=303)
    return line_page(request, session, failed="incident", values=form, errors=errors, status=422)


@router.get("/{party}/{seq}")
def thread(request: Request, session: SessionDep, party: Party, seq: Seq) -> Response:
    """Every entry of the thread in order, and each side's accounts side by side."""
    return _thread_page(request, session, _incident(_node(request), f"{party}:{seq}"))


@router.post("/{party}/{seq}/account")
async def account(request: Request, session: SessionDep, party: Party, seq: Seq) -> Response:
    """Give this side's account of the incident, to every other side of it."""
    form = await read_form(request, session)
    require(session.operator, send=True)
    node = _node(request)
    ref = f"{party}:{seq}"
    incident = await run_in_threadpool(_incident, node, ref)
    gettext = translations(session.language).gettext
    errors: dict[str, str] = {}
    text = (form.get("account") or [""])[0].strip()
    if not text:
        errors["account"] = gettext("Required.")
    try:
        units = units_from_lines((form.get("units") or [""])[0], gettext)
    except ValueError as e:
        errors["units"] = str(e)
        units = []
    if not errors:
        nonce = (form.get("nonce") or [""])[0][:64] or secrets.token_urlsafe(16)
        action = keyed(
            node, session, add_account, ref, account=text, units=units, key=f"console:{nonce}"
        )
        try:
            result = await run_in_threadpool(action)
        except DetenteError as e:
            errors = {field_for(str(e), ("account", "units")): str(e)}
        else:
            wake(request, result)
            return RedirectResponse(_thread(ref) + "?done=account#thread", status_code=303)
    return _thread_page(request, session, incident, values=form, errors=errors, status=422)


@router.post("/{party}/{seq}/status")
async def status(request: Request, session: SessionDep, party: Party, seq: Seq) -> Response:
    """Say the incident is explained, closed (for this side) or open again."""
    form = await read_form(request, session)
    require(session.operator, send=True)
    said = (form.get("status") or [""])[0]
    if said not in INCIDENT_STATUSES:
        raise InputError(f"status: one of {', '.join(INCIDENT_STATUSES)}")
    text = (form.get("text") or [""])[0].strip()[:4000] or None
    # The entries the officer saw: a second click of the same form sends once.
    seen = (form.get("seen") or [""])[0][:8]
    ref = f"{party}:{seq}"
    node = _node(request)
    key = f"console:status:{ref}:{seen}:{said}"
    action = keyed(node, session, set_status, ref, status=said, text=text, key=key)
    result = await run_in_threadpool(action)
    wake(request, result)
    return RedirectResponse(_thread(ref) + "?done=status#thread", status_code=303)
