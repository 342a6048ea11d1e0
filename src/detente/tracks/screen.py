"""Close-approach screening: which pairs of units come too near within the horizon.

For every pair of units of different parties, each moving at constant
velocity from where it is now, :func:`screen` finds the time in ``[0, H]``
at which their horizontal distance is least (``tcpa_s``, 0 when they are
nearest now) and that distance (``dcpa_m``); a pair is a conflict when
``dcpa_m`` is below the horizontal threshold and, where both units report
an altitude, their vertical separation is below the vertical threshold.

How it stays fast (cost grows with the pairs that are near, not with N²):

1. Positions and velocities are ECEF vectors (:mod:`detente.tracks.geodesy`),
   turned so that the mean vertical of the traffic is the z axis; in that
   frame a region's traffic lies nearly in the x-y plane. Any rotation is
   exact: it only makes the grid below efficient.
2. Each unit's path over the horizon, a straight segment, is boxed and the
   box grown by half the threshold and by how far the ground falls away
   from the tangent over that distance. Two units can only conflict if their
   boxes overlap.
3. Boxes are cut into strips along y (and, with a vertical threshold, into
   altitude bands of that height, a unit without altitude lying in all);
   within each strip they are sorted by their low x and swept, so each
   pair of overlapping boxes is met once, in the first strip and band the
   two share.
4. The pairs left get their closest approach in the horizontal plane of
   their midpoint, in closed form; those that could be under the threshold
   are refined by moving both units along the ground to that time
   (:func:`~detente.tracks.geodesy.advance`) and solving again from there, so
   the distance reported is a ground distance on the ellipsoid.

Example:
    >>> import numpy as np
    >>> t = Traffic.from_columns(lat=[55.0, 55.0], lon=[19.0, 19.2], course_deg=[90, 270],
    ...                          speed_mps=[10, 10], group=[0, 1])
    >>> hits = screen(t, Thresholds(horizontal_m=2000, horizon_s=1200))
    >>> hits.a.tolist(), hits.b.tolist(), round(float(hits.tcpa_s[0])), round(float(hits.dcpa_m[0]))
    ([0], [1], 640, 0)
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from detente.tracks import geodesy
from detente.tracks.geodesy import Array

__all__ = [
    "WINDOW_M",
    "Conflicts",
    "Thresholds",
    "Traffic",
    "approach",
    "closest_approach",
    "screen",
]

IntArray = NDArray[np.int64]

#: Slack added to every pruning bound, metres: pruning must never drop a pair the exact
#: computation keeps, whatever the rounding.
_SLACK_M: Final = 1.0
#: "Below the vertical threshold" means below this share of it: two altitudes a flight level
#: apart (1,000 ft, against a 1,000 ft threshold) differ by 304.8 m give or take a rounding,
#: and must not be called close by that rounding; no feed reports altitude to a billionth.
_VERTICAL_EDGE: Final = 1 - 1e-9
#: Largest error allowed in a reported distance, as a share of the threshold: a linear
#: estimate whose bound is larger is refined on the ground.
_EXACT: Final = 2e-4
#: Pairs examined in one batch of the sweep (bounds memory at ~100 bytes a pair).
_BATCH_PAIRS: Final = 4_000_000


@dataclass(frozen=True)
class Thresholds:
    """When a predicted approach is a conflict.

    Attributes:
        horizontal_m: the least horizontal distance allowed.
        horizon_s: how far ahead, from now, approaches are predicted.
        vertical_m: the least vertical separation that makes a close pair
            safe when both report altitudes; None: altitude is never asked.
    """

    horizontal_m: float
    horizon_s: float
    vertical_m: float | None = None

    def __post_init__(self) -> None:
        if not (self.horizontal_m > 0 and np.isfinite(self.horizontal_m)):
            raise ValueError(f"horizontal threshold {self.horizontal_m} m is not positive")
        if not (self.horizon_s >= 0 and np.isfinite(self.horizon_s)):
            raise ValueError(f"horizon {self.horizon_s} s is not zero or positive")
        if self.vertical_m is not None and not (
            self.vertical_m > 0 and np.isfinite(self.vertical_m)
        ):
            raise ValueError(f"vertical threshold {self.vertical_m} m is not positive")


@dataclass(frozen=True)
class Traffic:
    """Units now: surface positions and horizontal velocities in ECEF, altitude, group.

    ``group`` is an integer per unit (the party); only pairs of different
    groups are screened. ``alt_m`` is NaN for a unit without altitude.
    """

    position: Array
    velocity: Array
    alt_m: Array
    group: IntArray

    def __len__(self) -> int:
        return int(self.position.shape[0])

    @classmethod
    def from_columns(
        cls,
        *,
        lat: Sequence[float] | Array,
        lon: Sequence[float] | Array,
        course_deg: Sequence[float] | Array,
        speed_mps: Sequence[float] | Array,
        group: Sequence[int] | IntArray,
        alt_m: Sequence[float] | Array | None = None,
        age_s: Sequence[float] | Array | None = None,
    ) -> Traffic:
        """Traffic from report columns; ``age_s`` moves each unit forward that long first.

        ``age_s`` is how old each report is at the instant screened (now minus
        the report's time): a unit reported a minute ago is a minute further on.
        """
        la = np.asarray(lat, dtype=np.float64)
        lo = np.asarray(lon, dtype=np.float64)
        position = geodesy.ecef(la, lo)
        vel = geodesy.velocity(
            la, lo, np.asarray(course_deg, dtype=np.float64), np.asarray(speed_mps, np.float64)
        )
        if age_s is not None:
            age = np.asarray(age_s, dtype=np.float64)
            if np.any(age != 0):
                position, vel = geodesy.advance(position, vel, age)
        if alt_m is None:
            alt = np.full(la.shape, np.nan)
        else:
            try:
                alt = np.asarray(alt_m, dtype=np.float64)
            except TypeError:  # None among the values: a unit without altitude
                alt = np.asarray([np.nan if a is None else a for a in alt_m], dtype=np.float64)
        return cls(position, vel, alt, np.asarray(group, dtype=np.int64))


@dataclass(frozen=True)
class Conflicts:
    """Pairs found, as index arrays into the traffic (``a < b``), with their geometry."""

    a: IntArray
    b: IntArray
    tcpa_s: Array
    dcpa_m: Array

    def __len__(self) -> int:
        return int(self.a.shape[0])


def _rotation(up: Array) -> Array:
    """An orthonormal matrix taking the unit vector ``up`` to the z axis."""
    z = up / np.linalg.norm(up)
    helper = np.array([1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x = np.cross(helper, z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack((x, y, z))


def _sag(travel_m: Array) -> Array:
    """How far a tangent of this length leaves the ground, and then some (metres)."""
    r = geodesy.MIN_RADIUS
    return travel_m * travel_m / (2 * r) + travel_m**3 / (3 * r * r)


def closest_approach(
    pa: Array, va: Array, pb: Array, vb: Array, horizon_s: float
) -> tuple[Array, Array]:
    """Linear closest approach of pairs in the horizontal plane of their midpoint.

    Returns ``(tcpa, dcpa)``: the time in ``[0, horizon_s]`` when the
    horizontal distance between ``pa + va t`` and ``pb + vb t`` is least, and
    that distance.
    """
    up = geodesy.normals(pa) + geodesy.normals(pb)
    up /= np.linalg.norm(up, axis=-1, keepdims=True)
    r = pb - pa
    v = vb - va
    r -= np.sum(r * up, axis=-1, keepdims=True) * up
    v -= np.sum(v * up, axis=-1, keepdims=True) * up
    vv = np.sum(v * v, axis=-1)
    rv = np.sum(r * v, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(vv > 0, -rv / np.where(vv > 0, vv, 1.0), 0.0)
    t = np.clip(t, 0.0, horizon_s)
    d = r + v * t[:, None]
    return t, np.linalg.norm(d, axis=-1)


def _refine(
    pa: Array, va: Array, pb: Array, vb: Array, t0: Array, horizon_s: float
) -> tuple[Array, Array]:
    """Closest approach on the ground, starting from the linear estimate ``t0``."""
    t = t0
    for _ in range(2):
        qa, wa = geodesy.advance(pa, va, t)
        qb, wb = geodesy.advance(pb, vb, t)
        dt, _ = closest_approach(qa, wa, qb, wb, horizon_s)
        back, _ = closest_approach(qb, -wb, qa, -wa, horizon_s)
        t = np.clip(t + dt - back, 0.0, horizon_s)
    qa, _ = geodesy.advance(pa, va, t)
    qb, _ = geodesy.advance(pb, vb, t)
    return t, geodesy.distance(qa, qb)


def _sweep_pairs(
    lo: Array, hi: Array, band_lo: IntArray, band_hi: IntArray, strip_m: float
) -> Iterator[tuple[IntArray, IntArray]]:
    """Every pair of boxes that overlap in x and y and share an altitude band, once.

    Yields ``(i, j)`` batches; the z overlap is left to the caller.
    """
    n = lo.shape[0]
    s_lo = np.floor(lo[:, 1] / strip_m).astype(np.int64)
    s_hi = np.floor(hi[:, 1] / strip_m).astype(np.int64)
    ns = s_hi - s_lo + 1
    nb = band_hi - band_lo + 1
    per_unit = ns * nb
    unit = np.repeat(np.arange(n), per_unit)
    k = np.arange(unit.shape[0]) - np.repeat(np.cumsum(per_unit) - per_unit, per_unit)
    strip = s_lo[unit] + k // nb[unit]
    band = band_lo[unit] + k % nb[unit]
    # One key per (strip, band), ranked so x offsets can be added without overlap.
    key = (strip - strip.min()) * (int(band.max() - band.min()) + 1) + (band - band.min())
    rank = np.unique(key, return_inverse=True)[1].astype(np.float64)
    x0 = float(lo[:, 0].min())
    span = float(hi[:, 0].max() - x0) + 1.0
    start = rank * span + (lo[unit, 0] - x0)
    order = np.argsort(start, kind="stable")
    start = start[order]
    unit = unit[order]
    end = rank[order] * span + (hi[unit, 0] - x0)
    last = np.searchsorted(start, end, side="right")
    count = last - np.arange(unit.shape[0]) - 1
    strip, band = strip[order], band[order]
    bounds = np.concatenate(([0], np.cumsum(count)))
    # Members in batches so that no batch holds more than _BATCH_PAIRS pairs.
    first = 0
    m = unit.shape[0]
    while first < m:
        stop = int(np.searchsorted(bounds, bounds[first] + _BATCH_PAIRS, side="right")) - 1
        stop = max(stop, first + 1)
        stop = min(stop, m)
        c = count[first:stop]
        total = int(c.sum())
        if total:
            pos = np.repeat(np.arange(first, stop), c)
            offset = np.arange(total) - np.repeat(np.cumsum(c) - c, c)
            other = pos + 1 + offset
            i, j = unit[pos], unit[other]
            # Keep a pair only in the first strip and band both boxes lie in.
            own = (strip[pos] == np.maximum(s_lo[i], s_lo[j])) & (
                band[pos] == np.maximum(band_lo[i], band_lo[j])
            )
            i, j = i[own], j[own]
            yield np.minimum(i, j), np.maximum(i, j)
        first = stop


def approach(
    pa: Array, va: Array, pb: Array, vb: Array, *, horizon_s: float, limit_m: float
) -> tuple[Array, Array, Array]:
    """Closest approach of pairs as :func:`screen` computes it, for pairs chosen elsewhere.

    Returns ``(tcpa, dcpa, bound)``: the linear estimate where its error
    bound is at most :data:`_EXACT` of ``limit_m`` and leaves no doubt about
    the threshold, the refined ground value otherwise; ``bound`` is the
    linear estimate's bound (0 where refined). Positions are surface ECEF,
    velocities horizontal, both shape (n, 3). A horizon over which a unit
    runs more than :data:`WINDOW_M` is taken in windows (:func:`_windows`).
    """
    speed = max(
        float(np.linalg.norm(va, axis=-1).max(initial=0.0)),
        float(np.linalg.norm(vb, axis=-1).max(initial=0.0)),
    )
    windows = _windows(horizon_s, speed)
    if len(windows) == 1:
        return _approach(pa, va, pb, vb, horizon_s=horizon_s, limit_m=limit_m)
    (start, span), rest = windows[0], windows[1:]
    best_t, best_d, best_e = _approach(pa, va, pb, vb, horizon_s=span, limit_m=limit_m)
    qa, wa, qb, wb = pa, va, pb, vb
    for start, span in rest:
        # From window to window, not from the start each time: the work grows with the
        # windows, not with their square.
        qa, wa = geodesy.advance(qa, wa, span)
        qb, wb = geodesy.advance(qb, wb, span)
        t, d, e = _approach(qa, wa, qb, wb, horizon_s=span, limit_m=limit_m)
        better = d < best_d
        best_t = np.where(better, t + start, best_t)
        best_d = np.where(better, d, best_d)
        best_e = np.where(better, e, best_e)
    return best_t, best_d, best_e


#: Longest run of a unit over one window of the horizon, metres: within it the distance
#: of a pair has one minimum and the closed form and its refinement hold.
WINDOW_M: Final = 200_000.0


def _windows(horizon_s: float, speed: float) -> list[tuple[float, float]]:
    """The horizon cut so that no unit runs more than :data:`WINDOW_M` in a window."""
    count = max(1, math.ceil(speed * horizon_s / WINDOW_M))
    span = horizon_s / count
    return [(k * span, span) for k in range(count)]


def _approach(
    pa: Array, va: Array, pb: Array, vb: Array, *, horizon_s: float, limit_m: float
) -> tuple[Array, Array, Array]:
    n = pa.shape[0]
    up_a, up_b = geodesy.normals(pa), geodesy.normals(pb)
    cols = [
        np.ascontiguousarray(c)
        for c in (
            *np.concatenate((pa, pb)).T,
            *np.concatenate((va, vb)).T,
            *np.concatenate((up_a, up_b)).T,
        )
    ]
    i, j = np.arange(n), np.arange(n, 2 * n)
    t, d, r0 = _linear(cols, i, j, horizon_s)
    travel_a = np.linalg.norm(va, axis=-1) * horizon_s
    travel_b = np.linalg.norm(vb, axis=-1) * horizon_s
    err = _linear_error(r0, travel_a, travel_b, _sag(travel_a), _sag(travel_b), limit_m)
    doubt = (np.abs(d - limit_m) <= err) | (err > _EXACT * limit_m)
    if doubt.any():
        k = np.flatnonzero(doubt)
        t[k], d[k] = _refine(pa[k], va[k], pb[k], vb[k], t[k], horizon_s)
        err[k] = 0.0
    return t, d, err


def _bands(alt: Array, vertical_m: float | None) -> tuple[IntArray, IntArray]:
    """The altitude bands each unit lies in: the half-open ``[alt - V/2, alt + V/2)``.

    Two such intervals overlap exactly when the altitudes differ by less than
    V, so a pair that could conflict shares a band. The bands are offset by
    half a band so that altitudes on a multiple of V (flight levels against
    1,000 ft) lie in one band; a ratio within 1e-9 of a whole number is taken
    as whole, so rounding does not spread them over two; and so that this
    never parts a pair that is vertically close, "below V" means below
    V(1 - 1e-9) (:data:`_VERTICAL_EDGE`). A unit without altitude lies in
    every band.
    """
    n = alt.shape[0]
    has_alt = ~np.isnan(alt)
    if vertical_m is None or not has_alt.any():
        zero = np.zeros(n, np.int64)
        return zero, zero
    start = np.where(has_alt, alt, 0.0) / vertical_m
    snapped = np.round(start)
    start = np.where(np.abs(start - snapped) < 1e-10, snapped, start)
    lo, hi = np.floor(start).astype(np.int64), np.ceil(start).astype(np.int64)
    return (
        np.where(has_alt, lo, lo[has_alt].min()),
        np.where(has_alt, hi, hi[has_alt].max()),
    )


def screen(traffic: Traffic, thresholds: Thresholds) -> Conflicts:
    """Every conflict in ``traffic`` within the horizon, each pair once with ``a < b``.

    When a unit runs more than :data:`WINDOW_M` over the horizon, the horizon
    is screened window by window, every unit moved along the ground to each
    window's start, and each pair keeps its least distance.
    """
    speed = float(np.linalg.norm(traffic.velocity, axis=-1).max(initial=0.0))
    windows = _windows(thresholds.horizon_s, speed)
    if len(windows) == 1:
        return _screen(traffic, thresholds)
    best: dict[tuple[int, int], tuple[float, float]] = {}
    moved = traffic
    for start, span in windows:
        if start:  # on from the previous window's start, one window's run
            pos, vel = geodesy.advance(moved.position, moved.velocity, span)
            moved = Traffic(pos, vel, traffic.alt_m, traffic.group)
        found = _screen(moved, Thresholds(thresholds.horizontal_m, span, thresholds.vertical_m))
        for a, b, t, d in zip(
            found.a.tolist(),
            found.b.tolist(),
            found.tcpa_s.tolist(),
            found.dcpa_m.tolist(),
            strict=True,
        ):
            held = best.get((a, b))
            if held is None or d < held[1]:
                best[(a, b)] = (t + start, d)
    keys = sorted(best)
    return Conflicts(
        np.array([k[0] for k in keys], dtype=np.int64),
        np.array([k[1] for k in keys], dtype=np.int64),
        np.array([best[k][0] for k in keys]),
        np.array([best[k][1] for k in keys]),
    )


def _screen(traffic: Traffic, thresholds: Thresholds) -> Conflicts:
    n = len(traffic)
    empty = Conflicts(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
    if n < 2 or len(np.unique(traffic.group)) < 2:
        return empty
    h = thresholds.horizon_s
    limit = thresholds.horizontal_m
    up = geodesy.normals(traffic.position)
    rot = _rotation(up.sum(axis=0))
    p = traffic.position @ rot.T
    v = traffic.velocity @ rot.T
    u = up @ rot.T
    travel = np.linalg.norm(traffic.velocity, axis=-1) * h
    sag = _sag(travel)
    grow = (limit / 2 + sag + _SLACK_M)[:, None]
    end = p + v * h
    # Every unit stays on the ground, within A of the centre on every axis: a box need
    # not reach beyond (a tangent run far enough leaves the Earth).
    edge = geodesy.A + limit
    lo = np.maximum(np.minimum(p, end) - grow, -edge)
    hi = np.minimum(np.maximum(p, end) + grow, edge)
    alt = traffic.alt_m
    band_lo, band_hi = _bands(alt, thresholds.vertical_m)
    bands = band_hi - band_lo + 1
    budget = 16 * n + 1_000_000
    if int(bands.sum()) > budget // 4:
        # Altitudes spread over too many bands for units without one: no bands (the
        # vertical threshold is still applied to every pair).
        band_lo = band_hi = np.zeros(n, np.int64)
        bands = np.ones(n, np.int64)
    strip = float(max(np.median(hi[:, 1] - lo[:, 1]), limit))
    while int(((np.floor(hi[:, 1] / strip) - np.floor(lo[:, 1] / strip) + 1) * bands).sum()) > (
        budget
    ):
        strip *= 2  # a few very long boxes among short ones: fewer, wider strips
    cols = [np.ascontiguousarray(c) for c in (*p.T, *v.T, *u.T)]
    y_lo, y_hi, z_lo, z_hi = (
        np.ascontiguousarray(c) for c in (lo[:, 1], hi[:, 1], lo[:, 2], hi[:, 2])
    )
    group = traffic.group
    found_a, found_b, found_t, found_d = [], [], [], []
    for i, j in _sweep_pairs(lo, hi, band_lo, band_hi, strip):
        keep = group[i] != group[j]
        if thresholds.vertical_m is not None:
            keep &= ~(np.abs(alt[i] - alt[j]) >= thresholds.vertical_m * _VERTICAL_EDGE)
        i, j = i[keep], j[keep]
        keep = (
            (y_lo[i] <= y_hi[j])
            & (y_lo[j] <= y_hi[i])
            & (z_lo[i] <= z_hi[j])
            & (z_lo[j] <= z_hi[i])
        )
        i, j = i[keep], j[keep]
        if not i.size:
            continue
        t, d, r0 = _linear(cols, i, j, h)
        err = _linear_error(r0, travel[i], travel[j], sag[i], sag[j], limit)
        near = d - err < limit
        i, j, t, d, err = i[near], j[near], t[near], d[near], err[near]
        if not i.size:
            continue
        # Refined on the ground: pairs the linear estimate leaves in doubt, and hits whose
        # estimate may be off by more than _EXACT of the threshold.
        doubt = (d + err >= limit) | (err > _EXACT * limit)
        if doubt.any():
            k = np.flatnonzero(doubt)
            pos, vel = traffic.position, traffic.velocity
            t[k], d[k] = _refine(pos[i[k]], vel[i[k]], pos[j[k]], vel[j[k]], t[k], h)
        hit = d < limit
        found_a.append(i[hit])
        found_b.append(j[hit])
        found_t.append(t[hit])
        found_d.append(d[hit])
    if not found_a:
        return empty
    a, b = np.concatenate(found_a), np.concatenate(found_b)
    order = np.lexsort((b, a))
    return Conflicts(
        a[order], b[order], np.concatenate(found_t)[order], np.concatenate(found_d)[order]
    )


def _linear_error(
    r0: Array, travel_a: Array, travel_b: Array, sag_a: Array, sag_b: Array, limit: float
) -> Array:
    """A bound on how far the linear estimate of a distance near ``limit`` is from the ground's.

    Each unit leaves the ground along its tangent by its sag, in a direction
    that leans from the pair's vertical by at most the angle it and half the
    pair's distance subtend at the Earth's centre; the tangent also runs ahead
    of the ground track by ``s³/3R²`` (counted in the sag); and a distance
    measured in the plane of the starting midpoint rather than its own falls
    short by ``d φ²/2`` and of the arc by ``d³/24R²``.
    """
    r = geodesy.MIN_RADIUS
    lean_a = (r0 / 2 + travel_a) / r
    lean_b = (r0 / 2 + travel_b) / r
    tilt = (travel_a + travel_b) / (2 * r)
    err: Array = sag_a * lean_a + sag_b * lean_b + limit * tilt * tilt / 2 + limit**3 / (24 * r * r)
    return err + travel_a**3 / (3 * r * r) + travel_b**3 / (3 * r * r) + 1e-6 * limit


def _linear(
    cols: list[Array], i: IntArray, j: IntArray, horizon_s: float
) -> tuple[Array, Array, Array]:
    """:func:`closest_approach` on column arrays (x, y, z of position, velocity, up).

    Returns ``(tcpa, dcpa, distance now)``.
    """
    px, py, pz, vx, vy, vz, ux, uy, uz = cols
    rx, ry, rz = px[j] - px[i], py[j] - py[i], pz[j] - pz[i]
    wx, wy, wz = vx[j] - vx[i], vy[j] - vy[i], vz[j] - vz[i]
    nx, ny, nz = ux[i] + ux[j], uy[i] + uy[j], uz[i] + uz[j]
    nn = nx * nx + ny * ny + nz * nz
    rn = (rx * nx + ry * ny + rz * nz) / nn
    wn = (wx * nx + wy * ny + wz * nz) / nn
    rx, ry, rz = rx - rn * nx, ry - rn * ny, rz - rn * nz
    wx, wy, wz = wx - wn * nx, wy - wn * ny, wz - wn * nz
    ww = wx * wx + wy * wy + wz * wz
    rw = rx * wx + ry * wy + rz * wz
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(ww > 0, -rw / np.where(ww > 0, ww, 1.0), 0.0)
    t = np.clip(t, 0.0, horizon_s)
    dx, dy, dz = rx + wx * t, ry + wy * t, rz + wz * t
    return t, np.sqrt(dx * dx + dy * dy + dz * dz), np.sqrt(rx * rx + ry * ry + rz * rz)
