"""Screening one report at a time, as a node receives them.

A :class:`Screener` holds the latest state of every unit and a spatial
index of where each could be. :meth:`Screener.update` takes one report
and screens that unit, at the report's time, against every other unit
moved forward from its own last report: the pairs whose closest approach
within the horizon comes under ``watch_m`` are returned (a watch radius a
little wider than the threshold, so alerts can be cleared with hysteresis,
:mod:`detente.tracks.alerts`). :meth:`Screener.screen_all` screens every
pair at a given time with :func:`detente.tracks.screen.screen`, which a node
runs now and then, for the pairs that come within the horizon as time
passes without a report from either.

The index: units are grouped by speed class (so one fast aircraft does not
widen every vessel's search); in each class, a unit is kept in the ECEF
cube of its position at its report, of side the class's reach. A query
looks at every cube that a unit of that class could have left its cube
for, within :attr:`Screener.max_age_s` of its report and the horizon after.
Reports older than ``max_age_s`` are stale: :meth:`expire` drops them.

Example:
    >>> from datetime import UTC, datetime
    >>> from detente.tracks.screen import Thresholds
    >>> s = Screener(Thresholds(horizontal_m=2000, horizon_s=1200), watch_m=2200)
    >>> s.update("a", party="us", lat=55.0, lon=19.0, course_deg=90, speed_mps=10, time=0.0)
    []
    >>> hit = s.update("b", party="ru", lat=55.0, lon=19.2, course_deg=270, speed_mps=10, time=0.0)
    >>> [(h.a, h.b, round(h.tcpa_s), round(h.dcpa_m)) for h in hit]
    [('a', 'b', 640, 0)]
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

import numpy as np

from detente.tracks import geodesy
from detente.tracks.screen import Thresholds, Traffic, approach, screen

__all__ = ["Geometry", "SPEED_CLASSES", "Screener"]

#: Upper speed of each class, m/s: most ships (29 kn), fast craft, helicopters and slow
#: aircraft, jets, the fastest.
SPEED_CLASSES: Final = (15.0, 40.0, 120.0, 400.0, 1500.0)
#: How long a report stays usable when nothing newer comes, seconds (AIS class A at anchor
#: reports every 3 minutes, ITU-R M.1371-5 Table 1; twice that, to allow a missed one).
DEFAULT_MAX_AGE_S: Final = 360.0


@dataclass(frozen=True)
class Geometry:
    """One pair's predicted closest approach at ``time``: ids with ``a < b``."""

    a: str
    b: str
    time: float
    tcpa_s: float
    dcpa_m: float
    dalt_m: float | None


@dataclass
class _Unit:
    slot: int
    cls: int
    cell: tuple[int, int, int]


