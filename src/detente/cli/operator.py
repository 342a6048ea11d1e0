"""``detente operator``: who may use the node's API and console, and their credentials.

A token is printed once, when made; the node keeps only its hash. A console
password is typed twice at a terminal, or read as one line from standard
input when that is not a terminal (scripts, the demo); it is never an
argument, which would leave it in the shell history and the process list.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape

from detente.cli._node import DirOption, opened_node
from detente.cli._output import (
    FormatOption,
    OutputFormat,
    command_errors,
    err,
    out,
    print_json,
    print_table,
)
from detente.errors import InputError
from detente.node.logins import set_password, unlock
from detente.node.operators import (
    Role,
    add_operator,
    list_operators,
    remove_operator,
    rotate_token,
)
from detente.record.envelope import format_time

__all__ = ["operator_app"]

operator_app = typer.Typer(
    help="Operators, their API tokens and console passwords.", no_args_is_help=True
)

NameArgument = Annotated[str, typer.Argument(help="The operator's name, e.g. alice.")]
RoleOption = Annotated[
    Role,
    typer.Option(
        "--role",
        "-r",
        help="viewer reads; operator also sends; admin also administers.",
        case_sensitive=False,
    ),
]


PasswordOption = Annotated[
    bool,
    typer.Option(
        "--password",
        help="Also set a console password: typed twice, or one line on standard input.",
    ),
]


def _read_password() -> str:
    if sys.stdin.isatty():
        password: str = typer.prompt("Console password", hide_input=True, confirmation_prompt=True)
        return password
    line = sys.stdin.readline()
    if not line:
        raise InputError("password: standard input is empty; give the password as one line")
    return line.rstrip("\r\n")


def _show_token(name: str, role: Role | None, token: str, output: OutputFormat) -> None:
    err.print(
        "[bold yellow]This token is shown only once.[/] Store it now; the node keeps "
        f"only its hash. A lost token is replaced with `detente operator rotate {escape(name)}`.",
        markup=True,
    )
    if output is OutputFormat.json:
        data = {"name": name, "token": token}
        if role is not None:
            data["role"] = role.value
        print_json(data)
        return
    label = f"operator {name}" if role is None else f"operator {name} ({role.value})"
    out.print(f"{label}; API token:", markup=False)
    out.print(token, markup=False)


@operator_app.command("add")
@command_errors
def add(
    name: NameArgument,
    role: RoleOption,
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
    password: PasswordOption = False,
) -> None:
    """Add an operator and print their API token, once; with --password, a console password."""
    secret = _read_password() if password else None
    with opened_node(directory) as node:
        operator, token = add_operator(node, name, role)
        if secret is not None:
            try:
                set_password(node, name, secret)
            except InputError:
                remove_operator(node, name)
                raise
    _show_token(operator.name, operator.role, token, output)


@operator_app.command("password")
@command_errors
def password(
    name: NameArgument,
    directory: DirOption = None,
) -> None:
    """Set or change an operator's console password; clears a lockout."""
    secret = _read_password()
    with opened_node(directory) as node:
        set_password(node, name, secret)
    out.print(f"console password set for operator {name}", markup=False)


@operator_app.command("unlock")
@command_errors
def unlock_(
    name: NameArgument,
    directory: DirOption = None,
) -> None:
    """End an operator's console lockout after repeated wrong passwords."""
    with opened_node(directory) as node:
        unlock(node, name)
    out.print(f"operator {name} unlocked", markup=False)


@operator_app.command("list")
@command_errors
def list_(directory: DirOption = None, output: FormatOption = OutputFormat.text) -> None:
    """List the operators and their roles (never their tokens)."""
    with opened_node(directory) as node:
        found = list_operators(node)
    rows = [
        {"name": o.name, "role": o.role.value, "created_at": format_time(o.created_at)}
        for o in found
    ]
    if output is OutputFormat.json:
        print_json(rows)
        return
    if not rows:
        out.print("no operators; add one with `detente operator add NAME --role ROLE`")
        return
    print_table(
        "Operators",
        ["name", "role", "created"],
        [[r["name"], r["role"], r["created_at"]] for r in rows],
    )


@operator_app.command("remove")
@command_errors
def remove(
    name: NameArgument,
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Remove an operator; their token stops working at once."""
    with opened_node(directory) as node:
        remove_operator(node, name)
    if output is OutputFormat.json:
        print_json({"name": name, "removed": True})
        return
    out.print(f"removed operator {name}", markup=False)


@operator_app.command("rotate")
@command_errors
def rotate(
    name: NameArgument,
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Give an operator a new API token; the old one stops working at once."""
    with opened_node(directory) as node:
        token = rotate_token(node, name)
    _show_token(name, None, token, output)
