"""The documents page: copies issued and received, issuing one, tracing a leak, checking a copy.

``GET /console/documents`` lists the document copies this node holds
(:func:`~detente.node.documents.list_documents`, as ``GET /v1/documents``):
those it issued, one row per recipient's copy, and those it received, each
linked to its message and with its copy and proof to download. Below, three
forms, sent as ``multipart/form-data`` (:mod:`.uploads`):

- **Issue a document** (operators who may send): a file (.txt, .md or
  .pdf), its title and marking, the recipients among the agreement's other
  parties, and whether to lay a text out as each recipient's PDF. It goes
  through :func:`~detente.node.documents.issue_document`, as
  ``POST /v1/documents``; a refusal is shown beside its field and nothing
  is signed. Each form carries a one-time key: a second submission of the
  same form (a double click) while this node runs issues nothing more.
- **Trace a leaked copy**: a file, traced on this node
  (:func:`~detente.node.documents.trace_file`): the verdict, each candidate
  recipient with the places that agree, the runner-up, and what a PDF's
  embedded marking names.
- **Check a copy**: a copy, its proof and public keys (those this node
  holds, to start with): who issued it, to whom, and when it was received,
  or why it does not check (:func:`~detente.api.documents.check_copy`).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from detente.api.documents import check_copy, media_type_of, parse_keys
from detente.console.hotline import recipients, wake
from detente.console.i18n import translations
from detente.console.uploads import Upload, read_upload
from detente.console.web import current_session, render
from detente.crypto.keys import VerifierKey
from detente.documents.proof import DOCUMENT_TYPE, MAX_PROOF_BYTES, CheckedCopy
from detente.errors import DetenteError
from detente.node.directory import Node
from detente.node.documents import (
    MAX_DOCUMENT_BYTES,
    copy_and_proof,
    issue_document,
    list_documents,
    trace_file,
)
from detente.node.operators import require
from detente.node.releases import refuse_direct
from detente.node.sessions import Session

__all__ = ["MAX_UPLOAD", "OneTimeKeys", "router"]

router = APIRouter(prefix="/console/documents", include_in_schema=False)

SessionDep = Annotated[Session, Depends(current_session)]
Party = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]
Seq = Annotated[int, Path(ge=0, le=2**53)]

#: Largest form: a document at its limit, a proof at its limit, keys and fields.
MAX_UPLOAD: Final = MAX_DOCUMENT_BYTES + MAX_PROOF_BYTES + 256 * 1024
_DOCUMENT_ID: Final = re.compile(r"^doc-[0-9a-f]{32}$")
_DONE: Final = frozenset({"issued", "already"})


class OneTimeKeys:
    """The issue forms' one-time keys this process has taken, and the document each issued.

    In memory and bounded: it stops a double submission while the node
    runs, which is what a double click or a reload is.
    """

    def __init__(self, size: int = 1000) -> None:
        self._lock = threading.Lock()
        self._size = size
        self._taken: OrderedDict[tuple[str, str], str] = OrderedDict()

    def take(self, key: tuple[str, str]) -> str | None:
        """None if ``key`` is new (it is taken now), else what it issued (``""``: not yet)."""
        with self._lock:
            if key in self._taken:
                return self._taken[key]
            self._taken[key] = ""
            while len(self._taken) > self._size:
                self._taken.popitem(last=False)
            return None

    def issued(self, key: tuple[str, str], document_id: str) -> None:
        """Record what ``key`` issued."""
        with self._lock:
            self._taken[key] = document_id

    def release(self, key: tuple[str, str]) -> None:
        """Give ``key`` back: its form issued nothing and may be sent again."""
        with self._lock:
            self._taken.pop(key, None)


def _node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


def _keys_held(node: Node) -> str:
    """The public keys this node holds (its own and its peers'), one a line."""
    lines = [node.verifier.to_text(), *(p.key.to_text() for p in node.config.peers)]
    return "\n".join(dict.fromkeys(lines)) + "\n"


def documents_page(
    request: Request,
    session: Session,
    *,
    failed: str | None = None,
    values: Mapping[str, list[str]] | None = None,
    errors: Mapping[str, str] | None = None,
    traced: dict[str, Any] | None = None,
    checked: CheckedCopy | None = None,
    refused: str = "",
    status: int = 200,
) -> Response:
    """The page; after a form, its result, or the form with its values and errors."""
    node = _node(request)
    held = list_documents(node)
    values = values or {}
    query = request.query_params
    said = query.get("done", "")
    document_id = query.get("doc", "")
    keys_text = (values.get("keys") or [""])[0] if failed == "check" else _keys_held(node)
    return render(
        request,
        "documents.html",
        session=session,
        status=status,
        issued=[d for d in held if d["issuer"] == node.party],
        received=[d for d in held if d["issuer"] != node.party],
        parties=recipients(node),
        sends_documents=DOCUMENT_TYPE in node.agreement.message_types,
        failed=failed,
        values=values,
        errors=errors or {},
        nonce=(values.get("nonce") or [""])[0][:64] if failed == "issue" else "",
        fresh_nonce=secrets.token_urlsafe(16),
        traced=traced,
        checked=checked,
        refused=refused,
        keys_text=keys_text,
        done=said if said in _DONE else "",
        done_doc=document_id if _DOCUMENT_ID.fullmatch(document_id) else "",
        max_mib=MAX_DOCUMENT_BYTES // (1024 * 1024),
    )


@router.get("")
def documents(request: Request, session: SessionDep) -> Response:
    """The copies issued and received, and the forms to issue, trace and check."""
    return documents_page(request, session)


def _issue_arguments(
    upload: Upload, *, parties: list[str], gettext: Callable[[str], str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """What the issue form asks for, as :func:`issue_document`'s arguments, and its errors."""
    errors: dict[str, str] = {}
    chosen = upload.file("file")
    if chosen is None or not chosen.data:
        errors["file"] = gettext("Choose the document's file (.txt, .md or .pdf).")
    title = upload.text("title").strip()
    if not 0 < len(title) <= 500:
        errors["title"] = gettext("Give a title (at most 500 characters).")
    marking = upload.text("marking").strip()
    if not 0 < len(marking) <= 100:
        errors["marking"] = gettext("Give a marking (at most 100 characters).")
    to = [p for p in upload.fields.get("to", []) if p]
    if not to:
        errors["to"] = gettext("Choose at least one recipient.")
    elif unknown := sorted(set(to) - set(parties)):
        errors["to"] = gettext("Not a recipient here: %(parties)s") % {
            "parties": ", ".join(unknown)
        }
    arguments = {
        "data": b"" if chosen is None else chosen.data,
        "name": "document" if chosen is None else chosen.filename or "document",
        "title": title,
        "marking": marking,
        "to": tuple(to),
        "pdf": upload.text("pdf") in ("on", "true", "1"),
    }
    return arguments, errors


def _field_for(message: str, name: str) -> str:
    """The field an error of :func:`issue_document` is about (``_form`` for the whole)."""
    if message.startswith("to:"):
        return "to"
    if message.startswith(f"{name}:"):
        return "file"
    return "_form"


@router.post("/issue")
async def issue(request: Request, session: SessionDep) -> Response:
    """Issue a document: one signed copy per recipient; errors beside their fields."""
    upload = await read_upload(request, session, limit=MAX_UPLOAD)
    require(session.operator, send=True)
    node = _node(request)
    gettext = translations(session.language).gettext
    arguments, errors = _issue_arguments(upload, parties=recipients(node), gettext=gettext)
    nonce = upload.text("nonce")[:64] or secrets.token_urlsafe(16)
    values = {k: v for k, v in upload.fields.items() if k != "csrf"} | {"nonce": [nonce]}
    if not errors:
        keys: OneTimeKeys = request.app.state.console_documents
        key = (session.operator.name, nonce)
        earlier = keys.take(key)
        if earlier is not None:
            target = "/console/documents?done=already" + (f"&doc={earlier}" if earlier else "")
            return RedirectResponse(target + "#issued", status_code=303)
        try:
            refuse_direct(node, DOCUMENT_TYPE)
            document_id, result = await run_in_threadpool(lambda: issue_document(node, **arguments))
        except DetenteError as e:
            keys.release(key)
            errors = {_field_for(str(e), arguments["name"]): str(e)}
        else:
            keys.issued(key, document_id)
            wake(request, result)
            return RedirectResponse(
                f"/console/documents?done=issued&doc={document_id}#issued", status_code=303
            )
    return documents_page(
        request, session, failed="issue", values=values, errors=errors, status=422
    )


@router.post("/trace")
async def trace(request: Request, session: SessionDep) -> Response:
    """Trace a leaked file to the recipient whose copy it is (on the issuing node)."""
    upload = await read_upload(request, session, limit=MAX_UPLOAD)
    node = _node(request)
    gettext = translations(session.language).gettext
    leaked = upload.file("file")
    if leaked is None or not leaked.data:
        errors = {"file": gettext("Choose the leaked file.")}
        return documents_page(request, session, failed="trace", errors=errors, status=422)
    name = leaked.filename or "leaked copy"
    try:
        traced = await run_in_threadpool(lambda: trace_file(node, leaked.data, name=name))
    except DetenteError as e:
        return documents_page(request, session, failed="trace", errors={"file": str(e)}, status=422)
    return documents_page(request, session, traced=traced)


def _check_inputs(
    upload: Upload, gettext: Callable[[str], str]
) -> tuple[bytes, object, str, dict[str, str]]:
    errors: dict[str, str] = {}
    copied, proof_file = upload.file("copy"), upload.file("proof")
    if copied is None:
        errors["copy"] = gettext("Choose the copy's file.")
    elif len(copied.data) > MAX_DOCUMENT_BYTES:
        errors["copy"] = gettext("The copy is larger than %(mib)d MiB.") % {
            "mib": MAX_DOCUMENT_BYTES // (1024 * 1024)
        }
    proof: object = None
    if proof_file is None:
        errors["proof"] = gettext("Choose its proof (the .proof.json file).")
    elif len(proof_file.data) > MAX_PROOF_BYTES:
        errors["proof"] = gettext("The proof is larger than 1 MiB.")
    else:
        try:
            proof = json.loads(proof_file.data)
        except (ValueError, RecursionError) as e:
            errors["proof"] = f"{proof_file.filename or 'proof'}: not JSON ({e})"
    keys = upload.text("keys")
    return (b"" if copied is None else copied.data), proof, keys, errors


@router.post("/check")
async def check(request: Request, session: SessionDep) -> Response:
    """Check a copy against its proof with the keys given: OK with what it proves, or why not."""
    upload = await read_upload(request, session, limit=MAX_UPLOAD)
    gettext = translations(session.language).gettext
    data, proof, keys_text, errors = _check_inputs(upload, gettext)
    values = {"keys": [keys_text]}
    keys: list[VerifierKey] = []
    if "keys" not in errors:
        try:
            keys = parse_keys(keys_text.splitlines())
        except DetenteError as e:
            errors["keys"] = str(e)
    if errors:
        return documents_page(
            request, session, failed="check", values=values, errors=errors, status=422
        )
    try:
        checked = await run_in_threadpool(lambda: check_copy(data, proof, keys=keys))
    except DetenteError as e:
        return documents_page(
            request, session, failed="check", values=values, refused=str(e), status=422
        )
    return documents_page(request, session, failed="check", values=values, checked=checked)


@router.get("/{party}/{seq}/copy")
async def copy_file(request: Request, session: SessionDep, party: Party, seq: Seq) -> Response:
    """A copy held here, as a file named for its title and log position."""
    name, data, proof = await run_in_threadpool(copy_and_proof, _node(request), f"{party}:{seq}")
    return Response(
        data,
        media_type=media_type_of(proof),
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/{party}/{seq}/proof")
async def proof_file(request: Request, session: SessionDep, party: Party, seq: Seq) -> Response:
    """A copy's proof, for this page's check or ``detente docs verify``."""
    name, _, found = await run_in_threadpool(copy_and_proof, _node(request), f"{party}:{seq}")
    return Response(
        json.dumps(found, indent=2) + "\n",
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}.proof.json"'},
    )
