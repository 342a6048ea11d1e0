"""ADS-B position reports from SBS-1 ("BaseStation", port 30003) text.

An SBS feed (dump1090, readsb, a Kinetic receiver) sends one CSV line per
decoded Mode S message, 22 fields, of which these matter here::

    MSG,3,1,1,4B1A2C,1,2026/03/01,12:00:00.000,2026/03/01,12:00:00.000,,35000,,,55.1,19.9,,,,,,0
    MSG,4,1,1,4B1A2C,1,2026/03/01,12:00:00.000,2026/03/01,12:00:00.000,,,450,87.5,,,0,,,,,0

``MSG,3`` (airborne position) carries altitude in feet, latitude and
longitude; ``MSG,4`` (airborne velocity) carries ground speed in knots and
track in degrees; ``MSG,1`` the call sign. A position is useless to
screening without the velocity that comes in another message, so
:class:`SbsTracker` keeps the latest velocity of each ICAO address and
makes a report when a position arrives and a velocity of that aircraft no
more than ``velocity_timeout_s`` apart from it is known. A position
without one yet is held back, not refused: it is the normal start of every
track. Other messages (``MSG,2`` surface positions included, and the
``SEL``/``ID``/``AIR``/``STA``/``CLK`` lines) make no report and no rejection.

Units: feet to metres (0.3048 exactly), knots to metres a second
(1852/3600 exactly). The time of a report is the "generated" date and time
(fields 7 and 8, counting from 1), read as UTC — the SBS format has no zone,
and a receiver for this purpose must run on UTC — or the receive time when
both are empty.

Reason codes: ``bad_line`` (not 22 comma-separated fields of an SBS
message), ``bad_id`` (address not 6 hex digits), ``bad_time``,
``bad_field`` (a number that is not one), ``missing_field``,
``out_of_range``, ``unknown_unit``.

Example:
    >>> from datetime import UTC, datetime
    >>> from detente.tracks.registry import Registry
    >>> sbs = SbsTracker(Registry(default_party="de"))
    >>> at = datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)
    >>> sbs.feed("MSG,4,1,1,3C6444,1,2026/03/01,12:00:00.000,,,,,450,87.5,,,0,,,,,0",
    ...          source="adsb", line_no=1, received=at)
    []
    >>> [r] = sbs.feed("MSG,3,1,1,3C6444,1,2026/03/01,12:00:01.500,,,,35000,,,55.1,19.9,,,,,,0",
    ...                source="adsb", line_no=2, received=at)
    >>> r.id, r.alt_m, round(r.speed_mps, 2), r.course_deg, r.time.isoformat()
    ('3C6444', 10668.0, 231.5, 87.5, '2026-03-01T12:00:01.500000+00:00')
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, TypeVar

from detente.tracks.ais import knots_to_mps
from detente.tracks.quarantine import Rejection
from detente.tracks.registry import Registry
from detente.tracks.report import ReportError, TrackReport, check_values

__all__ = ["FOOT_M", "SbsTracker"]

#: One international foot in metres, exactly.
FOOT_M: Final = 0.3048

_FIELDS: Final = 22
_ICAO: Final = re.compile(r"^[0-9A-Fa-f]{6}$")
_DATE: Final = re.compile(r"^(\d{4})/(\d\d)/(\d\d)$")
_TIME: Final = re.compile(r"^(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?$")
_OTHER_LINES: Final = frozenset({"SEL", "ID", "AIR", "STA", "CLK"})

_V = TypeVar("_V")


@dataclass(frozen=True, slots=True)
class _Velocity:
    time: datetime
    received: datetime
    speed_mps: float
    track_deg: float


class SbsTracker:
    """Lines of an SBS feed in, position reports and rejections out.

    Not thread-safe: a feed owns one.

    Args:
        registry: places each ICAO address with a party.
        velocity_timeout_s: how far apart a position and the velocity it
            is joined with may be; a velocity older than that is stale.
        max_aircraft: most aircraft whose state is kept (oldest dropped
            first), so a feed of invented addresses cannot grow memory.
    """

    def __init__(
        self,
        registry: Registry,
        *,
        velocity_timeout_s: float = 10.0,
        max_aircraft: int = 50_000,
    ) -> None:
        self._registry = registry
        self._timeout = timedelta(seconds=velocity_timeout_s)
        self._max = max_aircraft
        self._velocity: OrderedDict[str, _Velocity] = OrderedDict()
        self._callsign: OrderedDict[str, str] = OrderedDict()

    def callsign(self, icao: str) -> str | None:
        """The call sign an aircraft last sent (``MSG,1``), if it sent one."""
        return self._callsign.get(icao.upper())

    def feed(
        self, line: str | bytes, *, source: str, line_no: int, received: datetime
    ) -> list[TrackReport | Rejection]:
        """Take one line; give the report it completes, or why it was refused."""
        try:
            text = line.decode("ascii") if isinstance(line, bytes) else line
            report = self._line(text.strip(), source=source, received=received)
        except UnicodeDecodeError:
            return [_reject("bad_line", "not ASCII text", source, line_no, line, received)]
        except ReportError as e:
            return [_reject(e.reason, e.detail, source, line_no, line, received)]
        return [] if report is None else [report]

    def expire(self, now: datetime) -> list[Rejection]:
        """Forget velocities received more than the timeout before ``now``; nothing is refused."""
        while self._velocity:
            icao, oldest = next(iter(self._velocity.items()))
            if now - oldest.received <= self._timeout:
                break
            del self._velocity[icao]
        return []

    def flush(self) -> list[Rejection]:
        """Nothing waits to be completed in an SBS feed; for the feed's end."""
        return []

    def _line(self, text: str, *, source: str, received: datetime) -> TrackReport | None:
        if not text:
            return None
        fields = text.split(",")
        if fields[0] in _OTHER_LINES:
            return None
        if fields[0] != "MSG" or len(fields) != _FIELDS:
            raise ReportError(
                "bad_line", f"{len(fields)} fields starting {fields[0][:8]!r}; want MSG and 22"
            )
        kind = fields[1]
        if kind not in {"1", "2", "3", "4", "5", "6", "7", "8"}:
            raise ReportError("bad_line", f"transmission type {kind[:8]!r} is not 1 to 8")
        icao = fields[4].upper()
        if not _ICAO.fullmatch(icao) or icao == "000000":
            raise ReportError("bad_id", f"ICAO address {fields[4][:16]!r} is not 6 hex digits")
        time = _time(fields[6], fields[7], received)
        if kind == "1":
            callsign = fields[10].strip()
            if callsign:
                _put(self._callsign, icao, callsign[:16], self._max)
        elif kind == "4":
            speed = knots_to_mps(_number(fields, 12, "ground speed"))
            track = _track(_number(fields, 13, "track"))
            check_values(lat=0, lon=0, course_deg=track, speed_mps=speed, alt_m=None)
            _put(self._velocity, icao, _Velocity(time, received, speed, track), self._max)
        elif kind == "3":
            return self._position(fields, icao, time, source=source, received=received)
        return None

    def _position(
        self, fields: list[str], icao: str, time: datetime, *, source: str, received: datetime
    ) -> TrackReport | None:
        lat, lon = _number(fields, 14, "lat"), _number(fields, 15, "lon")
        alt = _number(fields, 11, "altitude") * FOOT_M if fields[11].strip() else None
        velocity = self._velocity.get(icao)
        if velocity is None or abs(time - velocity.time) > self._timeout:
            check_values(lat=lat, lon=lon, course_deg=0, speed_mps=0, alt_m=alt)
            return None
        check_values(
            lat=lat, lon=lon, course_deg=velocity.track_deg, speed_mps=velocity.speed_mps, alt_m=alt
        )
        unit = self._registry.lookup("icao", icao)
        if unit is None:
            raise ReportError("unknown_unit", f"ICAO address {icao} is not in the registry")
        return TrackReport(
            id=icao,
            party=unit.party,
            time=time,
            lat=lat,
            lon=lon,
            course_deg=velocity.track_deg,
            speed_mps=velocity.speed_mps,
            alt_m=alt,
            kind=unit.kind or "aircraft",
            name=unit.name,
            received=received,
            source=source,
        )


