"""Obligations to send messages, and their state: a fold over the logs.

This is the first, small obligations engine. It covers exactly the
deadline rules the agreement model expresses for message types
(:mod:`detente.agreement.deadlines`):

- **periodic** (``periodic``): each party that may send the type owes, for
  each as-of day, one message to every default recipient, due by the end
  of the due day (UTC). Periods count whose due day is ``since`` or later
  (``since`` is the day the record begins, unless the caller says
  otherwise): periods closed before the record cannot be judged from it.
  The next as-of day still to come is listed as ``not_in_force``.
- **after_message** (``deadline.kind = "after_message"``): a message of
  type X received by a party that may send the answering type Y creates an
  obligation on that party to send Y, citing it in ``refs``, within the
  span after its receipt.
- **after_event** and **before_event**: only the notice itself tells of
  the event, so each such message is one obligation, met when it was given,
  and ``late`` when it was given after its deadline. A missing notice of an
  event nobody reported cannot be seen, and is not listed.

- **limit**: a declaration (a type that ``declares = "counts"``) against
  each limit on its sender, as of its day (:func:`_limits`).
- **zone**: a declaration of items with positions (``declares = "items"``)
  against each zone constraint on its sender (:func:`_zones`).
- **acknowledgement**: a person's ``line-ack`` owed for each message of a
  type the hotline lists as acknowledged (:func:`_acknowledgements`).

The agreement's ``in_force`` bounds them: no periodic exchange whose as-of
day falls outside it, and nothing owed for a request or notice sent while
it was not in force. Not covered (a later engine's work): inspections
(their own fold), the line's escalation, the content of periodic data
(which period a body's own ``as_of`` claims).

States: ``met`` (given; ``late`` says whether after the deadline), ``due``
(not yet given, deadline ahead), ``overdue`` (not given, deadline passed),
``violated`` (an advance notice given after its deadline; a declaration
over a limit),
``suspended`` (not given, and the obligated party had suspended the type
when the deadline fell, or has now while it is still ahead), and
``not_in_force`` (a periodic exchange whose as-of day has not come).

Time that counts (design): a message is given when its recipient received
it, at the recipient's first cosignature on a checkpoint containing it
(:class:`~detente.measures.entry.Entry`). Where this node cannot see a
receipt (a third party's), ``created`` stands in and the obligation's
``clock`` says ``created``. A message is attributed to a periodic period by
its ``created`` (the sender's intent) and judged by when it was given.
Deadlines are exclusive: a message must be given before ``due``. Due *days*
count whole, so ``due`` is the start of the following day.

Exercise entries never create, meet or answer a real obligation; they are
listed in :attr:`Report.skipped` as exercise traffic.

Example:
    >>> from datetime import UTC, datetime
    >>> from detente.agreement import builtin_agreement
    >>> new_start = builtin_agreement("new-start")
    >>> report = fold_obligations(new_start, [], now=datetime(2025, 9, 15, tzinfo=UTC),
    ...                           since=datetime(2025, 9, 1, tzinfo=UTC).date())
    >>> [(o.party, o.as_of.isoformat(), o.state.value) for o in report.obligations]
    [('ru', '2025-09-01', 'due'), ('us', '2025-09-01', 'due')]

(New START expired on 5 February 2026, so no exchange as of 1 March 2026
is owed.)
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from detente.agreement import (
    AfterEvent,
    AfterMessage,
    Agreement,
    BeforeEvent,
    InForce,
    MessageType,
)
from detente.agreement._base import ANY_PARTY
from detente.agreement.hotline import ACK_TYPE
from detente.agreement.messages import Priority
from detente.agreement.suspension import SUSPENSION_TYPES
from detente.errors import EncodingError
from detente.measures.entry import Entry
from detente.measures.suspension import Suspensions, fold_suspensions
from detente.record.envelope import format_time, parse_time

__all__ = [
    "Obligation",
    "ObligationBook",
    "Report",
    "Skipped",
    "State",
    "fold_obligations",
    "obligation_types",
]

_JUST_BEFORE = timedelta(microseconds=1)
_DAY = timedelta(days=1)


class State(enum.StrEnum):
    """Where an obligation stands."""

    MET = "met"
    DUE = "due"
    OVERDUE = "overdue"
    VIOLATED = "violated"
    SUSPENDED = "suspended"
    NOT_IN_FORCE = "not_in_force"


@dataclass(frozen=True, slots=True)
class Obligation:
    """``party`` owes a message of ``type`` before ``due``; its state and why.

    Attributes:
        party: who owes it.
        type: the message type owed.
        rule: ``periodic``, ``after_message``, ``after_event`` or ``before_event``.
        due: the message must be given before this instant.
        state: see :class:`State`.
        to: whom it is owed to.
        trigger: the entry that created it (request, notice), or None (periodic).
        as_of: the as-of day of a periodic exchange.
        met_by: the entry that met it.
        given: when ``met_by`` counts as given.
        late: met, but given at or after ``due``.
        pending: an entry sent for it but not yet received.
        suspended_by: the suspension that covers it.
        clock: ``receipt`` if the times are receipts, ``created`` where the
            sender's clock stood in.
        limit: for a ``limit`` obligation, the limit's id; ``value`` is the
            declared aggregate and ``max`` the limit.
        disputed: other parties' positions on the declaration behind a
            ``limit`` obligation (``by``, ``ref``, ``value``, ``state``, ``text``).
        inside: for a ``zone`` obligation (``limit`` is the zone constraint's
            id, ``value`` the count inside), the items found inside the zone.
    """

    party: str
    type: str
    rule: str
    due: datetime
    state: State
    to: tuple[str, ...]
    trigger: str | None = None
    as_of: date | None = None
    met_by: str | None = None
    given: datetime | None = None
    late: bool = False
    pending: str | None = None
    suspended_by: str | None = None
    clock: str = "receipt"
    limit: str | None = None
    value: int | None = None
    max: int | None = None
    disputed: tuple[dict[str, Any], ...] = ()
    inside: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The obligation as JSON: times in RFC 3339 UTC, days as ISO dates."""
        limit: dict[str, Any] = (
            {}
            if self.limit is None
            else {
                "limit": self.limit,
                "value": self.value,
                "max": self.max,
                "disputed": [dict(d) for d in self.disputed],
            }
        )
        if self.rule == "zone":
            limit["inside"] = list(self.inside)
        return limit | {
            "party": self.party,
            "type": self.type,
            "rule": self.rule,
            "due": format_time(self.due),
            "state": self.state.value,
            "to": list(self.to),
            "trigger": self.trigger,
            "as_of": None if self.as_of is None else self.as_of.isoformat(),
            "met_by": self.met_by,
            "given": None if self.given is None else format_time(self.given),
            "late": self.late,
            "pending": self.pending,
            "suspended_by": self.suspended_by,
            "clock": self.clock,
        }


