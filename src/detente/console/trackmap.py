"""The live picture on the map: units, where they are heading, close approaches (pure).

:func:`render_tracks` gives the ``<g class="tracks">`` layer that
:func:`detente.console.basemap.render_map` lays over the sites. Each unit
is drawn where it is now (moved on from its report at constant velocity,
as screening moves it), as a marker shaped by its kind (an aircraft, or a
hull for ships and other units, which screening treats as ships), turned
to its course and coloured by its party (classes: the page's
Content-Security-Policy forbids ``style``), with a line to where it will
be in :data:`VECTOR_SECONDS` and its id beside it. Each raised alert is a
line between its two units, the path each follows to the closest
approach, and a marker at the predicted point of closest approach: the
midpoint of the two units then, as the drafted incident report gives it
(:func:`approach`). A line that crosses the antimeridian is unwrapped and
drawn with its copy a world-width away, as zones are
(:mod:`detente.console._antimeridian`); the map clips both to the world.

Report text (unit ids, party ids) is escaped here like agreement text.

Example:
    >>> unit = {"id": "366999001", "party": "us", "time": "2026-03-01T12:00:00Z",
    ...         "lat": 55.5, "lon": 18.9, "course_deg": 90.0, "speed_mps": 10.0,
    ...         "kind": "ship", "now": {"lat": 55.5, "lon": 18.9}}
    >>> svg = str(render_tracks([unit], [], scale=0.5))
    >>> svg.startswith('<g class="tracks"'), 'data-unit="366999001"' in svg
    (True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import numpy as np
from markupsafe import Markup

from detente.console._antimeridian import unwrap, world_copies
from detente.console.projection import WORLD_WIDTH, project
from detente.errors import DetenteError
from detente.record.envelope import parse_time
from detente.tracks import geodesy
from detente.tracks.recompute import predicted_positions, track_from_json
from detente.tracks.report import TrackReport

__all__ = ["VECTOR_SECONDS", "Approach", "ahead", "approach", "render_tracks"]

#: How far ahead a unit's vector reaches: where it will be in five minutes.
VECTOR_SECONDS: Final = 300.0
#: Pointing north (up) at one pixel a unit; turned to the course, scaled by map.js.
_HULL: Final = "M0-9L5-2V7H-5V-2Z"
_AIRCRAFT: Final = "M0-10L2-3 9 2V4L2 2 1.5 7 4 9V10L0 9-4 10V9L-1.5 7-2 2-9 4V2L-2-3Z"
_KINDS: Final = frozenset({"ship", "aircraft", "other"})

LatLon = tuple[float, float]
Gettext = Callable[[str], str]


def _same(message: str) -> str:
    return message


@dataclass(frozen=True)
class Approach:
    """An alert's predicted closest approach: when, where each unit is, and their midpoint."""

    at: datetime
    positions: tuple[LatLon, LatLon]
    midpoint: LatLon


def _reports(tracks: Sequence[Mapping[str, Any]]) -> list[TrackReport]:
    return [track_from_json(t, f"tracks[{i}]") for i, t in enumerate(tracks)]


def _midpoint(a: LatLon, b: LatLon) -> LatLon:
    mid = geodesy.ecef(np.array([a[0], b[0]]), np.array([a[1], b[1]])).mean(axis=0)
    lat, lon = geodesy.to_latlon(mid[None, :])
    return float(lat[0]), float(lon[0])


def approach(alert: Mapping[str, Any]) -> Approach | None:
    """Where an alert's two units are predicted to be closest, from the reports behind it.

    The instant is the alert's ``updated_at`` plus ``tcpa_s``; the point
    the midpoint of the two units then (as :func:`detente.node.tracks.draft_incident`
    puts in the incident report). None when the alert does not hold both
    reports or its geometry.
    """
    tracks = alert.get("tracks") or []
    if len(tracks) != 2 or alert.get("tcpa_s") is None or not alert.get("updated_at"):
        return None
    try:
        reports = _reports(tracks)
        at = parse_time(str(alert["updated_at"])) + timedelta(seconds=float(alert["tcpa_s"]))
    except (DetenteError, ValueError):
        return None
    a, b = predicted_positions(reports, at)
    return Approach(at=at, positions=(a, b), midpoint=_midpoint(a, b))


def ahead(units: Sequence[Mapping[str, Any]], at: datetime) -> list[LatLon]:
    """Where each unit (as :meth:`TrackService.units` lists it) will be at ``at``."""
    if not units:
        return []
    return predicted_positions(_reports(units), at)


def _line(points: Sequence[LatLon]) -> str:
    """Path data of a (lat, lon) line, unwrapped across 180° and copied to show past it.

    To a hundredth of a unit (about 100 m), finer than the base map's
    tenth: at the closest zoom two ships a few hundred metres apart are
    still drawn where they are, and the line ends on their markers.
    """
    unwrapped = unwrap([(lon, lat) for lat, lon in points])
    projected = [project(lon, lat) for lon, lat in unwrapped]
    return "".join(
        "M" + "L".join(f"{x:.2f} {y:.2f}" for x, y in ring)
        for copy in world_copies([projected], WORLD_WIDTH)
        for ring in copy
    )


def _now(unit: Mapping[str, Any]) -> LatLon:
    here = unit.get("now") or unit
    return float(here["lat"]), float(here["lon"])


