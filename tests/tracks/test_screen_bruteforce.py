"""``detente tracks screen`` against an independent brute force on the WGS 84 ellipsoid.

The brute force shares no code with :mod:`detente.tracks`: every unit moves
along the geodesic that leaves its reported position on its course
(``pyproj.Geod.fwd``), from its own report time to the newest time in the
file and then over the horizon; distances are geodesic (``Geod.inv``). For
every pair of units of different parties the least distance over ``[0, H]``
is found to centimetres. On a grid fine enough that the two units close by
at most half the threshold between its points, the triangle inequality
bounds the distance from below between points (it cannot change faster
than the two speeds together): a pair whose bound stays beyond the
threshold and its 0.5 % band is out for certain. The others have their
minimum searched by bounded Brent minimisation around the lowest dips of
the grid.

Each scenario writes a JSON-lines file, runs the real command in-process,
checks that it prints what ``batch.screen_reports`` returns, and compares
both with the brute force.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

import numpy as np
import pyproj
import pytest
from scipy.optimize import minimize_scalar
from typer.testing import CliRunner

from detente.cli.app import app
from detente.tracks.batch import read_reports, screen_reports

GEOD = pyproj.Geod(ellps="WGS84")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PARTIES = ("cn", "ru", "us")
#: The distance tolerance the issue grants: distances exact on the ellipsoid to 0.5 %. A
#: pair whose true closest approach lies within 0.5 % of the threshold may be called either
#: way; outside that band the call must be right.
TOLERANCE = 0.005
#: One flight level, metres (1,000 ft).
FOOT_1000 = 304.8

runner = CliRunner()


@dataclass(frozen=True)
class Unit:
    """One report as the file carries it; ``age_s`` is how long before NOW it was made."""

    id: str
    party: str
    lat: float
    lon: float
    course_deg: float
    speed_mps: float
    alt_m: float | None = None
    age_s: float = 0.0

    def to_line(self) -> str:
        report = {
            "id": self.id,
            "party": self.party,
            "time": (NOW - timedelta(seconds=self.age_s))
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "lat": self.lat,
            "lon": self.lon,
            "course_deg": self.course_deg,
            "speed_mps": self.speed_mps,
        }
        if self.alt_m is not None:
            report["alt_m"] = self.alt_m
        return json.dumps(report)


class Approach(NamedTuple):
    tcpa_s: float
    dcpa_m: float


# -- the brute force ---------------------------------------------------------------------


def from_newest(units: list[Unit]) -> list[Unit]:
    """The units with ``age_s`` counted from the newest report, the instant screened."""
    newest = min(u.age_s for u in units)
    return [replace(u, age_s=u.age_s - newest) for u in units]


def _positions(units: list[Unit], t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes and latitudes of every unit ``t`` seconds on, each (units, times).

    Each unit goes ``speed × (age + t)`` along the geodesic that leaves its
    reported position on its course.
    """
    shape = (len(units), t.shape[0])

    def column(name: str) -> np.ndarray:
        values = np.array([[getattr(u, name)] for u in units], dtype=np.float64)
        return np.broadcast_to(values, shape).ravel()

    travelled = column("speed_mps") * (column("age_s") + np.broadcast_to(t, shape).ravel())
    lon, lat, _ = GEOD.fwd(column("lon"), column("lat"), column("course_deg"), travelled)
    return np.reshape(lon, shape), np.reshape(lat, shape)


def distance_at(a: Unit, b: Unit, t: float) -> float:
    """Geodesic distance between two units (ages from the newest report) ``t`` seconds on."""
    lon, lat = _positions([a, b], np.array([t]))
    return float(GEOD.inv(lon[0, 0], lat[0, 0], lon[1, 0], lat[1, 0])[2])


def _vertically_close(a: Unit, b: Unit, vertical_m: float | None) -> bool:
    """Whether altitude leaves the pair to be screened, in exact decimal arithmetic.

    The file carries decimals (10668.0, 10972.8); their float difference may
    fall a rounding below 304.8 m, but two flight levels are not below one
    flight level apart.
    """
    if vertical_m is None or a.alt_m is None or b.alt_m is None:
        return True
    gap = abs(Decimal(repr(a.alt_m)) - Decimal(repr(b.alt_m)))
    return gap < Decimal(repr(vertical_m))


