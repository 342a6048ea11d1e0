"""Deadlines as data: when a message of a given type is due.

Treaties phrase deadlines in a few recurring ways, and each is one ``kind``:

- ``after_event``: "no later than five days after it occurs" (New START
  Protocol, Part Four, Section II.3). The event's date is a field of the
  message body, named by ``event_field``.
- ``before_event``: "at least 42 days before the start of the activity"
  (Vienna Document prior notification). Again ``event_field`` names the body
  field holding the start date.
- ``after_message``: "within 48 hours of the request": due after the
  receipt of a message of type ``message_type`` that this one answers.

Periodic exchanges ("data as of 1 March and 1 September, due 30 days later")
are a separate rule, :class:`PeriodicExchange`, since they fall due whether
or not anything happened.

The rules only compute instants; which clock counts (for New START the
receipt time) and what is overdue is the obligations engine's business.

Example:
    >>> from datetime import datetime
    >>> rule = AfterEvent(kind="after_event", days=5, event_field="event_date")
    >>> rule.due(datetime(2024, 3, 1))
    datetime.datetime(2024, 3, 6, 0, 0)
    >>> PeriodicExchange(as_of=["03-01", "09-01"], due_days=30).schedule(2024)[0]
    (datetime.date(2024, 3, 1), datetime.date(2024, 3, 31))
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator

from detente.agreement._base import Frozen, Positive, Slug, Span, is_field_name

__all__ = [
    "AfterEvent",
    "AfterMessage",
    "BeforeEvent",
    "DeadlineRule",
    "PeriodicExchange",
]


def _field_name(name: str) -> str:
    if not is_field_name(name):
        raise ValueError(f"{name!r} is not a body field name (letters, digits, _)")
    return name


FieldName = Annotated[str, AfterValidator(_field_name)]


class AfterEvent(Span):
    """Due a span after the date in the body field ``event_field``."""

    kind: Literal["after_event"]
    event_field: FieldName

    def due(self, event: datetime) -> datetime:
        """The latest instant the message may be given for an event at ``event``."""
        return event + self.delta


class BeforeEvent(Span):
    """Due a span before the date in the body field ``event_field``."""

    kind: Literal["before_event"]
    event_field: FieldName

    def due(self, event: datetime) -> datetime:
        """The latest instant the message may be given for an activity starting at ``event``."""
        return event - self.delta


class AfterMessage(Span):
    """Due a span after the receipt of a message of type ``message_type``."""

    kind: Literal["after_message"]
    message_type: Slug

    def due(self, received: datetime) -> datetime:
        """The latest instant the answer may be given to a message received at ``received``."""
        return received + self.delta


DeadlineRule = Annotated[AfterEvent | BeforeEvent | AfterMessage, Field(discriminator="kind")]
"""One of the deadline kinds, told apart by ``kind``."""


def _month_day(text: str) -> str:
    try:
        # 2001 is not a leap year: 29 February is refused, as it has no date most years.
        date.fromisoformat(f"2001-{text}")
    except ValueError:
        raise ValueError(f"{text!r} is not a day of the year written MM-DD") from None
    return text


MonthDay = Annotated[str, Field(pattern=r"^\d{2}-\d{2}$"), AfterValidator(_month_day)]


class PeriodicExchange(Frozen):
    """Data as of fixed days each year, each due ``due_days`` after its as-of day.

    ``as_of`` is written in ascending order, each day once, so that one
    schedule has one spelling (and one agreement id).
    """

    as_of: Annotated[list[MonthDay], Field(min_length=1)]
    due_days: Positive

    @field_validator("as_of")
    @classmethod
    def _ascending(cls, days: list[str]) -> list[str]:
        if any(a >= b for a, b in zip(days, days[1:], strict=False)):
            raise ValueError("as_of days must be in ascending order, each once")
        return days

    def schedule(self, year: int) -> list[tuple[date, date]]:
        """The (as-of day, due day) pairs whose as-of day falls in ``year``."""
        out = []
        for text in self.as_of:
            as_of = date.fromisoformat(f"{year:04d}-{text}")
            out.append((as_of, as_of + timedelta(days=self.due_days)))
        return out
