"""``detente docs``: written documents signed into the log, copies traced to recipients.

``issue FILE --title T --marking M --to a,b [--pdf]`` signs one copy per
recipient; ``list`` shows the copies a node holds; ``save REF --out DIR``
writes a copy with its proof; ``verify FILE --keys KEYFILE [--proof P]``
checks any copy offline with public keys alone (exit 1 naming why not);
``trace FILE`` names, on the issuing node, the recipient whose copy a
leaked file is (docs/documents.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from detente.cli._node import DirOption, opened_node
from detente.cli._output import (
    FormatOption,
    OutputFormat,
    command_errors,
    fail,
    out,
    print_json,
    print_table,
    read_capped,
)
from detente.crypto.keys import VerifierKey
from detente.documents.proof import MAX_PROOF_BYTES, verify_copy
from detente.errors import EncodingError, InputError, VerificationError
from detente.node.documents import (
    MAX_DOCUMENT_BYTES,
    issue_document,
    list_documents,
    save_copy,
    trace_file,
)

__all__ = ["docs_app"]

docs_app = typer.Typer(
    help="Written documents: signed copies, checked offline, traced to recipients.",
    no_args_is_help=True,
)
_MAX_KEYS_FILE = 64 * 1024


@docs_app.callback()
def _docs() -> None:
    """Written documents: signed copies, checked offline, traced to recipients."""


@docs_app.command("issue")
@command_errors
def issue(
    file: Annotated[Path, typer.Argument(help="The document: .txt, .md or .pdf.")],
    title: Annotated[str, typer.Option("--title", help="Its title.")],
    marking: Annotated[str, typer.Option("--marking", help="Its marking (UNCLASSIFIED, ...).")],
    to: Annotated[str, typer.Option("--to", help="Recipients, comma-separated party ids.")],
    pdf: Annotated[
        bool, typer.Option("--pdf", help="Lay a text out as each recipient's PDF.")
    ] = False,
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Sign one copy per recipient into the log, each with its recipient's fingerprint."""
    if not 0 < len(title) <= 500 or not 0 < len(marking) <= 100:
        raise InputError("--title (1-500 characters) and --marking (1-100) are needed")
    data = read_capped(file, MAX_DOCUMENT_BYTES)
    recipients = tuple(p.strip() for p in to.split(",") if p.strip())
    with opened_node(directory) as node:
        document_id, result = issue_document(
            node, data, name=file.name, title=title, marking=marking, to=recipients, pdf=pdf
        )
        copies = [
            {"ref": e.position, "recipient": e.header.to[0], "body_sha256": e.header.body_sha256}
            for e in result.envelopes
        ]
    if output is OutputFormat.json:
        print_json({"document_id": document_id, "copies": copies})
        return
    out.print(f"{document_id}: {title!r} ({marking}) issued", markup=False)
    print_table(None, ["copy", "recipient"], [[c["ref"], c["recipient"]] for c in copies])


@docs_app.command("list")
@command_errors
def list_copies(directory: DirOption = None, output: FormatOption = OutputFormat.text) -> None:
    """The document copies this node holds, issued or received."""
    with opened_node(directory) as node:
        held = list_documents(node)
    if output is OutputFormat.json:
        print_json(held)
        return
    print_table(
        f"{len(held)} document copies",
        ["ref", "document", "title", "marking", "to", "type", "bytes"],
        [
            [
                d["ref"],
                d["document_id"],
                d["title"],
                d["marking"],
                d["recipient"],
                d["media_type"],
                d["length"],
            ]
            for d in held
        ],
    )


@docs_app.command("save")
@command_errors
def save(
    ref: Annotated[str, typer.Argument(help="A copy held here, party:seq.")],
    out_dir: Annotated[Path, typer.Option("--out", help="The folder to write into.")],
    directory: DirOption = None,
) -> None:
    """Write a copy and its proof (FILE and FILE.proof.json) into a folder."""
    with opened_node(directory) as node:
        path, proof = save_copy(node, ref, out_dir)
    out.print(f"{path}\n{proof}", markup=False)


def _keys(path: Path) -> list[VerifierKey]:
    raw = read_capped(path, _MAX_KEYS_FILE)
    keys = []
    for number, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            keys.append(VerifierKey.from_text(text))
        except EncodingError as e:
            raise EncodingError(f"{path} line {number}: {e}") from e
    if not keys:
        raise InputError(f"{path}: no verifier key in it (one a line)")
    return keys


@docs_app.command("verify")
@command_errors
def verify(
    file: Annotated[Path, typer.Argument(help="A copy of a document.")],
    keys: Annotated[
        Path, typer.Option("--keys", help="Public keys, one C2SP verifier key a line.")
    ],
    proof: Annotated[
        Path | None, typer.Option("--proof", help="Its proof (default: FILE.proof.json).")
    ] = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Check a copy offline: who issued it, to whom, unaltered, and when it was received."""
    data = read_capped(file, MAX_DOCUMENT_BYTES)
    proof_path = proof or file.with_name(file.name + ".proof.json")
    raw = read_capped(proof_path, MAX_PROOF_BYTES)
    try:
        value = json.loads(raw)
    except ValueError as e:
        raise EncodingError(f"{proof_path}: not JSON ({e})") from e
    given = _keys(keys)
    try:
        checked = verify_copy(data, value, keys=given)
    except (VerificationError, EncodingError) as e:
        fail(f"{file}: NOT verified: {e}")
    if output is OutputFormat.json:
        print_json(checked.to_json())
        return
    c = checked
    out.print(
        f"[bold green]OK[/]: {file} is {c.issuer}'s copy for {c.recipient} of {c.title!r} "
        f"({c.marking}), unaltered (SHA-256 {c.sha256[:16]}…); signed as {c.position}, "
        f"received by {c.received_by.rsplit('/', 1)[-1]} at "
        f"{c.received_at.isoformat().replace('+00:00', 'Z')} (checkpoint of "
        f"{c.checkpoint_size} entries)"
    )


@docs_app.command("trace")
@command_errors
def trace_copy(
    file: Annotated[Path, typer.Argument(help="A leaked copy: text or PDF.")],
    directory: DirOption = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Name the recipient whose copy a leaked file is (on the issuing node), or say it cannot."""
    data = read_capped(file, MAX_DOCUMENT_BYTES)
    with opened_node(directory) as node:
        result = trace_file(node, data, name=str(file))
    if output is OutputFormat.json:
        print_json(result)
        return
    best = result["best"]
    out.print(f"{file}: {best['title']!r} ({best['document_id']})", markup=False)
    if best["marking_names"]:
        out.print(f"  its embedded marking names {best['marking_names']}", markup=False)
    if best["verdict"] == "undecided":
        out.print(
            f"  text: undecided ({best['observed']} of {best['sites']} places read): no "
            "recipient is named on this evidence",
            markup=False,
        )
        return
    for c in best["candidates"]:
        out.print(
            f"  text: {c['recipient']}: {c['agree']} of {c['observed']} places agree "
            f"(chance for a copy not in it: 1e{c['log10_p']:.0f})",
            markup=False,
        )
    if best["runner_up"] is not None and best["verdict"] == "attributed":
        r = best["runner_up"]
        out.print(
            f"  runner-up: {r['recipient']}, {r['agree']} of {r['observed']}; "
            f"log-likelihood ratio {best['llr']:.1f}",
            markup=False,
        )
