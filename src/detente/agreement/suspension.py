"""The suspension and resumption message types every agreement admits.

A party may stop sending some kinds of message while others go on: Russia
announced the suspension of its participation in New START on 21 February
2023, and from 1 June 2023 the United States withheld its New START data
while launch notifications continued. New START provides for withdrawal
(Article XIV.3), not for suspension, so a treaty's text is no guide to
whether a party will suspend: the record must be able to say so under any
agreement. Like the free-text ``message``, the two types are added to every
resolved agreement (:meth:`detente.agreement.Agreement`), and an agreement
file may not define them differently.

``suspension`` names message types of the agreement and the instant from
which the sender stops sending them; ``resumption`` names types it sends
again. Their bodies are checked by JSON Schema like any other, and the
schema lists the agreement's own type ids, so a suspension naming an
unknown type is refused by every node with the failing field named
(``body.types[0]: 'nope' is not one of [...]``). Which types a party may
suspend (only those it may send), and whether a type is suspended already,
the sender's node checks before it signs (:mod:`detente.node.suspensions`).

Example:
    >>> types = suspension_message_types(["aggregate_data", "message"])
    >>> sorted(types)
    ['resumption', 'suspension']
    >>> types["suspension"].validate_body({"types": ["launch"], "effective":
    ...     "2023-06-01T00:00:00Z", "reason": "countermeasure"})
    Traceback (most recent call last):
    ...
    detente.errors.BodyError: body.types[0]: 'launch' is not one of ['aggregate_data', 'message']
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from detente.agreement._base import ANY_PARTY
from detente.agreement.messages import MessageType, Priority

__all__ = [
    "RESUMPTION_TYPE",
    "SUSPENSION_TYPE",
    "SUSPENSION_TYPES",
    "suspension_message_types",
]

#: A party stops sending the named types from ``effective`` on.
SUSPENSION_TYPE = "suspension"
#: A party sends the named types again from ``effective`` on.
RESUMPTION_TYPE = "resumption"
#: Both, which cannot themselves be suspended.
SUSPENSION_TYPES = frozenset({SUSPENSION_TYPE, RESUMPTION_TYPE})

_MAX_REASON = 10_000
_MAX_ARTICLE = 256
# RFC 3339 in UTC with a Z, as envelope times are: jsonschema checks the
# "date-time" format only when an optional package is installed.
_UTC_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$"


def _schema(type_ids: list[str], *, reason_required: bool) -> dict[str, Any]:
    required = ["types", "effective", "reason"] if reason_required else ["types", "effective"]
    return {
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": {
            "types": {
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": {"type": "string", "enum": type_ids},
                "description": "Message types of the agreement.",
            },
            "effective": {
                "type": "string",
                "format": "date-time",
                "pattern": _UTC_TIME,
                "description": "From when (RFC 3339 UTC); never before the message's created time.",
            },
            "reason": {"type": "string", "minLength": 1, "maxLength": _MAX_REASON},
            "article": {"type": "string", "minLength": 1, "maxLength": _MAX_ARTICLE},
        },
    }


def suspension_message_types(type_ids: Iterable[str]) -> dict[str, MessageType]:
    """The ``suspension`` and ``resumption`` types for an agreement with ``type_ids``.

    Args:
        type_ids: the agreement's message type ids; the two protocol types
            among them are left out of what can be suspended.

    Returns:
        Both types, keyed by id, any party as sender, every other party as
        default recipients, IMMEDIATE precedence: a suspension changes what
        every peer may expect next.
    """
    suspendable = sorted(set(type_ids) - SUSPENSION_TYPES)
    return {
        SUSPENSION_TYPE: MessageType(
            id=SUSPENSION_TYPE,
            description=(
                "The sender stops sending the named message types from `effective` on; "
                "their obligations show as suspended, not overdue."
            ),
            senders=[ANY_PARTY],
            recipients=[ANY_PARTY],
            body_schema=_schema(suspendable, reason_required=True),
            priority=Priority.IMMEDIATE,
        ),
        RESUMPTION_TYPE: MessageType(
            id=RESUMPTION_TYPE,
            description=(
                "The sender sends the named, suspended message types again from `effective` on."
            ),
            senders=[ANY_PARTY],
            recipients=[ANY_PARTY],
            body_schema=_schema(suspendable, reason_required=False),
            priority=Priority.IMMEDIATE,
        ),
    }
