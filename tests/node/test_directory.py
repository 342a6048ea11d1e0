"""The node directory: config, key, pinned agreement, clear errors."""

import dataclasses

import pytest

from detente.agreement import builtin_agreement
from detente.crypto.keys import SigningKey
from detente.errors import ConfigError, KeyFileError
from detente.node import CONFIG_FILE, KEY_FILE, init_node, open_node
from detente.node.cosignatures import record_cosignature, trust_cosigner
from detente.node.writer import Draft, LogWriter
from detente.record.checkpoint import SignedCheckpoint, cosign
from detente.store.logs import LogStore


@pytest.fixture
def home(tmp_path):
    directory = tmp_path / "nato"
    init_node(directory, party="nato", agreement_ref="security-replies-2022").close()
    return directory


def test_init_writes_config_key_and_database(home):
    node = open_node(home)
    try:
        assert node.party == "nato"
        assert node.agreement.id == builtin_agreement("security-replies-2022").id
        assert node.config.key_name == f"detente.log/{node.agreement.id[:16]}/nato"
        assert node.key.verifier == node.verifier
        assert node.database.dialect == "sqlite"
    finally:
        node.close()
    assert (home / KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert "PRIVATE KEY" not in (home / CONFIG_FILE).read_text()


def test_init_refuses_to_overwrite(home):
    with pytest.raises(ConfigError, match="already holds a node"):
        init_node(home, party="nato", agreement_ref="security-replies-2022")


def test_a_changed_agreement_is_refused(tmp_path):
    source = tmp_path / "pact.toml"
    text = """
name = "pact"
title = "Pact"
version = "1"
[[parties]]
id = "a"
name = "Alpha"
[[parties]]
id = "b"
name = "Bravo"
"""
    source.write_text(text)
    init_node(tmp_path / "a", party="a", agreement_ref=str(source)).close()
    source.write_text(text.replace('version = "1"', 'version = "2"'))
    with pytest.raises(ConfigError, match="refusing to sign under different rules"):
        open_node(tmp_path / "a")


def test_a_swapped_key_is_refused(home):
    other = SigningKey.generate("detente.log/0000000000000000/nato")
    (home / KEY_FILE).unlink()
    from detente.crypto.keys import save_signing_key

    save_signing_key(home / KEY_FILE, other, passphrase=None)
    node = open_node(home)
    try:
        with pytest.raises(KeyFileError, match="does not match"):
            _ = node.key
    finally:
        node.close()


def test_group_readable_key_is_refused(home):
    (home / KEY_FILE).chmod(0o640)
    node = open_node(home)
    try:
        with pytest.raises(KeyFileError, match="chmod"):
            _ = node.key
    finally:
        node.close()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("not toml [", "config.toml"),
        ("[other]\n", "missing \\[node\\]"),
        ('[node]\nparty = ""\n', "node.party"),
    ],
)
def test_bad_config_is_named(home, config, message):
    (home / CONFIG_FILE).write_text(config)
    with pytest.raises(ConfigError, match=message):
        open_node(home)


def test_missing_directory_and_key(tmp_path, home):
    with pytest.raises(ConfigError, match="not a Détente node directory"):
        open_node(tmp_path / "nowhere")
    (home / KEY_FILE).unlink()
    with pytest.raises(KeyFileError, match="missing"):
        open_node(home)


def test_cosignatures_need_a_trusted_key_and_a_held_checkpoint(home):
    from detente.errors import SignatureError, UnknownKeyError

    node = open_node(home)
    try:
        LogWriter(node).append([Draft(type="message", body={"text": "hi"}, to=("us",))])
        with node.database.engine.connect() as conn:
            size, note = LogStore(conn, "nato").checkpoint()
        checkpoint = SignedCheckpoint.from_text(note).checkpoint
        witness = SigningKey.generate("osce.witness")
        cosignature = cosign(checkpoint, witness, timestamp=100)
        with pytest.raises(UnknownKeyError, match="not a trusted key"):
            record_cosignature(node, party="nato", size=size, cosignature=cosignature)
        trust_cosigner(node, witness.verifier)
        trust_cosigner(node, witness.verifier)  # idempotent
        with pytest.raises(ConfigError, match="different key"):
            trust_cosigner(node, SigningKey.generate("osce.witness").verifier)
        with pytest.raises(UnknownKeyError, match="no checkpoint of size 7"):
            record_cosignature(node, party="nato", size=7, cosignature=cosignature)
        impostor = cosign(checkpoint, SigningKey.generate("osce.witness"), timestamp=100)
        with pytest.raises(UnknownKeyError, match="is not by"):
            record_cosignature(node, party="nato", size=size, cosignature=impostor)
        forged = dataclasses.replace(cosignature, signature=bytes(64))
        with pytest.raises(SignatureError):
            record_cosignature(node, party="nato", size=size, cosignature=forged)
        record_cosignature(node, party="nato", size=size, cosignature=cosignature)
    finally:
        node.close()
    reopened = open_node(home)
    try:
        assert reopened.trusted_key("osce.witness") == witness.verifier
    finally:
        reopened.close()


def test_node_files_are_owner_only(home):
    assert (home / CONFIG_FILE).stat().st_mode & 0o777 == 0o600
    assert (home / "detente.db").stat().st_mode & 0o777 == 0o600
    assert home.stat().st_mode & 0o077 == 0
