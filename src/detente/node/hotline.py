"""Working the emergency line: send, acknowledge, report, record notices, and keep watch.

Each action is a signed message appended to the node's log like any other
(:class:`~detente.node.writer.LogWriter`), so the CLI, the API and the
console share one path and one set of checks
(:func:`detente.node.line.check_line_drafts`).

:func:`watch_line` is the line's clock, run every few seconds by
:class:`LineWatch` beside the sender (and by tests, with a fake clock): it
sends this node's link test when one is due, and raises the alarms both
sides must see:

- ``ack_overdue``: a message on the line not acknowledged in time, raised
  again at each escalation level, naming the contact it escalated to; the
  recipient's node raises it for what it owes, the sender's for what it is
  owed.
- ``link_test``: this node's newest link test not receipted in time, or a
  peer's link tests stopped coming.

Example:
    >>> import tempfile, pathlib
    >>> from detente.node import init_node
    >>> node = init_node(pathlib.Path(tempfile.mkdtemp()) / "us", party="us",
    ...                  agreement_ref="security-replies-2022")
    >>> result = watch_line(node)   # no peers yet: no link test, nothing overdue
    >>> result.link_test, result.alarms
    (None, [])
    >>> node.close()
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from detente.agreement.hotline import (
    ACK_TYPE,
    INCIDENT_ACCOUNT_TYPE,
    INCIDENT_REPORT_TYPE,
    INCIDENT_STATUS_TYPE,
    LINE_MESSAGE_TYPE,
    LINK_TEST_TYPE,
    NOTICE_REPLY_TYPE,
    NOTICE_TYPE,
)
from detente.errors import BodyError, DetenteError, InputError, NotFoundError
from detente.measures.hotline import AckState, Line
from detente.node.alarms import raise_alarm
from detente.node.directory import Node
from detente.node.line import line_entries, line_state
from detente.node.writer import AppendResult, Draft, LogWriter
from detente.record.envelope import format_time
from detente.store.logs import LogStore

__all__ = [
    "INCIDENT_STATUSES",
    "LineWatch",
    "WatchResult",
    "acknowledge",
    "add_account",
    "record_notice",
    "reply_notice",
    "report_incident",
    "send_line_message",
    "send_link_test",
    "set_status",
    "watch_line",
]

log = logging.getLogger("detente.hotline")

INCIDENT_STATUSES = ("open", "explained", "closed")

Append = Callable[[Sequence[Draft]], AppendResult]


def _others(node: Node) -> tuple[str, ...]:
    return tuple(sorted(p.party for p in node.config.peers if not p.witness))


def _append(node: Node, draft: Draft, idempotency: tuple[str, str] | None) -> AppendResult:
    return LogWriter(node).append([draft], idempotency=idempotency)


def send_line_message(
    node: Node,
    *,
    to: Sequence[str] = (),
    text: str | None = None,
    template: str | None = None,
    fields: Mapping[str, str] | None = None,
    priority: str | None = None,
    refs: Sequence[str] = (),
    exercise: bool = False,
    idempotency: tuple[str, str] | None = None,
) -> AppendResult:
    """Send a message on the line: free text, a template filled in, or both.

    Raises:
        BodyError: neither text nor template, an unknown template, or blanks
            that do not fit it.
    """
    body: dict[str, Any] = {}
    if text:
        body["text"] = text
    if template:
        body["template"] = template
        body["fields"] = dict(fields or {})
    elif fields:
        raise InputError("fields: given without a template")
    draft = Draft(
        type=LINE_MESSAGE_TYPE,
        body=body,
        to=tuple(to) or _others(node),
        refs=tuple(refs),
        priority=priority,
        exercise=exercise,
    )
    return _append(node, draft, idempotency)


def acknowledge(
    node: Node,
    ref: str,
    *,
    by: str,
    note: str | None = None,
    idempotency: tuple[str, str] | None = None,
) -> AppendResult:
    """Acknowledge the line message ``ref`` (``party:seq``) as read by ``by``.

    The acknowledgement travels at the message's priority, so a FLASH
    message's acknowledgement overtakes a backlog too.

    Raises:
        NotFoundError: no entry ``ref`` is held here.
        BodyError: it is not a line message to this party.
        ConflictError: this party acknowledged it already.
    """
    with node.database.engine.connect() as conn:
        target = next((e for e in line_entries(conn, node) if e.ref == ref), None)
        held = target is not None or _holds(conn, ref)
    if target is None:
        if held:
            raise BodyError(f"{ref}: not a message on the line, so not acknowledged")
        raise NotFoundError(f"{ref}: no such message held here")
    body: dict[str, Any] = {"by": by[:200]}
    if note:
        body["note"] = note
    draft = Draft(
        type=ACK_TYPE,
        body=body,
        to=(target.party,),
        refs=(ref,),
        priority=target.priority,
        exercise=target.exercise,
    )
    return _append(node, draft, idempotency)


def _holds(conn: Connection, ref: str) -> bool:
    party, _, seq = ref.partition(":")
    return seq.isdigit() and LogStore(conn, party).leaf(int(seq)) is not None


def report_incident(
    node: Node,
    *,
    kind: str,
    at: datetime,
    lat: float,
    lon: float,
    units: Sequence[Mapping[str, str]],
    account: str,
    to: Sequence[str] = (),
    area: str | None = None,
    priority: str | None = None,
    exercise: bool = False,
    idempotency: tuple[str, str] | None = None,
) -> AppendResult:
    """Open an incident thread with this side's account."""
    body: dict[str, Any] = {
        "kind": kind,
        "at": format_time(at),
        "position": {"lat": lat, "lon": lon},
        "units": [dict(u) for u in units],
        "account": account,
    }
    if area:
        body["area"] = area
    draft = Draft(
        type=INCIDENT_REPORT_TYPE,
        body=body,
        to=tuple(to) or _others(node),
        priority=priority,
        exercise=exercise,
    )
    return _append(node, draft, idempotency)


