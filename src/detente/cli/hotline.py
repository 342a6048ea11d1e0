"""``detente hotline``: work the emergency line from the server's shell.

Every command that sends signs a message into the node's own log, through
the same actions as the API and the console (:mod:`detente.node.hotline`)
and so the same checks; a running ``detente serve`` delivers it (a FLASH
message and its acknowledgement ahead of the backlog). ``watch`` only
reads: the server keeps the line's clock (link tests, ``ack_overdue`` and
``link_test`` alarms).
"""

from __future__ import annotations

import enum
import json
import time
from typing import Annotated, Any

import typer
from rich.live import Live

from detente.agreement.hotline import (
    ACK_TYPE,
    INCIDENT_ACCOUNT_TYPE,
    INCIDENT_REPORT_TYPE,
    INCIDENT_STATUS_TYPE,
    LINE_MESSAGE_TYPE,
    NOTICE_REPLY_TYPE,
    NOTICE_TYPE,
)
from detente.agreement.messages import Priority
from detente.cli._line_input import (
    check_fields,
    parse_fields,
    parse_ref,
    parse_time,
    parse_unit,
)
from detente.cli._line_view import (
    INCIDENT_COLUMNS,
    NOTICE_COLUMNS,
    incident_rows,
    incident_view,
    line_view,
    message_text,
    needs_a_person,
    notice_rows,
    table,
    when,
)
from detente.cli._node import DirOption, opened_node
from detente.cli._output import FormatOption, OutputFormat, command_errors, fail, out, print_json
from detente.errors import NotFoundError
from detente.measures.hotline import line_text
from detente.node import Node
from detente.node.hotline import (
    acknowledge,
    add_account,
    record_notice,
    reply_notice,
    report_incident,
    send_line_message,
    set_status,
)
from detente.node.line import line_state
from detente.node.operators import list_operators
from detente.node.releases import refuse_direct
from detente.node.writer import AppendResult

__all__ = ["hotline_app"]

hotline_app = typer.Typer(
    help="The emergency line: send, acknowledge, watch, incidents, notices.", no_args_is_help=True
)
incident_app = typer.Typer(help="Incident threads: report, accounts, status.", no_args_is_help=True)
notice_app = typer.Typer(
    help="Notices given by telephone, fax or radio while the link was down.", no_args_is_help=True
)
hotline_app.add_typer(incident_app, name="incident")
hotline_app.add_typer(notice_app, name="notice")

#: Who acknowledges, when --by is not given.
OPERATOR_ENV = "DETENTE_OPERATOR"


class IncidentStatus(enum.StrEnum):
    """Where a side says an incident stands."""

    open = "open"
    explained = "explained"
    closed = "closed"


class Verdict(enum.StrEnum):
    """A recipient's answer to an out-of-band notice."""

    confirmed = "confirmed"
    disputed = "disputed"


class Means(enum.StrEnum):
    """How a notice was given while the link was down."""

    telephone = "telephone"
    fax = "fax"
    radio = "radio"
    in_person = "in_person"
    other = "other"


ToOption = Annotated[
    list[str] | None,
    typer.Option("--to", help="Recipient party (repeat; default: every other party)."),
]
PriorityOption = Annotated[
    Priority | None,
    typer.Option(
        "--priority", case_sensitive=False, help="Precedence (default: the message type's)."
    ),
]
RefsOption = Annotated[
    list[str] | None,
    typer.Option("--ref", "--refs", help="Entry it answers or cites, party:seq (repeat)."),
]
ExerciseOption = Annotated[bool, typer.Option("--exercise", help="Mark as exercise traffic.")]


def _refs(values: list[str] | None) -> tuple[str, ...]:
    return tuple(parse_ref(v, option="--ref") for v in values or ())


def _sent(node: Node, result: AppendResult) -> dict[str, Any]:
    envelope = result.envelopes[0]
    header = envelope.header
    body = result.bodies[0]
    data: dict[str, Any] = {
        "position": envelope.position,
        "type": header.type,
        "created": header.created,
        "to": list(header.to),
        "refs": list(header.refs),
        "priority": header.priority,
        "exercise": header.exercise,
        "checkpoint_size": result.checkpoint.checkpoint.size,
    }
    if header.type == LINE_MESSAGE_TYPE:
        data["text"] = line_text(node.agreement, json.loads(body))
    return data