_FIELDS = tuple(f.name for f in fields(Obligation))


@dataclass(frozen=True, slots=True)
class Skipped:
    """An entry of a type with a rule that counts for nothing, and why."""

    ref: str
    type: str
    reason: str
    exercise: bool = False

    def to_json(self) -> dict[str, Any]:
        """The entry and why it counts for nothing, as JSON."""
        return asdict(self)


@dataclass(frozen=True)
class Report:
    """Every obligation found, by due instant, and the entries that counted for nothing."""

    obligations: tuple[Obligation, ...]
    skipped: tuple[Skipped, ...]
    suspensions: Suspensions


def obligation_types(agreement: Agreement) -> frozenset[str]:
    """The message types the fold reads: those with rules and their triggers,
    declarations and disputes, the line's acknowledged types and ``line-ack``,
    and the suspension types."""
    types = set(SUSPENSION_TYPES)
    for message_type in agreement.message_types.values():
        if message_type.periodic is not None or message_type.deadline is not None:
            types.add(message_type.id)
        if message_type.declares is not None:
            types.add(message_type.id)
        if isinstance(message_type.deadline, AfterMessage):
            types.add(message_type.deadline.message_type)
    line = agreement.hotline
    if line is not None and line.acknowledged:
        types |= set(line.acknowledged) | {ACK_TYPE}
    return frozenset(types)