def _thread_sides(node: Node, ref: str) -> tuple[tuple[str, ...], bool]:
    line = line_state(node)
    incident = next((i for i in line.incidents if i.ref == ref), None)
    if incident is None:
        raise NotFoundError(f"{ref}: no incident report held here")
    return tuple(p for p in incident.parties if p != node.party), incident.exercise


def add_account(
    node: Node,
    ref: str,
    *,
    account: str,
    units: Sequence[Mapping[str, str]] = (),
    idempotency: tuple[str, str] | None = None,
) -> AppendResult:
    """Give this side's account of the incident ``ref``, to every other side of it."""
    to, exercise = _thread_sides(node, ref)
    body: dict[str, Any] = {"account": account}
    if units:
        body["units"] = [dict(u) for u in units]
    draft = Draft(type=INCIDENT_ACCOUNT_TYPE, body=body, to=to, refs=(ref,), exercise=exercise)
    return _append(node, draft, idempotency)


def set_status(
    node: Node,
    ref: str,
    *,
    status: str,
    text: str | None = None,
    idempotency: tuple[str, str] | None = None,
) -> AppendResult:
    """Say the incident ``ref`` is open, explained or (for this side) closed."""
    if status not in INCIDENT_STATUSES:
        raise InputError(f"status: {status!r} is not one of {', '.join(INCIDENT_STATUSES)}")
    to, exercise = _thread_sides(node, ref)
    body: dict[str, Any] = {"status": status}
    if text:
        body["text"] = text
    draft = Draft(type=INCIDENT_STATUS_TYPE, body=body, to=to, refs=(ref,), exercise=exercise)
    return _append(node, draft, idempotency)


def record_notice(
    node: Node,
    *,
    given_at: datetime,
    means: str,
    given_by: str,
    given_to: str,
    summary: str,
    to: Sequence[str] = (),
    refs: Sequence[str] = (),
    exercise: bool = False,
    idempotency: tuple[str, str] | None = None,
) -> AppendResult:
    """Record a notice given by telephone, fax or radio while the link was down."""
    if given_at > node.clock():
        raise InputError(f"given_at: {format_time(given_at)} is in the future")
    body = {
        "given_at": format_time(given_at),
        "means": means,
        "given_by": given_by,
        "given_to": given_to,
        "summary": summary,
    }
    draft = Draft(
        type=NOTICE_TYPE,
        body=body,
        to=tuple(to) or _others(node),
        refs=tuple(refs),
        exercise=exercise,
    )
    return _append(node, draft, idempotency)


