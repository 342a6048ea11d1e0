"""``detente release``: the messages held for a second operator's approval (read-only).

Releases are decided through the API or the console, where the operator
who decides is authenticated; the CLI only shows them.
"""

from __future__ import annotations

from typing import Annotated

import typer

from detente.cli._node import DirOption, opened_node
from detente.cli._output import (
    FormatOption,
    OutputFormat,
    command_errors,
    out,
    print_json,
    print_table,
)
from detente.node.releases import ReleaseState, list_releases
from detente.record.envelope import format_time

__all__ = ["release_app"]

release_app = typer.Typer(
    help="Two-person release: messages held until a second operator approves them.",
    no_args_is_help=True,
)


@release_app.command("list")
@command_errors
def list_command(
    state: Annotated[
        ReleaseState | None, typer.Option("--state", help="Only releases in this state.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Newest N releases.", min=1)] = 100,
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """List releases, newest first: proposed by whom, decided by whom, sent as which entry."""
    with opened_node(directory) as node:
        found = list_releases(node, state=state, limit=limit)
        party = node.party
    if output is OutputFormat.json:
        print_json([r.to_json() for r in found])
        return
    if not found:
        out.print(f"no {state.value + ' ' if state else ''}releases")
        return
    print_table(
        "releases",
        ["id", "type", "state", "proposed", "by", "decided", "by", "entry", "reason"],
        [
            [
                r.id,
                r.type,
                r.state.value,
                format_time(r.proposed_at),
                r.proposed_by,
                format_time(r.decided_at) if r.decided_at else "",
                r.decided_by or "",
                f"{party}:{r.seq}" if r.seq is not None else "",
                r.reason or "",
            ]
            for r in found
        ],
    )