def _least_distance(a: Unit, b: Unit, times: np.ndarray, grid: np.ndarray) -> Approach:
    """The least distance of one pair over the grid's span, from the distances on the grid.

    The grid is fine enough that the distance moves by at most half the
    threshold between its points, so every approach shows as a local minimum
    of the samples; each of the lowest few is searched by bounded Brent
    minimisation over the intervals either side of it.
    """
    best = Approach(float(times[np.argmin(grid)]), float(grid.min()))
    last = times.shape[0] - 1
    if last == 0:
        return best
    padded = np.concatenate(([np.inf], grid, [np.inf]))
    dips = np.flatnonzero((grid <= padded[:-2]) & (grid <= padded[2:]))
    for k in dips[np.argsort(grid[dips])][:4]:
        found = minimize_scalar(
            lambda t: distance_at(a, b, t),
            bounds=(float(times[max(k - 1, 0)]), float(times[min(k + 1, last)])),
            method="bounded",
            options={"xatol": 1e-4},
        )
        if found.fun < best.dcpa_m:
            best = Approach(float(found.x), float(found.fun))
    return best


def brute_force(
    units: list[Unit], *, horizon_s: float, cpa_m: float, vertical_m: float | None = None
) -> dict[tuple[str, str], Approach]:
    """Every pair that may come within ``cpa_m (1 + TOLERANCE)``, with its exact approach.

    Pairs left out are known (by the grid's lower bound) to stay farther
    than that, or are of one party, or are vertically separated.
    """
    units = from_newest(units)
    pairs = [
        (i, j)
        for i in range(len(units))
        for j in range(i + 1, len(units))
        if units[i].party != units[j].party and _vertically_close(units[i], units[j], vertical_m)
    ]
    if not pairs:
        return {}
    top_speed = max(u.speed_mps for u in units)
    steps = 1 if top_speed == 0 else max(1, math.ceil(horizon_s * 4 * top_speed / cpa_m))
    times = np.linspace(0.0, horizon_s, steps + 1) if horizon_s > 0 else np.zeros(1)
    lon, lat = _positions(units, times)
    first, second = np.array(pairs).T
    _, _, metres = GEOD.inv(
        lon[first].ravel(), lat[first].ravel(), lon[second].ravel(), lat[second].ravel()
    )
    grid = np.reshape(metres, (len(pairs), times.shape[0]))
    speeds = np.array([units[i].speed_mps + units[j].speed_mps for i, j in pairs])
    if times.shape[0] > 1:
        bound = (grid[:, :-1] + grid[:, 1:] - speeds[:, None] * np.diff(times)) / 2
        lowest = bound.min(axis=1)
    else:
        lowest = grid[:, 0]
    out = {}
    for k in np.flatnonzero(lowest < cpa_m * (1 + TOLERANCE)):
        i, j = pairs[k]
        approach = _least_distance(units[i], units[j], times, grid[k])
        if approach.dcpa_m < cpa_m * (1 + TOLERANCE):
            out[tuple(sorted((units[i].id, units[j].id)))] = approach
    return out


# -- the command under test --------------------------------------------------------------


def screened(
    tmp_path, units: list[Unit], *, horizon_s: float, cpa_m: float, vertical_m=None, extra=()
) -> dict[tuple[str, str], Approach]:
    """What ``detente tracks screen --format json`` prints, checked against ``screen_reports``."""
    path = tmp_path / "reports.jsonl"
    path.write_text("".join(line + "\n" for line in [*(u.to_line() for u in units), *extra]))
    args = ["tracks", "screen", "--input", str(path), "--horizon", repr(horizon_s)]
    args += ["--cpa-m", repr(cpa_m), "--format", "json"]
    if vertical_m is not None:
        args += ["--vertical-m", repr(vertical_m)]
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    with path.open("rb") as stream:
        read = read_reports(stream, name=str(path))
    direct = screen_reports(
        read.reports, horizon_s=horizon_s, horizontal_m=cpa_m, vertical_m=vertical_m
    )
    assert printed == [alert.to_json() for alert in direct]
    found = {}
    for alert in printed:
        assert alert["a"] < alert["b"]
        assert (alert["a"], alert["b"]) not in found
        found[alert["a"], alert["b"]] = Approach(alert["tcpa_s"], alert["dcpa_m"])
    return found


