"""Message types: who may send what, what its body must look like, when it is due.

A message type's body is described by a JSON Schema (Draft 2020-12), so
that a node can refuse a malformed notification before it is signed, and a
peer can refuse it on receipt, with a message naming the failing field.

Example:
    >>> t = free_text_message_type()
    >>> t.may_send("us")
    True
    >>> t.validate_body({"text": ""})
    Traceback (most recent call last):
    ...
    detente.errors.BodyError: body.text: '' should be non-empty
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError, best_match
from pydantic import Field, field_validator, model_validator

from detente.agreement._base import (
    ANY_PARTY,
    Frozen,
    PartyRefs,
    Positive,
    Slug,
    Text,
    json_value,
)
from detente.agreement.deadlines import AfterEvent, BeforeEvent, DeadlineRule, PeriodicExchange
from detente.errors import BodyError

__all__ = [
    "FREE_TEXT_MAX_LENGTH",
    "FREE_TEXT_TYPE",
    "MessageType",
    "Priority",
    "free_text_message_type",
]

#: The type every agreement has: free text between the parties.
FREE_TEXT_TYPE = "message"
#: Longest free-text body, in characters: about forty pages of prose.
FREE_TEXT_MAX_LENGTH = 100_000

_MAX_ERROR_LENGTH = 300


class Priority(enum.StrEnum):
    """Message precedence, highest first, as in military message handling."""

    FLASH = "FLASH"
    IMMEDIATE = "IMMEDIATE"
    PRIORITY = "PRIORITY"
    ROUTINE = "ROUTINE"


class MessageType(Frozen):
    """One kind of message an agreement provides for.

    ``senders`` and ``recipients`` list party ids, or ``["*"]`` for any party
    of the agreement; ``recipients`` is the default for the envelope's
    ``to`` when the sender names none (``"*"``: every other party).
    :meth:`may_send` answers for the sender list alone; whether a party
    belongs to the agreement at all is the agreement's question
    (:meth:`detente.agreement.Agreement.party_ids`).
    """

    id: Slug
    description: Text = ""
    senders: PartyRefs
    recipients: PartyRefs = Field(default_factory=lambda: [ANY_PARTY])
    body_schema: dict[str, Any]
    priority: Priority = Field(default=Priority.ROUTINE, strict=False)
    article: Text | None = None
    deadline: DeadlineRule | None = None
    periodic: PeriodicExchange | None = None
    declares: Literal["counts", "items", "dispute"] | None = None
    notify_when: dict[Slug, Positive] | None = None

    @field_validator("body_schema", mode="before")
    @classmethod
    def _schema(cls, schema: Any) -> Any:
        if not isinstance(schema, dict):
            return schema  # the dict check reports it
        json_value(schema)
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as e:
            where = ".".join(str(p) for p in e.absolute_path)
            raise ValueError(
                f"not a valid JSON Schema (Draft 2020-12){' at ' + where if where else ''}: "
                f"{_shorten(e.message)}"
            ) from None
        if schema.get("type") != "object":
            raise ValueError('a body schema must have "type": "object" (bodies are JSON objects)')
        return schema

    @model_validator(mode="after")
    def _event_field_is_a_date(self) -> MessageType:
        rule = self.deadline
        if isinstance(rule, AfterEvent | BeforeEvent):
            properties = self.body_schema.get("properties")
            spec = properties.get(rule.event_field) if isinstance(properties, dict) else None
            if not isinstance(spec, dict):
                raise ValueError(
                    f"deadline.event_field {rule.event_field!r} is not a property of body_schema"
                )
            if spec.get("format") not in ("date", "date-time"):
                raise ValueError(
                    f"deadline.event_field {rule.event_field!r} must have "
                    '"format": "date" or "date-time" in body_schema'
                )
            if rule.event_field not in self.body_schema.get("required", []):
                raise ValueError(
                    f"deadline.event_field {rule.event_field!r} must be required in body_schema"
                )
        return self

    @model_validator(mode="after")
    def _declares_and_thresholds(self) -> MessageType:
        properties = self.body_schema.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        required = self.body_schema.get("required", [])
        if self.declares == "counts":
            as_of, counts = properties.get("as_of"), properties.get("counts")
            if not isinstance(as_of, dict) or as_of.get("format") != "date":
                raise ValueError(
                    'declares = "counts" needs a body property as_of with "format": "date"'
                )
            if not isinstance(counts, dict) or counts.get("type") != "object":
                raise ValueError('declares = "counts" needs a body property counts of type object')
            if "as_of" not in required or "counts" not in required:
                raise ValueError('declares = "counts": as_of and counts must be required')
        if self.declares == "items":
            as_of, items = properties.get("as_of"), properties.get("items")
            if not isinstance(as_of, dict) or as_of.get("format") != "date":
                raise ValueError(
                    'declares = "items" needs a body property as_of with "format": "date"'
                )
            if not isinstance(items, dict) or items.get("type") != "array":
                raise ValueError('declares = "items" needs a body property items of type array')
            if "as_of" not in required or "items" not in required:
                raise ValueError('declares = "items": as_of and items must be required')
        if self.declares == "dispute" and "text" not in required:
            raise ValueError('declares = "dispute" needs a required body property text')
        if self.notify_when is not None:
            if not isinstance(self.deadline, AfterEvent | BeforeEvent):
                raise ValueError("notify_when needs an after_event or before_event deadline")
            for name in self.notify_when:
                spec = properties.get(name)
                if not isinstance(spec, dict) or spec.get("type") != "integer":
                    raise ValueError(f"notify_when.{name}: not an integer property of body_schema")
        return self

    def needs_notice(self, body: Mapping[str, Any]) -> bool:
        """Whether a notice with ``body`` is owed: it reaches a ``notify_when`` threshold
        (always, without thresholds)."""
        if self.notify_when is None:
            return True
        return any(
            isinstance(body.get(name), int) and body[name] >= least
            for name, least in self.notify_when.items()
        )

    def __hash__(self) -> int:
        # The generated frozen hash fails on body_schema (a dict); equal types share an id.
        return hash(self.id)

    def may_send(self, party: str) -> bool:
        """True if ``party`` is among this type's senders (or any party may send)."""
        return ANY_PARTY in self.senders or party in self.senders

    @cached_property
    def _validator(self) -> Draft202012Validator:
        return Draft202012Validator(
            self.body_schema, format_checker=Draft202012Validator.FORMAT_CHECKER
        )

    def validate_body(self, body: object) -> None:
        """Check a message body against this type's schema.

        Raises:
            BodyError: the body is not a JSON object, or a field fails the
                schema; the message names the field's path, e.g.
                ``body.counts.deployed_icbms: -1 is less than the minimum of 0``.
        """
        if not isinstance(body, dict):
            raise BodyError(f"body: a {self.id} body must be a JSON object, not {_kind(body)}")
        if self._validator.is_valid(body):  # the common case, without collecting errors
            return
        errors: Iterable[ValidationError] = self._validator.iter_errors(body)
        error = best_match(errors)
        if error is not None:
            message = _elide_instance(error.message, error.instance)
            raise BodyError(f"{_json_path(error.absolute_path)}: {_shorten(message)}")


