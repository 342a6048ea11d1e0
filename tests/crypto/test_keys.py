"""Node keys: verifier key text, signatures, fingerprints and key files."""

from __future__ import annotations

import base64
import hashlib
import os
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from detente.crypto.keys import (
    SigningKey,
    VerifierKey,
    is_valid_key_name,
    load_signing_key,
    save_signing_key,
)
from detente.errors import EncodingError, KeyFileError, SignatureError

# golang.org/x/mod sumdb/note/note_test.go (TestNewVerifier, TestNewSigner,
# TestSign): the PeterNeumann signer key, its verifier key, and the signature
# it makes on the two-line text.
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
PETER_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG_B64 = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)

# The verifier key of the example of c2sp.org/signed-note (as quoted at
# C2SP/C2SP d4c16da, signed-note.md "Example"; its note is in test_note.py).
EXAMPLE_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"


def peter_key() -> SigningKey:
    seed = base64.b64decode(PETER_SKEY.split("+", 4)[4])
    assert seed[0] == 0x01
    return SigningKey("PeterNeumann", Ed25519PrivateKey.from_private_bytes(seed[1:]))


def test_go_signer_key_gives_go_verifier_key() -> None:
    assert peter_key().verifier.to_text() == PETER_VKEY


def test_go_signature_is_reproduced_byte_for_byte() -> None:
    key = peter_key()
    line = base64.b64encode(key.verifier.key_id + key.sign(PETER_TEXT.encode())).decode()
    assert line == PETER_SIG_B64


@pytest.mark.parametrize("text", [PETER_VKEY, ENOCH_VKEY, EXAMPLE_VKEY])
def test_known_verifier_keys_round_trip(text: str) -> None:
    key = VerifierKey.from_text(text)
    assert key.to_text() == text
    assert key.key_id.hex() == text.split("+")[1]


def test_key_id_is_the_spec_hash() -> None:
    key = VerifierKey.from_text(EXAMPLE_VKEY)
    h = hashlib.sha256(b"example.com/foo\n\x01" + key.public_key).digest()[:4]
    assert key.key_id == h == bytes.fromhex("530d903a")
    assert (
        key.cosignature_key_id
        == hashlib.sha256(b"example.com/foo\n\x04" + key.public_key).digest()[:4]
    )


def test_cosignature_key_id_of_a_real_witness() -> None:
    # remora.n621.de's type-0x04 verifier key, as in test_checkpoint.py.
    raw = base64.b64decode("BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2")
    assert VerifierKey("remora.n621.de", raw[1:]).cosignature_key_id.hex() == "da77ade7"


def test_base64_part_may_hold_a_plus() -> None:
    # transparency-dev/formats note/note_cosigv1_test.go: "works".
    text = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"
    assert VerifierKey.from_text(text).to_text() == text


