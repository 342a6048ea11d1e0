"""The pure pieces of screening: WGS 84 geometry against pyproj, thresholds, traffic, pairs."""

import numpy as np
import pyproj
import pytest

from detente.tracks import geodesy
from detente.tracks.screen import Thresholds, Traffic, screen

GEOD = pyproj.Geod(ellps="WGS84")

PLACES = [(0.0, 0.0), (55.0, 19.0), (-60.0, -120.0), (85.0, 40.0), (89.9, 0.0), (10.0, 179.999)]


def _ecef(lat, lon):
    return geodesy.ecef(np.atleast_1d(np.float64(lat)), np.atleast_1d(np.float64(lon)))


@pytest.mark.parametrize(("lat", "lon"), PLACES)
@pytest.mark.parametrize("metres", [1e3, 3e3, 1e4, 3e4, 1e5])
def test_distance_is_the_geodesic_distance(lat, lon, metres):
    for azimuth in (0.0, 45.0, 90.0, 160.0, 250.0, 330.0):
        lon2, lat2, _ = GEOD.fwd(lon, lat, azimuth, metres)
        got = float(geodesy.distance(_ecef(lat, lon), _ecef(lat2, lon2))[0])
        # The issue grants 0.5 %; the chord with its arc correction does far better.
        assert got == pytest.approx(metres, rel=1e-4), azimuth


def test_distance_across_the_antimeridian():
    got = float(geodesy.distance(_ecef(0.0, 179.99), _ecef(0.0, -179.99))[0])
    want = GEOD.inv(179.99, 0.0, -179.99, 0.0)[2]
    assert want == pytest.approx(2226.39, abs=0.01)
    assert got == pytest.approx(want, rel=1e-6)


def test_distance_over_the_pole():
    got = float(geodesy.distance(_ecef(89.99, 0.0), _ecef(89.99, 180.0))[0])
    assert got == pytest.approx(GEOD.inv(0.0, 89.99, 180.0, 89.99)[2], rel=1e-6)


@pytest.mark.parametrize(("lat", "lon"), PLACES)
@pytest.mark.parametrize(("speed", "seconds"), [(0.0, 600.0), (10.0, 3600.0), (250.0, 1200.0)])
def test_advance_follows_the_geodesic(lat, lon, speed, seconds):
    for course in (0.0, 45.0, 90.0, 200.0, 300.0):
        position = _ecef(lat, lon)
        velocity = geodesy.velocity(
            np.array([lat]), np.array([lon]), np.array([course]), np.array([speed])
        )
        moved, turned = geodesy.advance(position, velocity, seconds)
        moved_lat, moved_lon = geodesy.to_latlon(moved)
        want_lon, want_lat, back = GEOD.fwd(lon, lat, course, speed * seconds)
        off = GEOD.inv(float(moved_lon[0]), float(moved_lat[0]), want_lon, want_lat)[2]
        # Within metres over 300 km, as the module promises.
        assert off < 1e-5 * speed * seconds + 1e-3, (course, off)
        assert float(np.linalg.norm(turned)) == pytest.approx(speed, rel=1e-12, abs=1e-12)
        if speed:
            east, north, up = geodesy.enu_basis(moved_lat, moved_lon)
            heading = np.degrees(np.arctan2(turned[0] @ east[0], turned[0] @ north[0]))
            assert (heading - (back + 180) + 180) % 360 - 180 == pytest.approx(0, abs=1e-3)
            assert float(turned[0] @ up[0]) == pytest.approx(0, abs=1e-9)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"horizontal_m": 0.0, "horizon_s": 60.0}, "horizontal threshold 0.0 m"),
        ({"horizontal_m": -1.0, "horizon_s": 60.0}, "horizontal threshold -1.0 m"),
        ({"horizontal_m": float("nan"), "horizon_s": 60.0}, "horizontal threshold nan"),
        ({"horizontal_m": float("inf"), "horizon_s": 60.0}, "horizontal threshold inf"),
        ({"horizontal_m": 1.0, "horizon_s": -1.0}, "horizon -1.0 s"),
        ({"horizontal_m": 1.0, "horizon_s": float("inf")}, "horizon inf s"),
        ({"horizontal_m": 1.0, "horizon_s": 60.0, "vertical_m": 0.0}, "vertical threshold 0.0"),
        ({"horizontal_m": 1.0, "horizon_s": 60.0, "vertical_m": -3.0}, "vertical threshold -3"),
        ({"horizontal_m": 1.0, "horizon_s": 60.0, "vertical_m": float("nan")}, "vertical"),
    ],
)
def test_thresholds_refuse_what_is_not_a_threshold(fields, message):
    with pytest.raises(ValueError, match=message):
        Thresholds(**fields)


