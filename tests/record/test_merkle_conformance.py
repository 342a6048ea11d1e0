"""RFC 9162 proof verification against the shared conformance vectors.

The vectors live outside the repository, in ``../shared/conformance/rfc9162``
beside the clone (or wherever ``DETENTE_CONFORMANCE_DIR`` points: either the
``conformance`` folder or its ``rfc9162`` child). Each JSON file is one case:
``inclusion/*`` with ``leafIdx, treeSize, root, leafHash, proof``,
``consistency/*`` with ``size1, size2, root1, root2, proof``; hashes in
base64; ``wantErr`` says whether verification must fail.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from pathlib import Path
from typing import Any

import pytest

from detente.errors import VerificationError
from detente.record.merkle import verify_consistency, verify_inclusion

_DEFAULT = Path(__file__).resolve().parents[2] / ".." / "shared" / "conformance"


def _suite_dir() -> Path:
    base = Path(os.environ.get("DETENTE_CONFORMANCE_DIR", _DEFAULT))
    return base if (base / "inclusion").is_dir() else base / "rfc9162"


def _cases() -> list[Any]:
    suite = _suite_dir()
    files = sorted(suite.glob("*/**/*.json")) if suite.is_dir() else []
    if not files:
        reason = f"RFC 9162 conformance vectors not found at {suite.resolve()}"
        return [pytest.param(None, id="rfc9162-vectors-absent", marks=pytest.mark.skip(reason))]
    return [pytest.param(path, id=path.relative_to(suite).as_posix()) for path in files]


def _decode(value: str) -> bytes:
    """Decode a vector's base64; undecodable text is bad input to the verifier."""
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as e:
        raise VerificationError(f"undecodable base64 {value!r}") from e


def _run(kind: str, case: dict[str, Any]) -> None:
    proof = [_decode(item) for item in case["proof"] or []]
    if kind == "inclusion":
        verify_inclusion(
            _decode(case["leafHash"]),
            case["leafIdx"],
            case["treeSize"],
            proof,
            _decode(case["root"]),
        )
    elif kind == "consistency":
        verify_consistency(
            case["size1"],
            case["size2"],
            proof,
            _decode(case["root1"]),
            _decode(case["root2"]),
        )
    else:
        pytest.fail(f"unknown vector kind {kind!r}")


@pytest.mark.parametrize("path", _cases())
def test_rfc9162_vector(path: Path) -> None:
    case = json.loads(path.read_text(encoding="utf-8"))
    kind = path.relative_to(_suite_dir()).parts[0]
    if case["wantErr"]:
        with pytest.raises(VerificationError):
            _run(kind, case)
    else:
        _run(kind, case)


def test_both_kinds_of_vector_are_present() -> None:
    suite = _suite_dir()
    if not suite.is_dir():
        pytest.skip(f"RFC 9162 conformance vectors not found at {suite.resolve()}")
    for kind in ("inclusion", "consistency"):
        cases = [json.loads(p.read_text(encoding="utf-8")) for p in (suite / kind).rglob("*.json")]
        assert any(c["wantErr"] for c in cases), kind
        assert any(not c["wantErr"] for c in cases), kind
