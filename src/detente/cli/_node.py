"""Options and helpers shared by the commands that act on a node directory."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from detente.node import Node, open_node
from detente.node.directory import PASSPHRASE_ENV

__all__ = ["DirOption", "opened_node", "passphrase_provider"]

DirOption = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        "-d",
        help="Node directory (default: $DETENTE_HOME, else the current directory).",
        show_default=False,
    ),
]


def node_dir(value: Path | None) -> Path:
    """The node directory: the option, else ``$DETENTE_HOME``, else ``.``."""
    if value is not None:
        return value
    return Path(os.environ.get("DETENTE_HOME") or ".")


def passphrase_provider() -> bytes | None:
    """The key passphrase from the environment, else asked at the terminal."""
    value = os.environ.get(PASSPHRASE_ENV)
    if value:
        return value.encode()
    if sys.stdin.isatty():
        return str(typer.prompt("Key passphrase", hide_input=True)).encode()
    return None


@contextmanager
def opened_node(directory: Path | None) -> Iterator[Node]:
    """Open the node directory for one command and close it afterwards."""
    node = open_node(node_dir(directory), passphrase=passphrase_provider)
    try:
        yield node
    finally:
        node.close()
