"""Input a feed could not use, set aside where an operator can see why.

A feed from a radio receiver carries garbage as a matter of course: noise
that fails its checksum, fragments lost in the air, units with no fix.
None of it may stop the feed, and none of it may vanish either, since a
unit that never reaches the screen is a close approach nobody is warned
of. So every line refused becomes a :class:`Rejection` — where it came
from, the reason code, what was wrong and the start of the bytes — and the
:class:`Quarantine` counts them by reason, keeps the newest few hundred for
inspection, and logs a warning on ``detente.tracks``, at most one per feed
and reason in each window, so that a broken feed is noticed but cannot
flood the log.

Example:
    >>> q = Quarantine(keep=2)
    >>> for n in (1, 2, 3):
    ...     q.add(Rejection.of(source="ais-baltic", line=n, reason="bad_checksum",
    ...                        detail="checksum 0x12, computed 0x13", raw="!AIVDM,..."))
    >>> q.counts, [r.line for r in q.recent()]
    ({'bad_checksum': 3}, [2, 3])
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

__all__ = ["RAW_CHARS", "Quarantine", "Rejection"]

#: How much of a refused line is kept: enough to recognise it, not enough to hoard a feed.
RAW_CHARS: Final = 200
_DETAIL_CHARS: Final = 300

log = logging.getLogger("detente.tracks")


def _printable(text: str | bytes, limit: int) -> str:
    """``text`` cut to ``limit`` characters, non-ASCII and control characters escaped.

    What a hostile feed sends ends up in the log and on the console; it
    must not be able to forge a log line or drive a terminal.
    """
    if isinstance(text, bytes):
        text = text[: limit * 4].decode("utf-8", errors="replace")
    out = text[:limit].encode("ascii", errors="backslashreplace").decode("ascii")
    out = "".join(c if " " <= c <= "~" else f"\\x{ord(c):02x}" for c in out)
    return out[:limit]


@dataclass(frozen=True, slots=True)
class Rejection:
    """One refused line (or group of fragments): where, why, and its first bytes."""

    source: str
    line: int
    reason: str
    detail: str
    raw: str
    received: datetime | None = None

    @classmethod
    def of(
        cls,
        *,
        source: str,
        line: int,
        reason: str,
        detail: str,
        raw: str | bytes,
        received: datetime | None = None,
    ) -> Rejection:
        """A rejection with ``raw`` cut to :data:`RAW_CHARS` and made safe to print."""
        return cls(
            source=source,
            line=line,
            reason=reason,
            detail=_printable(detail, _DETAIL_CHARS),
            raw=_printable(raw, RAW_CHARS),
            received=received,
        )

    def __str__(self) -> str:
        return f"feed {self.source} line {self.line}: {self.reason}: {self.detail}"


class Quarantine:
    """Counts by reason, the newest rejections, and a rate-limited warning for each.

    Safe to share between feed threads and readers.

    Args:
        keep: how many of the newest rejections to hold.
        log_every_s: the shortest time between two warnings of one source
            and reason; the ones held back in between are counted and the
            next warning says how many.
        clock: seconds on a monotonic clock; passed in for tests.
    """

    def __init__(
        self,
        *,
        keep: int = 1000,
        log_every_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._recent: deque[Rejection] = deque(maxlen=keep)
        self._counts: dict[str, int] = {}
        self._every = log_every_s
        self._clock = clock
        self._logged: dict[tuple[str, str], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def add(self, rejection: Rejection) -> None:
        """Count, keep and (unless one was logged just now) log one rejection."""
        now = self._clock()
        key = (rejection.source, rejection.reason)
        with self._lock:
            self._counts[rejection.reason] = self._counts.get(rejection.reason, 0) + 1
            self._recent.append(rejection)
            last = self._logged.get(key)
            if last is not None and now - last[0] < self._every:
                self._logged[key] = (last[0], last[1] + 1)
                return
            held = 0 if last is None else last[1]
            self._logged[key] = (now, 0)
        if held:
            log.warning("%s (and %d more like it since the last warning)", rejection, held)
        else:
            log.warning("%s", rejection)

    @property
    def counts(self) -> dict[str, int]:
        """Rejections so far by reason code (a copy)."""
        with self._lock:
            return dict(self._counts)

    @property
    def total(self) -> int:
        """Rejections so far, all reasons together."""
        with self._lock:
            return sum(self._counts.values())

    def recent(self, limit: int | None = None) -> list[Rejection]:
        """The newest rejections held, oldest first; at most ``limit`` of them."""
        with self._lock:
            held = list(self._recent)
        return held if limit is None else held[len(held) - min(limit, len(held)) :]
