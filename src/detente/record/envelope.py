"""Signed envelopes: the header, its signature, and the leaf the log stores.

Wire format (design, "Wire format", normative):

* the header is a JSON object with exactly the keys ``v``, ``agreement``,
  ``sender``, ``seq``, ``prev``, ``created``, ``type``, ``to``, ``refs``,
  ``priority``, ``exercise``, ``body_sha256``, ``body_len`` and, when
  given, ``article``;
* the signature is Ed25519 over ``detente/envelope/v1\\n`` followed by the
  RFC 8785 canonical JSON of the header;
* the leaf hashed into the sender's log is the canonical JSON of
  ``{"header": ..., "sig": base64}``; the body is stored beside it.

An :class:`Envelope` owns its signed bytes: it is built either by
:func:`seal` or by :meth:`Envelope.from_leaf`, which refuses any leaf that
is not in canonical form, so parsing and serialising never changes what was
signed.

Example:
    >>> from detente.crypto.keys import SigningKey
    >>> key = SigningKey.generate("detente.log/0000000000000000/us")
    >>> env = seal(key=key, agreement="ab" * 32, sender="us", seq=0, prev=ZERO_HASH,
    ...            created="2026-01-01T00:00:00Z", type="message", to=("ru",),
    ...            body=b'{"text":"hello"}')
    >>> Envelope.from_leaf(env.leaf) == env
    True
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from detente.crypto.encoding import b64decode
from detente.crypto.keys import SigningKey, VerifierKey
from detente.errors import EncodingError
from detente.record.merkle import leaf_hash

__all__ = [
    "ENVELOPE_CONTEXT",
    "MAX_BODY_BYTES",
    "MAX_LEAF_BYTES",
    "LANE_PRIORITIES",
    "PRIORITIES",
    "ZERO_HASH",
    "Envelope",
    "Header",
    "format_time",
    "parse_time",
    "seal",
]

ENVELOPE_CONTEXT = b"detente/envelope/v1\n"
PRIORITIES = ("FLASH", "IMMEDIATE", "PRIORITY", "ROUTINE")
# Precedences delivered ahead of the backlog (exchange.priority): FLASH, the
# highest, only; the others keep log order so the lane stays for emergencies.
LANE_PRIORITIES = frozenset({"FLASH"})
ZERO_HASH = "0" * 64
# Untrusted input is size-limited at the edge: a header is small; a body is
# at most this (the agreement may say less), and travels in parts above 1 MiB.
MAX_LEAF_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024
_MAX_RECIPIENTS = 256
_MAX_REFS = 1024

_HEX64 = re.compile(r"[0-9a-f]{64}")
_PARTY = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_TYPE = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
_REF = re.compile(r"([a-z0-9][a-z0-9_.-]{0,63}):(0|[1-9][0-9]{0,18})")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z")
_REQUIRED = frozenset(
    {
        "v",
        "agreement",
        "sender",
        "seq",
        "prev",
        "created",
        "type",
        "to",
        "refs",
        "priority",
        "exercise",
        "body_sha256",
        "body_len",
    }
)
_ALLOWED = _REQUIRED | {"article"}
_HEADER_ENCODE = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
).encode


def format_time(moment: datetime) -> str:
    """Format an aware datetime as RFC 3339 UTC with a ``Z`` (microseconds if any)."""
    utc = moment.astimezone(UTC)
    if utc.microsecond:
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str, *, field_name: str = "time") -> datetime:
    """Parse an RFC 3339 UTC time ending in ``Z``.

    Raises:
        EncodingError: the text is not such a time.
    """
    if not isinstance(text, str) or not _TIME.fullmatch(text):
        raise EncodingError(f"{field_name}: {text!r} is not an RFC 3339 UTC time (…Z)")
    try:
        # Python 3.11 reads the Z suffix and truncates beyond microseconds.
        return datetime.fromisoformat(text)
    except ValueError as e:
        raise EncodingError(f"{field_name}: {text!r} is not a valid date and time") from e


@dataclass(frozen=True, slots=True)
class Header:
    """An envelope header, exactly the fields of the wire format."""

    agreement: str
    sender: str
    seq: int
    prev: str
    created: str
    type: str
    to: tuple[str, ...]
    refs: tuple[str, ...]
    priority: str
    exercise: bool
    body_sha256: str
    body_len: int
    article: str | None = None
    v: int = 1

    def to_json(self) -> dict[str, Any]:
        """Return the header as the JSON object that is signed."""
        obj: dict[str, Any] = {
            "v": self.v,
            "agreement": self.agreement,
            "sender": self.sender,
            "seq": self.seq,
            "prev": self.prev,
            "created": self.created,
            "type": self.type,
            "to": list(self.to),
            "refs": list(self.refs),
            "priority": self.priority,
            "exercise": self.exercise,
            "body_sha256": self.body_sha256,
            "body_len": self.body_len,
        }
        if self.article is not None:
            obj["article"] = self.article
        return obj

    def canonical(self) -> bytes:
        """RFC 8785 canonical JSON of the header.

        Every value of a parsed header is an ASCII-pattern string, an
        integer within 2**53, a boolean, a list of such strings, or the
        free ``article`` string, and every key is ASCII; for such objects
        the standard encoder with sorted keys writes exactly the JCS bytes
        (differential test in ``tests/record/test_envelope.py``), so the
        general traversal of :func:`canonical_json` is not needed here.
        """
        return _HEADER_ENCODE(self.to_json()).encode("utf-8")

    def signing_input(self) -> bytes:
        """The bytes the sender signs: the context line, then the canonical header."""
        return ENVELOPE_CONTEXT + self.canonical()

    @property
    def created_at(self) -> datetime:
        """``created`` as an aware datetime."""
        return parse_time(self.created, field_name="header.created")

    @classmethod
    def from_json(cls, obj: object) -> Header:
        """Build a header from parsed JSON, checking every field's type and form.

        Raises:
            EncodingError: a field is missing, unknown, or of the wrong form;
                the message names the field.
        """
        if not isinstance(obj, dict):
            raise EncodingError("header: not a JSON object")
        missing = _REQUIRED - obj.keys()
        if missing:
            raise EncodingError(f"header: missing field(s) {', '.join(sorted(missing))}")
        unknown = obj.keys() - _ALLOWED
        if unknown:
            raise EncodingError(f"header: unknown field(s) {', '.join(sorted(unknown))}")
        if obj["v"] != 1 or type(obj["v"]) is not int:
            raise EncodingError(f"header.v: unsupported version {obj['v']!r} (expected 1)")
        _check(obj, "agreement", _HEX64, "64 lowercase hex digits")
        _check(obj, "sender", _PARTY, "a party id")
        _check(obj, "prev", _HEX64, "64 lowercase hex digits")
        _check(obj, "type", _TYPE, "a message type id")
        _check(obj, "body_sha256", _HEX64, "64 lowercase hex digits")
        parse_time(obj["created"], field_name="header.created")
        seq = _nonnegative_int(obj, "seq")
        body_len = _nonnegative_int(obj, "body_len")
        if body_len > MAX_BODY_BYTES:
            raise EncodingError(f"header.body_len: {body_len} exceeds {MAX_BODY_BYTES}")
        to = _string_list(obj, "to", _PARTY, _MAX_RECIPIENTS)
        if len(set(to)) != len(to):
            raise EncodingError("header.to: a recipient is named twice")
        refs = _string_list(obj, "refs", _REF, _MAX_REFS)
        if obj["priority"] not in PRIORITIES:
            raise EncodingError(
                f"header.priority: {obj['priority']!r} is not one of {', '.join(PRIORITIES)}"
            )
        if type(obj["exercise"]) is not bool:
            raise EncodingError("header.exercise: must be true or false")
        article = obj.get("article")
        if article is not None and (not isinstance(article, str) or not 0 < len(article) <= 256):
            raise EncodingError("header.article: must be a string of 1 to 256 characters")
        return cls(
            agreement=obj["agreement"],
            sender=obj["sender"],
            seq=seq,
            prev=obj["prev"],
            created=obj["created"],
            type=obj["type"],
            to=to,
            refs=refs,
            priority=obj["priority"],
            exercise=obj["exercise"],
            body_sha256=obj["body_sha256"],
            body_len=body_len,
            article=article,
        )


def _check(obj: dict[str, Any], name: str, pattern: re.Pattern[str], what: str) -> None:
    value = obj[name]
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise EncodingError(f"header.{name}: {value!r} is not {what}")


def _nonnegative_int(obj: dict[str, Any], name: str) -> int:
    value = obj[name]
    if type(value) is not int or value < 0 or value > 2**53 - 1:
        raise EncodingError(f"header.{name}: {value!r} is not a non-negative integer")
    return value


def _string_list(
    obj: dict[str, Any], name: str, pattern: re.Pattern[str], limit: int
) -> tuple[str, ...]:
    value = obj[name]
    if not isinstance(value, list) or len(value) > limit:
        raise EncodingError(f"header.{name}: must be a list of at most {limit} strings")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not pattern.fullmatch(item):
            raise EncodingError(f"header.{name}[{i}]: {item!r} is malformed")
    return tuple(value)


@dataclass(frozen=True, slots=True)
class Envelope:
    """A header with its signature, and the canonical leaf bytes they make."""

    header: Header
    sig: bytes
    leaf: bytes = field(compare=False, repr=False)
    header_bytes: bytes = field(compare=False, repr=False, default=b"")

    @property
    def leaf_hash(self) -> bytes:
        """RFC 9162 leaf hash of the stored leaf bytes."""
        return leaf_hash(self.leaf)

    @property
    def position(self) -> str:
        """``party:seq``, the way ``refs`` name an entry."""
        return f"{self.header.sender}:{self.header.seq}"

    def verify_signature(self, key: VerifierKey) -> None:
        """Check the signature against the sender's verifier key.

        Raises:
            SignatureError: the signature does not verify under ``key``.
        """
        signed = self.header_bytes or self.header.canonical()
        key.verify(ENVELOPE_CONTEXT + signed, self.sig)

    @classmethod
    def from_leaf(cls, leaf: bytes) -> Envelope:
        """Parse stored or received leaf bytes.

        Raises:
            EncodingError: the bytes are too long, not JSON, not the
                envelope's shape, or not in RFC 8785 canonical form.
        """
        if len(leaf) > MAX_LEAF_BYTES:
            raise EncodingError(f"envelope: {len(leaf)} bytes exceeds {MAX_LEAF_BYTES}")
        try:
            obj = json.loads(leaf)
        except (ValueError, UnicodeDecodeError) as e:
            raise EncodingError(f"envelope: not JSON ({e})") from e
        if not isinstance(obj, dict) or set(obj) != {"header", "sig"}:
            raise EncodingError('envelope: expected exactly the keys "header" and "sig"')
        header = Header.from_json(obj["header"])
        sig = b64decode(obj["sig"], where="envelope.sig")
        if len(sig) != 64:
            raise EncodingError(f"envelope.sig: {len(sig)} bytes, expected 64")
        header_bytes = header.canonical()
        if _leaf_bytes(header_bytes, sig) != leaf:
            raise EncodingError("envelope: not in RFC 8785 canonical form")
        return cls(header=header, sig=sig, leaf=bytes(leaf), header_bytes=header_bytes)


def _leaf_bytes(header_bytes: bytes, sig: bytes) -> bytes:
    # JCS of {"header": ..., "sig": ...}: "header" sorts before "sig", and
    # base64 needs no escaping.
    return b'{"header":' + header_bytes + b',"sig":"' + base64.b64encode(sig) + b'"}'


def seal(
    *,
    key: SigningKey,
    agreement: str,
    sender: str,
    seq: int,
    prev: str,
    created: str,
    type: str,
    body: bytes,
    to: tuple[str, ...] = (),
    refs: tuple[str, ...] = (),
    article: str | None = None,
    priority: str = "ROUTINE",
    exercise: bool = False,
) -> Envelope:
    """Build and sign an envelope for ``body``.

    The header is checked by the same parser that reads received envelopes,
    so a node cannot sign what its peers would refuse to parse.

    Raises:
        EncodingError: a header field is malformed.
    """
    header = Header.from_json(
        Header(
            agreement=agreement,
            sender=sender,
            seq=seq,
            prev=prev,
            created=created,
            type=type,
            to=tuple(to),
            refs=tuple(refs),
            priority=priority,
            exercise=exercise,
            body_sha256=hashlib.sha256(body).hexdigest(),
            body_len=len(body),
            article=article,
        ).to_json()
    )
    header_bytes = header.canonical()
    sig = key.sign(ENVELOPE_CONTEXT + header_bytes)
    return Envelope(
        header=header, sig=sig, leaf=_leaf_bytes(header_bytes, sig), header_bytes=header_bytes
    )
