"""How many items to inspect, and which ones, with nobody choosing.

*How many.* A random sample of ``n`` out of ``N`` items, drawn without
replacement, misses all of ``M`` bad ones with probability
``C(N-M, n) / C(N, n)`` (:func:`miss_probability`). :func:`plan_sample`
finds the smallest ``n`` that detects with a required probability, puts
the IAEA approximation ``N·(1 - β^(1/M))`` beside it, and says what ``k``
repeated visits add and when to inspect all. :func:`sample_size` is what an
inspection type's :data:`~detente.agreement.inspections.SamplePlan`
resolves to for ``N`` declared items.

*Which ones.* Each side commits to a random value (:func:`commit_value`);
the host reveals first, then the inspectors, and each reveal is checked
against its commitment (:func:`verify_reveal`). The seed is SHAKE-256 over
the inspection id and both values (:func:`derive_seed`); :func:`select`
draws the indices from it by rejection sampling, so either side and any
auditor can recompute them. The indices are leaf positions in the committed
inventory. docs/inspections.md gives the formulas and the byte-level
algorithm.

Example:
    >>> plan = plan_sample(100, 10, 0.9)
    >>> plan.sample, plan.approximation
    (20, 21)
    >>> plan_sample(24, 1, 0.9).inspect_all
    True
    >>> host, inspector = bytes(32), bytes([1]) * 32
    >>> commitment = commit_value(host, inspection_id="us-2026-1", party="us")
    >>> verify_reveal(commitment, host, inspection_id="us-2026-1", party="us")
    >>> seed = derive_seed("us-2026-1", host_value=host, inspector_value=inspector)
    >>> len(select(seed, 1000, 5))
    5
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from hmac import compare_digest
from typing import Any

from detente.agreement.inspections import AllSample, DetectionSample, FixedSample
from detente.errors import InputError, VerificationError

__all__ = [
    "INSPECT_ALL_SHARE",
    "MAX_ITEMS",
    "SEED_SIZE",
    "VALUE_SIZE",
    "DetectionPlan",
    "commit_value",
    "derive_seed",
    "detection_probability",
    "miss_probability",
    "plan_sample",
    "sample_size",
    "select",
    "select_sorted",
    "verify_reveal",
]

INSPECT_ALL_SHARE = Fraction(9, 10)
"""A plan whose exact sample is at least this share of the items says "inspect all"."""

MAX_ITEMS = 10**9
"""The largest population planned or sampled; far above any declared inventory."""

VALUE_SIZE = 32
"""Bytes of each side's random value (256 bits: it blinds its own commitment)."""

SEED_SIZE = 32
"""Bytes of the seed :func:`derive_seed` makes and :func:`select` takes."""

_COMMIT_CONTEXT = b"detente/sample-commit/v1\n"
_SEED_CONTEXT = b"detente/sample-seed/v1\n"
_SELECT_CONTEXT = b"detente/sample-select/v1\n"
_FIRST_SQUEEZE = 4096
_TIE_MARGIN = 1e-9


# --- how many -----------------------------------------------------------------


def miss_probability(items: int, violations: int, sample: int) -> float:
    """Chance that ``sample`` of ``items``, drawn without replacement, miss all ``violations``.

    ``C(N-M, n) / C(N, n)`` equals both ``∏_{i<n} (N-M-i)/(N-i)`` and
    ``∏_{j<M} (N-n-j)/(N-j)``; the shorter product is taken. Every factor
    is a quotient of integers exact in a float (``N ≤ MAX_ITEMS < 2^53``),
    so each factor and each multiplication rounds once: after ``t``
    factors the relative error is at most about ``2·t·2^-53``. The factors
    are at most ``1 - max(n, M)/N``, so after ``sqrt(709·N)`` of them the
    product is below 1e-308, where its relative error no longer matters,
    and soon after it is 0 and the loop stops. While it matters, the
    relative error is below 2e-11 at ``N = 10^7`` (84,000 factors at most)
    and below 2e-10 at ``N = 10^9``.

    Raises:
        InputError: ``items``, ``violations`` or ``sample`` out of range.
    """
    _check_population(items, violations)
    if not 0 <= sample <= items:
        raise InputError(f"sample must be between 0 and items ({items}), not {sample}")
    factors, other = min(sample, violations), max(sample, violations)
    miss = 1.0
    for j in range(factors):
        miss *= (items - other - j) / (items - j)
        if miss == 0.0:  # a zero factor (n > N - M), or below the float range
            break
    return miss


