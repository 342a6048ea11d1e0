"""The map of an agreement: its zones and sites on the shipped base map.

:func:`render_map` gives one inline ``<svg>`` a page embeds as it is:
the sea, land and borders (Natural Earth 1:50m, ``data/basemap.json``,
see ``data/SOURCES.md``), each zone as a translucent area and each site as
a labelled marker. Agreement text is untrusted, so every label and
attribute is escaped here. Colours live in ``static/map.css`` (the page's
Content-Security-Policy forbids ``style`` attributes) and pan and zoom in
``static/map.js``, which reads the projection's constants and the two
views (the agreement's and the world's) from the ``<svg>``'s ``data-*``
attributes.

Example:
    >>> from detente.agreement import builtin_agreement
    >>> svg = render_map(builtin_agreement("security-replies-2022"))
    >>> svg.startswith('<svg id="map"'), 'data-site="redzikowo"' in svg
    (True, True)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Final

from markupsafe import Markup

from detente.agreement import Agreement, Polygon, Site, Zone
from detente.console import _svgpath
from detente.console._antimeridian import close_polar, split_line, unwrap, world_copies
from detente.console.projection import MAX_LATITUDE, WORLD_WIDTH, Box, project, world_box

__all__ = [
    "BaseMap",
    "Box",
    "home_box",
    "load_basemap",
    "marker_scale",
    "project",
    "render_map",
    "zone_rings",
]

DEFAULT_LABEL: Final = "Map of the agreement's zones and sites"
_FORMAT: Final = "detente-basemap/1"
_NOMINAL_PIXELS: Final = 960.0  # map.js rescales markers to the real width at once

Line = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class BaseMap:
    """The shipped coastlines and borders, as ``(lon, lat)`` lines."""

    land: tuple[Line, ...]
    borders: tuple[Line, ...]
    source: str


def _decode(encoded: list[int]) -> Line:
    lon, lat, points = 0, 0, []
    for i in range(0, len(encoded), 2):
        lon, lat = lon + encoded[i], lat + encoded[i + 1]
        points.append((lon / 100, lat / 100))
    return tuple(points)


@cache
def load_basemap() -> BaseMap:
    """Read ``data/basemap.json`` once.

    Raises:
        ValueError: The shipped file is not in the format this code reads
            (a packaging mistake, not a user's).
    """
    text = files("detente.console").joinpath("data/basemap.json").read_text(encoding="utf-8")
    document = json.loads(text)
    if document.get("format") != _FORMAT:
        raise ValueError(f"data/basemap.json is not {_FORMAT}")
    return BaseMap(
        land=tuple(_decode(line) for line in document["land"]),
        borders=tuple(_decode(line) for line in document["borders"]),
        source=str(document["source"]),
    )


@cache
def _base_layers() -> Markup:
    """The sea, land and border elements: the same for every agreement."""
    world, basemap = world_box(), load_basemap()
    land = [
        ring
        for line in basemap.land
        for copy in world_copies([_project(close_polar(unwrap(line)))], WORLD_WIDTH)
        for ring in copy
    ]
    borders = [_project(piece) for line in basemap.borders for piece in split_line(line)]
    return _rect("sea", world) + Markup(
        '<g clip-path="url(#map-world)"><path class="land" d="{}"/>'
        '<path class="border" d="{}"/></g>'
    ).format(_svgpath.path_data(land, close=True), _svgpath.path_data(borders))


def _project(line: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    return [project(lon, lat) for lon, lat in line]


def _rect(css_class: str, box: Box) -> Markup:
    return Markup('<rect class="{}" x="{:g}" y="{:g}" width="{:g}" height="{:g}"/>').format(
        css_class, box.x, box.y, box.width, box.height
    )


def zone_rings(zone: Zone) -> list[list[list[tuple[float, float]]]]:
    """A zone's polygons as projected rings, each polygon in one piece.

    A polygon crossing the antimeridian is unwrapped (see
    :mod:`detente.console._antimeridian`) and may reach past the world's
    edge; its holes are shifted by whole turns to sit with its outer ring.

    Returns:
        One list of rings per polygon, each ring a list of ``(x, y)``.
    """
    geometry = zone.geometry
    polygons = [geometry.coordinates] if isinstance(geometry, Polygon) else geometry.coordinates
    projected = []
    for polygon in polygons:
        outer, *holes = (close_polar(unwrap([(p[0], p[1]) for p in ring])) for ring in polygon)
        rings = [outer]
        for hole in holes:
            turns = round((outer[0][0] - hole[0][0]) / 360.0)
            rings.append([(lon + 360.0 * turns, lat) for lon, lat in hole])
        projected.append([_project(ring) for ring in rings])
    return projected


def home_box(agreement: Agreement) -> Box:
    """The first view: the agreement's sites and zones with a margin.

    An agreement with neither, or whose places spread over more than the
    world's width with the margin (across the antimeridian, too), is shown
    whole-world.
    """
    points = [project(site.lon, site.lat) for site in agreement.sites.values()]
    for zone in agreement.zones.values():
        points += [p for polygon in zone_rings(zone) for p in polygon[0]]
    around = Box.around(points)
    if around is None:
        return world_box()
    home = around.padded(fraction=0.2, min_width=300.0, aspect=1.6)
    return world_box() if home.width >= WORLD_WIDTH else home


def marker_scale(agreement: Agreement) -> float:
    """The markers' scale at the first view, until map.js sets the real one."""
    return home_box(agreement).width / _NOMINAL_PIXELS


def _zone(zone: Zone) -> Markup:
    rings = [ring for polygon in zone_rings(zone) for ring in polygon]
    copies = Markup().join(
        Markup('<path d="{}"/>').format(_svgpath.path_data(copy, close=True))
        for copy in world_copies(rings, WORLD_WIDTH)
    )
    title = zone.name if not zone.description else f"{zone.name}\n{zone.description}"
    return Markup('<g class="zone" data-zone="{}"><title>{}</title>{}</g>').format(
        zone.id, title, copies
    )


def _site(site: Site, party_name: str, scale: float) -> Markup:
    x, y = project(site.lon, site.lat)
    return Markup(
        '<g class="site site-{party}" data-site="{id}" data-party="{party}"'
        ' data-country="{country}" transform="translate({x:.1f} {y:.1f})">'
        "<title>{name} ({party_name}, {country})</title>"
        '<g class="glyph" transform="scale({scale:.4g})"><circle r="5"/>'
        '<text x="8" y="4">{name}</text></g></g>'
    ).format(
        party=site.party,
        id=site.id,
        country=site.country,
        x=x,
        y=y,
        name=site.name,
        party_name=party_name,
        scale=scale,
    )


def render_map(
    agreement: Agreement,
    *,
    label: str = DEFAULT_LABEL,
    described_by: str = "",
    overlay: Markup | None = None,
) -> Markup:
    """The agreement's map as an inline ``<svg id="map">``, safe to embed.

    Args:
        agreement: Whose zones and sites to draw.
        label: The accessible name (``aria-label``), already translated.
        described_by: The id of the page's element that says how to pan
            and zoom with the keyboard (``aria-describedby``), if any.
        overlay: Drawn over the sites, as it is: the live picture of units
            and alerts (:func:`detente.console.trackmap.render_tracks`).

    Returns:
        Markup a Jinja template inserts without ``|safe``: every piece of
        agreement text in it is escaped.
    """
    world = world_box()
    home, scale = home_box(agreement), marker_scale(agreement)
    parties = {party.id: party.name for party in agreement.parties}
    zones = Markup().join(_zone(zone) for zone in agreement.zones.values())
    sites = Markup().join(
        _site(site, parties.get(site.party, site.party), scale) for site in agreement.sites.values()
    )
    return Markup(
        '<svg id="map" class="map" xmlns="http://www.w3.org/2000/svg" viewBox="{home}"'
        ' preserveAspectRatio="xMidYMid meet" role="application" aria-roledescription="map"'
        ' aria-label="{label}"{described} tabindex="0" data-world-width="{width:g}"'
        ' data-max-latitude="{max_lat:g}" data-home="{home}" data-world="{world}">'
        '<defs><clipPath id="map-world">{clip}</clipPath></defs>{base}'
        '<g class="zones" clip-path="url(#map-world)">{zones}</g>'
        '<g class="sites">{sites}</g>{overlay}</svg>'
    ).format(
        home=home,
        label=label,
        described=Markup(' aria-describedby="{}"').format(described_by) if described_by else "",
        width=WORLD_WIDTH,
        max_lat=MAX_LATITUDE,
        world=world,
        clip=_rect("world", world),
        base=_base_layers(),
        zones=zones,
        sites=sites,
        overlay=overlay or Markup(),
    )