def test_every_substring_and_byte_bump_of_a_verifier_key_is_refused() -> None:
    # The manglings of Go's TestNewVerifier.
    b = PETER_VKEY.encode()
    for i in range(len(b) + 1):
        for j in range(i + 1, len(b) + 1):
            if (i, j) != (0, len(b)):
                with pytest.raises(EncodingError):
                    VerifierKey.from_text(b[i:j].decode())
    for i in range(len(b)):
        mangled = bytearray(b)
        mangled[i] += 1
        with pytest.raises(EncodingError):
            VerifierKey.from_text(mangled.decode())


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("PeterNeumann+c74f20a3", "three parts"),
        ("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "name"),
        ("+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "name"),
        ("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "hex"),
        ("PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "hex"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T", "base64"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TX", "does not match"),
        ("PeterNeumann+c74f20a3+", "empty"),
        # Go's TestNewVerifier: wrong length key / unknown algorithm, with adjusted key hash.
        ("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==", "base64"),
        ("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "type 0x65"),
        ("remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2", "cosignature"),
        ("PeterNeumann+00000000+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match"),
    ],
)
def test_bad_verifier_keys_say_what_is_wrong(text: str, complaint: str) -> None:
    with pytest.raises(EncodingError, match=complaint):
        VerifierKey.from_text(text)


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_public_key_of_wrong_length(size: int) -> None:
    raw = b"\x01" + bytes(range(size))
    key_id = hashlib.sha256(b"n\n" + raw).digest()[:4].hex()
    text = f"n+{key_id}+{base64.b64encode(raw).decode()}"
    with pytest.raises(EncodingError, match=f"holds {size} bytes of public key"):
        VerifierKey.from_text(text)


@given(st.text(max_size=120))
def test_garbage_verifier_keys_raise_only_encoding_error(text: str) -> None:
    try:
        key = VerifierKey.from_text(text)
    except EncodingError:
        return
    assert key.to_text() == text


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("example.com/log", True),
        ("détente.example/ü", True),
        ("", False),
        ("a+b", False),
        ("a b", False),
        ("a\u00a0b", False),  # no-break space
        ("a\u3000b", False),  # ideographic space
        ("a\tb", False),
        ("a\x01b", False),
        ("a\ud800b", False),  # lone surrogate
    ],
)
def test_key_name_rules(name: str, valid: bool) -> None:
    assert is_valid_key_name(name) is valid
    if not valid:
        with pytest.raises(EncodingError):
            SigningKey.generate(name)


def test_sign_and_verify() -> None:
    key = SigningKey.generate("example.org/n")
    sig = key.sign(b"message")
    key.verifier.verify(b"message", sig)
    with pytest.raises(SignatureError):
        key.verifier.verify(b"messagf", sig)
    with pytest.raises(SignatureError):
        key.verifier.verify(b"message", sig[:-1] + bytes([sig[-1] ^ 1]))
    with pytest.raises(SignatureError, match="64"):
        key.verifier.verify(b"message", sig[:63])
    with pytest.raises(SignatureError):
        SigningKey.generate("example.org/n").verifier.verify(b"message", sig)


def test_verifier_key_checks_its_fields() -> None:
    with pytest.raises(EncodingError):
        VerifierKey("n", b"\x00" * 31)
    with pytest.raises(EncodingError):
        VerifierKey("bad name", b"\x00" * 32)


def test_fingerprint_shape_and_binding() -> None:
    key = VerifierKey.from_text(PETER_VKEY)
    fp = key.fingerprint()
    groups = fp.split("-")
    assert len(groups) == 8 and all(len(g) == 4 for g in groups)
    assert set(fp) <= set("abcdefghijklmnopqrstuvwxyz234567-")
    digest = hashlib.sha256(PETER_VKEY.encode()).digest()[:20]
    assert base64.b32decode(fp.replace("-", "").upper()) == digest
    assert VerifierKey("PeterNeumann2", key.public_key).fingerprint() != fp


def test_repr_hides_the_private_key() -> None:
    key = peter_key()
    assert "PeterNeumann" in repr(key) and "c74f20a3" in repr(key)
    raw = key._private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    assert raw.hex() not in repr(key) and base64.b64encode(raw).decode() not in repr(key)


# --- key files ---------------------------------------------------------------------------


def test_key_file_round_trip_without_passphrase(tmp_path) -> None:
    path = tmp_path / "node.key"
    key = SigningKey.generate("example.org/n")
    save_signing_key(path, key, passphrase=None)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = load_signing_key(path, name="example.org/n", passphrase=None)
    assert loaded.verifier == key.verifier
    assert [p.name for p in tmp_path.iterdir()] == ["node.key"]  # no temporary left


def test_key_file_round_trip_with_passphrase(tmp_path) -> None:
    path = tmp_path / "node.key"
    key = SigningKey.generate("example.org/n")
    save_signing_key(path, key, passphrase=b"correct horse")
    assert path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    loaded = load_signing_key(path, name="example.org/n", passphrase=b"correct horse")
    assert loaded.verifier == key.verifier


def test_wrong_or_missing_passphrase(tmp_path) -> None:
    path = tmp_path / "node.key"
    save_signing_key(path, SigningKey.generate("n"), passphrase=b"correct horse")
    with pytest.raises(KeyFileError, match="wrong passphrase") as wrong:
        load_signing_key(path, name="n", passphrase=b"battery staple")
    assert "battery" not in str(wrong.value)
    with pytest.raises(KeyFileError, match="passphrase is needed"):
        load_signing_key(path, name="n", passphrase=None)


def test_passphrase_given_for_plain_key(tmp_path) -> None:
    path = tmp_path / "node.key"
    save_signing_key(path, SigningKey.generate("n"), passphrase=None)
    with pytest.raises(KeyFileError, match="not encrypted"):
        load_signing_key(path, name="n", passphrase=b"secret")


def test_empty_passphrase_refused(tmp_path) -> None:
    with pytest.raises(KeyFileError, match="empty passphrase"):
        save_signing_key(tmp_path / "k", SigningKey.generate("n"), passphrase=b"")


def test_refuses_to_overwrite(tmp_path) -> None:
    path = tmp_path / "node.key"
    first = SigningKey.generate("n")
    save_signing_key(path, first, passphrase=None)
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        save_signing_key(path, SigningKey.generate("n"), passphrase=None)
    assert load_signing_key(path, name="n", passphrase=None).verifier == first.verifier
    dangling = tmp_path / "dangling.key"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        save_signing_key(dangling, SigningKey.generate("n"), passphrase=None)


def test_save_into_missing_directory(tmp_path) -> None:
    with pytest.raises(KeyFileError, match="cannot create"):
        save_signing_key(tmp_path / "no" / "k", SigningKey.generate("n"), passphrase=None)


def test_missing_key_file(tmp_path) -> None:
    with pytest.raises(KeyFileError, match="does not exist"):
        load_signing_key(tmp_path / "absent.key", name="n", passphrase=None)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o644, 0o660])
