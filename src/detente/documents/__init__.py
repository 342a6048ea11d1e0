"""Traceable copies of text documents (issue #10): fingerprint each copy, trace a leak.

:func:`embed` gives each recipient a copy that differs from every other in
meaning-preserving ways chosen by a keyed function (:mod:`.fingerprint`);
:func:`trace` names the recipient, or the recipients, whose copies a leaked
text came from, or says it cannot: the chance of naming a recipient whose
copy is not in the leak is bounded, about ``alpha`` = 1e-6 (:mod:`.trace`).

Example:
    >>> from detente.documents import embed, sites, trace
    >>> text = " ".join(f"Clause {i}: the US and the EU meet on May {i}." for i in range(1, 29))
    >>> len(sites(text)) > 100
    True
    >>> copy = embed(text, key=b"k" * 32, document_id="d-1", recipient="de")
    >>> trace(copy[: len(copy) // 2], key=b"k" * 32, document_id="d-1",
    ...       original_text=text, recipients=["de", "fr"]).recipient
    'de'
"""

from detente.documents.fingerprint import (
    KINDS,
    MAX_TEXT,
    Part,
    Site,
    canonical,
    embed,
    keyed_choices,
    sites,
)
from detente.documents.trace import ERASABLE, ERROR_RATE, Evidence, TraceResult, trace

__all__ = [
    "ERASABLE",
    "ERROR_RATE",
    "KINDS",
    "MAX_TEXT",
    "Evidence",
    "Part",
    "Site",
    "TraceResult",
    "canonical",
    "embed",
    "keyed_choices",
    "sites",
    "trace",
]
