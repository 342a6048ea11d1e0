"""Which message types each party has suspended, when, and by which entry.

A fold over ``suspension`` and ``resumption`` entries
(:mod:`detente.agreement.suspension`) of every log, in log order. Each
suspended type gets an :class:`Interval`: from the instant the suspension
takes effect until the resumption that ends it (or open). The fold is pure:
the same entries give the same intervals on every node.

Rules, each chosen so that the record cannot be bent after the fact:

- A suspension or resumption takes effect at its body's ``effective``, but
  never before the entry's ``created``: a party cannot suspend backwards in
  time and so excuse a deadline it has already missed. (``created`` itself
  is checked against the future on admission.)
- A suspension of a type the party has suspended already (an open
  interval, even one that starts later) changes nothing; a resumption of a
  type not suspended changes nothing. Both are listed in
  :attr:`Suspensions.ignored` with the reason.
- Exercise entries never change the real state; they are listed in
  ``ignored`` as exercise traffic. So is an entry whose body this node does
  not hold, or whose body lacks what the fold needs.
- A resumption that takes effect before the suspension it ends (a
  suspension announced for a later day, withdrawn before it) leaves an
  empty interval: the type was never suspended.

For the state at a log position, fold the entries below it (``before``).

Example:
    >>> from datetime import UTC, datetime
    >>> t = lambda day: datetime(2023, 6, day, tzinfo=UTC)
    >>> body = {"types": ["aggregate_data"], "effective": "2023-06-01T00:00:00Z",
    ...         "reason": "countermeasure"}
    >>> s = fold_suspensions([Entry(party="us", seq=12, type="suspension", created=t(1),
    ...                             body=body)])
    >>> s.at("us", "aggregate_data", t(2)).suspended_by
    'us:12'
    >>> s.at("us", "message", t(2)) is None
    True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from detente.agreement import Agreement
from detente.agreement.suspension import RESUMPTION_TYPE, SUSPENSION_TYPE
from detente.errors import BodyError, EncodingError, SuspendedError
from detente.measures.entry import Entry
from detente.record.envelope import format_time, parse_time

__all__ = ["Ignored", "Interval", "Suspensions", "check_sending", "fold_suspensions"]


@dataclass(frozen=True, slots=True)
class Interval:
    """``party`` did not send ``type`` from ``start`` until ``end`` (exclusive; None: open)."""

    party: str
    type: str
    start: datetime
    suspended_by: str
    reason: str
    article: str | None = None
    end: datetime | None = None
    resumed_by: str | None = None

    def covers(self, instant: datetime) -> bool:
        """True if the type is suspended at ``instant``."""
        return self.start <= instant and (self.end is None or instant < self.end)

    def to_json(self, *, now: datetime) -> dict[str, Any]:
        """The interval as JSON, with ``active``: whether it covers ``now``."""
        return {
            "party": self.party,
            "type": self.type,
            "start": format_time(self.start),
            "end": None if self.end is None else format_time(self.end),
            "suspended_by": self.suspended_by,
            "resumed_by": self.resumed_by,
            "reason": self.reason,
            "article": self.article,
            "active": self.covers(now),
        }


@dataclass(frozen=True, slots=True)
class Ignored:
    """A suspension or resumption entry (for one type, or all) that changed nothing."""

    ref: str
    type: str | None
    reason: str
    exercise: bool = False

    def to_json(self) -> dict[str, Any]:
        """The entry and why it changed nothing, as JSON."""
        return asdict(self)


@dataclass(frozen=True)
class Suspensions:
    """The folded state: every interval in log order, and what changed nothing."""

    intervals: tuple[Interval, ...]
    ignored: tuple[Ignored, ...]

    def at(self, party: str, type_id: str, instant: datetime) -> Interval | None:
        """The interval in which ``party`` had suspended ``type_id`` at ``instant``, if any."""
        for interval in self.intervals:
            if interval.party == party and interval.type == type_id and interval.covers(instant):
                return interval
        return None

    def open(self, party: str, type_id: str) -> Interval | None:
        """The interval not yet ended by a resumption, if any (it may start later)."""
        for interval in self.intervals:
            if interval.party == party and interval.type == type_id and interval.end is None:
                return interval
        return None

    def of(self, party: str) -> list[Interval]:
        """Every interval of ``party``, in log order."""
        return [i for i in self.intervals if i.party == party]


def fold_suspensions(
    entries: Iterable[Entry], *, before: Mapping[str, int] | None = None
) -> Suspensions:
    """Fold the suspension and resumption entries among ``entries``.

    Args:
        entries: entries of any logs, any types, in any order; others than
            ``suspension`` and ``resumption`` are skipped.
        before: per party, fold only entries with ``seq`` below this (the
            state as of that log size); a party not named is folded whole.

    Returns:
        The intervals, in the order the suspensions were logged per party.
    """
    wanted = sorted(
        (
            e
            for e in entries
            if e.type in (SUSPENSION_TYPE, RESUMPTION_TYPE)
            and (before is None or e.party not in before or e.seq < before[e.party])
        ),
        key=lambda e: (e.party, e.seq),
    )
    intervals: list[Interval] = []
    ignored: list[Ignored] = []
    open_at: dict[tuple[str, str], int] = {}
    for entry in wanted:
        if entry.exercise:
            ignored.append(Ignored(entry.ref, None, "exercise traffic", exercise=True))
            continue
        parsed = _parse(entry)
        if isinstance(parsed, str):
            ignored.append(Ignored(entry.ref, None, parsed))
            continue
        types, effective, reason, article = parsed
        start = max(effective, entry.created)
        for type_id in types:
            key = (entry.party, type_id)
            held = open_at.get(key)
            if entry.type == SUSPENSION_TYPE:
                if held is not None:
                    ignored.append(
                        Ignored(
                            entry.ref,
                            type_id,
                            f"already suspended by {intervals[held].suspended_by}",
                        )
                    )
                    continue
                open_at[key] = len(intervals)
                intervals.append(Interval(entry.party, type_id, start, entry.ref, reason, article))
            elif held is None:
                ignored.append(Ignored(entry.ref, type_id, "not suspended"))
            else:
                interval = intervals[held]
                intervals[held] = replace(
                    interval, end=max(start, interval.start), resumed_by=entry.ref
                )
                del open_at[key]
    return Suspensions(tuple(intervals), tuple(ignored))


def _parse(entry: Entry) -> tuple[list[str], datetime, str, str | None] | str:
    """The body's types, effective instant, reason and article; or why it cannot be read."""
    body = entry.body
    if body is None:
        return "body not held by this node"
    types = body.get("types")
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types) or not types:
        return "body.types is not a list of type ids"
    try:
        effective = parse_time(body.get("effective"), field_name="body.effective")  # type: ignore[arg-type]
    except EncodingError as e:
        return str(e)
    reason = body.get("reason")
    article = body.get("article")
    return (
        list(dict.fromkeys(types)),
        effective,
        reason if isinstance(reason, str) else "",
        article if isinstance(article, str) else None,
    )