def test_group_or_other_access_refused_with_the_fix(tmp_path, mode: int) -> None:
    path = tmp_path / "node.key"
    save_signing_key(path, SigningKey.generate("n"), passphrase=None)
    os.chmod(path, mode)
    with pytest.raises(KeyFileError, match=f"chmod 600 {path}"):
        load_signing_key(path, name="n", passphrase=None)
    os.chmod(path, 0o400)
    load_signing_key(path, name="n", passphrase=None)


def _write_private(path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def test_not_an_ed25519_key(tmp_path) -> None:
    path = tmp_path / "ec.key"
    ec = generate_private_key(SECP256R1())
    pem = ec.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_private(path, pem)
    with pytest.raises(KeyFileError, match="not an Ed25519 key"):
        load_signing_key(path, name="n", passphrase=None)


def test_traditional_encrypted_pem(tmp_path) -> None:
    path = tmp_path / "ec.key"
    ec = generate_private_key(SECP256R1())
    pem = ec.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(b"pass"),
    )
    _write_private(path, pem)
    with pytest.raises(KeyFileError, match="passphrase is needed"):
        load_signing_key(path, name="n", passphrase=None)
    with pytest.raises(KeyFileError, match="not an Ed25519 key"):
        load_signing_key(path, name="n", passphrase=b"pass")


def test_not_a_pem_file(tmp_path) -> None:
    path = tmp_path / "junk.key"
    _write_private(path, b"this is not a key\n")
    with pytest.raises(KeyFileError, match="not a PEM private key"):
        load_signing_key(path, name="n", passphrase=None)


def test_a_directory_is_not_a_key_file(tmp_path) -> None:
    path = tmp_path / "dir"
    path.mkdir(mode=0o700)
    with pytest.raises(KeyFileError):
        load_signing_key(path, name="n", passphrase=None)


def test_huge_file_refused(tmp_path) -> None:
    path = tmp_path / "huge.key"
    _write_private(path, b"A" * (65 * 1024))
    with pytest.raises(KeyFileError, match="too large"):
        load_signing_key(path, name="n", passphrase=None)


def test_loaded_key_takes_the_given_name(tmp_path) -> None:
    path = tmp_path / "node.key"
    save_signing_key(path, peter_key(), passphrase=None)
    loaded = load_signing_key(path, name="PeterNeumann", passphrase=None)
    assert loaded.verifier.to_text() == PETER_VKEY
    with pytest.raises(EncodingError):
        load_signing_key(path, name="Peter Neumann", passphrase=None)