def assert_matches(
    found: dict[tuple[str, str], Approach],
    truth: dict[tuple[str, str], Approach],
    units: list[Unit],
    *,
    horizon_s: float,
    cpa_m: float,
) -> None:
    """The screen found what the brute force finds, with its geometry."""
    missed = {p: a for p, a in truth.items() if a.dcpa_m < cpa_m * (1 - TOLERANCE)}
    missed = {p: a for p, a in missed.items() if p not in found}
    assert not missed, f"pairs the brute force finds and the screen misses: {missed}"
    extra = {p: a for p, a in found.items() if p not in truth}
    assert not extra, f"pairs reported that stay beyond, are of one party or apart: {extra}"
    by_id = {u.id: u for u in from_newest(units)}
    for pair, got in found.items():
        want = truth[pair]
        # 0.5 % of the distance, but never less than 0.1 % of the threshold: near a crossing
        # the least distance is a few metres and a relative error means nothing, while an
        # error well inside the 0.5 % band of the threshold cannot change a call.
        slack = max(TOLERANCE * want.dcpa_m, 1e-3 * cpa_m)
        assert got.dcpa_m == pytest.approx(want.dcpa_m, abs=slack), (pair, got, want)
        assert 0 <= got.tcpa_s <= horizon_s, (pair, got)
        # The reported time is a time at which the pair is that near.
        there = distance_at(by_id[pair[0]], by_id[pair[1]], got.tcpa_s)
        assert there <= want.dcpa_m + slack, (pair, got, want, there)
        # Where the minimum is sharp (the distance rises past the slack within 3 s on
        # either side), the time itself must agree to 3 s.
        sides = [t for t in (want.tcpa_s - 3, want.tcpa_s + 3) if 0 <= t <= horizon_s]
        rises = [distance_at(by_id[pair[0]], by_id[pair[1]], t) for t in sides]
        if all(d > want.dcpa_m + slack for d in rises):
            assert got.tcpa_s == pytest.approx(want.tcpa_s, abs=3), (pair, got, want)


def check(tmp_path, units, *, horizon_s, cpa_m, vertical_m=None, extra=()):
    """Screen ``units`` both ways and against the brute force; the pairs the brute force finds."""
    found = screened(
        tmp_path, units, horizon_s=horizon_s, cpa_m=cpa_m, vertical_m=vertical_m, extra=extra
    )
    truth = brute_force(units, horizon_s=horizon_s, cpa_m=cpa_m, vertical_m=vertical_m)
    assert_matches(found, truth, units, horizon_s=horizon_s, cpa_m=cpa_m)
    return found, truth


# -- traffic -----------------------------------------------------------------------------


def _course(value: float) -> float:
    course = float(value) % 360.0
    return 0.0 if course >= 360.0 else course


def _lon(value: float) -> float:
    return float((value + 180.0) % 360.0 - 180.0)


def random_traffic(
    rng: np.random.Generator,
    n: int,
    *,
    lat: tuple[float, float],
    lon: tuple[float, float],
    speed: tuple[float, float],
    prefix: str = "u",
) -> list[Unit]:
    """``n`` units uniformly in a box, on random courses, with ids not in index order."""
    ids = rng.permutation(n)
    return [
        Unit(
            id=f"{prefix}{ids[k]:04d}",
            party=str(rng.choice(PARTIES)),
            lat=float(rng.uniform(*lat)),
            lon=_lon(rng.uniform(*lon)),
            course_deg=_course(rng.uniform(0, 360)),
            speed_mps=float(rng.uniform(*speed)),
        )
        for k in range(n)
    ]


def ahead(lead: Unit, distance_m: float, *, id: str, party: str) -> Unit:
    """A unit ``distance_m`` ahead of ``lead`` on the geodesic it follows, as fast."""
    lon, lat, back = GEOD.fwd(lead.lon, lead.lat, lead.course_deg, distance_m)
    return replace(lead, id=id, party=party, lat=lat, lon=lon, course_deg=_course(back + 180))


