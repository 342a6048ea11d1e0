"""``detente tracks``: close-approach screening of ship and aircraft tracks.

``detente tracks screen`` screens a JSON-lines file of position reports
without a node (issue #9): every unit is extrapolated to the newest report
time in the file and every pair of units of different parties whose
closest approach within the horizon is nearer than the thresholds is
printed, one alert a line.

On a node (``--dir``): ``alerts`` lists the alerts its screening raised,
``alert ID`` shows one with its events, the reports behind each and the
incident report it drafted, ``send ID`` and ``dismiss ID`` decide that
draft, and ``recompute REF`` screens again the pair an incident report
received carries, from the message alone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from detente.cli._node import DirOption, opened_node
from detente.cli._output import (
    FormatOption,
    OutputFormat,
    command_errors,
    err,
    fail,
    out,
    print_json,
    print_table,
)
from detente.errors import InputError
from detente.node.directory import Node
from detente.node.operators import Operator, list_operators
from detente.node.tracks import (
    dismiss_alert,
    draft_incident,
    get_alert,
    list_alerts,
    recompute_incident,
    send_alert,
)
from detente.tracks.batch import read_reports, screen_reports

__all__ = ["tracks_app"]

tracks_app = typer.Typer(
    help="Screen ship and aircraft tracks for close approaches.", no_args_is_help=True
)

#: Warnings printed for lines set aside before only the count is given.
_SHOWN_REJECTS = 20


@tracks_app.callback()
def _tracks() -> None:
    """Screen ship and aircraft tracks for close approaches."""


@tracks_app.command("screen")
@command_errors
def screen_file(
    input_file: Annotated[
        Path, typer.Option("--input", "-i", help="JSON-lines reports ('-' for standard input).")
    ],
    horizon: Annotated[
        float, typer.Option("--horizon", min=0, max=86_400, help="Look-ahead, seconds.")
    ],
    cpa_m: Annotated[
        float, typer.Option("--cpa-m", min=0.001, max=1_000_000, help="Horizontal threshold, m.")
    ],
    vertical_m: Annotated[
        float | None,
        typer.Option("--vertical-m", min=0.001, max=100_000, help="Vertical threshold, m."),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 if any line was set aside.")
    ] = False,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Screen a file of reports; print each pair predicted too close.

    Lines that are not good reports are set aside with a warning naming the
    line and the reason, and counted; they never stop the screen.
    """
    name = "<stdin>" if str(input_file) == "-" else str(input_file)
    try:
        if str(input_file) == "-":
            read = read_reports(sys.stdin.buffer, name=name)
        else:
            with input_file.open("rb") as stream:
                read = read_reports(stream, name=name)
    except OSError as e:
        raise InputError(f"{name}: cannot read: {e.strerror}") from e
    for rejected in read.rejected[:_SHOWN_REJECTS]:
        err.print(
            f"warning: {name} line {rejected.line}: {rejected.reason}: {rejected.detail}",
            markup=False,
            highlight=False,
        )
    if read.rejected:
        by_reason: dict[str, int] = {}
        for rejected in read.rejected:
            by_reason[rejected.reason] = by_reason.get(rejected.reason, 0) + 1
        counts = ", ".join(f"{n} {reason}" for reason, n in sorted(by_reason.items()))
        err.print(
            f"warning: {name}: {len(read.rejected)} of {read.lines} lines set aside ({counts})",
            markup=False,
            highlight=False,
        )
    alerts = screen_reports(
        read.reports, horizon_s=horizon, horizontal_m=cpa_m, vertical_m=vertical_m
    )
    if output is OutputFormat.json:
        for alert in alerts:
            sys.stdout.write(json.dumps(alert.to_json()) + "\n")
        sys.stdout.flush()
    else:
        print_table(
            f"{len(alerts)} close approaches among {len(read.reports)} units "
            f"(horizon {horizon:g} s, {cpa_m:g} m"
            + (f", {vertical_m:g} m vertical)" if vertical_m is not None else ")"),
            ["a", "b", "tcpa (s)", "dcpa (m)"],
            [[a.a, a.b, f"{a.tcpa_s:.1f}", f"{a.dcpa_m:.1f}"] for a in alerts],
        )
    if strict and read.rejected:
        fail(f"{name}: {len(read.rejected)} lines set aside (--strict)")


#: Who decides a draft, when --by is not given (as for ``detente hotline ack``).
OPERATOR_ENV = "DETENTE_OPERATOR"

ByOption = Annotated[
    str,
    typer.Option(
        "--by",
        envvar=OPERATOR_ENV,
        help=f"An operator of this node who may send (default: ${OPERATOR_ENV}).",
    ),
]


def _state(value: str | None) -> str | None:
    if value is not None and value not in ("raised", "cleared"):
        raise typer.BadParameter("use raised or cleared", param_hint="--state")
    return value


