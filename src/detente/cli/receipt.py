"""``detente receipt``: export a message's receipt, and check one offline."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from detente.cli._node import DirOption, opened_node
from detente.cli._output import command_errors, out, print_json
from detente.crypto.keys import VerifierKey
from detente.errors import EncodingError, InputError
from detente.exchange.receipts import verify_receipt
from detente.node.receipts import receipt_for

__all__ = ["receipt_app"]

receipt_app = typer.Typer(help="Receipts anyone can check offline.", no_args_is_help=True)

_MAX_RECEIPT_FILE = 1024 * 1024


@receipt_app.command("show")
@command_errors
def show(
    seq: Annotated[int, typer.Option("--seq", help="Entry of this node's log.", min=0)],
    peer: Annotated[str, typer.Option("--peer", help="The party whose receipt to show.")],
    directory: DirOption = None,
) -> None:
    """Print the receipt ``peer`` gave for entry ``seq``, as JSON, for safekeeping."""
    with opened_node(directory) as node:
        receipt = receipt_for(node, seq=seq, peer=peer)
    print_json(receipt)


@receipt_app.command("verify")
@command_errors
def verify(
    file: Annotated[Path, typer.Argument(help="A receipt file (JSON).")],
    sender_key: Annotated[str, typer.Option("--sender-key", help="The sender's verifier key.")],
    receiver_key: Annotated[
        str, typer.Option("--receiver-key", help="The receiver's verifier key.")
    ],
) -> None:
    """Check a receipt with the two parties' public keys alone; exit 0 only if it holds."""
    try:
        raw = file.read_bytes()[: _MAX_RECEIPT_FILE + 1]
    except OSError as e:
        raise InputError(f"{file}: cannot read: {e.strerror}") from e
    if len(raw) > _MAX_RECEIPT_FILE:
        raise InputError(f"{file}: larger than {_MAX_RECEIPT_FILE} bytes")
    try:
        receipt = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise EncodingError(f"{file}: not JSON: {e}") from e
    checked = verify_receipt(
        receipt,
        sender=VerifierKey.from_text(sender_key.strip()),
        receiver=VerifierKey.from_text(receiver_key.strip()),
    )
    when = datetime.fromtimestamp(checked.received_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    out.print(
        f"[bold green]OK[/]: {checked.position} ({checked.type}) was received by "
        f"{checked.receiver} at {when}, in its checkpoint of size {checked.checkpoint_size}"
    )