def test_thresholds_allow_a_horizon_of_zero_and_no_vertical():
    assert Thresholds(horizontal_m=1.0, horizon_s=0.0).vertical_m is None


def test_traffic_from_columns_moves_old_reports_on():
    lon, lat, back = GEOD.fwd(19.0, 55.0, 60.0, 10.0 * 600)
    traffic = Traffic.from_columns(
        lat=[55.0, 55.0],
        lon=[19.0, 19.0],
        course_deg=[60.0, 60.0],
        speed_mps=[10.0, 10.0],
        group=[0, 1],
        alt_m=[None, 3000.0],
        age_s=[600.0, 0.0],
    )
    assert len(traffic) == 2
    assert float(np.linalg.norm(traffic.position[0] - _ecef(lat, lon)[0])) < 0.1
    assert traffic.position[1] == pytest.approx(_ecef(55.0, 19.0)[0], abs=1e-6)
    assert float(np.linalg.norm(traffic.velocity[0])) == pytest.approx(10.0)
    assert np.isnan(traffic.alt_m[0]) and traffic.alt_m[1] == 3000.0
    assert traffic.group.tolist() == [0, 1]


def test_traffic_from_columns_without_altitudes_or_ages():
    traffic = Traffic.from_columns(
        lat=[0.0], lon=[0.0], course_deg=[90.0], speed_mps=[5.0], group=[3]
    )
    assert np.isnan(traffic.alt_m).all()
    assert traffic.position[0] == pytest.approx([geodesy.A, 0.0, 0.0])
    assert traffic.velocity[0] == pytest.approx([0.0, 5.0, 0.0])


def _grid(rng, side=24, spacing_m=700.0, groups=3):
    """Units on a jittered square grid off Gotland, on random courses and speeds."""
    n = side * side
    north, east = np.divmod(np.arange(n), side)
    lat = 57.0 + (north + rng.uniform(-0.3, 0.3, n)) * spacing_m / 111_200
    lon = 19.0 + (east + rng.uniform(-0.3, 0.3, n)) * spacing_m / (111_200 * np.cos(np.radians(57)))
    return {
        "lat": lat,
        "lon": lon,
        "course_deg": rng.uniform(0, 360, n),
        "speed_mps": np.where(rng.random(n) < 0.2, 0.0, rng.uniform(0, 12, n)),
        "group": rng.integers(0, groups, n),
        "alt_m": np.where(rng.random(n) < 0.5, np.nan, rng.choice([300.0, 600.0, 900.0], n)),
    }


def _pairs(hits):
    return {
        (a, b): (t, d)
        for a, b, t, d in zip(
            hits.a.tolist(),
            hits.b.tolist(),
            hits.tcpa_s.tolist(),
            hits.dcpa_m.tolist(),
            strict=True,
        )
    }


def test_each_pair_once_in_order():
    rng = np.random.default_rng(1)
    hits = screen(Traffic.from_columns(**_grid(rng)), Thresholds(1000.0, 900.0))
    assert len(hits) > 100
    assert (hits.a < hits.b).all()
    keys = list(zip(hits.a.tolist(), hits.b.tolist(), strict=True))
    assert keys == sorted(set(keys))
    assert ((hits.tcpa_s >= 0) & (hits.tcpa_s <= 900.0)).all()
    assert (hits.dcpa_m < 1000.0).all()


