"""``detente plan``: plan ahead of an inspection, without a node.

``detente plan sample`` answers "how many items must be inspected to find
one of M hidden violations with probability P?" (issue 7).
"""

from __future__ import annotations

from typing import Annotated

import typer

from detente.cli._output import (
    FormatOption,
    OutputFormat,
    command_errors,
    out,
    print_json,
    print_table,
)
from detente.errors import InputError
from detente.measures.sampling import INSPECT_ALL_SHARE, MAX_ITEMS, DetectionPlan, plan_sample

__all__ = ["plan_app"]

plan_app = typer.Typer(help="Plan ahead of an inspection.", no_args_is_help=True)


@plan_app.callback()
def _plan() -> None:
    """Plan ahead of an inspection."""


@plan_app.command("sample")
@command_errors
def sample(
    items: Annotated[
        int, typer.Option("--items", min=1, max=MAX_ITEMS, help="Items declared (N).")
    ],
    violations: Annotated[
        int,
        typer.Option("--violations", min=1, help="Violating items to detect, assumed (M)."),
    ],
    detection: Annotated[
        float,
        typer.Option("--detection", min=0, max=1, help="Required detection probability."),
    ],
    visits: Annotated[
        int, typer.Option("--visits", min=1, help="Independent visits to combine.")
    ] = 1,
    output: FormatOption = OutputFormat.text,
) -> None:
    """The exact sample size, the IAEA approximation, and what repeated visits give."""
    try:
        plan = plan_sample(items, violations, detection, visits=visits)
    except InputError as e:
        raise typer.BadParameter(str(e)) from e
    if output is OutputFormat.json:
        print_json(plan.to_json())
        return
    _print_plan(plan)


def _print_plan(plan: DetectionPlan) -> None:
    rows = [
        ["exact (hypergeometric)", plan.sample, 1, _p(plan.sample_detection)],
        ["IAEA approximation", plan.approximation, 1, _p(plan.approximation_detection)],
    ]
    if plan.visits > 1:
        rows += [
            ["exact, on every visit", plan.sample, plan.visits, _p(plan.cumulative_detection)],
            [
                f"smallest for {plan.visits} visits together",
                plan.per_visit_sample,
                plan.visits,
                _p(plan.per_visit_cumulative),
            ],
        ]
    violating = "violating item" if plan.violations == 1 else "violating items"
    print_table(
        f"sample to find at least one of {plan.violations} {violating}"
        f" among {plan.items}, with probability {plan.detection:g}",
        ["plan", "items a visit", "visits", "detection"],
        rows,
    )
    if plan.inspect_all:
        share = f"{float(INSPECT_ALL_SHARE):.0%}"
        out.print(
            f"[bold]inspect all[/] {plan.items}: the exact sample ({plan.sample}) is"
            f" at least {share} of the items"
        )
    else:
        out.print(f"inspect {plan.sample} of {plan.items}, drawn at random")


def _p(probability: float) -> str:
    """Up to ten significant digits: 0.999999 is not rounded to a certainty."""
    return f"{probability:.10g}"
