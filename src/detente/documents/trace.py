"""Whose copy leaked: read a text's variation sites and name the recipient, or say undecided.

**Reading.** The leaked text is aligned to the original by its words that
no site varies (:func:`detente.documents.fingerprint.tokens`): a run of
three such words that occurs once in the original anchors the leak there,
so a fragment, a retyped text or paragraphs from two copies all align. The
text between two anchored neighbours is matched against the original's
text between them with each site's two alternatives; first exactly, then
with all whitespace removed (a retyped text), where only sites that differ
in more than whitespace are read. A site read twice with different values
is dropped. A kind of site that can be normalised wholesale (spacing, line
breaks, quotes, dashes, spelling) and that shows one alternative only
throughout the leak is set aside as *erased*: retyping makes every
sentence space single, and that says nothing of the recipient.

**Score.** For each recipient, ``agree`` of the ``k`` sites read show that
recipient's keyed choice. If the recipient's copy is not in the leak, its
choices are HMAC outputs under a key the leaker does not hold, independent
of everything the leak was made from; so, whatever the leaker did
(cropped, retyped, mixed, edited), ``agree ~ Binomial(k, 1/2)`` exactly.
The score is that null tail, ``p = P(Bin(k, 1/2) >= agree)``, reported as
``log10_p``; the true recipient of an intact copy has ``agree = k``,
``p = 2**-k``.

**Decision.** With ``N`` recipients, ``alpha`` (default 1e-6) and at most
``R = max_candidates`` rounds (default 3), every recipient is tested at
level ``alpha / (R * N)``: it is named when ``p`` is at most that. Round 1
tests all sites; each later round tests the recipients not yet named on the
*residual*, the sites where the leak matches none of those named (for a
leak of two copies, the part of the second copy that differs from the
first). The residual depends only on the leak and on the named copies, so
an uninvolved recipient still agrees with it as a fair coin. By the union
bound over recipients and over the subsets of the ``c`` copies the leak was
made from, the chance that any uninvolved recipient is named is at most
``2**c * alpha / R``: 3.3e-7 for the original text or an outsider's copy
(c = 0), 6.7e-7 for one copy, 1.3e-6 for two. With ``N = 30`` the level is
1.1e-8: a leak that agrees on all of ``k`` sites is attributed from
``k = 27`` on, one with three disagreements from ``k = 40`` (``N = 8``:
4.2e-8, 25 and 38). A retyped copy of the reference article keeps 48 sites
(words and punctuation): an uninvolved recipient agrees on all 48 with
chance 2**-48 = 3.6e-15, and on 43 or more (the least that is named) with
chance 6.8e-9. Nothing is assumed about how noisy the leak is: errors cost
power (more undecided), never a wrong name. What is assumed: the key is
secret, and "uninvolved" means a recipient whose copy the leaker never saw
-- the tracer names copies, not people.

``llr`` compares the two leading recipients under a stated error model:
each site read shows the source's choice except with probability
:data:`ERROR_RATE` (0.05); ``llr = (agree_1 - agree_2) * ln(0.95 / 0.05)``,
in nats. It ranks; it does not decide.

Example:
    >>> from detente.documents.fingerprint import embed
    >>> text = " ".join(f"Clause {i}: the US and the EU meet on May {i}." for i in range(1, 29))
    >>> copy = embed(text, key=b"k" * 32, document_id="d-1", recipient="de")
    >>> result = trace(copy, key=b"k" * 32, document_id="d-1", original_text=text,
    ...                recipients=["de", "fr", "it"])
    >>> result.verdict, result.recipient
    ('attributed', 'de')
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from detente.documents.fingerprint import (
    Site,
    check_identity,
    check_text,
    keyed_stream,
    sites,
    tokens,
)
from detente.errors import InputError

__all__ = ["ERASABLE", "ERROR_RATE", "Evidence", "TraceResult", "trace"]

ERROR_RATE: Final = 0.05
"""The per-site error rate of the model behind :attr:`TraceResult.llr`."""
ERASABLE: Final = frozenset(
    {"line-break", "spelling", "quote", "apostrophe", "dash", "sentence-space", "nbsp"}
)
"""Kinds that a tool may normalise in one sweep; uniform in a leak, they are set aside."""

_ANCHOR: Final = 3
_WS: Final = re.compile(r"\s+")

Verdict = Literal["attributed", "combined", "undecided"]


@dataclass(frozen=True)
class Evidence:
    """How well one recipient's choices agree with the sites read in round ``round``."""

    recipient: str
    agree: int
    observed: int
    log10_p: float
    """log10 P(Bin(observed, 1/2) >= agree): how often an uninvolved copy agrees this well."""
    round: int


