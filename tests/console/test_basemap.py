"""The agreement's map: shipped base map, zones, sites, escaping, first view."""

from __future__ import annotations

import doctest
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from jinja2 import Environment

from detente.agreement import Agreement, builtin_agreement
from detente.console import _antimeridian, _svgpath, basemap
from detente.console.basemap import home_box, load_basemap, render_map, zone_rings
from detente.console.projection import WORLD_WIDTH, Box, project, world_box

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert(\"x\")</script> & 'co'"


@pytest.fixture(scope="module")
def replies() -> Agreement:
    return builtin_agreement("security-replies-2022")


def changed(agreement: Agreement, **fields: Any) -> Agreement:
    return Agreement.model_validate({**agreement.model_dump(), **fields})


def square(lon: float, lat: float, size: float) -> list[list[float]]:
    return [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 -- our own output, parsed to check it


def path_points(d: str) -> list[list[tuple[float, float]]]:
    """The subpaths of path data as written by _svgpath (M, m, l, z)."""
    subpaths: list[list[tuple[float, float]]] = []
    x = y = 0.0
    for command, numbers in re.findall(r"([MmLlz])([^MmLlz]*)", d):
        values = [float(v) for v in re.findall(r"-?(?:\d+\.?\d*|\.\d+)", numbers)]
        pairs = list(zip(values[0::2], values[1::2], strict=True))
        if command == "z":
            x, y = subpaths[-1][0]
        elif command in "Mm":
            dx, dy = pairs[0]
            x, y = (dx, dy) if command == "M" else (x + dx, y + dy)
            subpaths.append([(x, y)])
        else:
            for dx, dy in pairs:
                x, y = x + dx, y + dy
                subpaths[-1].append((x, y))
    return subpaths


@pytest.mark.parametrize("module", [basemap, _antimeridian, _svgpath])
def test_docstring_examples_run(module: Any) -> None:
    assert doctest.testmod(module).failed == 0


def test_the_shipped_base_map_has_land_and_borders() -> None:
    data = load_basemap()
    assert load_basemap() is data  # read once
    assert "Natural Earth" in data.source
    assert len(data.land) > 1000
    assert len(data.borders) > 300
    assert all(ring[0] == ring[-1] and len(ring) >= 4 for ring in data.land)
    points = [p for line in data.land + data.borders for p in line]
    assert all(-180 <= lon <= 180 and -90 <= lat <= 90 for lon, lat in points)


def test_path_data_round_trips_to_a_tenth() -> None:
    lines = [
        [(1.04, 2.0), (0.5, -3.25), (1000.0, 7.0)],
        [(5.0, 5.0), (5.01, 5.01)],
        [(9, 9), (8, 8)],
    ]
    drawn = path_points(_svgpath.path_data(lines, close=True))
    assert len(drawn) == 2  # the line of one distinct position is left out
    for ring, expected in zip(drawn, [lines[0], lines[2]], strict=True):
        for (x, y), (ex, ey) in zip(ring, expected, strict=True):
            assert (x, y) == pytest.approx((ex, ey), abs=0.05 + 1e-9)


def test_the_map_of_the_replies(replies: Agreement) -> None:
    svg = parse(render_map(replies))
    assert svg.tag == SVG + "svg"
    assert svg.get("id") == "map"
    assert svg.get("tabindex") == "0"
    assert svg.get("role") == "application"
    assert svg.get("aria-label")
    assert svg.get("aria-describedby") is None
    assert svg.get("data-world-width") == "3600"
    assert svg.get("data-max-latitude") == "85"
    assert svg.get("data-home") == svg.get("viewBox") == str(home_box(replies))
    assert svg.get("data-world") == str(world_box())
    assert svg.find(f".//{SVG}path[@class='land']").get("d")
    assert svg.find(f".//{SVG}path[@class='border']").get("d")
    sites = {g.get("data-site"): g for g in svg.iter(SVG + "g") if g.get("data-site")}
    assert set(sites) == {"deveselu", "redzikowo"}
    for site_id, group in sites.items():
        site = replies.sites[site_id]
        assert group.get("class") == "site site-us"
        assert group.get("data-party") == "us"
        assert group.get("data-country") == site.country
        assert group.find(f".//{SVG}text").text == site.name
        assert group.find(SVG + "title").text == f"{site.name} (United States, {site.country})"


def test_the_map_embeds_in_an_autoescaping_template_as_it_is(replies: Agreement) -> None:
    page = Environment(autoescape=True).from_string("<main>{{ map }}</main>")
    assert page.render(map=render_map(replies)).startswith('<main><svg id="map"')


def test_agreement_text_is_escaped(replies: Agreement) -> None:
    site = {"name": HOSTILE, "country": "RU", "party": "ru", "lat": 54.7, "lon": 20.5}
    zone = {
        "name": HOSTILE,
        "description": HOSTILE,
        "geometry": {"type": "Polygon", "coordinates": [square(19.0, 54.0, 2.0)]},
    }
    hostile = changed(
        replies, sites={**replies.model_dump()["sites"], "kal": site}, zones={"z": zone}
    )
    text = str(render_map(hostile, label=HOSTILE, described_by=HOSTILE))
    assert "<script" not in text
    svg = parse(text)
    assert svg.get("aria-label") == svg.get("aria-describedby") == HOSTILE
    zone_group = svg.find(f".//{SVG}g[@data-zone='z']")
    assert zone_group.get("class") == "zone"
    assert zone_group.find(SVG + "title").text == f"{HOSTILE}\n{HOSTILE}"
    site_group = svg.find(f".//{SVG}g[@data-site='kal']")
    assert site_group.get("class") == "site site-ru"
    assert site_group.find(f".//{SVG}text").text == HOSTILE


def test_a_zone_across_the_antimeridian_stays_in_one_piece(replies: Agreement) -> None:
    bering = [[170.0, 60.0], [-170.0, 60.0], [-170.0, 68.0], [170.0, 68.0], [170.0, 60.0]]
    zone = {"name": "Bering", "geometry": {"type": "Polygon", "coordinates": [bering]}}
    svg = parse(render_map(changed(replies, zones={"bering": zone})))
    paths = svg.findall(f".//{SVG}g[@data-zone='bering']/{SVG}path")
    assert len(paths) == 2  # one copy reaching past each edge of the world
    for path in paths:
        xs = [x for ring in path_points(path.get("d")) for x, _ in ring]
        assert max(xs) - min(xs) == pytest.approx(200.0)  # 20 degrees, not 340
    assert svg.find(f".//{SVG}g[@class='zones']").get("clip-path") == "url(#map-world)"


def test_a_zone_round_a_pole_is_closed_along_the_map_edge(replies: Agreement) -> None:
    ring = [[-180.0, 70.0], [-60.0, 72.0], [60.0, 72.0], [180.0, 70.0], [-180.0, 70.0]]
    zone = changed(
        replies,
        zones={"arctic": {"name": "A", "geometry": {"type": "Polygon", "coordinates": [ring]}}},
    ).zones["arctic"]
    (outer,) = zone_rings(zone)[0]
    xs = [x for x, _ in outer]
    assert (min(xs), max(xs)) == (0.0, WORLD_WIDTH)
    assert min(y for _, y in outer) == world_box().y  # up to the clipped pole


def test_holes_stay_with_their_polygon(replies: Agreement) -> None:
    # 175°E to 175°W, and a hole written east of 180° as well.
    outer = [[175.0, 50.0], [-175.0, 50.0], [-175.0, 60.0], [175.0, 60.0], [175.0, 50.0]]
    hole = [[-179.0, 54.0], [-178.0, 54.0], [-178.0, 55.0], [-179.0, 54.0]]
    geometry = {"type": "MultiPolygon", "coordinates": [[outer, hole]]}
    zone = changed(replies, zones={"z": {"name": "Z", "geometry": geometry}}).zones["z"]
    (rings,) = zone_rings(zone)
    hole_xs = [x for x, _ in rings[1]]
    assert min(hole_xs) == pytest.approx(project(181.0, 0.0)[0])


def test_the_first_view_frames_the_sites(replies: Agreement) -> None:
    home = home_box(replies)
    for site in replies.sites.values():
        assert home.contains(*project(site.lon, site.lat))
    assert home.width < WORLD_WIDTH / 4  # Europe, not the world
    assert home.width / home.height == pytest.approx(1.6)


def test_the_first_view_frames_zones_too(replies: Agreement) -> None:
    zone = {"name": "Z", "geometry": {"type": "Polygon", "coordinates": [square(30.0, 40.0, 5.0)]}}
    home = home_box(changed(replies, zones={"z": zone}))
    for lon, lat in square(30.0, 40.0, 5.0):
        assert home.contains(*project(lon, lat))


def test_an_agreement_without_places_or_spread_worldwide_is_shown_whole(
    replies: Agreement,
) -> None:
    # Without its sites, the visits to them go too.
    assert home_box(changed(replies, sites={}, inspection_types={})) == world_box()
    far = {"name": "Far", "country": "US", "party": "us", "lat": 40.0, "lon": -120.0}
    east = {"name": "East", "country": "RU", "party": "ru", "lat": 53.0, "lon": 158.6}
    spread = changed(replies, sites={**replies.model_dump()["sites"], "far": far, "east": east})
    assert home_box(spread) == world_box()


def test_markers_start_at_the_first_view_s_scale(replies: Agreement) -> None:
    svg = parse(render_map(replies))
    glyph = svg.find(f".//{SVG}g[@class='glyph']")
    scale = float(re.fullmatch(r"scale\((.+)\)", glyph.get("transform")).group(1))
    assert scale == pytest.approx(home_box(replies).width / 960, rel=1e-3)
    assert isinstance(home_box(replies), Box)


def test_a_base_map_in_another_format_is_refused(monkeypatch, tmp_path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "basemap.json").write_text('{"format": "other"}', encoding="utf-8")
    monkeypatch.setattr(basemap, "files", lambda _package: tmp_path)
    with pytest.raises(ValueError, match="detente-basemap/1"):
        basemap.load_basemap.__wrapped__()
