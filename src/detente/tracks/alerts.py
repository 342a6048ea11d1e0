"""Alerts on close approaches: raised, updated and cleared, without flapping.

An :class:`AlertBook` is fed the pairs that screening returns near a
unit (:meth:`AlertBook.observe`, after each report) or near every unit
(:meth:`AlertBook.sweep`, after a full screen) and says what changed:

- **raised** when a pair's closest approach within the horizon comes under
  the horizontal threshold and, where both units have altitudes, under the
  vertical one;
- **updated** while it stays raised and the prediction moves: the distance
  by a tenth of the threshold, or the predicted instant of closest approach
  by :attr:`AlertBook.update_s` seconds;
- **cleared** once the pair is clear by the hysteresis margin (10 % beyond
  either threshold by default), or one of its units goes stale or away.

Between the threshold and the margin nothing changes, so a pair hovering
at the threshold raises once and clears once. Each event carries the
geometry that caused it; the node logs it with the two reports behind it
(:mod:`detente.node.tracks`) so that the other party can recompute it.

Example:
    >>> from detente.tracks.incremental import Geometry
    >>> from detente.tracks.screen import Thresholds
    >>> book = AlertBook(Thresholds(horizontal_m=1000, horizon_s=600))
    >>> [e.kind.value for e in book.observe("a", [Geometry("a", "b", 0, 60, 990, None)], at=0)]
    ['raised']
    >>> book.observe("a", [Geometry("a", "b", 5, 55, 1050, None)], at=5)  # within the margin
    []
    >>> [e.kind.value for e in book.observe("a", [], at=10)]  # beyond the watch radius
    ['cleared']
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from detente.tracks.incremental import Geometry
from detente.tracks.screen import Thresholds

__all__ = ["DEFAULT_HYSTERESIS", "AlertBook", "AlertEvent", "EventKind"]

#: How far beyond a threshold a raised pair must be before it clears, as a share of it.
DEFAULT_HYSTERESIS: Final = 0.1
_VERTICAL_EDGE: Final = 1 - 1e-9


class EventKind(enum.StrEnum):
    """What happened to an alert."""

    raised = "raised"
    updated = "updated"
    cleared = "cleared"


@dataclass(frozen=True)
class AlertEvent:
    """One change of one pair's alert; ``reason`` says why a clear happened."""

    kind: EventKind
    a: str
    b: str
    at: float
    tcpa_s: float | None
    dcpa_m: float | None
    dalt_m: float | None
    reason: str = ""


class AlertBook:
    """The open alerts, and the events that feeding it screening results gives.

    Args:
        thresholds: when a pair is raised.
        hysteresis: the share beyond each threshold at which a raised pair clears.
        update_s: how far the predicted instant of closest approach must move
            for an ``updated`` event.
    """

    def __init__(
        self,
        thresholds: Thresholds,
        *,
        hysteresis: float = DEFAULT_HYSTERESIS,
        update_s: float = 30.0,
    ) -> None:
        if not 0 <= hysteresis <= 1:
            raise ValueError(f"hysteresis {hysteresis} is not within [0, 1]")
        self.thresholds = thresholds
        self.hysteresis = hysteresis
        self.update_s = update_s
        self._open: dict[tuple[str, str], Geometry] = {}

    @property
    def watch_m(self) -> float:
        """The horizontal distance within which screening must return pairs."""
        return self.thresholds.horizontal_m * (1 + self.hysteresis)

    @property
    def watch_vertical_m(self) -> float | None:
        """The vertical separation within which screening must return pairs."""
        v = self.thresholds.vertical_m
        return None if v is None else v * (1 + self.hysteresis)

    def open(self) -> list[Geometry]:
        """The raised alerts, by pair, with the geometry last reported."""
        return [self._open[k] for k in sorted(self._open)]

    def _inside(self, g: Geometry) -> bool:
        t = self.thresholds
        if g.dcpa_m >= t.horizontal_m:
            return False
        return t.vertical_m is None or g.dalt_m is None or g.dalt_m < t.vertical_m * _VERTICAL_EDGE

    def _clear(self, g: Geometry) -> bool:
        if g.dcpa_m >= self.watch_m:
            return True
        v = self.watch_vertical_m
        return v is not None and g.dalt_m is not None and g.dalt_m >= v

    def _moved(self, before: Geometry, now: Geometry) -> bool:
        if abs(now.dcpa_m - before.dcpa_m) >= 0.1 * self.thresholds.horizontal_m:
            return True
        return abs((now.time + now.tcpa_s) - (before.time + before.tcpa_s)) >= self.update_s

    def _one(self, g: Geometry) -> AlertEvent | None:
        key = (g.a, g.b)
        held = self._open.get(key)
        if held is None:
            if self._inside(g):
                self._open[key] = g
                return _event(EventKind.raised, g)
            return None
        if self._clear(g):
            del self._open[key]
            return _event(EventKind.cleared, g, "clear")
        if self._moved(held, g):
            self._open[key] = g
            return _event(EventKind.updated, g)
        return None

    def observe(self, unit: str, pairs: Iterable[Geometry], *, at: float) -> list[AlertEvent]:
        """Events from the pairs screening returned for ``unit``'s newest report.

        ``pairs`` must be every pair of ``unit`` within :attr:`watch_m` (and
        :attr:`watch_vertical_m`); a raised pair of ``unit`` not among them is
        clear.
        """
        events = []
        seen = set()
        for g in pairs:
            seen.add((g.a, g.b))
            event = self._one(g)
            if event is not None:
                events.append(event)
        for key in sorted(k for k in self._open if unit in k and k not in seen):
            del self._open[key]
            events.append(
                AlertEvent(EventKind.cleared, key[0], key[1], at, None, None, None, "clear")
            )
        return events

    def sweep(self, pairs: Iterable[Geometry], *, at: float) -> list[AlertEvent]:
        """Events from a full screen: ``pairs`` are all pairs within the watch radii."""
        events = []
        seen = set()
        for g in pairs:
            seen.add((g.a, g.b))
            event = self._one(g)
            if event is not None:
                events.append(event)
        for key in sorted(k for k in self._open if k not in seen):
            del self._open[key]
            events.append(
                AlertEvent(EventKind.cleared, key[0], key[1], at, None, None, None, "clear")
            )
        return events

    def drop(self, units: Iterable[str], *, at: float, reason: str = "stale") -> list[AlertEvent]:
        """Clear every alert of ``units`` (stale or removed), with ``reason``."""
        gone = set(units)
        events = []
        for key in sorted(k for k in self._open if k[0] in gone or k[1] in gone):
            del self._open[key]
            events.append(
                AlertEvent(EventKind.cleared, key[0], key[1], at, None, None, None, reason)
            )
        return events


def _event(kind: EventKind, g: Geometry, reason: str = "") -> AlertEvent:
    return AlertEvent(kind, g.a, g.b, g.time, g.tcpa_s, g.dcpa_m, g.dalt_m, reason)
