"""The node commands end to end through Typer: init, keys, log, verify."""

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from detente.cli.app import app
from detente.crypto.keys import VerifierKey
from detente.record.checkpoint import SignedCheckpoint

runner = CliRunner()


def invoke(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env or {}, catch_exceptions=False)


@pytest.fixture
def home(tmp_path):
    directory = tmp_path / "us"
    result = invoke("init", directory, "--party", "us", "--agreement", "security-replies-2022")
    assert result.exit_code == 0, result.output
    return directory


def test_init_creates_a_private_key_and_config(home):
    assert (home / "node.key").stat().st_mode & 0o777 == 0o600
    assert (home / "config.toml").exists()
    assert (home / "detente.db").exists()
    again = invoke("init", home, "--party", "us", "--agreement", "security-replies-2022")
    assert again.exit_code == 1
    assert "already holds a node" in again.output


def test_init_refuses_a_stranger(tmp_path):
    result = invoke("init", tmp_path / "x", "--party", "fr", "--agreement", "new-start")
    assert result.exit_code == 1
    assert "'fr' is not a party of new-start" in result.output
    assert "Traceback" not in result.output


def test_keys_show(home):
    result = invoke("keys", "show", "--dir", home, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    key = VerifierKey.from_text(data["verifier_key"])
    assert key.fingerprint() == data["fingerprint"]
    assert len(data["fingerprint"].replace("-", "")) * 5 >= 128
    assert data["party"] == "us"


def test_dir_defaults_to_detente_home(home):
    result = invoke("keys", "show", "--format", "json", env={"DETENTE_HOME": str(home)})
    assert result.exit_code == 0, result.output


def test_append_show_checkpoint_verify(home):
    result = invoke(
        "log",
        "append",
        "--dir",
        home,
        "--type",
        "message",
        "--to",
        "ru",
        "--body",
        '{"text": "hello"}',
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    appended = json.loads(result.output)
    assert appended["position"] == "us:0"
    assert appended["header"]["priority"] in ("ROUTINE", "PRIORITY", "IMMEDIATE", "FLASH")
    result = invoke(
        "log",
        "append",
        "--dir",
        home,
        "--type",
        "message",
        "--to",
        "nato",
        "--ref",
        "us:0",
        "--priority",
        "flash",
        "--exercise",
        "--body",
        '{"text": "second"}',
    )
    assert result.exit_code == 0, result.output
    assert "us:1" in result.output

    shown = json.loads(invoke("log", "show", "--dir", home, "--format", "json").output)
    assert shown["size"] == 2
    assert shown["entries"][1]["refs"] == ["us:0"]
    assert shown["entries"][1]["priority"] == "FLASH"
    assert shown["entries"][1]["exercise"] is True
    one = json.loads(invoke("log", "show", "--dir", home, "--seq", "1", "--format", "json").output)
    assert one["body"] == {"text": "second"}
    assert invoke("log", "show", "--dir", home).exit_code == 0

    note = invoke("log", "checkpoint", "--dir", home).output
    checkpoint = SignedCheckpoint.from_text(note)
    assert checkpoint.checkpoint.size == 2
    key = VerifierKey.from_text(
        json.loads(invoke("keys", "show", "--dir", home, "--format", "json").output)["verifier_key"]
    )
    checkpoint.verify(key)

    verified = invoke("verify", "--dir", home, "--format", "json")
    assert verified.exit_code == 0, verified.output
    report = json.loads(verified.output)
    assert report["ok"] is True
    assert report["logs"][0]["entries"] == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--type", "message", "--body", "{not json"], "--body: not JSON"),
        (["--type", "message", "--body", "[1]"], "must be a JSON object"),
        (["--type", "message", "--body", '{"text": ""}'], "text"),
        (["--type", "message", "--body", '{"txt": "x"}'], "text"),
        (["--type", "nope", "--body", "{}"], "nope"),
        (["--type", "message", "--to", "us", "--body", '{"text": "x"}'], "recipient"),
        (["--type", "message", "--priority", "soon", "--body", '{"text": "x"}'], "--priority"),
        (["--type", "message", "--ref", "bad", "--body", '{"text": "x"}'], "refs"),
    ],
)
def test_bad_appends_are_refused_and_write_nothing(home, args, message):
    result = invoke("log", "append", "--dir", home, *args)
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    shown = json.loads(invoke("log", "show", "--dir", home, "--format", "json").output)
    assert shown["size"] == 0


def test_not_a_node_directory(tmp_path):
    result = invoke("log", "show", "--dir", tmp_path)
    assert result.exit_code == 1
    assert "not a Détente node directory" in result.output


def test_checkpoint_of_an_empty_log(home):
    result = invoke("log", "checkpoint", "--dir", home)
    assert result.exit_code == 1
    assert "no checkpoint yet" in result.output


def test_verify_names_a_tampered_body(home):
    invoke(
        "log",
        "append",
        "--dir",
        home,
        "--type",
        "message",
        "--to",
        "ru",
        "--body",
        '{"text": "hello"}',
    )
    with sqlite3.connect(home / "detente.db") as db:
        db.execute("update bodies set body = ? where seq = 0", (b'{"text":"hellp"}',))
    result = invoke("verify", "--dir", home)
    assert result.exit_code == 1
    assert "us:0" in result.output and "body" in result.output


def test_encrypted_key(tmp_path):
    directory = tmp_path / "ru"
    env = {"DETENTE_PASSPHRASE": "correct horse battery"}
    result = invoke(
        "init",
        directory,
        "--party",
        "ru",
        "--agreement",
        "security-replies-2022",
        "--encrypt-key",
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert b"ENCRYPTED" in (directory / "node.key").read_bytes()
    ok = invoke(
        "log",
        "append",
        "--dir",
        directory,
        "--type",
        "message",
        "--to",
        "us",
        "--body",
        '{"text": "x"}',
        env=env,
    )
    assert ok.exit_code == 0, ok.output
    wrong = invoke(
        "log",
        "append",
        "--dir",
        directory,
        "--type",
        "message",
        "--to",
        "us",
        "--body",
        '{"text": "x"}',
        env={"DETENTE_PASSPHRASE": "wrong passphrase"},
    )
    assert wrong.exit_code == 1
    assert "passphrase" in wrong.output
    assert "correct horse" not in wrong.output
    # Verification needs only the public key: no passphrase.
    assert invoke("verify", "--dir", directory).exit_code == 0
