"""One position report of one unit, and the JSON-lines format that carries them.

A :class:`TrackReport` is what every feed (AIS, ADS-B, JSON lines) turns
into: who (``id``, and the ``party`` the registry gives it), where and when
(WGS 84 degrees, an aware UTC time), how it moves (course over ground in
degrees true, speed in metres a second) and, for aircraft, the altitude in
metres. ``received`` and ``source`` say when and from where this node got
it, so a call can be traced to the bytes behind it.

The JSON-lines schema, one report a line (issue #9)::

    {"id": str, "party": str, "time": RFC 3339 UTC, "lat": deg, "lon": deg,
     "course_deg": deg true, "speed_mps": float, "alt_m": float or absent}

:func:`parse_json_report` checks one line against it and raises
:class:`ReportError` with a reason code and the field at fault; nothing
out of range (AIS's 91° and 181° "not available" included) gets through.

Example:
    >>> r = parse_json_report('{"id": "366999001", "party": "us", "time": "2026-03-01T12:00:00Z",'
    ...                       ' "lat": 55.1, "lon": 19.9, "course_deg": 90, "speed_mps": 7.5}')
    >>> r.id, r.alt_m, r.time.isoformat()
    ('366999001', None, '2026-03-01T12:00:00+00:00')
    >>> parse_json_report('{"id": "x", "party": "us", "time": "2026-03-01T12:00:00Z",'
    ...                   ' "lat": 91, "lon": 0, "course_deg": 0, "speed_mps": 0}')
    Traceback (most recent call last):
    ...
    detente.tracks.report.ReportError: out_of_range: lat 91 is not within [-90, 90]
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from detente.errors import InputError

__all__ = [
    "MAX_ALTITUDE_M",
    "MAX_LINE_BYTES",
    "MAX_SPEED_MPS",
    "ReportError",
    "TrackReport",
    "check_id",
    "check_values",
    "parse_json_report",
    "parse_time",
]

#: Longest line any feed may send (an NMEA sentence is 82 characters; a JSON report ~250).
MAX_LINE_BYTES: Final = 4096
#: Fastest unit believed (Mach 3 at altitude, ~1,000 m/s); faster is an error in the feed.
MAX_SPEED_MPS: Final = 1500.0
#: Highest altitude believed (the edge of the stratosphere and then some).
MAX_ALTITUDE_M: Final = 50_000.0
#: Lowest altitude believed (the Dead Sea shore is at -430 m; a feed's bad sign below this).
MIN_ALTITUDE_M: Final = -1_000.0

_ID: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$")
_PARTY: Final = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_FIELDS: Final = frozenset(
    {"id", "party", "time", "lat", "lon", "course_deg", "speed_mps", "alt_m"}
)


class ReportError(InputError):
    """A report that cannot be used, with a reason code for the quarantine.

    Attributes:
        reason: a short code (``bad_json``, ``missing_field``, ``bad_field``,
            ``out_of_range``, ``bad_id``, ``bad_time``, ``too_long`` …) by
            which quarantined input is counted.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class TrackReport:
    """One unit's position at one time, as a feed gave it."""

    id: str
    party: str
    time: datetime
    lat: float
    lon: float
    course_deg: float
    speed_mps: float
    alt_m: float | None = None
    kind: str = "other"
    received: datetime | None = None
    source: str = ""
    name: str = ""

    def to_json(self) -> dict[str, Any]:
        """The report in the JSON-lines schema, plus where it came from."""
        out: dict[str, Any] = {
            "id": self.id,
            "party": self.party,
            "time": _format(self.time),
            "lat": self.lat,
            "lon": self.lon,
            "course_deg": self.course_deg,
            "speed_mps": self.speed_mps,
        }
        if self.alt_m is not None:
            out["alt_m"] = self.alt_m
        if self.kind != "other":
            out["kind"] = self.kind
        if self.name:
            out["name"] = self.name
        if self.received is not None:
            out["received"] = _format(self.received)
        if self.source:
            out["source"] = self.source
        return out


