"""Checkpoints of a party's log (C2SP tlog-checkpoint) and their cosignatures.

A checkpoint is a signed note (c2sp.org/signed-note) whose text is the tree
head of a log (c2sp.org/tlog-checkpoint, "Note text")::

    detente.log/3f2a9c0e5b7d1a48/us     origin
    42                                  tree size, decimal, no leading zeros
    q7Yp...=                            base64 RFC 9162 root hash, 32 bytes
                                        optional extension lines (none here)

Détente names each log ``detente.log/<first 16 hex of agreement id>/<party>``
(:func:`origin_for`) and, following tlog-checkpoint, "Signatures" (the log's
key name SHOULD match the origin), a log's checkpoints are signed by the
node key whose ``name`` is exactly that origin. :meth:`SignedCheckpoint.verify`
insists on it, so one party's key can never vouch for another party's log.

A peer that has verified a checkpoint cosigns it (c2sp.org/tlog-cosignature,
v1): an Ed25519 signature, under signature type 0x04, over::

    cosignature/v1\\n
    time <decimal POSIX seconds>\\n
    <the whole checkpoint body, extension lines included>

carried in a note signature line as ``key ID (4) || timestamp (8, big-endian)
|| signature (64)``. Its timestamp is when the receiver vouched for the log,
which is when a message counts as received (design, "Time that counts").

Example:
    >>> from detente.crypto.keys import SigningKey
    >>> origin = origin_for("3f2a9c0e5b7d1a48" + "0" * 48, "us")
    >>> log_key, witness = SigningKey.generate(origin), SigningKey.generate("ru-node")
    >>> signed = Checkpoint(origin, 0, bytes(32)).sign(log_key)
    >>> signed.verify(log_key.verifier)
    >>> cosig = cosign(signed.checkpoint, witness, timestamp=1_700_000_000)
    >>> signed = signed.with_cosignature(cosig)
    >>> signed.cosignatures([witness.verifier]) == [cosig]
    True
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

from detente.crypto.keys import SigningKey, VerifierKey, is_valid_key_name
from detente.crypto.note import Note, NoteSignature
from detente.crypto.note import sign as sign_note
from detente.errors import EncodingError, SignatureError, UnknownKeyError

__all__ = [
    "Checkpoint",
    "Cosignature",
    "SignedCheckpoint",
    "cosign",
    "cosignature_message",
    "origin_for",
    "witness_key_name",
]

_ROOT_SIZE = 32
_MAX_TREE_SIZE = 2**64 - 1
_MAX_TIMESTAMP = 2**63 - 1  # c2sp.org/tlog-cosignature, "Format"
_SIGNATURE_SIZE = 64
_COSIGNATURE_HEADER = b"cosignature/v1\n"  # c2sp.org/tlog-cosignature, "Ed25519 signed message"
_DECIMAL = re.compile(r"0|[1-9][0-9]*", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x1f]")
_AGREEMENT_ID = re.compile(r"[0-9a-f]{64}")


def origin_for(agreement_id: str, party: str) -> str:
    """The checkpoint origin of ``party``'s log: ``detente.log/<id[:16]>/<party>``.

    Raises:
        EncodingError: ``agreement_id`` is not 64 lowercase hex digits, or
            ``party`` cannot stand in a key name (empty, or holding a space,
            ``+``, ``/`` or a control character).
    """
    if not _AGREEMENT_ID.fullmatch(agreement_id):
        raise EncodingError("an agreement id is 64 lowercase hex digits (SHA-256)")
    if "/" in party or not is_valid_key_name(party):
        raise EncodingError(
            f"party id {party!r} cannot be part of a log origin: it must be non-empty, "
            "without spaces, '+', '/' or control characters"
        )
    return f"detente.log/{agreement_id[:16]}/{party}"


def witness_key_name(agreement_id: str, name: str) -> str:
    """The key name of the neutral witness ``name``: ``detente.witness/<id[:16]>/<name>``.

    A witness keeps no log, so its key is not named as a log origin: no
    checkpoint signed by it can pass for a party's log.

    Raises:
        EncodingError: as for :func:`origin_for`.
    """
    return origin_for(agreement_id, name).replace("detente.log/", "detente.witness/", 1)


def _check_line(line: str, what: str) -> None:
    if not line:
        raise EncodingError(f"checkpoint {what} is empty")
    if _CONTROL.search(line):
        raise EncodingError(f"checkpoint {what} holds a newline or control character")


@dataclass(frozen=True)
class Checkpoint:
    """The tree head of one log at one size (c2sp.org/tlog-checkpoint).

    Attributes:
        origin: The log's identity; for Détente see :func:`origin_for`.
        size: The number of leaves, 0 to 2**64 - 1.
        root: The 32-byte RFC 9162 root hash at that size.
        extensions: Opaque extension lines, each non-empty. The spec does not
            recommend them; Détente writes none but keeps those it reads.
    """

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if type(self.size) is not int or not 0 <= self.size <= _MAX_TREE_SIZE:
            raise EncodingError("checkpoint tree size must be an integer from 0 to 2**64 - 1")
        if not isinstance(self.root, bytes) or len(self.root) != _ROOT_SIZE:
            raise EncodingError("checkpoint root hash must be 32 bytes")
        for line in self.extensions:
            _check_line(line, "extension line")
        try:
            self.to_body().encode("utf-8")
        except UnicodeEncodeError as e:
            raise EncodingError("checkpoint is not valid UTF-8 (a lone surrogate)") from e

    def to_body(self) -> str:
        """The note text: origin, size, root, extension lines, each newline-terminated."""
        root = base64.b64encode(self.root).decode("ascii")
        lines = (self.origin, str(self.size), root, *self.extensions)
        return "".join(f"{line}\n" for line in lines)

    @classmethod
    def from_body(cls, text: str) -> Checkpoint:
        """Parse a checkpoint body strictly (c2sp.org/tlog-checkpoint, "Note text").

        Raises:
            EncodingError: fewer than three lines, an empty line, no final
                newline, a size that is not plain decimal without leading
                zeros, or a root that is not canonical base64 of 32 bytes.
        """
        if not text.endswith("\n"):
            raise EncodingError("checkpoint body must end in a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise EncodingError("checkpoint body has fewer than three lines")
        origin, size_text, root_text, *extensions = lines
        if not _DECIMAL.fullmatch(size_text):
            raise EncodingError(
                f"checkpoint tree size {size_text[:40]!r} is not decimal without leading zeros"
            )
        if len(size_text) > 20:
            raise EncodingError("checkpoint tree size exceeds 2**64 - 1")
        root = _decode_root(root_text)
        return cls(origin, int(size_text), root, tuple(extensions))

    def sign(self, key: SigningKey) -> SignedCheckpoint:
        """Sign this checkpoint with the log's key, whose name must be the origin.

        Raises:
            ValueError: ``key.name`` is not this checkpoint's origin.
        """
        if key.name != self.origin:
            raise ValueError(
                f"key {key.name!r} cannot sign checkpoints of {self.origin!r}: "
                "a log key's name is its origin"
            )
        return SignedCheckpoint(self, sign_note(self.to_body(), key))


def _decode_root(text: str) -> bytes:
    try:
        root = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as e:
        raise EncodingError("checkpoint root hash is not valid base64") from e
    if base64.b64encode(root).decode("ascii") != text:
        raise EncodingError("checkpoint root hash is not canonical base64")
    if len(root) != _ROOT_SIZE:
        raise EncodingError(f"checkpoint root hash is {len(root)} bytes, not 32")
    return root


def cosignature_message(checkpoint: Checkpoint, timestamp: int) -> bytes:
    """The bytes a v1 cosignature signs (c2sp.org/tlog-cosignature, "Ed25519 signed message").

    ``cosignature/v1\\n``, ``time <timestamp>\\n``, then the whole checkpoint
    body including extension lines and the final newline.
    """
    header = _COSIGNATURE_HEADER + f"time {timestamp}\n".encode("ascii")
    return header + checkpoint.to_body().encode("utf-8")


@dataclass(frozen=True)
class Cosignature:
    """A witness's timestamped Ed25519 cosignature (c2sp.org/tlog-cosignature, v1).

    Attributes:
        name: The cosigner's key name.
        key_id: ``SHA-256(name || 0x0A || 0x04 || public key)[:4]``.
        timestamp: POSIX seconds when the cosignature was made.
        signature: The 64-byte Ed25519 signature over :func:`cosignature_message`.
    """

    name: str
    key_id: bytes
    timestamp: int
    signature: bytes

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise EncodingError(f"cosignature has an invalid key name {self.name!r}")
        if len(self.key_id) != 4:
            raise EncodingError("a key ID is 4 bytes")
        if type(self.timestamp) is not int or not 0 <= self.timestamp <= _MAX_TIMESTAMP:
            raise EncodingError("cosignature timestamp must be from 0 to 2**63 - 1")
        if len(self.signature) != _SIGNATURE_SIZE:
            raise EncodingError("a cosignature's Ed25519 signature is 64 bytes")

    def to_note_signature(self) -> NoteSignature:
        """The signature line's content: key ID, then 8-byte big-endian timestamp || signature."""
        return NoteSignature(
            self.name, self.key_id, self.timestamp.to_bytes(8, "big") + self.signature
        )

    @classmethod
    def from_note_signature(cls, line: NoteSignature) -> Cosignature:
        """Read a ``timestamped_signature`` (c2sp.org/tlog-cosignature, "Format").

        Raises:
            EncodingError: the signature is not 8 + 64 bytes, or its timestamp
                exceeds 2**63 - 1.
        """
        if len(line.signature) != 8 + _SIGNATURE_SIZE:
            raise EncodingError(
                f"cosignature by {line.name} is {len(line.signature)} bytes, not 72"
            )
        timestamp = int.from_bytes(line.signature[:8], "big")
        return cls(line.name, line.key_id, timestamp, line.signature[8:])

    def to_line(self) -> str:
        """The note signature line, without its final newline."""
        return self.to_note_signature().to_line()

    @classmethod
    def from_line(cls, line: str) -> Cosignature:
        """Parse a cosignature's note signature line, given without its newline.

        Raises:
            EncodingError: the line is malformed or not a v1 cosignature.
        """
        return cls.from_note_signature(NoteSignature.from_line(line))

    def verify(self, checkpoint: Checkpoint, key: VerifierKey) -> None:
        """Check that ``key`` made this cosignature on ``checkpoint``.

        Raises:
            UnknownKeyError: the cosignature's name or key ID is not ``key``'s
                (type 0x04 key ID).
            SignatureError: the signature does not verify.
        """
        if (self.name, self.key_id) != (key.name, key.cosignature_key_id):
            raise UnknownKeyError(
                f"cosignature by {self.name}+{self.key_id.hex()} is not by "
                f"{key.name}+{key.cosignature_key_id.hex()}"
            )
        try:
            key.verify(cosignature_message(checkpoint, self.timestamp), self.signature)
        except SignatureError as e:
            raise SignatureError(
                f"cosignature by {self.name} on {checkpoint.origin} at size "
                f"{checkpoint.size} does not verify"
            ) from e


