"""The map's projection: spherical Web Mercator, in SVG user units.

Mercator is conformal: shapes and bearings are true locally, so a ship's
heading or the angle between two tracks reads on the map as it is at sea,
and the Baltic looks like the Baltic (an equirectangular map stretches it
east-west 1.7 times at 55°N). It is also what every web map uses, so
watch officers know it. Its cost, areas swollen towards the poles, matters
little for the agreements Détente runs; latitudes beyond ±85° are clipped
to ±85°, as web maps do.

The world is :data:`WORLD_WIDTH` units wide, longitude -180° at x = 0;
y grows southwards, as SVG's does. ``static/map.js`` computes the same
formula with the same constants, read from the ``<svg>``'s ``data-*``
attributes, so tracks drawn in the browser land where Python draws sites.

Example:
    >>> project(0.0, 0.0)
    (1800.0, 1800.0)
    >>> x, y = project(24.0, 44.0)
    >>> [round(v, 3) for v in unproject(x, y)]
    [24.0, 44.0]
    >>> str(Box(0.0, 0.0, 10.0, 5.0))
    '0 0 10 5'
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

__all__ = ["MAX_LATITUDE", "WORLD_WIDTH", "Box", "project", "unproject", "world_box"]

WORLD_WIDTH: Final = 3600.0
"""Width of the world in SVG user units: ten units a degree of longitude."""

MAX_LATITUDE: Final = 85.0
"""Latitudes are clipped to ±this many degrees before projecting."""

_RADIUS: Final = WORLD_WIDTH / (2.0 * math.pi)


def project(lon: float, lat: float) -> tuple[float, float]:
    """Project a WGS 84 position to SVG user units.

    Args:
        lon: Longitude in degrees; values outside [-180, 180] land outside
            the world's width, which is how a zone crossing the
            antimeridian stays in one piece.
        lat: Latitude in degrees, clipped to ±:data:`MAX_LATITUDE`.

    Returns:
        ``(x, y)``: x from 0 (180°W) to :data:`WORLD_WIDTH` (180°E), y from
        north to south with the equator at ``WORLD_WIDTH / 2``.
    """
    lat = max(-MAX_LATITUDE, min(MAX_LATITUDE, lat))
    # The same operations, in the same order, as map.js: the two agree to the bit.
    x = (lon + 180.0) * WORLD_WIDTH / 360.0
    y = WORLD_WIDTH / 2.0 - _RADIUS * math.log(math.tan(math.pi / 4.0 + lat * math.pi / 360.0))
    return x, y


def unproject(x: float, y: float) -> tuple[float, float]:
    """The inverse of :func:`project`: ``(lon, lat)`` in degrees."""
    lon = x * 360.0 / WORLD_WIDTH - 180.0
    lat = math.degrees(2.0 * math.atan(math.exp((WORLD_WIDTH / 2.0 - y) / _RADIUS)) - math.pi / 2)
    return lon, lat


@dataclass(frozen=True)
class Box:
    """A rectangle in user units, as an SVG ``viewBox`` names one."""

    x: float
    y: float
    width: float
    height: float

    @classmethod
    def around(cls, points: Iterable[tuple[float, float]]) -> Box | None:
        """The smallest box holding every point, or None for no point."""
        xs: list[float] = []
        ys: list[float] = []
        for x, y in points:
            xs.append(x)
            ys.append(y)
        if not xs:
            return None
        return cls(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))

    def padded(self, *, fraction: float, min_width: float, aspect: float) -> Box:
        """This box grown about its centre for a first view.

        Args:
            fraction: Margin on each side, as a fraction of the size.
            min_width: The result is at least this wide (a lone site is
                shown with its surroundings, not as a dot filling the view).
            aspect: The result's width-to-height ratio: the box grows
                in whichever direction reaches it.
        """
        width = max(self.width * (1 + 2 * fraction), min_width)
        height = self.height * (1 + 2 * fraction)
        width, height = max(width, height * aspect), max(height, width / aspect)
        cx, cy = self.x + self.width / 2, self.y + self.height / 2
        return Box(cx - width / 2, cy - height / 2, width, height)

    def contains(self, x: float, y: float) -> bool:
        """Whether the point lies in the box, edges included."""
        return self.x <= x <= self.x + self.width and self.y <= y <= self.y + self.height

    def __str__(self) -> str:
        """The ``viewBox`` attribute value, to a tenth of a unit."""
        return " ".join(f"{round(v, 1):g}" for v in (self.x, self.y, self.width, self.height))


def world_box() -> Box:
    """The whole projected world, from 180°W to 180°E and 85°N to 85°S."""
    _, top = project(0.0, MAX_LATITUDE)
    _, bottom = project(0.0, -MAX_LATITUDE)
    return Box(0.0, top, WORLD_WIDTH, bottom - top)
