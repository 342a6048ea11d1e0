"""Operator endpoints for signed documents: issue, the copies held, a copy and its proof.

``POST /v1/documents`` issues a document (one ``document`` message per
recipient, each with its own traceable copy, :func:`issue_document`); the
file travels base64 in a JSON body. ``GET /v1/documents`` lists the copies
this node holds, issued or received; ``.../{party}/{seq}/copy`` and
``.../proof`` give one copy's bytes and its proof. ``POST .../trace`` takes
a leaked file as it is (``application/octet-stream``) and names, on the
issuing node, whose copy it is. ``POST .../verify`` checks a copy against
its proof with the public keys given, as ``detente docs verify`` does
offline: it needs nothing the node holds, only an operator's token.

Example:
    >>> [k.name for k in parse_keys(["# a comment", ""])]
    []
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from typing import Annotated, Any, Final

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from detente.api.deps import CurrentNode, OperatorAuth, read_limited
from detente.api.messages import wake_sender
from detente.crypto.keys import VerifierKey
from detente.documents.proof import DOCUMENT_TYPE, MAX_PROOF_BYTES, CheckedCopy, verify_copy
from detente.errors import EncodingError, InputError, UnknownKeyError, VerificationError
from detente.node.documents import (
    MAX_DOCUMENT_BYTES,
    copy_and_proof,
    issue_document,
    list_documents,
    trace_file,
)
from detente.node.operators import require
from detente.node.releases import refuse_direct
from detente.node.writer import AppendResult

__all__ = [
    "MAX_JSON_BODY",
    "MAX_KEYS",
    "check_copy",
    "decode_content",
    "issued",
    "media_type_of",
    "parse_keys",
    "router",
]

router = APIRouter(prefix="/v1/documents", tags=["operator"])

#: Largest JSON body: a document at its limit in base64, a proof at its limit, and room.
MAX_JSON_BODY: Final = 4 * MAX_DOCUMENT_BYTES // 3 + MAX_PROOF_BYTES + 256 * 1024
#: Most public keys one check is given.
MAX_KEYS: Final = 256
_B64_LIMIT: Final = 4 * ((MAX_DOCUMENT_BYTES + 2) // 3)
#: What a copy is served as; anything else (never written by this code) as plain bytes.
_SERVED: Final = {
    "text/plain": "text/plain; charset=utf-8",
    "text/markdown": "text/markdown; charset=utf-8",
    "application/pdf": "application/pdf",
}

Party = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]
Seq = Annotated[int, Path(ge=0, le=2**53)]


class IssueIn(BaseModel):
    """A document to issue: the file (base64) and what its copies say."""

    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=500)
    marking: str = Field(min_length=1, max_length=100, description="UNCLASSIFIED, ...")
    to: list[str] = Field(min_length=1, max_length=64, description="recipient parties")
    filename: str = Field(
        min_length=1, max_length=255, description="its suffix (.txt, .md, .pdf) gives its type"
    )
    content_b64: str = Field(max_length=_B64_LIMIT, description="the file, base64")
    pdf: bool = Field(default=False, description="lay a text out as each recipient's PDF")


class VerifyIn(BaseModel):
    """A copy, its proof, and the public keys to check them with."""

    model_config = ConfigDict(extra="forbid")
    content_b64: str = Field(max_length=_B64_LIMIT, description="the copy, base64")
    proof: dict[str, Any] = Field(description="its proof, as `detente docs save` writes it")
    keys: list[str] = Field(
        min_length=1, max_length=MAX_KEYS, description="C2SP verifier keys, one a string"
    )


def decode_content(text: str, *, field: str) -> bytes:
    """The bytes of a base64 field.

    Raises:
        EncodingError: the text is not base64.
    """
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise EncodingError(f"{field}: not base64 ({e})") from e


def parse_keys(lines: Iterable[str]) -> list[VerifierKey]:
    """Verifier keys from text, one a line (blank lines and ``#`` comments skipped).

    Raises:
        EncodingError: a line is not a verifier key (its number and why).
        InputError: more than :data:`MAX_KEYS`.
    """
    keys = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            keys.append(VerifierKey.from_text(text))
        except EncodingError as e:
            raise EncodingError(f"keys: line {number}: {e}") from e
        if len(keys) > MAX_KEYS:
            raise InputError(f"keys: more than {MAX_KEYS}")
    return keys


def check_copy(data: bytes, proof: object, *, keys: list[VerifierKey]) -> CheckedCopy:
    """:func:`verify_copy`, a missing key told as the copy not checking (422, not 401).

    Raises:
        EncodingError: the proof is malformed.
        VerificationError: the copy is not the one signed, the proof does not
            hold, or the issuer's or the cosigner's key is not among ``keys``.
    """
    if not keys:
        raise InputError("keys: give the issuer's and the recipient's public keys")
    try:
        return verify_copy(data, proof, keys=keys)
    except UnknownKeyError as e:
        raise VerificationError(str(e)) from e


def media_type_of(proof: dict[str, Any]) -> str:
    """The Content-Type a copy is served with, from its proof's body."""
    return _SERVED.get(str(proof["body"].get("media_type")), "application/octet-stream")


def issued(document_id: str, result: AppendResult) -> dict[str, Any]:
    """What issuing answers: the document's id and each recipient's copy."""
    return {
        "document_id": document_id,
        "copies": [
            {"ref": e.position, "recipient": e.header.to[0], "body_sha256": e.header.body_sha256}
            for e in result.envelopes
        ],
    }


@router.get("")
def documents(node: CurrentNode, operator: OperatorAuth) -> dict[str, Any]:
    """Every document copy this node holds, issued or received, newest first."""
    return {"documents": list_documents(node)}


@router.post("", status_code=201)
async def issue(request: Request, node: CurrentNode, operator: OperatorAuth) -> dict[str, Any]:
    """Issue a document: one signed copy per recipient, each with its own fingerprint."""
    require(operator, send=True)
    raw = await read_limited(request, MAX_JSON_BODY)
    try:
        given = IssueIn.model_validate_json(raw)
    except ValueError as e:
        raise InputError(f"document: {str(e).splitlines()[0]}: {_first_error(e)}") from e
    data = decode_content(given.content_b64, field="content_b64")
    refuse_direct(node, DOCUMENT_TYPE)
    document_id, result = await run_in_threadpool(
        lambda: issue_document(
            node,
            data,
            name=given.filename,
            title=given.title,
            marking=given.marking,
            to=tuple(given.to),
            pdf=given.pdf,
        )
    )
    wake_sender(request, result)
    return issued(document_id, result)


@router.post("/trace")
async def trace(
    request: Request,
    node: CurrentNode,
    operator: OperatorAuth,
    name: Annotated[str, Query(min_length=1, max_length=255)] = "leaked copy",
) -> dict[str, Any]:
    """Whose copy a leaked file (the request's body, as it is) is, on the issuing node."""
    data = await read_limited(request, MAX_DOCUMENT_BYTES)
    return await run_in_threadpool(lambda: trace_file(node, data, name=name))


@router.post("/verify")
async def verify(request: Request, operator: OperatorAuth) -> dict[str, Any]:
    """Check a copy against its proof with the keys given: who issued it, to whom, when.

    A copy that does not check is refused (422) with the reason.
    """
    raw = await read_limited(request, MAX_JSON_BODY)
    try:
        given = VerifyIn.model_validate_json(raw)
    except ValueError as e:
        raise InputError(f"verify: {str(e).splitlines()[0]}: {_first_error(e)}") from e
    data = decode_content(given.content_b64, field="content_b64")
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InputError(f"content_b64: {len(data)} bytes (at most {MAX_DOCUMENT_BYTES})")
    keys = parse_keys(given.keys)
    checked = await run_in_threadpool(lambda: check_copy(data, given.proof, keys=keys))
    return checked.to_json()


@router.get("/{party}/{seq}/copy")
async def copy(party: Party, seq: Seq, node: CurrentNode, operator: OperatorAuth) -> Response:
    """The copy's bytes, as a file named for its title and log position."""
    name, data, proof = await run_in_threadpool(copy_and_proof, node, f"{party}:{seq}")
    return Response(
        data,
        media_type=media_type_of(proof),
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/{party}/{seq}/proof")
async def proof(party: Party, seq: Seq, node: CurrentNode, operator: OperatorAuth) -> Response:
    """The copy's proof, for ``detente docs verify`` or ``POST /v1/documents/verify``."""
    name, _, found = await run_in_threadpool(copy_and_proof, node, f"{party}:{seq}")
    return Response(
        json.dumps(found, indent=2) + "\n",
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}.proof.json"'},
    )


def _first_error(error: ValueError) -> str:
    errors = getattr(error, "errors", None)
    if callable(errors):
        found = errors()
        if found:
            where = ".".join(str(p) for p in found[0].get("loc", ()))
            return f"{where}: {found[0].get('msg', 'invalid')}"
    return str(error).splitlines()[-1]
