"""Places: zones (GeoJSON areas) and declared sites.

Zones carry the constraints that are about *where*, not *how many* ("no
heavy bombers in areas from which they could strike the other side").
Geometries follow GeoJSON (RFC 7946): positions are ``[longitude,
latitude]`` (optionally with altitude) in WGS 84, and every linear ring is
closed (first position equals the last) with at least four positions
(section 3.1.6). Ring winding order is a SHOULD in RFC 7946 and is not
enforced.

Example:
    >>> ring = [[20.0, 54.0], [21.0, 54.0], [21.0, 55.0], [20.0, 54.0]]
    >>> Zone(id="z", name="Z", geometry={"type": "Polygon", "coordinates": [ring]}).id
    'z'
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from detente.agreement._base import ANY_PARTY, Count, Day, Frozen, PartyRefs, Slug, Text

__all__ = ["Geometry", "Holding", "MultiPolygon", "Polygon", "Site", "Zone", "ZoneConstraint"]

Latitude = Annotated[float, Field(ge=-90.0, le=90.0)]
Longitude = Annotated[float, Field(ge=-180.0, le=180.0)]


def _position(position: list[float]) -> list[float]:
    lon, lat = position[0], position[1]
    if not -180.0 <= lon <= 180.0:
        raise ValueError(f"longitude {lon} is outside [-180, 180] (positions are [lon, lat])")
    if not -90.0 <= lat <= 90.0:
        raise ValueError(f"latitude {lat} is outside [-90, 90] (positions are [lon, lat])")
    return position


Position = Annotated[list[float], Field(min_length=2, max_length=3), AfterValidator(_position)]


def _ring(ring: list[list[float]]) -> list[list[float]]:
    if ring[0] != ring[-1]:
        raise ValueError("a linear ring must be closed: its last position must equal its first")
    return ring


LinearRing = Annotated[list[Position], Field(min_length=4), AfterValidator(_ring)]
PolygonCoordinates = Annotated[list[LinearRing], Field(min_length=1)]


class Polygon(Frozen):
    """A GeoJSON Polygon: an exterior ring, then any holes."""

    type: Literal["Polygon"]
    coordinates: PolygonCoordinates


class MultiPolygon(Frozen):
    """A GeoJSON MultiPolygon: several polygons."""

    type: Literal["MultiPolygon"]
    coordinates: Annotated[list[PolygonCoordinates], Field(min_length=1)]


Geometry = Annotated[Polygon | MultiPolygon, Field(discriminator="type")]


class Zone(Frozen):
    """A named area on the map."""

    id: Slug
    name: Text
    description: Text = ""
    geometry: Geometry

    def contains(self, lon: float, lat: float) -> bool:
        """Whether the point (degrees) lies inside the zone, a hole's inside excepted.

        Even-odd ray casting on longitude and latitude as plane coordinates:
        exact for the zones' own edges drawn as straight lines on a
        longitude-latitude map, which is how GeoJSON areas are drawn; zones
        that cross the antimeridian must be split in two polygons (RFC 7946
        section 3.1.9). A point on an edge counts as inside.

        Example:
            >>> ring = [[20.0, 54.0], [22.0, 54.0], [22.0, 56.0], [20.0, 56.0], [20.0, 54.0]]
            >>> zone = Zone(id="z", name="Z", geometry={"type": "Polygon", "coordinates": [ring]})
            >>> zone.contains(21.0, 55.0), zone.contains(23.0, 55.0)
            (True, False)
        """
        geometry = self.geometry
        polygons = [geometry.coordinates] if isinstance(geometry, Polygon) else geometry.coordinates
        for rings in polygons:
            if _in_ring(rings[0], lon, lat) and not any(
                _in_ring(hole, lon, lat, edge=False) for hole in rings[1:]
            ):
                return True
        return False


def _in_ring(ring: list[list[float]], x: float, y: float, *, edge: bool = True) -> bool:
    inside = False
    for (x1, y1, *_), (x2, y2, *_) in zip(ring, ring[1:], strict=False):
        if _on_segment(x, y, x1, y1, x2, y2):
            return edge
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _on_segment(x: float, y: float, x1: float, y1: float, x2: float, y2: float) -> bool:
    cross = (x - x1) * (y2 - y1) - (y - y1) * (x2 - x1)
    if abs(cross) > 1e-12:
        return False
    return min(x1, x2) <= x <= max(x1, x2) and min(y1, y2) <= y <= max(y1, y2)


class ZoneConstraint(Frozen):
    """At most ``max`` items of ``categories`` inside ``zone`` for each party in
    ``applies_to``, in force from ``effective`` until ``end`` (exclusive).

    Judged on declarations of items with their positions (message types that
    ``declares = "items"``).
    """

    id: Slug
    description: Text = ""
    article: Text | None = None
    zone: Slug
    categories: Annotated[list[Slug], Field(min_length=1)]
    applies_to: PartyRefs = Field(default_factory=lambda: [ANY_PARTY])
    max: Count = 0
    effective: Day
    end: Day | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ZoneConstraint:
        if self.end is not None and self.end <= self.effective:
            raise ValueError(f"end ({self.end}) must be after effective ({self.effective})")
        return self

    def binds_on(self, day: date) -> bool:
        """Whether the constraint is in force on ``day``."""
        return self.effective <= day and (self.end is None or day < self.end)


class Holding(Frozen):
    """What a site declares of one category: a count, and how it is described."""

    count: Count
    label: Text = ""


class Site(Frozen):
    """A declared place belonging to ``party``, in ``country`` (ISO 3166-1 alpha-2)."""

    id: Slug
    name: Text
    description: Text = ""
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    party: Slug
    lat: Latitude
    lon: Longitude
    declared: dict[Slug, Holding] = Field(default_factory=dict)