def _kind(unit: Mapping[str, Any]) -> str:
    kind = str(unit.get("kind", "other"))
    return kind if kind in _KINDS else "other"


def _unit(unit: Mapping[str, Any], scale: float, party_name: str, gettext: Gettext) -> Markup:
    lat, lon = _now(unit)
    x, y = project(lon, lat)
    kind = _kind(unit)
    title = gettext("%(id)s (%(party)s): course %(course)s°, %(speed)s m/s") % {
        "id": unit["id"],
        "party": party_name,
        "course": f"{float(unit['course_deg']):.0f}",
        "speed": f"{float(unit['speed_mps']):.1f}",
    }
    return Markup(
        '<g class="unit unit-{party} kind-{kind}" data-unit="{id}" data-party="{party}"'
        ' data-kind="{kind}" transform="translate({x:.2f} {y:.2f})"><title>{title}</title>'
        '<g class="glyph" transform="scale({scale:.4g})">'
        '<path class="hull" transform="rotate({course:.0f})" d="{shape}"/>'
        '<text x="10" y="4">{id}</text></g></g>'
    ).format(
        party=unit["party"],
        kind=kind,
        id=unit["id"],
        x=x,
        y=y,
        title=title,
        scale=scale,
        course=float(unit["course_deg"]),
        shape=_AIRCRAFT if kind == "aircraft" else _HULL,
    )


def _alert(
    alert: Mapping[str, Any],
    where: Mapping[str, LatLon],
    now: datetime | None,
    scale: float,
    gettext: Gettext,
) -> Markup:
    cpa = approach(alert)
    if cpa is None:
        return Markup()
    # The line joins the markers: each unit where the map draws it now (a unit
    # the picture no longer holds, where its report behind the alert puts it).
    tracks = alert["tracks"]
    held = ahead(tracks, now) if now is not None else [_now(t) for t in tracks]
    ends = [
        where.get(str(track["id"]), fallback) for track, fallback in zip(tracks, held, strict=True)
    ]
    x, y = project(cpa.midpoint[1], cpa.midpoint[0])
    title = gettext("Alert %(id)s: %(a)s and %(b)s to %(dcpa)s m at the closest approach") % {
        "id": alert["id"],
        "a": alert["a"],
        "b": alert["b"],
        "dcpa": f"{float(alert['dcpa_m']):.0f}",
    }
    return Markup(
        '<g class="alert alert-{domain}" data-alert="{id}"><title>{title}</title>'
        '<path class="alert-line" d="{line}"/>'
        '<path class="alert-path" d="{path_a}"/><path class="alert-path" d="{path_b}"/>'
        '<g class="cpa" transform="translate({x:.2f} {y:.2f})">'
        '<g class="glyph" transform="scale({scale:.4g})"><circle r="7"/>'
        '<path d="M-5-5 5 5M-5 5 5-5"/></g></g></g>'
    ).format(
        domain="air" if alert.get("domain") == "air" else "sea",
        id=alert["id"],
        title=title,
        line=_line(ends),
        path_a=_line([ends[0], cpa.positions[0]]),
        path_b=_line([ends[1], cpa.positions[1]]),
        x=x,
        y=y,
        scale=scale,
    )


def render_tracks(
    units: Sequence[Mapping[str, Any]],
    alerts: Sequence[Mapping[str, Any]],
    *,
    scale: float,
    now: datetime | None = None,
    parties: Mapping[str, str] | None = None,
    every: float = 0.0,
    gettext: Gettext = _same,
) -> Markup:
    """The layer of units and raised alerts, as one ``<g>`` the console refreshes live.

    Args:
        units: As :meth:`detente.node.tracks.TrackService.units` gives them
            (each with its position ``now``).
        alerts: As :func:`detente.node.tracks.list_alerts` gives them; those
            not raised are left out.
        scale: The markers' scale at the map's first view
            (:func:`detente.console.basemap.marker_scale`).
        now: The instant of ``units``' positions, for the vectors; without
            it, no vector is drawn.
        parties: Party names by id, for the markers' titles.
        every: Seconds between the live refreshes of the layer (0: none);
            ``console.js`` reads it from ``data-live-every``.
        gettext: Translates the titles into the operator's language.
    """
    names = parties or {}
    vectors = Markup()
    if now is not None and units:
        later = ahead(units, now + timedelta(seconds=VECTOR_SECONDS))
        vectors = Markup().join(
            Markup('<path class="vector vector-{}" d="{}"/>').format(
                u["party"], _line([_now(u), p])
            )
            for u, p in zip(units, later, strict=True)
        )
    where = {str(u["id"]): _now(u) for u in units}
    raised = Markup().join(
        _alert(a, where, now, scale, gettext) for a in alerts if a.get("state") == "raised"
    )
    drawn = Markup().join(
        _unit(u, scale, names.get(str(u["party"]), str(u["party"])), gettext) for u in units
    )
    return Markup(
        '<g class="tracks" data-live="map-tracks" data-live-every="{every:g}">'
        '<g class="lines" clip-path="url(#map-world)">{vectors}{raised}</g>'
        '<g class="units">{drawn}</g></g>'
    ).format(every=every, vectors=vectors, raised=raised, drawn=drawn)
