"""A neutral witness mirrors headers, cosigns and gossips; k-of-n policies settle checkpoints."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import httpx
import pytest
from sqlalchemy import func, select

from detente.errors import PermissionDeniedError
from detente.exchange.gossip import gossip_round
from detente.exchange.httpsig import PeerAuth
from detente.exchange.receipts import verify_receipt
from detente.exchange.sender import deliver_once
from detente.node import open_node
from detente.node.alarms import list_alarms
from detente.node.audit import audit_node
from detente.node.receipts import receipt_for
from detente.node.settlement import log_settlements
from detente.node.writer import Draft, LogWriter
from detente.record.evidence import verify_evidence
from detente.record.settlement import Policy
from detente.store.logs import LogStore
from detente.store.schema import bodies
from tests.fakes.network import b64, signed_post, submit


def _exchange(witnessed):
    """Every sender delivers everything due."""
    for sender in witnessed.senders.values():
        sender.run_once()


def _policy(node, name, k, cosigners):
    node.save_config(replace(node.config, policies=(Policy(name=name, k=k, cosigners=cosigners),)))


def test_the_witness_mirrors_every_party_holds_no_body_and_cosigns(witnessed):
    nodes, clients, tokens, _, router = witnessed
    witness_port = witnessed.ports["osce"]
    sent_to_witness: list[dict] = []
    paths: set[str] = set()
    inner = router.handle_request

    def recording(request: httpx.Request) -> httpx.Response:
        if request.url.port == witness_port:
            paths.add(request.url.path)
            if request.url.path == "/v1/peer/envelopes":
                sent_to_witness.append(json.loads(request.content))
        return inner(request)

    router.handle_request = recording
    assert submit(clients, tokens, "us", {"text": "to Russia"}, to=["ru"]).status_code == 201
    flash = {"type": "message", "body": {"text": "FLASH"}, "to": ["ru"], "priority": "FLASH"}
    headers = {"Authorization": f"Bearer {tokens['us']}"}
    assert clients["us"].post("/v1/messages", json=flash, headers=headers).status_code == 201
    assert submit(clients, tokens, "ru", {"text": "to all"}, to=["us", "nato"]).status_code == 201
    assert submit(clients, tokens, "nato", {"text": "to us"}, to=["us"]).status_code == 201
    _exchange(witnessed)

    osce = nodes["osce"]
    with osce.database.engine.connect() as conn:
        for party, size in (("us", 2), ("ru", 1), ("nato", 1)):
            assert LogStore(conn, party).size() == size
            assert LogStore(conn, party).cosignature(size, osce.config.key_name) is not None
        assert conn.execute(select(func.count()).select_from(bodies)).scalar_one() == 0
    assert {d["sender"] for d in sent_to_witness} == {"us", "ru", "nato"}
    assert all(e["body"] is None for d in sent_to_witness for e in d["entries"])
    # Neither the priority lane nor body parts go to a witness: it is no recipient.
    assert paths == {"/v1/peer/envelopes"}

    # The witness's cosignature is a receipt anyone can check with two keys.
    receipt = receipt_for(nodes["us"], seq=0, peer="osce")
    checked = verify_receipt(receipt, sender=nodes["us"].verifier, receiver=osce.verifier)
    assert checked.receiver == osce.config.key_name
    for node in nodes.values():
        assert audit_node(node, workers=1).ok


def test_a_witness_refuses_bodies_and_sends_nothing(witnessed, clock):
    nodes, clients, tokens, _, _ = witnessed
    us = nodes["us"]
    result = LogWriter(us).append([Draft(type="message", body={"text": "secret"}, to=("ru",))])
    entry = result.envelopes[0]
    payload = {
        "sender": "us",
        "checkpoint": result.checkpoint.to_text(),
        "entries": [{"leaf": b64(entry.leaf), "body": b64(result.bodies[0])}],
    }
    url = f"{witnessed.served['osce'].url}/v1/peer/envelopes"
    request = signed_post(us, "us", url, json.dumps(payload).encode(), clock)
    with httpx.Client() as client:
        refused = client.send(request)
    assert refused.status_code == 422
    assert refused.json()["error"] == "BodyError"

    # A witness has no log: the API and the writer refuse to send.
    answer = submit(clients, tokens, "osce", {"text": "hi"}, to=["us"])
    assert answer.status_code == 403
    assert "witness" in answer.json()["detail"]
    with pytest.raises(PermissionDeniedError, match="no log of its own"):
        LogWriter(nodes["osce"]).append([Draft(type="message", body={"text": "x"})])
    headers = {"Authorization": f"Bearer {tokens['osce']}"}
    assert clients["osce"].get("/v1/outbox", headers=headers).json()["messages"] == []
    assert clients["osce"].get("/v1/inbox", headers=headers).json()["messages"] == []


def test_a_party_refuses_a_delivery_from_a_witness(witnessed, clock):
    nodes = witnessed.nodes
    osce = nodes["osce"]
    payload = {"sender": "osce", "checkpoint": "x", "entries": []}
    url = f"{witnessed.served['us'].url}/v1/peer/envelopes"
    with httpx.Client() as client:
        refused = client.send(signed_post(osce, "osce", url, json.dumps(payload).encode(), clock))
    assert refused.status_code == 403
    assert "witness" in refused.json()["detail"]


def test_settled_only_after_k_cosignatures(witnessed):
    nodes, clients, tokens, senders, router = witnessed
    us = nodes["us"]
    _policy(us, "settled", 2, ("ru", "nato", "osce"))
    assert submit(clients, tokens, "us", {"text": "declaration"}, to=["ru"]).status_code == 201
    headers = {"Authorization": f"Bearer {tokens['us']}"}

    def outbox():
        return clients["us"].get("/v1/outbox", headers=headers).json()

    router.down.update({witnessed.ports["nato"], witnessed.ports["osce"]})
    senders["us"].run_once()
    first = outbox()
    assert first["messages"][0]["settled"] == {"settled": False}
    assert first["policies"][0]["settled_size"] == 0
    assert first["policies"][0]["latest"]["cosigned_by"] == ["ru"]

    router.down.discard(witnessed.ports["osce"])
    with us.database.engine.begin() as conn:  # no backoff wait in the test
        conn.exec_driver_sql("UPDATE deliveries SET next_attempt_at = NULL")
    senders["us"].run_once()
    second = outbox()
    assert second["messages"][0]["settled"] == {"settled": True}
    policy = second["policies"][0]
    assert policy["settled_size"] == 1 and policy["cosigned_by"] == ["osce", "ru"]
    assert policy["settled_at"] is not None
    report = clients["us"].get("/v1/settlement", headers=headers).json()
    assert report["logs"][0]["party"] == "us"
    assert report["logs"][0]["policies"][0]["settled_size"] == 1


def test_gossip_brings_the_witness_cosignature_on_another_partys_log(witnessed):
    nodes, clients, tokens, senders, _ = witnessed
    nato = nodes["nato"]
    _policy(nato, "witnessed", 2, ("nato", "osce"))
    assert submit(clients, tokens, "us", {"text": "notice"}, to=["ru"]).status_code == 201
    _exchange(witnessed)
    with nato.database.engine.connect() as conn:
        (before,) = log_settlements(conn, nato, "us")
    assert before.settled is None and before.latest.cosigned_by == ("nato",)

    assert gossip_round(nato, senders["nato"]._client) == 3
    with nato.database.engine.connect() as conn:
        (after,) = log_settlements(conn, nato, "us")
    assert after.settled_size == 1 and after.settled.cosigned_by == ("nato", "osce")
    assert audit_node(nato, workers=1).ok  # the learned cosignature verifies under osce's key
    assert all(list_alarms(node) == [] for node in nodes.values())


def test_the_witness_catches_two_histories(witnessed, tmp_path, clock):
    nodes = witnessed.nodes
    if nodes["ru"].database.dialect != "sqlite":
        pytest.skip("forking a node by copying its directory needs SQLite")
    shutil.copytree(nodes["ru"].directory, tmp_path / "ru-fork")
    fork = open_node(tmp_path / "ru-fork", clock=clock)
    try:
        LogWriter(nodes["ru"]).append([Draft(type="message", body={"text": "A"}, to=("us",))])
        LogWriter(fork).append([Draft(type="message", body={"text": "B"}, to=("nato",))])
        for node, peer in ((nodes["ru"], "us"), (fork, "osce")):
            client = httpx.Client(
                transport=witnessed.router, auth=PeerAuth(node.key, "ru", node.clock)
            )
            with client:
                assert deliver_once(node, node.config.peer(peer), client) == 1
    finally:
        fork.close()
    gossip_round(nodes["osce"], witnessed.senders["osce"]._client)
    found = [a for a in list_alarms(nodes["osce"]) if a.kind == "equivocation"]
    assert found and found[0].party == "ru"
    verify_evidence(found[0].evidence, key=nodes["ru"].verifier)


def test_the_witness_follows_a_key_rotation_holding_only_the_key_entrys_body(witnessed):
    from detente.node.rotation import rotate_key

    nodes, clients, tokens, _, _ = witnessed
    assert submit(clients, tokens, "us", {"text": "before"}, to=["ru"]).status_code == 201
    _exchange(witnessed)
    change = rotate_key(nodes["us"], reason="yearly rotation")
    assert submit(clients, tokens, "us", {"text": "after"}, to=["ru"]).status_code == 201
    _exchange(witnessed)
    osce = nodes["osce"]
    with osce.database.engine.connect() as conn:
        assert LogStore(conn, "us").size() == 3
        # The key entry's body (public keys only) and nothing else.
        held = conn.execute(select(bodies.c.party, bodies.c.seq)).all()
    assert held == [("us", change.seq)]
    assert osce.key_history("us").current == change.new_key
    report = audit_node(osce, workers=1)
    assert report.ok, report.problem
