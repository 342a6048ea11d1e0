"""Pure engines: suspensions and message obligations over the logs, and sampling.

Each engine is a fold over plain :class:`Entry` records under the
agreement's rules; the node builds the records from its store
(:mod:`detente.node.measures`), tests build them by hand.
:mod:`detente.measures.sampling` plans inspection samples and draws them
from a seed both sides make together.

Example:
    >>> from datetime import UTC, datetime
    >>> from detente.agreement import builtin_agreement
    >>> report = fold_obligations(builtin_agreement("security-replies-2022"), [],
    ...                           now=datetime(2026, 3, 1, tzinfo=UTC),
    ...                           since=datetime(2026, 3, 1, tzinfo=UTC).date())
    >>> report.obligations
    ()
"""

from detente.measures.entry import Entry
from detente.measures.obligations import (
    Obligation,
    ObligationBook,
    Report,
    Skipped,
    State,
    fold_obligations,
)
from detente.measures.sampling import (
    DetectionPlan,
    commit_value,
    derive_seed,
    detection_probability,
    miss_probability,
    plan_sample,
    sample_size,
    select,
    select_sorted,
    verify_reveal,
)
from detente.measures.suspension import Ignored, Interval, Suspensions, fold_suspensions

__all__ = [
    "DetectionPlan",
    "Entry",
    "Ignored",
    "Interval",
    "Obligation",
    "ObligationBook",
    "Report",
    "Skipped",
    "State",
    "Suspensions",
    "commit_value",
    "derive_seed",
    "detection_probability",
    "fold_obligations",
    "fold_suspensions",
    "miss_probability",
    "plan_sample",
    "sample_size",
    "select",
    "select_sorted",
    "verify_reveal",
]
