"""``detente alarms``: what needs a person, until an admin acknowledges it."""

from __future__ import annotations

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
from detente.node.alarms import acknowledge, list_alarms
from detente.node.operators import list_operators

__all__ = ["alarms_app"]

alarms_app = typer.Typer(
    help="Alarms: equivocation, forks, misuse of the node's key.", invoke_without_command=True
)


@alarms_app.callback()
@command_errors
def show(
    ctx: typer.Context,
    include_all: Annotated[
        bool, typer.Option("--all", help="Include acknowledged alarms.")
    ] = False,
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """List alarms not yet acknowledged (exit 1 if there are any)."""
    if ctx.invoked_subcommand is not None:
        return
    with opened_node(directory) as node:
        found = list_alarms(node, include_acknowledged=include_all)
    if output is OutputFormat.json:
        print_json([a.to_json() for a in found])
    elif not found:
        out.print("no alarms")
    else:
        print_table(
            "alarms",
            ["id", "raised", "kind", "party", "detail", "evidence", "acknowledged"],
            [
                [
                    a.id,
                    a.raised_at,
                    a.kind,
                    a.party,
                    a.detail,
                    "yes" if a.evidence else "",
                    a.acknowledged_by or "",
                ]
                for a in found
            ],
        )
    if any(a.acknowledged_at is None for a in found):
        raise typer.Exit(1)


@alarms_app.command("ack")
@command_errors
def ack(
    alarm_id: Annotated[int, typer.Argument(help="The alarm to acknowledge.")],
    by: Annotated[str, typer.Option("--by", help="Who acknowledges (an admin's name).")],
    directory: DirOption = None,
) -> None:
    """Acknowledge an alarm in the name of an admin operator of this node."""
    with opened_node(directory) as node:
        admins = [o.name for o in list_operators(node) if o.role.can_administer]
        if by not in admins:
            fail(
                f"--by: {by!r} is not an admin operator of this node (admins: "
                f"{', '.join(admins) or 'none; add one with `detente operator add`'})"
            )
        alarm = acknowledge(node, alarm_id, by=by)
    out.print(f"alarm {alarm.id} acknowledged by {alarm.acknowledged_by}")


@alarms_app.command("evidence")
@command_errors
def evidence(
    alarm_id: Annotated[int, typer.Argument(help="The alarm whose evidence to print.")],
    directory: DirOption = None,
) -> None:
    """Print an alarm's portable evidence as JSON (for `detente evidence verify`)."""
    with opened_node(directory) as node:
        found = [a for a in list_alarms(node, include_acknowledged=True) if a.id == alarm_id]
    if not found:
        fail(f"no alarm {alarm_id}")
    if found[0].evidence is None:
        fail(f"alarm {alarm_id} carries no portable evidence")
    print_json(found[0].evidence)
