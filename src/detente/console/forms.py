"""Forms from a message type's JSON Schema, and bodies from the forms (pure).

Each property of the body schema becomes one field, by its JSON type:
strings with ``enum`` a choice, ``format: date`` or ``date-time`` a date
input, long strings a text area; integers and numbers a number input;
booleans a checkbox; arrays of strings one item per line (or checkboxes
when they have an ``enum``); anything else a JSON text area. The form
gives text back; :func:`body_from_form` turns it into the body the schema
validates, and names the field whose text is not a value of its type. The
schema itself is checked by the writer, which names the field in error
(``body.x: ...``); :func:`field_of` maps that back to the form.

Example:
    >>> schema = {"type": "object", "properties": {"count": {"type": "integer"}},
    ...           "required": ["count"]}
    >>> [f.name for f in fields_for(schema)]
    ['count']
    >>> body_from_form(schema, {"count": ["3"]})
    ({'count': 3}, {})
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Field", "body_from_form", "field_of", "fields_for"]

_LONG_TEXT = 200
# The writer's errors may start with the entry's position ("us:0: body.x: ...").
_ENVELOPE = re.compile(r"(?:^|: )(?:header\.)?(to|priority|refs|article)\b")
_RECIPIENTS = re.compile(r"(?:^|: )recipient\(s\) ")
_PATH = re.compile(r"(?:^|: )body\.([A-Za-z_][A-Za-z0-9_]*)")
_REQUIRED = re.compile(r"(?:^|: )body: '([A-Za-z_][A-Za-z0-9_]*)' is a required property")


@dataclass(frozen=True)
class Field:
    """One form field: its widget and what the template shows beside it."""

    name: str
    widget: str  # text, textarea, select, date, datetime, number, checkbox, lines, choices, json
    label: str
    required: bool
    description: str = ""
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    step: str = "any"
    max_length: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def fields_for(schema: dict[str, Any]) -> list[Field]:
    """The fields of a body schema, in the schema's order."""
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    return [_field(name, spec, name in required) for name, spec in properties.items()]


def _field(name: str, spec: dict[str, Any], required: bool) -> Field:
    kind = spec.get("type")
    label = str(spec.get("title") or name.replace("_", " "))
    common: dict[str, Any] = {
        "name": name,
        "label": label,
        "required": required,
        "description": str(spec.get("description", "")),
    }
    if "enum" in spec and kind in ("string", None):
        return Field(widget="select", choices=tuple(str(v) for v in spec["enum"]), **common)
    if kind == "string":
        fmt = spec.get("format")
        if fmt == "date":
            return Field(widget="date", **common)
        if fmt == "date-time":
            return Field(widget="datetime", **common)
        longest = spec.get("maxLength")
        widget = "textarea" if longest is None or longest > _LONG_TEXT else "text"
        return Field(widget=widget, max_length=longest, **common)
    if kind in ("integer", "number"):
        return Field(
            widget="number",
            minimum=spec.get("minimum"),
            maximum=spec.get("maximum"),
            step="1" if kind == "integer" else "any",
            **common,
        )
    if kind == "boolean":
        return Field(widget="checkbox", **common)
    if kind == "array" and isinstance(spec.get("items"), dict):
        items = spec["items"]
        if items.get("type") == "string" and "enum" in items:
            return Field(widget="choices", choices=tuple(str(v) for v in items["enum"]), **common)
        if items.get("type") == "string":
            return Field(widget="lines", **common)
    return Field(widget="json", **common)


def body_from_form(
    schema: dict[str, Any], form: dict[str, list[str]]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The body the form describes, and per field the text that is not a value.

    Fields left empty are omitted (the schema says whether they may be).
    Field ``x`` is read from form key ``x`` (all values for checkboxes).
    """
    body: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in fields_for(schema):
        values = form.get(f.name, [])
        text = values[0].strip() if values else ""
        try:
            value = _value(f, text, values)
        except ValueError as e:
            errors[f.name] = str(e)
            continue
        if value is not None:
            body[f.name] = value
    return body, errors


def _value(f: Field, text: str, values: list[str]) -> Any:
    if f.widget == "checkbox":
        return bool(values) and values[0] in ("on", "true", "1")
    if f.widget == "choices":
        return [v for v in values if v] or None
    if not text:
        return None
    if f.widget == "number":
        try:
            return int(text) if f.step == "1" else float(text)
        except ValueError:
            kind = "a whole number" if f.step == "1" else "a number"
            raise ValueError(f"{text!r} is not {kind}") from None
    if f.widget == "datetime":
        # <input type="datetime-local"> gives 2026-11-29T05:30 (no zone): the
        # console states every time in UTC, so it is read as UTC.
        if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?", text):
            return text + (":00Z" if len(text) == 16 else "Z")
        return text
    if f.widget == "lines":
        return [line.strip() for line in text.splitlines() if line.strip()]
    if f.widget == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"not JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
        except RecursionError:
            raise ValueError("not JSON this console reads: nested too deeply") from None
    if f.widget in ("text", "textarea"):
        return values[0] if f.widget == "textarea" else text
    return text


def field_of(message: str) -> str | None:
    """The field an error such as ``body.count: -1 is less than ...`` is about.

    A body property by its name; the envelope's ``to``, ``priority``,
    ``refs`` and ``article`` by theirs; None for the form as a whole.
    """
    found = _PATH.search(message) or _REQUIRED.search(message)
    if found is not None:
        return found.group(1)
    envelope = _ENVELOPE.search(message)
    if envelope is not None:
        return envelope.group(1)
    return "to" if _RECIPIENTS.search(message) else None
