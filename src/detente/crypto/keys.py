"""Node identity: an Ed25519 key with a name, as C2SP signed notes use it.

A node signs envelopes, checkpoints of its own log and cosignatures of the
logs it mirrors with one Ed25519 key. Its public half travels out of band as
a C2SP verifier key (c2sp.org/signed-note, "Verifier keys"; the format of
golang.org/x/mod/sumdb/note):

    <name>+<hex key ID>+<base64(0x01 || 32-byte Ed25519 public key)>

where the key ID is ``SHA-256(name || 0x0A || 0x01 || public key)[:4]``
(c2sp.org/signed-note, "Signatures" and "Ed25519 signatures"). The same key
signs cosignatures under signature type 0x04 (c2sp.org/tlog-cosignature,
"Format"), whose key ID differs only in that byte.

The private half lives in a PKCS#8 PEM file, optionally encrypted, that only
its owner may read. The file holds no name: the node configuration supplies
it to :func:`load_signing_key`.

Example:
    >>> key = SigningKey.generate("example.org/log")
    >>> vkey = VerifierKey.from_text(key.verifier.to_text())
    >>> vkey == key.verifier
    True
    >>> vkey.verify(b"hello", key.sign(b"hello"))
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from detente.crypto.files import create_private_file
from detente.errors import EncodingError, KeyFileError, SignatureError

__all__ = [
    "ALG_COSIGNATURE_V1",
    "ALG_ED25519",
    "SigningKey",
    "VerifierKey",
    "is_valid_key_name",
    "load_signing_key",
    "save_signing_key",
]

ALG_ED25519 = 0x01
"""Signature type of plain Ed25519 note signatures (c2sp.org/signed-note)."""

ALG_COSIGNATURE_V1 = 0x04
"""Signature type of timestamped Ed25519 cosignatures (c2sp.org/tlog-cosignature)."""

_PUBLIC_KEY_SIZE = 32
_SIGNATURE_SIZE = 64
_FINGERPRINT_BYTES = 20
_MAX_KEY_FILE_BYTES = 64 * 1024
_KEY_ID_HEX = re.compile(r"[0-9a-f]{8}")


def is_valid_key_name(name: str) -> bool:
    """Whether ``name`` may name a key in a signed note.

    c2sp.org/signed-note, "Format": key names MUST be non-empty and MUST NOT
    contain Unicode spaces or plus (U+002B). Control characters are refused
    too, since a note may not contain them, and so is anything that does not
    encode as UTF-8 (a lone surrogate).
    """
    if not name or "+" in name:
        return False
    if any(ch.isspace() or ord(ch) < 0x20 for ch in name):
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _key_id(name: str, alg: int, public_key: bytes) -> bytes:
    """c2sp.org/signed-note: ``SHA-256(key name || 0x0A || type || public key)[:4]``."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([alg]) + public_key).digest()[:4]


def _b64decode_canonical(text: str, what: str) -> bytes:
    """Decode standard padded base64 (RFC 4648, section 4), refusing any other spelling.

    Only the canonical spelling is accepted, so that parsing and writing back
    gives the same bytes and no two texts carry the same signature.
    """
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as e:
        raise EncodingError(f"{what} is not valid base64") from e
    if base64.b64encode(raw).decode("ascii") != text:
        raise EncodingError(f"{what} is not canonical base64 (RFC 4648, section 4)")
    return raw