def detection_probability(items: int, violations: int, sample: int) -> float:
    """Chance that ``sample`` of ``items`` find at least one of ``violations``: ``1 - miss``.

    Raises:
        InputError: as :func:`miss_probability`.
    """
    return 1.0 - miss_probability(items, violations, sample)


@dataclass(frozen=True, slots=True)
class DetectionPlan:
    """How many of ``items`` to inspect to find one of ``violations`` with ``detection``.

    ``sample`` is the exact (hypergeometric) size, ``approximation`` the
    IAEA one, each with the detection probability it really gives.
    ``cumulative_detection`` is the chance that ``visits`` independent
    visits of ``sample`` items each find a violation; ``per_visit_sample``
    is the smallest sample a visit that lets ``visits`` visits together
    reach ``detection`` (``per_visit_cumulative``). ``inspect_all`` is set
    when ``sample`` is at least :data:`INSPECT_ALL_SHARE` of ``items``.
    """

    items: int
    violations: int
    detection: float
    visits: int
    sample: int
    sample_detection: float
    approximation: int
    approximation_detection: float
    cumulative_detection: float
    per_visit_sample: int
    per_visit_cumulative: float
    inspect_all: bool

    @property
    def to_inspect(self) -> int:
        """Items a single visit inspects: all of them, or the exact sample."""
        return self.items if self.inspect_all else self.sample

    def to_json(self) -> dict[str, Any]:
        """The plan as JSON, with ``to_inspect``."""
        return {**asdict(self), "to_inspect": self.to_inspect}


def plan_sample(items: int, violations: int, detection: float, *, visits: int = 1) -> DetectionPlan:
    """Plan a sample of ``items`` that finds one of ``violations`` with ``detection``.

    The exact size is the smallest ``n`` whose detection probability is at
    least ``detection``, found by bisection: the probability grows with
    ``n`` and reaches 1 at ``n = N - M + 1``. The search keeps "fails at
    ``lo``, holds at ``hi``" and stops at ``hi = lo + 1``, so ``n - 1``
    fails as computed. The IAEA approximation ``N·(1 - β^(1/M))`` with
    ``β = 1 - detection`` treats the draws as independent; in exact
    arithmetic the exact size is never larger, since each factor
    ``(N-n-j)/(N-j)`` is at most ``(N-n)/N``.

    Exact ties are common: one bad item in five, 20 % asked, is met by
    ``n = 1`` exactly, but ``1 - 0.8`` is 0.19999999999999996 in floats.
    So ``detection`` is read as the decimal it prints as (0.9 is 9/10, and
    ``β`` for 0.999999999999 is 10^-12, not a float difference), and ``n``
    detects when its miss probability is at most ``β·(1 + 10^-9)``. The
    margin is above the rounding error of ``miss^k`` (``k`` visits: at
    ``N = 10^7`` up to 50 visits, at ``N = 10^9`` up to 5), so no ``n``
    that detects in exact arithmetic is refused; one accepted misses at
    most a relative 10^-9 (plus that error) more often than ``β``.

    "Inspect all" starts at 90 % of the items (:data:`INSPECT_ALL_SHARE`):
    there a sample saves a few items and leaves the host some it can name
    as unseen, while inspecting every item is certain. The domain's case
    is an Aegis Ashore site, where one hidden missile among 24 cells needs
    22 of them for 90 %. Waiting for ``n ≥ N - M + 1`` instead (where a
    sample is certain anyway) would never say it there.

    Raises:
        InputError: an argument out of range; the message names it.
    """
    _check_population(items, violations)
    if not 0.0 < detection < 1.0:
        raise InputError(f"detection must be between 0 and 1 (exclusive), not {detection}")
    if visits < 1:
        raise InputError(f"visits must be at least 1, not {visits}")
    beta = float(1 - Fraction(repr(detection)))
    allowed = beta * (1.0 + _TIE_MARGIN)

    def misses(n: int) -> float:
        return miss_probability(items, violations, n)

    sample = _smallest(lambda n: misses(n) <= allowed, items - violations + 1)
    per_visit = _smallest(lambda n: misses(n) ** visits <= allowed, sample)
    approximation = _approximation(items, violations, beta)
    return DetectionPlan(
        items=items,
        violations=violations,
        detection=detection,
        visits=visits,
        sample=sample,
        sample_detection=1.0 - misses(sample),
        approximation=approximation,
        approximation_detection=1.0 - misses(approximation),
        cumulative_detection=1.0 - misses(sample) ** visits,
        per_visit_sample=per_visit,
        per_visit_cumulative=1.0 - misses(per_visit) ** visits,
        inspect_all=sample >= INSPECT_ALL_SHARE * items,
    )


