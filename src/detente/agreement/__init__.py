"""Agreements as data: the model, the TOML loader and the built-in agreements.

An agreement is a TOML file (see ``docs/agreement-format.md``): parties,
categories and counting rules, limits, zones, sites, message types with
their body schemas and deadlines, inspection types, the hotline. Engines
read every treaty number from it; its id is the SHA-256 of its canonical
JSON.

Example:
    >>> from detente.agreement import builtin_agreement
    >>> a = builtin_agreement("security-replies-2022")
    >>> sorted(a.party_ids())
    ['nato', 'ru', 'us']
    >>> a.message_type("message").may_send("ru")
    True
"""

from __future__ import annotations

from detente.agreement.counting import Category, CountingRule, Limit, LimitStatus
from detente.agreement.deadlines import (
    AfterEvent,
    AfterMessage,
    BeforeEvent,
    DeadlineRule,
    PeriodicExchange,
)
from detente.agreement.diff import (
    CLAUSE_KINDS,
    AgreementDiff,
    ClauseDiff,
    FieldDiff,
    ItemDiff,
    diff_agreements,
)
from detente.agreement.geography import Holding, MultiPolygon, Polygon, Site, Zone
from detente.agreement.hotline import ApproachThresholds, Hotline, IncidentThresholds
from detente.agreement.inspections import (
    AllSample,
    DetectionSample,
    FixedSample,
    InspectionType,
    ProportionalQuota,
    QuotaPeriod,
    SamplePlan,
)
from detente.agreement.loader import (
    builtin_agreement,
    builtin_names,
    load_agreement,
    load_agreement_text,
    resolve_agreement,
)
from detente.agreement.messages import FREE_TEXT_TYPE, MessageType, Priority
from detente.agreement.model import Agreement, AgreementSource, InForce, Party

__all__ = [
    "CLAUSE_KINDS",
    "FREE_TEXT_TYPE",
    "AfterEvent",
    "AfterMessage",
    "Agreement",
    "AgreementDiff",
    "AgreementSource",
    "AllSample",
    "BeforeEvent",
    "Category",
    "ClauseDiff",
    "CountingRule",
    "DeadlineRule",
    "DetectionSample",
    "FieldDiff",
    "FixedSample",
    "Holding",
    "Hotline",
    "ApproachThresholds",
    "IncidentThresholds",
    "InForce",
    "InspectionType",
    "ItemDiff",
    "Limit",
    "LimitStatus",
    "MessageType",
    "MultiPolygon",
    "Party",
    "PeriodicExchange",
    "Polygon",
    "Priority",
    "ProportionalQuota",
    "QuotaPeriod",
    "SamplePlan",
    "Site",
    "Zone",
    "builtin_agreement",
    "builtin_names",
    "diff_agreements",
    "load_agreement",
    "load_agreement_text",
    "resolve_agreement",
]
