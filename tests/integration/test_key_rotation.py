"""Key rotation and revocation between three nodes over real HTTP on loopback."""

from __future__ import annotations

import json

import httpx
import pytest
from typer.testing import CliRunner

import detente.node.rotation as rotation
from detente.cli.app import app as cli
from detente.errors import InputError, SignatureError
from detente.exchange.gossip import gossip_round
from detente.exchange.httpsig import PeerAuth
from detente.exchange.receipts import verify_receipt
from detente.exchange.sender import delivery_states
from detente.node.alarms import list_alarms
from detente.node.audit import audit_node
from detente.node.keyfiles import NEXT_KEY_FILE, RETIRED_KEY_FILE
from detente.node.rotation import revoke_key, rotate_key
from detente.node.writer import Draft, LogWriter
from detente.record.envelope import Envelope
from detente.store.logs import LogStore
from detente.store.schema import deliveries
from tests.fakes.network import submit


def _append_cli(runner, home, text):
    """`detente log append` of a free-text message to ru; it must succeed."""
    body = json.dumps({"text": text})
    r = runner.invoke(
        cli,
        ["log", "append", "--dir", str(home), "--type", "message", "--to", "ru", "--body", body],
    )
    assert r.exit_code == 0, r.output


def _deliver(senders):
    for sender in senders.values():
        sender.run_once()


