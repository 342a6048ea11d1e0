"""The map and close-approach screening: tracks, zones, sites and alerts, live.

``GET /console/map`` draws the agreement's zones and sites on the base map
(:mod:`.basemap`) and, over them, the picture the node's screening holds
(:class:`~detente.node.tracks.TrackService`, :mod:`.trackmap`): every unit
where it is now, heading and five minutes ahead, and every raised alert
between its two units with the predicted point of closest approach. Below
the map, the units and the alerts as tables; an alert's drafted incident
report is sent (with an account of the operator's own, if typed) or
dismissed from its row. ``GET /console/tracks/alerts/{id}`` shows one
alert: its geometry and thresholds, the two reports behind it, its
events, and the incident report exactly as it would be sent.

Live: the pages count the track picture's version in their snapshot
(:func:`detente.console.web.shows_tracks`), so a report or an alert event
refreshes them; units move without reports, so the map's picture and the
units table also refresh every :data:`REFRESH_SECONDS` while units are
held (``data-live-every``, read by ``console.js``).

Sending and dismissing go through the functions behind
``/v1/tracks/alerts/{id}/send`` and ``/dismiss``; a draft is decided once
(:func:`~detente.node.tracks.send_alert` claims it), so a double click, or
a second officer, sends one report and is told it was decided already.
Operators who may send see the buttons; viewers read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from detente.agreement.hotline import INCIDENT_REPORT_TYPE
from detente.console.basemap import marker_scale, render_map
from detente.console.hotline import wake
from detente.console.i18n import translations
from detente.console.trackmap import VECTOR_SECONDS, approach, render_tracks
from detente.console.web import current_session, read_form, render
from detente.errors import ConflictError, DetenteError, InputError, NotFoundError
from detente.node.directory import Node
from detente.node.operators import require
from detente.node.releases import needs_release
from detente.node.sessions import Session
from detente.node.tracks import (
    TrackService,
    dismiss_alert,
    draft_incident,
    get_alert,
    list_alerts,
    send_alert,
)
from detente.record.envelope import format_time

__all__ = ["REFRESH_SECONDS", "router"]

router = APIRouter(prefix="/console", include_in_schema=False)

SessionDep = Annotated[Session, Depends(current_session)]
AlertId = Annotated[int, Path(ge=1, le=2**53)]

#: Seconds between refreshes of the moving picture while units are held.
REFRESH_SECONDS: Final = 5.0
#: Units drawn and listed at most (the picture may hold many more).
MAX_SHOWN: Final = 1000
#: Cleared alerts listed below the raised ones, newest first.
RECENT_CLEARED: Final = 20
#: Longest account an operator may type (as ``POST /v1/tracks/alerts/{id}/send``).
MAX_ACCOUNT: Final = 20_000
_DONE: Final = frozenset({"sent", "proposed", "dismissed", "already"})


def _node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


def _service(request: Request) -> TrackService | None:
    service: TrackService | None = getattr(request.app.state, "tracks", None)
    return service


def _span(seconds: float) -> str:
    """A span as the console's countdowns show it: ``0:07``, ``4:59``, ``1:02:03``."""
    total = int(abs(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _knots(speed_mps: float) -> float:
    return speed_mps * 3600.0 / 1852.0


def _with_approach(alert: dict[str, Any]) -> dict[str, Any]:
    """The alert with its predicted closest approach (``cpa``), for the templates."""
    return {**alert, "cpa": approach(alert)}


def _notice(request: Request, node: Node) -> tuple[str, dict[str, Any] | None]:
    """What a redirect after sending or dismissing asks the page to say, and of which alert."""
    said = request.query_params.get("done", "")
    number = request.query_params.get("alert", "")
    if said not in _DONE or not number.isdigit() or len(number) > 15:
        return "", None
    try:
        return said, get_alert(node, int(number), events=False)
    except NotFoundError:
        return "", None


def _recipients(node: Node, drafted: Mapping[str, Any]) -> list[str]:
    """Whom the report goes to: the other parties of the pair, else every party peer.

    As :func:`detente.node.tracks.send_alert` addresses it.
    """
    to = list(drafted["to"])
    return to or sorted(p.party for p in node.config.peers if not p.witness)


def _common(now: datetime) -> dict[str, Any]:
    return {"rfc3339": format_time, "span": _span, "knots": _knots, "now": now}


@router.get("/map")
def map_page(request: Request, session: SessionDep) -> Response:
    """Zones, sites, units and raised alerts on the offline base map; units and alerts listed."""
    node = _node(request)
    service = _service(request)
    gettext = translations(session.language).gettext
    now = node.clock()
    units = service.units(now) if service is not None else []
    raised = [_with_approach(a) for a in list_alerts(node, state="raised")]
    cleared = [_with_approach(a) for a in list_alerts(node, state="cleared", limit=RECENT_CLEARED)]
    overlay = None
    if service is not None:
        overlay = render_tracks(
            units[:MAX_SHOWN],
            raised,
            scale=marker_scale(node.agreement),
            now=now,
            parties={p.id: p.name for p in node.agreement.parties},
            every=REFRESH_SECONDS if units else 0.0,
            gettext=gettext,
        )
    done, noticed = _notice(request, node)
    return render(
        request,
        "map.html",
        session=session,
        svg=render_map(
            node.agreement,
            label=gettext("Map of the agreement's sites and zones, with units and alerts")
            if service is not None
            else gettext("Map of the agreement's sites and zones"),
            described_by="map-help",
            overlay=overlay,
        ),
        sites=sorted(node.agreement.sites.values(), key=lambda s: s.id),
        zones=sorted(node.agreement.zones.values(), key=lambda z: z.id),
        screening=service is not None,
        units=units[:MAX_SHOWN],
        total_units=len(units),
        alerts=raised + cleared,
        raised=len(raised),
        every=REFRESH_SECONDS if units else 0.0,
        vector_minutes=round(VECTOR_SECONDS / 60),
        done=done,
        noticed=noticed,
        **_common(now),
    )


@router.get("/tracks/alerts/{alert_id}")
def alert_page(request: Request, session: SessionDep, alert_id: AlertId) -> Response:
    """One alert: geometry, thresholds, the reports behind it, its events, its draft as sent."""
    node = _node(request)
    alert = _with_approach(get_alert(node, alert_id))
    incident: dict[str, Any] | None = None
    problem = ""
    try:
        incident = draft_incident(node, alert)
    except DetenteError as e:
        problem = str(e)
    message_type = node.agreement.message_types.get(INCIDENT_REPORT_TYPE)
    done, _ = _notice(request, node)
    return render(
        request,
        "track_alert.html",
        session=session,
        alert=alert,
        incident=incident,
        problem=problem,
        recipients=_recipients(node, incident) if incident is not None else [],
        priority=message_type.priority.value if message_type is not None else "",
        release=needs_release(node, INCIDENT_REPORT_TYPE),
        done=done,
        **_common(node.clock()),
    )


def _target(form: Mapping[str, list[str]], alert_id: int, said: str) -> str:
    """Back where the form was: the alert's page, or the map's table of alerts."""
    if (form.get("back") or [""])[0] == "alert":
        return f"/console/tracks/alerts/{alert_id}?done={said}&alert={alert_id}#draft"
    return f"/console/map?done={said}&alert={alert_id}#alerts"


def _decided(node: Node, alert_id: int) -> bool:
    return bool(get_alert(node, alert_id, events=False)["draft"]["state"] != "open")


@router.post("/tracks/alerts/{alert_id}/send")
async def send(request: Request, session: SessionDep, alert_id: AlertId) -> Response:
    """Sign and send the alert's drafted incident report (or propose it for release).

    An account typed in the form replaces the drafted one.
    """
    form = await read_form(request, session)
    require(session.operator, send=True)
    node = _node(request)
    account = (form.get("account") or [""])[0].strip()
    if len(account) > MAX_ACCOUNT:
        raise InputError(f"account: at most {MAX_ACCOUNT} characters")
    try:
        _, result = await run_in_threadpool(
            send_alert, node, alert_id, by=session.operator, account=account or None
        )
    except ConflictError:
        if not await run_in_threadpool(_decided, node, alert_id):
            raise  # not decided already: the reports behind it are not both held
        return RedirectResponse(_target(form, alert_id, "already"), status_code=303)
    if result is None:
        return RedirectResponse(_target(form, alert_id, "proposed"), status_code=303)
    wake(request, result)
    return RedirectResponse(_target(form, alert_id, "sent"), status_code=303)


@router.post("/tracks/alerts/{alert_id}/dismiss")
async def dismiss(request: Request, session: SessionDep, alert_id: AlertId) -> Response:
    """Dismiss the alert's draft: no incident report is sent for it."""
    form = await read_form(request, session)
    require(session.operator, send=True)
    node = _node(request)
    try:
        await run_in_threadpool(dismiss_alert, node, alert_id, by=session.operator.name)
    except ConflictError:
        return RedirectResponse(_target(form, alert_id, "already"), status_code=303)
    return RedirectResponse(_target(form, alert_id, "dismissed"), status_code=303)
