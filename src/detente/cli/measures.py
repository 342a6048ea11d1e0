"""``detente suspensions`` and ``detente obligations``: the state the logs give."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from detente.cli._node import DirOption, opened_node
from detente.cli._output import (
    FormatOption,
    OutputFormat,
    command_errors,
    fail,
    out,
    print_json,
    print_table,
)
from detente.measures import Obligation, State
from detente.node.measures import obligation_report, suspension_state
from detente.record.envelope import format_time

__all__ = ["obligations", "suspensions"]


@command_errors
def suspensions(
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """List every suspension in the logs held: who, which type, since when, by which entry."""
    with opened_node(directory) as node:
        state = suspension_state(node)
        now = node.clock()
    items = [i.to_json(now=now) for i in state.intervals]
    ignored = [i.to_json() for i in state.ignored]
    if output is OutputFormat.json:
        print_json({"now": format_time(now), "suspensions": items, "ignored": ignored})
        return
    if not items:
        out.print("no suspensions")
    else:
        print_table(
            "suspensions",
            ["party", "type", "from", "until", "by", "resumed by", "now", "reason"],
            [
                [
                    i["party"],
                    i["type"],
                    i["start"],
                    i["end"] or "",
                    i["suspended_by"],
                    i["resumed_by"] or "",
                    "suspended" if i["active"] else "",
                    i["reason"],
                ]
                for i in items
            ],
        )
    if ignored:
        print_table(
            "changed nothing",
            ["entry", "type", "why"],
            [
                [i["ref"], i["type"] or "", i["reason"] + (" (exercise)" if i["exercise"] else "")]
                for i in ignored
            ],
        )


@command_errors
def obligations(
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="Count periodic exchanges due on this day or later (YYYY-MM-DD)."
        ),
    ] = None,
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """List obligations and their state: messages owed, limits on declarations
    (exit 1 if any is overdue or violated)."""
    first: date | None = None
    if since is not None:
        try:
            first = date.fromisoformat(since)
        except ValueError:
            fail(f"--since: {since!r} is not a date written YYYY-MM-DD")
    with opened_node(directory) as node:
        report = obligation_report(node, since=first)
        now = node.clock()
    items = [o.to_json() for o in report.obligations]
    skipped = [s.to_json() for s in report.skipped]
    if output is OutputFormat.json:
        print_json({"now": format_time(now), "obligations": items, "skipped": skipped})
    elif not items:
        out.print("no obligations")
    else:
        print_table(
            f"obligations at {format_time(now)}",
            ["party", "type", "rule", "for", "due", "state", "decided by", "clock", "detail"],
            [
                [
                    o.party,
                    o.type,
                    o.rule,
                    o.as_of.isoformat() if o.as_of else o.trigger,
                    format_time(o.due),
                    o.state.value.replace("_", " ") + (" (late)" if o.late else ""),
                    _decided_by(o),
                    o.clock,
                    _detail(o),
                ]
                for o in report.obligations
            ],
        )
    if skipped and output is OutputFormat.text:
        print_table(
            "not counted",
            ["entry", "type", "why"],
            [[s["ref"], s["type"], s["reason"]] for s in skipped],
        )
    if any(o.state in (State.OVERDUE, State.VIOLATED) for o in report.obligations):
        raise typer.Exit(1)


def _detail(obligation: Obligation) -> str:
    """For a limit: the declared value against the limit, and each disputing position."""
    if obligation.limit is None:
        return ""
    text = f"{obligation.limit} {obligation.value:,} of {obligation.max:,}"
    for position in obligation.disputed:
        text += f"; {position['by']} counts {position['value']:,} ({position['state']})"
    return text


def _decided_by(obligation: Obligation) -> str:
    if obligation.met_by or obligation.suspended_by:
        return obligation.met_by or obligation.suspended_by or ""
    return f"{obligation.pending} (not received)" if obligation.pending else ""