def fold_obligations(
    agreement: Agreement,
    entries: Iterable[Entry],
    *,
    now: datetime,
    since: date,
) -> Report:
    """The state of every obligation the agreement's rules give.

    Args:
        agreement: whose message types, rules and limits apply.
        entries: entries of every log held (any order, any types).
        now: the instant to judge at (aware).
        since: periodic exchanges due on this day or later are counted.

    Returns:
        The obligations sorted by due instant, then party and type.
    """
    return ObligationBook(agreement, entries, now=now, since=since).report()


_Key = tuple[str, ...]


class ObligationBook:
    """The obligations of a set of entries, kept up to date as entries are added.

    The fold is split into groups that depend on few entries: the periodic
    exchanges of one message type, the answer owed to one request, one
    notice, one declaration against the limits. :meth:`add` files a new
    entry (or a newer copy of one held, e.g. with a receipt now known) and
    recomputes only the groups it touches, so applying one envelope costs
    about as much as the groups it belongs to, not the whole record. A
    suspension or resumption changes how every unmet obligation of its
    party and type is judged: it rebuilds the book. The book judges at the
    ``now`` it was made with; :func:`fold_obligations` is a book's report.

    Example:
        >>> from datetime import UTC, datetime
        >>> from detente.agreement import builtin_agreement
        >>> book = ObligationBook(builtin_agreement("new-start"), [],
        ...                       now=datetime(2021, 3, 15, tzinfo=UTC),
        ...                       since=datetime(2021, 3, 1, tzinfo=UTC).date())
        >>> [o.state.value for o in book.report().obligations if o.party == "us"]
        ['due', 'not_in_force']
    """

    def __init__(
        self, agreement: Agreement, entries: Iterable[Entry], *, now: datetime, since: date
    ) -> None:
        self.agreement = agreement
        self.now = now
        self.since = since
        self._parties = sorted(agreement.party_ids())
        types = agreement.message_types.values()
        self._periodic = {t.id for t in types if t.periodic is not None}
        self._events = {t.id for t in types if isinstance(t.deadline, AfterEvent | BeforeEvent)}
        # request type -> the types that answer it
        self._answered_by: dict[str, list[str]] = {}
        for t in types:
            if isinstance(t.deadline, AfterMessage):
                self._answered_by.setdefault(t.deadline.message_type, []).append(t.id)
        self._answers = {a for answers in self._answered_by.values() for a in answers}
        judged = bool(agreement.limits)
        self._declaring = {t.id for t in types if judged and t.declares == "counts"}
        self._disputing = {t.id for t in types if self._declaring and t.declares == "dispute"}
        located = bool(agreement.zone_constraints)
        self._locating = {t.id for t in types if located and t.declares == "items"}
        line = agreement.hotline
        self._acked = set(line.acknowledged) if line is not None else set()
        self._ruled = self._periodic | self._events | self._answers | set(self._answered_by)
        self._ruled |= self._acked | ({ACK_TYPE} if self._acked else set())
        self._entries: dict[str, Entry] = {}
        self._rebuild(entries)

    def _rebuild(self, entries: Iterable[Entry]) -> None:
        self._by_type: dict[str, list[Entry]] = {}
        self._citing: dict[str, list[Entry]] = {}  # ref -> answers and disputes citing it
        self._suspension_entries: list[Entry] = []
        self._exercise: dict[str, Skipped] = {}
        self._groups: dict[_Key, tuple[list[Obligation], list[Skipped]]] = {}
        self._entries = {}
        for entry in entries:
            self._file(entry)
        self._judge = _Judge(fold_suspensions(self._suspension_entries), self.now)
        for type_id in self._periodic:
            self._compute(("periodic", type_id))
        for entry in self._entries.values():
            for key in self._keys_of(entry, cited=False):
                self._compute(key)

    def add(self, entry: Entry) -> None:
        """File ``entry`` (replacing a held entry of the same position) and update."""
        if entry.type in SUSPENSION_TYPES:
            held = dict(self._entries)
            held[entry.ref] = entry
            self._rebuild(held.values())
            return
        self._file(entry)
        for key in self._keys_of(entry, cited=True):
            self._compute(key)

    def report(self) -> Report:
        """Every obligation, by due instant, then party, type and trigger."""
        out = [o for found, _ in self._groups.values() for o in found]
        out.sort(key=lambda o: (o.due, o.party, o.type, o.trigger or "", o.limit or ""))
        skipped = list(self._exercise.values())
        skipped += [s for _, missed in self._groups.values() for s in missed]
        skipped.sort(key=lambda s: (_position(s.ref), s.reason))
        return Report(tuple(out), tuple(skipped), self._judge.suspensions)

    def _file(self, entry: Entry) -> None:
        earlier = self._entries.get(entry.ref)
        if earlier is not None:
            self._unfile(earlier)
        self._entries[entry.ref] = entry
        if entry.type in SUSPENSION_TYPES:
            self._suspension_entries.append(entry)
            return
        if entry.exercise:
            if entry.type in self._ruled:
                self._exercise[entry.ref] = Skipped(
                    entry.ref, entry.type, "exercise traffic: never counts", exercise=True
                )
            return
        self._by_type.setdefault(entry.type, []).append(entry)
        if entry.type in self._answers or entry.type in self._disputing or entry.type == ACK_TYPE:
            for ref in entry.refs:
                self._citing.setdefault(ref, []).append(entry)

    def _unfile(self, entry: Entry) -> None:
        def drop(items: list[Entry]) -> None:
            items[:] = [e for e in items if e.ref != entry.ref]

        drop(self._suspension_entries)
        self._exercise.pop(entry.ref, None)
        drop(self._by_type.get(entry.type, []))
        for ref in entry.refs:
            drop(self._citing.get(ref, []))

    def _keys_of(self, entry: Entry, *, cited: bool) -> list[_Key]:
        """The groups ``entry`` decides; with ``cited``, also those of the entries it cites."""
        keys: list[_Key] = []
        type_id = entry.type
        if type_id in self._periodic and cited:
            keys.append(("periodic", type_id))
        for answer in self._answered_by.get(type_id, []):
            keys.append(("after_message", answer, entry.ref))
        if type_id in self._events:
            keys.append(("event", entry.ref))
        if type_id in self._declaring:
            keys.append(("limit", entry.ref))
        if type_id in self._locating:
            keys.append(("zone", entry.ref))
        if type_id in self._acked:
            keys.append(("ack", entry.ref))
        if cited and type_id == ACK_TYPE and self._acked:
            keys.extend(
                ("ack", ref)
                for ref in entry.refs
                if ref in self._entries and self._entries[ref].type in self._acked
            )
        if cited and (type_id in self._answers or type_id in self._disputing):
            for ref in entry.refs:
                cited_entry = self._entries.get(ref)
                if cited_entry is None:
                    continue
                if type_id in self._disputing and cited_entry.type in self._declaring:
                    keys.append(("limit", ref))
                if type_id in self._answered_by.get(cited_entry.type, []):
                    keys.append(("after_message", type_id, ref))
        return keys

    def _compute(self, key: _Key) -> None:
        agreement, judge = self.agreement, self._judge
        kind = key[0]
        if kind == "periodic":
            message_type = agreement.message_types[key[1]]
            entries = sorted(self._by_type.get(key[1], []), key=_order)
            found = _periodic(
                message_type, self._parties, entries, judge, self.since, agreement.in_force
            )
            self._groups[key] = (found, [])
            return
        entry = self._entries.get(key[-1])
        if entry is None or entry.exercise:
            self._groups.pop(key, None)
            return
        bound = agreement.in_force
        outside = bound is not None and not bound.binds_on(entry.created.date())
        if kind not in ("limit", "zone") and outside:
            reason = "sent while the agreement was not in force: owes nothing"
            self._groups[key] = ([], [Skipped(entry.ref, entry.type, reason)])
            return
        if kind == "after_message":
            message_type = agreement.message_types[key[1]]
            rule = message_type.deadline
            assert isinstance(rule, AfterMessage)  # noqa: S101 - filed by its rule
            replies = sorted(
                (e for e in self._citing.get(entry.ref, []) if e.type == message_type.id),
                key=_order,
            )
            self._groups[key] = (_after_message(message_type, rule, entry, replies, judge), [])
        elif kind == "event":
            message_type = agreement.message_types[entry.type]
            event_rule = message_type.deadline
            assert isinstance(event_rule, AfterEvent | BeforeEvent)  # noqa: S101
            self._groups[key] = _event(message_type, event_rule, entry, judge)
        elif kind == "limit":
            disputes = [
                e
                for e in self._citing.get(entry.ref, [])
                if e.type in self._disputing and e.party != entry.party
            ]
            self._groups[key] = _limits(agreement, entry, sorted(disputes, key=_order))
        elif kind == "zone":
            self._groups[key] = _zones(agreement, entry)
        elif kind == "ack":
            acks = sorted(
                (e for e in self._citing.get(entry.ref, []) if e.type == ACK_TYPE),
                key=_order,
            )
            self._groups[key] = (_acknowledgements(agreement, entry, acks, judge), [])


