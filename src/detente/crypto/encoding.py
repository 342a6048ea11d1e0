"""Strict base64 for untrusted input: one decoder, one error, the place named.

Example:
    >>> b64decode("aGk=", where="body")
    b'hi'
"""

from __future__ import annotations

import base64
import binascii

from detente.errors import EncodingError

__all__ = ["b64decode"]


def b64decode(value: object, *, where: str) -> bytes:
    """Decode standard base64 (RFC 4648, section 4), refusing anything else.

    Raises:
        EncodingError: ``value`` is not a string of valid base64; the message
            names ``where``.
    """
    if not isinstance(value, str):
        raise EncodingError(f"{where}: not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise EncodingError(f"{where}: invalid base64") from e
