"""Benchmark close-approach screening: air against BlueSky, sea at 100,000 vessels, one report.

Figures, each beside a reference measured in the same run where there is one:

* air: 16,000 aircraft placed uniformly in a 1,000 km square centred on
  50° N 10° E, at flight levels 290-410 (1,000 ft steps, FL × 100 × 0.3048
  m), level, ground speeds 200-260 m/s on uniform tracks; thresholds 5 NM
  (9,260 m) and 1,000 ft (304.8 m), 300 s ahead; every aircraft its own
  group, so that every pair counts, as in BlueSky. Ours:
  :meth:`Traffic.from_columns` then :func:`screen`, best of several runs.
  Reference: BlueSky's C state-based detection
  (``bluesky.traffic.asas.cstatebased.detect``, every ordered pair), on the
  same columns (goal: ours 50 times as fast or more). The pairs are compared,
  and each pair only one side finds is put down to its cause: the two
  rules agree for level flight (both ask whether the pair comes within the
  threshold during [0, 300 s]) but BlueSky measures on a sphere of 6,371
  km in a flat frame per pair, and counts two aircraft a flight level apart
  as vertically close when their altitudes' difference rounds below 304.8
  m. Where pyproj is installed, the pairs in dispute are settled on WGS 84
  geodesics (:class:`pyproj.Geod`), sampled every second and then every
  10 ms around the least distance.
* check: at a smaller size with the same density, the pairs :func:`screen`
  finds equal those of every pair tried without pruning (the linear
  :func:`closest_approach` of all pairs, then :func:`approach`, which
  decides as :func:`screen` does, for those within twice the threshold);
  once for aircraft, once for vessels.
* sea: 100,000 vessels in a 2,000 km square centred on 36° N 18° E, half
  placed uniformly and half in 20 clusters of 50 km radius, speeds 0-12 m/s,
  three parties, 2 km threshold, 20 minutes ahead (goal: under 2 s on one
  core). Then, if :mod:`detente.tracks.incremental` is there, a
  :class:`Screener` loaded with the same 100,000 reports (the pairs it
  returns while loading are checked against :func:`screen`'s) takes 10,000
  reports of random vessels over the next minute, each timed (goal: median
  under 1 ms).

Sizes other than the full ones keep the density: the square's side (and
the clusters' radius) scale with the square root of the count. Everything
runs in one thread pinned to one CPU where the OS allows; the BLAS and
OpenMP thread counts are set to 1 before numpy is imported. The garbage
collector is off for the whole run, as in the other scripts.

Usage:
    python benchmarks/bench_screening.py [--quick] [--seed S] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.metadata
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402

from _report import Report  # noqa: E402
from detente.tracks import geodesy  # noqa: E402
from detente.tracks.screen import (  # noqa: E402
    Thresholds,
    Traffic,
    approach,
    closest_approach,
    screen,
)

AIR_CENTRE = (50.0, 10.0)
SEA_CENTRE = (36.0, 18.0)
AIR = Thresholds(horizontal_m=9260.0, horizon_s=300.0, vertical_m=304.8)
SEA = Thresholds(horizontal_m=2000.0, horizon_s=1200.0)
PARTIES = ("us", "ru", "nato")
#: BlueSky's Earth radius for distances (bluesky/tools/geo/src_cpp/geo.hpp, ``re``).
BLUESKY_RE = 6371000.0
#: How :func:`screen` reads "below the vertical threshold" (its ``_bands`` docstring).
VERTICAL_EDGE = 1 - 1e-9


@dataclass(frozen=True)
class Fleet:
    """Report columns of a synthetic fleet, as both screeners are fed them."""

    lat: np.ndarray
    lon: np.ndarray
    trk: np.ndarray
    gs: np.ndarray
    alt: np.ndarray | None
    group: np.ndarray

    def __len__(self) -> int:
        return int(self.lat.shape[0])

    def traffic(self) -> Traffic:
        return Traffic.from_columns(
            lat=self.lat,
            lon=self.lon,
            course_deg=self.trk,
            speed_mps=self.gs,
            group=self.group,
            alt_m=self.alt,
        )


def _plane_to_latlon(
    x: np.ndarray, y: np.ndarray, centre: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Points of the tangent plane at ``centre`` (east, north metres), dropped onto WGS 84."""
    lat0, lon0 = np.array([centre[0]]), np.array([centre[1]])
    east, north, _ = geodesy.enu_basis(lat0, lon0)
    xyz = geodesy.ecef(lat0, lon0) + x[:, None] * east + y[:, None] * north
    return geodesy.to_latlon(xyz)