def test_pairs_of_one_party_are_never_reported():
    rng = np.random.default_rng(2)
    columns = _grid(rng, groups=4)
    hits = screen(Traffic.from_columns(**columns), Thresholds(1500.0, 900.0))
    assert len(hits) > 100
    assert (columns["group"][hits.a] != columns["group"][hits.b]).all()
    one_party = screen(
        Traffic.from_columns(**{**columns, "group": np.zeros(len(columns["lat"]), np.int64)}),
        Thresholds(1500.0, 900.0),
    )
    assert len(one_party) == 0


def test_fewer_than_two_units_is_no_conflict():
    one = Traffic.from_columns(lat=[0.0], lon=[0.0], course_deg=[0.0], speed_mps=[0.0], group=[0])
    assert len(screen(one, Thresholds(1000.0, 60.0))) == 0


@pytest.mark.parametrize("vertical", [None, 304.8])
def test_the_order_of_the_units_does_not_matter(vertical):
    rng = np.random.default_rng(3)
    columns = _grid(rng, side=30)
    thresholds = Thresholds(1200.0, 1200.0, vertical)
    hits = _pairs(screen(Traffic.from_columns(**columns), thresholds))
    order = rng.permutation(len(columns["lat"]))
    shuffled = screen(Traffic.from_columns(**{k: v[order] for k, v in columns.items()}), thresholds)
    back = {
        tuple(sorted((int(order[a]), int(order[b])))): found
        for (a, b), found in _pairs(shuffled).items()
    }
    assert len(hits) > 200
    assert back.keys() == hits.keys()
    for pair, (t, d) in hits.items():
        assert back[pair][1] == pytest.approx(d, rel=1e-6, abs=1e-3)
        assert back[pair][0] == pytest.approx(t, abs=1e-3)


def test_the_same_pairs_as_every_pair_screened_alone():
    # The sweep may prune, never drop: each pair of a small crowd screened on its own.
    rng = np.random.default_rng(4)
    columns = _grid(rng, side=9, spacing_m=1500.0)
    thresholds = Thresholds(2000.0, 600.0, 304.8)
    hits = _pairs(screen(Traffic.from_columns(**columns), thresholds))
    alone = {}
    n = len(columns["lat"])
    for a in range(n):
        for b in range(a + 1, n):
            pair = screen(
                Traffic.from_columns(**{k: v[[a, b]] for k, v in columns.items()}), thresholds
            )
            if len(pair):
                alone[a, b] = (float(pair.tcpa_s[0]), float(pair.dcpa_m[0]))
    assert len(alone) > 20
    assert hits.keys() == alone.keys()


def test_one_very_fast_unit_among_stationary_ones_does_not_explode_the_sweep():
    # A unit at 1,500 m/s for three hours runs 16,200 km: its box spans the Earth, which
    # with a 1 m threshold once meant billions of strips (96 GiB). Now a few wide strips,
    # and the horizon in windows.
    traffic = Traffic.from_columns(
        lat=[55.0, 55.5, 54.0],
        lon=[19.0, 19.0, 19.0],
        course_deg=[0, 0, 0],
        speed_mps=[0, 0, 1500],
        group=[0, 1, 2],
    )
    found = screen(traffic, Thresholds(horizontal_m=1.0, horizon_s=3 * 3600))
    # The fast unit heads north along the meridian of the two others and passes them.
    assert sorted(zip(found.a.tolist(), found.b.tolist(), strict=True)) == [(0, 2), (1, 2)]
    assert all(d < 1.0 for d in found.dcpa_m.tolist())
    assert found.tcpa_s.tolist() == pytest.approx([74.2, 111.3], abs=1.0)
