"""``detente keys``: the node's keys, their fingerprints, rotation and revocation."""

from __future__ import annotations

from typing import Annotated

import typer

from detente.cli._node import DirOption, opened_node
from detente.cli._output import FormatOption, OutputFormat, command_errors, out, print_json
from detente.crypto.keys import VerifierKey
from detente.errors import InputError
from detente.node.directory import Node
from detente.node.rotation import revoke_key, rotate_key

__all__ = ["keys_app"]

keys_app = typer.Typer(help="The node's key.", no_args_is_help=True)

ReasonOption = Annotated[
    str, typer.Option("--reason", help="Why, written into the log (at most 1,000 characters).")
]


def _history(node: Node) -> list[dict[str, object]]:
    history = node.key_history(node.party)
    assert history is not None  # the own party always has a key  # noqa: S101
    return [
        {
            "from_seq": epoch.from_seq,
            "verifier_key": epoch.key.to_text(),
            "fingerprint": epoch.key.fingerprint(),
            "revoked_from_seq": history.revoked_from(epoch.key),
        }
        for epoch in history.epochs
    ]


@keys_app.command("show")
@command_errors
def show(directory: DirOption = None, output: FormatOption = OutputFormat.text) -> None:
    """Print the node's C2SP verifier key and the fingerprint to read aloud.

    The verifier key is the one the node's log starts with: the one peers
    configure. After a rotation the key in force and the history are shown too.
    """
    with opened_node(directory) as node:
        verifier = node.verifier
        keys = _history(node)
        data = {
            "party": node.party,
            "verifier_key": verifier.to_text(),
            "fingerprint": verifier.fingerprint(),
            "current_key": keys[-1]["verifier_key"],
            "current_fingerprint": keys[-1]["fingerprint"],
            "keys": keys,
        }
    if output is OutputFormat.json:
        print_json(data)
        return
    out.print(f"party        {data['party']}")
    out.print(f"verifier key {data['verifier_key']}")
    out.print(f"fingerprint  [bold]{data['fingerprint']}[/]  (160 bits: read it aloud to peers)")
    if len(keys) > 1:
        out.print(f"current key  {data['current_key']}")
        shown = data["current_fingerprint"]
        out.print(f"fingerprint  [bold]{shown}[/]  (in force since a rotation)")
        for item in keys:
            revoked = item["revoked_from_seq"]
            note = "" if revoked is None else f"  REVOKED from seq {revoked}"
            out.print(f"  from seq {item['from_seq']}: {item['fingerprint']}{note}")


@keys_app.command("rotate")
@command_errors
def rotate(
    reason: ReasonOption,
    directory: DirOption = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Rotate even though a peer has not yet received the last rotation."
        ),
    ] = False,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Generate a new key and hand the log over to it with an entry signed by the old key."""
    with opened_node(directory) as node:
        change = rotate_key(node, reason=reason, force=force)
        data = {
            "party": node.party,
            "seq": change.seq,
            "old_key": change.old_key.to_text(),
            "new_key": change.new_key.to_text(),
            "fingerprint": change.new_key.fingerprint(),
        }
    if output is OutputFormat.json:
        print_json(data)
        return
    out.print(f"rotated at   {data['party']}:{data['seq']} (signed by the old key)")
    out.print(f"new key      {data['new_key']}")
    out.print(f"fingerprint  [bold]{data['fingerprint']}[/]  (read it aloud to peers)")
    out.print("A running node picks the new key up at its next append.")


@keys_app.command("revoke")
@command_errors
def revoke(
    key: Annotated[str, typer.Option("--key", help="The earlier key of this log to revoke.")],
    from_seq: Annotated[
        int, typer.Option("--from-seq", min=0, help="Nothing it signs from this position on.")
    ],
    reason: ReasonOption,
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Declare an earlier key of this log compromised as of a position (rotate away first)."""
    try:
        verifier = VerifierKey.from_text(key.strip())
    except InputError as e:
        raise InputError(f"--key: {e}") from e
    with opened_node(directory) as node:
        change = revoke_key(node, key=verifier, from_seq=from_seq, reason=reason)
        data = {"party": node.party, "seq": change.seq, "key": verifier.to_text()}
    if output is OutputFormat.json:
        print_json(data)
        return
    out.print(f"revoked      {data['key']}")
    out.print(f"as of        {data['party']}:{from_seq} (entry {data['party']}:{data['seq']})")
