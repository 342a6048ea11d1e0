"""``detente tracks``: close-approach screening of ship and aircraft tracks.

``detente tracks screen`` screens a JSON-lines file of position reports
without a node (issue #9): every unit is extrapolated to the newest report
time in the file and every pair of units of different parties whose
closest approach within the horizon is nearer than the thresholds is
printed, one alert a line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from detente.cli._output import FormatOption, OutputFormat, command_errors, err, fail, print_table
from detente.errors import InputError
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
