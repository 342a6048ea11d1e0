"""How the emergency line looks at a terminal: what is owed, links, incidents, notices.

Pure rendering: each function takes the fold's plain data
(:mod:`detente.measures.hotline`) and returns Rich renderables or strings,
so ``detente hotline watch`` can print them once or redraw them live.

Example:
    >>> from datetime import UTC, datetime, timedelta
    >>> now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    >>> time_left(now + timedelta(minutes=4, seconds=12), now)
    '4m 12s'
    >>> time_left(now - timedelta(seconds=75), now)
    'OVERDUE by 1m 15s'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from detente.agreement.hotline import LINE_MESSAGE_TYPE
from detente.measures.hotline import (
    Acknowledgement,
    AckState,
    Incident,
    Line,
    LinkState,
    Notice,
    ThreadEntry,
)

__all__ = [
    "INCIDENT_COLUMNS",
    "NOTICE_COLUMNS",
    "incident_rows",
    "incident_view",
    "line_view",
    "message_text",
    "needs_a_person",
    "notice_rows",
    "span",
    "table",
    "time_left",
    "when",
]


def when(moment: datetime | None) -> str:
    """An instant as RFC 3339 UTC to the second, or empty."""
    return "" if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def span(delta: timedelta) -> str:
    """A duration in its two largest units: ``1d 3h``, ``2h 05m``, ``4m 12s``, ``45s``."""
    seconds = max(int(delta.total_seconds()), 0)
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"


def time_left(deadline: datetime | None, now: datetime) -> str:
    """What remains until ``deadline``, ``OVERDUE by …`` past it, or ``no deadline``."""
    if deadline is None:
        return "no deadline"
    if deadline >= now:
        return span(deadline - now)
    return f"OVERDUE by {span(now - deadline)}"


def message_text(text: Mapping[str, str]) -> str:
    """A line message as the recipient reads it: both languages of a template, then free text."""
    lines = [
        f"{language.upper()}: {text[language]}" for language in ("en", "ru") if language in text
    ]
    if "text" in text:
        lines.append(text["text"])
    if "note" in text:
        lines.append(f"({text['note']})")
    return "\n".join(lines)


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    """A Rich table of plain strings (markup in the data is shown as typed)."""
    out = Table(title=title, title_justify="left", show_lines=True)
    for column in columns:
        out.add_column(column, overflow="fold")
    for row in rows:
        out.add_row(*(Text("" if v is None else str(v)) for v in row))
    return out


def needs_a_person(line: Line) -> bool:
    """Whether anything on the line is overdue, either way, or a link is not answering."""
    overdue = any(a.state is AckState.OVERDUE for a in line.acknowledgements)
    return overdue or any(link.state is not LinkState.OK for link in line.links)


def _priority(a: Acknowledgement) -> str:
    return a.priority + (" EXERCISE" if a.exercise else "")


def _left(a: Acknowledgement, now: datetime) -> Text:
    left = time_left(a.deadline, now)
    return Text(left, style="bold red" if left.startswith("OVERDUE") else "")


def _summaries(line: Line) -> dict[str, str]:
    """What each incident and notice entry says, by ref, for the tables of what is owed."""
    said: dict[str, str] = {}
    for incident in line.incidents:
        for entry in incident.entries:
            said[entry.ref] = _entry_says(entry)
        said[incident.ref] = (
            f"{incident.kind} incident at {when(incident.at)}: {said[incident.ref]}"
        )
    for notice in line.notices:
        body = notice.body
        said[notice.ref] = (
            f"given by {body.get('means', '?')} at {body.get('given_at', '?')}: "
            f"{body.get('summary', '')}"
        )
        for reply in notice.replies:
            said[reply.ref] = _entry_says(reply)
    return said


def _owed_table(line: Line, owed: list[Acknowledgement], *, by_me: bool) -> RenderableType:
    if by_me:
        title, who = f"{line.me} owes an acknowledgement", "from"
    else:
        title, who = f"owed to {line.me}", "to"
    if not owed:
        return Text(f"{title}: nothing", style="green")
    out = Table(title=title, title_justify="left", show_lines=True)
    for column in ("priority", "ref", who, "type", "message", "deadline", "left", "contact"):
        out.add_column(column, overflow="fold")
    said = _summaries(line)
    for a in owed:
        received = "" if a.received or by_me else "\n(not received yet)"
        contact = a.contact + (f" (level {a.level})" if a.level else "")
        out.add_row(
            Text(_priority(a), style="bold" if a.priority == "FLASH" else ""),
            Text(a.ref),
            Text(a.sender if by_me else a.recipient),
            Text(a.type),
            Text(_says(a, said)),
            Text(when(a.deadline) + received),
            _left(a, line.now),
            Text(contact),
        )
    return out


def _links_table(line: Line) -> RenderableType:
    if not line.links:
        return Text("links: none judged (no peers, or the agreement has no link tests)")
    rows = [
        [
            link.party,
            link.state.value,
            f"{link.last_sent_ref or ''} {when(link.last_sent)}".strip(),
            when(link.answered_at),
            when(link.last_received),
            when(link.expected_by),
        ]
        for link in line.links
    ]
    return table(
        "links",
        ["peer", "state", "last test sent", "receipted", "last test received", "next expected by"],
        rows,
    )


def incident_rows(incidents: Sequence[Incident]) -> list[list[str]]:
    """One row per incident, for ``watch`` and ``incident list``."""
    return [
        [
            i.ref + (" (exercise)" if i.exercise else ""),
            i.kind,
            when(i.at),
            _position(i.position),
            i.reporter,
            ", ".join(i.parties),
            i.status,
            ", ".join(i.closed_by),
            str(len(i.entries)),
        ]
        for i in incidents
    ]


INCIDENT_COLUMNS = [
    "ref",
    "kind",
    "at",
    "position",
    "reporter",
    "sides",
    "status",
    "closed by",
    "entries",
]


def _position(position: Mapping[str, Any]) -> str:
    if "lat" not in position or "lon" not in position:
        return ""
    return f"{position['lat']}, {position['lon']}"


def notice_rows(notices: Sequence[Notice]) -> list[list[str]]:
    """One row per out-of-band notice, for ``watch`` and ``notice list``."""
    return [
        [
            n.ref + (" (exercise)" if n.exercise else ""),
            n.party,
            str(n.body.get("given_at", "")),
            str(n.body.get("means", "")),
            f"{n.body.get('given_by', '')} → {n.body.get('given_to', '')}",
            str(n.body.get("summary", "")),
            ", ".join(f"{party}: {verdict}" for party, verdict in sorted(n.verdicts.items())),
        ]
        for n in notices
    ]


NOTICE_COLUMNS = ["ref", "from", "given at", "means", "by → to", "summary", "verdicts"]


def line_view(line: Line) -> Group:
    """The whole watch: owed by and to this party, links, open incidents, pending notices."""
    parts: list[RenderableType] = [
        Text(f"emergency line of {line.me} at {when(line.now)}", style="bold"),
        _owed_table(line, line.owed_by_me(), by_me=True),
        _owed_table(line, line.owed_to_me(), by_me=False),
        _links_table(line),
    ]
    open_incidents = [i for i in line.incidents if i.status != "closed"]
    if open_incidents:
        parts.append(table("open incidents", INCIDENT_COLUMNS, incident_rows(open_incidents)))
    pending = [n for n in line.notices if "pending" in n.verdicts.values()]
    if pending:
        parts.append(table("notices awaiting a verdict", NOTICE_COLUMNS, notice_rows(pending)))
    if line.skipped:
        parts.append(
            Text(
                f"{len(line.skipped)} entries break the line's rules and are left out "
                '(see --format json, "skipped")',
                style="yellow",
            )
        )
    return Group(*parts)


def _entry_says(entry: ThreadEntry) -> str:
    body = entry.body or {}
    if "account" in body:
        return str(body["account"])
    if "status" in body:
        text = body.get("text")
        return f"status {body['status']}" + (f": {text}" if text else "")
    if "verdict" in body:
        text = body.get("text")
        return str(body["verdict"]) + (f": {text}" if text else "")
    if "by" in body:
        note = body.get("note")
        return f"read by {body['by']}" + (f": {note}" if note else "")
    if "text" in body:
        return str(body["text"])
    if "template" in body:
        return f"template {body['template']}"
    return "" if entry.body is not None else "(body not held)"


def incident_view(incident: Incident, acks: Sequence[Acknowledgement]) -> Group:
    """One incident: what was reported, the thread in order, and each side's accounts."""
    units = "; ".join(
        ":".join(str(u[k]) for k in ("party", "name", "kind", "id") if u.get(k))
        for u in incident.units
    )
    report = incident.entries[0].body or {}
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    for label, value in (
        ("incident", incident.ref + (" (EXERCISE)" if incident.exercise else "")),
        ("kind", incident.kind),
        ("at", when(incident.at)),
        ("position", _position(incident.position)),
        ("area", str(report.get("area", ""))),
        ("units", units),
        ("reported by", incident.reporter),
        ("sides", ", ".join(incident.parties)),
        ("status", incident.status),
        ("closed by", ", ".join(incident.closed_by) or "nobody yet"),
    ):
        if value:
            facts.add_row(label, Text(value))
    by_ref: dict[str, list[Acknowledgement]] = {}
    for a in acks:
        by_ref.setdefault(a.ref, []).append(a)
    thread = table(
        "thread",
        ["created", "ref", "party", "type", "priority", "says", "acknowledged"],
        [
            [
                when(e.created),
                e.ref,
                e.party,
                e.type,
                e.priority,
                _thread_says(e, by_ref.get(e.ref, [])),
                "\n".join(_ack_state(a) for a in by_ref.get(e.ref, [])),
            ]
            for e in incident.entries
        ],
    )
    accounts = incident.accounts()
    sides = Table(title="accounts", title_justify="left", show_lines=True)
    for party in incident.parties:
        sides.add_column(party, overflow="fold", ratio=1)
    sides.add_row(
        *(
            Text("\n\n".join(accounts.get(party, [])) or "(no account yet)")
            for party in incident.parties
        )
    )
    return Group(facts, thread, sides)


def _says(a: Acknowledgement, said: Mapping[str, str]) -> str:
    if a.type == LINE_MESSAGE_TYPE or a.ref not in said:
        return message_text(a.text)
    return said[a.ref]


def _thread_says(entry: ThreadEntry, acks: Sequence[Acknowledgement]) -> str:
    # A line message in the thread: both languages, as its acknowledgements carry them.
    if entry.type == LINE_MESSAGE_TYPE:
        text = next((message_text(a.text) for a in acks if a.text), "")
        if text:
            return text
    return _entry_says(entry)


def _ack_state(a: Acknowledgement) -> str:
    if a.state in (AckState.ACKNOWLEDGED, AckState.LATE):
        late = " (late)" if a.state is AckState.LATE else ""
        return f"{a.recipient}: by {a.by or '?'} {when(a.acknowledged_at)}{late}"
    return f"{a.recipient}: {a.state.value}"