def _order(entry: Entry) -> tuple[str, int]:
    return entry.party, entry.seq


def _position(ref: str) -> tuple[str, int]:
    party, _, seq = ref.rpartition(":")
    return party, int(seq) if seq.isdigit() else -1


@dataclass(frozen=True)
class _Judge:
    suspensions: Suspensions
    now: datetime

    def unmet(self, party: str, type_id: str, due: datetime) -> tuple[State, str | None]:
        """The state of an obligation not (yet) given, and the suspension behind it."""
        at = due - _JUST_BEFORE if self.now >= due else self.now
        interval = self.suspensions.at(party, type_id, at)
        if interval is not None:
            return State.SUSPENDED, interval.suspended_by
        return (State.DUE if self.now < due else State.OVERDUE), None


def _given(entry: Entry, obligees: Sequence[str]) -> tuple[datetime | None, str]:
    """When ``entry`` counts as given to all ``obligees``, and which clock says so.

    :meth:`Entry.given_to` for each, inlined: the fold asks this of most entries.
    """
    received = entry.received
    clock = "receipt"
    latest: datetime | None = None
    missing = False
    for party in obligees:
        if party in received:
            given = received[party]
            if given is None:
                missing = True
                continue
        else:
            clock = "created"
            given = entry.created
        if latest is None or given > latest:
            latest = given
    if missing:
        return None, clock
    return (entry.created if latest is None else latest), clock


