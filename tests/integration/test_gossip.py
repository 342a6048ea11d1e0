"""Gossip catches a party that shows two histories, with evidence anyone can check."""

from __future__ import annotations

import shutil

import httpx
import pytest

from detente.exchange.gossip import gossip_round
from detente.exchange.httpsig import PeerAuth
from detente.exchange.sender import deliver_once
from detente.node import open_node
from detente.node.alarms import acknowledge, list_alarms
from detente.node.writer import Draft, LogWriter
from detente.record.evidence import verify_evidence
from tests.fakes.network import submit


def _fork_russia(network, tmp_path, clock):
    """Russia's node and a copy of its directory, both with Russia's key."""
    nodes = network.nodes
    copy = tmp_path / "ru-fork"
    shutil.copytree(nodes["ru"].directory, copy)
    return open_node(copy, clock=clock)


def _deliver(node, party, network):
    client = httpx.Client(transport=network.router, auth=PeerAuth(node.key, node.party, node.clock))
    try:
        return deliver_once(node, node.config.peer(party), client)
    finally:
        client.close()


@pytest.mark.parametrize("sizes", ["equal", "different"])
def test_two_histories_are_caught_with_portable_evidence(network, tmp_path, clock, sizes):
    nodes = network.nodes
    if nodes["ru"].database.dialect != "sqlite":
        pytest.skip("forking a node by copying its directory needs SQLite")
    fork = _fork_russia(network, tmp_path, clock)
    try:
        # Russia tells the United States one history ...
        drafts = [Draft(type="message", body={"text": "history A"}, to=("us",))]
        if sizes == "different":
            drafts.append(Draft(type="message", body={"text": "history A, more"}, to=("us",)))
        LogWriter(nodes["ru"]).append(drafts)
        assert _deliver(nodes["ru"], "us", network) == len(drafts)
        # ... and NATO another, from the forked copy of its node.
        LogWriter(fork).append([Draft(type="message", body={"text": "history B"}, to=("nato",))])
        assert _deliver(fork, "nato", network) == 1
    finally:
        fork.close()

    for party in ("us", "nato"):
        gossip_round(nodes[party], network.senders[party]._client)

    caught = {
        party: [a for a in list_alarms(nodes[party]) if a.kind == "equivocation"]
        for party in ("us", "nato")
    }
    # The node whose mirror reaches the other checkpoint's size can prove it.
    assert caught["us"], "the United States holds the longer (or equal) history"
    alarm = caught["us"][0]
    assert alarm.party == "ru"
    proof = verify_evidence(alarm.evidence, key=nodes["ru"].verifier)
    assert proof.origin.endswith("/ru")
    if sizes == "equal":
        assert caught["nato"]
        verify_evidence(caught["nato"][0].evidence, key=nodes["ru"].verifier)
    # Kept until an admin acknowledges it.
    acknowledge(nodes["us"], alarm.id, by="admin")
    assert all(a.id != alarm.id for a in list_alarms(nodes["us"]))


def test_honest_gossip_raises_nothing(network):
    nodes, clients, tokens, senders, _ = network
    submit(clients, tokens, "us", {"text": "plain"}, to=["ru"])
    submit(clients, tokens, "ru", {"text": "reply"}, to=["us"])
    for sender in senders.values():
        sender.run_once()
    for party, node in nodes.items():
        assert gossip_round(node, senders[party]._client) == 2
    for node in nodes.values():
        assert list_alarms(node) == []


def test_alarms_through_the_api_need_an_admin_to_acknowledge(network):
    from detente.node.alarms import raise_alarm
    from detente.node.operators import Role, add_operator

    nodes, clients, tokens, _, _ = network
    assert raise_alarm(nodes["us"], kind="equivocation", party="ru", detail="test")
    assert not raise_alarm(nodes["us"], kind="equivocation", party="ru", detail="test")
    headers = {"Authorization": f"Bearer {tokens['us']}"}
    listed = clients["us"].get("/v1/alarms", headers=headers).json()["alarms"]
    assert [a["detail"] for a in listed] == ["test"]
    refused = clients["us"].post(f"/v1/alarms/{listed[0]['id']}/acknowledge", headers=headers)
    assert refused.status_code == 403
    admin = add_operator(nodes["us"], "chief", Role.admin)[1]
    done = clients["us"].post(
        f"/v1/alarms/{listed[0]['id']}/acknowledge", headers={"Authorization": f"Bearer {admin}"}
    )
    assert done.status_code == 200 and done.json()["acknowledged_by"] == "chief"
    assert clients["us"].get("/v1/alarms", headers=headers).json()["alarms"] == []


