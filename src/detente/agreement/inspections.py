"""Inspection types: quotas, notice, duration, team size, sites, sampling.

Quotas change over a treaty's life (INF's short-notice inspections: 20 a
year for three years, 15 for five, 10 for five), so a quota is a list of
periods, each starting either at a treaty-year index (counted from
``quota_start``) or at a date. A type may also cap inspections from one
requesting party ("no more than one a year from the same state") and scale
with declared holdings ("one per 60 units").

Example:
    >>> from datetime import date
    >>> inf = InspectionType(
    ...     id="short-notice", name="Short-notice", notice_hours=16,
    ...     quota_start=date(1988, 6, 1),
    ...     quota=[{"from_year_index": 0, "per_year": 20},
    ...            {"from_year_index": 3, "per_year": 15}])
    >>> inf.per_year_on(date(1991, 6, 1))
    15
"""

from __future__ import annotations

import math
from datetime import date
from typing import Annotated, Literal, TypeVar

from pydantic import Field, ValidationInfo, field_validator, model_validator

from detente.agreement._base import (
    ANY_PARTY,
    Count,
    Day,
    Frozen,
    PartyRefs,
    Positive,
    Slug,
    Text,
)

__all__ = [
    "AllSample",
    "DetectionSample",
    "FixedSample",
    "InspectionType",
    "ProportionalQuota",
    "QuotaPeriod",
    "SamplePlan",
]


class QuotaPeriod(Frozen):
    """``per_year`` inspections a year from a treaty-year index or from a date."""

    from_year_index: Count | None = None
    from_date: Day | None = None
    per_year: Count

    @model_validator(mode="after")
    def _one_start(self) -> QuotaPeriod:
        if (self.from_year_index is None) == (self.from_date is None):
            raise ValueError("give exactly one of from_year_index or from_date")
        return self


class ProportionalQuota(Frozen):
    """One inspection a year per ``units_per_inspection`` declared of ``category``.

    ``rounding`` says what a remainder earns: ``"up"`` (any part of a block
    counts as a block) or ``"down"`` (only whole blocks count). It has no
    default: treaties differ, and the file must say which.
    """

    category: Slug
    units_per_inspection: Positive
    rounding: Literal["up", "down"]

    def quota_for(self, units: int) -> int:
        """Inspections a year for ``units`` declared items."""
        blocks = units / self.units_per_inspection
        return math.ceil(blocks) if self.rounding == "up" else units // self.units_per_inspection


class AllSample(Frozen):
    """Inspect every item (small populations: 22 of 24 cells are needed for 90%)."""

    kind: Literal["all"]


class FixedSample(Frozen):
    """Inspect ``size`` items drawn at random."""

    kind: Literal["fixed"]
    size: Positive


class DetectionSample(Frozen):
    """Inspect as many items as needed to find ``assumed_bad`` bad ones with ``probability``."""

    kind: Literal["detection"]
    probability: Annotated[float, Field(gt=0.0, lt=1.0)]
    assumed_bad: Positive = 1


SamplePlan = Annotated[AllSample | FixedSample | DetectionSample, Field(discriminator="kind")]


class InspectionType(Frozen):
    """One kind of inspection or transparency visit.

    ``sites`` lists the sites it may be held at (empty: any site of the
    inspected party, declared in the agreement or by an inventory
    commitment); ``inspecting`` and ``inspected`` list who may ask and who
    must host (``["*"]``: any party).

    Hours: ``notice_hours`` from the request to the arrival at the point of
    entry, ``transit_hours`` from the arrival to the site, ``reveal_hours``
    for each side's reveal of its random value once it is due,
    ``max_duration_hours`` from the start at the site to the report.
    ``opened_by`` names the type whose visits, by the other side, each open
    the right to one visit of this one (reciprocity), on top of its quota.
    """

    id: Slug
    name: Text
    description: Text = ""
    article: Text | None = None
    inspecting: PartyRefs = Field(default_factory=lambda: [ANY_PARTY])
    inspected: PartyRefs = Field(default_factory=lambda: [ANY_PARTY])
    quota_start: Day | None = None
    quota: Annotated[list[QuotaPeriod], Field(min_length=1)]
    per_party_per_year: Positive | None = None
    proportional: ProportionalQuota | None = None
    notice_hours: Positive
    transit_hours: Positive | None = None
    reveal_hours: Positive | None = None
    max_duration_hours: Positive | None = None
    max_team_size: Positive | None = None
    sites: list[Slug] = Field(default_factory=list)
    sample: SamplePlan = Field(default_factory=lambda: AllSample(kind="all"))
    opened_by: Slug | None = None

    @field_validator("quota")
    @classmethod
    def _periods(cls, periods: list[QuotaPeriod], info: ValidationInfo) -> list[QuotaPeriod]:
        indexes = [p.from_year_index for p in periods if p.from_year_index is not None]
        dates = [p.from_date for p in periods if p.from_date is not None]
        if indexes and dates:
            raise ValueError("quota periods must all use from_year_index or all use from_date")
        if indexes:
            if indexes[0] != 0:
                raise ValueError("the first quota period must start at from_year_index = 0")
            if "quota_start" in info.data and info.data["quota_start"] is None:
                raise ValueError("quota periods by from_year_index need quota_start")
        if not _ascending(indexes) or not _ascending(dates):
            raise ValueError("quota periods must be in ascending order of their start")
        return periods

    @field_validator("sites")
    @classmethod
    def _unique_sites(cls, sites: list[str]) -> list[str]:
        if len(set(sites)) != len(sites):
            raise ValueError("a site is listed twice")
        return sites

    def per_year_on(self, day: date) -> int:
        """The yearly quota of the period that ``day`` falls in (0 before the first)."""
        if self.quota[0].from_date is not None:
            current = 0
            for period in self.quota:
                if period.from_date is not None and period.from_date <= day:
                    current = period.per_year
            return current
        index = self.year_index(day)
        if index is None:
            return 0
        current = 0
        for period in self.quota:
            if period.from_year_index is not None and period.from_year_index <= index:
                current = period.per_year
        return current

    def year_index(self, day: date) -> int | None:
        """Whole treaty years from ``quota_start`` to ``day`` (None before it, or without it)."""
        start = self.quota_start
        if start is None or day < start:
            return None
        years = day.year - start.year
        if (day.month, day.day) < (start.month, start.day):
            years -= 1
        return years


_Start = TypeVar("_Start", int, date)


def _ascending(starts: list[_Start]) -> bool:
    return all(a < b for a, b in zip(starts, starts[1:], strict=False))
