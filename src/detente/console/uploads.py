"""Forms that carry files (``multipart/form-data``), read within a limit, CSRF checked.

:func:`detente.console.web.read_form` reads the console's urlencoded
forms; a form with a file input is sent as multipart instead, and is read
here: the body is streamed through Starlette's multipart parser and
refused (413) as soon as it passes ``limit`` bytes, whatever its
Content-Length says, so an upload never takes more than that. Files come
back as bytes (the largest the console takes is a document of 8 MiB); the
CSRF token is checked as for every other form before anything is done.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Final

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from detente.errors import EncodingError, InputError, PermissionDeniedError, TooLargeError
from detente.node.sessions import Session

__all__ = ["MAX_FIELD_BYTES", "Upload", "UploadedFile", "read_upload"]

#: Longest text field of a multipart form (a textarea of keys fits easily).
MAX_FIELD_BYTES: Final = 64 * 1024
_MAX_FILES: Final = 4
_MAX_FIELDS: Final = 100


@dataclass(frozen=True)
class UploadedFile:
    """A file of the form: the name the browser gave and its bytes."""

    filename: str
    data: bytes


@dataclass(frozen=True)
class Upload:
    """A multipart form: its text fields (all values, as ``read_form`` gives) and its files."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)

    def text(self, name: str) -> str:
        """The first value of a text field, or ``""``."""
        return (self.fields.get(name) or [""])[0]

    def file(self, name: str) -> UploadedFile | None:
        """The file chosen for ``name``, or None when none was (an empty input)."""
        found = self.files.get(name)
        return None if found is None or (not found.filename and not found.data) else found


async def _limited(stream: AsyncIterator[bytes], limit: int) -> AsyncGenerator[bytes, None]:
    size = 0
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            raise TooLargeError(f"the form is larger than {limit} bytes")
        yield chunk


async def read_upload(request: Request, session: Session, *, limit: int) -> Upload:
    """The multipart form of a POST, at most ``limit`` bytes, after its CSRF token is checked.

    Raises:
        TooLargeError: the body is over ``limit`` bytes.
        InputError: not a multipart form, a malformed one (a text field over
            :data:`MAX_FIELD_BYTES` among them), or a text field holding a
            NUL character.
        PermissionDeniedError: the CSRF token is missing or wrong.
    """
    kind = request.headers.get("content-type", "")
    if not kind.lower().startswith("multipart/form-data"):
        raise InputError("this form sends files: it must be multipart/form-data")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise TooLargeError(f"the form is larger than {limit} bytes")
    parser = MultiPartParser(
        request.headers,
        _limited(request.stream(), limit),
        max_files=_MAX_FILES,
        max_fields=_MAX_FIELDS,
        max_part_size=MAX_FIELD_BYTES,
    )
    try:
        form = await parser.parse()
    except MultiPartException as e:
        raise EncodingError(f"the form: {e.message}") from e
    fields: dict[str, list[str]] = {}
    files: dict[str, UploadedFile] = {}
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                files[name] = UploadedFile(value.filename or "", await value.read())
            else:
                fields.setdefault(name, []).append(value)
    finally:
        await form.close()
    sent = (fields.get("csrf") or [""])[0]
    if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        raise PermissionDeniedError(
            "the form's security token is missing or stale: reload the page"
        )
    if any("\x00" in value for values in fields.values() for value in values):
        raise InputError("the form holds a NUL character, which no field may contain")
    return Upload(fields, files)