@tracks_app.command("alerts")
@command_errors
def alerts(
    state: Annotated[
        str | None, typer.Option("--state", help="raised or cleared; both if left out.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 50,
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """The alerts the node's screening raised, newest first."""
    with opened_node(directory) as node:
        found = list_alerts(node, state=_state(state), limit=limit)
    if output is OutputFormat.json:
        print_json(found)
        return
    print_table(
        f"{len(found)} alerts",
        ["id", "pair", "parties", "domain", "state", "dcpa (m)", "tcpa (s)", "raised", "draft"],
        [
            [
                a["id"],
                f"{a['a']} / {a['b']}",
                " / ".join(a["parties"]),
                a["domain"],
                a["state"] + (f" ({a['clear_reason']})" if a["clear_reason"] else ""),
                f"{a['dcpa_m']:.0f}",
                f"{a['tcpa_s']:.0f}",
                a["raised_at"],
                a["draft"]["state"] + (f" {a['draft']['ref']}" if a["draft"]["ref"] else ""),
            ]
            for a in found
        ],
    )


@tracks_app.command("alert")
@command_errors
def alert(
    alert_id: Annotated[int, typer.Argument(min=1, help="The alert's id.")],
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """One alert: its events with the reports behind each, and the incident report it drafts."""
    with opened_node(directory) as node:
        found = get_alert(node, alert_id)
        found["incident"] = draft_incident(node, found) if len(found["tracks"]) == 2 else None
    if output is OutputFormat.json:
        print_json(found)
        return
    out.print(
        f"alert {found['id']}: {found['a']} ({found['parties'][0]}) and {found['b']} "
        f"({found['parties'][1]}), {found['domain']}, {found['state']}",
        markup=False,
    )
    print_table(
        "events",
        ["at", "kind", "dcpa (m)", "tcpa (s)", "reason", "reports"],
        [
            [
                e["at"],
                e["kind"],
                "" if e["dcpa_m"] is None else f"{e['dcpa_m']:.0f}",
                "" if e["tcpa_s"] is None else f"{e['tcpa_s']:.0f}",
                e["reason"] or "",
                "; ".join(
                    f"{t['id']} {t['lat']:.4f},{t['lon']:.4f} {t['course_deg']:.0f}° "
                    f"{t['speed_mps']:.1f} m/s at {t['time']}"
                    for t in e["tracks"]
                ),
            ]
            for e in found["events"]
        ],
    )
    if found["incident"] is not None:
        out.print(
            f"draft ({found['draft']['state']}), to {', '.join(found['incident']['to'])}:",
            markup=False,
        )
        out.print(found["incident"]["body"]["account"], markup=False)


def _operator(node: Node, by: str) -> Operator:
    for operator in list_operators(node):
        if operator.name == by and operator.role.can_send:
            return operator
    senders = [o.name for o in list_operators(node) if o.role.can_send]
    fail(
        f"--by: {by!r} is not an operator of this node who may send (operators: "
        f"{', '.join(senders) or 'none; add one with `detente operator add`'})"
    )


@tracks_app.command("send")
@command_errors
def send(
    alert_id: Annotated[int, typer.Argument(min=1, help="The alert's id.")],
    by: ByOption,
    account: Annotated[
        str | None, typer.Option("--account", help="This side's account, instead of the draft's.")
    ] = None,
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Send the incident report an alert drafted (once; a serving node delivers it)."""
    with opened_node(directory) as node:
        operator = _operator(node, by)
        found, _ = send_alert(node, alert_id, by=operator, account=account)
    if output is OutputFormat.json:
        print_json(found)
        return
    draft = found["draft"]
    out.print(f"alert {alert_id}: incident report {draft['state']} as {draft['ref']}", markup=False)


@tracks_app.command("dismiss")
@command_errors
def dismiss(
    alert_id: Annotated[int, typer.Argument(min=1, help="The alert's id.")],
    by: ByOption,
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Dismiss the incident report an alert drafted: none is sent for it."""
    with opened_node(directory) as node:
        _operator(node, by)
        found = dismiss_alert(node, alert_id, by=by)
    if output is OutputFormat.json:
        print_json(found)
        return
    out.print(f"alert {alert_id}: draft dismissed by {by}", markup=False)


@tracks_app.command("recompute")
@command_errors
def recompute(
    ref: Annotated[str, typer.Argument(help="An incident report held here, party:seq.")],
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Screen again the pair an incident report carries, from the message alone.

    Exits 2 when the recomputation disagrees with what the report says.
    """
    with opened_node(directory) as node:
        result = recompute_incident(node, ref)
    again = result["recomputed"]
    if output is OutputFormat.json:
        print_json(result)
    else:
        said = result["reported"]
        out.print(
            f"{ref}: reported {said['dcpa_m']:.0f} m in {said['tcpa_s']:.0f} s; recomputed "
            f"{again['dcpa_m']:.0f} m in {again['tcpa_s']:.0f} s "
            f"({'an alert' if again['alert'] else 'no alert'} under "
            f"{result['thresholds']['horizontal_m']:g} m): "
            + ("agrees" if again["agrees"] else "DIFFERS"),
            markup=False,
        )
    if not again["agrees"]:
        raise typer.Exit(2)