def cosign(checkpoint: Checkpoint, key: SigningKey, *, timestamp: int) -> Cosignature:
    """Cosign ``checkpoint`` with ``key`` as of ``timestamp`` (POSIX seconds).

    The caller vouches that it verified the checkpoint and its consistency
    with every earlier one it holds (c2sp.org/tlog-cosignature, "Ed25519
    signed message": the statement a v1 cosignature makes).

    Raises:
        EncodingError: ``timestamp`` is negative or above 2**63 - 1.
    """
    if type(timestamp) is not int or not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise EncodingError("cosignature timestamp must be from 0 to 2**63 - 1")
    signature = key.sign(cosignature_message(checkpoint, timestamp))
    return Cosignature(key.name, key.verifier.cosignature_key_id, timestamp, signature)


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint with its note: the log's signature and any cosignatures.

    Attributes:
        checkpoint: The parsed body.
        note: The signed note whose text is ``checkpoint.to_body()``.
    """

    checkpoint: Checkpoint
    note: Note

    def __post_init__(self) -> None:
        if self.note.text != self.checkpoint.to_body():
            raise EncodingError("note text is not the checkpoint body")

    @classmethod
    def from_text(cls, text: str) -> SignedCheckpoint:
        """Parse a signed checkpoint; nothing is verified.

        Raises:
            EncodingError: the note or its checkpoint body is malformed.
        """
        note = Note.from_text(text)
        return cls(Checkpoint.from_body(note.text), note)

    @classmethod
    def from_bytes(cls, data: bytes) -> SignedCheckpoint:
        """Parse a signed checkpoint from bytes; see :meth:`from_text`.

        Raises:
            EncodingError: the note or its checkpoint body is malformed.
        """
        note = Note.from_bytes(data)
        return cls(Checkpoint.from_body(note.text), note)

    def to_text(self) -> str:
        """The note text, byte for byte as parsed or signed."""
        return self.note.to_text()

    def to_bytes(self) -> bytes:
        """The note as UTF-8 bytes."""
        return self.note.to_bytes()

    def verify(self, key: VerifierKey) -> None:
        """Check that the log key ``key`` signed this checkpoint.

        Raises:
            UnknownKeyError: ``key.name`` is not the checkpoint's origin, or
                the note carries no signature by ``key``.
            SignatureError: a signature line by ``key`` does not verify.
        """
        if key.name != self.checkpoint.origin:
            raise UnknownKeyError(
                f"key {key.name!r} is not the key of log {self.checkpoint.origin!r}"
            )
        self.note.verify([key])

    def cosignatures(self, witnesses: Sequence[VerifierKey]) -> list[Cosignature]:
        """The verified v1 cosignatures by ``witnesses`` on this checkpoint.

        Lines whose name and type-0x04 key ID match no witness are ignored
        (c2sp.org/signed-note, "Signatures"). A line that matches one must
        be a valid cosignature.

        Raises:
            SignatureError: a line from a witness is not a well-formed v1
                cosignature or does not verify.
        """
        known = {(w.name, w.cosignature_key_id): w for w in witnesses}
        found: list[Cosignature] = []
        for line in self.note.signatures:
            witness = known.get((line.name, line.key_id))
            if witness is None:
                continue
            try:
                cosignature = Cosignature.from_note_signature(line)
            except EncodingError as e:
                raise SignatureError(f"cosignature by {line.name} is malformed: {e}") from e
            cosignature.verify(self.checkpoint, witness)
            found.append(cosignature)
        return found

    def with_cosignature(self, cosignature: Cosignature) -> SignedCheckpoint:
        """This checkpoint with ``cosignature``'s line added (replacing one by the same key)."""
        return SignedCheckpoint(
            self.checkpoint, self.note.with_signature(cosignature.to_note_signature())
        )
