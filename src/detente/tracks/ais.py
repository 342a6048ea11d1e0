"""AIS position reports from NMEA 0183 ``!AIVDM`` / ``!AIVDO`` sentences.

An AIS receiver sends one sentence a line; a message too long for one
sentence (type 5, static and voyage data, always is) comes as numbered
fragments. :class:`AisAssembler` takes the lines of one or more feeds as
they arrive, checks each sentence's checksum, joins fragments by
``(source, sequential message id, channel)`` — per source, since two
receivers number their messages independently — and turns every position
message into a :class:`~detente.tracks.report.TrackReport`. The 6-bit
payload is decoded by pyais; this module decides what to trust.

What becomes a report, and what does not:

* Position messages: types 1, 2, 3 (class A), 18 and 19 (class B), 27
  (long range) give ships; type 9 (SAR aircraft) gives an aircraft with
  its altitude. Speeds are knots, turned into metres a second exactly
  (1 kn = 1852/3600 m/s).
* Static data, types 5, 19 and 24, feeds a per-MMSI cache of names, call
  signs and ship types (:meth:`AisAssembler.static`) for the registry and
  the console; type 5 and 24 make no report.
* AIS sends "not available" as in-band values: latitude 91, longitude
  181, speed 102.3 kn (1023 kn for type 9, 63 kn for type 27), course 360
  (511 for type 27). A position without its course or speed cannot be
  extrapolated, so each of these is refused as ``out_of_range`` naming the
  field. An aircraft's altitude 4095 m "not available" keeps the report,
  with no altitude.
* A unit the registry does not place with a party is ``unknown_unit``
  (unless the registry has a default party).

The time of a report is the time the line was received: an AIS message
carries only the UTC second of its fix, not the minute, hour or date, and a
receiver passes it on within a second or two.

Reason codes: ``bad_sentence``, ``bad_checksum``, ``missing_fragment``,
``unsupported_type``, ``out_of_range``, ``bad_id``, ``unknown_unit``.

Example:
    >>> from datetime import UTC, datetime
    >>> from detente.tracks.registry import Registry
    >>> ais = AisAssembler(Registry(default_party="ru"))
    >>> at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    >>> [r] = ais.feed("!AIVDM,1,1,,A,144jNUOP1s1H7aPOhN83Jh01P000,0*65",
    ...                source="ais-baltic", line_no=1, received=at)
    >>> r.id, r.party, r.lat, r.lon, r.course_deg, round(r.speed_mps, 3)
    ('273456789', 'ru', 55.5, 19.25, 87.5, 6.328)
    >>> [bad] = ais.feed("!AIVDM,1,1,,A,144jNUOP1s1H7aPOhN83Jh01P000,0*66",
    ...                  source="ais-baltic", line_no=2, received=at)
    >>> bad.reason
    'bad_checksum'
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final

from pyais.exceptions import AISBaseException
from pyais.messages import (
    AISSentence,
    MessageType1,
    MessageType5,
    MessageType9,
    MessageType18,
    MessageType19,
    MessageType24PartA,
    MessageType24PartB,
    MessageType24PartBAuxiliaryCraft,
    MessageType27,
    NMEASentenceFactory,
)
from pyais.util import compute_checksum

from detente.tracks.quarantine import Rejection
from detente.tracks.registry import Registry
from detente.tracks.report import ReportError, TrackReport, check_values

__all__ = ["KNOT_MPS", "AisAssembler", "StaticData", "knots_to_mps"]

#: One knot in metres a second (the international nautical mile is 1852 m exactly).
KNOT_MPS: Final = 1852 / 3600


def knots_to_mps(knots: float) -> float:
    """Knots in metres a second, rounded once: ``450 kn`` is ``231.5 m/s`` exactly.

    >>> knots_to_mps(450), 450 * KNOT_MPS
    (231.5, 231.50000000000003)
    """
    return knots * 1852 / 3600


# Bits a message of each type must carry for its fields to be there at all;
# pyais reads a short payload as zeros rather than refusing it.
_BITS: Final = {1: 168, 2: 168, 3: 168, 5: 420, 9: 168, 18: 168, 19: 312, 24: 160, 27: 96}
# "Not available" speed and course where they differ from 102.3 kn and 360 degrees,
# in the units pyais gives (knots, degrees).
_SPEED_NA: Final = {9: 1023.0, 27: 63.0}
_COURSE_NA: Final = {27: 511.0}
_ALT_NA: Final = 4095
_Static = (
    MessageType5
    | MessageType19
    | MessageType24PartA
    | MessageType24PartB
    | MessageType24PartBAuxiliaryCraft
)
_Position = MessageType1 | MessageType9 | MessageType18 | MessageType19 | MessageType27


@dataclass(frozen=True, slots=True)
class StaticData:
    """What a vessel says of itself in its static messages (``""`` or ``None`` if not yet)."""

    name: str = ""
    callsign: str = ""
    ship_type: int | None = None


@dataclass
class _Group:
    """The fragments of one multi-sentence message, so far."""

    count: int
    started: datetime
    line: int
    parts: list[AISSentence] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)


class AisAssembler:
    """Lines of AIS feeds in, position reports and rejections out.

    A feed owns one and calls :meth:`feed` from its thread only;
    :meth:`static` may be called from any thread.

    Args:
        registry: places each MMSI with a party.
        fragment_timeout_s: how long after its first fragment a message may
            still be completed; after that it is ``missing_fragment``.
        max_pending: most messages waiting for fragments at once; beyond
            it the oldest is given up, so a feed of first fragments only
            cannot grow memory without bound.
        max_static: most vessels whose static data is cached (oldest
            forgotten first).
    """

    def __init__(
        self,
        registry: Registry,
        *,
        fragment_timeout_s: float = 10.0,
        max_pending: int = 1000,
        max_static: int = 100_000,
    ) -> None:
        self._registry = registry
        self._timeout = timedelta(seconds=fragment_timeout_s)
        self._max_pending = max_pending
        self._max_static = max_static
        self._pending: OrderedDict[tuple[str, int | None, str], _Group] = OrderedDict()
        self._static: OrderedDict[str, StaticData] = OrderedDict()
        self._static_lock = threading.Lock()

    def static(self, mmsi: str) -> StaticData | None:
        """The name, call sign and ship type a vessel last sent, if it sent any."""
        with self._static_lock:
            return self._static.get(mmsi)

    def feed(
        self, line: str | bytes, *, source: str, line_no: int, received: datetime
    ) -> list[TrackReport | Rejection]:
        """Take one line; give the reports it completes and what was refused.

        Fragments that ran out of time by ``received`` come first, as
        ``missing_fragment``. A blank line gives nothing.
        """
        out: list[TrackReport | Rejection] = list(self.expire(received))
        raw = line.encode("utf-8", errors="replace") if isinstance(line, str) else line
        raw = raw.strip()
        if not raw:
            return out
        try:
            out.extend(self._sentence(raw, source=source, line_no=line_no, received=received))
        except ReportError as e:
            out.append(_reject(e, source, line_no, raw, received))
        return out

    def expire(self, now: datetime) -> list[Rejection]:
        """Give up, as ``missing_fragment``, messages begun more than the timeout before ``now``."""
        late = [k for k, g in self._pending.items() if now - g.started > self._timeout]
        return [self._give_up(k, "not completed within the timeout") for k in late]

    def flush(self) -> list[Rejection]:
        """Give up every message still waiting for fragments (at the end of a file)."""
        return [self._give_up(k, "the feed ended first") for k in list(self._pending)]

    def _give_up(self, key: tuple[str, int | None, str], why: str) -> Rejection:
        group = self._pending.pop(key)
        return Rejection.of(
            source=key[0],
            line=group.line,
            reason="missing_fragment",
            detail=f"{len(group.parts)} of {group.count} fragments: {why}",
            raw=b"\n".join(group.raw),
            received=group.started,
        )

    def _sentence(
        self, raw: bytes, *, source: str, line_no: int, received: datetime
    ) -> list[TrackReport | Rejection]:
        sentence = _parse(raw)
        if not sentence.is_valid:
            computed = compute_checksum(sentence.raw)
            given = "no checksum" if sentence.checksum < 0 else f"checksum {sentence.checksum:02X}"
            raise ReportError("bad_checksum", f"{given}, computed {computed:02X}")
        if sentence.frag_cnt == 1:
            return self._message([sentence], source=source, received=received)
        out: list[TrackReport | Rejection] = []
        key = (source, sentence.seq_id, sentence.channel)
        group = self._pending.get(key)
        if group is not None and (
            group.count != sentence.frag_cnt or sentence.frag_num != len(group.parts) + 1
        ):
            out.append(self._give_up(key, f"fragment {sentence.frag_num} came next"))
            group = None
        if group is None:
            if sentence.frag_num != 1:
                raise ReportError(
                    "missing_fragment",
                    f"fragment {sentence.frag_num} of {sentence.frag_cnt} without fragment 1",
                )
            if len(self._pending) >= self._max_pending:
                out.append(self._give_up(next(iter(self._pending)), "too many waiting"))
            group = self._pending[key] = _Group(sentence.frag_cnt, received, line_no)
        group.parts.append(sentence)
        group.raw.append(raw)
        if len(group.parts) == group.count:
            del self._pending[key]
            try:
                out.extend(self._message(group.parts, source=source, received=received))
            except ReportError as e:
                out.append(_reject(e, source, group.line, b"\n".join(group.raw), received))
        return out

    def _message(
        self, parts: list[AISSentence], *, source: str, received: datetime
    ) -> list[TrackReport | Rejection]:
        bits = sum(len(p.payload) for p in parts) * 6 - parts[-1].fill_bits
        whole = AISSentence.assemble_from_iterable(parts)
        try:
            message = whole.decode()
        except (AISBaseException, ValueError, IndexError) as e:
            raise ReportError("bad_sentence", f"payload does not decode ({e})") from None
        kind = int(message.msg_type)
        need = _BITS.get(kind)
        if need is not None and bits < need:
            raise ReportError(
                "bad_sentence", f"type {kind} payload of {bits} bits; it needs {need}"
            )
        if isinstance(message, _Static):
            self._remember(message)
            if not isinstance(message, MessageType19):  # 19 is a position as well
                return []
        if not isinstance(message, _Position):
            raise ReportError("unsupported_type", f"type {kind} carries no position")
        return [self._report(message, kind, source=source, received=received)]

    def _remember(self, message: _Static) -> None:
        """Add what a static message says to what is known of its vessel.

        Type 24 comes in two parts (name; call sign and ship type) and type
        19 lacks a call sign, so each message adds to the entry, never
        blanks a field it does not carry.
        """
        mmsi = _mmsi(message.mmsi)
        with self._static_lock:
            held = self._static.get(mmsi) or StaticData()
        name, callsign = getattr(message, "shipname", None), getattr(message, "callsign", None)
        ship_type = getattr(message, "ship_type", None)
        if isinstance(name, str) and name.strip():
            held = replace(held, name=name.strip())
        if isinstance(callsign, str) and callsign.strip():
            held = replace(held, callsign=callsign.strip())
        if isinstance(ship_type, int) and ship_type != 0:  # 0: not available
            held = replace(held, ship_type=int(ship_type))
        with self._static_lock:
            self._static.pop(mmsi, None)
            self._static[mmsi] = held
            while len(self._static) > self._max_static:
                self._static.popitem(last=False)

    def _report(
        self, message: _Position, kind: int, *, source: str, received: datetime
    ) -> TrackReport:
        mmsi = _mmsi(message.mmsi)
        lat, lon = float(message.lat), float(message.lon)
        speed_kn, course = float(message.speed), float(message.course)
        for name, value, missing in (
            ("lat", lat, 91.0),
            ("lon", lon, 181.0),
            ("speed", speed_kn, _SPEED_NA.get(kind, 102.3)),
            ("course", course, _COURSE_NA.get(kind, 360.0)),
        ):
            if value == missing:
                raise ReportError("out_of_range", f"{name} {value:g} means not available")
        alt: float | None = None
        if isinstance(message, MessageType9) and int(message.alt) != _ALT_NA:
            alt = float(message.alt)
        speed = knots_to_mps(speed_kn)
        check_values(lat=lat, lon=lon, course_deg=course, speed_mps=speed, alt_m=alt)
        unit = self._registry.lookup("mmsi", mmsi)
        if unit is None:
            raise ReportError("unknown_unit", f"MMSI {mmsi} is not in the registry")
        return TrackReport(
            id=mmsi,
            party=unit.party,
            time=received,
            lat=lat,
            lon=lon,
            course_deg=course,
            speed_mps=speed,
            alt_m=alt,
            kind=unit.kind or ("aircraft" if kind == 9 else "ship"),
            name=unit.name,
            received=received,
            source=source,
        )


def _parse(raw: bytes) -> AISSentence:
    """One sentence as pyais reads it; anything else is ``bad_sentence``."""
    try:
        sentence = NMEASentenceFactory.produce(raw)
    except (AISBaseException, ValueError, IndexError) as e:
        raise ReportError("bad_sentence", f"not an AIVDM/AIVDO sentence ({e})") from None
    if not isinstance(sentence, AISSentence):
        raise ReportError("bad_sentence", "not an AIVDM/AIVDO sentence")
    return sentence


def _mmsi(value: object) -> str:
    """The MMSI as its 9 digits (leading zeros kept: ``00…`` is a coast station)."""
    if not isinstance(value, int) or not 0 < value <= 999_999_999:
        raise ReportError("bad_id", f"MMSI {value!r} is not 9 digits")
    return f"{value:09d}"


def _reject(e: ReportError, source: str, line: int, raw: bytes, received: datetime) -> Rejection:
    return Rejection.of(
        source=source, line=line, reason=e.reason, detail=e.detail, raw=raw, received=received
    )
