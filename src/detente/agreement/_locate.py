"""Find the line of a TOML file where a field path is written (best effort).

``tomllib`` gives no positions for values, so this reads the text the way a
person does: it follows table headers (``[limits.launchers]``, counting
``[[parties]]`` to know which entry is which), notes the line of each
``key = value`` under them (dotted keys included, and the keys of a
one-line inline table), and answers with the line of the longest prefix of
the path it saw. A field that is missing is thus reported at its table's
header; a value deep inside a multi-line array at the array's key. Lines
inside multi-line strings and multi-line values are not read as keys.
"""

from __future__ import annotations

import re

__all__ = ["line_of"]

FieldPath = tuple[str | int, ...]

_HEADER = re.compile(r"^\s*(\[\[?)\s*(?P<key>[^\[\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_DOTTED = rf"{_KEY}(?:\s*\.\s*{_KEY})*"
_ASSIGN = re.compile(rf"^\s*(?P<key>{_DOTTED})\s*=")
_INLINE_KEY = re.compile(rf"[{{,]\s*(?P<key>{_DOTTED})\s*=")
_PART = re.compile(_KEY)
_STRING = re.compile(r""""(?:[^"\\]|\\.)*"|'[^']*'""")
_TRIPLE_QUOTES = ('"""', "'''")


def _split(dotted: str) -> list[str]:
    parts = []
    for match in _PART.finditer(dotted):
        part = match.group(0)
        if part[0] in "\"'":
            part = part[1:-1]
        parts.append(part)
    return parts


def _depth_change(code: str) -> int:
    """Brackets opened minus closed in ``code``, outside strings and comments."""
    code = _STRING.sub('""', code).split("#", 1)[0]
    return code.count("[") + code.count("{") - code.count("]") - code.count("}")


def _index(text: str) -> dict[FieldPath, int]:
    """Map each path written in ``text`` to its 1-based line."""
    lines: dict[FieldPath, int] = {}
    counts: dict[tuple[str, ...], int] = {}
    table: FieldPath = ()
    in_string: str | None = None
    depth = 0  # > 0 inside a value spread over several lines
    for number, line in enumerate(text.splitlines(), start=1):
        if in_string is not None:
            if line.count(in_string) % 2 == 1:
                in_string = None
            continue
        if depth > 0:
            depth = max(0, depth + _depth_change(line))
            continue
        header = _HEADER.match(line)
        if header:
            keys = _split(header.group("key"))
            if header.group(1) == "[[":
                counts[tuple(keys)] = counts.get(tuple(keys), -1) + 1
            concrete: list[str | int] = []
            for i in range(len(keys)):
                concrete.append(keys[i])
                if tuple(keys[: i + 1]) in counts:
                    concrete.append(counts[tuple(keys[: i + 1])])
            table = tuple(concrete)
            lines.setdefault(table, number)
            continue
        assign = _ASSIGN.match(line)
        if assign is None:
            continue
        path = table + tuple(_split(assign.group("key")))
        lines.setdefault(path, number)
        rest = line[assign.end() :]
        for quote in _TRIPLE_QUOTES:
            if rest.count(quote) % 2 == 1:
                in_string = quote
        if in_string is None:
            depth = max(0, _depth_change(rest))
        if rest.lstrip().startswith("{"):
            for inner in _INLINE_KEY.finditer(rest):
                lines.setdefault(path + tuple(_split(inner.group("key"))), number)
    return lines


def line_of(text: str, path: FieldPath) -> int | None:
    """The 1-based line where ``path`` (or its nearest written parent) appears, if any."""
    lines = _index(text)
    for end in range(len(path), 0, -1):
        found = lines.get(path[:end])
        if found is not None:
            return found
    return None
