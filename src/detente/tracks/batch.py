"""Screening a file of reports without a node: read, keep the newest per unit, screen.

:func:`read_reports` streams a JSON-lines file, line by line and never a
line longer than :data:`~detente.tracks.report.MAX_LINE_BYTES`, keeping the
newest report of each unit; a line that is not a good report is set aside
with its line number and reason, never stopping the read.
:func:`screen_reports` extrapolates every unit to the newest report time
and screens all pairs of different parties.

Example:
    >>> import io
    >>> lines = [
    ...     '{"id": "a", "party": "us", "time": "2026-03-01T12:00:00Z", "lat": 55, "lon": 19,'
    ...     ' "course_deg": 90, "speed_mps": 10}',
    ...     '{"id": "b", "party": "ru", "time": "2026-03-01T12:00:00Z", "lat": 55, "lon": 19.2,'
    ...     ' "course_deg": 270, "speed_mps": 10}',
    ...     'not json',
    ... ]
    >>> read = read_reports(io.BytesIO("\\n".join(lines).encode()), name="demo.jsonl")
    >>> [(r.line, r.reason) for r in read.rejected]
    [(3, 'bad_json')]
    >>> [(a.a, a.b, round(a.tcpa_s)) for a in screen_reports(read.reports, horizon_s=1200,
    ...                                                      horizontal_m=2000)]
    [('a', 'b', 640)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import BinaryIO, Final

import numpy as np

from detente.errors import TooLargeError
from detente.tracks.report import MAX_LINE_BYTES, ReportError, TrackReport, parse_json_report
from detente.tracks.screen import Thresholds, Traffic, screen

__all__ = ["Alert", "MAX_UNITS", "ReadResult", "Rejected", "read_reports", "screen_reports"]

#: Most units one file may hold (a screen of two million fits in a few GB).
MAX_UNITS: Final = 2_000_000


@dataclass(frozen=True)
class Rejected:
    """A line set aside: where, and why."""

    line: int
    reason: str
    detail: str


@dataclass
class ReadResult:
    """The newest report of each unit, and what was set aside."""

    reports: list[TrackReport] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    lines: int = 0


@dataclass(frozen=True)
class Alert:
    """A pair predicted to come too close: ids with ``a < b``, when and how near."""

    a: str
    b: str
    tcpa_s: float
    dcpa_m: float

    def to_json(self) -> dict[str, object]:
        """The alert as ``tracks screen --format json`` prints it."""
        return {"a": self.a, "b": self.b, "tcpa_s": self.tcpa_s, "dcpa_m": self.dcpa_m}


def read_reports(stream: BinaryIO, *, name: str) -> ReadResult:
    """The newest good report of each unit in ``stream``, and the lines set aside.

    Blank lines are skipped. Of two reports of a unit, the later ``time``
    stays (the later line, at the same time).

    Raises:
        TooLargeError: the stream names more than :data:`MAX_UNITS` units.
    """
    newest: dict[str, TrackReport] = {}
    result = ReadResult()
    number = 0
    while True:
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            break
        number += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            result.rejected.append(
                Rejected(number, "too_long", f"longer than {MAX_LINE_BYTES} bytes")
            )
            while raw and not raw.endswith(b"\n"):  # the rest of the long line
                raw = stream.readline(MAX_LINE_BYTES + 1)
            continue
        if not raw.strip():
            continue
        try:
            report = parse_json_report(raw, source=f"{name}:{number}")
        except ReportError as e:
            result.rejected.append(Rejected(number, e.reason, e.detail))
            continue
        held = newest.get(report.id)
        if held is None:
            if len(newest) >= MAX_UNITS:
                raise TooLargeError(f"{name} line {number}: more than {MAX_UNITS} units")
        elif held.time > report.time:
            continue
        newest[report.id] = report
    result.lines = number
    result.reports = list(newest.values())
    return result


def screen_reports(
    reports: Sequence[TrackReport],
    *,
    horizon_s: float,
    horizontal_m: float,
    vertical_m: float | None = None,
) -> list[Alert]:
    """Every pair of units of different parties predicted nearer than the thresholds.

    Every unit is moved at its constant velocity to the newest report time
    among ``reports``; the horizon runs from there. Alerts come sorted by
    ``(a, b)``.
    """
    if len(reports) < 2:
        return []
    now = max(r.time for r in reports)
    parties = {p: i for i, p in enumerate(sorted({r.party for r in reports}))}
    traffic = Traffic.from_columns(
        lat=[r.lat for r in reports],
        lon=[r.lon for r in reports],
        course_deg=[r.course_deg for r in reports],
        speed_mps=[r.speed_mps for r in reports],
        alt_m=[np.nan if r.alt_m is None else r.alt_m for r in reports],
        group=[parties[r.party] for r in reports],
        age_s=[(now - r.time).total_seconds() for r in reports],
    )
    found = screen(
        traffic,
        Thresholds(horizontal_m=horizontal_m, horizon_s=horizon_s, vertical_m=vertical_m),
    )
    alerts = []
    for i, j, t, d in zip(
        found.a.tolist(),
        found.b.tolist(),
        found.tcpa_s.tolist(),
        found.dcpa_m.tolist(),
        strict=True,
    ):
        a, b = sorted((reports[i].id, reports[j].id))
        alerts.append(Alert(a, b, float(t), float(d)))
    alerts.sort(key=lambda x: (x.a, x.b))
    return alerts