@dataclass(frozen=True)
class VerifierKey:
    """The public half of a node key: a key name and a 32-byte Ed25519 public key.

    Attributes:
        name: The key name. For a log's key it is the log's checkpoint origin.
        public_key: The 32-byte Ed25519 public key (RFC 8032 encoding).
    """

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise EncodingError(
                f"invalid key name {self.name!r}: it must be non-empty, without spaces, "
                "'+' or control characters"
            )
        if not isinstance(self.public_key, bytes) or len(self.public_key) != _PUBLIC_KEY_SIZE:
            raise EncodingError("an Ed25519 public key is 32 bytes")

    @property
    def key_id(self) -> bytes:
        """The 4-byte key ID of this key's plain Ed25519 note signatures (type 0x01)."""
        return _key_id(self.name, ALG_ED25519, self.public_key)

    @property
    def cosignature_key_id(self) -> bytes:
        """The 4-byte key ID of this key's tlog-cosignature/v1 signatures (type 0x04)."""
        return _key_id(self.name, ALG_COSIGNATURE_V1, self.public_key)

    @functools.cached_property
    def _public(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.public_key)

    def to_text(self) -> str:
        """The C2SP verifier key: ``<name>+<hex key ID>+<base64(0x01 || key)>``."""
        material = base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id.hex()}+{material}"

    @classmethod
    def from_text(cls, text: str) -> VerifierKey:
        """Parse a C2SP verifier key of signature type 0x01 (Ed25519).

        The key ID must be eight lowercase hex digits equal to the one computed
        from the name and key, and the base64 must be canonical, so a key
        that parses writes back to the same text.

        Raises:
            EncodingError: the text is not such a verifier key; the message
                says which part is wrong.
        """
        name, sep1, rest = text.partition("+")
        key_id_hex, sep2, material = rest.partition("+")
        if not sep1 or not sep2:
            raise EncodingError("a verifier key has three parts, <name>+<hex key ID>+<base64 key>")
        if not is_valid_key_name(name):
            raise EncodingError(
                f"verifier key name {name!r} is invalid: it must be non-empty, without "
                "spaces, '+' or control characters"
            )
        if not _KEY_ID_HEX.fullmatch(key_id_hex):
            raise EncodingError(f"verifier key ID {key_id_hex!r} is not eight lowercase hex digits")
        raw = _b64decode_canonical(material, "verifier key material")
        if not raw:
            raise EncodingError("verifier key material is empty")
        if raw[0] != ALG_ED25519:
            hint = " (a cosignature key; give the node's 0x01 key)" if raw[0] == 4 else ""
            raise EncodingError(
                f"verifier key has signature type 0x{raw[0]:02x}{hint}; only 0x01 "
                "(Ed25519) is supported"
            )
        if len(raw) != 1 + _PUBLIC_KEY_SIZE:
            raise EncodingError(f"verifier key holds {len(raw) - 1} bytes of public key, not 32")
        key = cls(name, raw[1:])
        if key.key_id.hex() != key_id_hex:
            raise EncodingError(
                f"verifier key ID {key_id_hex} does not match its name and key "
                f"(expected {key.key_id.hex()})"
            )
        return key

    def verify(self, message: bytes, signature: bytes) -> None:
        """Check an Ed25519 signature (RFC 8032) by this key over ``message``.

        Raises:
            SignatureError: the signature is not 64 bytes or does not verify.
        """
        if len(signature) != _SIGNATURE_SIZE:
            raise SignatureError(f"signature by {self.name} is {len(signature)} bytes, not 64")
        try:
            self._public.verify(signature, message)
        except (InvalidSignature, ValueError) as e:
            raise SignatureError(
                f"signature by {self.name}+{self.key_id.hex()} does not verify"
            ) from e

    def fingerprint(self) -> str:
        """A fingerprint to compare keys by reading it aloud, e.g. over the phone.

        It is the first 160 bits of SHA-256 over the verifier key text (so it
        binds the name as well as the key), in lowercase RFC 4648 base32
        (letters and the digits 2-7: no 0/o or 1/l to confuse), as eight
        groups of four characters joined by ``-``, e.g.
        ``ftzl-4q7a-...``. Making another key with the same fingerprint costs
        about 2**160 hashes, well above the 128-bit floor; 32 characters is
        still short enough to read out and check.
        """
        digest = hashlib.sha256(self.to_text().encode("utf-8")).digest()[:_FINGERPRINT_BYTES]
        text = base64.b32encode(digest).decode("ascii").lower()
        return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


class SigningKey:
    """A node's private Ed25519 key with its key name.

    The private key never appears in ``repr`` or in error messages.
    """

    __slots__ = ("_name", "_private_key")

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        if not is_valid_key_name(name):
            raise EncodingError(
                f"invalid key name {name!r}: it must be non-empty, without spaces, "
                "'+' or control characters"
            )
        self._name = name
        self._private_key = private_key

    @classmethod
    def generate(cls, name: str) -> SigningKey:
        """A fresh key from the operating system's random source."""
        return cls(name, Ed25519PrivateKey.generate())

    @property
    def name(self) -> str:
        """The key name, as it appears in signature lines."""
        return self._name

    @property
    def verifier(self) -> VerifierKey:
        """The public half of this key."""
        raw = self._private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return VerifierKey(self._name, raw)

    def sign(self, message: bytes) -> bytes:
        """A 64-byte Ed25519 signature (RFC 8032) over ``message``.

        Callers put a context prefix in ``message`` so no signature can be
        replayed as another kind (see the design, "Wire format").
        """
        return self._private_key.sign(message)

    def __repr__(self) -> str:
        return f"SigningKey(name={self._name!r}, key_id={self.verifier.key_id.hex()})"