def free_text_message_type() -> MessageType:
    """The ``message`` type added to every agreement that does not define its own."""
    return MessageType(
        id=FREE_TEXT_TYPE,
        description="Free text from any party: proposals, replies, questions, remarks.",
        senders=[ANY_PARTY],
        recipients=[ANY_PARTY],
        body_schema={
            "type": "object",
            "properties": {
                "text": {"type": "string", "minLength": 1, "maxLength": FREE_TEXT_MAX_LENGTH}
            },
            "required": ["text"],
            "additionalProperties": False,
        },
        priority=Priority.ROUTINE,
    )


def _json_path(path: Iterable[str | int]) -> str:
    out = "body"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}"
        else:
            out += f"[{part!r}]"
    return out


def _kind(value: object) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    return "a number" if isinstance(value, int | float) else type(value).__name__


def _elide_instance(message: str, instance: object) -> str:
    """Cut a long failing value out of the message, keeping what is wrong with it."""
    shown = repr(instance)
    if len(shown) <= 60 or shown not in message:
        return message
    size = f" ({len(instance)} long)" if isinstance(instance, str | list | dict) else ""
    return message.replace(shown, f"{shown[:40]}…{size}", 1)


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_ERROR_LENGTH else text[: _MAX_ERROR_LENGTH - 1] + "…"
