"""Canonical JSON (RFC 8785, JCS) for everything that is signed or hashed.

The design allows a faster encoder than the reference ``rfc8785`` package as
long as the output is byte-identical; the fast path here covers the values
Détente signs most (objects, arrays, strings, integers, booleans, null) and
hands anything else, floats above all, to ``rfc8785``. The differential
test in ``tests/crypto/test_canonical.py`` compares both on random input.

Example:
    >>> canonical_json({"b": 1, "a": [True, None, "é"]})
    b'{"a":[true,null,"\\xc3\\xa9"],"b":1}'
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

from detente.errors import EncodingError

__all__ = ["canonical_json"]

# I-JSON (RFC 7493) range that JCS allows for integers without loss.
_MAX_SAFE_INT = 2**53 - 1

_encode = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=False, separators=(",", ":")
).encode


def _fast_safe(value: Any) -> bool:
    """True when ``json`` with sorted keys gives JCS bytes for ``value``.

    Python sorts keys by code point, JCS by UTF-16 code unit; they agree
    unless a key holds a character above U+FFFF, so such keys take the slow
    path. Floats take it too (JCS formats numbers the ECMAScript way).
    """
    if value is None or value is True or value is False:
        return True
    kind = type(value)
    if kind is str:
        return True
    if kind is int:
        return bool(-_MAX_SAFE_INT <= value <= _MAX_SAFE_INT)
    if kind is list or kind is tuple:
        return all(_fast_safe(v) for v in value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or (not key.isascii() and any(ord(c) > 0xFFFF for c in key)):
                return False
            if not _fast_safe(item):
                return False
        return True
    return False


def _sorted(value: Any) -> Any:
    if type(value) is dict:
        return {k: _sorted(value[k]) for k in sorted(value)}
    if type(value) is list or type(value) is tuple:
        return [_sorted(v) for v in value]
    return value


def canonical_json(value: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a JSON-compatible value.

    Raises:
        EncodingError: the value holds something JSON cannot carry (a set, a
            NaN, an integer beyond 2**53 - 1, a lone surrogate).
    """
    if _fast_safe(value):
        try:
            return _encode(_sorted(value)).encode("utf-8")
        except UnicodeEncodeError as e:
            raise EncodingError(f"cannot encode as canonical JSON: {e}") from e
    try:
        return bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as e:
        raise EncodingError(f"cannot encode as canonical JSON: {e}") from e
