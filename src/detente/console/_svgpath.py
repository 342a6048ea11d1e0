"""SVG path data, written small.

The base map is some 44,000 positions inlined in every map page, so its
path data is written in relative form (``m`` and ``l`` with differences)
to a tenth of a user unit. Positions are rounded before differences are
taken, so rounding errors do not add up along a coastline.

Example:
    >>> path_data([[(0.0, 0.0), (10.0, 0.0), (10.0, 5.26)]], close=True)
    'M0 0l10 0 0 5.3z'
    >>> path_data([[(0.0, 0.0), (0.5, -0.5)]])
    'M0 0l.5-.5'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["path_data"]


def _number(tenths: int) -> str:
    whole, tenth = divmod(abs(tenths), 10)
    if not tenth:
        text = str(whole)
    else:
        text = f"{whole}.{tenth}" if whole else f".{tenth}"
    return "-" + text if tenths < 0 else text


def _pair(dx: int, dy: int) -> str:
    # A minus sign separates two numbers as well as a space does.
    y = _number(dy)
    return _number(dx) + (y if y.startswith("-") else " " + y)


def path_data(lines: Iterable[Sequence[tuple[float, float]]], *, close: bool = False) -> str:
    """Path data drawing each line (a polygon ring if ``close``).

    Args:
        lines: Each a sequence of ``(x, y)`` in user units; lines with
            fewer than two distinct positions are left out.
        close: End each line with ``z``.

    Returns:
        The value of a ``<path>``'s ``d`` attribute; only digits, signs,
        dots, spaces and the letters ``M``, ``m``, ``l`` and ``z``.
    """
    parts: list[str] = []
    pen = (0, 0)
    for line in lines:
        points: list[tuple[int, int]] = []
        for x, y in line:
            here = (round(x * 10), round(y * 10))
            if not points or here != points[-1]:
                points.append(here)
        if len(points) < 2:
            continue
        start = points[0]
        if parts:
            parts.append("m" + _pair(start[0] - pen[0], start[1] - pen[1]))
        else:
            parts.append("M" + _pair(*start))
        steps = [_pair(b[0] - a[0], b[1] - a[1]) for a, b in zip(points, points[1:], strict=False)]
        parts.append("l" + " ".join(steps).replace(" -", "-"))
        if close:
            parts.append("z")
        # After z the pen is back at the subpath's start; after a line, at its end.
        pen = start if close else points[-1]
    return "".join(parts)
