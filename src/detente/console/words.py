"""Words the console shows that come from data, not templates, marked for translation.

Templates translate them with ``_(value)`` at run time; listing them here
with :func:`N_` lets Babel's extraction find them (``make catalogs``).
"""

from __future__ import annotations

__all__ = ["N_", "WORDS"]


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark, don't translate"
    """Mark ``message`` for extraction; return it unchanged."""
    return message


WORDS = (
    # Delivery states of a message to a peer (api.messages._state).
    N_("queued"),
    N_("delivered"),
    N_("receipted"),
    N_("overdue"),
    # Roles (node.operators.Role).
    N_("viewer"),
    N_("operator"),
    N_("admin"),
    # States of a two-person release (node.releases).
    N_("pending"),
    N_("released"),
    N_("rejected"),
    N_("withdrawn"),
)
