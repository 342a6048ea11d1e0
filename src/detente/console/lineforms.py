"""The emergency line's console forms, read into the node's actions' arguments (pure).

Three forms send something on the line: a message (free text and/or a
template with its blanks), an incident report, and the record of a notice
given out of band. Each reader takes the posted form and gives the keyword
arguments of the node's action (:mod:`detente.node.hotline`) and, per
field, what is wrong with it, in the operator's language (``gettext``).
What the form cannot see (the body schema, the template's own rules, the
recipients the agreement allows) the node's writer checks; :func:`field_for`
maps its error back to the field it names.

Times are typed in UTC, as everything in the console is shown
(``<input type="datetime-local">`` gives ``2026-03-01T11:40``, no zone).

Example:
    >>> form = {"to": ["ru"], "priority": ["FLASH"], "text": ["Aircraft closing."]}
    >>> message_from_form(form, parties=["nato", "ru"], templates={})
    ({'to': ('ru',), 'priority': 'FLASH', 'text': 'Aircraft closing.'}, {})
    >>> units_from_lines("us, USS Porter, ship")
    [{'party': 'us', 'name': 'USS Porter', 'kind': 'ship'}]
    >>> field_for("us:4: body.fields.unit: 'x…' is too long", ("unit",))
    'field.unit'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from detente.agreement.hotline import Template
from detente.console.forms import field_of
from detente.measures.hotline import parse_body_time
from detente.record.envelope import PRIORITIES

__all__ = [
    "UNIT_KINDS",
    "field_for",
    "incident_from_form",
    "message_from_form",
    "notice_from_form",
    "parse_utc",
    "units_from_lines",
]

Gettext = Callable[[str], str]
Form = Mapping[str, Sequence[str]]

#: The kinds a unit may be, as the incident types' schemas list them.
UNIT_KINDS = ("ship", "aircraft", "ground", "other")
_MAX_UNITS = 32
_LOCAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?")
# The writer's errors start with the entry's position ("us:4: body.x: ...").
_BLANK = re.compile(r"(?:^|: )body\.fields\.([a-z][a-z0-9_]*)")
_POSITION = re.compile(r"(?:^|: )body\.position\.(lat|lon)\b")
_UNITS = re.compile(r"(?:^|: )body\.units\b")
_BODY = re.compile(r"(?:^|: )body\.([A-Za-z_][A-Za-z0-9_]*)")
_LEADING = re.compile(r"^([a-z_]+): ")


def _same(message: str) -> str:
    return message


def _one(form: Form, key: str) -> str:
    values = form.get(key) or [""]
    return values[0].strip()


def _recipients(
    form: Form, parties: Collection[str], errors: dict[str, str], gettext: Gettext
) -> tuple[str, ...]:
    chosen = tuple(p for p in form.get("to", []) if p)
    unknown = [p for p in chosen if p not in parties]
    if unknown:
        errors["to"] = gettext("Not a party this node sends to: %(party)s") % {
            "party": ", ".join(unknown)
        }
    elif not chosen:
        errors["to"] = gettext("Choose at least one recipient.")
    return chosen


def parse_utc(text: str) -> datetime | None:
    """A time typed in a form, in UTC: ``2026-03-01T11:40`` or RFC 3339; None if neither.

    >>> parse_utc("2026-03-01T11:40")
    datetime.datetime(2026, 3, 1, 11, 40, tzinfo=datetime.timezone.utc)
    >>> parse_utc("yesterday") is None
    True
    """
    text = text.strip()
    if _LOCAL.fullmatch(text):
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    return parse_body_time(text)


def message_from_form(
    form: Form,
    *,
    parties: Collection[str],
    templates: Mapping[str, Template],
    gettext: Gettext = _same,
) -> tuple[dict[str, Any], dict[str, str]]:
    """The arguments of ``send_line_message``, and the fields in error.

    The blanks of the chosen template are the form's ``field.<name>`` keys.
    """
    errors: dict[str, str] = {}
    out: dict[str, Any] = {"to": _recipients(form, parties, errors, gettext)}
    priority = _one(form, "priority")
    if priority not in PRIORITIES:
        errors["priority"] = gettext("Choose a priority.")
    out["priority"] = priority
    text = (form.get("text") or [""])[0]
    if text.strip():
        out["text"] = text.strip()
    template_id = _one(form, "template")
    if template_id:
        template = templates.get(template_id)
        if template is None:
            errors["template"] = gettext("No such template: %(id)s") % {"id": template_id}
        else:
            out["template"] = template_id
            out["fields"] = {name: _one(form, f"field.{name}") for name in template.fields}
            for name, value in out["fields"].items():
                if not value:
                    errors[f"field.{name}"] = gettext("Fill in this blank.")
    elif "text" not in out:
        errors["text"] = gettext("Write a text, or choose a template.")
    return out, errors


def units_from_lines(text: str, gettext: Gettext = _same) -> list[dict[str, str]]:
    """Units typed one a line, ``party, name, kind`` (kind may be left out).

    Raises:
        ValueError: a line lacks a name, names an unknown kind, or there
            are too many (the message in the operator's language).
    """
    units: list[dict[str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split(",")]
        if len(parts) < 2 or not parts[0] or not parts[1] or len(parts) > 3:
            raise ValueError(gettext("Line %(line)d: write party, name, kind.") % {"line": number})
        unit = {"party": parts[0], "name": parts[1]}
        if len(parts) == 3 and parts[2]:
            if parts[2] not in UNIT_KINDS:
                raise ValueError(
                    gettext("Line %(line)d: the kind is one of %(kinds)s.")
                    % {"line": number, "kinds": ", ".join(UNIT_KINDS)}
                )
            unit["kind"] = parts[2]
        units.append(unit)
    if len(units) > _MAX_UNITS:
        raise ValueError(gettext("At most %(num)d units.") % {"num": _MAX_UNITS})
    return units


def _number(
    form: Form, key: str, low: float, high: float, errors: dict[str, str], gettext: Gettext
) -> float | None:
    text = _one(form, key)
    try:
        value = float(text)
    except ValueError:
        errors[key] = gettext("A number from %(low)s to %(high)s.") % {"low": low, "high": high}
        return None
    if not low <= value <= high:
        errors[key] = gettext("A number from %(low)s to %(high)s.") % {"low": low, "high": high}
        return None
    return value


def _time(form: Form, key: str, errors: dict[str, str], gettext: Gettext) -> datetime | None:
    moment = parse_utc(_one(form, key))
    if moment is None:
        errors[key] = gettext("A date and time in UTC, such as 2026-03-01T11:40.")
    return moment


def _required(form: Form, key: str, errors: dict[str, str], gettext: Gettext) -> str:
    text = _one(form, key)
    if not text:
        errors[key] = gettext("Required.")
    return text


def incident_from_form(
    form: Form,
    *,
    parties: Collection[str],
    kinds: Collection[str],
    gettext: Gettext = _same,
) -> tuple[dict[str, Any], dict[str, str]]:
    """The arguments of ``report_incident``, and the fields in error."""
    errors: dict[str, str] = {}
    out: dict[str, Any] = {"to": _recipients(form, parties, errors, gettext)}
    kind = _one(form, "kind")
    if kind not in kinds:
        errors["kind"] = gettext("Choose a kind.")
    out["kind"] = kind
    out["at"] = _time(form, "at", errors, gettext)
    out["lat"] = _number(form, "lat", -90, 90, errors, gettext)
    out["lon"] = _number(form, "lon", -180, 180, errors, gettext)
    try:
        out["units"] = units_from_lines((form.get("units") or [""])[0], gettext)
    except ValueError as e:
        errors["units"] = str(e)
    else:
        if not out["units"]:
            errors["units"] = gettext("Name at least one unit.")
    out["account"] = _required(form, "account", errors, gettext)
    area = _one(form, "area")
    if area:
        out["area"] = area
    return out, errors


def notice_from_form(
    form: Form,
    *,
    parties: Collection[str],
    means: Collection[str],
    gettext: Gettext = _same,
) -> tuple[dict[str, Any], dict[str, str]]:
    """The arguments of ``record_notice``, and the fields in error."""
    errors: dict[str, str] = {}
    out: dict[str, Any] = {"to": _recipients(form, parties, errors, gettext)}
    out["given_at"] = _time(form, "given_at", errors, gettext)
    chosen = _one(form, "means")
    if chosen not in means:
        errors["means"] = gettext("Choose how the notice was given.")
    out["means"] = chosen
    for key in ("given_by", "given_to", "summary"):
        out[key] = _required(form, key, errors, gettext)
    return out, errors


def field_for(message: str, fields: Collection[str]) -> str:
    """The form field an error of the node is about, ``_form`` when none.

    ``fields`` are the form's own field names, which an error may start
    with (``given_at: ... is in the future``); a template's blank is
    ``field.<name>``.
    """
    for pattern, name in ((_BLANK, "field.{}"), (_POSITION, "{}")):
        found = pattern.search(message)
        if found is not None:
            return name.format(found.group(1))
    if _UNITS.search(message):
        return "units"
    found = _BODY.search(message) or _LEADING.search(message)
    if found is not None and found.group(1) in fields:
        return found.group(1)
    named = field_of(message)
    return named if named is not None and named in fields else "_form"