def check_sending(
    agreement: Agreement,
    suspensions: Suspensions,
    *,
    party: str,
    type_id: str,
    body: Mapping[str, Any],
    exercise: bool,
    created: datetime,
) -> None:
    """Refuse what ``party``'s own node must not sign, given its suspensions.

    Run by the writer before it seals a message (receivers do not run it:
    a peer's record is what it is, and the fold reads it as it stands).
    Exercise messages are never refused: they change and count for nothing.

    Args:
        agreement: the agreement the node runs.
        suspensions: the fold of the party's own log so far.
        party: the sender.
        type_id: the message type to send.
        body: its body (already checked against the type's schema).
        exercise: exercise traffic.
        created: the instant the message will carry.

    Raises:
        SuspendedError: ``type_id`` is suspended by ``party`` at ``created``;
            a suspension names a type already suspended; a resumption names
            a type not suspended.
        BodyError: a suspension or resumption names a type ``party`` may
            not send, or takes effect before ``created`` (beyond the
            agreement's clock skew).
    """
    if exercise:
        return
    if type_id not in (SUSPENSION_TYPE, RESUMPTION_TYPE):
        interval = suspensions.at(party, type_id, created)
        if interval is not None:
            raise SuspendedError(
                f"type {type_id} is suspended since {interval.suspended_by}; "
                "send a resumption first"
            )
        return
    types = body.get("types")
    if not isinstance(types, list):  # the schema requires it; a caller may skip the schema
        raise BodyError("body.types: a list of message types is required")
    for index, name in enumerate(types):
        if not agreement.message_type(str(name)).may_send(party):
            raise BodyError(
                f"body.types[{index}]: party {party} may not send {name!r}, so it cannot "
                f"{'suspend' if type_id == SUSPENSION_TYPE else 'resume'} it"
            )
        held = suspensions.open(party, str(name))
        if type_id == SUSPENSION_TYPE and held is not None:
            raise SuspendedError(
                f"body.types[{index}]: type {name} is already suspended by {held.suspended_by}"
            )
        if type_id == RESUMPTION_TYPE and held is None:
            raise SuspendedError(f"body.types[{index}]: type {name} is not suspended")
    try:
        effective = parse_time(body.get("effective"), field_name="body.effective")  # type: ignore[arg-type]
    except EncodingError as e:
        raise BodyError(str(e)) from e
    if effective < created - timedelta(seconds=agreement.skew_seconds):
        raise BodyError(
            f"body.effective: {body.get('effective')} lies before the message is created "
            f"({format_time(created)}); it cannot take effect in the past"
        )
