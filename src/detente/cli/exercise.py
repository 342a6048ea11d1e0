"""``detente exercise``: move an exercise's shared clock forward.

Nodes created with ``detente init --exercise-clock FILE`` read their time
as the system clock plus the offset in FILE (:mod:`detente.node.exercise`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from detente.cli._output import FormatOption, OutputFormat, command_errors, out, print_json
from detente.node.exercise import advance, parse_duration, read_offset
from detente.record.envelope import format_time

__all__ = ["exercise_app"]

exercise_app = typer.Typer(help="Run an exercise on a shared clock.", no_args_is_help=True)

ClockFile = Annotated[Path, typer.Argument(help="The exercise's clock file.")]


@exercise_app.callback()
def _exercise() -> None:
    """Run an exercise on a shared clock."""


@exercise_app.command("advance")
@command_errors
def advance_clock(
    clock: ClockFile,
    by: Annotated[str, typer.Option("--by", help="How far: 33h, 1d8h, 90m or seconds.")],
    output: FormatOption = OutputFormat.text,
) -> None:
    """Move every node on this clock forward (it never moves back)."""
    offset = advance(clock, parse_duration(by))
    _show(clock, offset, output)


@exercise_app.command("show")
@command_errors
def show_clock(clock: ClockFile, output: FormatOption = OutputFormat.text) -> None:
    """The exercise's offset and the time its nodes read now."""
    _show(clock, read_offset(clock), output)


def _show(clock: Path, offset: int, output: OutputFormat) -> None:
    now = format_time(datetime.now(UTC) + timedelta(seconds=offset))
    if output is OutputFormat.json:
        print_json({"clock": str(clock), "offset_seconds": offset, "exercise_time": now})
        return
    out.print(f"exercise clock {clock}: +{timedelta(seconds=offset)} · exercise time {now}")
