"""How every command prints: Rich for people, ``--format json`` for tools.

Errors go to stderr as one line naming what is wrong and where; a
``DetenteError`` never reaches the user as a traceback.
"""

from __future__ import annotations

import enum
import functools
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from detente.errors import DetenteError, InputError, TooLargeError

__all__ = [
    "FormatOption",
    "OutputFormat",
    "err",
    "fail",
    "out",
    "print_json",
    "print_table",
    "command_errors",
    "reporting_errors",
]

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class OutputFormat(enum.StrEnum):
    """What a command prints: a table for people, or JSON for tools."""

    text = "text"
    json = "json"


FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="Print text for people or JSON for tools."),
]


def print_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout, without Rich markup."""
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
    sys.stdout.flush()


def print_table(
    title: str | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> None:
    """Print rows as a Rich table."""
    table = Table(title=title, show_lines=False, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    out.print(table)


def read_capped(path: Path, limit: int) -> bytes:
    """The bytes of the file ``path``, reading no more than ``limit`` + 1 of them.

    Raises:
        InputError: the file cannot be read (the message names it and why).
        TooLargeError: it holds more than ``limit`` bytes.
    """
    try:
        with path.open("rb") as handle:
            raw = handle.read(limit + 1)
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from e
    if len(raw) > limit:
        raise TooLargeError(f"{path}: larger than {limit} bytes")
    return raw


def fail(message: str, *, code: int = 1) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code``."""
    err.print(f"[bold red]error:[/] {message}", markup=True)
    raise typer.Exit(code)


@contextmanager
def reporting_errors() -> Iterator[None]:
    """Turn a DetenteError into a one-line message and exit status 1."""
    try:
        yield
    except DetenteError as e:
        fail(escape(str(e)))


def command_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a Typer command so that DetenteError ends it cleanly."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with reporting_errors():
            return fn(*args, **kwargs)

    return wrapper