def air_fleet(n: int, rng: np.random.Generator) -> Fleet:
    """``n`` level aircraft, each its own group (module docstring)."""
    side = 1_000e3 * np.sqrt(n / 16_000)
    x, y = rng.uniform(-side / 2, side / 2, (2, n))
    lat, lon = _plane_to_latlon(x, y, AIR_CENTRE)
    level = rng.integers(29, 42, n) * 10
    return Fleet(
        lat=lat,
        lon=lon,
        trk=rng.uniform(0.0, 360.0, n),
        gs=rng.uniform(200.0, 260.0, n),
        alt=level * 100 * 0.3048,
        group=np.arange(n),
    )


def sea_fleet(n: int, rng: np.random.Generator) -> Fleet:
    """``n`` vessels of three parties, half uniform and half in 20 clusters."""
    scale = np.sqrt(n / 100_000)
    side, radius = 2_000e3 * scale, 50e3 * scale
    spread = n // 2
    x, y = rng.uniform(-side / 2, side / 2, (2, n))
    centres = rng.uniform(-side / 2 + radius, side / 2 - radius, (20, 2))
    which = rng.integers(0, 20, n - spread)
    r = radius * np.sqrt(rng.uniform(0.0, 1.0, n - spread))
    theta = rng.uniform(0.0, 2 * np.pi, n - spread)
    x[spread:] = centres[which, 0] + r * np.cos(theta)
    y[spread:] = centres[which, 1] + r * np.sin(theta)
    lat, lon = _plane_to_latlon(x, y, SEA_CENTRE)
    return Fleet(
        lat=lat,
        lon=lon,
        trk=rng.uniform(0.0, 360.0, n),
        gs=rng.uniform(0.0, 12.0, n),
        alt=None,
        group=rng.integers(0, len(PARTIES), n),
    )


