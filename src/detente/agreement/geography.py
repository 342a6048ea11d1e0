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

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from detente.agreement._base import Count, Frozen, Slug, Text

__all__ = ["Geometry", "Holding", "MultiPolygon", "Polygon", "Site", "Zone"]

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
