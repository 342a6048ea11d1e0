"""Shapes that cross the antimeridian (180°), drawn on a flat map.

GeoJSON (RFC 7946 section 3.1.9) and Natural Earth write a ring crossing
180° with its longitude jumping from about +180 to about -180. Joined
naively on a flat map, that ring smears across the whole world. Here a
ring is *unwrapped* instead (each longitude shifted by a multiple of 360°
to be within 180° of the one before), so it stays one compact shape that
may reach past the world's edge; :func:`world_copies` then adds the copy
one world-width away that shows the part past the edge, and the map clips
both to the world. A ring that goes round a pole (Antarctica) ends 360°
from where it began once unwrapped; it is closed along the map's top or
bottom edge.

Example:
    >>> unwrap([(170.0, 60.0), (-170.0, 60.0), (-170.0, 68.0), (170.0, 68.0), (170.0, 60.0)])
    [(170.0, 60.0), (190.0, 60.0), (190.0, 68.0), (170.0, 68.0), (170.0, 60.0)]
    >>> split_line([(179.0, 0.0), (-179.0, 1.0)])
    [[(179.0, 0.0), (181.0, 1.0)], [(-181.0, 0.0), (-179.0, 1.0)]]
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["close_polar", "split_line", "unwrap", "world_copies"]

Point = tuple[float, float]


def unwrap(line: Sequence[Point]) -> list[Point]:
    """The ``(lon, lat)`` line with no step longer than 180° of longitude."""
    out: list[Point] = []
    offset = 0.0
    for lon, lat in line:
        if out:
            offset -= 360.0 * round((lon + offset - out[-1][0]) / 360.0)
        out.append((lon + offset, lat))
    return out


def close_polar(ring: list[Point]) -> list[Point]:
    """Close an unwrapped ring that goes round a pole along that pole.

    A ring that does not go round a pole (it ends where it began) is
    returned as it is.
    """
    first, last = ring[0], ring[-1]
    if abs(last[0] - first[0]) < 180.0:
        return ring
    pole = 90.0 if sum(lat for _, lat in ring) > 0 else -90.0
    return [*ring, (last[0], pole), (first[0], pole), first]


def split_line(line: Sequence[Point]) -> list[list[Point]]:
    """An open ``(lon, lat)`` line as pieces that each stay on one side.

    Where the line crosses 180°, it is drawn twice: unwrapped, and shifted
    a world-width back, so each piece reaches just past an edge.
    """
    unwrapped = unwrap(line)
    shifts = {360.0 * round(lon / 360.0) for lon, _ in unwrapped}
    return [[(lon - shift, lat) for lon, lat in unwrapped] for shift in sorted(shifts)]


def world_copies(rings: Sequence[Sequence[Point]], width: float) -> list[list[list[Point]]]:
    """The projected rings, and copies ``width`` to either side, that show.

    Args:
        rings: One shape's rings in ``(x, y)`` user units, unwrapped.
        width: The world's width in the same units.

    Returns:
        One list of rings per copy whose x range overlaps ``(0, width)``.
    """
    copies = []
    for shift in (-width, 0.0, width):
        moved = [[(x + shift, y) for x, y in ring] for ring in rings]
        xs = [x for ring in moved for x, _ in ring]
        if xs and max(xs) > 0.0 and min(xs) < width:
            copies.append(moved)
    return copies
