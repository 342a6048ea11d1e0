"""What every file checked offline shares: parsing untrusted JSON, naming the place, keys.

The inspection report (:mod:`detente.measures.inspection_report`) and the
compliance report (:mod:`detente.measures.compliance_report`) are each one
JSON object, also embedded in an HTML page for people. Their checkers read
untrusted JSON, name the field or entry where anything fails, and look up a
log's key among the keys given by its name (the log's origin), trying each
key of that name (a log whose key was rotated has several).

Example:
    >>> page = "<!doctype html><p>hi</p>" + embed_json({"a": "</script>"}, script_id="x")
    >>> load_embedded_json(page.encode(), script_id="x")
    {'a': '</script>'}
    >>> with located("report.summary"):
    ...     json_object([], "us")
    Traceback (most recent call last):
    ...
    detente.errors.EncodingError: report.summary: us: not a JSON object
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from detente.crypto.keys import VerifierKey
from detente.errors import DetenteError, EncodingError, UnknownKeyError, VerificationError

__all__ = [
    "MAX_REPORT_FILE",
    "embed_json",
    "json_object",
    "json_text",
    "key_that_verifies",
    "load_embedded_json",
    "located",
]

MAX_REPORT_FILE = 64 * 1024 * 1024
"""The largest report file a checker reads (64 MiB)."""


@contextmanager
def located(where: str) -> Iterator[None]:
    """Re-raise a Détente error with ``where`` in front of its message (same class)."""
    try:
        yield
    except DetenteError as e:
        raise type(e)(f"{where}: {e}") from e


def json_object(value: object, where: str) -> dict[str, Any]:
    """``value`` if it is a JSON object.

    Raises:
        EncodingError: it is not; the message names ``where``.
    """
    if not isinstance(value, dict):
        raise EncodingError(f"{where}: not a JSON object")
    return value


def json_text(value: object, where: str) -> str:
    """``value`` if it is a non-empty string.

    Raises:
        EncodingError: it is not; the message names ``where``.
    """
    if not isinstance(value, str) or not value:
        raise EncodingError(f"{where}: not a non-empty string")
    return value


def key_that_verifies(
    keys: Sequence[VerifierKey],
    origin: str,
    party: str,
    check: Callable[[VerifierKey], None],
    where: str,
) -> VerifierKey:
    """The first key named ``origin`` that ``check`` accepts (a log's keys over rotations).

    Raises:
        UnknownKeyError: no key named ``origin`` is given.
        VerificationError: ``check`` refuses every key of that name; the
            error of the last one is raised, with ``where`` in front.
    """
    named = [k for k in keys if k.name == origin]
    if not named:
        raise UnknownKeyError(f"{where}: no key given for {party}'s log ({origin})")
    for key in named[:-1]:
        try:
            check(key)
            return key
        except VerificationError:
            continue
    with located(where):
        check(named[-1])
    return named[-1]


def _script(script_id: str) -> re.Pattern[str]:
    return re.compile(
        r'<script type="application/json" id="' + re.escape(script_id) + r'">(.*?)</script>',
        re.DOTALL,
    )


def embed_json(value: object, *, script_id: str) -> str:
    """``value`` as a ``<script type="application/json">`` element an HTML page can carry.

    Every ``<`` is written ``\\u003c``, so no text in ``value`` can close the
    element; the JSON parses back to ``value`` unchanged.
    """
    text = json.dumps(value, sort_keys=True, ensure_ascii=True).replace("<", "\\u003c")
    return f'<script type="application/json" id="{script_id}">{text}</script>'


def load_embedded_json(data: bytes, *, script_id: str, where: str = "report file") -> object:
    """The JSON of a report file's bytes: a JSON file, or an HTML page that embeds it.

    Raises:
        EncodingError: neither JSON nor an HTML page with the element
            ``script_id`` (see :func:`embed_json`).
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise EncodingError(f"{where}: not UTF-8") from e
    if text.lstrip().lower().startswith("<!doctype html"):
        match = _script(script_id).search(text)
        if match is None:
            raise EncodingError(f"{where}: an HTML file without the embedded report")
        text = match.group(1)
    try:
        return json.loads(text)
    except ValueError as e:
        raise EncodingError(f"{where}: not JSON: {e}") from e