def _show(output: OutputFormat, data: dict[str, Any], label: str) -> bool:
    """Print what was sent: the JSON, or a line after ``label``; True for text."""
    if output is OutputFormat.json:
        print_json(data)
        return False
    _print_sent(data, label)
    return True


def _print_sent(data: dict[str, Any], what: str) -> None:
    mark = " EXERCISE" if data["exercise"] else ""
    refs = f", refs {', '.join(data['refs'])}" if data["refs"] else ""
    out.print(
        f"{what} [bold]{data['position']}[/] {data['type']} {data['priority']}{mark} "
        f"to {', '.join(data['to'])}{refs}"
    )


@hotline_app.command("send")
@command_errors
def send(
    to: ToOption = None,
    text: Annotated[str | None, typer.Option("--text", help="Free text.")] = None,
    template: Annotated[
        str | None, typer.Option("--template", help="A standard phrase (`hotline templates`).")
    ] = None,
    fields: Annotated[
        list[str] | None,
        typer.Option("--field", help="A template's blank, NAME=VALUE (repeat)."),
    ] = None,
    priority: PriorityOption = None,
    refs: RefsOption = None,
    exercise: ExerciseOption = False,
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Send a message on the line: free text, a standard phrase filled in, or both.

    A template is shown as the recipient will read it, in English and Russian.
    """
    filled = parse_fields(fields or ())
    cited = _refs(refs)
    if not text and not template:
        fail("give --text, --template, or both")
    if filled and not template:
        fail("--field: given without --template")
    with opened_node(directory) as node:
        if template is not None:
            found = node.agreement.templates.get(template)
            if found is None:
                known = ", ".join(sorted(node.agreement.templates)) or "none"
                fail(
                    f"--template: no template {template!r} in {node.agreement.name} "
                    f"(known: {known})"
                )
            check_fields(found, filled)
        refuse_direct(node, LINE_MESSAGE_TYPE)
        result = send_line_message(
            node,
            to=tuple(to or ()),
            text=text,
            template=template,
            fields=filled,
            priority=priority.value if priority else None,
            refs=cited,
            exercise=exercise,
        )
        data = _sent(node, result)
    if not _show(output, data, "sent"):
        return
    if data["text"]:
        out.print(message_text(data["text"]), markup=False)


@hotline_app.command("ack")
@command_errors
def ack(
    ref: Annotated[str, typer.Argument(help="The message read, party:seq.")],
    by: Annotated[
        str,
        typer.Option(
            "--by",
            envvar=OPERATOR_ENV,
            help=f"Who read it: an operator of this node who may send (default: ${OPERATOR_ENV}).",
        ),
    ],
    note: Annotated[str | None, typer.Option("--note", help="A note with it.")] = None,
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Acknowledge a message on the line as read by a person.

    The acknowledgement goes to the message's sender at the message's own
    priority, so a FLASH message's acknowledgement overtakes a backlog too.
    """
    message = parse_ref(ref, option="REF")
    with opened_node(directory) as node:
        senders = [o.name for o in list_operators(node) if o.role.can_send]
        if by not in senders:
            fail(
                f"--by: {by!r} is not an operator of this node who may send (operators: "
                f"{', '.join(senders) or 'none; add one with `detente operator add`'})"
            )
        refuse_direct(node, ACK_TYPE)
        result = acknowledge(node, message, by=by, note=note)
        data = _sent(node, result)
    data["by"] = by
    _show(output, data, f"{message} acknowledged by {by} as")


@hotline_app.command("watch")
@command_errors
def watch(
    once: Annotated[bool, typer.Option("--once", help="Show the line once and exit.")] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.5, help="Seconds between refreshes.")
    ] = 5.0,
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Show what this party owes, what it is owed, the links and open incidents.

    Refreshes until Ctrl-C, or shows once with --once or --format json
    (the fold as `GET /v1/hotline` answers it). Shown once, it exits 1 when
    an acknowledgement either way is overdue or a link is not answering.
    It only reads: `detente serve` sends the link tests and raises the alarms.
    """
    with opened_node(directory) as node:
        line = line_state(node)
        if output is OutputFormat.json:
            print_json(line.to_json())
        elif once:
            out.print(line_view(line))
        else:
            _keep_watching(node, interval)
            return
    if needs_a_person(line):
        raise typer.Exit(1)


def _keep_watching(node: Node, interval: float) -> None:
    try:
        if out.is_terminal:
            with Live(line_view(line_state(node)), console=out, auto_refresh=False) as live:
                while True:
                    time.sleep(interval)
                    live.update(line_view(line_state(node)), refresh=True)
        while True:
            out.print(line_view(line_state(node)))
            time.sleep(interval)
    except KeyboardInterrupt:
        return


@hotline_app.command("templates")
@command_errors
def templates(directory: DirOption = None, output: FormatOption = OutputFormat.text) -> None:
    """List the agreement's standard phrases and signal groups, in English and Russian."""
    with opened_node(directory) as node:
        found = sorted(node.agreement.templates.values(), key=lambda t: t.id)
    if output is OutputFormat.json:
        print_json([t.model_dump(mode="json") for t in found])
        return
    if not found:
        out.print("the agreement has no templates")
        return
    out.print(
        table(
            "templates",
            ["id", "ICS", "source", "blanks", "English", "Russian"],
            [[t.id, t.group, t.source, ", ".join(t.fields), t.en, t.ru] for t in found],
        )
    )


