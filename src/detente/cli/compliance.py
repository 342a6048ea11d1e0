"""``detente compliance``: declared numbers against an agreement's limits, without a node.

``detente compliance check --agreement new-start --declarations FILE --at
2020-09-01`` reads declarations (:mod:`detente.measures.compliance` gives the
file's shape), takes each party's latest declaration on or before the date,
and prints each limit's value and status. Errors in the file name their
JSON path and exit with code 2.
"""

from __future__ import annotations

import enum
import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from detente.agreement import resolve_agreement
from detente.cli._output import command_errors, fail, out, print_json, print_table, read_capped
from detente.errors import AgreementError, InputError
from detente.measures.compliance import DeclarationError, evaluate, load_declarations

__all__ = ["compliance_app"]

compliance_app = typer.Typer(
    help="Check declared numbers against an agreement's limits.", no_args_is_help=True
)

# Fifteen years of six-monthly exchanges for many parties fit in far less.
MAX_FILE = 64 * 1024 * 1024
# Exit code for a declarations file (or date) that is wrong, as the issue asks.
BAD_INPUT = 2


class CheckFormat(enum.StrEnum):
    """How ``check`` prints: a table for people, JSON for tools."""

    table = "table"
    json = "json"


@compliance_app.callback()
def _compliance() -> None:
    """Check declared numbers against an agreement's limits."""


@compliance_app.command("check")
@command_errors
def check(
    agreement: Annotated[
        str, typer.Option("--agreement", "-a", help="Built-in agreement or TOML file.")
    ],
    declarations: Annotated[
        Path, typer.Option("--declarations", help='JSON file: {"declarations": [...]}.')
    ],
    at: Annotated[str, typer.Option("--at", help="The date to judge, YYYY-MM-DD.")],
    output: Annotated[
        CheckFormat, typer.Option("--format", "-f", help="table or json.")
    ] = CheckFormat.table,
) -> None:
    """Each party's limits on a date, under its latest declaration as of then."""
    try:
        day = date.fromisoformat(at)
    except ValueError:
        fail(f"--at: {at!r} is not a date YYYY-MM-DD", code=BAD_INPUT)
    try:
        rules = resolve_agreement(agreement)
    except AgreementError as e:
        fail(f"--agreement: {e}", code=BAD_INPUT)
    data = _read(declarations)
    try:
        found = load_declarations(data, rules)
    except DeclarationError as e:
        fail(f"{declarations}: {e}", code=BAD_INPUT)
    result = evaluate(rules, found, day)
    if output is CheckFormat.json:
        print_json(result)
        return
    _table(result)


def _read(path: Path) -> Any:
    try:
        raw = read_capped(path, MAX_FILE)
    except InputError as e:
        fail(str(e), code=BAD_INPUT)
    try:
        return json.loads(raw)
    except UnicodeDecodeError as e:
        fail(f"{path}: not UTF-8 text: {e}", code=BAD_INPUT)
    except json.JSONDecodeError as e:
        fail(f"{path}: line {e.lineno}, column {e.colno}: {e.msg}", code=BAD_INPUT)


def _table(result: dict[str, Any]) -> None:
    rows = []
    for party, state in result["parties"].items():
        declared = state["declaration"]
        for limit_id, row in state["limits"].items():
            value = "—" if row["value"] is None else f"{row['value']:,}"
            rows.append(
                (
                    party,
                    limit_id,
                    value,
                    {"declared": "total", "counts": "counts"}.get(row.get("basis", ""), ""),
                    f"{row['limit']:,}",
                    row["status"],
                    "—" if declared is None else declared["as_of"],
                    "; ".join(
                        f"{d['by']}: {d['value']:,} {d['status']}" for d in row.get("disputed", [])
                    ),
                )
            )
    agreement = result["agreement"]["name"]
    print_table(
        f"{agreement} on {result['at']}",
        ("party", "limit", "value", "from", "max", "status", "as of", "disputed by"),
        rows,
    )
    if not rows:
        out.print(f"{agreement} sets no limits")