def bound_for(
    lat: float, lon: float, *, bearing: float, distance_m: float, speed_mps: float, **fields
) -> Unit:
    """A unit ``distance_m`` from a point on ``bearing``, heading for it on the geodesic."""
    there_lon, there_lat, back = GEOD.fwd(lon, lat, bearing, distance_m)
    return Unit(
        lat=there_lat, lon=there_lon, course_deg=_course(back), speed_mps=speed_mps, **fields
    )


def _inside(truth, cpa_m) -> int:
    """How many pairs are alerts beyond doubt (under the threshold by more than the band)."""
    return sum(1 for a in truth.values() if a.dcpa_m < cpa_m * (1 - TOLERANCE))


# -- scenarios ---------------------------------------------------------------------------


def test_random_baltic_traffic_with_convoys(tmp_path):
    rng = np.random.default_rng(20260301)
    units = random_traffic(rng, 140, lat=(54.8, 55.3), lon=(19.0, 20.0), speed=(0.0, 15.0))
    # Convoys: pairs on one geodesic at one speed, some just inside the threshold, some not.
    for k, gap in enumerate(rng.uniform(1500.0, 2200.0, 12)):
        lead = replace(units[k], party="us", speed_mps=float(rng.uniform(3, 12)))
        units[k] = lead
        units.append(ahead(lead, float(gap), id=f"c{k:02d}", party="ru"))
    _, truth = check(tmp_path, units, horizon_s=1800.0, cpa_m=1852.0)
    assert _inside(truth, 1852.0) >= 30


def test_parallel_tracks_alert_just_inside_and_not_just_outside(tmp_path):
    cpa = 2000.0
    leads = [
        Unit("m", "us", 57.0, 20.0, 0.0, 8.0),  # up a meridian
        Unit("e", "us", 0.0, 20.0, 90.0, 8.0),  # along the equator
        Unit("g", "us", 57.0, 22.0, 40.0, 8.0),  # along a geodesic at 40°
        Unit("f", "us", 60.0, 25.0, 300.0, 250.0),  # an aircraft
    ]
    units = []
    for lead in leads:
        # One party ahead of the lead at a constant 0.99 and 1.01 of the threshold.
        units.append(lead)
        units.append(ahead(lead, cpa * 0.99, id=f"{lead.id}-in", party="ru"))
        units.append(ahead(lead, cpa * 1.01, id=f"{lead.id}-out", party="ru"))
    found, _ = check(tmp_path, units, horizon_s=1800.0, cpa_m=cpa)
    assert set(found) == {(lead.id, f"{lead.id}-in") for lead in leads}
    for approach in found.values():
        assert approach.dcpa_m == pytest.approx(cpa * 0.99, rel=1e-3)


def test_abreast_on_converging_meridians(tmp_path):
    # Northbound abreast on neighbouring meridians: the pair closes as the meridians
    # converge, and is nearest at the end of the horizon, 360 km on.
    units = [Unit("a", "us", 55.0, 20.0, 0.0, 100.0), Unit("b", "ru", 55.0, 20.025, 0.0, 100.0)]
    now = distance_at(units[0], units[1], 0.0)
    later = distance_at(units[0], units[1], 3600.0)
    assert later < 0.95 * now
    found, _ = check(tmp_path, units, horizon_s=3600.0, cpa_m=(now + later) / 2)
    assert found["a", "b"].tcpa_s == pytest.approx(3600.0)
    assert found["a", "b"].dcpa_m == pytest.approx(later, rel=1e-3)


