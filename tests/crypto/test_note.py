"""C2SP signed notes: known answers, round trips, tampering and garbage."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from detente.crypto.keys import SigningKey, VerifierKey
from detente.crypto.note import MAX_NOTE_BYTES, MAX_SIGNATURES, Note, NoteSignature, sign
from detente.errors import EncodingError, SignatureError, UnknownKeyError, VerificationError

EM = "\u2014"

# golang.org/x/mod sumdb/note/note_test.go (TestSign, TestOpen).
PETER_SKEY_SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    f"{EM} PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    f"{EM} EnochRoot "
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
)

# c2sp.org/signed-note, "Example" (as quoted at C2SP/C2SP d4c16da, signed-note.md).
EXAMPLE_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
EXAMPLE_NOTE = (
    "This is an example message.\n"
    "\n"
    f"{EM} example.com/foo "
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)

# c2sp.org/signed-note, opening example (C2SP/C2SP signed-note.md): a text with
# an empty line of its own, signed by a key whose verifier key is not given.
QUASIMODO_NOTE = (
    "Ognuno sta solo sul cuor della terra\n"
    "trafitto da un raggio di sole:\n"
    "\n"
    "ed è subito sera.\n"
    "\n"
    f"{EM} quasimodo.example/salvatore "
    "NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
)


def peter() -> SigningKey:
    return SigningKey("PeterNeumann", Ed25519PrivateKey.from_private_bytes(PETER_SKEY_SEED))


PETER = VerifierKey.from_text(PETER_VKEY)
ENOCH = VerifierKey.from_text(ENOCH_VKEY)


# --- known answers ------------------------------------------------------------------------


def test_go_sign_output_is_reproduced() -> None:
    assert sign(GO_TEXT, peter()).to_text() == GO_TEXT + "\n" + PETER_SIG


def test_go_open_one_known_one_unknown() -> None:
    note = Note.from_text(GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG)
    assert note.text == GO_TEXT
    assert [s.name for s in note.signatures] == ["PeterNeumann", "EnochRoot"]
    assert note.signatures[1].key_id == bytes.fromhex("af0cfe78")
    assert note.verify([PETER]) == [PETER]
    assert note.verify([ENOCH, PETER]) == [ENOCH, PETER]
    with pytest.raises(UnknownKeyError, match="no known key"):
        note.verify([])


def test_spec_example_verifies_and_round_trips() -> None:
    key = VerifierKey.from_text(EXAMPLE_VKEY)
    note = Note.from_text(EXAMPLE_NOTE)
    assert note.text == "This is an example message.\n"
    assert note.verify([key]) == [key]
    assert note.to_text() == EXAMPLE_NOTE


def test_text_ends_at_the_last_blank_line() -> None:
    note = Note.from_text(QUASIMODO_NOTE)
    assert note.text.endswith("\n\ned è subito sera.\n")
    assert note.signatures[0].name == "quasimodo.example/salvatore"
    assert note.to_text() == QUASIMODO_NOTE
    with pytest.raises(UnknownKeyError):
        note.verify([PETER])


def test_go_invalid_signature_rejects_the_note() -> None:
    # Go's TestOpen, "Invalid signature": four base64 characters inserted.
    bad = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    note = Note.from_text(GO_TEXT + "\n" + bad)
    with pytest.raises(SignatureError, match="PeterNeumann\\+c74f20a3"):
        note.verify([PETER])


def test_one_bad_line_from_a_known_key_rejects_even_beside_a_good_one() -> None:
    bad = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    note = Note.from_text(GO_TEXT + "\n" + PETER_SIG + bad)
    with pytest.raises(SignatureError):
        note.verify([PETER])


def test_name_or_key_id_alone_does_not_make_a_key_known() -> None:
    # c2sp.org/signed-note, "Signatures": ignore lines sharing a name or an ID, not both.
    renamed = PETER_SIG.replace("PeterNeumann", "PeterNeumann2")
    assert Note.from_text(GO_TEXT + "\n" + renamed + PETER_SIG).verify([PETER]) == [PETER]
    raw = base64.b64decode(PETER_SIG.split(" ")[2])
    other_id = base64.b64encode(b"\x00\x00\x00\x00" + raw[4:]).decode()
    other = f"{EM} PeterNeumann {other_id}\n"
    assert Note.from_text(GO_TEXT + "\n" + other + PETER_SIG).verify([PETER]) == [PETER]
    with pytest.raises(UnknownKeyError):
        Note.from_text(GO_TEXT + "\n" + other).verify([PETER])


def _key_id_collision(name: str) -> tuple[VerifierKey, VerifierKey]:
    """Two public keys whose 32-bit key IDs under ``name`` collide (a birthday search)."""
    seen: dict[bytes, bytes] = {}
    for i in range(1 << 20):
        public_key = hashlib.sha256(i.to_bytes(4, "big")).digest()
        key_id = hashlib.sha256(name.encode() + b"\n\x01" + public_key).digest()[:4]
        if key_id in seen:
            return VerifierKey(name, seen[key_id]), VerifierKey(name, public_key)
        seen[key_id] = public_key
    raise AssertionError("no collision found")  # pragma: no cover


def test_ambiguous_verifiers() -> None:
    note = Note.from_text(GO_TEXT + "\n" + PETER_SIG)
    assert note.verify([PETER, PETER]) == [PETER]
    first, second = _key_id_collision("PeterNeumann")
    assert first.key_id == second.key_id and first != second
    with pytest.raises(UnknownKeyError, match="ambiguous"):
        note.verify([first, second])


@pytest.mark.parametrize(
    "message",
    [
        GO_TEXT,
        GO_TEXT + "\n",
        GO_TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + GO_TEXT + "\n" + PETER_SIG,
        GO_TEXT + "\r\n" + PETER_SIG,
        GO_TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Bad Name"),
        GO_TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        GO_TEXT + "\n" + PETER_SIG.replace(EM, "--"),
        GO_TEXT + "\n" + f"{EM} PeterNeumann\n",
        GO_TEXT + "\n" + f"{EM} PeterNeumann \n",
        GO_TEXT + "\n" + f"{EM} PeterNeumann AAAAAA==\n",  # key ID and no signature
        GO_TEXT + "\n" + f"{EM} PeterNeumann AAAAAAB=\n",  # not canonical base64
        GO_TEXT + "\n" + f"{EM} Peter+Neumann AAAAAAA=\n",
        GO_TEXT + "\n" + PETER_SIG.replace("=\n", "\n"),  # padding missing
        GO_TEXT + "\n" + PETER_SIG + "\n",  # trailing blank line
        "\n" + PETER_SIG,  # empty text
    ],
)
def test_malformed_notes(message: str) -> None:
    with pytest.raises(EncodingError):
        Note.from_text(message)


def test_invalid_utf8_and_lone_surrogates() -> None:
    with pytest.raises(EncodingError, match="UTF-8"):
        Note.from_bytes(b"\xff" + (GO_TEXT + "\n" + PETER_SIG).encode())
    with pytest.raises(EncodingError, match="UTF-8"):
        Note.from_text("\ud800" + GO_TEXT + "\n" + PETER_SIG)


def test_limits() -> None:
    many = GO_TEXT + "\n" + PETER_SIG * MAX_SIGNATURES
    assert len(Note.from_text(many).signatures) == MAX_SIGNATURES
    assert Note.from_text(many).verify([PETER]) == [PETER]
    with pytest.raises(EncodingError, match="more than 100"):
        Note.from_text(GO_TEXT + "\n" + PETER_SIG * (MAX_SIGNATURES + 1))
    big = "x" * (MAX_NOTE_BYTES - 200) + "\n"
    with pytest.raises(EncodingError, match="larger than"):
        Note.from_bytes((big + "\n" + PETER_SIG).encode() + b" " * 200)
    with pytest.raises(EncodingError, match="larger than"):
        sign("y" * MAX_NOTE_BYTES + "\n", peter())


def test_construction_is_checked() -> None:
    line = Note.from_text(GO_TEXT + "\n" + PETER_SIG).signatures[0]
    with pytest.raises(EncodingError, match="newline"):
        Note("no newline", (line,))
    with pytest.raises(EncodingError, match="at least one"):
        Note(GO_TEXT, ())
    with pytest.raises(EncodingError, match="more than 100"):
        Note(GO_TEXT, (line,) * (MAX_SIGNATURES + 1))
    with pytest.raises(EncodingError, match="UTF-8"):
        Note("\ud800\n", (line,))
    with pytest.raises(EncodingError, match="control"):
        Note("a\tb\n", (line,))
    with pytest.raises(EncodingError):
        NoteSignature("a b", b"\x00" * 4, b"\x00")
    with pytest.raises(EncodingError):
        NoteSignature("a", b"\x00" * 3, b"\x00")
    with pytest.raises(EncodingError):
        NoteSignature("a", b"\x00" * 4, b"")
    with pytest.raises(EncodingError, match="newline"):
        sign("abc", peter())
    with pytest.raises(EncodingError, match="control"):
        sign("a\rb\n", peter())


# --- signing -------------------------------------------------------------------------------


def test_add_signature_appends_and_replaces() -> None:
    enoch = SigningKey.generate("EnochRoot")
    note = sign(GO_TEXT, peter()).add_signature(enoch)
    assert [s.name for s in note.signatures] == ["PeterNeumann", "EnochRoot"]
    assert note.verify([PETER, enoch.verifier]) == [PETER, enoch.verifier]
    again = note.add_signature(peter())
    assert [s.name for s in again.signatures] == ["EnochRoot", "PeterNeumann"]
    assert Note.from_text(again.to_text()) == again


def test_unknown_lines_survive_add_signature() -> None:
    note = Note.from_text(QUASIMODO_NOTE).add_signature(peter())
    assert note.to_text().startswith(QUASIMODO_NOTE)
    assert note.verify([PETER]) == [PETER]


# --- properties ------------------------------------------------------------------------------

_note_text = st.lists(
    st.text(
        alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\n"),
        max_size=30,
    ).filter(lambda line: all(ord(c) >= 0x20 for c in line)),
    min_size=1,
    max_size=6,
).map(lambda lines: "\n".join(lines) + "\n")


@given(_note_text)
def test_round_trip_any_text(text: str) -> None:
    key = peter()
    note = sign(text, key)
    parsed = Note.from_bytes(note.to_bytes())
    assert parsed == note
    assert parsed.to_bytes() == note.to_bytes()
    assert parsed.text == text
    assert parsed.verify([PETER]) == [PETER]


def _flips(data: bytes):
    for i in range(len(data)):
        for mask in (0x01, 0x20, 0x80, 0xFF):
            mutated = bytearray(data)
            mutated[i] ^= mask
            yield bytes(mutated)


def test_every_byte_flip_breaks_verification() -> None:
    data = (GO_TEXT + "\n" + PETER_SIG).encode()
    for mutated in _flips(data):
        try:
            note = Note.from_bytes(mutated)
        except EncodingError:
            continue
        with pytest.raises(VerificationError):
            note.verify([PETER])


def test_every_byte_deletion_breaks_verification() -> None:
    data = (GO_TEXT + "\n" + PETER_SIG).encode()
    for i in range(len(data)):
        try:
            note = Note.from_bytes(data[:i] + data[i + 1 :])
        except EncodingError:
            continue
        with pytest.raises(VerificationError):
            note.verify([PETER])


@given(st.binary(max_size=400))
def test_garbage_bytes_raise_only_encoding_error(data: bytes) -> None:
    try:
        note = Note.from_bytes(data)
    except EncodingError:
        return
    assert note.to_bytes() == data


@given(st.text(max_size=400))
def test_garbage_text_raises_only_encoding_error(text: str) -> None:
    try:
        note = Note.from_text(text)
    except EncodingError:
        return
    assert note.to_text() == text


_pieces = st.sampled_from(
    [
        "\n",
        "\n\n",
        EM,
        f"{EM} ",
        " ",
        "PeterNeumann",
        "x08go/",
        "AAAA",
        "==",
        "=",
        "+",
        "\r",
        "\x00",
    ]
)


@given(st.lists(_pieces | st.text(max_size=5), max_size=40).map("".join))
def test_near_notes_raise_only_encoding_error(text: str) -> None:
    for candidate in (text, GO_TEXT + "\n" + text, GO_TEXT + "\n" + PETER_SIG + text):
        try:
            note = Note.from_text(candidate)
        except EncodingError:
            continue
        assert note.to_text() == candidate
        try:
            note.verify([PETER])
        except VerificationError:
            pass


@given(st.text(max_size=120))
def test_garbage_signature_lines_raise_only_encoding_error(line: str) -> None:
    try:
        parsed = NoteSignature.from_line(line)
    except EncodingError:
        return
    assert parsed.to_line() == line
