"""Checkpoints (C2SP tlog-checkpoint) and v1 cosignatures (C2SP tlog-cosignature)."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detente.crypto.keys import SigningKey, VerifierKey
from detente.crypto.note import Note, NoteSignature
from detente.errors import EncodingError, SignatureError, UnknownKeyError, VerificationError
from detente.record.checkpoint import (
    Checkpoint,
    Cosignature,
    SignedCheckpoint,
    cosign,
    cosignature_message,
    origin_for,
)

EM = "\u2014"

# c2sp.org/tlog-checkpoint and c2sp.org/tlog-cosignature (C2SP/C2SP,
# tlog-checkpoint.md and tlog-cosignature.md): the example checkpoint, its log
# signature and a witness cosignature. No public keys are published for them,
# so they are parsed, not verified.
SPEC_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SPEC_LOG_LINE = (
    f"{EM} example.com/behind-the-sofa "
    "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8="
)
SPEC_WITNESS_LINE = (
    f"{EM} witness.example.com/w1 "
    "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA=="
)
# tlog-cosignature, "Ed25519 signed message": the message for that checkpoint at time 1679315147.
SPEC_COSIGNED_MESSAGE = (
    "cosignature/v1\n"
    "time 1679315147\n"
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)

# A checkpoint of the transparency.dev staging CT log arche2025h1 with its
# Ed25519 log signature (key ID ba2f06c0), its RFC 6962 signature (type 0x05,
# unknown here) and four witness cosignatures, as quoted in the tests of
# florolf/tlog-scales (tests/test_signing.py); with the log's verifier key and
# the type-0x04 verifier key of the witness remora.n621.de.
REAL_CHECKPOINT = f"""arche2025h1.staging.ct.transparency.dev
1432088532
U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=

