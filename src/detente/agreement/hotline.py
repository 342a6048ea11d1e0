"""The emergency line: acknowledgement deadlines, link tests, incident thresholds.

Example:
    >>> from detente.agreement.messages import Priority
    >>> line = Hotline(ack={"FLASH": {"minutes": 3}}, link_test_interval={"hours": 1})
    >>> line.ack_deadline(Priority.FLASH)
    datetime.timedelta(seconds=180)
    >>> line.ack_deadline(Priority.ROUTINE) is None
    True
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import Strict

from detente.agreement._base import Frozen, Positive, Span
from detente.agreement.messages import Priority

__all__ = ["Hotline", "IncidentThresholds"]


class Hotline(Frozen):
    """How fast each priority must be acknowledged, and how often the link is tested.

    A priority missing from ``ack`` has no acknowledgement deadline.
    """

    ack: dict[Annotated[Priority, Strict(False)], Span]
    link_test_interval: Span

    def ack_deadline(self, priority: Priority) -> timedelta | None:
        """Time allowed to acknowledge a message of ``priority``, or None."""
        span = self.ack.get(priority)
        return None if span is None else span.delta


class IncidentThresholds(Frozen):
    """When a predicted close approach becomes an incident worth a message.

    Two tracks whose closest point of approach, within ``horizon_seconds``
    from now, is nearer than ``horizontal_metres`` across and
    ``vertical_metres`` in height.
    """

    horizontal_metres: Positive
    vertical_metres: Positive
    horizon_seconds: Positive
