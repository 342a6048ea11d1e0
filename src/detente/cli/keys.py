"""``detente keys``: the node's public key and its fingerprint."""

from __future__ import annotations

import typer

from detente.cli._node import DirOption, opened_node
from detente.cli._output import FormatOption, OutputFormat, command_errors, out, print_json

__all__ = ["keys_app"]

keys_app = typer.Typer(help="The node's key.", no_args_is_help=True)


@keys_app.command("show")
@command_errors
def show(directory: DirOption = None, output: FormatOption = OutputFormat.text) -> None:
    """Print the node's C2SP verifier key and the fingerprint to read aloud."""
    with opened_node(directory) as node:
        verifier = node.verifier
        data = {
            "party": node.party,
            "verifier_key": verifier.to_text(),
            "fingerprint": verifier.fingerprint(),
        }
    if output is OutputFormat.json:
        print_json(data)
        return
    out.print(f"party        {data['party']}")
    out.print(f"verifier key {data['verifier_key']}")
    out.print(f"fingerprint  [bold]{data['fingerprint']}[/]  (160 bits: read it aloud to peers)")