{EM} arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6hoGREPMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=
{EM} arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhUkzbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=
{EM} transparency.dev/DEV:witness-little-garden 2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/KYTzwZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vdgJY096st5BQ==
{EM} witness1.smartit.nu/witness1 pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+/iEcxZ75W3u5hNI7TOQtmJbqmNWVuE0tgh0XwzdZsDsUAQ==
{EM} remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==
{EM} witness.stagemole.eu Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOUvVr+AJmIY/2TUFucgKi7lI7cUiOvKFYe/TmN9DAg==
"""  # noqa: E501 - verbatim vector
ARCHE_VKEY = (
    "arche2025h1.staging.ct.transparency.dev+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f"
)
REMORA_VKEY_0X04 = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"

AGREEMENT = "3f2a9c0e5b7d1a48" + "9" * 48
ORIGIN = origin_for(AGREEMENT, "us")


def remora() -> VerifierKey:
    name, _, material = REMORA_VKEY_0X04.split("+", 2)
    raw = base64.b64decode(material)
    assert raw[0] == 0x04
    return VerifierKey(name, raw[1:])


@pytest.fixture(scope="module")
def log_key() -> SigningKey:
    return SigningKey.generate(ORIGIN)


@pytest.fixture(scope="module")
def witness() -> SigningKey:
    return SigningKey.generate("detente.node/ru")


def checkpoint(size: int = 7, extensions: tuple[str, ...] = ()) -> Checkpoint:
    return Checkpoint(ORIGIN, size, bytes(range(32)), extensions)


# --- known answers ------------------------------------------------------------------------


def test_real_checkpoint_log_signature_and_cosignature_verify() -> None:
    signed = SignedCheckpoint.from_text(REAL_CHECKPOINT)
    assert signed.to_text() == REAL_CHECKPOINT
    assert signed.checkpoint.origin == "arche2025h1.staging.ct.transparency.dev"
    assert signed.checkpoint.size == 1432088532
    assert signed.checkpoint.extensions == ()
    signed.verify(VerifierKey.from_text(ARCHE_VKEY))
    witness = remora()
    assert witness.cosignature_key_id.hex() == "da77ade7"
    [cosig] = signed.cosignatures([witness])
    assert cosig.name == "remora.n621.de"
    assert cosig.timestamp == 1779573024
    assert Cosignature.from_line(cosig.to_line()) == cosig
    cosig.verify(signed.checkpoint, witness)


def test_real_checkpoint_tampered() -> None:
    signed = SignedCheckpoint.from_text(REAL_CHECKPOINT)
    moved = dataclasses.replace(signed.checkpoint, size=42)
    [cosig] = signed.cosignatures([remora()])
    with pytest.raises(SignatureError):
        cosig.verify(moved, remora())
    forged = SignedCheckpoint.from_text(REAL_CHECKPOINT.replace("1432088532", "1432088533"))
    with pytest.raises(SignatureError):
        forged.verify(VerifierKey.from_text(ARCHE_VKEY))
    with pytest.raises(SignatureError):
        forged.cosignatures([remora()])


def test_real_checkpoint_witness_timestamps_are_big_endian() -> None:
    signed = SignedCheckpoint.from_text(REAL_CHECKPOINT)
    cosigs = [Cosignature.from_note_signature(s) for s in signed.note.signatures[2:]]
    assert {c.timestamp for c in cosigs} == {1779573024}


def test_spec_example_checkpoint_parses() -> None:
    text = SPEC_BODY + "\n" + SPEC_LOG_LINE + "\n" + SPEC_WITNESS_LINE + "\n"
    signed = SignedCheckpoint.from_text(text)
    assert signed.to_text() == text
    assert signed.checkpoint == Checkpoint(
        "example.com/behind-the-sofa",
        20852163,
        base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="),
    )
    assert signed.checkpoint.to_body() == SPEC_BODY
    cosig = Cosignature.from_line(SPEC_WITNESS_LINE)
    assert cosig.name == "witness.example.com/w1"
    assert cosig.key_id.hex() == "8d66cf3f"
    assert cosig.timestamp == 1679315147
    assert cosig.to_line() == SPEC_WITNESS_LINE
    message = cosignature_message(signed.checkpoint, cosig.timestamp)
    assert message == SPEC_COSIGNED_MESSAGE.encode()


# --- bodies --------------------------------------------------------------------------------


def test_body_layout() -> None:
    cp = checkpoint(0)
    assert cp.to_body() == f"{ORIGIN}\n0\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
    assert Checkpoint.from_body(cp.to_body()) == cp
    ext = checkpoint(5, ("ext one", "ext two"))
    assert ext.to_body().endswith("\next one\next two\n")
    assert Checkpoint.from_body(ext.to_body()) == ext


ROOT = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (f"o\n7\n{ROOT}", "newline"),
        ("o\n7\n", "three lines"),
        (f"\n7\n{ROOT}\n", "origin is empty"),
        (f"o\n07\n{ROOT}\n", "leading zeros"),
        (f"o\n-7\n{ROOT}\n", "decimal"),
        (f"o\n+7\n{ROOT}\n", "decimal"),
        (f"o\n 7\n{ROOT}\n", "decimal"),
        (f"o\n7 \n{ROOT}\n", "decimal"),
        (f"o\n1_000\n{ROOT}\n", "decimal"),
        (f"o\n\u0667\n{ROOT}\n", "decimal"),  # ARABIC-INDIC DIGIT SEVEN
        (f"o\n\n{ROOT}\n", "decimal"),
        (f"o\n18446744073709551616\n{ROOT}\n", "2\\*\\*64"),
        (f"o\n999999999999999999999999\n{ROOT}\n", "2\\*\\*64"),
        ("o\n7\nAAAA\n", "3 bytes, not 32"),
        (f"o\n7\n{ROOT[:-2]}9=\n", "canonical"),
        (f"o\n7\n{ROOT[:-1]}\n", "base64"),
        (f"o\n7\n{ROOT} \n", "base64"),
        (f"o\n7\n{ROOT}\n\next\n", "extension line is empty"),
        (f"o\n7\n{ROOT}\n\n", "extension line is empty"),
        (f"o\r\n7\n{ROOT}\n", "control"),
        (f"o\n7\n{ROOT}\nex\tt\n", "control"),
    ],
)
def test_malformed_bodies(body: str, complaint: str) -> None:
    with pytest.raises(EncodingError, match=complaint):
        Checkpoint.from_body(body)


def test_largest_tree_size() -> None:
    cp = Checkpoint.from_body(f"o\n18446744073709551615\n{ROOT}\n")
    assert cp.size == 2**64 - 1


@pytest.mark.parametrize(
    "fields",
    [
        {"origin": ""},
        {"origin": "a\nb"},
        {"size": -1},
        {"size": 2**64},
        {"size": True},
        {"root": bytes(31)},
        {"extensions": ("",)},
        {"extensions": ("a\nb",)},
        {"origin": "\ud800"},
    ],
)
def test_construction_is_checked(fields: dict[str, Any]) -> None:
    with pytest.raises(EncodingError):
        dataclasses.replace(checkpoint(), **fields)


def test_origin_may_be_any_non_empty_line() -> None:
    # tlog-checkpoint: clients MUST NOT assume the origin follows the URL form.
    cp = Checkpoint.from_body(f"my log + friends\n1\n{ROOT}\n")
    assert cp.origin == "my log + friends"


@given(
    st.text(alphabet=st.characters(exclude_categories=["Cs", "Cc"]), min_size=1, max_size=40),
    st.integers(0, 2**64 - 1),
    st.binary(min_size=32, max_size=32),
    st.lists(
        st.text(alphabet=st.characters(exclude_categories=["Cs", "Cc"]), min_size=1, max_size=20),
        max_size=3,
    ),
)
def test_body_round_trip(origin: str, size: int, root: bytes, extensions: list[str]) -> None:
    cp = Checkpoint(origin, size, root, tuple(extensions))
    assert Checkpoint.from_body(cp.to_body()) == cp


@given(st.text(max_size=200))
def test_garbage_bodies_raise_only_encoding_error(text: str) -> None:
    try:
        cp = Checkpoint.from_body(text)
    except EncodingError:
        return
    assert cp.to_body() == text


# --- origins -------------------------------------------------------------------------------


def test_origin_for() -> None:
    assert origin_for("0123456789abcdef" + "0" * 48, "us") == "detente.log/0123456789abcdef/us"


@pytest.mark.parametrize(
    ("agreement", "party"),
    [
        ("0123456789ABCDEF" + "0" * 48, "us"),
        ("0123456789abcdef", "us"),
        ("0123456789abcdef" + "0" * 49, "us"),
        (AGREEMENT, ""),
        (AGREEMENT, "u s"),
        (AGREEMENT, "u+s"),
        (AGREEMENT, "u/s"),
        (AGREEMENT, "u\ns"),
    ],
)
def test_origin_for_refuses(agreement: str, party: str) -> None:
    with pytest.raises(EncodingError):
        origin_for(agreement, party)


# --- log signatures ---------------------------------------------------------------------------


def test_sign_verify_round_trip(log_key: SigningKey) -> None:
    signed = checkpoint().sign(log_key)
    signed.verify(log_key.verifier)
    again = SignedCheckpoint.from_text(signed.to_text())
    assert again == signed
    assert SignedCheckpoint.from_bytes(signed.to_bytes()) == signed
    assert again.to_text() == signed.to_text()
    again.verify(log_key.verifier)


def test_log_key_must_be_named_after_the_origin(log_key: SigningKey) -> None:
    other = SigningKey.generate(origin_for(AGREEMENT, "ru"))
    with pytest.raises(ValueError, match="origin"):
        checkpoint().sign(other)
    # Signed under another name by hand: the log's key does not vouch for it.
    from detente.crypto.note import sign

    note = sign(checkpoint().to_body(), other)
    signed = SignedCheckpoint(checkpoint(), note)
    with pytest.raises(UnknownKeyError, match="not the key of log"):
        signed.verify(other.verifier)
    with pytest.raises(UnknownKeyError):
        signed.verify(log_key.verifier)


def test_verify_with_wrong_key(log_key: SigningKey) -> None:
    signed = checkpoint().sign(log_key)
    impostor = SigningKey.generate(ORIGIN)
    with pytest.raises(UnknownKeyError):
        signed.verify(impostor.verifier)


def test_note_must_carry_the_body(log_key: SigningKey) -> None:
    signed = checkpoint().sign(log_key)
    with pytest.raises(EncodingError):
        SignedCheckpoint(checkpoint(size=8), signed.note)


def test_signed_garbage() -> None:
    with pytest.raises(EncodingError):
        SignedCheckpoint.from_text(f"o\n07\n{ROOT}\n\n{SPEC_LOG_LINE}\n")
    with pytest.raises(EncodingError):
        SignedCheckpoint.from_bytes(b"\xff")


# --- cosignatures ----------------------------------------------------------------------------


def test_cosign_and_verify(log_key: SigningKey, witness: SigningKey) -> None:
    signed = checkpoint().sign(log_key)
    cosig = cosign(signed.checkpoint, witness, timestamp=1_700_000_000)
    assert cosig.name == witness.name
    assert cosig.key_id == witness.verifier.cosignature_key_id
    assert cosig.key_id != witness.verifier.key_id
    cosig.verify(signed.checkpoint, witness.verifier)
    line = cosig.to_line()
    raw = base64.b64decode(line.split(" ")[2])
    assert raw[:4] == cosig.key_id
    assert raw[4:12] == (1_700_000_000).to_bytes(8, "big")
    assert len(raw) == 4 + 8 + 64
    assert Cosignature.from_line(line) == cosig

    cosigned = signed.with_cosignature(cosig)
    assert cosigned.to_text() == signed.to_text() + line + "\n"
    parsed = SignedCheckpoint.from_text(cosigned.to_text())
    parsed.verify(log_key.verifier)
    assert parsed.cosignatures([witness.verifier]) == [cosig]
    assert parsed.cosignatures([]) == []
    assert parsed.cosignatures([log_key.verifier]) == []  # the log's own line is type 0x01


def test_cosigned_message_layout(witness: SigningKey) -> None:
    cp = checkpoint(3, ("ext",))
    message = cosignature_message(cp, 1_700_000_000)
    assert message == b"cosignature/v1\ntime 1700000000\n" + cp.to_body().encode()
    cosig = cosign(cp, witness, timestamp=1_700_000_000)
    witness.verifier.verify(message, cosig.signature)


def test_cosignature_covers_extension_lines(witness: SigningKey) -> None:
    # After transparency-dev/formats note_cosigv1_test.go, TestSigCoversExtensionLines.
    cp = checkpoint(3, ("Extendo",))
    cosig = cosign(cp, witness, timestamp=5)
    with pytest.raises(SignatureError):
        cosig.verify(dataclasses.replace(cp, extensions=("Extend@",)), witness.verifier)


def test_cosignature_checks(witness: SigningKey) -> None:
    cp = checkpoint()
    cosig = cosign(cp, witness, timestamp=10)
    with pytest.raises(SignatureError):
        dataclasses.replace(cosig, timestamp=11).verify(cp, witness.verifier)
    with pytest.raises(SignatureError):
        cosig.verify(checkpoint(size=8), witness.verifier)
    other = SigningKey.generate(witness.name)
    with pytest.raises(UnknownKeyError):
        cosig.verify(cp, other.verifier)
    with pytest.raises(UnknownKeyError):
        cosig.verify(cp, VerifierKey("someone.else", witness.verifier.public_key))


@pytest.mark.parametrize("timestamp", [-1, 2**63, True])
def test_timestamp_range(witness: SigningKey, timestamp: int) -> None:
    with pytest.raises(EncodingError):
        cosign(checkpoint(), witness, timestamp=timestamp)


def test_largest_timestamp(witness: SigningKey) -> None:
    cosig = cosign(checkpoint(), witness, timestamp=2**63 - 1)
    assert Cosignature.from_line(cosig.to_line()) == cosig
    too_late = NoteSignature(cosig.name, cosig.key_id, (2**63).to_bytes(8, "big") + cosig.signature)
    with pytest.raises(EncodingError):
        Cosignature.from_note_signature(too_late)


def test_malformed_line_from_a_witness_is_a_signature_error(
    log_key: SigningKey, witness: SigningKey
) -> None:
    signed = checkpoint().sign(log_key)
    short = NoteSignature(witness.name, witness.verifier.cosignature_key_id, bytes(64))
    with pytest.raises(SignatureError, match="malformed"):
        SignedCheckpoint(signed.checkpoint, signed.note.with_signature(short)).cosignatures(
            [witness.verifier]
        )
    with pytest.raises(EncodingError, match="not 72"):
        Cosignature.from_note_signature(short)


def test_construction_of_cosignatures_is_checked() -> None:
    for fields in (
        {"name": "a b"},
        {"key_id": b"123"},
        {"timestamp": -1},
        {"signature": bytes(63)},
    ):
        base = {"name": "w", "key_id": b"1234", "timestamp": 0, "signature": bytes(64)}
        with pytest.raises(EncodingError):
            Cosignature(**(base | fields))  # type: ignore[arg-type]


def test_with_cosignature_replaces_the_same_witness(
    log_key: SigningKey, witness: SigningKey
) -> None:
    signed = checkpoint().sign(log_key)
    first = cosign(signed.checkpoint, witness, timestamp=1)
    second = cosign(signed.checkpoint, witness, timestamp=2)
    both = signed.with_cosignature(first).with_cosignature(second)
    assert len(both.note.signatures) == 2
    assert both.cosignatures([witness.verifier]) == [second]


def _flips(data: bytes):
    for i in range(len(data)):
        for mask in (0x01, 0x40, 0x80):
            mutated = bytearray(data)
            mutated[i] ^= mask
            yield bytes(mutated)


def test_every_byte_flip_breaks_log_signature_or_cosignature(
    log_key: SigningKey, witness: SigningKey
) -> None:
    signed = checkpoint(size=3).sign(log_key)
    cosig = cosign(signed.checkpoint, witness, timestamp=1_700_000_000)
    data = signed.with_cosignature(cosig).to_bytes()
    for mutated in _flips(data):
        try:
            parsed = SignedCheckpoint.from_bytes(mutated)
        except EncodingError:
            continue
        try:
            parsed.verify(log_key.verifier)
            log_ok = True
        except VerificationError:
            log_ok = False
        try:
            cosigned = bool(parsed.cosignatures([witness.verifier]))
        except VerificationError:
            cosigned = False
        # A flip in the body breaks both; in a signature line, that line.
        assert not (log_ok and cosigned), mutated


def test_every_byte_flip_of_a_cosignature_line_breaks_it(witness: SigningKey) -> None:
    cp = checkpoint()
    line = cosign(cp, witness, timestamp=1_700_000_000).to_line().encode()
    for mutated in _flips(line):
        try:
            parsed = Cosignature.from_line(mutated.decode())
        except (UnicodeDecodeError, EncodingError):
            continue
        with pytest.raises(VerificationError):
            parsed.verify(cp, witness.verifier)


@given(st.text(max_size=150))
def test_garbage_cosignature_lines_raise_only_encoding_error(line: str) -> None:
    try:
        cosig = Cosignature.from_line(line)
    except EncodingError:
        return
    assert cosig.to_line() == line


@given(st.binary(max_size=300))
def test_garbage_signed_checkpoints_raise_only_encoding_error(data: bytes) -> None:
    try:
        signed = SignedCheckpoint.from_bytes(data)
    except EncodingError:
        return
    assert signed.to_bytes() == data


@given(st.text(max_size=60))
def test_text_after_a_valid_checkpoint_raises_only_encoding_error(tail: str) -> None:
    text = SPEC_BODY + "\n" + SPEC_LOG_LINE + "\n" + tail
    try:
        signed = SignedCheckpoint.from_text(text)
    except EncodingError:
        return
    assert isinstance(signed.note, Note)
    assert signed.to_text() == text