def test_stationary_units(tmp_path):
    cpa = 1852.0
    anchor = Unit("anchor", "us", 55.0, 19.5, 0.0, 0.0)
    lon, lat, _ = GEOD.fwd(anchor.lon, anchor.lat, 120.0, cpa * 0.99)
    near = Unit("near", "ru", lat, lon, 0.0, 0.0)
    lon, lat, _ = GEOD.fwd(anchor.lon, anchor.lat, 300.0, cpa * 1.01)
    far = Unit("far", "cn", lat, lon, 0.0, 0.0)
    # A ship passes 1 km south of the anchored one, westbound at 10 m/s, 8 km away now.
    lon, lat, _ = GEOD.fwd(anchor.lon, anchor.lat, 180.0, 1000.0)
    passing = bound_for(
        lat, lon, bearing=90, distance_m=8000, speed_mps=10, id="passing", party="cn"
    )
    rng = np.random.default_rng(7)
    units = [anchor, near, far, passing]
    units += random_traffic(rng, 40, lat=(54.9, 55.1), lon=(19.3, 19.7), speed=(0.0, 0.0))
    units += random_traffic(
        rng, 40, lat=(54.9, 55.1), lon=(19.3, 19.7), speed=(2.0, 12.0), prefix="m"
    )
    found, truth = check(tmp_path, units, horizon_s=1800.0, cpa_m=cpa)
    assert found["anchor", "near"] == Approach(0.0, pytest.approx(cpa * 0.99, rel=1e-4))
    assert ("anchor", "far") not in found
    assert found["anchor", "passing"].dcpa_m == pytest.approx(1000.0, abs=5)
    assert found["anchor", "passing"].tcpa_s == pytest.approx(800.0, abs=10)
    assert _inside(truth, cpa) >= 10


def test_across_the_antimeridian(tmp_path):
    rng = np.random.default_rng(180)
    units = random_traffic(rng, 150, lat=(64.0, 66.0), lon=(179.2, 180.8), speed=(0.0, 15.0))
    units += random_traffic(
        rng, 60, lat=(-1.0, 1.0), lon=(179.5, 180.5), speed=(0.0, 15.0), prefix="q"
    )
    units += [
        Unit("east", "us", 0.0, 179.99, 0.0, 0.0),
        Unit("west", "ru", 0.0, -179.99, 0.0, 0.0),
        # Meeting on the line at 10° N after 500 s, from either side of it.
        bound_for(10, 180, bearing=270, distance_m=5000, speed_mps=10, id="from-e", party="us"),
        bound_for(10, 180, bearing=80, distance_m=5000, speed_mps=10, id="from-w", party="ru"),
    ]
    found, truth = check(tmp_path, units, horizon_s=1800.0, cpa_m=2300.0)
    assert found["east", "west"] == Approach(0.0, pytest.approx(2226.39, abs=0.05))
    assert found["from-e", "from-w"].dcpa_m < 1
    assert found["from-e", "from-w"].tcpa_s == pytest.approx(500.0, abs=1)
    lons = {u.id: u.lon for u in units}
    across = [p for p in truth if lons[p[0]] * lons[p[1]] < 0]
    assert len(across) >= 5
    assert _inside(truth, 2300.0) >= 20


def test_high_latitudes_and_over_the_pole(tmp_path):
    rng = np.random.default_rng(89)
    units = random_traffic(rng, 120, lat=(85.0, 89.9), lon=(-180, 180), speed=(100.0, 250.0))
    # Six aircraft 50 km from the pole, heading for it from every side, two of each party.
    for k in range(6):
        units.append(Unit(f"pole{k}", PARTIES[k % 3], 89.55, -173.0 + 60 * k, 0.0, 220.0))
    # Two meeting 3 km from the pole, one of them coming over it.
    units.append(
        bound_for(89.97, 45, bearing=10, distance_m=40e3, speed_mps=200, id="near-a", party="us")
    )
    units.append(
        bound_for(89.97, 45, bearing=230, distance_m=40e3, speed_mps=200, id="near-b", party="ru")
    )
    found, truth = check(tmp_path, units, horizon_s=600.0, cpa_m=9260.0)
    at_pole = [p for p in found if p[0].startswith("pole") and p[1].startswith("pole")]
    assert len(at_pole) == 12  # every pair of the six but the three within one party
    assert found["near-a", "near-b"].dcpa_m < 5
    assert found["near-a", "near-b"].tcpa_s == pytest.approx(200.0, abs=1)
    assert _inside(truth, 9260.0) >= 15


