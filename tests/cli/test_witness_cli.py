"""`detente init --witness`, `peer add --witness` and `log status` through Typer."""

import json
from dataclasses import replace

from typer.testing import CliRunner

from detente.cli.app import app
from detente.node import open_node
from detente.node.writer import Draft, LogWriter
from detente.record.checkpoint import cosign
from detente.record.settlement import Policy
from detente.store.logs import LogStore

runner = CliRunner()
AGREEMENT = "security-replies-2022"


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_init_a_witness(tmp_path):
    result = invoke(
        "init", tmp_path / "osce", "--witness", "osce", "-a", AGREEMENT, "--format", "json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["party"] == "osce" and data["role"] == "witness"
    assert data["verifier_key"].startswith("detente.witness/")
    text = invoke("init", tmp_path / "w2", "--witness", "un", "-a", AGREEMENT)
    assert "created witness un" in text.output
    appended = invoke("log", "append", "--dir", tmp_path / "osce", "-t", "message", "-b", "{}")
    assert appended.exit_code == 1 and "osce is a witness" in appended.output


def test_init_needs_exactly_one_of_party_and_witness(tmp_path):
    both = invoke("init", tmp_path / "x", "--party", "us", "--witness", "osce", "-a", AGREEMENT)
    neither = invoke("init", tmp_path / "x", "-a", AGREEMENT)
    for result in (both, neither):
        assert result.exit_code == 1 and "exactly one of --party" in result.output
    party = invoke("init", tmp_path / "x", "--witness", "ru", "-a", AGREEMENT)
    assert party.exit_code == 1 and "is a party of" in party.output


def test_peer_add_a_witness_and_status(tmp_path):
    invoke("init", tmp_path / "us", "--party", "us", "-a", AGREEMENT)
    invoke("init", tmp_path / "osce", "--witness", "osce", "-a", AGREEMENT)
    osce = open_node(tmp_path / "osce")
    key = osce.verifier.to_text()

    def add(*args):
        return invoke("peer", "add", "--dir", tmp_path / "us", "--url", "http://osce:1", *args)

    wrong = add("--party", "osce", "--key", key, "--yes")
    assert wrong.exit_code == 1 and "not a party" in wrong.output
    added = add("--witness", "osce", "--key", key, "--yes")
    assert added.exit_code == 0 and "added witness osce" in added.output
    listed = json.loads(invoke("peer", "list", "--dir", tmp_path / "us", "--format", "json").output)
    assert listed[0]["party"] == "osce" and listed[0]["witness"] is True

    none = invoke("log", "status", "--dir", tmp_path / "us")
    assert "no policies" in none.output
    us = open_node(tmp_path / "us")
    try:
        policy = Policy(name="witnessed", k=1, cosigners=("osce",))
        us.save_config(replace(us.config, policies=(policy,)))
        result = LogWriter(us).append([Draft(type="message", body={"text": "x"}, to=("ru",))])
        status = json.loads(
            invoke("log", "status", "--dir", tmp_path / "us", "--format", "json").output
        )
        assert status["logs"][0]["policies"][0]["settled_size"] == 0
        stamp = cosign(result.checkpoint.checkpoint, osce.key, timestamp=1_700_000_000)
        with us.database.engine.begin() as conn:
            LogStore(conn, "us").add_cosignature(1, stamp.name, stamp.timestamp, stamp.to_line())
    finally:
        us.close()
        osce.close()
    status = json.loads(
        invoke("log", "status", "--dir", tmp_path / "us", "--format", "json").output
    )
    (policy_json,) = status["logs"][0]["policies"]
    assert policy_json["settled_size"] == 1 and policy_json["cosigned_by"] == ["osce"]
    table = invoke("log", "status", "--dir", tmp_path / "us")
    assert table.exit_code == 0 and "witnessed" in table.output