def test_a_peer_that_goes_quiet_shows_as_stale(network, clock):
    nodes, clients, tokens, senders, router = network
    submit(clients, tokens, "ru", {"text": "hello"}, to=["us"])
    senders["ru"].run_once()
    gossip_round(nodes["us"], senders["us"]._client)
    headers = {"Authorization": f"Bearer {tokens['us']}"}
    peers = {p["party"]: p for p in clients["us"].get("/v1/peers", headers=headers).json()["peers"]}
    assert peers["ru"]["fresh_at"] is not None and peers["ru"]["stale"] is False
    # Russia's node goes silent for longer than the link-test interval (1 hour).
    router.down.add(network.ports["ru"])
    clock.advance(hours=1, minutes=1)
    gossip_round(nodes["us"], senders["us"]._client)
    peers = {p["party"]: p for p in clients["us"].get("/v1/peers", headers=headers).json()["peers"]}
    assert peers["ru"]["stale"] is True
    assert peers["nato"]["stale"] is False  # NATO answered this round
    stale = [a for a in list_alarms(nodes["us"]) if a.kind == "stale_log"]
    assert [a.party for a in stale] == ["ru"]
    # It comes back: fresh again; the alarm stays until acknowledged.
    router.down.discard(network.ports["ru"])
    gossip_round(nodes["us"], senders["us"]._client)
    peers = {p["party"]: p for p in clients["us"].get("/v1/peers", headers=headers).json()["peers"]}
    assert peers["ru"]["stale"] is False
    assert [a.kind for a in list_alarms(nodes["us"])] == ["stale_log"]


def test_an_alarm_is_raised_even_when_evidence_cannot_be_built(
    network, tmp_path, clock, monkeypatch
):
    nodes = network.nodes
    if nodes["ru"].database.dialect != "sqlite":
        pytest.skip("forking a node by copying its directory needs SQLite")
    fork = _fork_russia(network, tmp_path, clock)
    try:
        LogWriter(nodes["ru"]).append([Draft(type="message", body={"text": "A"}, to=("us",))])
        _deliver(nodes["ru"], "us", network)
        LogWriter(fork).append([Draft(type="message", body={"text": "B"}, to=("nato",))])
        _deliver(fork, "nato", network)
    finally:
        fork.close()

    def broken(*args, **kwargs):
        from detente.errors import InputError

        raise InputError("note too large")

    monkeypatch.setattr("detente.exchange.gossip.equal_size_evidence", broken)
    gossip_round(nodes["us"], network.senders["us"]._client)
    (alarm,) = [a for a in list_alarms(nodes["us"]) if a.kind == "equivocation"]
    assert alarm.evidence is None
    assert "no portable evidence: note too large" in alarm.detail


def test_a_checkpoint_beyond_the_mirror_is_checked_when_the_mirror_catches_up(
    network, tmp_path, clock
):
    nodes = network.nodes
    if nodes["ru"].database.dialect != "sqlite":
        pytest.skip("forking a node by copying its directory needs SQLite")
    fork = _fork_russia(network, tmp_path, clock)
    try:
        # NATO first hears of a 2-entry history B through gossip only ...
        LogWriter(fork).append(
            [Draft(type="message", body={"text": f"B{i}"}, to=("us",)) for i in range(2)]
        )
        _deliver(fork, "us", network)
    finally:
        fork.close()
    gossip_round(nodes["nato"], network.senders["nato"]._client)
    assert [a for a in list_alarms(nodes["nato"]) if a.kind == "equivocation"] == []
    # ... then Russia delivers history A to NATO: the kept checkpoint is checked.
    LogWriter(nodes["ru"]).append(
        [Draft(type="message", body={"text": f"A{i}"}, to=("nato",)) for i in range(2)]
    )
    _deliver(nodes["ru"], "nato", network)
    gossip_round(nodes["nato"], network.senders["nato"]._client)
    (alarm,) = [a for a in list_alarms(nodes["nato"]) if a.kind == "equivocation"]
    verify_evidence(alarm.evidence, key=nodes["ru"].verifier)