def save_signing_key(path: Path | str, key: SigningKey, *, passphrase: bytes | None) -> None:
    """Write ``key`` as a PKCS#8 PEM file readable only by its owner.

    With a passphrase the PEM is encrypted (``BestAvailableEncryption``). The
    file is written under a temporary name in the same directory with mode
    0600, synced, then linked into place, which fails if ``path`` exists: an
    existing key is never overwritten and no half-written key is ever seen.

    Raises:
        KeyFileError: ``path`` exists, its directory is not writable, or the
            passphrase is empty.
    """
    path = Path(path)
    if passphrase is not None and not passphrase:
        raise KeyFileError("an empty passphrase is not allowed; pass None for no passphrase")
    if os.path.lexists(path):
        raise KeyFileError(f"refusing to overwrite the existing key file {path}")
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase is not None
        else serialization.NoEncryption()
    )
    pem = key._private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    try:
        create_private_file(path, pem)
    except FileExistsError as e:
        raise KeyFileError(f"refusing to overwrite the existing key file {path}") from e
    except OSError as e:
        raise KeyFileError(f"cannot create key file {path}: {e.strerror}") from e


def load_signing_key(path: Path | str, *, name: str, passphrase: bytes | None) -> SigningKey:
    """Read a key written by :func:`save_signing_key` and give it ``name``.

    Raises:
        KeyFileError: the file is missing or unreadable, group or others may
            access it, it needs a passphrase that was not given (or is not
            encrypted but one was given), the passphrase is wrong, or it is
            not an Ed25519 private key. The message never holds key material
            or the passphrase.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError as e:
        raise KeyFileError(f"key file {path} does not exist") from e
    except OSError as e:
        raise KeyFileError(f"cannot open key file {path}: {e.strerror}") from e
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise KeyFileError(f"key file {path} is not a regular file")
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o077:
            raise KeyFileError(
                f"key file {path} has mode {mode:04o}: group or others may access it; "
                f"fix with: chmod 600 {path}"
            )
        data = b""
        while len(data) <= _MAX_KEY_FILE_BYTES:
            chunk = os.read(fd, _MAX_KEY_FILE_BYTES + 1 - len(data))
            if not chunk:
                break
            data += chunk
    except OSError as e:
        raise KeyFileError(f"cannot read key file {path}: {e.strerror}") from e
    finally:
        os.close(fd)
    if len(data) > _MAX_KEY_FILE_BYTES:
        raise KeyFileError(f"key file {path} is too large to be a key")
    # PKCS#8 (what save_signing_key writes) or OpenSSL's traditional PEM encryption.
    encrypted = (
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in data or b"Proc-Type: 4,ENCRYPTED" in data
    )
    if encrypted and passphrase is None:
        raise KeyFileError(f"key file {path} is encrypted: a passphrase is needed")
    if not encrypted and passphrase is not None:
        raise KeyFileError(f"key file {path} is not encrypted, but a passphrase was given")
    try:
        private_key = serialization.load_pem_private_key(data, password=passphrase)
    except UnsupportedAlgorithm as e:
        raise KeyFileError(f"key file {path} holds a key of an unsupported kind") from e
    except TypeError as e:
        # Another kind of encrypted PEM than PKCS#8 (not one this module writes).
        needs = "needs a passphrase" if passphrase is None else "is not encrypted"
        raise KeyFileError(f"key file {path} {needs}") from e
    except ValueError as e:
        if passphrase is not None:
            raise KeyFileError(
                f"cannot decrypt key file {path}: wrong passphrase, or the file is damaged"
            ) from e
        raise KeyFileError(f"key file {path} is not a PEM private key") from e
    if not isinstance(private_key, Ed25519PrivateKey):
        raise KeyFileError(
            f"key file {path} holds a {type(private_key).__name__}, not an Ed25519 key"
        )
    return SigningKey(name, private_key)
