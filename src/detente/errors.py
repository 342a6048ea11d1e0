"""Every error Détente raises on purpose.

The tree is shallow on purpose: callers catch "the input or the peer is
wrong" apart from "our own I/O failed", and a few leaves where the caller
acts differently on each.

    DetenteError
    ├── VerificationError            a proof, signature or record does not hold
    │   ├── SignatureError           a signature does not verify
    │   ├── UnknownKeyError          no key is known for that name or party
    │   ├── WrongAgreementError      an envelope names another agreement
    │   ├── TypeNotAllowedError      the sender may not send that type
    │   ├── BodyError                body fails its schema, hash or length
    │   ├── SequenceError            seq does not follow the log
    │   ├── ChainError               prev does not link to the previous entry
    │   ├── ClockSkewError           created lies in the future beyond the skew
    │   ├── ForkError                different bytes where bytes are held
    │   ├── ConsistencyError         a checkpoint contradicts one held
    │   ├── AuthenticationError      a request is not signed by a known peer or operator
    │   └── PermissionDeniedError    a known caller asks for what is not theirs
    ├── InputError                   malformed input: file, text, argument
    │   ├── TooLargeError            input over its size limit
    │   ├── AgreementError           an agreement file is invalid
    │   ├── EncodingError            bytes that do not parse as what they claim
    │   ├── SuspendedError           a message conflicts with the sender's own suspensions
    │   ├── ConflictError            the request conflicts with the state: decided already
    │   ├── NotFoundError            the request names something the node does not hold
    │   └── ConfigError              a node directory or its config is unusable
    ├── KeyFileError                 a key file is missing, unreadable or locked
    └── StoreError                   the database failed or holds what it must not

Example:
    >>> from detente.errors import VerificationError, SignatureError
    >>> issubclass(SignatureError, VerificationError)
    True
"""

from __future__ import annotations

__all__ = [
    "AgreementError",
    "AuthenticationError",
    "BodyError",
    "ChainError",
    "ClockSkewError",
    "ConfigError",
    "ConflictError",
    "ConsistencyError",
    "DetenteError",
    "EncodingError",
    "ForkError",
    "InputError",
    "NotFoundError",
    "KeyFileError",
    "PermissionDeniedError",
    "SequenceError",
    "SignatureError",
    "StoreError",
    "SuspendedError",
    "TooLargeError",
    "TypeNotAllowedError",
    "UnknownKeyError",
    "VerificationError",
    "WrongAgreementError",
]


class DetenteError(Exception):
    """Base of every error Détente raises on purpose."""


class VerificationError(DetenteError):
    """A proof, signature or stored record does not hold."""


class SignatureError(VerificationError):
    """A signature does not verify under the key it names."""


class UnknownKeyError(VerificationError):
    """No key is known for the name, key id or party given."""


class WrongAgreementError(VerificationError):
    """An envelope was made under another agreement than this node's."""


class TypeNotAllowedError(VerificationError):
    """The agreement has no such message type, or the sender may not send it."""


class BodyError(VerificationError):
    """A body fails its type's schema, or does not match its hash or length."""


class SequenceError(VerificationError):
    """An envelope's seq does not follow the sender's log."""


class ChainError(VerificationError):
    """An envelope's prev does not equal the leaf hash of the previous entry."""


class ClockSkewError(VerificationError):
    """An envelope's created time is further in the future than the allowed skew."""


class ForkError(VerificationError):
    """Different bytes were offered for a position whose bytes are already held."""


class ConsistencyError(VerificationError):
    """A checkpoint cannot be an extension of (or equal to) one already held."""


class AuthenticationError(VerificationError):
    """A request is unsigned, signed by an unknown key, stale, replayed or badly signed."""


class PermissionDeniedError(VerificationError):
    """An authenticated caller asks for something its role or party may not have."""


class InputError(DetenteError):
    """Input from a file, an argument or a text is malformed."""


class TooLargeError(InputError):
    """Input is larger than its limit allows."""


class AgreementError(InputError):
    """An agreement file is invalid; the message names file, field and line."""


class EncodingError(InputError):
    """Bytes or text do not parse as the format they claim to be."""


class SuspendedError(InputError):
    """A message conflicts with its sender's suspensions: a suspended type, or a repeat."""


class ConflictError(InputError):
    """A request conflicts with the current state, e.g. a release decided already."""


class NotFoundError(InputError):
    """A request names something (a release, by id) that the node does not hold."""


class ConfigError(InputError):
    """A node directory or its configuration is missing or unusable."""


class KeyFileError(DetenteError):
    """A key file is missing, unreadable, of the wrong kind or needs a passphrase."""


class StoreError(DetenteError):
    """The database failed, or holds something it must not."""
