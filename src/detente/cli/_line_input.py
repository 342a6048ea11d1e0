"""Reading what an officer types for the emergency line: times, refs, blanks, units.

Each parser takes the option's text and the option's name, and raises
:class:`~detente.errors.InputError` naming both, so that a mistyped
argument ends the command with one clear line, before anything is signed.

Example:
    >>> parse_time("2026-03-01T14:05:00+03:00", option="--at").isoformat()
    '2026-03-01T11:05:00+00:00'
    >>> parse_fields(["unit=Su-27", "position=N44 E37"])
    {'unit': 'Su-27', 'position': 'N44 E37'}
    >>> parse_unit("ru:Admiral Makarov:ship")
    {'party': 'ru', 'name': 'Admiral Makarov', 'kind': 'ship'}
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from detente.agreement.hotline import Template
from detente.errors import InputError

__all__ = [
    "UNIT_KINDS",
    "check_fields",
    "parse_fields",
    "parse_ref",
    "parse_time",
    "parse_unit",
]

#: The kinds of unit an incident report may name (incsea-1972's schema).
UNIT_KINDS = ("ship", "aircraft", "ground", "other")

# RFC 3339 section 5.6 date-time: a full date, "T" (or a space, which the
# RFC allows "for the sake of readability"), a full time with an offset.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
# As envelope headers cite an entry (detente.record.envelope).
_REF = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}:(0|[1-9][0-9]{0,18})")
_FIELD = re.compile(r"[a-z][a-z0-9_]{0,31}")


def parse_time(text: str, *, option: str) -> datetime:
    """An RFC 3339 date-time with ``Z`` or an offset, in UTC.

    Raises:
        InputError: the text is not such a time (a date alone, or a time
            without an offset, is refused: the line needs an instant).
    """
    if not _RFC3339.fullmatch(text):
        raise InputError(
            f"{option}: {text!r} is not an RFC 3339 time with an offset, "
            "e.g. 2026-03-01T12:00:00Z or 2026-03-01T15:00:00+03:00"
        )
    # Python 3.11 reads Z and offsets; beyond microseconds is truncated.
    normal = text.upper().replace(" ", "T")
    fraction = re.search(r"\.(\d+)", normal)
    if fraction and len(fraction.group(1)) > 6:
        normal = normal.replace(fraction.group(0), "." + fraction.group(1)[:6])
    try:
        moment = datetime.fromisoformat(normal)
    except ValueError as e:
        raise InputError(f"{option}: {text!r} is not a valid date and time") from e
    return moment.astimezone(UTC)


def parse_ref(text: str, *, option: str) -> str:
    """An entry cited as ``party:seq``.

    Raises:
        InputError: the text is not ``party:seq``.
    """
    if not _REF.fullmatch(text):
        raise InputError(f"{option}: {text!r} is not an entry, written party:seq (e.g. ru:12)")
    return text


def parse_fields(values: Iterable[str], *, option: str = "--field") -> dict[str, str]:
    """Template blanks given as ``NAME=VALUE``, each name once.

    Raises:
        InputError: an argument without ``=``, a name that is not a blank's
            name, or a name given twice.
    """
    fields: dict[str, str] = {}
    for value in values:
        name, equals, filled = value.partition("=")
        name = name.strip()
        if not equals or not _FIELD.fullmatch(name):
            raise InputError(
                f"{option} {value!r}: write NAME=VALUE, NAME in lower case (e.g. unit=Su-27)"
            )
        if name in fields:
            raise InputError(f"{option} {value!r}: {name} is given twice")
        fields[name] = filled
    return fields


def check_fields(template: Template, fields: Mapping[str, str], *, option: str = "--field") -> None:
    """Refuse blanks that do not fit ``template``: one missing, empty, or not its own.

    Raises:
        InputError: naming the blank and the template's blanks.
    """
    blanks = ", ".join(template.fields) or "none"
    for name in fields:
        if name not in template.fields:
            raise InputError(f"{option}: template {template.id} has no blank {name!r} ({blanks})")
    for name in template.fields:
        if not fields.get(name, "").strip():
            raise InputError(
                f"{option}: template {template.id} needs its blank {name} filled in "
                f"({option} {name}=…; its blanks: {blanks})"
            )


def parse_unit(text: str, *, option: str = "--unit") -> dict[str, str]:
    """A unit in an incident: ``party:name[:kind[:id]]``.

    Raises:
        InputError: too few or too many parts, an empty one, or an unknown kind.
    """
    parts = text.split(":")
    usage = f"write PARTY:NAME[:KIND[:ID]], KIND one of {', '.join(UNIT_KINDS)}"
    if not 2 <= len(parts) <= 4 or not all(p.strip() for p in parts):
        raise InputError(f"{option} {text!r}: {usage}")
    unit = {"party": parts[0].strip(), "name": parts[1].strip()}
    if len(parts) > 2:
        kind = parts[2].strip()
        if kind not in UNIT_KINDS:
            raise InputError(
                f"{option} {text!r}: kind {kind!r} is not one of {', '.join(UNIT_KINDS)}"
            )
        unit["kind"] = kind
    if len(parts) > 3:
        unit["id"] = parts[3].strip()
    return unit