@dataclass(frozen=True)
class TraceResult:
    """The verdict on a leaked text and the evidence for it.

    ``candidates`` are the recipients named, strongest first; ``recipient``
    is the first of them (``None`` when undecided). ``ranking`` holds every
    recipient's round-1 evidence, best first, named or not; ``runner_up`` is
    its second entry.
    """

    verdict: Verdict
    recipient: str | None
    candidates: tuple[Evidence, ...]
    runner_up: Evidence | None
    llr: float | None
    ranking: tuple[Evidence, ...]
    observed: int
    sites: int
    erased: tuple[str, ...]
    log10_level: float
    """log10 of the level each test was made at, ``alpha / (max_candidates * N)``."""


@dataclass(frozen=True)
class _Gap:
    exact: re.Pattern[str]
    loose: re.Pattern[str]
    groups: tuple[tuple[int, int, tuple[str, str], tuple[str, str]], ...]
    """(site, part, alternatives, alternatives without whitespace) per regex group."""


@dataclass(frozen=True)
class _Original:
    sites: tuple[Site, ...]
    tokens: tuple[str, ...]
    gaps: dict[int, _Gap]
    anchors: dict[tuple[str, ...], int]
    kinds: tuple[str, ...]


def _nows(text: str) -> str:
    return _WS.sub("", text)


def _gap_regex(pieces: list[str], alts: list[tuple[str, str]]) -> re.Pattern[str]:
    body = [re.escape(pieces[0])]
    for (a, b), fixed in zip(alts, pieces[1:], strict=True):
        choices = dict.fromkeys((a, b))
        body.append("(" + "|".join(re.escape(c) for c in choices) + ")" + re.escape(fixed))
    return re.compile("".join(body))


@lru_cache(maxsize=8)
def _original(text: str) -> _Original:
    found = sites(text)
    if not found:
        raise InputError("the original text has no variation sites: nothing can be traced")
    spans = tokens(text)
    starts = [s for s, _, _ in spans]
    by_gap: dict[int, list[tuple[int, int, int, int, tuple[str, str]]]] = {}
    for site in found:
        for n, part in enumerate(site.parts):
            gap = _bisect(starts, part.end)
            if gap and spans[gap - 1][1] > part.start:
                continue  # cannot happen: sites never touch a token
            by_gap.setdefault(gap, []).append(
                (part.start, part.end, site.index, n, part.alternatives)
            )
    gaps: dict[int, _Gap] = {}
    for gap, parts in by_gap.items():
        parts.sort()
        begin = spans[gap - 1][1] if gap else 0
        end = spans[gap][0] if gap < len(spans) else len(text)
        pieces, at = [], begin
        for start, stop, _, _, _ in parts:
            pieces.append(text[at:start])
            at = stop
        pieces.append(text[at:end])
        alts = [p[4] for p in parts]
        bare = [(_nows(a), _nows(b)) for a, b in alts]
        gaps[gap] = _Gap(
            exact=_gap_regex(pieces, alts),
            loose=_gap_regex([_nows(p) for p in pieces], bare),
            groups=tuple((p[2], p[3], p[4], bare[i]) for i, p in enumerate(parts)),
        )
    words = tuple(w for _, _, w in spans)
    anchors: dict[tuple[str, ...], int] = {}
    for i in range(len(words) - _ANCHOR + 1):
        gram = words[i : i + _ANCHOR]
        anchors[gram] = -1 if gram in anchors else i
    return _Original(found, words, gaps, anchors, tuple(s.kind for s in found))


