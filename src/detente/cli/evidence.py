"""``detente evidence``: check equivocation evidence offline, with the log's key alone."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from detente.cli._output import command_errors, out
from detente.crypto.keys import VerifierKey
from detente.errors import EncodingError, InputError, TooLargeError
from detente.record.evidence import EquivocationProof, verify_evidence

__all__ = ["evidence_app"]

evidence_app = typer.Typer(
    help="Evidence that a log signed two histories, checkable by anyone.",
    no_args_is_help=True,
)

_MAX_EVIDENCE_FILE = 1024 * 1024


def _unique_members(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """Build a JSON object, refusing a name given twice (which value would count?)."""
    obj: dict[str, object] = {}
    for name, value in pairs:
        if name in obj:
            raise EncodingError(f"member {name!r} appears twice")
        obj[name] = value
    return obj


def _read_json(file: Path) -> object:
    try:
        with file.open("rb") as fh:
            raw = fh.read(_MAX_EVIDENCE_FILE + 1)
    except OSError as e:
        raise InputError(f"{file}: cannot read: {e.strerror}") from e
    if len(raw) > _MAX_EVIDENCE_FILE:
        raise TooLargeError(f"{file}: larger than {_MAX_EVIDENCE_FILE} bytes")
    try:
        return json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_members)
    except EncodingError as e:
        raise EncodingError(f"{file}: {e}") from e
    except (ValueError, RecursionError) as e:
        # UnicodeDecodeError and json.JSONDecodeError are both ValueErrors.
        raise EncodingError(f"{file}: not JSON: {e}") from e


def _summary(proof: EquivocationProof) -> str:
    def b64(root: bytes) -> str:
        return base64.b64encode(root).decode("ascii")

    first = f"size {proof.first_size} with root {b64(proof.first_root)}"
    if proof.kind == "same-size":
        second = f"size {proof.second_size} with root {b64(proof.second_root)}"
    else:
        second = (
            f"size {proof.second_size} whose tree has root "
            f"{b64(proof.second_root_at_first_size)} at size {proof.first_size}"
        )
    return f"{first}, and {second}"


@evidence_app.command("verify")
@command_errors
def verify(
    file: Annotated[Path, typer.Argument(help="An equivocation evidence file (JSON).")],
    key: Annotated[str, typer.Option("--key", help="The accused log's verifier key.")],
) -> None:
    """Check equivocation evidence with the log's public key alone; exit 0 only if it holds."""
    proof = verify_evidence(_read_json(file), key=VerifierKey.from_text(key.strip()))
    out.print(f"[bold green]OK[/]: {escape(proof.origin)} signed two histories: {_summary(proof)}")