def test_aircraft_at_flight_levels(tmp_path):
    cpa, vertical = 9260.0, FOOT_1000
    # FL300 to FL340 in metres, as a feed gives them (to the decimetre).
    levels = [round(fl * 30.48, 1) for fl in range(300, 350, 10)]
    rng = np.random.default_rng(340)
    units = random_traffic(rng, 150, lat=(50.0, 51.2), lon=(4.0, 6.0), speed=(120.0, 250.0))
    units = [
        replace(u, alt_m=None if rng.random() < 0.2 else float(rng.choice(levels))) for u in units
    ]
    # Head-on pairs 20 km apart: at one level, a level apart, 999 ft apart, one without.
    pairs = {
        "same": (levels[2], levels[2]),
        "adjacent": (levels[2], levels[3]),
        "close": (levels[2], round(levels[2] + 304.5, 1)),
        "half": (levels[2], None),
    }
    for k, (name, (alt_a, alt_b)) in enumerate(pairs.items()):
        lat = 52.0 + 0.5 * k
        units.append(Unit(f"{name}-a", "us", lat, 4.0, 90.0, 200.0, alt_a))
        units.append(
            bound_for(
                lat,
                4.0,
                bearing=90,
                distance_m=20e3,
                speed_mps=200,
                alt_m=alt_b,
                id=f"{name}-b",
                party="ru",
            )
        )
    found, truth = check(tmp_path, units, horizon_s=600.0, cpa_m=cpa, vertical_m=vertical)
    named = {p for p in found if "-" in p[0] and "-" in p[1]}
    assert named == {("close-a", "close-b"), ("half-a", "half-b"), ("same-a", "same-b")}
    assert found["same-a", "same-b"].tcpa_s == pytest.approx(50.0, abs=0.5)
    assert _inside(truth, cpa) >= 15
    # Without a vertical threshold, altitude is never asked.
    flat, _ = check(tmp_path, units, horizon_s=600.0, cpa_m=cpa)
    assert ("adjacent-a", "adjacent-b") in flat


def test_stale_reports_are_extrapolated_to_the_newest(tmp_path):
    rng = np.random.default_rng(900)
    units = random_traffic(rng, 120, lat=(55.0, 55.4), lon=(19.0, 19.8), speed=(0.0, 15.0))
    units = [replace(u, age_s=round(float(rng.uniform(60, 900)), 3)) for u in units]
    # Reported ten minutes ago 5.6 km west of a ship reported a minute ago, eastbound at
    # 10 m/s: the two are together at the newest report time, 40 s ago.
    units += [
        Unit("anchored", "ru", 56.0, 18.0, 0.0, 0.0, age_s=60.0),
        bound_for(
            56, 18, bearing=270, distance_m=5600, speed_mps=10, id="sailing", party="us", age_s=600
        ),
        Unit("newest", "cn", 54.0, 17.0, 0.0, 0.0, age_s=40.0),
    ]
    # Older reports of some units, later in the file, are not the ones screened.
    older = [replace(u, lat=u.lat + 0.01, age_s=u.age_s + 60).to_line() for u in units[:20]]
    found, truth = check(tmp_path, units, horizon_s=1200.0, cpa_m=1852.0, extra=older)
    assert found["anchored", "sailing"].tcpa_s == pytest.approx(0.0, abs=1e-3)
    assert found["anchored", "sailing"].dcpa_m < 1
    assert _inside(truth, 1852.0) >= 15


def test_horizon_zero_is_the_distance_now(tmp_path):
    rng = np.random.default_rng(0)
    units = random_traffic(rng, 200, lat=(55.0, 55.2), lon=(19.0, 19.4), speed=(0.0, 15.0))
    units = [replace(u, age_s=round(float(rng.uniform(0, 120)), 3)) for u in units]
    found, truth = check(tmp_path, units, horizon_s=0.0, cpa_m=1852.0)
    assert all(a.tcpa_s == 0 for a in found.values())
    assert _inside(truth, 1852.0) >= 20


def test_clusters_all_around_the_world(tmp_path):
    # One screen of traffic on every side of the Earth, antipodes and a pole included, so
    # that the mean vertical is near no cluster's.
    rng = np.random.default_rng(42)
    units: list[Unit] = []
    places = [(55, 19), (-55, -161), (0, 90), (0, -90), (-89.5, 0), (35, 140), (-35, -40)]
    for k, (lat, lon) in enumerate(places):
        units += random_traffic(
            rng,
            30,
            lat=(lat - 0.2, lat + 0.2),
            lon=(lon - 0.3, lon + 0.3),
            speed=(0.0, 250.0),
            prefix=f"w{k}",
        )
    _, truth = check(tmp_path, units, horizon_s=300.0, cpa_m=5000.0)
    assert _inside(truth, 5000.0) >= 20


