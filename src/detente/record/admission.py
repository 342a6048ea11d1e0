"""Admission of an envelope into a log: every check a receiver makes.

Pure: the caller passes the agreement, the sender's key, the state of the
sender's log as held, the bytes already held at that position (if any) and
the clock. Each failure has its own error class, so a node can answer a peer
precisely and keep what must be kept as evidence.

Example:
    >>> from detente.agreement import builtin_agreement
    >>> from detente.crypto.keys import SigningKey
    >>> from detente.record.envelope import ZERO_HASH, seal
    >>> from datetime import datetime, UTC
    >>> agreement = builtin_agreement("security-replies-2022")
    >>> key = SigningKey.generate("us-node")
    >>> body = b'{"text":"hello"}'
    >>> env = seal(key=key, agreement=agreement.id, sender="us", seq=0, prev=ZERO_HASH,
    ...            created="2026-01-01T00:00:00Z", type="message", to=("ru",), body=body)
    >>> admit(env, body, agreement=agreement, key=key.verifier, tip=LogTip.empty(),
    ...       held=None, now=datetime(2026, 1, 1, tzinfo=UTC))
    <Admission.NEW: 'new'>
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from detente.agreement import Agreement
from detente.crypto.keys import VerifierKey
from detente.errors import (
    BodyError,
    ChainError,
    ClockSkewError,
    EncodingError,
    ForkError,
    SequenceError,
    TypeNotAllowedError,
    UnknownKeyError,
    WrongAgreementError,
)
from detente.record.envelope import ZERO_HASH, Envelope

__all__ = [
    "Admission",
    "LogTip",
    "admit",
    "admit_ahead",
    "check_body",
    "check_rules",
    "parse_body",
]


class Admission(enum.Enum):
    """What an admissible envelope is to the log that receives it."""

    NEW = "new"
    REPEAT = "repeat"


@dataclass(frozen=True, slots=True)
class LogTip:
    """The state of a sender's log as held: its size and last leaf hash (hex)."""

    size: int
    last_leaf_hash: str

    @classmethod
    def empty(cls) -> LogTip:
        """The tip of a log that holds nothing yet."""
        return cls(size=0, last_leaf_hash=ZERO_HASH)


def parse_body(body: bytes, *, where: str = "body") -> object:
    """Parse a body's bytes as JSON.

    Raises:
        BodyError: the bytes are not UTF-8 JSON.
    """
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise BodyError(f"{where}: not valid UTF-8 JSON ({e})") from e


def check_body(
    envelope: Envelope, body: bytes, *, agreement: Agreement, parsed: object = None
) -> None:
    """Check a body against its header's hash and length and its type's schema.

    ``parsed`` is the body already parsed, when the caller has it (the
    writer does: it made the bytes from it); otherwise the bytes are parsed.

    Raises:
        BodyError: length, hash or schema does not hold; the message names
            the entry and the failing field.
        TypeNotAllowedError: the agreement has no such type.
    """
    header = envelope.header
    where = f"{envelope.position} body"
    if len(body) != header.body_len:
        raise BodyError(f"{where}: {len(body)} bytes, header says {header.body_len}")
    if hashlib.sha256(body).hexdigest() != header.body_sha256:
        raise BodyError(f"{where}: SHA-256 does not match header.body_sha256")
    try:
        value = parse_body(body, where=where) if parsed is None else parsed
        agreement.message_type(header.type).validate_body(value)
    except BodyError as e:
        raise BodyError(f"{envelope.position}: {e}") from e


def check_rules(
    envelope: Envelope, body: bytes | None, *, agreement: Agreement, parsed: object = None
) -> None:
    """Check what the agreement says of an envelope: sender, type, recipients, body.

    The node's own writer runs this before it stores what it has just
    signed; :func:`admit` runs it on everything received.

    Raises:
        TypeNotAllowedError: an unknown type, one the sender may not send,
            or a recipient who is not another party.
        BodyError: the body fails its hash, length or schema.
    """
    header = envelope.header
    where = envelope.position
    parties = agreement.party_ids()
    if header.sender not in parties:
        raise TypeNotAllowedError(f"{where}: {header.sender!r} is not a party")
    message_type = agreement.message_type(header.type)
    if not message_type.may_send(header.sender):
        raise TypeNotAllowedError(
            f"{where}: party {header.sender!r} may not send type {header.type!r}"
        )
    strangers = [p for p in header.to if p not in parties or p == header.sender]
    if strangers:
        raise TypeNotAllowedError(f"{where}: recipient(s) {', '.join(strangers)} not allowed")
    if header.body_len > agreement.max_body_bytes:
        raise BodyError(
            f"{where}: body_len {header.body_len} exceeds the agreement's max_body_bytes "
            f"({agreement.max_body_bytes})"
        )
    if body is not None:
        check_body(envelope, body, agreement=agreement, parsed=parsed)