def reply_notice(
    node: Node,
    ref: str,
    *,
    verdict: str,
    text: str | None = None,
    idempotency: tuple[str, str] | None = None,
) -> AppendResult:
    """Confirm or dispute the out-of-band notice ``ref`` given to this party."""
    if verdict not in ("confirmed", "disputed"):
        raise InputError(f"verdict: {verdict!r} is not confirmed or disputed")
    line = line_state(node)
    notice = next((n for n in line.notices if n.ref == ref), None)
    if notice is None:
        raise NotFoundError(f"{ref}: no out-of-band notice held here")
    body: dict[str, Any] = {"verdict": verdict}
    if text:
        body["text"] = text
    # To every party of the notice, so that each sees the same verdicts.
    to = tuple(sorted({notice.party, *notice.to} - {node.party}))
    draft = Draft(type=NOTICE_REPLY_TYPE, body=body, to=to, refs=(ref,), exercise=notice.exercise)
    return _append(node, draft, idempotency)


def send_link_test(node: Node) -> AppendResult:
    """Send a link test to every peer (its receipt is the answer)."""
    now = node.clock()
    draft = Draft(
        type=LINK_TEST_TYPE,
        body={"text": f"Link test from {node.party} at {format_time(now)}"},
        to=_others(node),
    )
    return LogWriter(node).append([draft])


@dataclass
class WatchResult:
    """What one :func:`watch_line` round did."""

    line: Line
    link_test: AppendResult | None = None
    link_test_error: str | None = None  # why the link test due was not sent
    alarms: list[str] = field(default_factory=list)


def watch_line(node: Node) -> WatchResult:
    """One round of the line's clock: send a link test if due, raise what is overdue."""
    hotline = node.agreement.hotline
    line = line_state(node)
    result = WatchResult(line=line)
    if hotline is None or node.is_witness:
        return result
    now = node.clock()
    if (
        LINK_TEST_TYPE in node.agreement.message_types
        and _others(node)
        and (line.next_link_test is None or now >= line.next_link_test)
    ):
        try:
            result.link_test = send_link_test(node)
        except DetenteError as e:
            # The alarms below must be raised whatever stops the test (a
            # suspension of link-test, a store error): the peers' side of the
            # link raises its own alarm when the test does not come.
            result.link_test_error = str(e)
        else:
            line = result.line = line_state(node)
    for owed in line.acknowledgements:
        if owed.state is not AckState.OVERDUE:
            continue
        # The detail names the message and the level only, so that one level
        # is one alarm even when the deadline moves (a late receipt).
        mark = "EXERCISE " if owed.exercise else ""
        if owed.recipient == node.party:
            party = owed.sender
            detail = (
                f"{mark}{owed.priority} {owed.ref} from {owed.sender} not acknowledged; "
                f"escalated to {owed.contact} (level {owed.level})"
            )
        else:
            party = owed.recipient
            detail = (
                f"{mark}{owed.recipient} has not acknowledged {owed.priority} {owed.ref}; "
                f"escalated to {owed.recipient}'s {owed.contact} (level {owed.level})"
            )
        if raise_alarm(node, kind="ack_overdue", party=party, detail=detail):
            result.alarms.append(detail)
    for link in line.links:
        details = []
        if link.unanswered:
            details.append(
                f"link test {link.last_sent_ref} to {link.party} not receipted within "
                f"{hotline.answer_within}"
            )
        if link.missed:
            last = format_time(link.last_received) if link.last_received else "never"
            details.append(
                f"no link test from {link.party} (last received {last}; "
                f"expected by {format_time(link.expected_by)})"
            )
        for detail in details:
            if raise_alarm(node, kind="link_test", party=link.party, detail=detail):
                result.alarms.append(detail)
    return result


class LineWatch:
    """A background thread running :func:`watch_line` every ``interval`` seconds."""

    def __init__(
        self, node: Node, *, interval: float = 2.0, on_sent: Callable[[], None] | None = None
    ) -> None:
        self._node = node
        self._interval = interval
        self._on_sent = on_sent
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Keep watch in the background."""
        self._thread = threading.Thread(target=self._loop, name="detente-line", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the round in progress."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        failing: str | None = None
        while not self._stop.is_set():
            try:
                result = watch_line(self._node)
                if result.link_test_error != failing and result.link_test_error is not None:
                    log.error("cannot send the link test: %s", result.link_test_error)
                failing = result.link_test_error
                if result.link_test is not None and self._on_sent is not None:
                    self._on_sent()
            except Exception:  # noqa: BLE001 - the watch must outlive any one failure
                log.exception("line watch failed; retrying")
            self._stop.wait(self._interval)
