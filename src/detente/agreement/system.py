"""Protocol message types that every agreement admits, defined once in code.

Agreement message type ids are slugs (``[a-z][a-z0-9_-]*``), so they can
never contain a dot; the ids under the reserved ``detente.`` prefix belong
to the protocol itself. They are not part of any agreement file and do not
change an agreement's id: every node of every agreement knows them.

Today they carry the log's key history (:mod:`detente.record.keyhistory`):
any party may send them, and only to every other party, so that each peer
holds the body it needs to follow the keys.

Example:
    >>> system_message_type("detente.key_rotation").may_send("ru")
    True
    >>> is_system_type("message")
    False
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from detente.agreement._base import ANY_PARTY
from detente.agreement.messages import MessageType, Priority
from detente.errors import TypeNotAllowedError

__all__ = [
    "KEY_TYPES",
    "gets_body",
    "MAX_KEY_TEXT",
    "MAX_REASON",
    "REVOCATION_TYPE",
    "ROTATION_TYPE",
    "SYSTEM_PREFIX",
    "SystemMessageType",
    "is_system_type",
    "system_message_type",
]

SYSTEM_PREFIX = "detente."
"""Type ids with this prefix are the protocol's, never an agreement's."""

ROTATION_TYPE = "detente.key_rotation"
"""The entry type that hands the log over to a new key (:mod:`detente.record.keyhistory`)."""

REVOCATION_TYPE = "detente.key_revocation"
"""The entry type that declares an earlier key compromised as of a position."""

KEY_TYPES = frozenset({ROTATION_TYPE, REVOCATION_TYPE})

MAX_KEY_TEXT = 512
"""Longest verifier key text accepted in a key entry (a real one is ~110 characters)."""

MAX_REASON = 1000
"""Longest reason, in characters."""


class SystemMessageType(MessageType):
    """A message type of the protocol: its id may carry the ``detente.`` prefix."""

    id: str  # wider than an agreement's Slug on purpose


_KEY = {"type": "string", "minLength": 1, "maxLength": MAX_KEY_TEXT}
_REASON = {"type": "string", "maxLength": MAX_REASON}


def _schema(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": sorted(properties),
        "additionalProperties": False,
    }


_TYPES = {
    t.id: t
    for t in (
        SystemMessageType(
            id=ROTATION_TYPE,
            description="The log's key hands over to new_key from the next position on.",
            senders=[ANY_PARTY],
            recipients=[ANY_PARTY],
            body_schema=_schema({"new_key": _KEY, "reason": _REASON}),
            priority=Priority.IMMEDIATE,
        ),
        SystemMessageType(
            id=REVOCATION_TYPE,
            description="An earlier key of the log is compromised as of from_seq.",
            senders=[ANY_PARTY],
            recipients=[ANY_PARTY],
            body_schema=_schema(
                {
                    "key": _KEY,
                    "from_seq": {"type": "integer", "minimum": 0, "maximum": 2**53 - 1},
                    "reason": _REASON,
                }
            ),
            priority=Priority.IMMEDIATE,
        ),
    )
}


def gets_body(*, type_id: str, to: Sequence[str], node: str) -> bool:
    """Whether the node ``node`` (a party or a witness) is sent an entry's body.

    Its recipients are; and everyone is sent a key entry's body, which holds
    only public keys: every mirror, witnesses included, needs it to follow
    the log's keys (ADR 0005).
    """
    return node in to or type_id in KEY_TYPES


def is_system_type(type_id: str) -> bool:
    """Whether ``type_id`` is under the protocol's reserved prefix."""
    return type_id.startswith(SYSTEM_PREFIX)


def system_message_type(type_id: str) -> MessageType:
    """The protocol message type ``type_id``.

    Raises:
        TypeNotAllowedError: no protocol type has that id.
    """
    try:
        return _TYPES[type_id]
    except KeyError:
        raise TypeNotAllowedError(
            f"{type_id!r} is under the reserved prefix {SYSTEM_PREFIX!r} but is no protocol "
            f"message type (they are: {', '.join(sorted(_TYPES))})"
        ) from None