def admit(
    envelope: Envelope,
    body: bytes | None,
    *,
    agreement: Agreement,
    key: VerifierKey | None,
    tip: LogTip,
    held: bytes | None,
    now: datetime,
) -> Admission:
    """Decide whether ``envelope`` may enter its sender's log.

    Args:
        envelope: the parsed envelope.
        body: its body, or None where this node is not a recipient.
        agreement: the agreement this node runs.
        key: the sender's verifier key, or None if none is known.
        tip: the sender's log as held before this envelope.
        held: the leaf held at ``envelope.header.seq`` when that position is
            already filled, else None.
        now: the receiver's clock.

    Returns:
        NEW for the next entry of the log, REPEAT for an identical copy of an
        entry already held.

    Raises:
        WrongAgreementError: the envelope names another agreement.
        UnknownKeyError: no key is known for the sender.
        SignatureError: the signature does not verify.
        TypeNotAllowedError: an unknown type, or one the sender may not send,
            or a recipient who is not a party.
        BodyError: the body fails its hash, length or schema.
        ForkError: other bytes are held at that position.
        SequenceError: the seq leaves a gap.
        ChainError: prev is not the leaf hash of the previous entry.
        ClockSkewError: created is too far in the future.
    """
    header = envelope.header
    where = envelope.position
    _check_signed(envelope, agreement=agreement, key=key)
    if header.seq < tip.size:
        if held == envelope.leaf:
            return Admission.REPEAT
        raise ForkError(f"{where}: other bytes are already held at this position")
    check_rules(envelope, body, agreement=agreement)
    if header.seq != tip.size:
        raise SequenceError(f"{where}: seq {header.seq} does not follow, expected {tip.size}")
    if header.prev != tip.last_leaf_hash:
        raise ChainError(
            f"{where}: prev {header.prev[:16]}… is not the leaf hash of entry "
            f"{header.sender}:{header.seq - 1} ({tip.last_leaf_hash[:16]}…)"
        )
    _check_created(envelope, agreement=agreement, now=now)
    return Admission.NEW


def admit_ahead(
    envelope: Envelope,
    body: bytes,
    *,
    agreement: Agreement,
    key: VerifierKey | None,
    now: datetime,
) -> None:
    """Check an entry delivered ahead of the entries before it (priority lane).

    Everything :func:`admit` checks except the chain: the entries before it
    are not held yet, so its seq and ``prev`` are proved instead by the
    caller, with an inclusion proof in a checkpoint consistent with the
    mirror. Only a recipient takes an entry ahead, so the body is required.

    Raises:
        WrongAgreementError, UnknownKeyError, SignatureError,
        TypeNotAllowedError, BodyError, ClockSkewError: as for :func:`admit`.
    """
    _check_signed(envelope, agreement=agreement, key=key)
    check_rules(envelope, body, agreement=agreement)
    _check_created(envelope, agreement=agreement, now=now)


def _check_signed(envelope: Envelope, *, agreement: Agreement, key: VerifierKey | None) -> None:
    header = envelope.header
    if header.agreement != agreement.id:
        raise WrongAgreementError(
            f"{envelope.position}: made under agreement {header.agreement[:16]}…, "
            f"this node runs {agreement.name} ({agreement.id[:16]}…)"
        )
    if key is None:
        raise UnknownKeyError(f"{envelope.position}: no key is known for party {header.sender!r}")
    envelope.verify_signature(key)


def _check_created(envelope: Envelope, *, agreement: Agreement, now: datetime) -> None:
    header = envelope.header
    try:
        created = header.created_at
    except EncodingError as e:  # pragma: no cover - Header.from_json checked it
        raise ClockSkewError(str(e)) from e
    skew = timedelta(seconds=agreement.skew_seconds)
    if created > now + skew:
        raise ClockSkewError(
            f"{envelope.position}: created {header.created} is more than "
            f"{agreement.skew_seconds} s ahead of this node's clock"
        )
