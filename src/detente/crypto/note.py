"""C2SP signed notes: a text and the signature lines that vouch for it.

A signed note (c2sp.org/signed-note, "Format") is UTF-8 text ending in a
newline, a blank line, then one or more signature lines::

    <text>\\n
    \\n
    — <key name> <base64(4-byte key ID || signature)>\\n

The signatures cover the text, final newline included, blank line excluded.
The text may hold empty lines itself: it ends at the *last* blank line. No
ASCII control character but newline may appear anywhere.

Parsing keeps every signature line, known key or not, and :meth:`Note.to_text`
writes back the very bytes that were read, so a note can be stored, relayed
and cosigned without changing what was signed.

Example:
    >>> from detente.crypto.keys import SigningKey
    >>> key = SigningKey.generate("example.org/log")
    >>> note = sign("hello\\n", key)
    >>> Note.from_text(note.to_text()) == note
    True
    >>> note.verify([key.verifier]) == [key.verifier]
    True
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass

from detente.crypto.keys import SigningKey, VerifierKey, _b64decode_canonical, is_valid_key_name
from detente.errors import EncodingError, SignatureError, UnknownKeyError

__all__ = [
    "MAX_NOTE_BYTES",
    "MAX_SIGNATURES",
    "Note",
    "NoteSignature",
    "sign",
]

MAX_NOTE_BYTES = 1024 * 1024
"""Largest signed note accepted, in bytes (the spec asks verifiers for a limit)."""

MAX_SIGNATURES = 100
"""Most signature lines accepted in one note; the spec's floor is 16."""

_PREFIX = "\u2014 "  # em dash, space: c2sp.org/signed-note, "Format"
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")


