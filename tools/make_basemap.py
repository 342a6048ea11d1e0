"""Write the console's base map, ``src/detente/console/data/basemap.json``.

Source: ``countries-50m.json`` of the npm package ``world-atlas`` 2.0.2, a
TopoJSON redistribution of Natural Earth 4.1.0 Admin 0 countries at 1:50m
(tarball shasum 4bca4a578f3a413bd409c3f07f2054fe7375824f; the file's
SHA-256 is 04342cdc1e3016bcd7db1630de95684d67b79fe3c8c460321e87aef469502394).
Natural Earth is in the public domain; see ``src/detente/console/data/SOURCES.md``.

Re-run it (nothing of this script runs at run time)::

    cd /tmp && npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    python3 tools/make_basemap.py /tmp/package/countries-50m.json \
        src/detente/console/data/basemap.json

What it does, with the standard library only:

1. decodes the TopoJSON arcs (quantized, delta-encoded) to degrees;
2. simplifies each arc on its own (Douglas-Peucker, endpoints kept), so an
   arc shared by a coastline and a border stays shared;
3. assembles the ``land`` object's rings from its arcs, and takes as
   borders the arcs that two different countries use;
4. writes every ring and line as integers in hundredths of a degree,
   ``[lon0, lat0, dlon1, dlat1, ...]`` (the first position absolute, the
   rest as differences from the one before), dropping repeated positions.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

FORMAT = "detente-basemap/1"
TOLERANCE_DEGREES = 0.02  # about 2 km: below what 1:50m data resolves
SOURCE = "world-atlas 2.0.2 countries-50m.json (Natural Earth 4.1.0, 1:50m)"

Point = tuple[float, float]


def decode_arcs(topology: Any) -> list[list[Point]]:
    """Every arc of a quantized topology, in degrees."""
    transform = topology["transform"]
    (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
    arcs: list[list[Point]] = []
    for raw in topology["arcs"]:
        qx = qy = 0
        points: list[Point] = []
        for dx, dy in raw:
            qx, qy = qx + dx, qy + dy
            points.append((qx * sx + tx, qy * sy + ty))
        arcs.append(points)
    return arcs


def _distance_to_segment(p: Point, a: Point, b: Point) -> float:
    (px, py), (ax, ay), (bx, by) = p, a, b
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    if length2 == 0.0:
        return float(((px - ax) ** 2 + (py - ay) ** 2) ** 0.5)
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
    return float(((px - ax - t * dx) ** 2 + (py - ay - t * dy) ** 2) ** 0.5)


def simplify(points: list[Point], tolerance: float) -> list[Point]:
    """Douglas-Peucker with an explicit stack; the first and last points stay."""
    if len(points) < 3:
        return list(points)
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        worst, worst_at = 0.0, -1
        for i in range(first + 1, last):
            d = _distance_to_segment(points[i], points[first], points[last])
            if d > worst:
                worst, worst_at = d, i
        if worst > tolerance:
            keep[worst_at] = True
            stack += [(first, worst_at), (worst_at, last)]
    return [p for p, k in zip(points, keep, strict=True) if k]


def _arc(arcs: list[list[Point]], index: int) -> list[Point]:
    # TopoJSON: a negative index ~i means arc i reversed.
    return arcs[index] if index >= 0 else arcs[~index][::-1]


def ring(arcs: list[list[Point]], indexes: Iterable[int]) -> list[Point]:
    """Join arcs into one ring; each arc starts where the one before ended."""
    points: list[Point] = []
    for index in indexes:
        part = _arc(arcs, index)
        points.extend(part if not points else part[1:])
    return points


def _geometry_rings(geometry: Any) -> list[list[int]]:
    kind, arcs = geometry.get("type"), geometry.get("arcs", [])
    if kind == "Polygon":
        return list(arcs)
    if kind == "MultiPolygon":
        return [r for polygon in arcs for r in polygon]
    return []


def border_arcs(countries: list[Any]) -> list[int]:
    """Indexes of the arcs that two different countries use: land borders."""
    users: dict[int, set[int]] = {}
    for n, country in enumerate(countries):
        for indexes in _geometry_rings(country):
            for index in indexes:
                users.setdefault(index if index >= 0 else ~index, set()).add(n)
    return sorted(i for i, who in users.items() if len(who) > 1)


def encode(points: list[Point]) -> list[int]:
    """Hundredths of a degree; first position absolute, then differences."""
    out: list[int] = []
    last: tuple[int, int] | None = None
    for lon, lat in points:
        here = (round(lon * 100), round(lat * 100))
        if here == last:
            continue
        if last is None:
            out += here
        else:
            out += (here[0] - last[0], here[1] - last[1])
        last = here
    return out


def main(source: Path, target: Path) -> None:
    """Read the TopoJSON at ``source``, write the base map to ``target``."""
    topology = json.loads(source.read_text(encoding="utf-8"))
    arcs = [simplify(a, TOLERANCE_DEGREES) for a in decode_arcs(topology)]
    objects = topology["objects"]
    land_rings = [ring(arcs, r) for g in objects["land"]["geometries"] for r in _geometry_rings(g)]
    borders = [arcs[i] for i in border_arcs(objects["countries"]["geometries"])]
    land = [e for e in map(encode, land_rings) if len(e) >= 8]  # 4+ positions
    lines = [e for e in map(encode, borders) if len(e) >= 4]
    document = {
        "format": FORMAT,
        "source": SOURCE,
        "unit": "0.01 degree; [lon0, lat0, dlon1, dlat1, ...]",
        "land": land,
        "borders": lines,
    }
    target.write_text(json.dumps(document, separators=(",", ":")) + "\n", encoding="utf-8")
    count = sum(len(e) for e in land + lines) // 2
    print(f"{target}: {len(land)} land rings, {len(lines)} borders, {count} positions")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: make_basemap.py COUNTRIES_50M_JSON OUTPUT_JSON")
    main(Path(sys.argv[1]), Path(sys.argv[2]))