def _settle(
    base: dict[str, Any],
    entry: Entry | None,
    obligees: Sequence[str],
    judge: _Judge,
    *,
    stand_in: bool = False,
    late_violates: bool = False,
) -> Obligation:
    """The obligation of ``base`` (its fields but state and outcome) met by
    ``entry``, or pending on it, or unmet.

    ``stand_in``: the deadline itself rests on the sender's clock (the
    trigger's receipt is not seen), so the obligation's clock is ``created``
    whatever the answer's. ``late_violates``: given at or after ``due`` is a
    violation, not a late meeting (an advance notice).
    """
    clock = "receipt"
    if entry is not None:
        given, clock = _given(entry, obligees)
        if given is not None:
            late = given >= base["due"]
            return Obligation(
                **base,
                state=State.VIOLATED if late and late_violates else State.MET,
                met_by=entry.ref,
                given=given,
                late=late,
                clock="created" if stand_in else clock,
            )
    state, suspended_by = judge.unmet(base["party"], base["type"], base["due"])
    return Obligation(
        **base,
        state=state,
        suspended_by=suspended_by,
        pending=None if entry is None else entry.ref,
        clock="created" if stand_in else clock,
    )


def _expand(refs: Sequence[str], parties: Sequence[str], but: str) -> tuple[str, ...]:
    chosen = parties if ANY_PARTY in refs else [p for p in parties if p in refs]
    return tuple(p for p in chosen if p != but)


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _periodic(
    message_type: MessageType,
    parties: Sequence[str],
    entries: Sequence[Entry],
    judge: _Judge,
    since: date,
    in_force: InForce | None = None,
) -> list[Obligation]:
    rule = message_type.periodic
    assert rule is not None  # noqa: S101 - the caller checked
    today = judge.now.astimezone(UTC).date()
    periods: list[tuple[date, date]] = []
    for year in range(since.year - 1, today.year + 2):
        periods.extend(
            p
            for p in rule.schedule(year)
            if p[1] >= since and (in_force is None or in_force.binds_on(p[0]))
        )
    past = [p for p in periods if p[0] <= today]
    upcoming = [p for p in periods if p[0] > today][:1]
    out: list[Obligation] = []
    for party in (p for p in parties if message_type.may_send(p)):
        obligees = _expand(message_type.recipients, parties, party)
        mine = [
            e
            for e in entries
            if e.party == party and e.type == message_type.id and set(obligees) <= set(e.to)
        ]
        for index, (as_of, due_day) in enumerate(past):
            start = _start_of(as_of)
            end = _start_of(past[index + 1][0]) if index + 1 < len(past) else None
            if end is None and upcoming:
                end = _start_of(upcoming[0][0])
            candidates = [
                e for e in mine if start <= e.created and (end is None or e.created < end)
            ]
            base = {
                "party": party,
                "type": message_type.id,
                "rule": "periodic",
                "due": _start_of(due_day) + _DAY,
                "to": obligees,
                "as_of": as_of,
            }
            given = [e for e in candidates if _given(e, obligees)[0] is not None]
            chosen = given[0] if given else (candidates[0] if candidates else None)
            out.append(_settle(base, chosen, obligees, judge))
        for as_of, due_day in upcoming:
            out.append(
                Obligation(
                    party=party,
                    type=message_type.id,
                    rule="periodic",
                    due=_start_of(due_day) + _DAY,
                    state=State.NOT_IN_FORCE,
                    to=obligees,
                    as_of=as_of,
                )
            )
    return out