@incident_app.command("report")
@command_errors
def incident_report(
    kind: Annotated[
        str,
        typer.Option(
            "--kind",
            help="The kind of incident: sea, air, territory, laser, … (the agreement lists them).",
        ),
    ],
    at: Annotated[str, typer.Option("--at", help="When it happened, RFC 3339.")],
    lat: Annotated[float, typer.Option("--lat", min=-90, max=90, help="Latitude, degrees.")],
    lon: Annotated[float, typer.Option("--lon", min=-180, max=180, help="Longitude, degrees.")],
    units: Annotated[
        list[str],
        typer.Option("--unit", help="A unit involved, PARTY:NAME[:KIND[:ID]] (repeat)."),
    ],
    account: Annotated[str, typer.Option("--account", help="This side's account.")],
    to: ToOption = None,
    area: Annotated[str | None, typer.Option("--area", help="The area, in words.")] = None,
    priority: PriorityOption = None,
    exercise: ExerciseOption = False,
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Report an incident, opening its thread with this side's account."""
    moment = parse_time(at, option="--at")
    parsed = [parse_unit(u) for u in units]
    with opened_node(directory) as node:
        refuse_direct(node, INCIDENT_REPORT_TYPE)
        result = report_incident(
            node,
            kind=kind,
            at=moment,
            lat=lat,
            lon=lon,
            units=parsed,
            account=account,
            to=tuple(to or ()),
            area=area,
            priority=priority.value if priority else None,
            exercise=exercise,
        )
        data = _sent(node, result)
    _show(output, data, f"incident ({kind} at {when(moment)}) reported as")


@incident_app.command("account")
@command_errors
def incident_account(
    ref: Annotated[str, typer.Argument(help="The incident report, party:seq.")],
    text: Annotated[str, typer.Option("--text", help="This side's account.")],
    units: Annotated[
        list[str] | None,
        typer.Option("--unit", help="A unit involved, PARTY:NAME[:KIND[:ID]] (repeat)."),
    ] = None,
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Give this side's account of an incident, to every other side of it."""
    report = parse_ref(ref, option="REF")
    parsed = [parse_unit(u) for u in units or ()]
    with opened_node(directory) as node:
        refuse_direct(node, INCIDENT_ACCOUNT_TYPE)
        data = _sent(node, add_account(node, report, account=text, units=parsed))
    _show(output, data, f"account of {report} sent as")


@incident_app.command("status")
@command_errors
def incident_status(
    ref: Annotated[str, typer.Argument(help="The incident report, party:seq.")],
    status: Annotated[IncidentStatus, typer.Argument(help="open, explained or closed.")],
    text: Annotated[str | None, typer.Option("--text", help="Why.")] = None,
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Say an incident is open, explained, or closed for this side.

    It is closed once every side of it has closed it.
    """
    report = parse_ref(ref, option="REF")
    with opened_node(directory) as node:
        refuse_direct(node, INCIDENT_STATUS_TYPE)
        data = _sent(node, set_status(node, report, status=status.value, text=text))
        incident = next(i for i in line_state(node).incidents if i.ref == report)
    data["incident_status"] = incident.status
    data["closed_by"] = list(incident.closed_by)
    if not _show(output, data, f"{report} {status.value} sent as"):
        return
    closed = f" (closed by {', '.join(incident.closed_by)})" if incident.closed_by else ""
    out.print(f"incident {report} is now {incident.status}{closed}")


@incident_app.command("list")
@command_errors
def incident_list(
    open_only: Annotated[bool, typer.Option("--open", help="Only those not closed.")] = False,
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """List the incident threads this party is a side of."""
    with opened_node(directory) as node:
        incidents = [i for i in line_state(node).incidents if not open_only or i.status != "closed"]
    if output is OutputFormat.json:
        print_json([i.to_json() for i in incidents])
    elif not incidents:
        out.print("no incidents")
    else:
        out.print(table("incidents", INCIDENT_COLUMNS, incident_rows(incidents)))


@incident_app.command("show")
@command_errors
def incident_show(
    ref: Annotated[str, typer.Argument(help="The incident report, party:seq.")],
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Show one incident: the report, the whole thread in order, each side's accounts."""
    report = parse_ref(ref, option="REF")
    with opened_node(directory) as node:
        line = line_state(node)
    incident = next((i for i in line.incidents if i.ref == report), None)
    if incident is None:
        raise NotFoundError(f"{report}: no incident report held here")
    refs = {e.ref for e in incident.entries}
    acks = [a for a in line.acknowledgements if a.ref in refs]
    if output is OutputFormat.json:
        print_json({**incident.to_json(), "acknowledgements": [a.to_json() for a in acks]})
        return
    out.print(incident_view(incident, acks))


@notice_app.command("record")
@command_errors
def notice_record(
    given_at: Annotated[str, typer.Option("--given-at", help="When it was given, RFC 3339.")],
    means: Annotated[Means, typer.Option("--means", help="How it was given.")],
    given_by: Annotated[str, typer.Option("--given-by", help="Who gave it.")],
    given_to: Annotated[str, typer.Option("--given-to", help="Who took it.")],
    summary: Annotated[str, typer.Option("--summary", help="What was said.")],
    to: ToOption = None,
    refs: RefsOption = None,
    exercise: ExerciseOption = False,
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Record a notice given out of band while the link was down.

    The other side confirms or disputes it (`hotline notice reply`).
    """
    moment = parse_time(given_at, option="--given-at")
    cited = _refs(refs)
    with opened_node(directory) as node:
        refuse_direct(node, NOTICE_TYPE)
        result = record_notice(
            node,
            given_at=moment,
            means=means.value,
            given_by=given_by,
            given_to=given_to,
            summary=summary,
            to=tuple(to or ()),
            refs=cited,
            exercise=exercise,
        )
        data = _sent(node, result)
    _show(output, data, f"notice given by {means.value} at {when(moment)} recorded as")


@notice_app.command("reply")
@command_errors
def notice_reply(
    ref: Annotated[str, typer.Argument(help="The notice, party:seq.")],
    verdict: Annotated[Verdict, typer.Argument(help="confirmed or disputed.")],
    text: Annotated[str | None, typer.Option("--text", help="Why, or what differs.")] = None,
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Confirm or dispute a notice the other side says it gave this party."""
    notice = parse_ref(ref, option="REF")
    with opened_node(directory) as node:
        refuse_direct(node, NOTICE_REPLY_TYPE)
        data = _sent(node, reply_notice(node, notice, verdict=verdict.value, text=text))
    _show(output, data, f"{notice} {verdict.value} as")


@notice_app.command("list")
@command_errors
def notice_list(directory: DirOption = None, output: FormatOption = OutputFormat.text) -> None:
    """List the out-of-band notices given by or to this party, with each verdict."""
    with opened_node(directory) as node:
        notices = line_state(node).notices
    if output is OutputFormat.json:
        print_json([n.to_json() for n in notices])
    elif not notices:
        out.print("no notices")
    else:
        out.print(table("out-of-band notices", NOTICE_COLUMNS, notice_rows(notices)))