def _receipt(client, token, seq, peer):
    r = client.get(
        f"/v1/outbox/{seq}/receipts/{peer}", headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_rotation_peers_follow_the_new_key_and_old_entries_stay_verifiable(network):
    nodes, clients, tokens, senders, _ = network
    us = nodes["us"]
    first = us.verifier
    for i in range(2):
        assert submit(clients, tokens, "us", {"text": f"before {i}"}, to=["ru"]).status_code == 201
    _deliver(senders)

    change = rotate_key(us, reason="yearly rotation")
    assert change.seq == 2 and change.old_key == first != change.new_key
    assert us.key.verifier == change.new_key
    assert (us.directory / RETIRED_KEY_FILE).exists()
    assert not (us.directory / NEXT_KEY_FILE).exists()

    # Entries after the rotation are signed by the new key and accepted by both peers.
    for i in range(2):
        assert submit(clients, tokens, "us", {"text": f"after {i}"}, to=["ru"]).status_code == 201
    _deliver(senders)
    with us.database.engine.connect() as conn:
        states = delivery_states(conn, us)
    assert states["ru"].receipted_size == 5 and states["nato"].receipted_size == 5
    for party in ("ru", "nato"):
        with nodes[party].database.engine.connect() as conn:
            log = LogStore(conn, "us")
            assert log.size() == 5
            Envelope.from_leaf(log.leaf(1)).verify_signature(first)
            Envelope.from_leaf(log.leaf(2)).verify_signature(first)  # the rotation itself
            Envelope.from_leaf(log.leaf(3)).verify_signature(change.new_key)
            with pytest.raises(SignatureError):
                Envelope.from_leaf(log.leaf(3)).verify_signature(first)
        history = nodes[party].key_history("us")
        assert history.current == change.new_key

    # Every peer holds the rotation: the retired key is destroyed at the next request.
    _deliver(senders)
    gossip_round(us, senders["us"]._client)
    assert not (us.directory / RETIRED_KEY_FILE).exists()

    # ru's receipts are checked by the sender; us cosigns ru's log with its new key.
    assert submit(clients, tokens, "ru", {"text": "reply"}, to=["us"]).status_code == 201
    _deliver(senders)
    with nodes["ru"].database.engine.connect() as conn:
        assert delivery_states(conn, nodes["ru"])["us"].receipted_size == 1

    # Every node's record verifies, old and new entries, checkpoints and cosignatures.
    for node in nodes.values():
        report = audit_node(node, workers=1)
        assert report.ok, (node.party, report.problem)
    assert {log.party: log.keys for log in audit_node(us, workers=1).logs}["us"] == 2

    # Receipts from before and after the rotation verify offline with the key of their time.
    old = _receipt(clients["us"], tokens["us"], 0, "ru")
    new = _receipt(clients["us"], tokens["us"], 3, "ru")
    verify_receipt(old, sender=first, receiver=nodes["ru"].verifier)
    verify_receipt(new, sender=change.new_key, receiver=nodes["ru"].verifier)


def test_a_peer_behind_the_rotation_gets_requests_it_can_check(network):
    nodes, clients, tokens, senders, router = network
    us = nodes["us"]
    router.down.add(network.ports["ru"])
    change = rotate_key(us, reason="routine")
    assert submit(clients, tokens, "us", {"text": "after"}, to=["ru"]).status_code == 201
    _deliver(senders)  # nato gets everything; ru is unreachable
    assert (us.directory / RETIRED_KEY_FILE).exists()

    # A request signed with the new key alone is refused by ru, who does not know it yet.
    auth = PeerAuth(us.key, "us", us.clock)
    with httpx.Client(auth=auth) as client:
        r = client.get(f"{network.served['ru'].url}/v1/peer/logs/ru/checkpoint")
    assert r.status_code == 401

    router.down.clear()
    with us.database.engine.begin() as conn:  # retry at once instead of after the backoff
        conn.execute(deliveries.update().values(next_attempt_at=None))
    _deliver(senders)
    with us.database.engine.connect() as conn:
        assert delivery_states(conn, us)["ru"].receipted_size == 2
    assert nodes["ru"].key_history("us").current == change.new_key
    # Now ru checks requests signed with the new key.
    with httpx.Client(auth=PeerAuth(us.key, "us", us.clock)) as client:
        r = client.get(f"{network.served['ru'].url}/v1/peer/logs/ru/checkpoint")
    assert r.status_code == 422  # ru holds no checkpoint of its own log yet: authenticated


def test_revocation_raises_alarms_and_verify_reports(network):
    nodes, clients, tokens, senders, _ = network
    us = nodes["us"]
    first = us.verifier
    for i in range(3):
        assert submit(clients, tokens, "us", {"text": f"m{i}"}, to=["ru"]).status_code == 201
    _deliver(senders)
    rotate_key(us, reason="compromise suspected")
    with pytest.raises(Exception, match="key in force"):
        revoke_key(us, key=us.key.verifier, from_seq=0, reason="wrong")
    change = revoke_key(us, key=first, from_seq=1, reason="laptop stolen")
    assert change.seq == 4
    _deliver(senders)
    for party in ("ru", "nato"):
        alarms = [a for a in list_alarms(nodes[party]) if a.kind == "key_revoked"]
        assert len(alarms) == 1, party
        assert "us:1..us:3" in alarms[0].detail
        assert alarms[0].evidence["spans"] == ["us:1..us:3"]
        report = audit_node(nodes[party], workers=1)
        assert report.ok, report.problem
        revoked = {log.party: log.revoked for log in report.logs}["us"]
        assert revoked == [f"us:1..us:3 signed by revoked key {first.key_id.hex()}"]
        # The revoked key is no longer accepted for requests.
        assert nodes[party].key_history("us").request_keys() == (us.key.verifier,)


def test_operators_cannot_send_key_entries(network):
    nodes, clients, tokens, _, _ = network
    r = submit(
        clients,
        tokens,
        "us",
        {"new_key": nodes["ru"].verifier.to_text(), "reason": "x"},
        to=["ru", "nato"],
        type_="detente.key_rotation",
    )
    assert r.status_code == 422, r.text
    with pytest.raises(InputError, match="protocol"):
        LogWriter(nodes["us"]).append([Draft(type="detente.key_rotation", body={}, to=("ru",))])


def test_keys_cli_rotate_show_revoke_verify(tmp_path, monkeypatch):
    runner = CliRunner()
    home = tmp_path / "us"
    monkeypatch.setenv("DETENTE_PASSPHRASE", "correct horse battery")
    r = runner.invoke(
        cli,
        [
            "init",
            str(home),
            "--party",
            "us",
            "--agreement",
            "security-replies-2022",
            "--encrypt-key",
        ],
    )
    assert r.exit_code == 0, r.output
    _append_cli(runner, home, "hello")
    first = json.loads(
        runner.invoke(cli, ["keys", "show", "--dir", str(home), "--format", "json"]).output
    )
    r = runner.invoke(
        cli, ["keys", "rotate", "--dir", str(home), "--reason", "yearly", "--format", "json"]
    )
    assert r.exit_code == 0, r.output
    rotated = json.loads(r.output)
    assert rotated["seq"] == 1 and rotated["old_key"] == first["verifier_key"]
    # The new and the retired key are encrypted like the node key.
    for name in ("node.key", RETIRED_KEY_FILE):
        data = (home / name).read_bytes()
        assert b"ENCRYPTED PRIVATE KEY" in data
        assert (home / name).stat().st_mode & 0o777 == 0o600
    shown = json.loads(
        runner.invoke(cli, ["keys", "show", "--dir", str(home), "--format", "json"]).output
    )
    assert shown["verifier_key"] == first["verifier_key"]
    assert shown["current_key"] == rotated["new_key"]
    assert [k["from_seq"] for k in shown["keys"]] == [0, 2]
    _append_cli(runner, home, "after")
    r = runner.invoke(
        cli,
        [
            "keys",
            "revoke",
            "--dir",
            str(home),
            "--key",
            first["verifier_key"],
            "--from-seq",
            "1",
            "--reason",
            "stolen",
        ],
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["verify", "--dir", str(home), "--format", "json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    assert report["ok"] and report["logs"][0]["keys"] == 2
    assert report["revoked"] == [
        f"us:1..us:1 signed by revoked key {first['verifier_key'].split('+')[1]}"
    ]
    r = runner.invoke(
        cli,
        [
            "keys",
            "revoke",
            "--dir",
            str(home),
            "--key",
            rotated["new_key"],
            "--from-seq",
            "0",
            "--reason",
            "x",
        ],
    )
    assert r.exit_code == 1 and "key in force" in r.output


def test_a_crash_between_commit_and_switch_is_recovered(network, monkeypatch):
    nodes, *_ = network
    us = nodes["us"]

    def crash(directory):
        raise KeyboardInterrupt("power cut")

    with monkeypatch.context() as patch:
        patch.setattr(rotation, "switch_to_next_key", crash)
        with pytest.raises(KeyboardInterrupt):
            rotate_key(us, reason="crash test")
    assert (us.directory / NEXT_KEY_FILE).exists()
    us.use_key(None)  # as a fresh process would
    new = us.key  # the log says the next key is in force: the switch is finished
    assert new.verifier == us.key_history("us").current
    assert not (us.directory / NEXT_KEY_FILE).exists()
    assert (us.directory / RETIRED_KEY_FILE).exists()


def test_a_running_node_signs_with_the_key_another_process_rotated_to(network):
    from detente.node import open_node

    nodes, *_ = network
    us = nodes["us"]
    first = us.key.verifier  # loaded and cached
    other = open_node(us.directory, clock=us.clock)  # `detente keys rotate` elsewhere
    try:
        change = rotate_key(other, reason="rotated by the CLI")
    finally:
        other.close()
    assert us.key.verifier == change.new_key != first
    result = LogWriter(us).append([Draft(type="message", body={"text": "after"}, to=("ru",))])
    result.envelopes[0].verify_signature(change.new_key)