def _after_message(
    message_type: MessageType,
    rule: AfterMessage,
    trigger: Entry,
    replies: Sequence[Entry],
    judge: _Judge,
) -> list[Obligation]:
    """What each recipient of ``trigger`` owes in answer; ``replies`` are the
    entries of ``message_type`` citing it, in log order."""
    out: list[Obligation] = []
    for party in trigger.to:
        if party == trigger.party or not message_type.may_send(party):
            continue
        received = trigger.given_to(party)
        if received is None:
            continue  # not received yet: nothing is owed
        base = {
            "party": party,
            "type": message_type.id,
            "rule": "after_message",
            "due": rule.due(received),
            "to": (trigger.party,),
            "trigger": trigger.ref,
        }
        mine = [e for e in replies if e.party == party and trigger.party in e.to]
        given = [e for e in mine if _given(e, (trigger.party,))[0] is not None]
        chosen = given[0] if given else (mine[0] if mine else None)
        # The deadline itself rests on a stand-in clock when the receipt is not seen.
        stand_in = not trigger.receipt_known(party)
        out.append(_settle(base, chosen, (trigger.party,), judge, stand_in=stand_in))
    return out


def _acknowledgements(
    agreement: Agreement, entry: Entry, acks: Sequence[Entry], judge: _Judge
) -> list[Obligation]:
    """What each recipient of the line message ``entry`` owes: a person's ``line-ack``.

    Due a span after its receipt that the hotline sets for its priority (from
    ``created`` while the sender sees no receipt: the sender's clock stands
    in); met when the sender receives an acknowledgement, signed by the
    recipient, citing it and signed no earlier than the message (the line's
    own fold, :mod:`detente.measures.hotline`, adds escalation).
    """
    line = agreement.hotline
    span = None if line is None else line.ack_deadline(Priority(entry.priority))
    if span is None:
        return []
    out: list[Obligation] = []
    for recipient in entry.to:
        if recipient == entry.party:
            continue
        received = entry.given_to(recipient)
        base = {
            "party": recipient,
            "type": ACK_TYPE,
            "rule": "acknowledgement",
            "due": (received or entry.created) + span,
            "to": (entry.party,),
            "trigger": entry.ref,
        }
        mine = [a for a in acks if a.party == recipient and a.created >= entry.created]
        given = [a for a in mine if _given(a, (entry.party,))[0] is not None]
        chosen = given[0] if given else (mine[0] if mine else None)
        stand_in = received is None or not entry.receipt_known(recipient)
        out.append(_settle(base, chosen, (entry.party,), judge, stand_in=stand_in))
    return out


