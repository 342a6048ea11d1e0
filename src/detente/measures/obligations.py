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

Not covered (a later engine's work): the agreement's entry into force and
expiry (no agreement-level dates exist yet), inspections, hotline
acknowledgements, the content of periodic data (which period a body's own
``as_of`` claims), and ``violated`` as a judgement.

States: ``met`` (given; ``late`` says whether after the deadline), ``due``
(not yet given, deadline ahead), ``overdue`` (not given, deadline passed),
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
    ... # doctest: +NORMALIZE_WHITESPACE
    [('ru', '2025-09-01', 'due'), ('us', '2025-09-01', 'due'),
     ('ru', '2026-03-01', 'not_in_force'), ('us', '2026-03-01', 'not_in_force')]
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from detente.agreement import AfterEvent, AfterMessage, Agreement, BeforeEvent, MessageType
from detente.agreement._base import ANY_PARTY
from detente.errors import EncodingError
from detente.measures.entry import Entry
from detente.measures.suspension import Suspensions, fold_suspensions
from detente.record.envelope import format_time, parse_time

__all__ = ["Obligation", "Report", "Skipped", "State", "fold_obligations"]

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

    def to_json(self) -> dict[str, Any]:
        """The obligation as JSON: times in RFC 3339 UTC, days as ISO dates."""
        limit = (
            {}
            if self.limit is None
            else {
                "limit": self.limit,
                "value": self.value,
                "max": self.max,
                "disputed": [dict(d) for d in self.disputed],
            }
        )
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


def fold_obligations(
    agreement: Agreement,
    entries: Iterable[Entry],
    *,
    now: datetime,
    since: date,
) -> Report:
    """The state of every message obligation the agreement's rules give.

    Args:
        agreement: whose message types and rules apply.
        entries: entries of every log held (any order, any types).
        now: the instant to judge at (aware).
        since: periodic exchanges due on this day or later are counted.

    Returns:
        The obligations sorted by due instant, then party and type.
    """
    held = sorted(entries, key=lambda e: (e.party, e.seq))
    suspensions = fold_suspensions(held)
    parties = sorted(agreement.party_ids())
    out: list[Obligation] = []
    skipped: list[Skipped] = []
    ruled = {
        t.id
        for t in agreement.message_types.values()
        if t.periodic is not None or t.deadline is not None
    }
    ruled |= {
        t.deadline.message_type
        for t in agreement.message_types.values()
        if isinstance(t.deadline, AfterMessage)
    }
    real: list[Entry] = []
    for entry in held:
        if entry.exercise and entry.type in ruled:
            skipped.append(
                Skipped(entry.ref, entry.type, "exercise traffic: never counts", exercise=True)
            )
        elif not entry.exercise:
            real.append(entry)
    judge = _Judge(suspensions, now)
    for message_type in agreement.message_types.values():
        if message_type.periodic is not None:
            out.extend(_periodic(message_type, parties, real, judge, since))
        rule = message_type.deadline
        if isinstance(rule, AfterMessage):
            out.extend(_after_message(message_type, rule, real, judge))
        elif isinstance(rule, AfterEvent | BeforeEvent):
            found, missed = _event(message_type, rule, real, judge)
            out.extend(found)
            skipped.extend(missed)
    found, missed = _limits(agreement, real)
    out.extend(found)
    skipped.extend(missed)
    out.sort(key=lambda o: (o.due, o.party, o.type, o.trigger or ""))
    return Report(tuple(out), tuple(skipped), suspensions)


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
    """When ``entry`` counts as given to all ``obligees``, and which clock says so."""
    clock = "receipt" if all(entry.receipt_known(p) for p in obligees) else "created"
    times = [entry.given_to(p) for p in obligees]
    if any(t is None for t in times):
        return None, clock
    return max((t for t in times if t is not None), default=entry.created), clock


def _settle(
    base: Obligation, entry: Entry | None, obligees: Sequence[str], judge: _Judge
) -> Obligation:
    """``base`` met by ``entry``, or pending on it, or unmet."""
    clock = base.clock
    if entry is not None:
        given, clock = _given(entry, obligees)
        if given is not None:
            return _with(
                base,
                state=State.MET,
                met_by=entry.ref,
                given=given,
                late=given >= base.due,
                clock=clock,
            )
    state, suspended_by = judge.unmet(base.party, base.type, base.due)
    return _with(
        base,
        state=state,
        suspended_by=suspended_by,
        pending=None if entry is None else entry.ref,
        clock=clock,
    )


def _with(base: Obligation, **changes: object) -> Obligation:
    return replace(base, **changes)  # type: ignore[arg-type]


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
) -> list[Obligation]:
    rule = message_type.periodic
    assert rule is not None  # noqa: S101 - the caller checked
    today = judge.now.astimezone(UTC).date()
    periods: list[tuple[date, date]] = []
    for year in range(since.year - 1, today.year + 2):
        periods.extend(p for p in rule.schedule(year) if p[1] >= since)
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
            base = Obligation(
                party=party,
                type=message_type.id,
                rule="periodic",
                due=_start_of(due_day) + _DAY,
                state=State.DUE,
                to=obligees,
                as_of=as_of,
            )
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
    message_type: MessageType, rule: AfterMessage, entries: Sequence[Entry], judge: _Judge
) -> list[Obligation]:
    out: list[Obligation] = []
    answers = [e for e in entries if e.type == message_type.id]
    for trigger in (e for e in entries if e.type == rule.message_type):
        for party in trigger.to:
            if party == trigger.party or not message_type.may_send(party):
                continue
            received = trigger.given_to(party)
            if received is None:
                continue  # not received yet: nothing is owed
            base = Obligation(
                party=party,
                type=message_type.id,
                rule="after_message",
                due=rule.due(received),
                state=State.DUE,
                to=(trigger.party,),
                trigger=trigger.ref,
                clock="receipt" if trigger.receipt_known(party) else "created",
            )
            replies = [
                e
                for e in answers
                if e.party == party and trigger.ref in e.refs and trigger.party in e.to
            ]
            given = [e for e in replies if _given(e, (trigger.party,))[0] is not None]
            chosen = given[0] if given else (replies[0] if replies else None)
            settled = _settle(base, chosen, (trigger.party,), judge)
            # The deadline itself rests on a stand-in clock when the receipt is not seen.
            out.append(settled if base.clock == "receipt" else _with(settled, clock="created"))
    return out


