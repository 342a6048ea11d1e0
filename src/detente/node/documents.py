"""Signed documents on a node: issuing copies, saving one with its proof, tracing a leak.

:func:`issue_document` signs one ``document`` message per recipient into the
node's log, each with that recipient's copy: text varied by the node's
document key (:func:`~detente.documents.embed`), laid out as a PDF on
request (:mod:`detente.documents.pdf`); a PDF given as it is gets only the
embedded marking. The original text is kept under the node's directory
(``documents/<id>.txt``), since tracing needs it; the key in
``document.key`` (created on first use, readable by the owner only).

:func:`copy_and_proof` gives a held copy and its proof (the message's
receipt, :func:`~detente.documents.proof.make_proof`), so that anyone can
check it with public keys alone; :func:`save_copy` writes the two to files.
:func:`trace_file` tells the issuing node whose copy a leaked file is.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection

from detente.documents import embed, trace
from detente.documents.pdf import copy_tag, mark_pdf, pdf_tag, pdf_text, render_pdf
from detente.documents.proof import DOCUMENT_TYPE, copy_body, make_proof
from detente.errors import ConfigError, EncodingError, InputError, NotFoundError, TooLargeError
from detente.exchange.receipts import make_receipt
from detente.node.directory import Node
from detente.node.receipts import receipt_for
from detente.node.writer import AppendResult, Draft, LogWriter
from detente.record.checkpoint import Cosignature
from detente.record.envelope import Envelope
from detente.store.logs import LogStore
from detente.store.tree import StoredTree

__all__ = [
    "KEY_FILE",
    "MAX_DOCUMENT_BYTES",
    "copy_and_proof",
    "issue_document",
    "list_documents",
    "save_copy",
    "trace_file",
]

#: The node's document key, beside its signing key.
KEY_FILE: Final = "document.key"
#: Largest document issued or traced (the line's body limit allows 16 MiB a message).
MAX_DOCUMENT_BYTES: Final = 8 * 1024 * 1024
_MEDIA: Final = {
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".pdf": "application/pdf",
}
_SAFE: Final = re.compile(r"[^A-Za-z0-9._-]+")


def document_key(node: Node) -> bytes:
    """The node's document key: 32 random bytes in ``document.key``, made on first use.

    Raises:
        ConfigError: the key file is unreadable or not 32 bytes.
    """
    path = node.directory / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(32))
    try:
        key = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from e
    if len(key) != 32:
        raise ConfigError(f"{path}: not a document key (32 bytes)")
    return key


def _text(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise EncodingError(f"{where}: not UTF-8 text ({e})") from e


def issue_document(
    node: Node,
    data: bytes,
    *,
    name: str,
    title: str,
    marking: str,
    to: tuple[str, ...],
    pdf: bool = False,
    media_type: str | None = None,
) -> tuple[str, AppendResult]:
    """Sign one ``document`` message per recipient, each with its own copy.

    ``name`` is the file's name (its suffix gives the media type unless
    ``media_type`` does); with ``pdf``, a text is laid out as each
    recipient's PDF. Returns the document id and what was appended.

    Raises:
        InputError: no recipients, this party among them, an unknown party,
            an unsupported type, text that is not UTF-8 or has no place to
            vary, or a document over :data:`MAX_DOCUMENT_BYTES`.
    """
    if len(data) > MAX_DOCUMENT_BYTES:
        raise TooLargeError(f"{name}: {len(data)} bytes (at most {MAX_DOCUMENT_BYTES})")
    kind = media_type or _MEDIA.get(Path(name).suffix.lower()) or ""
    if kind not in _MEDIA.values():
        raise InputError(f"{name}: give a .txt, .md or .pdf file (or --media-type)")
    parties = {p.id for p in node.agreement.parties}
    if not to:
        raise InputError("to: name at least one recipient")
    for party in to:
        if party == node.party:
            raise InputError(f"to: {party} is this node's own party")
        if party not in parties:
            raise InputError(f"to: {party} is not a party of {node.agreement.name}")
    recipients = tuple(sorted(set(to)))
    key = document_key(node)
    document_id = "doc-" + secrets.token_hex(16)
    drafts = []
    original: str | None = None
    for recipient in recipients:
        tag = copy_tag(key=key, document_id=document_id, recipient=recipient)
        if kind == "application/pdf":
            content = mark_pdf(data, tag=tag, marking=marking)
            media = kind
        else:
            original = _text(data, name)
            copy = embed(original, key=key, document_id=document_id, recipient=recipient)
            if pdf:
                content = render_pdf(copy, title=title, marking=marking, tag=tag)
                media = "application/pdf"
            else:
                content, media = copy.encode("utf-8"), kind
        body = copy_body(
            document_id=document_id,
            title=title,
            marking=marking,
            media_type=media,
            recipient=recipient,
            recipients=recipients,
            content=content,
        )
        drafts.append(Draft(type=DOCUMENT_TYPE, body=body, to=(recipient,)))
    if original is not None:
        folder = node.directory / "documents"
        folder.mkdir(mode=0o700, exist_ok=True)
        (folder / f"{document_id}.txt").write_text(original, encoding="utf-8")
    return document_id, LogWriter(node).append(drafts)


@dataclass(frozen=True)
class _Held:
    party: str
    seq: int
    body: dict[str, Any]


def _held(conn: Connection, party: str) -> list[_Held]:
    out = []
    for row in LogStore(conn, party).entries_of_types([DOCUMENT_TYPE]):
        if row.body is not None:
            out.append(_Held(party, row.seq, json.loads(row.body)))
    return out


def list_documents(node: Node) -> list[dict[str, Any]]:
    """Every document copy this node holds (issued or received), newest first."""
    parties = [p.id for p in node.agreement.parties]
    with node.database.engine.connect() as conn:
        held = [h for party in parties for h in _held(conn, party)]
    return [
        {
            "ref": f"{h.party}:{h.seq}",
            "issuer": h.party,
            "document_id": h.body["document_id"],
            "title": h.body["title"],
            "marking": h.body["marking"],
            "media_type": h.body["media_type"],
            "recipient": h.body["recipient"],
            "recipients": h.body["recipients"],
            "sha256": h.body["sha256"],
            "length": h.body["length"],
        }
        for h in sorted(held, key=lambda h: (h.party, h.seq), reverse=True)
    ]


def _proof_from_mirror(conn: Connection, node: Node, party: str, seq: int) -> dict[str, Any]:
    """The receipt this node gave for ``party:seq``: its own cosignature on that log."""
    log = LogStore(conn, party)
    leaf = log.leaf(seq)
    if leaf is None:
        raise NotFoundError(f"{party}:{seq}: no such entry held here")
    own = node.verifier.name
    stamps = [c for c in log.cosignatures() if c.cosigner == own and c.size > seq]
    if not stamps:
        raise NotFoundError(f"{party}:{seq}: this node has not cosigned a checkpoint holding it")
    first = min(stamps, key=lambda c: (c.timestamp, c.size))
    held = log.checkpoint(first.size)
    if held is None:  # pragma: no cover - a cosignature is stored with its checkpoint
        raise NotFoundError(f"{party}: checkpoint {first.size} is missing")
    proof = StoredTree(conn, party).inclusion_proof(seq, first.size)
    return make_receipt(
        leaf=leaf, checkpoint=held[1], cosignature=Cosignature.from_line(first.line), proof=proof
    )


def copy_and_proof(node: Node, ref: str) -> tuple[str, bytes, dict[str, Any]]:
    """The copy ``ref`` holds, as a file name, its bytes and its proof.

    On the issuing node the proof is the recipient's receipt; on the
    recipient's, the cosignature it gave. :func:`save_copy` writes the
    three to a folder; the API and the console send them.

    Raises:
        InputError: ``ref`` is not ``party:seq``.
        NotFoundError: no such document copy, or not yet receipted.
    """
    party, _, seq_text = ref.partition(":")
    if not seq_text.isdigit():
        raise InputError(f"{ref!r}: a message is named party:seq")
    seq = int(seq_text)
    with node.database.engine.connect() as conn:
        log = LogStore(conn, party)
        leaf, raw = log.leaf(seq), log.body(seq)
        if leaf is None or raw is None:
            raise NotFoundError(f"{ref}: no document copy held here")
        header = Envelope.from_leaf(leaf).header
        if header.type != DOCUMENT_TYPE:
            raise NotFoundError(f"{ref}: a {header.type}, not a document")
        body = json.loads(raw)
        if party == node.party:
            receipt = receipt_for(node, seq=seq, peer=body["recipient"])
        else:
            receipt = _proof_from_mirror(conn, node, party, seq)
    suffix = (
        ".pdf"
        if body["media_type"] == "application/pdf"
        else (".md" if body["media_type"] == "text/markdown" else ".txt")
    )
    stem = _SAFE.sub("-", body["title"]).strip("-")[:60] or "document"
    name = f"{stem}-{party}-{seq}{suffix}"
    return name, base64.b64decode(body["content"]), make_proof(receipt, body)


def save_copy(node: Node, ref: str, out: Path) -> tuple[Path, Path]:
    """Write the copy ``ref`` holds into the folder ``out``, and its proof beside it.

    The files are :func:`copy_and_proof`'s: ``NAME`` and ``NAME.proof.json``.
    Returns the two paths.

    Raises:
        NotFoundError: no such document copy, or not yet receipted.
    """
    name, data, proof = copy_and_proof(node, ref)
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    path.write_bytes(data)
    proof_path = path.with_name(path.name + ".proof.json")
    proof_path.write_text(json.dumps(proof, indent=2) + "\n", encoding="utf-8")
    return path, proof_path


def trace_file(node: Node, data: bytes, *, name: str) -> dict[str, Any]:
    """Whose copy of which document this node issued a leaked file is, or that it cannot say.

    A PDF's embedded marking, if it survived, names the copy outright; its
    text, like any text, is traced by its fingerprint (:func:`trace`).

    Raises:
        NotFoundError: this node issued no document.
        EncodingError: a PDF that cannot be read (text is read as UTF-8, any bad
            byte replaced).
    """
    if len(data) > MAX_DOCUMENT_BYTES:
        raise TooLargeError(f"{name}: {len(data)} bytes (at most {MAX_DOCUMENT_BYTES})")
    with node.database.engine.connect() as conn:
        issued = _held(conn, node.party)
    if not issued:
        raise NotFoundError("this node issued no document")
    key = document_key(node)
    is_pdf = data[:5] == b"%PDF-"
    tag = pdf_tag(data) if is_pdf else None
    # A leak is evidence, not signed content: an excerpt cut inside a character still counts.
    text = pdf_text(data) if is_pdf else data.decode("utf-8", errors="replace")
    documents: dict[str, list[_Held]] = {}
    for h in issued:
        documents.setdefault(h.body["document_id"], []).append(h)
    results = []
    for document_id, copies in documents.items():
        recipients = sorted(h.body["recipient"] for h in copies)
        marked = [
            r for r in recipients if tag == copy_tag(key=key, document_id=document_id, recipient=r)
        ]
        original_path = node.directory / "documents" / f"{document_id}.txt"
        found: dict[str, Any] = {
            "document_id": document_id,
            "title": copies[0].body["title"],
            "recipients": recipients,
            "marking_names": marked[0] if marked else None,
        }
        if original_path.exists() and text.strip():
            result = trace(
                text,
                key=key,
                document_id=document_id,
                original_text=original_path.read_text(encoding="utf-8"),
                recipients=recipients,
            )
            found.update(
                verdict=result.verdict,
                recipient=result.recipient,
                candidates=[
                    {
                        "recipient": e.recipient,
                        "agree": e.agree,
                        "observed": e.observed,
                        "log10_p": e.log10_p,
                    }
                    for e in result.candidates
                ],
                runner_up=None
                if result.runner_up is None
                else {
                    "recipient": result.runner_up.recipient,
                    "agree": result.runner_up.agree,
                    "observed": result.runner_up.observed,
                    "log10_p": result.runner_up.log10_p,
                },
                llr=result.llr,
                observed=result.observed,
                sites=result.sites,
            )
        else:
            found.update(
                verdict="undecided" if not marked else "marked",
                recipient=None,
                candidates=[],
                runner_up=None,
                llr=None,
                observed=0,
                sites=0,
            )
        results.append(found)
    results.sort(
        key=lambda r: (r["verdict"] == "undecided" and not r["marking_names"], -r["observed"])
    )
    return {"file": name, "best": results[0], "documents": results}