def _event(
    message_type: MessageType,
    rule: AfterEvent | BeforeEvent,
    entry: Entry,
    judge: _Judge,
) -> tuple[list[Obligation], list[Skipped]]:
    """The notice ``entry`` as an obligation met when it was given (or why it is none)."""
    whole_days = _whole_days(message_type, rule.event_field)
    if entry.body is None:
        return [], [Skipped(entry.ref, entry.type, "body not held: event date unknown")]
    value = entry.body.get(rule.event_field)
    try:
        event = _event_instant(value, whole_days=whole_days)
    except (EncodingError, ValueError, TypeError):
        reason = f"body.{rule.event_field}: {value!r} is not a date"
        return [], [Skipped(entry.ref, entry.type, reason)]
    due = rule.due(event)
    if whole_days:
        # Days count whole: "five days after" ends with the fifth day,
        # "42 days before" with the 42nd day before.
        due = _start_of(due.date()) + _DAY
    if not message_type.needs_notice(entry.body):
        reason = "below the notification thresholds: voluntary"
        return [], [Skipped(entry.ref, entry.type, reason)]
    obligees = tuple(entry.to)
    base = {
        "party": entry.party,
        "type": message_type.id,
        "rule": rule.kind,
        "due": due,
        "to": obligees,
        "trigger": entry.ref,
    }
    # Advance notice given after its deadline: the activity went ahead unnotified.
    late_violates = isinstance(rule, BeforeEvent)
    return [_settle(base, entry, obligees, judge, late_violates=late_violates)], []


def _limits(
    agreement: Agreement, entry: Entry, disputes: Sequence[Entry]
) -> tuple[list[Obligation], list[Skipped]]:
    """The declaration ``entry`` judged against each limit on its party, as of its day.

    A declaration (a type with ``declares = "counts"``) gives its party's
    counts as of ``as_of``; each limit that applies to the party and is in
    force that day is ``met`` if the counting rule's aggregate is within it,
    ``violated`` if not; a limit not in force that day is ``not_in_force``.
    ``disputes`` (``declares = "dispute"``, citing the declaration, from
    another party) are shown beside: their ``counts`` replace the declared
    ones for the categories they give, their ``aggregates`` the totals.
    """
    body = entry.body
    try:
        as_of = date.fromisoformat(str((body or {})["as_of"]))
        counts = _counts((body or {})["counts"])
    except (KeyError, ValueError, TypeError):
        return [], [Skipped(entry.ref, entry.type, "body not held or not a declaration")]
    out: list[Obligation] = []
    for limit in agreement.limits.values():
        if ANY_PARTY not in limit.applies_to and entry.party not in limit.applies_to:
            continue
        rule = agreement.counting_rules[limit.aggregate]
        value = rule.evaluate(counts)
        in_force = limit.status_on(as_of) == "in_force"
        out.append(
            Obligation(
                party=entry.party,
                type=entry.type,
                rule="limit",
                due=_start_of(as_of),
                state=_limit_state(in_force, value, limit.max),
                to=tuple(entry.to),
                trigger=entry.ref,
                as_of=as_of,
                given=entry.created,
                clock="created",
                limit=limit.id,
                value=value,
                max=limit.max,
                disputed=tuple(
                    position
                    for dispute in disputes
                    if (position := _disputed(dispute, counts, limit, rule, in_force))
                ),
            )
        )
    return out, []


