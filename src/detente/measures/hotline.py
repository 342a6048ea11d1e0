"""The emergency line as one party sees it: a fold over the logs.

Given every entry of the line's types in the logs a node holds, seen from
party ``me`` at ``now``, :func:`fold_line` gives:

- **Acknowledgements owed.** Each message of a type the agreement's hotline
  lists under ``acknowledged``, to each of its recipients, between ``me``
  and another party (either way). Its deadline runs from the recipient's
  receipt (the time that counts, design) for the priority's span; until the
  sender sees a receipt, from the message's ``created``, so a message lost on
  a broken link falls overdue on the sender's side too. A ``line-ack`` from
  the recipient that ``refs`` the message acknowledges it when the sender
  receives it (never earlier than it was signed; until the receipt shows,
  when it was signed); the first one counts. An ack signed before the
  message, or an exercise ack of a real message (or the reverse), counts
  for nothing.
  States: ``due``, ``overdue``, ``acknowledged``, ``late`` (acknowledged
  after the deadline) and ``open`` (no deadline at this priority).
  Overdue, the message *escalates*: one level at the deadline and one more
  each further span, to the next contact the hotline names for the
  recipient; past the last contact the levels go on (each one a re-alert)
  at the last.
- **Link tests.** For each other party: whether ``me``'s newest test went
  unreceipted past ``link_test_answer`` (``unanswered``, ``me``'s side), and
  whether that party's tests stopped coming: none received for
  ``link_test_interval`` plus ``link_test_answer`` since the last one (or
  since ``since``, when none ever came) is ``missed`` (the other side).
- **Incidents.** Each ``incident-report`` ``me`` sent or received opens a
  thread of the reporter and its recipients, holding every entry that
  ``refs`` the report: accounts, status changes, messages, acknowledgements.
  An account or status counts only from a side, sent to every other side
  (judged on the header, so every side counts the same entries).
  Status: ``open``, then ``explained`` when a side says so, ``closed`` once
  every side of the thread has closed it (a later ``open`` or ``explained``
  starts the closing over).
- **Out-of-band notices.** Each ``oob-notice`` and, per recipient, its
  latest ``oob-reply``, which must go to the notice's sender: ``pending``,
  ``confirmed`` or ``disputed`` (``answered`` where this node holds only the
  reply's header).

Entries that break the line's rules (an ack of something not addressed to
its sender, an account of an unknown incident) are listed as skipped with
the reason; the node refuses to sign such entries itself
(:mod:`detente.node.line`), so they can only come from a peer.

Example:
    >>> from datetime import UTC, datetime, timedelta
    >>> from detente.agreement import builtin_agreement
    >>> from detente.measures.entry import Entry
    >>> t0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    >>> flash = Entry(party="us", seq=0, type="line-message", created=t0, to=("ru",),
    ...               priority="FLASH", body={"text": "Aircraft closing"},
    ...               received={"ru": t0})
    >>> line = fold_line(builtin_agreement("security-replies-2022"), [flash], me="ru",
    ...                  now=t0 + timedelta(minutes=6), since=t0)
    >>> owed = line.acknowledgements[0]
    >>> owed.state.value, owed.level, owed.contact
    ('overdue', 1, 'NNRRC duty chief')
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from detente.agreement import Agreement, Priority
from detente.agreement.hotline import (
    ACK_TYPE,
    INCIDENT_ACCOUNT_TYPE,
    INCIDENT_REPORT_TYPE,
    INCIDENT_STATUS_TYPE,
    LINK_TEST_TYPE,
    NOTICE_REPLY_TYPE,
    NOTICE_TYPE,
    Hotline,
)
from detente.errors import BodyError
from detente.measures.entry import Entry
from detente.record.envelope import format_time

__all__ = [
    "AckState",
    "Acknowledgement",
    "Incident",
    "LinkState",
    "LinkStatus",
    "Line",
    "Notice",
    "ThreadEntry",
    "fold_line",
    "line_text",
    "parse_body_time",
]


class AckState(enum.StrEnum):
    """Where an acknowledgement owed stands."""

    DUE = "due"
    OVERDUE = "overdue"
    ACKNOWLEDGED = "acknowledged"
    LATE = "late"
    OPEN = "open"


class LinkState(enum.StrEnum):
    """Where a link stands, one direction."""

    OK = "ok"
    UNANSWERED = "unanswered"  # me's newest test not receipted in time
    MISSED = "missed"  # the other party's tests stopped coming
    DOWN = "down"  # both


@dataclass(frozen=True)
class Acknowledgement:
    """One message on the line and one recipient's acknowledgement of it.

    Attributes:
        ref: the message, ``party:seq``.
        sender, recipient: who sent it, who must acknowledge.
        received: the recipient's receipt, None while the sender sees none.
        deadline: when the acknowledgement falls due (None: no deadline).
        acknowledged_at, ack_ref, by: the acknowledgement, when there is one.
        level: escalation level (0: the first contact; counts up when overdue).
        contact: who at the recipient is to act at that level.
    """

    ref: str
    type: str
    sender: str
    recipient: str
    priority: str
    created: datetime
    received: datetime | None
    deadline: datetime | None
    state: AckState
    level: int
    contact: str
    exercise: bool
    acknowledged_at: datetime | None = None
    ack_ref: str | None = None
    by: str | None = None
    text: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """As the API and ``--format json`` show it."""
        return {
            "ref": self.ref,
            "type": self.type,
            "sender": self.sender,
            "recipient": self.recipient,
            "priority": self.priority,
            "created": _iso(self.created),
            "received": _iso(self.received),
            "deadline": _iso(self.deadline),
            "state": self.state.value,
            "level": self.level,
            "contact": self.contact,
            "exercise": self.exercise,
            "acknowledged_at": _iso(self.acknowledged_at),
            "ack_ref": self.ack_ref,
            "by": self.by,
            "text": dict(self.text),
        }


@dataclass(frozen=True)
class LinkStatus:
    """The link with ``party``: ``me``'s newest test to it, and its tests to ``me``.

    ``unanswered`` and ``missed`` are the two directions; ``state`` sums them up.
    """

    party: str
    state: LinkState
    last_sent: datetime | None
    last_sent_ref: str | None
    answered_at: datetime | None
    last_received: datetime | None
    expected_by: datetime

    @property
    def unanswered(self) -> bool:
        """``me``'s newest test to ``party`` went unreceipted past the answer time."""
        return self.state in (LinkState.UNANSWERED, LinkState.DOWN)

    @property
    def missed(self) -> bool:
        """``party``'s tests to ``me`` stopped coming."""
        return self.state in (LinkState.MISSED, LinkState.DOWN)

    def to_json(self) -> dict[str, Any]:
        """As the API shows it."""
        return {
            "party": self.party,
            "state": self.state.value,
            "last_sent": _iso(self.last_sent),
            "last_sent_ref": self.last_sent_ref,
            "answered_at": _iso(self.answered_at),
            "last_received": _iso(self.last_received),
            "expected_by": _iso(self.expected_by),
        }