def _format(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: object, field: str = "time") -> datetime:
    """An RFC 3339 time with a UTC offset of zero (``Z`` or ``+00:00``).

    Raises:
        ReportError: ``bad_time`` for anything else.
    """
    if not isinstance(text, str) or not re.fullmatch(
        r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d{1,9})?([Zz]|[+-]00:00)", text
    ):
        raise ReportError("bad_time", f"{field} {text!r} is not an RFC 3339 UTC time")
    digits = re.sub(r"(\.\d{6})\d+", r"\1", text.upper().replace("Z", "+00:00"))
    try:
        return datetime.fromisoformat(digits).astimezone(UTC)
    except ValueError as e:
        raise ReportError("bad_time", f"{field} {text!r}: {e}") from None


def check_values(
    *, lat: float, lon: float, course_deg: float, speed_mps: float, alt_m: float | None
) -> None:
    """Refuse a position, course, speed or altitude out of its range.

    Raises:
        ReportError: ``out_of_range`` naming the field and its bounds.
    """
    for name, value, lo, hi in (
        ("lat", lat, -90.0, 90.0),
        ("lon", lon, -180.0, 180.0),
        ("course_deg", course_deg, 0.0, 360.0),
        ("speed_mps", speed_mps, 0.0, MAX_SPEED_MPS),
    ):
        if not math.isfinite(value) or not lo <= value <= hi:
            raise ReportError("out_of_range", f"{name} {value:g} is not within [{lo:g}, {hi:g}]")
    if course_deg == 360.0:
        raise ReportError("out_of_range", "course_deg 360 is not within [0, 360)")
    if alt_m is not None and (
        not math.isfinite(alt_m) or not MIN_ALTITUDE_M <= alt_m <= MAX_ALTITUDE_M
    ):
        raise ReportError(
            "out_of_range",
            f"alt_m {alt_m:g} is not within [{MIN_ALTITUDE_M:g}, {MAX_ALTITUDE_M:g}]",
        )


def check_id(value: object, field: str = "id") -> str:
    """A unit identifier: 1 to 64 letters, digits and ``_ . : -``.

    Raises:
        ReportError: ``bad_id``.
    """
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ReportError("bad_id", f"{field} {value!r} is not 1-64 letters, digits or _.:-")
    return value


def _optional(obj: dict[str, Any], name: str) -> float | None:
    value = obj.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ReportError("bad_field", f"{name} {str(value)[:40]!r} is not a number")
    try:
        return float(value)
    except OverflowError:
        raise ReportError("bad_field", f"{name} is a number too large to use") from None


def _required(obj: dict[str, Any], name: str) -> float:
    value = _optional(obj, name)
    if value is None:
        raise ReportError("missing_field", f"{name} is missing")
    return value


def parse_json_report(
    line: str | bytes, *, source: str = "", received: datetime | None = None
) -> TrackReport:
    """One JSON-lines report, checked field by field.

    Raises:
        ReportError: with the reason code and the field at fault.
    """
    if len(line) > MAX_LINE_BYTES:
        raise ReportError("too_long", f"line of {len(line)} bytes (at most {MAX_LINE_BYTES})")
    try:
        obj = json.loads(line)
    except RecursionError:
        raise ReportError("bad_json", "nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise ReportError("bad_json", f"not JSON ({e})") from None
    if not isinstance(obj, dict):
        raise ReportError("bad_json", "a report is a JSON object")
    extra = sorted(set(obj) - _FIELDS)
    if extra:
        raise ReportError("bad_field", f"{extra[0]} is not a field of a report")
    for name in ("id", "party", "time"):
        if name not in obj:
            raise ReportError("missing_field", f"{name} is missing")
    unit = check_id(obj["id"])
    party = obj["party"]
    if not isinstance(party, str) or not _PARTY.fullmatch(party):
        raise ReportError("bad_field", f"party {party!r} is not a party id")
    time = parse_time(obj["time"])
    lat, lon = _required(obj, "lat"), _required(obj, "lon")
    course, speed = _required(obj, "course_deg"), _required(obj, "speed_mps")
    alt = _optional(obj, "alt_m")
    check_values(lat=lat, lon=lon, course_deg=course, speed_mps=speed, alt_m=alt)
    return TrackReport(
        id=unit,
        party=party,
        time=time,
        lat=lat,
        lon=lon,
        course_deg=course,
        speed_mps=speed,
        alt_m=alt,
        kind="aircraft" if alt is not None else "other",
        received=received,
        source=source,
    )