def _zones(agreement: Agreement, entry: Entry) -> tuple[list[Obligation], list[Skipped]]:
    """The declaration of items ``entry`` judged against each zone constraint on its party.

    Each item ``{"item_id", "category", "lat", "lon"}`` of a constrained
    category whose position lies inside the constraint's zone counts;
    ``met`` while there are at most ``max``, ``violated`` beyond, and
    ``not_in_force`` outside the constraint's dates. ``inside`` names them.
    """
    body = entry.body or {}
    try:
        as_of = date.fromisoformat(str(body["as_of"]))
        items = [_item(item) for item in body["items"]]
    except (KeyError, ValueError, TypeError):
        return [], [Skipped(entry.ref, entry.type, "body not held or not a declaration of items")]
    out: list[Obligation] = []
    for constraint in agreement.zone_constraints.values():
        if ANY_PARTY not in constraint.applies_to and entry.party not in constraint.applies_to:
            continue
        zone = agreement.zones[constraint.zone]
        wanted = set(constraint.categories)
        inside = tuple(
            item_id
            for item_id, category, lon, lat in items
            if category in wanted and zone.contains(lon, lat)
        )
        in_force = constraint.binds_on(as_of)
        out.append(
            Obligation(
                party=entry.party,
                type=entry.type,
                rule="zone",
                due=_start_of(as_of),
                state=_limit_state(in_force, len(inside), constraint.max),
                to=tuple(entry.to),
                trigger=entry.ref,
                as_of=as_of,
                given=entry.created,
                clock="created",
                limit=constraint.id,
                value=len(inside),
                max=constraint.max,
                inside=inside,
            )
        )
    return out, []


def _item(value: object) -> tuple[str, str, float, float]:
    if not isinstance(value, dict):
        raise TypeError("an item is not an object")
    lat, lon = value["lat"], value["lon"]
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        raise TypeError("lat and lon must be numbers")
    # NaN passes a JSON Schema's bounds and lies in no zone: refuse the declaration.
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise ValueError("lat or lon out of range, or not a number")
    return str(value["item_id"]), str(value["category"]), float(lon), float(lat)


def _counts(value: object) -> dict[str, int]:
    if not isinstance(value, dict):
        raise TypeError("counts is not an object")
    return {k: v for k, v in value.items() if type(v) is int}


def _limit_state(in_force: bool, value: int, most: int) -> State:
    if not in_force:
        return State.NOT_IN_FORCE
    return State.MET if value <= most else State.VIOLATED


def _disputed(
    dispute: Entry, counts: dict[str, int], limit: Any, rule: Any, in_force: bool
) -> dict[str, Any] | None:
    """A disputing party's value of the limit's aggregate, if its position changes it."""
    body = dispute.body or {}
    raw_counts, raw_totals = body.get("counts"), body.get("aggregates")
    theirs = _counts(raw_counts) if isinstance(raw_counts, dict) else {}
    totals: dict[str, Any] = raw_totals if isinstance(raw_totals, dict) else {}
    if type(totals.get(limit.aggregate)) is int:
        value = int(totals[limit.aggregate])
    elif any(category in theirs for category in rule.terms):
        value = rule.evaluate({**counts, **theirs})
    else:
        return None
    return {
        "by": dispute.party,
        "ref": dispute.ref,
        "value": value,
        "state": _limit_state(in_force, value, limit.max).value,
        "text": str(body.get("text", "")),
    }


@functools.lru_cache(maxsize=256)
def _whole_days(message_type: MessageType, event_field: str) -> bool:
    """Whether the type's event field is a date (days count whole), not a date-time."""
    spec = message_type.body_schema.get("properties", {}).get(event_field, {})
    return isinstance(spec, dict) and spec.get("format") == "date"


def _event_instant(value: object, *, whole_days: bool) -> datetime:
    if not isinstance(value, str):
        raise TypeError("not a string")
    if whole_days:
        return _start_of(date.fromisoformat(value))
    return parse_time(value, field_name="event")