def sample_size(plan: AllSample | FixedSample | DetectionSample, items: int) -> int:
    """How many of ``items`` declared items an inspection type's sample plan inspects.

    Raises:
        InputError: ``items`` out of range, or fewer than a detection plan's
            ``assumed_bad``.
    """
    if not 0 <= items <= MAX_ITEMS:
        raise InputError(f"items must be between 0 and {MAX_ITEMS}, not {items}")
    if items == 0 or isinstance(plan, AllSample):
        return items
    if isinstance(plan, FixedSample):
        return min(plan.size, items)
    if plan.assumed_bad > items:
        raise InputError(
            f"the sample plan assumes {plan.assumed_bad} bad items, but {items} are declared"
        )
    return plan_sample(items, plan.assumed_bad, plan.probability).to_inspect


def _check_population(items: int, violations: int) -> None:
    if not 1 <= items <= MAX_ITEMS:
        raise InputError(f"items must be between 1 and {MAX_ITEMS}, not {items}")
    if not 1 <= violations <= items:
        raise InputError(f"violations must be between 1 and items ({items}), not {violations}")


def _smallest(holds: Callable[[int], bool], hi: int) -> int:
    """The smallest ``n`` in ``[1, hi]`` where ``holds``, given it holds at ``hi``, not at 0."""
    lo = 0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if holds(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _approximation(items: int, violations: int, beta: float) -> int:
    """``N·(1 - β^(1/M))`` rounded up, within ``[1, N]``.

    ``1 - β^(1/M)`` is taken as ``-expm1(ln β / M)``, accurate for large
    ``M``; a value within a relative 1e-9 of a whole number is that
    number, so that float noise (``90.00000000000001``) does not add an item.
    """
    real = items * -math.expm1(math.log(beta) / violations)
    whole = round(real)
    size = whole if abs(real - whole) <= 1e-9 * max(real, 1.0) else math.ceil(real)
    return min(max(size, 1), items)


# --- which ones ---------------------------------------------------------------


def commit_value(value: bytes, *, inspection_id: str, party: str) -> bytes:
    """The commitment ``party`` publishes to its random ``value`` for an inspection.

    ``SHA-256(b"detente/sample-commit/v1\\n" || F(inspection_id) || F(party)
    || F(value))``, where ``F(x)`` is the 8-byte big-endian length of ``x``
    followed by ``x`` (text as UTF-8). A 256-bit random value is its own
    blinding: guessing it is as hard as guessing a nonce would be. Binding
    the inspection and the party stops a commitment from being replayed
    in another inspection, or copied by the other side (whose seed would
    then be the first side's alone to grind).

    Raises:
        InputError: ``value`` is not :data:`VALUE_SIZE` bytes, or an id is empty.
    """
    fields = _fields(
        _text("inspection_id", inspection_id), _text("party", party), _value("value", value)
    )
    return hashlib.sha256(_COMMIT_CONTEXT + fields).digest()


def verify_reveal(commitment: bytes, value: bytes, *, inspection_id: str, party: str) -> None:
    """Check that a revealed ``value`` opens ``party``'s ``commitment``.

    Raises:
        VerificationError: the value is not :data:`VALUE_SIZE` bytes or
            does not open the commitment.
        InputError: an id is empty.
    """
    if len(value) != VALUE_SIZE:
        raise VerificationError(f"{party}'s revealed value is {len(value)} bytes, not {VALUE_SIZE}")
    expected = commit_value(value, inspection_id=inspection_id, party=party)
    if not compare_digest(expected, commitment):
        raise VerificationError(f"{party}'s revealed value does not open its commitment")


def derive_seed(inspection_id: str, *, host_value: bytes, inspector_value: bytes) -> bytes:
    """The sample seed: ``SHAKE-256(context || F(id) || F(host) || F(inspector))``, 32 bytes.

    The context is ``b"detente/sample-seed/v1\\n"`` and ``F`` the
    length-prefixed field of :func:`commit_value`, so no two different
    inputs give the same hashed bytes. Neither side controls the result
    as long as either value was random and committed before the other
    was revealed.

    Raises:
        InputError: a value is not :data:`VALUE_SIZE` bytes, or the id is empty.
    """
    fields = _fields(
        _text("inspection_id", inspection_id),
        _value("host_value", host_value),
        _value("inspector_value", inspector_value),
    )
    return hashlib.shake_256(_SEED_CONTEXT + fields).digest(SEED_SIZE)


def select(seed: bytes, items: int, sample: int) -> list[int]:
    """``sample`` distinct indices in ``[0, items)``, in draw order, from ``seed``.

    The algorithm, to the byte, so that another implementation gives the
    same list:

    1. If ``sample ≥ items``, the answer is ``[0, 1, …, items - 1]``; if
       ``sample = 0``, ``[]``.
    2. ``k`` is the bit length of ``items - 1``, ``w = ceil(k / 8)``.
    3. The stream is the SHAKE-256 output (FIPS 202) for the input
       ``b"detente/sample-select/v1\\n" || seed``, read from its start in
       consecutive ``w``-byte chunks.
    4. Each chunk, read as a big-endian integer, is reduced to its low
       ``k`` bits (``r = x mod 2^k``). ``r ≥ items`` is rejected; an ``r``
       already drawn is skipped; otherwise ``r`` is appended.
    5. Stop when ``sample`` indices are drawn.

    Each accepted ``r`` is uniform over the indices not yet drawn, so the
    list is a uniformly random ordered sample, and ``select(s, N, n)`` is
    a prefix of ``select(s, N, n + 1)``: a team that stops early has
    inspected a random sample all the same.

    Raises:
        InputError: ``seed`` is not :data:`SEED_SIZE` bytes, or ``items``
            or ``sample`` is out of range.
    """
    if len(seed) != SEED_SIZE:
        raise InputError(f"seed must be {SEED_SIZE} bytes, not {len(seed)}")
    if not 1 <= items <= MAX_ITEMS:
        raise InputError(f"items must be between 1 and {MAX_ITEMS}, not {items}")
    if sample < 0:
        raise InputError(f"sample must not be negative, not {sample}")
    if sample >= items:
        return list(range(items))
    bits = (items - 1).bit_length()
    mask = (1 << bits) - 1
    chosen: list[int] = []
    seen: set[int] = set()
    numbers = _numbers(_SELECT_CONTEXT + seed, (bits + 7) // 8)
    while len(chosen) < sample:
        r = next(numbers) & mask
        if r < items and r not in seen:
            seen.add(r)
            chosen.append(r)
    return chosen


def select_sorted(seed: bytes, items: int, sample: int) -> list[int]:
    """:func:`select`'s indices in ascending order, for walking a site row by row.

    Raises:
        InputError: as :func:`select`.
    """
    return sorted(select(seed, items, sample))


def _numbers(key: bytes, width: int) -> Iterator[int]:
    """Consecutive ``width``-byte big-endian integers of the SHAKE-256 stream of ``key``.

    hashlib squeezes only from the start, so the stream is squeezed again
    at twice the length when a read runs past its end.
    """
    xof = hashlib.shake_256(key)
    stream = xof.digest(_FIRST_SQUEEZE)
    position = 0
    while True:
        if position + width > len(stream):
            stream = xof.digest(2 * len(stream))
        yield int.from_bytes(stream[position : position + width], "big")
        position += width


def _fields(*parts: bytes) -> bytes:
    return b"".join(len(part).to_bytes(8, "big") + part for part in parts)


def _text(name: str, text: str) -> bytes:
    if not text:
        raise InputError(f"{name} must not be empty")
    try:
        return text.encode()
    except UnicodeEncodeError as e:
        raise InputError(f"{name} is not valid text: {e.reason}") from e


def _value(name: str, value: bytes) -> bytes:
    if len(value) != VALUE_SIZE:
        raise InputError(f"{name} must be {VALUE_SIZE} bytes, not {len(value)}")
    return value