def _check_note_chars(text: str, what: str) -> None:
    """c2sp.org/signed-note, "Format": valid UTF-8, no control character but newline."""
    found = _CONTROL.search(text)
    if found is not None:
        raise EncodingError(f"{what} holds the control character U+{ord(found.group()):04X}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise EncodingError(f"{what} is not valid UTF-8 (a lone surrogate)") from e


@dataclass(frozen=True)
class NoteSignature:
    """One signature line of a note.

    Attributes:
        name: The key name on the line.
        key_id: The 4-byte key ID (big-endian uint32 on the wire).
        signature: The bytes after the key ID; their meaning depends on the
            key's signature type (64 bytes for Ed25519, 72 for cosignatures).
    """

    name: str
    key_id: bytes
    signature: bytes

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise EncodingError(f"signature line has an invalid key name {self.name!r}")
        if len(self.key_id) != 4:
            raise EncodingError("a key ID is 4 bytes")
        if not self.signature:
            raise EncodingError("signature line carries no signature after the key ID")

    def to_line(self) -> str:
        """The line, without its final newline: ``— <name> <base64>``."""
        encoded = base64.b64encode(self.key_id + self.signature).decode("ascii")
        return f"{_PREFIX}{self.name} {encoded}"

    @classmethod
    def from_line(cls, line: str) -> NoteSignature:
        """Parse one signature line, given without its final newline.

        Raises:
            EncodingError: the line is not ``— <key name> <base64>`` with a
                valid name and canonical base64 of more than four bytes.
        """
        if not line.startswith(_PREFIX):
            raise EncodingError("signature line does not start with an em dash and a space")
        name, sep, encoded = line[len(_PREFIX) :].partition(" ")
        if not sep:
            raise EncodingError("signature line has no space between key name and signature")
        if not is_valid_key_name(name):
            raise EncodingError(f"signature line has an invalid key name {name!r}")
        raw = _b64decode_canonical(encoded, f"signature by {name}")
        if len(raw) < 5:
            raise EncodingError(f"signature by {name} is shorter than a key ID and a byte")
        return cls(name, raw[:4], raw[4:])


@dataclass(frozen=True)
class Note:
    """A signed note: its text and every signature line, in order.

    Attributes:
        text: The signed text, ending in a newline.
        signatures: The signature lines, known keys or not; at least one.
    """

    text: str
    signatures: tuple[NoteSignature, ...]

    def __post_init__(self) -> None:
        if not self.text.endswith("\n"):
            raise EncodingError("note text must end in a newline")
        _check_note_chars(self.text, "note text")
        if not self.signatures:
            raise EncodingError("a signed note has at least one signature line")
        if len(self.signatures) > MAX_SIGNATURES:
            raise EncodingError(f"note has more than {MAX_SIGNATURES} signature lines")
        if len(self.to_bytes()) > MAX_NOTE_BYTES:
            raise EncodingError(f"note is larger than {MAX_NOTE_BYTES} bytes")

    @property
    def message(self) -> bytes:
        """The bytes that Ed25519 note signatures sign: the text as UTF-8."""
        return self.text.encode("utf-8")

    def to_text(self) -> str:
        """The note as text: text, blank line, one line per signature."""
        lines = "".join(f"{s.to_line()}\n" for s in self.signatures)
        return f"{self.text}\n{lines}"

    def to_bytes(self) -> bytes:
        """The note as UTF-8 bytes, exactly as read by :meth:`from_bytes`."""
        return self.to_text().encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> Note:
        """Parse a signed note strictly (c2sp.org/signed-note, "Format").

        Raises:
            EncodingError: the note is larger than :data:`MAX_NOTE_BYTES`, is
                not UTF-8, holds a control character other than newline, has
                no blank line before its signatures, has a malformed
                signature line or more than :data:`MAX_SIGNATURES` of them.
        """
        if len(data) > MAX_NOTE_BYTES:
            raise EncodingError(f"note is larger than {MAX_NOTE_BYTES} bytes")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise EncodingError("note is not valid UTF-8") from e
        return cls._parse(text)

    @classmethod
    def from_text(cls, text: str) -> Note:
        """Parse a signed note given as a string; see :meth:`from_bytes`.

        Raises:
            EncodingError: as :meth:`from_bytes`, or the string holds a lone
                surrogate.
        """
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise EncodingError("note is not valid UTF-8 (a lone surrogate)") from e
        return cls.from_bytes(data)

    @classmethod
    def _parse(cls, note: str) -> Note:
        _check_note_chars(note, "note")
        split = note.rfind("\n\n")
        if split < 0:
            raise EncodingError("note has no blank line between text and signatures")
        text, block = note[: split + 1], note[split + 2 :]
        if not block.endswith("\n"):
            raise EncodingError("note does not end with a signature line and a newline")
        lines = block[:-1].split("\n")
        if len(lines) > MAX_SIGNATURES:
            raise EncodingError(f"note has more than {MAX_SIGNATURES} signature lines")
        return cls(text, tuple(NoteSignature.from_line(line) for line in lines))

    def with_signature(self, signature: NoteSignature) -> Note:
        """This note with ``signature`` appended.

        A line of the same key (name and key ID) is dropped first, so
        re-signing replaces rather than repeats.
        """
        kept = tuple(
            s for s in self.signatures if (s.name, s.key_id) != (signature.name, signature.key_id)
        )
        return Note(self.text, (*kept, signature))

    def add_signature(self, key: SigningKey) -> Note:
        """This note with an Ed25519 signature by ``key`` over its text appended."""
        return self.with_signature(_signature_line(self.text, key))

    def verify(self, verifiers: Sequence[VerifierKey]) -> list[VerifierKey]:
        """The keys among ``verifiers`` whose signatures on this note verify.

        c2sp.org/signed-note, "Signatures": a line is from a known key when
        both its name and its key ID match one; other lines are ignored. Every
        line from a known key is checked, and one that fails rejects the
        whole note.

        Returns:
            The verifying keys, in the order given, each once.

        Raises:
            SignatureError: a line from a known key does not verify.
            UnknownKeyError: no known key signed the note, or two different
                verifiers share a name and key ID.
        """
        known: dict[tuple[str, bytes], VerifierKey] = {}
        for v in verifiers:
            held = known.setdefault((v.name, v.key_id), v)
            if held != v:
                raise UnknownKeyError(f"ambiguous key {v.name}+{v.key_id.hex()}: two keys given")
        message = self.message
        verified: set[tuple[str, bytes]] = set()
        for s in self.signatures:
            key = known.get((s.name, s.key_id))
            if key is None:
                continue
            try:
                key.verify(message, s.signature)
            except SignatureError as e:
                raise SignatureError(
                    f"note signature by {s.name}+{s.key_id.hex()} does not verify"
                ) from e
            verified.add((s.name, s.key_id))
        if not verified:
            signers = ", ".join(f"{s.name}+{s.key_id.hex()}" for s in self.signatures)
            raise UnknownKeyError(f"note is signed by no known key (signed by: {signers})")
        return [v for k, v in known.items() if k in verified]


def _signature_line(text: str, key: SigningKey) -> NoteSignature:
    return NoteSignature(key.name, key.verifier.key_id, key.sign(text.encode("utf-8")))


def sign(text: str, key: SigningKey) -> Note:
    """A note of ``text`` signed by ``key`` (c2sp.org/signed-note, "Ed25519 signatures").

    Raises:
        EncodingError: ``text`` does not end in a newline or holds a control
            character other than newline.
    """
    if not text.endswith("\n"):
        raise EncodingError("note text must end in a newline")
    _check_note_chars(text, "note text")
    return Note(text, (_signature_line(text, key),))
