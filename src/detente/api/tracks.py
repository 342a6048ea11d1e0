"""Operator endpoints for close-approach screening: reports in, the picture, alerts.

``POST /v1/tracks/reports`` takes reports in the JSON-lines schema (one a
line, or a JSON array of them), each checked on its own: a bad one is
refused with its line and reason and counted in the quarantine, the rest
are screened. ``GET /v1/tracks`` is the picture the console's map draws.
An alert's drafted incident report is sent or dismissed here.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from detente.api.deps import MAX_OPERATOR_BODY, CurrentNode, OperatorAuth, read_limited
from detente.api.messages import sent, wake_sender
from detente.errors import ConflictError, InputError
from detente.node.operators import require
from detente.node.tracks import (
    TrackService,
    dismiss_alert,
    draft_incident,
    get_alert,
    list_alerts,
    recompute_incident,
    send_alert,
)
from detente.tracks.quarantine import Rejection
from detente.tracks.report import MAX_LINE_BYTES, ReportError, parse_json_report

__all__ = ["router"]

router = APIRouter(prefix="/v1/tracks", tags=["operator"])

#: Most reports one request may carry.
MAX_REPORTS = 5000


class SendIn(BaseModel):
    """Sending an alert's draft: optionally, an account of one's own."""

    model_config = ConfigDict(extra="forbid")
    account: str | None = Field(default=None, min_length=1, max_length=20000)
    exercise: bool = False


def _service(request: Request) -> TrackService:
    service = getattr(request.app.state, "tracks", None)
    if service is None:
        raise ConflictError(
            "screening is off on this node: its agreement sets no incident_thresholds, "
            "or it is a witness"
        )
    return service  # type: ignore[no-any-return]


@router.get("")
def picture(request: Request, node: CurrentNode, operator: OperatorAuth) -> dict[str, Any]:
    """Every unit held (its latest report and where it is now), the raised alerts,
    the feeds and the quarantine."""
    service = _service(request)
    return {
        "at": node.clock().isoformat().replace("+00:00", "Z"),
        "units": service.units(),
        "alerts": list_alerts(node, state="raised"),
        "feeds": service.feed_status(),
        "quarantine": service.quarantine_json(limit=20),
    }


def _lines(raw: bytes) -> list[tuple[int, bytes]]:
    text = raw.lstrip()
    if text.startswith(b"["):
        try:
            items = json.loads(raw)
        except RecursionError:
            raise InputError("reports: nested too deeply") from None
        except ValueError as e:
            raise InputError(f"reports: not a JSON array ({e})") from e
        if not isinstance(items, list):
            raise InputError("reports: a JSON array of reports, or one report a line")
        return [(i + 1, json.dumps(item).encode()) for i, item in enumerate(items)]
    return [(i + 1, line) for i, line in enumerate(raw.splitlines()) if line.strip()]


@router.post("/reports")
async def post_reports(
    request: Request, node: CurrentNode, operator: OperatorAuth
) -> dict[str, Any]:
    """Screen reports: JSON lines, or a JSON array (at most 5,000 in one request).

    Each report is checked alone; the answer lists those refused with their
    line and reason, and the alert events the others caused."""
    require(operator, send=True)
    service = _service(request)
    raw = await read_limited(request, MAX_OPERATOR_BODY)
    lines = _lines(raw)
    if len(lines) > MAX_REPORTS:
        raise InputError(f"reports: {len(lines)} in one request (at most {MAX_REPORTS})")
    source = f"api:{operator.name}"

    def work() -> dict[str, Any]:
        accepted, rejected, events = 0, [], []
        received = node.clock()
        for number, line in lines:
            try:
                if len(line) > MAX_LINE_BYTES:
                    raise ReportError("too_long", f"longer than {MAX_LINE_BYTES} bytes")
                report = parse_json_report(line, source=source, received=received)
                events += service.submit(report)
                accepted += 1
            except ReportError as e:
                rejected.append({"line": number, "reason": e.reason, "detail": e.detail})
                service.submit_rejected(
                    Rejection.of(
                        source=source,
                        line=number,
                        reason=e.reason,
                        detail=e.detail,
                        raw=line,
                        received=received,
                    )
                )
        return {
            "accepted": accepted,
            "rejected": rejected,
            "events": [
                {
                    "kind": e.kind.value,
                    "a": e.a,
                    "b": e.b,
                    "tcpa_s": e.tcpa_s,
                    "dcpa_m": e.dcpa_m,
                    "dalt_m": e.dalt_m,
                    "reason": e.reason or None,
                }
                for e in events
            ],
        }

    return await run_in_threadpool(work)


@router.get("/alerts")
def alerts(
    node: CurrentNode,
    operator: OperatorAuth,
    state: Annotated[str | None, Query(pattern="^(raised|cleared)$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    """Alerts, newest first, each with its geometry, the reports behind it and its draft."""
    return {"alerts": list_alerts(node, state=state, limit=limit)}


AlertId = Annotated[int, Path(ge=1, le=2**53)]


@router.get("/alerts/{alert_id}")
def alert(alert_id: AlertId, node: CurrentNode, operator: OperatorAuth) -> dict[str, Any]:
    """One alert, its events (each with the reports that caused it), and its draft."""
    found = get_alert(node, alert_id)
    found["incident"] = draft_incident(node, found) if len(found["tracks"]) == 2 else None
    return found


@router.post("/alerts/{alert_id}/send", status_code=201)
async def send(
    alert_id: AlertId, request: Request, node: CurrentNode, operator: OperatorAuth
) -> dict[str, Any]:
    """Send the alert's drafted incident report (409 if sent or dismissed already)."""
    require(operator, send=True)
    raw = await read_limited(request, MAX_OPERATOR_BODY)
    try:
        given = SendIn.model_validate_json(raw or b"{}")
    except ValueError as e:
        raise InputError(f"send: {str(e).splitlines()[0]}") from e
    found, result = await run_in_threadpool(
        lambda: send_alert(
            node, alert_id, by=operator, account=given.account, exercise=given.exercise
        )
    )
    if result is None:
        return {"alert": found, "message": None}
    wake_sender(request, result)
    return {"alert": found, "message": sent(result)}


@router.post("/alerts/{alert_id}/dismiss")
async def dismiss(alert_id: AlertId, node: CurrentNode, operator: OperatorAuth) -> dict[str, Any]:
    """Dismiss the alert's draft: no incident report for it (409 if decided already)."""
    require(operator, send=True)
    return await run_in_threadpool(lambda: dismiss_alert(node, alert_id, by=operator.name))


@router.get("/quarantine")
def quarantine(
    request: Request,
    operator: OperatorAuth,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Input refused by the feeds and the API: counts by reason and the newest refusals."""
    return _service(request).quarantine_json(limit=limit)


@router.get("/recompute/{party}/{seq}")
def recompute(
    party: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_-]{0,63}$")],
    seq: Annotated[int, Path(ge=0, le=2**53)],
    node: CurrentNode,
    operator: OperatorAuth,
) -> dict[str, Any]:
    """Recompute the close approach an incident report carries, from its reports alone."""
    return recompute_incident(node, f"{party}:{seq}")
