"""The map's projection and view boxes."""

from __future__ import annotations

import doctest
import math

import pytest

from detente.console import projection
from detente.console.projection import (
    MAX_LATITUDE,
    WORLD_WIDTH,
    Box,
    project,
    unproject,
    world_box,
)


def test_docstring_examples_run() -> None:
    assert doctest.testmod(projection).failed == 0


def test_null_island_is_the_centre() -> None:
    assert project(0.0, 0.0) == (WORLD_WIDTH / 2, WORLD_WIDTH / 2)


def test_longitude_is_linear_from_edge_to_edge() -> None:
    assert project(-180.0, 0.0)[0] == 0.0
    assert project(180.0, 0.0)[0] == WORLD_WIDTH
    assert project(90.0, 30.0)[0] == WORLD_WIDTH * 0.75


def test_latitude_45_is_where_mercator_puts_it() -> None:
    # y(45°) = ln(tan(67.5°)) = asinh(1) earth radii north of the equator.
    radius = WORLD_WIDTH / (2 * math.pi)
    assert project(0.0, 45.0)[1] == pytest.approx(WORLD_WIDTH / 2 - radius * math.asinh(1.0))
    assert project(0.0, -45.0)[1] == pytest.approx(WORLD_WIDTH / 2 + radius * math.asinh(1.0))


def test_the_map_is_about_square_as_web_maps_are() -> None:
    world = world_box()
    assert world.x == 0.0
    assert world.width == WORLD_WIDTH
    assert world.height == pytest.approx(WORLD_WIDTH, rel=0.01)


def test_y_falls_as_latitude_rises() -> None:
    ys = [project(10.0, lat)[1] for lat in range(-85, 86, 5)]
    assert all(a > b for a, b in zip(ys, ys[1:], strict=False))


def test_latitudes_beyond_the_limit_are_clipped() -> None:
    assert project(0.0, 90.0) == project(0.0, MAX_LATITUDE)
    assert project(0.0, -90.0) == project(0.0, -MAX_LATITUDE)


@pytest.mark.parametrize("lon_lat", [(24.3445, 44.0823), (17.1011, 54.4794), (-165.4, 64.5)])
def test_unproject_undoes_project(lon_lat: tuple[float, float]) -> None:
    assert unproject(*project(*lon_lat)) == pytest.approx(lon_lat)


def test_a_box_around_points() -> None:
    assert Box.around([]) is None
    box = Box.around([(1.0, 5.0), (3.0, 2.0)])
    assert box == Box(1.0, 2.0, 2.0, 3.0)
    assert box.contains(2.0, 4.0)
    assert not box.contains(0.0, 4.0)


def test_padding_keeps_the_centre_and_reaches_the_aspect() -> None:
    box = Box(100.0, 100.0, 10.0, 50.0).padded(fraction=0.2, min_width=0.0, aspect=1.6)
    assert box.x + box.width / 2 == pytest.approx(105.0)
    assert box.y + box.height / 2 == pytest.approx(125.0)
    assert box.height == pytest.approx(70.0)
    assert box.width / box.height == pytest.approx(1.6)


def test_padding_a_point_gives_the_minimum_width() -> None:
    box = Box(10.0, 10.0, 0.0, 0.0).padded(fraction=0.2, min_width=300.0, aspect=1.5)
    assert (box.width, box.height) == pytest.approx((300.0, 200.0))
    assert box.contains(10.0, 10.0)


def test_a_box_is_written_as_a_viewbox() -> None:
    assert str(Box(-1.25, 5.896, 3600.0, 3588.21)) == "-1.2 5.9 3600 3588.2"
