"""Keys, C2SP signed notes and RFC 8785 canonical JSON."""

from detente.crypto.canonical import canonical_json
from detente.crypto.keys import SigningKey, VerifierKey, load_signing_key, save_signing_key
from detente.crypto.note import Note, NoteSignature

__all__ = [
    "Note",
    "NoteSignature",
    "SigningKey",
    "VerifierKey",
    "canonical_json",
    "load_signing_key",
    "save_signing_key",
]