def pairs_at_the_edge(rng, n, *, cpa_m, horizon_s, speed, age_s=0.0):
    """``n`` pairs, each nearest at a random time at 0.6 to 3 % either side of ``cpa_m``.

    Each pair meets around a random point (a quarter of them on the
    antimeridian, a quarter within 5° of a pole): one unit passes the point,
    the other passes ``cpa_m (1 ± ε)`` from it, across their relative motion,
    at the same moment. The brute force, not the construction, says how near
    they come.
    """
    units = []
    for k in range(n):
        lat, lon = float(rng.uniform(-89.9, 89.9)), float(rng.uniform(-180, 180))
        if k % 4 == 0:
            lon = float(rng.choice([179.99, -179.99]))
        elif k % 4 == 1:
            lat = float(rng.choice([1, -1]) * rng.uniform(85, 89.99))
        when = float(rng.uniform(0, horizon_s))
        speed_a, speed_b = (float(s) for s in rng.uniform(*speed, 2))
        course_a, course_b = (math.radians(c) for c in rng.uniform(0, 360, 2))
        east = speed_b * math.sin(course_b) - speed_a * math.sin(course_a)
        north = speed_b * math.cos(course_b) - speed_a * math.cos(course_a)
        across = math.degrees(math.atan2(east, north)) + 90
        edge = cpa_m * (1 + float(rng.choice([-1, 1]) * rng.uniform(0.006, 0.03)))
        lon_b, lat_b, _ = GEOD.fwd(lon, lat, across, edge)
        age = round(float(rng.uniform(0, age_s)), 3)
        units.append(
            bound_for(
                lat,
                lon,
                bearing=math.degrees(course_a) + 180,
                distance_m=speed_a * (when + age),
                speed_mps=speed_a,
                age_s=age,
                id=f"e{k:03d}a",
                party="us",
            )
        )
        units.append(
            bound_for(
                lat_b,
                lon_b,
                bearing=math.degrees(course_b) + 180,
                distance_m=speed_b * when,
                speed_mps=speed_b,
                id=f"e{k:03d}b",
                party="ru",
            )
        )
    return units


@pytest.mark.parametrize(
    ("cpa_m", "horizon_s", "speed", "age_s"),
    [
        (5.0, 60.0, (0.0, 2.0), 0.0),
        (50.0, 600.0, (0.0, 5.0), 0.0),
        (1852.0, 3600.0, (0.0, 15.0), 600.0),
        (9260.0, 1200.0, (100.0, 300.0), 120.0),
        (30_000.0, 1200.0, (100.0, 300.0), 0.0),
    ],
)
def test_pairs_just_either_side_of_the_band_everywhere(tmp_path, cpa_m, horizon_s, speed, age_s):
    rng = np.random.default_rng(int(cpa_m))
    units = pairs_at_the_edge(rng, 40, cpa_m=cpa_m, horizon_s=horizon_s, speed=speed, age_s=age_s)
    found, truth = check(tmp_path, units, horizon_s=horizon_s, cpa_m=cpa_m)
    # Pairs came out within 5 % of the threshold, and the calls went both ways.
    edge = [a for a in truth.values() if a.dcpa_m > cpa_m * 0.95]
    assert len(edge) >= 10
    inside = [p for p in found if p[0][:4] == p[1][:4]]
    assert 10 <= len(inside) <= 30


def test_a_day_ahead_the_ships_still_follow_the_geodesic(tmp_path):
    # The ship runs 1,081 km south-west and passes the anchored one 1,265 m off after 20 h.
    units = [
        Unit("s", "us", 0.0, 0.0, 0.0, 0.0),
        Unit("m", "ru", 6.905575, 6.893545, 225.417, 15.0),
    ]
    assert brute_force(units, horizon_s=86400.0, cpa_m=1285.0)["m", "s"].dcpa_m < 1266
    check(tmp_path, units, horizon_s=86400.0, cpa_m=1285.0)