def _event(
    message_type: MessageType,
    rule: AfterEvent | BeforeEvent,
    entries: Sequence[Entry],
    judge: _Judge,
) -> tuple[list[Obligation], list[Skipped]]:
    out: list[Obligation] = []
    skipped: list[Skipped] = []
    spec = message_type.body_schema.get("properties", {}).get(rule.event_field, {})
    whole_days = isinstance(spec, dict) and spec.get("format") == "date"
    for entry in (e for e in entries if e.type == message_type.id):
        if entry.body is None:
            skipped.append(Skipped(entry.ref, entry.type, "body not held: event date unknown"))
            continue
        value = entry.body.get(rule.event_field)
        try:
            event = _event_instant(value, whole_days=whole_days)
        except (EncodingError, ValueError, TypeError):
            skipped.append(
                Skipped(entry.ref, entry.type, f"body.{rule.event_field}: {value!r} is not a date")
            )
            continue
        due = rule.due(event)
        if whole_days:
            # Days count whole: "five days after" ends with the fifth day,
            # "42 days before" with the 42nd day before.
            due = _start_of(due.date()) + _DAY
        if not message_type.needs_notice(entry.body):
            skipped.append(
                Skipped(entry.ref, entry.type, "below the notification thresholds: voluntary")
            )
            continue
        obligees = tuple(entry.to)
        base = Obligation(
            party=entry.party,
            type=message_type.id,
            rule=rule.kind,
            due=due,
            state=State.DUE,
            to=obligees,
            trigger=entry.ref,
        )
        settled = _settle(base, entry, obligees, judge)
        if isinstance(rule, BeforeEvent) and settled.state is State.MET and settled.late:
            # Advance notice given after its deadline: the activity went ahead unnotified.
            settled = _with(settled, state=State.VIOLATED)
        out.append(settled)
    return out, skipped


def _limits(
    agreement: Agreement, entries: Sequence[Entry]
) -> tuple[list[Obligation], list[Skipped]]:
    """Each declaration of counts judged against each limit on its party, as of its day.

    A declaration (a type with ``declares = "counts"``) gives its party's
    counts as of ``as_of``; each limit that applies to the party and is in
    force that day is ``met`` if the counting rule's aggregate is within it,
    ``violated`` if not; a limit not in force that day is ``not_in_force``.
    Disputes (``declares = "dispute"``, citing the declaration, from another
    party) are shown beside: their ``counts`` replace the declared ones for
    the categories they give, their ``aggregates`` the totals.
    """
    declaring = {t.id for t in agreement.message_types.values() if t.declares == "counts"}
    disputing = {t.id for t in agreement.message_types.values() if t.declares == "dispute"}
    if not declaring or not agreement.limits:
        return [], []
    disputes: dict[str, list[Entry]] = {}
    for entry in entries:
        if entry.type in disputing and entry.body is not None:
            for ref in entry.refs:
                disputes.setdefault(ref, []).append(entry)
    out: list[Obligation] = []
    skipped: list[Skipped] = []
    for entry in entries:
        if entry.type not in declaring:
            continue
        body = entry.body
        try:
            as_of = date.fromisoformat(str((body or {})["as_of"]))
            counts = _counts((body or {})["counts"])
        except (KeyError, ValueError, TypeError):
            skipped.append(Skipped(entry.ref, entry.type, "body not held or not a declaration"))
            continue
        against = [d for d in disputes.get(entry.ref, []) if d.party != entry.party]
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
                        for dispute in against
                        if (position := _position(dispute, counts, limit, rule, in_force))
                    ),
                )
            )
    return out, skipped


def _counts(value: object) -> dict[str, int]:
    if not isinstance(value, dict):
        raise TypeError("counts is not an object")
    return {k: v for k, v in value.items() if type(v) is int}


def _limit_state(in_force: bool, value: int, most: int) -> State:
    if not in_force:
        return State.NOT_IN_FORCE
    return State.MET if value <= most else State.VIOLATED


def _position(
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


def _event_instant(value: object, *, whole_days: bool) -> datetime:
    if not isinstance(value, str):
        raise TypeError("not a string")
    if whole_days:
        return _start_of(date.fromisoformat(value))
    return parse_time(value, field_name="event")