def _put(held: OrderedDict[str, _V], key: str, value: _V, limit: int) -> None:
    held.pop(key, None)
    held[key] = value
    while len(held) > limit:
        held.popitem(last=False)


def _number(fields: list[str], index: int, name: str) -> float:
    text = fields[index].strip()
    if not text:
        raise ReportError("missing_field", f"{name} (field {index + 1}) is empty")
    try:
        value = float(text)
    except ValueError:
        raise ReportError("bad_field", f"{name} {text[:16]!r} is not a number") from None
    if not math.isfinite(value):
        raise ReportError("bad_field", f"{name} {text[:16]!r} is not a finite number")
    return value


def _track(value: float) -> float:
    """A track of exactly 360° is north, as 0° is; SBS has no "not available" value for it."""
    return 0.0 if value == 360.0 else value


def _time(date: str, clock: str, received: datetime) -> datetime:
    date, clock = date.strip(), clock.strip()
    if not date and not clock:
        return received
    d, t = _DATE.fullmatch(date), _TIME.fullmatch(clock)
    if d is None or t is None:
        raise ReportError("bad_time", f"generated {date[:12]!r} {clock[:16]!r} is not a time")
    fraction = (t.group(4) or "").ljust(6, "0")
    try:
        return datetime(
            int(d.group(1)),
            int(d.group(2)),
            int(d.group(3)),
            int(t.group(1)),
            int(t.group(2)),
            int(t.group(3)),
            int(fraction),
            tzinfo=UTC,
        )
    except ValueError as e:
        raise ReportError("bad_time", f"generated {date} {clock}: {e}") from None


def _reject(
    reason: str, detail: str, source: str, line: int, raw: str | bytes, received: datetime
) -> Rejection:
    return Rejection.of(
        source=source, line=line, reason=reason, detail=detail, raw=raw, received=received
    )
