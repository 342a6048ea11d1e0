"""The inspections page: visits and their quotas, one visit, and the forms of its next step.

``GET /console/inspections`` lists every visit this node's logs give
(:func:`detente.node.inspections.inspections_state`) with its state and any
step overdue, in red with the side that owes it, and what is left of each
type's quota for each pair of parties (:func:`~detente.node.inspections.quota_states`).
``GET /console/inspections/{party}/{seq}`` shows one visit: its sides,
site and planned arrival, the host's inventory commitment, each side's
commitment to and reveal of its sample value, the seed and the sample, the
steps, the openings and findings, the report's hash and who has signed it,
and every message of the visit. Both pages are ``data-live`` regions, so
the other side's step appears without a reload.

Operators who may send see a form for each step this party may take next
(:func:`.visitforms.next_steps`): request a visit, commit to and reveal
the sample value, record a step, open the sample (the host), record the
findings (the inspectors), sign the report, refuse or call the visit off.
The node checks each before signing; its refusal (beyond the quota, with
the quota's state; a step out of order) is shown on the page and nothing
is sent. A button carries a key of the step it takes and a form with text
a one-time key, so a double submission sends once.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from detente.api.peer import MAX_SEQ
from detente.console.hotline import keyed, wake
from detente.console.i18n import translations
from detente.console.lineforms import field_for, parse_utc
from detente.console.visitforms import (
    OVER,
    STEPS,
    findings_from_form,
    next_steps,
    reason_from_form,
    request_from_form,
)
from detente.console.web import current_session, read_form, render
from detente.errors import ConflictError, InputError, VerificationError
from detente.measures.inspections import Inspection
from detente.node.directory import Node
from detente.node.inspections import find_visit, inspections_state, quota_states
from detente.node.operators import require
from detente.node.sessions import Session
from detente.node.visits import (
    cancel_visit,
    commit_sample,
    open_sample,
    record_findings,
    record_step,
    refuse_visit,
    request_visit,
    reveal_sample,
    sign_report,
)

__all__ = ["router"]

router = APIRouter(prefix="/console/inspections", include_in_schema=False)

SessionDep = Annotated[Session, Depends(current_session)]
Party = Annotated[str, Path(max_length=64, pattern=r"^[a-z][a-z0-9_-]{0,63}$")]
Seq = Annotated[int, Path(ge=0, le=MAX_SEQ)]

_REQUEST_FIELDS = ("inspection_type", "site", "arrival", "team_size")
#: What a redirect after a step tells the page to say (the template words it).
DONE = frozenset({"requested", "commit", "reveal", *STEPS, "open", "findings", "report"})
DONE |= {"refuse", "cancel"}
_UNTYPED = ("commit", "reveal", "open", "report", *STEPS)


def _node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


def _requestable(node: Node) -> list[str]:
    """The inspection types this party may request."""
    return sorted(
        kind.id
        for kind in node.agreement.inspection_types.values()
        if node.party in kind.inspecting or "*" in kind.inspecting
    )


def _minute(node: Node, hours: float = 0) -> str:
    """The node's time plus ``hours``, as a ``datetime-local`` input takes it (UTC)."""
    moment = node.clock() + timedelta(hours=hours)
    return moment.strftime("%Y-%m-%dT%H:%M")


def _said(request: Request) -> str:
    said = request.query_params.get("done", "")
    return said if said in DONE else ""


