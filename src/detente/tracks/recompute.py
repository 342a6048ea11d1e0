"""Recomputing a close-approach call from the reports behind it.

An incident report drafted from an alert carries a ``screening`` object
(the ``incident-report`` schema of ``incsea-1972``): the two units' reports
as the reporting node received them, the instant it screened, its
thresholds and the geometry it predicted. :func:`recompute` runs the same
screening on those reports alone, so the other side can check the call
with nothing but the message: same instant, same motion model, same
thresholds.

Example:
    >>> screening = {
    ...     "at": "2026-03-01T12:00:00Z", "tcpa_s": 640.0, "dcpa_m": 0.0,
    ...     "thresholds": {"horizontal_m": 2000, "horizon_s": 1200},
    ...     "tracks": [
    ...         {"id": "a", "party": "us", "time": "2026-03-01T12:00:00Z", "lat": 55.0,
    ...          "lon": 19.0, "course_deg": 90, "speed_mps": 10},
    ...         {"id": "b", "party": "ru", "time": "2026-03-01T12:00:00Z", "lat": 55.0,
    ...          "lon": 19.2, "course_deg": 270, "speed_mps": 10}]}
    >>> r = recompute(screening)
    >>> round(r.tcpa_s), round(r.dcpa_m), r.alert, r.agrees
    (640, 0, True, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import numpy as np

from detente.errors import BodyError
from detente.tracks import geodesy
from detente.tracks.report import ReportError, TrackReport, check_id, check_values, parse_time
from detente.tracks.screen import approach

__all__ = [
    "Recomputed",
    "cpa_instant",
    "predicted_positions",
    "recompute",
    "track_from_json",
    "track_json",
]

#: How far a recomputed distance may be from the one reported and still agree: the
#: accuracy screening promises (0.5 %), or a metre for distances near zero.
_AGREE_SHARE: Final = 0.005
_AGREE_M: Final = 1.0
#: And the instant of closest approach, seconds.
_AGREE_S: Final = 2.0
#: The longest horizon recomputed (an agreement's own limit, a day): a peer's message
#: must not buy unbounded work.
MAX_HORIZON_S: Final = 86_400.0
#: How far a track's time may be from the instant screened (an hour: a node refuses
#: reports older than its max_age, 6 minutes by default).
MAX_AGE_S: Final = 3_600.0


@dataclass(frozen=True)
class Recomputed:
    """The geometry recomputed, and whether it agrees with what was reported."""

    tcpa_s: float
    dcpa_m: float
    dalt_m: float | None
    alert: bool
    agrees: bool

    def to_json(self) -> dict[str, Any]:
        """As the API and the console show it."""
        return {
            "tcpa_s": self.tcpa_s,
            "dcpa_m": self.dcpa_m,
            "dalt_m": self.dalt_m,
            "alert": self.alert,
            "agrees": self.agrees,
        }


def track_json(report: TrackReport) -> dict[str, Any]:
    """A report as a screening object carries it."""
    return report.to_json()


def track_from_json(value: Any, where: str) -> TrackReport:
    """A track of a screening object, checked as a report is.

    Raises:
        BodyError: naming the field at fault.
    """
    if not isinstance(value, Mapping):
        raise BodyError(f"{where}: a track is an object")
    try:
        unit = check_id(value.get("id"), f"{where}.id")
        time = parse_time(value.get("time"), f"{where}.time")
        numbers = {}
        for name in ("lat", "lon", "course_deg", "speed_mps"):
            v = value.get(name)
            if isinstance(v, bool) or not isinstance(v, int | float) or abs(v) > 1e6:
                raise ReportError("bad_field", f"{where}.{name} is not a usable number")
            numbers[name] = float(v)
        alt = value.get("alt_m")
        if alt is not None and (
            isinstance(alt, bool) or not isinstance(alt, int | float) or abs(alt) > 1e6
        ):
            raise ReportError("bad_field", f"{where}.alt_m is not a number")
        check_values(alt_m=None if alt is None else float(alt), **numbers)
    except ReportError as e:
        raise BodyError(f"{where}: {e.detail}") from e
    return TrackReport(
        id=unit,
        party=str(value.get("party", "")),
        time=time,
        lat=numbers["lat"],
        lon=numbers["lon"],
        course_deg=numbers["course_deg"],
        speed_mps=numbers["speed_mps"],
        alt_m=None if alt is None else float(alt),
        kind=str(value.get("kind", "other")),
        name=str(value.get("name", ""))[:200],
    )


def _state(reports: Sequence[TrackReport], at: datetime) -> tuple[np.ndarray, np.ndarray]:
    lat = np.array([r.lat for r in reports])
    lon = np.array([r.lon for r in reports])
    pos = geodesy.ecef(lat, lon)
    vel = geodesy.velocity(
        lat,
        lon,
        np.array([r.course_deg for r in reports]),
        np.array([r.speed_mps for r in reports]),
    )
    age = np.array([(at - r.time).total_seconds() for r in reports])
    if np.any(age != 0):
        pos, vel = geodesy.advance(pos, vel, age)
    return pos, vel


def predicted_positions(reports: Sequence[TrackReport], at: datetime) -> list[tuple[float, float]]:
    """Where each unit is at ``at``, moved at constant velocity from its report: (lat, lon)."""
    pos, _ = _state(reports, at)
    lat, lon = geodesy.to_latlon(pos)
    return [(float(a), float(o)) for a, o in zip(lat.tolist(), lon.tolist(), strict=True)]


def recompute(screening: Mapping[str, Any]) -> Recomputed:
    """Screen the pair in ``screening`` again and compare with what it reports.

    Raises:
        BodyError: the object lacks what a recomputation needs, naming the field.
    """
    if "at" not in screening:
        raise BodyError("screening.at is missing")
    try:
        at = parse_time(screening.get("at"), "screening.at")
    except ReportError as e:
        raise BodyError(e.detail) from None
    tracks = screening.get("tracks")
    if not isinstance(tracks, Sequence) or len(tracks) != 2:
        raise BodyError("screening.tracks: two tracks are needed")
    reports = [track_from_json(t, f"screening.tracks[{i}]") for i, t in enumerate(tracks)]
    th = screening.get("thresholds")
    if not isinstance(th, Mapping):
        raise BodyError("screening.thresholds is missing")
    try:
        limit = float(th["horizontal_m"])
        horizon = float(th["horizon_s"])
        vertical = None if th.get("vertical_m") is None else float(th["vertical_m"])
    except (KeyError, TypeError, ValueError, OverflowError) as e:
        raise BodyError(f"screening.thresholds: {e}") from None
    if not (0 < limit <= 1e6 and 0 <= horizon <= MAX_HORIZON_S and math.isfinite(limit)):
        raise BodyError(
            "screening.thresholds: horizontal_m in (0, 1e6] and horizon_s in "
            f"[0, {MAX_HORIZON_S:g}] are needed"
        )
    for i, r in enumerate(reports):
        if abs((at - r.time).total_seconds()) > MAX_AGE_S:
            raise BodyError(
                f"screening.tracks[{i}].time is more than {MAX_AGE_S:g} s from screening.at: "
                "no node screens a report that old"
            )
    pos, vel = _state(reports, at)
    t, d, _ = approach(pos[:1], vel[:1], pos[1:], vel[1:], horizon_s=horizon, limit_m=limit)
    tcpa, dcpa = float(t[0]), float(d[0])
    a, b = reports
    dalt = None if a.alt_m is None or b.alt_m is None else abs(a.alt_m - b.alt_m)
    alert = dcpa < limit and (vertical is None or dalt is None or dalt < vertical * (1 - 1e-9))
    said_d, said_t = screening.get("dcpa_m"), screening.get("tcpa_s")
    agrees = (
        isinstance(said_d, int | float)
        and isinstance(said_t, int | float)
        and not isinstance(said_d, bool)
        and not isinstance(said_t, bool)
        and abs(float(said_d) - dcpa) <= max(_AGREE_SHARE * dcpa, _AGREE_M)
        and abs(float(said_t) - tcpa) <= _AGREE_S
    )
    return Recomputed(tcpa, dcpa, dalt, alert, agrees)


def cpa_instant(screening: Mapping[str, Any]) -> datetime:
    """The predicted instant of closest approach: ``at`` plus ``tcpa_s``."""
    return parse_time(screening["at"], "screening.at") + timedelta(
        seconds=float(screening["tcpa_s"])
    )