@dataclass(frozen=True)
class ThreadEntry:
    """One entry of an incident thread or a notice's answers."""

    ref: str
    party: str
    type: str
    created: datetime
    priority: str
    body: Mapping[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        """As the API shows it."""
        return {
            "ref": self.ref,
            "party": self.party,
            "type": self.type,
            "created": _iso(self.created),
            "priority": self.priority,
            "body": None if self.body is None else dict(self.body),
        }


@dataclass(frozen=True)
class Incident:
    """An incident thread, opened by a report."""

    ref: str
    reporter: str
    parties: tuple[str, ...]
    kind: str
    at: datetime | None
    position: Mapping[str, float]
    units: tuple[Mapping[str, Any], ...]
    status: str
    closed_by: tuple[str, ...]
    exercise: bool
    entries: tuple[ThreadEntry, ...]

    def accounts(self) -> dict[str, list[str]]:
        """Each side's account, in order: the report's, then each ``incident-account``."""
        out: dict[str, list[str]] = {}
        for entry in self.entries:
            if entry.type in (INCIDENT_REPORT_TYPE, INCIDENT_ACCOUNT_TYPE) and entry.body:
                out.setdefault(entry.party, []).append(str(entry.body.get("account", "")))
        return out

    def to_json(self) -> dict[str, Any]:
        """As the API shows it."""
        return {
            "ref": self.ref,
            "reporter": self.reporter,
            "parties": list(self.parties),
            "kind": self.kind,
            "at": _iso(self.at),
            "position": dict(self.position),
            "units": [dict(u) for u in self.units],
            "status": self.status,
            "closed_by": list(self.closed_by),
            "exercise": self.exercise,
            "accounts": self.accounts(),
            "entries": [e.to_json() for e in self.entries],
        }


@dataclass(frozen=True)
class Notice:
    """A notice given out of band, and each recipient's verdict on it."""

    ref: str
    party: str
    to: tuple[str, ...]
    created: datetime
    body: Mapping[str, Any]
    verdicts: Mapping[str, str]  # recipient -> pending, confirmed or disputed
    replies: tuple[ThreadEntry, ...]
    exercise: bool

    def to_json(self) -> dict[str, Any]:
        """As the API shows it."""
        return {
            "ref": self.ref,
            "party": self.party,
            "to": list(self.to),
            "created": _iso(self.created),
            "notice": dict(self.body),
            "verdicts": dict(self.verdicts),
            "replies": [r.to_json() for r in self.replies],
            "exercise": self.exercise,
        }


@dataclass(frozen=True)
class Line:
    """Everything :func:`fold_line` found."""

    me: str
    now: datetime
    acknowledgements: tuple[Acknowledgement, ...]
    links: tuple[LinkStatus, ...]
    incidents: tuple[Incident, ...]
    notices: tuple[Notice, ...]
    skipped: tuple[tuple[str, str], ...]  # (ref, why)
    next_link_test: datetime | None  # when me's node should send its next test

    def owed_by_me(self) -> list[Acknowledgement]:
        """Acknowledgements ``me`` still owes, most urgent first."""
        waiting = [
            a
            for a in self.acknowledgements
            if a.recipient == self.me and a.state in (AckState.DUE, AckState.OVERDUE, AckState.OPEN)
        ]
        return sorted(waiting, key=_urgency)

    def owed_to_me(self) -> list[Acknowledgement]:
        """Acknowledgements other parties still owe ``me``, most urgent first."""
        waiting = [
            a
            for a in self.acknowledgements
            if a.sender == self.me and a.state in (AckState.DUE, AckState.OVERDUE, AckState.OPEN)
        ]
        return sorted(waiting, key=_urgency)

    def to_json(self) -> dict[str, Any]:
        """As ``GET /v1/hotline`` answers."""
        return {
            "party": self.me,
            "now": _iso(self.now),
            "acknowledgements": [a.to_json() for a in self.acknowledgements],
            "links": [link.to_json() for link in self.links],
            "incidents": [i.to_json() for i in self.incidents],
            "notices": [n.to_json() for n in self.notices],
            "skipped": [{"ref": ref, "reason": why} for ref, why in self.skipped],
            "next_link_test": _iso(self.next_link_test),
        }


_ORDER = {p.value: i for i, p in enumerate(Priority)}
_FAR = datetime.max.replace(tzinfo=UTC)


def _urgency(a: Acknowledgement) -> tuple[int, datetime, str]:
    return (_ORDER.get(a.priority, len(_ORDER)), a.deadline or _FAR, a.ref)


def fold_line(
    agreement: Agreement,
    entries: Iterable[Entry],
    *,
    me: str,
    now: datetime,
    since: datetime,
    parties: Sequence[str] | None = None,
) -> Line:
    """The line as ``me`` sees it at ``now``.

    Args:
        agreement: the agreement (its ``hotline`` sets the deadlines; without
            one, no acknowledgement has a deadline and links are not judged).
        entries: entries of the line's types from every log held, any order.
        me: the party whose view this is.
        now: the time of judgement.
        since: when link tests began to be expected (a party never heard
            from is missed once the interval and answer time have passed
            since then).
        parties: the parties whose links to judge; default every other
            party of the agreement.
    """
    line = agreement.hotline
    ordered = sorted(entries, key=lambda e: (e.created, e.party, e.seq))
    by_ref = {e.ref: e for e in ordered}
    skipped: list[tuple[str, str]] = []
    acknowledgements = _acknowledgements(agreement, line, ordered, by_ref, me, now, skipped)
    links, next_test = _links(line, ordered, me, now, since, parties, agreement)
    incidents = _incidents(ordered, by_ref, me, skipped)
    notices = _notices(ordered, by_ref, me, skipped)
    return Line(
        me=me,
        now=now,
        acknowledgements=tuple(acknowledgements),
        links=tuple(links),
        incidents=tuple(incidents),
        notices=tuple(notices),
        skipped=tuple(skipped),
        next_link_test=next_test,
    )


def _acknowledgements(
    agreement: Agreement,
    line: Hotline | None,
    ordered: Sequence[Entry],
    by_ref: Mapping[str, Entry],
    me: str,
    now: datetime,
    skipped: list[tuple[str, str]],
) -> list[Acknowledgement]:
    acknowledged = set(line.acknowledged) if line is not None else set()
    # (message ref, recipient) -> the first ack entry
    acks: dict[tuple[str, str], Entry] = {}
    for entry in ordered:
        if entry.type != ACK_TYPE:
            continue
        for ref in entry.refs:
            target = by_ref.get(ref)
            if target is None:
                if me in (entry.party, *entry.to):
                    skipped.append((entry.ref, f"acknowledges {ref}, not held here"))
                continue
            if target.type not in acknowledged or entry.party not in target.to:
                skipped.append(
                    (entry.ref, f"acknowledges {ref}, which is not a line message to {entry.party}")
                )
                continue
            if entry.created < target.created:
                skipped.append((entry.ref, f"acknowledges {ref} before it was sent"))
                continue
            if entry.exercise != target.exercise:
                skipped.append((entry.ref, f"{_drill(entry)} acknowledges {_drill(target)} {ref}"))
                continue
            acks.setdefault((ref, entry.party), entry)
    out: list[Acknowledgement] = []
    for entry in ordered:
        if entry.type not in acknowledged:
            continue
        for recipient in entry.to:
            if recipient == entry.party or me not in (entry.party, recipient):
                continue
            ack = acks.get((entry.ref, recipient))
            out.append(_owed(agreement, line, entry, recipient, ack, now))
    return out


def _owed(
    agreement: Agreement,
    line: Hotline | None,
    entry: Entry,
    recipient: str,
    ack: Entry | None,
    now: datetime,
) -> Acknowledgement:
    received = entry.given_to(recipient)
    span = _span(line, entry.priority)
    deadline = None if span is None else (received or entry.created) + span
    level = 0
    acknowledged_at = None if ack is None else _ack_time(ack, entry.party)
    if acknowledged_at is not None:
        late = deadline is not None and acknowledged_at > deadline
        state = AckState.LATE if late else AckState.ACKNOWLEDGED
    elif deadline is None:
        state = AckState.OPEN
    elif now < deadline:
        state = AckState.DUE
    else:
        state = AckState.OVERDUE
        assert span is not None  # noqa: S101 - a deadline needs a span
        level = 1 + int((now - deadline) / span)
    contact = line.contact(recipient, level) if line is not None else recipient
    return Acknowledgement(
        ref=entry.ref,
        type=entry.type,
        sender=entry.party,
        recipient=recipient,
        priority=entry.priority,
        created=entry.created,
        received=received,
        deadline=deadline,
        state=state,
        level=level,
        contact=contact,
        exercise=entry.exercise,
        acknowledged_at=acknowledged_at,
        ack_ref=None if ack is None else ack.ref,
        by=None if ack is None or ack.body is None else _short(ack.body.get("by")),
        text=line_text(agreement, entry.body) if entry.body is not None else {},
    )


def _ack_time(ack: Entry, sender: str) -> datetime:
    """When an acknowledgement counts: when the message's sender received it (the time
    that counts, design), never before it was signed; until then, when it was signed."""
    received = ack.given_to(sender)
    return ack.created if received is None else max(received, ack.created)


def _drill(entry: Entry) -> str:
    return "an exercise entry" if entry.exercise else "a real entry"


def _span(line: Hotline | None, priority: str) -> timedelta | None:
    if line is None:
        return None
    try:
        return line.ack_deadline(Priority(priority))
    except ValueError:
        return None


def _links(
    line: Hotline | None,
    ordered: Sequence[Entry],
    me: str,
    now: datetime,
    since: datetime,
    parties: Sequence[str] | None,
    agreement: Agreement,
) -> tuple[list[LinkStatus], datetime | None]:
    if line is None or LINK_TEST_TYPE not in agreement.message_types:
        return [], None
    interval = line.link_test_interval.delta
    answer = line.answer_within
    others = list(parties) if parties is not None else sorted(agreement.party_ids() - {me})
    tests = [e for e in ordered if e.type == LINK_TEST_TYPE and not e.exercise]
    mine = [e for e in tests if e.party == me]
    newest = mine[-1] if mine else None
    out: list[LinkStatus] = []
    for party in others:
        sent = [e for e in mine if party in e.to]
        last = sent[-1] if sent else None
        answered = None if last is None else last.given_to(party)
        # Judged: the newest test whose time to answer is over (a newer one
        # still within it does not hide a dead link).
        judged = next((e for e in reversed(sent) if now > e.created + answer), None)
        heard = [e.given_to(me) for e in tests if e.party == party and me in e.to]
        received = max((t for t in heard if t is not None), default=None)
        expected_by = (received or since) + interval + answer
        unanswered = judged is not None and judged.given_to(party) is None
        missed = now > expected_by
        state = {
            (False, False): LinkState.OK,
            (True, False): LinkState.UNANSWERED,
            (False, True): LinkState.MISSED,
            (True, True): LinkState.DOWN,
        }[(unanswered, missed)]
        out.append(
            LinkStatus(
                party=party,
                state=state,
                last_sent=None if last is None else last.created,
                last_sent_ref=None if last is None else last.ref,
                answered_at=answered,
                last_received=received,
                expected_by=expected_by,
            )
        )
    next_test = since if newest is None else newest.created + interval
    return out, next_test


def _incidents(
    ordered: Sequence[Entry],
    by_ref: Mapping[str, Entry],
    me: str,
    skipped: list[tuple[str, str]],
) -> list[Incident]:
    reports = {
        e.ref: e
        for e in ordered
        if e.type == INCIDENT_REPORT_TYPE and e.body is not None and me in (e.party, *e.to)
    }
    threads: dict[str, list[Entry]] = {ref: [report] for ref, report in reports.items()}
    for entry in ordered:
        if entry.type == INCIDENT_REPORT_TYPE:
            continue
        cited = [ref for ref in entry.refs if ref in reports]
        if not cited:
            if entry.type in (INCIDENT_ACCOUNT_TYPE, INCIDENT_STATUS_TYPE) and me in (
                entry.party,
                *entry.to,
            ):
                skipped.append((entry.ref, "refs no incident report this node holds"))
            continue
        for ref in cited:
            report = reports[ref]
            why = _thread_rule(entry, report)
            if why:
                skipped.append((entry.ref, why))
                continue
            threads[ref].append(entry)
    out = []
    for ref, thread in threads.items():
        report = reports[ref]
        body = report.body or {}
        sides = tuple(sorted({report.party, *report.to}))
        status, closed_by = "open", set[str]()
        for entry in thread:
            if entry.type != INCIDENT_STATUS_TYPE or entry.body is None:
                continue
            said = str(entry.body.get("status", ""))
            if said == "closed":
                closed_by.add(entry.party)
                if closed_by >= set(sides):
                    status = "closed"
            elif said in ("open", "explained"):
                status, closed_by = said, set()
        position = body.get("position")
        units = body.get("units")
        out.append(
            Incident(
                ref=ref,
                reporter=report.party,
                parties=sides,
                kind=str(body.get("kind", "")),
                at=parse_body_time(body.get("at")),
                position=position if isinstance(position, dict) else {},
                units=tuple(u for u in units if isinstance(u, dict))
                if isinstance(units, list)
                else (),
                status=status,
                closed_by=tuple(sorted(closed_by)),
                exercise=report.exercise,
                entries=tuple(_thread_entry(e) for e in thread),
            )
        )
    return out


def _thread_rule(entry: Entry, report: Entry) -> str | None:
    """Why an account or status does not count in ``report``'s thread, or None.

    Judged on the header alone, so that every side, whether or not it holds
    the body, counts the same entries.
    """
    if entry.type not in (INCIDENT_ACCOUNT_TYPE, INCIDENT_STATUS_TYPE):
        return None
    sides = {report.party, *report.to}
    if entry.party not in sides:
        return f"{entry.party} is not a side of incident {report.ref}"
    missing = sorted(sides - {entry.party} - set(entry.to))
    if missing:
        return f"not sent to every side of incident {report.ref} (missing {', '.join(missing)})"
    if entry.exercise != report.exercise:
        return f"{_drill(entry)} in the thread of {_drill(report)} {report.ref}"
    return None


def _notices(
    ordered: Sequence[Entry],
    by_ref: Mapping[str, Entry],
    me: str,
    skipped: list[tuple[str, str]],
) -> list[Notice]:
    notices = {
        e.ref: e
        for e in ordered
        if e.type == NOTICE_TYPE and e.body is not None and me in (e.party, *e.to)
    }
    verdicts: dict[str, dict[str, str]] = {
        ref: {p: "pending" for p in n.to if p != n.party} for ref, n in notices.items()
    }
    replies: dict[str, list[Entry]] = {ref: [] for ref in notices}
    for entry in ordered:
        if entry.type != NOTICE_REPLY_TYPE:
            continue
        cited = [ref for ref in entry.refs if ref in notices]
        if not cited:
            if me in (entry.party, *entry.to) and entry.refs:
                skipped.append((entry.ref, "refs no out-of-band notice this node holds"))
            continue
        for ref in cited:
            notice = notices[ref]
            if entry.party not in verdicts[ref]:
                skipped.append((entry.ref, f"{entry.party} was not given notice {ref}"))
                continue
            if notice.party not in entry.to or entry.exercise != notice.exercise:
                skipped.append((entry.ref, f"not a reply to {ref} sent to {notice.party}"))
                continue
            verdict = None if entry.body is None else entry.body.get("verdict")
            if verdict in ("confirmed", "disputed"):
                verdicts[ref][entry.party] = str(verdict)
            elif entry.body is None and verdicts[ref][entry.party] == "pending":
                verdicts[ref][entry.party] = "answered"  # its body was not sent here
            replies[ref].append(entry)
    return [
        Notice(
            ref=ref,
            party=n.party,
            to=n.to,
            created=n.created,
            body=n.body or {},
            verdicts=verdicts[ref],
            replies=tuple(_thread_entry(e) for e in replies[ref]),
            exercise=n.exercise,
        )
        for ref, n in notices.items()
    ]


def line_text(agreement: Agreement, body: Mapping[str, Any] | None) -> dict[str, str]:
    """What a line message says: ``{"en": …, "ru": …}`` for a template, else ``{"text": …}``.

    A template the agreement does not have, or blanks that do not fit it,
    give the raw text with a note, never an error: this reads what a peer
    signed, which cannot be unsent.
    """
    if not body:
        return {}
    out: dict[str, str] = {}
    template_id = body.get("template")
    if isinstance(template_id, str):
        template = agreement.templates.get(template_id)
        values = body.get("fields")
        if template is None:
            out["note"] = f"unknown template {template_id!r}"
        else:
            try:
                out.update(template.fill(values if isinstance(values, dict) else {}))
            except BodyError as e:
                out["note"] = str(e)
    text = body.get("text")
    if isinstance(text, str):
        out["text"] = text
    return out


def parse_body_time(value: object) -> datetime | None:
    """An RFC 3339 date-time from a body, in UTC; None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z"))
        if moment.tzinfo is None:
            return None
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):  # a year 1 or 9999 time beyond UTC's range
        return None


def _thread_entry(entry: Entry) -> ThreadEntry:
    return ThreadEntry(
        ref=entry.ref,
        party=entry.party,
        type=entry.type,
        created=entry.created,
        priority=entry.priority,
        body=entry.body,
    )


def _short(value: object) -> str | None:
    return value[:200] if isinstance(value, str) else None


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else format_time(moment.astimezone(UTC))