def _bisect(starts: list[int], value: int) -> int:
    lo, hi = 0, len(starts)
    while lo < hi:
        mid = (lo + hi) // 2
        if starts[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _read_gap(gap: _Gap, leaked: str) -> list[tuple[int, int, int]]:
    """(site, part, alternative) for every part the leaked gap text shows."""
    m = gap.exact.fullmatch(leaked)
    out: list[tuple[int, int, int]] = []
    if m is not None:
        for g, (site, part, alts, _) in enumerate(gap.groups, start=1):
            out.append((site, part, alts.index(m.group(g))))
        return out
    m = gap.loose.fullmatch(_nows(leaked))
    if m is not None:
        for g, (site, part, _, bare) in enumerate(gap.groups, start=1):
            if bare[0] != bare[1]:
                out.append((site, part, bare.index(m.group(g))))
    return out


def _read(original: _Original, leaked: str) -> dict[int, int]:
    """The alternative the leak shows at each site it lets us read."""
    spans = tokens(leaked)
    words = [w for _, _, w in spans]
    where = [-1] * len(words)
    for k in range(len(words) - _ANCHOR + 1):
        j = original.anchors.get(tuple(words[k : k + _ANCHOR]), -1)
        if j >= 0:
            for i in range(_ANCHOR):
                where[k + i] = j + i if where[k + i] in (-1, j + i) else -2
    seen: dict[tuple[int, int], int] = {}
    clash: set[tuple[int, int]] = set()
    last = len(original.tokens)
    for k in range(len(words) + 1):
        left = where[k - 1] if k else -1
        right = where[k] if k < len(words) else -1
        if k == 0:
            gap = 0 if right == 0 else -1
        elif k == len(words):
            gap = last if left == last - 1 else -1
        else:
            gap = right if left >= 0 and right == left + 1 else -1
        template = original.gaps.get(gap)
        if template is None:
            continue
        begin = spans[k - 1][1] if k else 0
        end = spans[k][0] if k < len(words) else len(leaked)
        for site, part, value in _read_gap(template, leaked[begin:end]):
            if seen.setdefault((site, part), value) != value:
                clash.add((site, part))
    values: dict[int, set[int]] = {}
    for (site, part), value in seen.items():
        if (site, part) not in clash:
            values.setdefault(site, set()).add(value)
    out: dict[int, int] = {}
    for site, held in values.items():
        if len(held) == 1 and all(
            (site, n) in seen and (site, n) not in clash
            for n in range(len(original.sites[site].parts))
        ):
            out[site] = held.pop()
    return out


def _erase(original: _Original, read: dict[int, int]) -> tuple[dict[int, int], tuple[str, ...]]:
    shown: dict[str, set[int]] = {}
    for site, value in read.items():
        shown.setdefault(original.kinds[site], set()).add(value)
    erased = tuple(sorted(k for k, v in shown.items() if k in ERASABLE and len(v) == 1))
    kept = {s: v for s, v in read.items() if original.kinds[s] not in erased}
    return kept, erased


def _log_choose(k: int, j: int) -> float:
    return math.lgamma(k + 1) - math.lgamma(j + 1) - math.lgamma(k - j + 1)


def _upper(k: int, m: int) -> float:
    """P(Bin(k, 1/2) >= m) for m > k/2, as a natural logarithm."""
    first = _log_choose(k, m)
    total, term = 1.0, 1.0
    for j in range(m, k):
        term *= (k - j) / (j + 1)
        total += term
        if term < total * 1e-17:
            break
    return first + math.log(total) - k * math.log(2)


@lru_cache(maxsize=65536)
def log10_tail(k: int, m: int) -> float:
    """log10 P(Bin(k, 1/2) >= m), exact to double precision."""
    if m <= 0:
        return 0.0
    if m > k:
        return -math.inf
    if 2 * m > k:
        return _upper(k, m) / math.log(10)
    # P(X >= m) = 1 - P(X >= k - m + 1), by symmetry.
    return math.log1p(-math.exp(_upper(k, k - m + 1))) / math.log(10)


@lru_cache(maxsize=4096)
def _needed(k: int, log10_level: float) -> int:
    """The least agreement on ``k`` sites whose tail is within the level (k + 1: none)."""
    lo, hi = 0, k + 1
    while lo < hi:
        mid = (lo + hi) // 2
        if log10_tail(k, mid) <= log10_level:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _check(recipients: Sequence[str], alpha: float, max_candidates: int) -> list[str]:
    if isinstance(recipients, str):
        raise InputError("recipients must be a list of recipient ids, not one string")
    named = list(recipients)
    if not named:
        raise InputError("no recipients to trace among")
    if len(set(named)) != len(named):
        raise InputError("the recipients list names a recipient twice")
    if not 0 < alpha < 1:
        raise InputError(f"alpha must lie strictly between 0 and 1, not {alpha}")
    if max_candidates < 1:
        raise InputError(f"max_candidates must be at least 1, not {max_candidates}")
    return named


def _bits(key: bytes, document_id: str, recipients: list[str], count: int) -> npt.NDArray[np.uint8]:
    rows = [
        np.frombuffer(
            keyed_stream(key=key, document_id=document_id, recipient=r, count=count), np.uint8
        )
        for r in recipients
    ]
    return np.unpackbits(np.stack(rows), axis=1)[:, :count]


def trace(
    leaked_text: str,
    *,
    key: bytes,
    document_id: str,
    original_text: str,
    recipients: Sequence[str],
    alpha: float = 1e-6,
    max_candidates: int = 3,
) -> TraceResult:
    """Name the recipients whose copies ``leaked_text`` was made from, or none.

    Args:
        leaked_text: the text found: a whole copy, a part, retyped, or mixed.
        key: the issuer's document key the copies were made with.
        document_id: the id the copies were made under.
        original_text: the text as issued, before :func:`~detente.documents.embed`.
        recipients: every recipient a copy was issued to.
        alpha: bound on naming an uninvolved recipient (module docstring).
        max_candidates: rounds, and so recipients named, at most.

    Raises:
        EncodingError: a text is not a ``str``.
        TooLargeError: a text is too long.
        InputError: a text is empty, the original has no sites, a bad key,
            document id or recipient id, no or repeated recipients, or
            ``alpha`` or ``max_candidates`` out of range.
    """
    check_identity(key=key, document_id=document_id, recipient=None)
    check_text(leaked_text, "leaked text")
    check_text(original_text, "original text")
    named = _check(recipients, alpha, max_candidates)
    for r in named:
        check_identity(key=key, document_id=document_id, recipient=r)
    original = _original(original_text)
    read, erased = _erase(original, _read(original, leaked_text))
    columns = np.fromiter(read.keys(), np.int64, len(read))
    shown = np.fromiter(read.values(), np.uint8, len(read))
    agree_at = _bits(key, document_id, named, len(original.sites))[:, columns] == shown
    n, k = len(named), len(read)
    log10_level = math.log10(alpha / (max_candidates * n))

    agree = agree_at.sum(axis=1)
    order = sorted(range(n), key=lambda i: (-int(agree[i]), named[i]))
    ranking = tuple(
        Evidence(named[i], int(agree[i]), k, log10_tail(k, int(agree[i])), 1) for i in order
    )
    chosen: list[Evidence] = []
    left = np.ones(k, dtype=bool)
    for round_ in range(1, max_candidates + 1):
        if chosen:
            for e in chosen:
                left &= ~agree_at[named.index(e.recipient)]
        size = int(left.sum())
        counts = agree_at[:, left].sum(axis=1)
        need = _needed(size, log10_level)
        taken = {e.recipient for e in chosen}
        new = sorted(
            (i for i in range(n) if named[i] not in taken and counts[i] >= need),
            key=lambda i: (-int(counts[i]), named[i]),
        )
        if not new:
            break
        for i in new[: max_candidates - len(chosen)]:
            chosen.append(
                Evidence(named[i], int(counts[i]), size, log10_tail(size, int(counts[i])), round_)
            )
        if len(chosen) >= max_candidates:
            break
    verdict: Verdict = (
        "undecided" if not chosen else "attributed" if len(chosen) == 1 else "combined"
    )
    runner_up = ranking[1] if n > 1 else None
    llr = None
    if runner_up is not None:
        llr = (ranking[0].agree - runner_up.agree) * math.log((1 - ERROR_RATE) / ERROR_RATE)
    return TraceResult(
        verdict=verdict,
        recipient=chosen[0].recipient if chosen else None,
        candidates=tuple(chosen),
        runner_up=runner_up,
        llr=llr,
        ranking=ranking,
        observed=k,
        sites=len(original.sites),
        erased=erased,
        log10_level=log10_level,
    )