def _pin() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def _best(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def _keys(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """Unordered pairs as sorted unique integers ``min * n + max``."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    return np.unique(np.minimum(a, b) * n + np.maximum(a, b))


def _ours(traffic: Traffic, i: np.ndarray, j: np.ndarray, h: float, limit: float) -> Any:
    """Our closest approach over [0, H] of chosen pairs, decided as :func:`screen` decides."""
    p, v = traffic.position, traffic.velocity
    return approach(p[i], v[i], p[j], v[j], horizon_s=h, limit_m=limit)[:2]


def exhaustive(traffic: Traffic, thresholds: Thresholds) -> np.ndarray:
    """Our definition on every pair, without pruning: the pairs it makes conflicts, as keys."""
    n, h, limit = len(traffic), thresholds.horizon_s, thresholds.horizontal_m
    ii, jj = np.triu_indices(n, 1)
    found = []
    for start in range(0, ii.shape[0], 1_000_000):
        i, j = ii[start : start + 1_000_000], jj[start : start + 1_000_000]
        keep = traffic.group[i] != traffic.group[j]
        if thresholds.vertical_m is not None:
            dalt = np.abs(traffic.alt_m[i] - traffic.alt_m[j])
            keep &= ~(dalt >= thresholds.vertical_m * VERTICAL_EDGE)
        i, j = i[keep], j[keep]
        p, v = traffic.position, traffic.velocity
        _, d = closest_approach(p[i], v[i], p[j], v[j], h)
        i, j = i[d < 2 * limit], j[d < 2 * limit]
        _, d = _ours(traffic, i, j, h, limit)
        found.append(_keys(i[d < limit], j[d < limit], n))
    return np.unique(np.concatenate(found))


def bluesky_geometry(f: Fleet, i: np.ndarray, j: np.ndarray, t: Thresholds) -> dict[str, Any]:
    """BlueSky's ``detect_hor`` and ``detect_ver`` (cstatebased.hpp) for pairs, in numpy.

    Returns its line's CPA and intrusion times, the rule ``detect`` applies
    to them, and its own least distance over [0, H] (the CPA time clipped).
    """
    lat1, lon1, lat2, lon2 = (np.radians(c) for c in (f.lat[i], f.lon[i], f.lat[j], f.lon[j]))
    trk1, trk2 = np.radians(f.trk[i]), np.radians(f.trk[j])
    du = f.gs[i] * np.sin(trk1) - f.gs[j] * np.sin(trk2)
    dv = f.gs[i] * np.cos(trk1) - f.gs[j] * np.cos(trk2)
    dlat, dlon, cav = lat2 - lat1, lon2 - lon1, np.cos(0.5 * (lat1 + lat2))
    d = BLUESKY_RE * np.sqrt(dlat * dlat + (dlon * cav) ** 2)  # kwikdist
    q = np.arctan2(dlon * cav, dlat)  # kwikqdr
    dx, dy = d * np.sin(q), d * np.cos(q)
    rv, vv = du * dx + dv * dy, du * du + dv * dv
    rpz, h = t.horizontal_m, t.horizon_s
    tcpa = rv / vv
    cpa2 = d * d - rv * tcpa
    dt = np.sqrt(np.maximum(rpz * rpz - cpa2, 0.0) / vv)
    tin, tout = tcpa - dt, tcpa + dt
    los = d < rpz
    assert f.alt is not None and t.vertical_m is not None
    vertical = np.abs(f.alt[i] - f.alt[j]) < t.vertical_m  # detect_ver, vs = 0
    start, end = np.maximum(tin, 0.0), np.minimum(tout, 1e4)
    hor = (los | (rv >= 0)) & (los | (tin <= h))
    rule = vertical & hor & (start <= h) & (start < end) & (tout > 0)
    tc = np.clip(tcpa, 0.0, h)
    least = np.sqrt(np.maximum(d * d - 2 * tc * rv + tc * tc * vv, 0.0))
    return {
        "tin": tin,
        "tout": tout,
        "dcpa": np.sqrt(np.maximum(cpa2, 0.0)),
        "least": least,
        "vertical": vertical,
        "rule": rule,
    }


def _least(where: Callable[[np.ndarray], np.ndarray], pairs: int, h: float) -> np.ndarray:
    """Least of ``where(t)`` (distances, shape (pairs, k)) over [0, H]: every 1 s, then 10 ms."""
    coarse = np.broadcast_to(np.linspace(0.0, h, int(h) + 1), (pairs, int(h) + 1))
    best = coarse[np.arange(pairs), np.argmin(where(coarse), axis=1)]
    fine = np.clip(best[:, None] + np.linspace(-1.0, 1.0, 201), 0.0, h)
    return np.asarray(where(fine).min(axis=1))


def geodesic_least(f: Fleet, i: np.ndarray, j: np.ndarray, h: float) -> np.ndarray | None:
    """Least WGS 84 distance over [0, H] of units moving along geodesics (pyproj), or None.

    Our motion model: each unit follows the geodesic that starts on its course.
    """
    try:
        import pyproj
    except ImportError:
        return None
    geod = pyproj.Geod(ellps="WGS84")

    def where(t: np.ndarray) -> np.ndarray:
        k = t.shape[1]
        a = [np.repeat(c, k) for c in (f.lon[i], f.lat[i], f.trk[i], f.gs[i])]
        b = [np.repeat(c, k) for c in (f.lon[j], f.lat[j], f.trk[j], f.gs[j])]
        lon_a, lat_a, _ = geod.fwd(a[0], a[1], a[2], a[3] * t.ravel())
        lon_b, lat_b, _ = geod.fwd(b[0], b[1], b[2], b[3] * t.ravel())
        return np.asarray(geod.inv(lon_a, lat_a, lon_b, lat_b)[2]).reshape(t.shape)

    return _least(where, i.size, h)


def _rhumb(f: Fleet, k: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude (radians) after ``t`` on a constant track, sphere of BLUESKY_RE."""
    phi0, lam0 = np.radians(f.lat[k])[:, None], np.radians(f.lon[k])[:, None]
    trk, gs = np.radians(f.trk[k])[:, None], f.gs[k][:, None]
    phi = phi0 + gs * np.cos(trk) * t / BLUESKY_RE
    with np.errstate(invalid="ignore", divide="ignore"):
        stretch = np.log(np.tan(np.pi / 4 + phi / 2) / np.tan(np.pi / 4 + phi0 / 2))
        lam = lam0 + np.tan(trk) * stretch
    east = np.abs(np.cos(trk)) < 1e-9
    lam = np.where(east, lam0 + gs * np.sin(trk) * t / (BLUESKY_RE * np.cos(phi0)), lam)
    return phi, lam


def rhumb_least(f: Fleet, i: np.ndarray, j: np.ndarray, h: float) -> np.ndarray:
    """Least great-circle distance over [0, H] on BlueSky's sphere, units keeping their track.

    BlueSky's own motion model: it moves aircraft at constant track (rhumb lines).
    """

    def where(t: np.ndarray) -> np.ndarray:
        pa, la = _rhumb(f, i, t)
        pb, lb = _rhumb(f, j, t)
        hav = np.sin((pb - pa) / 2) ** 2 + np.cos(pa) * np.cos(pb) * np.sin((lb - la) / 2) ** 2
        return np.asarray(2 * BLUESKY_RE * np.arcsin(np.sqrt(hav)))

    return _least(where, i.size, h)


def _span(x: np.ndarray, fmt: str = ",.1f") -> str:
    return "none" if not x.size else f"{x.min():{fmt}} to {x.max():{fmt}}"


def air(n: int, runs: int, bs_runs: int, rng: np.random.Generator, report: Report) -> list[str]:
    """The air figures and the comparison with BlueSky; the lines explaining it."""
    f = air_fleet(n, rng)
    t = AIR
    gc.collect()
    build, traffic = _best(f.traffic, runs)
    ours_s, found = _best(lambda: screen(f.traffic(), t), runs)
    ours = _keys(found.a, found.b, n)
    lines: list[str] = []
    try:
        with contextlib.redirect_stdout(sys.stderr):
            from bluesky.traffic.asas import cstatebased
    except ImportError:
        report.row(f"air: {n:,} aircraft, every pair (ms)", ours_s * 1e3, None, "", None, "", None)
        return ["air: BlueSky not installed (pip install -e '.[bench]'), no comparison"]
    ac = SimpleNamespace(
        lat=f.lat, lon=f.lon, trk=f.trk, gs=f.gs, alt=f.alt, vs=np.zeros(n), id=list(range(n))
    )
    zone = [np.full(n, x) for x in (t.horizontal_m, t.vertical_m, t.horizon_s)]
    bs_s, result = _best(lambda: cstatebased.detect(ac, ac, *zone), bs_runs)
    ordered = np.asarray(result[0], np.int64).reshape(-1, 2)
    both_ways = np.minimum(ordered[:, 0], ordered[:, 1]) * n + np.maximum(*ordered.T)
    theirs, seen = np.unique(both_ways, return_counts=True)
    speedup = bs_s / ours_s
    report.row(
        f"air: {n:,} aircraft, every pair (ms)",
        ours_s * 1e3,
        bs_s * 1e3,
        f"BlueSky {_version('bluesky-simulator')} cstatebased.detect (C)",
        speedup,
        ">= 50x BlueSky",
        speedup >= 50,
    )
    report.row("air: of which Traffic.from_columns (ms)", build * 1e3, None, "", None, "", None)
    common = np.intersect1d(ours, theirs)
    only_ours, only_bs = np.setdiff1d(ours, theirs), np.setdiff1d(theirs, ours)
    report.row(
        "air: pairs in conflict (unordered)",
        ours.size,
        theirs.size,
        "BlueSky's confpairs, both directions as one",
        ours.size / theirs.size if theirs.size else None,
        "",
        None,
    )
    report.row("air: pairs both find", common.size, None, "", None, "", None)
    report.row("air: pairs only ours find", only_ours.size, None, "", None, "", None)
    report.row("air: pairs only BlueSky finds", only_bs.size, None, "", None, "", None)
    lines.append(
        f"air: ours {ours.size:,} pairs, BlueSky {theirs.size:,} ({ordered.shape[0]:,} ordered,"
        f" {int((seen == 1).sum())} in one direction only); both {common.size:,},"
        f" only ours {only_ours.size:,}, only BlueSky {only_bs.size:,}"
    )
    # BlueSky-only pairs: why ours says no.
    i, j = only_bs // n, only_bs % n
    level = np.abs(f.alt[i] - f.alt[j]) >= t.vertical_m * VERTICAL_EDGE
    tc, dc = _ours(traffic, i, j, t.horizon_s, t.horizontal_m)
    hor = ~level
    lines.append(
        f"  only BlueSky, a flight level apart (|dalt| = 304.8 m less a rounding,"
        f" BlueSky |dalt| < hpz, ours below V(1 - 1e-9)): {int(level.sum()):,}"
    )
    lines.append(
        f"  only BlueSky, co-level, our least distance over [0, 300 s] >= 5 NM:"
        f" {int(hor.sum()):,}, by {_span(dc[hor] - t.horizontal_m)} m;"
        f" our nearest time now {int((tc[hor] == 0).sum())},"
        f" at 300 s {int((tc[hor] == t.horizon_s).sum())},"
        f" between {int(((tc[hor] > 0) & (tc[hor] < t.horizon_s)).sum())}"
    )
    # Ours-only pairs: what BlueSky's detect_hor makes of them.
    i, j = only_ours // n, only_ours % n
    g = bluesky_geometry(f, i, j, t)
    miss = g["dcpa"] >= t.horizontal_m
    late = ~miss & (g["tin"] > t.horizon_s)
    gone = ~miss & ~late & (g["tout"] <= 0)
    other = ~(miss | late | gone)
    lines.append(
        f"  only ours, BlueSky's line CPA >= 5 NM: {int(miss.sum()):,}"
        f" (its dcpa exceeds by {_span(g['dcpa'][miss] - t.horizontal_m)} m);"
        f" intrusion starts after 300 s: {int(late.sum()):,} (tin {_span(g['tin'][late])} s);"
        f" ended before now (tout <= 0): {int(gone.sum()):,}; other: {int(other.sum()):,}"
    )
    # The rules agree for level flight: BlueSky's verdict equals its own least distance.
    wide = screen(traffic, Thresholds(2 * t.horizontal_m, t.horizon_s, 1.5 * t.vertical_m))
    cand = np.union1d(np.union1d(_keys(wide.a, wide.b, n), theirs), ours)
    i, j = cand // n, cand % n
    g = bluesky_geometry(f, i, j, t)
    port = np.isin(cand, theirs)
    same = g["vertical"] & (g["least"] < t.horizontal_m)
    lines.append(
        f"  on {cand.size:,} candidate pairs: our numpy port of detect_hor/detect_ver"
        f" differs from BlueSky's C in {int((g['rule'] != port).sum())};"
        f" BlueSky's tin/tout rule differs from 'its least distance over [0, 300 s] < 5 NM'"
        f" in {int((same != port).sum())}"
    )
    # Disputed co-level pairs settled under each motion model.
    disputed = np.union1d(only_ours, only_bs[hor])
    i, j = disputed // n, disputed % n
    is_ours = np.isin(disputed, ours)
    sample = rng.choice(ours, min(500, ours.size), replace=False)
    si, sj = sample // n, sample % n
    _, ours_d = _ours(traffic, si, sj, t.horizon_s, t.horizontal_m)
    bs_d = bluesky_geometry(f, si, sj, t)["least"]
    rhumb = rhumb_least(f, si, sj, t.horizon_s)
    says = (rhumb_least(f, i, j, t.horizon_s) < t.horizontal_m) == is_ours
    lines.append(
        f"  constant track (rhumb lines, BlueSky's sphere): of {disputed.size:,} co-level pairs"
        f" in dispute, ours right on {int(says.sum()):,}, BlueSky on {int((~says).sum()):,};"
        f" on {sample.size} of our pairs, least distance off by at most"
        f" {np.abs(ours_d - rhumb).max():.1f} m (ours), {np.abs(bs_d - rhumb).max():.1f} m"
        f" (BlueSky)"
    )
    truth = geodesic_least(f, i, j, t.horizon_s)
    exact = geodesic_least(f, si, sj, t.horizon_s)
    if truth is not None and exact is not None:
        says = (truth < t.horizontal_m) == is_ours
        lines.append(
            f"  geodesics (pyproj, WGS 84): of the {disputed.size:,}, ours right on"
            f" {int(says.sum()):,}, BlueSky on {int((~says).sum()):,}; on the {sample.size},"
            f" off by at most {np.abs(ours_d - exact).max():.2f} m (ours),"
            f" {np.abs(bs_d - exact).max():.1f} m (BlueSky)"
        )
    return lines


def check(fleet: Fleet, thresholds: Thresholds, what: str, report: Report) -> None:
    traffic = fleet.traffic()
    found = screen(traffic, thresholds)
    got = _keys(found.a, found.b, len(fleet))
    every = exhaustive(traffic, thresholds)
    report.row(
        f"check: {len(fleet):,} {what}, pairs vs no pruning",
        got.size,
        every.size,
        "every pair, no pruning",
        got.size / every.size if every.size else None,
        "equal sets",
        bool(np.array_equal(got, every)),
    )


def sea(n: int, updates: int, runs: int, rng: np.random.Generator, report: Report) -> list[str]:
    f = sea_fleet(n, rng)
    gc.collect()
    full_s, found = _best(lambda: screen(f.traffic(), SEA), runs)
    report.row(
        f"sea: {n:,} vessels, 3 parties (ms)",
        full_s * 1e3,
        None,
        "",
        None,
        "< 2,000 ms, 1 core",
        full_s < 2 if n >= 100_000 else None,
    )
    report.row("sea: pairs in conflict", len(found), None, "", None, "", None)
    try:
        from detente.tracks.incremental import Screener
    except ImportError:
        return ["incremental: not available"]
    ids = [f"v{k}" for k in range(n)]
    screener = Screener(SEA)
    loaded: set[tuple[str, str]] = set()
    start = time.perf_counter()
    for k in range(n):
        hits = screener.update(
            ids[k],
            party=PARTIES[int(f.group[k])],
            lat=float(f.lat[k]),
            lon=float(f.lon[k]),
            course_deg=float(f.trk[k]),
            speed_mps=float(f.gs[k]),
            time=0.0,
        )
        loaded.update((h.a, h.b) for h in hits if h.dcpa_m < SEA.horizontal_m)
    load_s = time.perf_counter() - start
    expected = {tuple(sorted((ids[a], ids[b]))) for a, b in zip(found.a, found.b, strict=True)}
    # Random vessels report over the next minute, moved on from where they were at time 0.
    who = rng.integers(0, n, updates)
    at = np.sort(rng.uniform(0.0, 60.0, updates))
    traffic = f.traffic()
    pos, _ = geodesy.advance(traffic.position[who], traffic.velocity[who], at)
    lat, lon = geodesy.to_latlon(pos)
    course = (f.trk[who] + rng.uniform(-10.0, 10.0, updates)) % 360
    speed = np.clip(f.gs[who] + rng.uniform(-0.5, 0.5, updates), 0.0, 12.0)
    times, returned = [], 0
    for k in range(updates):
        unit = int(who[k])
        begin = time.perf_counter()
        hits = screener.update(
            ids[unit],
            party=PARTIES[int(f.group[unit])],
            lat=float(lat[k]),
            lon=float(lon[k]),
            course_deg=float(course[k]),
            speed_mps=float(speed[k]),
            time=float(at[k]),
        )
        times.append(time.perf_counter() - begin)
        returned += len(hits)
    p50 = statistics.median(times) * 1e6
    p99 = float(np.percentile(times, 99)) * 1e6
    report.row(
        f"sea: one report, Screener of {n:,}, median (us)",
        p50,
        full_s * 1e6,
        "full screen",
        full_s * 1e6 / p50,
        "< 1,000 us",
        p50 < 1000,
    )
    report.row("sea: one report, p99 (us)", p99, None, "", None, "", None)
    report.row("sea: one report, slowest (us)", max(times) * 1e6, None, "", None, "", None)
    report.row(f"sea: loading {n:,} reports one by one (s)", load_s, None, "", None, "", None)
    return [
        f"incremental: loading returned {len(loaded):,} pairs under 2 km, screen {len(expected):,},"
        f" same: {loaded == expected}; {returned / updates:.1f} pairs returned per report"
    ]


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--aircraft", type=int, default=16_000)
    parser.add_argument("--vessels", type=int, default=100_000)
    parser.add_argument("--updates", type=int, default=10_000)
    parser.add_argument("--check-aircraft", type=int, default=2_000)
    parser.add_argument("--check-vessels", type=int, default=3_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--quick", action="store_true", help="a smoke run: about 1/8 size")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    runs, bs_runs = 5, 2
    if args.quick:
        args.aircraft, args.vessels, args.updates = 2_000, 10_000, 1_000
        args.check_aircraft, args.check_vessels = 500, 1_000
        runs, bs_runs = 3, 1
    _pin()
    gc.disable()
    rng = np.random.default_rng(args.seed)
    report = Report()
    lines = air(args.aircraft, runs, bs_runs, rng, report)
    check(air_fleet(args.check_aircraft, rng), AIR, "aircraft", report)
    check(sea_fleet(args.check_vessels, rng), SEA, "vessels", report)
    lines += sea(args.vessels, args.updates, max(1, runs - 2), rng, report)
    facts = {
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, pinned to 1",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "bluesky": _version("bluesky-simulator"),
        "pyproj": _version("pyproj"),
        "seed": args.seed,
    }
    if args.json:
        report.print_json(**facts, notes=lines)
    else:
        report.print_table("screening: " + ", ".join(f"{k} {v}" for k, v in facts.items()))
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
