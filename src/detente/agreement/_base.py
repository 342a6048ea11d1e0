"""Building blocks shared by every agreement model: the frozen base and field types.

Every model forbids unknown keys (a misspelt key in a treaty file is an
error, never silently ignored) and is strict about types (``max = "700"`` is
rejected rather than read as 700), because an agreement's numbers are what
both sides sign up to. Dates and priorities are the exceptions: they accept
ISO strings, so that the JSON form of an agreement reads back unchanged.

Integers are bounded by 2**53 - 1, the range RFC 8785 carries exactly.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

__all__ = [
    "ANY_PARTY",
    "Count",
    "Day",
    "Frozen",
    "PartyRefs",
    "Positive",
    "Slug",
    "Span",
    "Text",
    "is_field_name",
    "json_value",
]

_MAX_INT = 2**53 - 1
_SLUG = r"^[a-z][a-z0-9_-]{0,63}$"

#: In a list of parties, ``"*"`` stands for every party of the agreement.
ANY_PARTY = "*"


class Frozen(BaseModel):
    """Immutable, strict, closed: the base of every agreement model."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        strict=True,
        allow_inf_nan=False,
        validate_default=False,
    )


Slug = Annotated[str, Field(pattern=_SLUG)]
"""An id: a lower-case letter, then up to 63 letters, digits, ``_`` or ``-``."""

Text = Annotated[str, Field(max_length=10_000)]
Count = Annotated[int, Field(ge=0, le=_MAX_INT)]
Positive = Annotated[int, Field(gt=0, le=_MAX_INT)]


def _to_day(value: Any) -> Any:
    # datetime is a subclass of date; a limit takes effect on a day, not an instant.
    if isinstance(value, datetime):
        raise ValueError("expected a date (YYYY-MM-DD), not a date-time")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"expected a date (YYYY-MM-DD), got {value!r}") from None
    raise ValueError(f"expected a date (YYYY-MM-DD), got {type(value).__name__}")


Day = Annotated[date, BeforeValidator(_to_day)]
"""A calendar day: a TOML local date or an ISO ``YYYY-MM-DD`` string."""


def _check_party_refs(refs: list[str]) -> list[str]:
    if ANY_PARTY in refs and len(refs) > 1:
        raise ValueError('"*" (any party) must stand alone')
    if len(set(refs)) != len(refs):
        raise ValueError("a party is listed twice")
    return refs


PartyRefs = Annotated[
    list[Annotated[str, Field(pattern=rf"{_SLUG}|^\*$")]],
    Field(min_length=1),
    AfterValidator(_check_party_refs),
]
"""Party ids, or ``["*"]`` for any party of the agreement."""


class Span(Frozen):
    """A length of time written as whole days, hours, minutes and seconds.

    Whole numbers only, so that the canonical form never holds a float; the
    parts add up (``{days = 1, hours = 12}`` is 36 hours) and must add up to
    more than zero.
    """

    days: Count = 0
    hours: Count = 0
    minutes: Count = 0
    seconds: Count = 0

    @model_validator(mode="after")
    def _positive(self) -> Span:
        if self.delta <= timedelta(0):
            raise ValueError("a span of time must be longer than zero")
        return self

    @property
    def delta(self) -> timedelta:
        """The span as a ``timedelta``."""
        return timedelta(
            days=self.days, hours=self.hours, minutes=self.minutes, seconds=self.seconds
        )


_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def json_value(value: Any, where: str = "") -> None:
    """Check that ``value`` is plain JSON: no dates, no NaN, no huge integers.

    TOML can express values JSON cannot (dates, times, ``nan``, ``inf``);
    a JSON Schema written in TOML must not contain them.

    Raises:
        ValueError: naming the first offending place.
    """
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        if abs(value) > _MAX_INT:
            raise ValueError(f"{where or 'value'}: integer beyond 2**53 - 1")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where or 'value'}: {value} is not a JSON number")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            json_value(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where or 'value'}: object key {key!r} is not a string")
            json_value(item, f"{where}.{key}" if where else key)
        return
    raise ValueError(f"{where or 'value'}: {type(value).__name__} is not a JSON value")


def is_field_name(name: str) -> bool:
    """True for a plain top-level body field name such as ``event_date``."""
    return _FIELD_NAME.match(name) is not None
