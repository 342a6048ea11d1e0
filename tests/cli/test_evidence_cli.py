"""`detente evidence verify`: equivocation checked offline with the log's key alone."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from detente.cli.evidence import evidence_app
from detente.crypto.keys import SigningKey
from detente.record.checkpoint import Checkpoint, origin_for
from detente.record.evidence import different_size_evidence, equal_size_evidence
from detente.record.merkle import MerkleTree

ORIGIN = origin_for("ab" * 32, "us")
KEY = SigningKey.generate(ORIGIN)

app = typer.Typer()
app.add_typer(evidence_app, name="evidence")
runner = CliRunner()


def tree(*entries: bytes) -> MerkleTree:
    t = MerkleTree()
    for entry in entries:
        t.append(entry)
    return t


def forked_evidence() -> tuple[dict[str, Any], MerkleTree, MerkleTree]:
    honest = tree(b"a", b"b", b"c")
    forked = tree(b"a", b"b", b"x", b"y", b"z")
    evidence = different_size_evidence(
        Checkpoint(ORIGIN, 3, honest.root()).sign(KEY),
        Checkpoint(ORIGIN, 5, forked.root()).sign(KEY),
        root_at_smaller=forked.root(3),
        proof=forked.consistency_proof(3, 5),
    )
    return evidence, honest, forked


def write(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "evidence.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def verify(path: Path, key: str | None = None):
    return runner.invoke(
        app, ["evidence", "verify", str(path), "--key", key or KEY.verifier.to_text()]
    )


def test_different_size_equivocation_is_ok(tmp_path) -> None:
    evidence, honest, forked = forked_evidence()
    result = verify(write(tmp_path, evidence))
    assert result.exit_code == 0, result.output
    line = result.stdout.strip()
    assert line.startswith(f"OK: {ORIGIN} signed two histories: ")
    assert "size 3 with root" in line
    assert base64.b64encode(honest.root()).decode() in line
    assert f"size 5 whose tree has root {base64.b64encode(forked.root(3)).decode()}" in line
    assert "\n" not in line


def test_same_size_equivocation_is_ok(tmp_path) -> None:
    first = Checkpoint(ORIGIN, 2, tree(b"a", b"b").root()).sign(KEY)
    second = Checkpoint(ORIGIN, 2, tree(b"a", b"x").root()).sign(KEY)
    result = verify(
        write(tmp_path, equal_size_evidence(first, second)), f"  {KEY.verifier.to_text()}\n"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"OK: {ORIGIN} signed two histories: size 2 with root")


def test_agreeing_checkpoints_fail(tmp_path) -> None:
    signed = Checkpoint(ORIGIN, 2, tree(b"a", b"b").root()).sign(KEY)
    evidence = {
        "v": 1,
        "kind": "equivocation",
        "origin": ORIGIN,
        "first": signed.to_text(),
        "second": signed.to_text(),
        "proof": None,
    }
    result = verify(write(tmp_path, evidence))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip() == "error: the two checkpoints agree: no equivocation"


def test_wrong_key_fails(tmp_path) -> None:
    evidence, _, _ = forked_evidence()
    result = verify(write(tmp_path, evidence), SigningKey.generate(ORIGIN).verifier.to_text())
    assert result.exit_code == 1
    assert "signed by no known key" in result.stderr
    assert "OK" not in result.output


def test_tampered_proof_fails(tmp_path) -> None:
    evidence, honest, _ = forked_evidence()
    evidence["proof"]["old_root"] = base64.b64encode(honest.root()).decode()
    result = verify(write(tmp_path, evidence))
    assert result.exit_code == 1
    assert "proof does not show" in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not JSON"),
        (b"\xff\xfe{}", "not JSON"),
        ("[" * 100_000 + "]" * 100_000, "not JSON"),
        ('{"v": 1, "v": 1}', "member 'v' appears twice"),
        ("[]", "evidence: not a JSON object"),
        ({"v": 2}, "evidence: missing"),
    ],
)
def test_garbage_fails(tmp_path, content: Any, message: str) -> None:
    result = verify(write(tmp_path, content))
    assert result.exit_code == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_oversized_file_fails(tmp_path) -> None:
    result = verify(write(tmp_path, " " * (1024 * 1024 + 1)))
    assert result.exit_code == 1
    assert "larger than 1048576 bytes" in result.stderr


def test_missing_file_fails(tmp_path) -> None:
    result = verify(tmp_path / "absent.json")
    assert result.exit_code == 1
    assert "cannot read" in result.stderr


def test_bad_key_text_fails(tmp_path) -> None:
    evidence, _, _ = forked_evidence()
    result = verify(write(tmp_path, evidence), "not-a-key")
    assert result.exit_code == 1
    assert "verifier key has three parts" in result.stderr
