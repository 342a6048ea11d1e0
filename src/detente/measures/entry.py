"""A log entry as the measure engines read it: plain data, no bytes, no I/O.

The engines fold over entries of every log a node holds. The edge
(:mod:`detente.node.measures`) builds them from the stored envelopes and
cosignatures; tests build them by hand.

``received`` says when each party received the entry, as far as the data
shows (design, "Time that counts": a message counts as given when
received, at the recipient's first cosignature on a checkpoint that
contains it). A party mapped to None is known not to have received it yet;
a party missing from the map is one whose receipt this node cannot see
(a third party's), and the engines then fall back to ``created`` and say so.

Example:
    >>> from datetime import UTC, datetime
    >>> e = Entry(party="us", seq=3, type="message", created=datetime(2026, 1, 1, tzinfo=UTC),
    ...           to=("ru",), received={"ru": None})
    >>> e.ref, e.given_to("ru"), e.given_to("nato")
    ('us:3', None, datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.timezone.utc))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["Entry"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of ``party``'s log at ``seq``, with what the engines need of it.

    Attributes:
        party: the log's owner, the sender.
        seq: the entry's position in that log.
        type: its message type.
        created: the sender's clock, as signed.
        to: its recipients.
        refs: entries it answers or cites, as ``party:seq``.
        exercise: exercise traffic, which never counts towards real obligations.
        priority: its precedence (FLASH, IMMEDIATE, PRIORITY, ROUTINE).
        body: the parsed body where this node holds it, else None.
        received: per party, when that party received it (None: not yet);
            parties this node cannot see are absent.
    """

    party: str
    seq: int
    type: str
    created: datetime
    to: tuple[str, ...] = ()
    refs: tuple[str, ...] = ()
    exercise: bool = False
    priority: str = "ROUTINE"
    body: Mapping[str, Any] | None = None
    received: Mapping[str, datetime | None] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        """The entry as other entries cite it: ``party:seq``."""
        return f"{self.party}:{self.seq}"

    def given_to(self, party: str) -> datetime | None:
        """When the entry counts as given to ``party``.

        Its receipt time where the data shows one; None where ``party`` is
        known not to have received it yet; ``created`` where this node
        cannot see ``party``'s receipts (see :meth:`receipt_known`).
        """
        if party in self.received:
            return self.received[party]
        return self.created

    def receipt_known(self, party: str) -> bool:
        """True if :meth:`given_to` ``party`` is a receipt time (or its known absence)."""
        return party in self.received
