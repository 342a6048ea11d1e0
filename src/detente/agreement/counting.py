"""What is counted and how much is allowed: categories, counting rules, limits.

A *category* is a kind of item a party declares (deployed ICBMs, Mk 41
cells); its id is fixed because declarations from outside tools name it. A
*counting rule* turns declared counts into an aggregate, as a weighted sum
("each deployed heavy bomber counts as one warhead"). A *limit* caps an
aggregate from a date, optionally until an end date.

Example:
    >>> from datetime import date
    >>> rule = CountingRule(id="launchers", terms={"icbms": 1, "bombers": 1})
    >>> rule.evaluate({"icbms": 400, "bombers": 60})
    460
    >>> limit = Limit(id="launchers", aggregate="launchers", max=800,
    ...               effective=date(2018, 2, 5), end=date(2026, 2, 5))
    >>> limit.status_on(date(2026, 2, 5))
    'not_in_force'
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from detente.agreement._base import ANY_PARTY, Count, Day, Frozen, PartyRefs, Positive, Slug, Text

__all__ = ["Category", "CountingRule", "Limit", "LimitStatus"]

LimitStatus = Literal["in_force", "not_in_force"]


class Category(Frozen):
    """A kind of declared item, counted in ``unit`` (missile, warhead, cell…)."""

    id: Slug
    name: Text
    description: Text = ""
    unit: Text


class CountingRule(Frozen):
    """An aggregate: the sum over ``terms`` of weight × declared count of the category."""

    id: Slug
    description: Text = ""
    article: Text | None = None
    terms: Annotated[dict[Slug, Positive], Field(min_length=1)]

    def evaluate(self, counts: Mapping[str, int]) -> int:
        """The aggregate for declared ``counts`` (a category not given counts zero)."""
        return sum(weight * counts.get(category, 0) for category, weight in self.terms.items())


class Limit(Frozen):
    """At most ``max`` of the aggregate ``aggregate``, for each party in ``applies_to``.

    The limit is in force on days ``d`` with ``effective <= d < end``: the
    end date is exclusive, so a treaty that "expires on 5 February 2026"
    has ``end = 2026-02-05`` and no longer binds on that day.
    """

    id: Slug
    description: Text = ""
    article: Text | None = None
    aggregate: Slug
    max: Count
    applies_to: PartyRefs = Field(default_factory=lambda: [ANY_PARTY])
    effective: Day
    end: Day | None = None

    @field_validator("end")
    @classmethod
    def _after_effective(cls, end: date | None, info: ValidationInfo) -> date | None:
        effective = info.data.get("effective")
        if end is not None and isinstance(effective, date) and end <= effective:
            raise ValueError(f"end ({end}) must be after effective ({effective})")
        return end

    def status_on(self, day: date) -> LimitStatus:
        """``"in_force"`` on days in [effective, end), else ``"not_in_force"``."""
        if day < self.effective or (self.end is not None and day >= self.end):
            return "not_in_force"
        return "in_force"