class Screener:
    """The latest state of every unit and the pairs near each new report.

    Args:
        thresholds: the horizon and the thresholds (vertical included).
        watch_m: the horizontal distance under which a pair is returned at
            all (at least the threshold).
        watch_vertical_m: likewise the vertical separation (at least the
            vertical threshold).
        max_age_s: reports older than this are stale.
    """

    def __init__(
        self,
        thresholds: Thresholds,
        *,
        watch_m: float | None = None,
        watch_vertical_m: float | None = None,
        max_age_s: float = DEFAULT_MAX_AGE_S,
    ) -> None:
        self.thresholds = thresholds
        self.watch_m = max(watch_m or thresholds.horizontal_m, thresholds.horizontal_m)
        v = thresholds.vertical_m
        self.watch_vertical_m = None if v is None else max(watch_vertical_m or v, v)
        self.max_age_s = max_age_s
        self._units: dict[str, _Unit] = {}
        self._ids: list[str | None] = []
        self._free: list[int] = []
        cap = 1024
        self._pos = np.zeros((cap, 3))
        self._vel = np.zeros((cap, 3))
        self._time = np.zeros(cap)
        self._alt = np.full(cap, np.nan)
        self._group = np.zeros(cap, np.int64)
        self._speed = np.zeros(cap)
        self._parties: dict[str, int] = {}
        self._party_of: dict[int, str] = {}
        h = thresholds.horizon_s
        # A class's cube is as wide as its fastest unit can go in the horizon of a query
        # made when its report is as old as allowed; queries look as far as the fastest
        # unit of the class seen so far could have gone.
        self._cube = [max(v * (h + max_age_s), self.watch_m) for v in SPEED_CLASSES]
        self._fastest = [0.0 for _ in SPEED_CLASSES]
        self._cells: list[dict[tuple[int, int, int], set[int]]] = [{} for _ in SPEED_CLASSES]

    def __len__(self) -> int:
        return len(self._units)

    def __contains__(self, unit: str) -> bool:
        return unit in self._units

    def parties(self) -> dict[str, str]:
        """Each unit's party."""
        return {u: self._party_of[int(self._group[x.slot])] for u, x in self._units.items()}

    def _grow(self) -> None:
        cap = self._pos.shape[0] * 2
        for name in ("_pos", "_vel"):
            old = getattr(self, name)
            new = np.zeros((cap, 3))
            new[: old.shape[0]] = old
            setattr(self, name, new)
        for name, fill in (("_time", 0.0), ("_alt", np.nan), ("_group", 0), ("_speed", 0.0)):
            old = getattr(self, name)
            new = np.full(cap, fill, dtype=old.dtype)
            new[: old.shape[0]] = old
            setattr(self, name, new)

    def _cell(self, cls: int, p: np.ndarray) -> tuple[int, int, int]:
        c = self._cube[cls]
        return (math.floor(p[0] / c), math.floor(p[1] / c), math.floor(p[2] / c))

    def update(
        self,
        unit: str,
        *,
        party: str,
        lat: float,
        lon: float,
        course_deg: float,
        speed_mps: float,
        time: float,
        alt_m: float | None = None,
        now: float | None = None,
    ) -> list[Geometry]:
        """Take one report (``time`` in seconds, any epoch) and screen its unit.

        The instant screened is ``now`` (the unit moved on to it from its
        report, as every other unit is), or the report's own time without it.

        Returns every pair with this unit whose closest approach within the
        horizon is under ``watch_m`` (and, with altitudes and a vertical
        threshold, vertically under it), sorted by the other unit.
        """
        la, lo = np.array([lat]), np.array([lon])
        pos = geodesy.ecef(la, lo)[0]
        vel = geodesy.velocity(la, lo, np.array([course_deg]), np.array([speed_mps]))[0]
        cls = next(
            (k for k, v in enumerate(SPEED_CLASSES) if speed_mps <= v), len(SPEED_CLASSES) - 1
        )
        held = self._units.get(unit)
        if held is not None:
            members = self._cells[held.cls][held.cell]
            members.discard(held.slot)
            if not members:
                del self._cells[held.cls][held.cell]
            slot = held.slot
        else:
            if not self._free:
                self._free.append(len(self._ids))
                self._ids.append(None)
                if len(self._ids) > self._pos.shape[0]:
                    self._grow()
            slot = self._free.pop()
            self._ids[slot] = unit
        group = self._parties.setdefault(party, len(self._parties))
        self._party_of[group] = party
        self._pos[slot], self._vel[slot], self._time[slot] = pos, vel, time
        self._alt[slot] = np.nan if alt_m is None else alt_m
        self._group[slot] = group
        self._speed[slot] = speed_mps
        self._fastest[cls] = max(self._fastest[cls], speed_mps)
        cell = self._cell(cls, pos)
        self._units[unit] = _Unit(slot, cls, cell)
        self._cells[cls].setdefault(cell, set()).add(slot)
        at = time if now is None else max(now, time)
        others = self._near(slot, pos, speed_mps, at - time)
        return self._judge(slot, others, at)

    def _near(self, slot: int, pos: np.ndarray, speed: float, ahead: float) -> np.ndarray:
        """Slots of other parties' units that might come within ``watch_m`` of ``slot``
        (whose report is ``ahead`` seconds older than the instant screened)."""
        found: list[int] = []
        travel = speed * (self.thresholds.horizon_s + ahead)
        for cls, cells in enumerate(self._cells):
            if not cells:
                continue
            c = self._cube[cls]
            reach = self._fastest[cls] * (self.thresholds.horizon_s + self.max_age_s)
            r = reach + travel + self.watch_m + 2 * _sag(reach + travel)
            lo = [math.floor((pos[k] - r) / c) for k in range(3)]
            hi = [math.floor((pos[k] + r) / c) for k in range(3)]
            for x in range(lo[0], hi[0] + 1):
                for y in range(lo[1], hi[1] + 1):
                    for z in range(lo[2], hi[2] + 1):
                        members = cells.get((x, y, z))
                        if members:
                            found.extend(members)
        out: np.ndarray = np.fromiter(found, dtype=np.int64, count=len(found))
        other: np.ndarray = out[self._group[out] != self._group[slot]]
        return other

    def _judge(self, slot: int, others: np.ndarray, time: float) -> list[Geometry]:
        if not others.size:
            return []
        h = self.thresholds.horizon_s
        age = time - self._time[others]
        keep = np.abs(age) <= self.max_age_s
        vertical = self.watch_vertical_m
        if vertical is not None and not math.isnan(self._alt[slot]):
            keep &= ~(np.abs(self._alt[others] - self._alt[slot]) >= vertical * (1 - 1e-9))
        # Only units that can reach the watch radius of this one before the horizon ends.
        speed = self._speed[others]
        own_age = time - float(self._time[slot])
        own = float(self._speed[slot]) * (h + abs(own_age))
        gap = np.linalg.norm(self._pos[others] - self._pos[slot], axis=-1)
        travel = speed * (np.abs(age) + h) + own
        keep &= gap <= travel + self.watch_m + 2 * (travel * travel / geodesy.MIN_RADIUS) + 1.0
        others, age = others[keep], age[keep]
        if not others.size:
            return []
        pos, vel = self._pos[others], self._vel[others]
        move = age != 0
        if move.any():
            pos, vel = pos.copy(), vel.copy()
            pos[move], vel[move] = geodesy.advance(pos[move], vel[move], age[move])
        n = others.size
        me_pos, me_vel = self._pos[slot : slot + 1], self._vel[slot : slot + 1]
        if own_age:
            me_pos, me_vel = geodesy.advance(me_pos, me_vel, own_age)
        pa = np.broadcast_to(me_pos[0], (n, 3)).copy()
        va = np.broadcast_to(me_vel[0], (n, 3)).copy()
        t, d, _ = approach(pa, va, pos, vel, horizon_s=h, limit_m=self.watch_m)
        near = np.flatnonzero(d < self.watch_m)
        me = self._ids[slot]
        out = []
        for k in near.tolist():
            other = self._ids[int(others[k])]
            if me is None or other is None:  # pragma: no cover - slots in use have ids
                continue
            a, b = sorted((me, other))
            alt_a, alt_b = self._alt[slot], self._alt[int(others[k])]
            dalt = None if math.isnan(alt_a) or math.isnan(alt_b) else abs(alt_a - alt_b)
            out.append(Geometry(a, b, time, float(t[k]), float(d[k]), dalt))
        out.sort(key=lambda g: (g.a, g.b))
        return out

    def remove(self, unit: str) -> bool:
        """Forget a unit; False if it was not held."""
        held = self._units.pop(unit, None)
        if held is None:
            return False
        self._cells[held.cls][held.cell].discard(held.slot)
        if not self._cells[held.cls][held.cell]:
            del self._cells[held.cls][held.cell]
        self._ids[held.slot] = None
        self._free.append(held.slot)
        return True

    def expire(self, now: float) -> list[str]:
        """Drop the units whose report is older than ``max_age_s`` at ``now``; their ids."""
        stale = [u for u, x in self._units.items() if now - self._time[x.slot] > self.max_age_s]
        for unit in stale:
            self.remove(unit)
        return stale

    def screen_all(self, now: float) -> Iterator[Geometry]:
        """Every pair under ``watch_m`` at ``now``, each unit moved to ``now`` from its report."""
        units = [(u, x.slot) for u, x in self._units.items()]
        if len(units) < 2:
            return
        slots = np.array([s for _, s in units], dtype=np.int64)
        age = now - self._time[slots]
        pos, vel = self._pos[slots], self._vel[slots]
        move = age != 0
        if move.any():
            pos, vel = pos.copy(), vel.copy()
            pos[move], vel[move] = geodesy.advance(pos[move], vel[move], age[move])
        traffic = Traffic(pos, vel, self._alt[slots], self._group[slots])
        t = self.thresholds
        found = screen(traffic, Thresholds(self.watch_m, t.horizon_s, self.watch_vertical_m))
        for i, j, tc, dc in zip(
            found.a.tolist(),
            found.b.tolist(),
            found.tcpa_s.tolist(),
            found.dcpa_m.tolist(),
            strict=True,
        ):
            a, b = sorted((units[i][0], units[j][0]))
            alt_a, alt_b = self._alt[slots[i]], self._alt[slots[j]]
            dalt = None if math.isnan(alt_a) or math.isnan(alt_b) else abs(alt_a - alt_b)
            yield Geometry(a, b, now, tc, dc, dalt)


def _sag(travel: float) -> float:
    r = geodesy.MIN_RADIUS
    return travel * travel / (2 * r) + travel**3 / (3 * r * r) + 1.0