def list_page(
    request: Request,
    session: Session,
    *,
    values: Mapping[str, list[str]] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The inspections page; after a refused request, the form with its values and errors."""
    node = _node(request)
    visits = inspections_state(node)
    types = _requestable(node)
    notice = max((node.agreement.inspection_types[t].notice_hours or 0 for t in types), default=0)
    values = values or {}
    return render(
        request,
        "inspections.html",
        session=session,
        status=status,
        visits=sorted(visits, key=lambda v: v.requested_at, reverse=True),
        quotas=quota_states(node, visits),
        kinds=node.agreement.inspection_types,
        types=types,
        sites=sorted(node.agreement.sites),
        values=values,
        errors=errors or {},
        nonce=(values.get("nonce") or [secrets.token_urlsafe(16)])[0][:64],
        arrival=_minute(node, notice + 1),
        over=OVER,
        done=_said(request),
        done_ref=request.query_params.get("ref", "")[:80],
    )


def visit_page(
    request: Request,
    session: Session,
    visit: Inspection,
    *,
    failed: str | None = None,
    values: Mapping[str, list[str]] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    """One visit; after a refused step, its form with the values and the node's error."""
    node = _node(request)
    values = values or {}
    openings = {o.index: o.record for o in visit.openings}
    return render(
        request,
        "inspection.html",
        session=session,
        status=status,
        visit=visit,
        kind=node.agreement.inspection_types.get(visit.inspection_type),
        site=node.agreement.sites.get(visit.site),
        steps=next_steps(visit, node.party),
        step_names=STEPS,
        digest=visit.report_sha256(),
        openings=openings,
        path_of=_path,
        failed=failed,
        values=values,
        errors=errors or {},
        nonce=(values.get("nonce") or [secrets.token_urlsafe(16)])[0][:64],
        now=_minute(node),
        done=_said(request),
    )


def _path(ref: str) -> str:
    party, _, seq = ref.partition(":")
    return f"{party}/{seq}"


@router.get("")
def inspections(request: Request, session: SessionDep) -> Response:
    """Every visit this node's logs give, and the quotas."""
    return list_page(request, session)


@router.post("/request")
async def ask(request: Request, session: SessionDep) -> Response:
    """Request a visit; the node's refusal (beyond quota, a wrong site) beside its field."""
    form = await read_form(request, session)
    require(session.operator, send=True)
    node = _node(request)
    arguments, errors = request_from_form(
        form, types=_requestable(node), gettext=translations(session.language).gettext
    )
    nonce = (form.get("nonce") or [""])[0][:64] or secrets.token_urlsafe(16)
    if not errors:
        action = keyed(node, session, request_visit, key=f"console:{nonce}", **arguments)
        try:
            result = await run_in_threadpool(action)
        except (InputError, VerificationError) as e:
            errors = {field_for(str(e), _REQUEST_FIELDS): str(e)}
        else:
            wake(request, result)
            target = f"/console/inspections/{_path(result.envelopes[0].position)}?done=requested"
            return RedirectResponse(target, status_code=303)
    status = 409 if "beyond quota" in " ".join(errors.values()) else 422
    return list_page(request, session, values=form, errors=errors, status=status)


@router.get("/{party}/{seq}")
def visit(request: Request, session: SessionDep, party: Party, seq: Seq) -> Response:
    """One visit as this node's logs give it."""
    return visit_page(request, session, find_visit(_node(request), f"{party}:{seq}"))


@router.post("/{party}/{seq}/{step}")
async def take_step(
    request: Request, session: SessionDep, party: Party, seq: Seq, step: str
) -> Response:
    """Take one step of the visit ``party:seq``; the node's refusal shown, nothing sent."""
    form = await read_form(request, session)
    require(session.operator, send=True)
    if step not in DONE - {"requested"}:
        raise InputError(f"step: not a step of a visit: {step[:32]}")
    node = _node(request)
    ref = f"{party}:{seq}"
    current = await run_in_threadpool(find_visit, node, ref)
    gettext = translations(session.language).gettext
    nonce = (form.get("nonce") or [""])[0][:64] or secrets.token_urlsafe(16)
    arguments: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if step in STEPS:
        at = parse_utc((form.get("at") or [""])[0])
        if at is None:
            errors["at"] = gettext("A date and time in UTC, such as 2026-03-01T11:40.")
        arguments = {"step": step, "at": at}
    elif step == "findings":
        arguments["observed"], errors = findings_from_form(
            form, sample=current.sample, gettext=gettext
        )
    elif step in ("refuse", "cancel"):
        arguments["reason"], errors = reason_from_form(form, gettext)
    if not errors:
        key = f"console:visit:{ref}:{step}" if step in _UNTYPED else f"console:{nonce}"
        if step == "report":
            key += f":{current.report_sha256()}"
        action = keyed(node, session, _ACTIONS[step], ref, key=key, **arguments)
        try:
            result = await run_in_threadpool(action)
        except (InputError, VerificationError) as e:
            errors = {"_form": str(e)}
            status = 409 if isinstance(e, ConflictError) else 422
        else:
            wake(request, result)
            target = f"/console/inspections/{_path(ref)}?done={step}#visit-state"
            return RedirectResponse(target, status_code=303)
    else:
        status = 422
    current = await run_in_threadpool(find_visit, node, ref)
    return visit_page(
        request, session, current, failed=step, values=form, errors=errors, status=status
    )


_ACTIONS: dict[str, Any] = {
    "commit": commit_sample,
    "reveal": reveal_sample,
    "open": open_sample,
    "findings": record_findings,
    "report": sign_report,
    "refuse": refuse_visit,
    "cancel": cancel_visit,
    **dict.fromkeys(STEPS, record_step),
}
