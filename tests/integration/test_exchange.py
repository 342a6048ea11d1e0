"""Three nodes exchange through their real APIs, in process (no sockets).

Each node's FastAPI app is served through Starlette's test transport; a
router transport sends each peer request to the app of the host it names,
so requests are signed, verified, stored and receipted exactly as over
the network.
"""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from detente.cli.app import app as cli
from detente.errors import DetenteError, UnknownKeyError
from detente.exchange.httpsig import PeerAuth
from detente.exchange.receipts import verify_receipt
from detente.exchange.sender import delivery_states
from detente.exchange.sync import sync_from_peer
from detente.node import init_node, open_node
from detente.node.audit import audit_node
from detente.node.operators import Role, add_operator
from detente.node.writer import Draft, LogWriter
from detente.record.checkpoint import Checkpoint, origin_for
from detente.record.envelope import ZERO_HASH, Envelope, seal
from detente.record.merkle import MerkleTree
from detente.store.logs import LogStore
from detente.store.schema import audit_trail, evidence
from tests.fakes.network import b64 as _b64
from tests.fakes.network import signed_post as _signed_post
from tests.fakes.network import submit


def test_messages_reach_recipients_with_receipts(network):
    nodes, clients, tokens, senders, _ = network
    for i in range(3):
        r = submit(clients, tokens, "us", {"text": f"to russia {i}"}, to=["ru"])
        assert r.status_code == 201, r.text
    r = submit(clients, tokens, "ru", {"text": "reply"}, to=["us", "nato"])
    assert r.status_code == 201, r.text
    for sender in senders.values():
        sender.run_once()

    # Russia holds the bodies addressed to it; NATO mirrors the headers only.
    inbox = (
        clients["ru"].get("/v1/inbox", headers={"Authorization": f"Bearer {tokens['ru']}"}).json()
    )
    texts = [m["body"]["text"] for m in inbox["messages"]]
    assert texts == ["to russia 2", "to russia 1", "to russia 0"]
    assert all(m["received_at"] is not None for m in inbox["messages"])
    with nodes["nato"].database.engine.connect() as conn:
        mirror = LogStore(conn, "us")
        assert mirror.size() == 3
        assert mirror.body(0) is None
        assert LogStore(conn, "ru").body(0) is not None

    # The sender sees each message receipted by each peer.
    outbox = (
        clients["us"].get("/v1/outbox", headers={"Authorization": f"Bearer {tokens['us']}"}).json()
    )
    for message in outbox["messages"]:
        assert {p: s["state"] for p, s in message["peers"].items()} == {
            "nato": "receipted",
            "ru": "receipted",
        }
    with nodes["us"].database.engine.connect() as conn:
        states = delivery_states(conn, nodes["us"])
    assert states["ru"].receipted_size == 3 and states["nato"].receipted_size == 3

    # Every node's record, mirrors included, verifies.
    for node in nodes.values():
        report = audit_node(node, workers=1)
        assert report.ok, (node.party, report.problem)


def test_idempotent_submit_and_roles(network):
    nodes, clients, tokens, _, _ = network
    first = submit(clients, tokens, "us", {"text": "once"}, to=["ru"], key="k-1")
    again = submit(clients, tokens, "us", {"text": "once"}, to=["ru"], key="k-1")
    assert first.status_code == 201 and again.status_code == 201
    assert first.json()["seq"] == again.json()["seq"]
    assert again.json()["repeat"] is True
    viewer = add_operator(nodes["us"], "watcher", Role.viewer)[1]
    refused = clients["us"].post(
        "/v1/messages",
        json={"type": "message", "body": {"text": "x"}, "to": ["ru"]},
        headers={"Authorization": f"Bearer {viewer}"},
    )
    assert refused.status_code == 403
    assert clients["us"].get("/v1/outbox").status_code == 401
    bad = submit(clients, tokens, "us", {"text": ""}, to=["ru"])
    assert bad.status_code == 422
    assert "text" in bad.json()["detail"]


def test_a_node_that_was_down_catches_up(network, clock):
    nodes, clients, tokens, senders, router = network
    router.down.add(network.ports["ru"])
    for i in range(5):
        submit(clients, tokens, "us", {"text": f"while down {i}"}, to=["ru"])
    senders["us"].run_once()
    with nodes["us"].database.engine.connect() as conn:
        state = delivery_states(conn, nodes["us"])["ru"]
    assert state.receipted_size == 0
    assert state.attempts == 1 and "down" in state.last_error
    senders["us"].run_once()  # backing off: not retried yet
    with nodes["us"].database.engine.connect() as conn:
        assert delivery_states(conn, nodes["us"])["ru"].attempts == 1
    router.down.discard(network.ports["ru"])
    clock.advance(seconds=5)
    senders["us"].run_once()
    with nodes["ru"].database.engine.connect() as conn:
        mirror = LogStore(conn, "us")
        assert mirror.size() == 5
        bodies = [json.loads(mirror.body(i))["text"] for i in range(5)]
    assert bodies == [f"while down {i}" for i in range(5)]


def test_hostile_requests_are_refused_and_audited(network, clock, tmp_path):
    nodes, clients, tokens, senders, router = network
    submit(clients, tokens, "us", {"text": "genuine"}, to=["ru"])
    with nodes["us"].database.engine.connect() as conn:
        log = LogStore(conn, "us")
        leaf, body, (_, note) = log.leaf(0), log.body(0), log.checkpoint()

    def payload(entries, checkpoint=note, sender="us"):
        return json.dumps({"sender": sender, "checkpoint": checkpoint, "entries": entries}).encode()

    good = [{"leaf": base64.b64encode(leaf).decode(), "body": base64.b64encode(body).decode()}]
    plain = httpx.Client(timeout=30)

    def send(request):
        return plain.send(request)

    try:
        _hostile(network, nodes, clock, tmp_path, send, payload, good, leaf)
    finally:
        plain.close()


def _hostile(network, nodes, clock, tmp_path, send, payload, good, leaf):

    url = f"{network.served['ru'].url}/v1/peer/envelopes"
    # An unknown key: a node of another agreement signs as "us".
    stranger = init_node(tmp_path / "stranger", party="us", agreement_ref="new-start")
    try:
        r = send(_signed_post(stranger, "us", url, payload(good), clock))
        assert r.status_code == 401
        r = send(_signed_post(stranger, "fr", url, payload(good), clock))
        assert r.status_code == 401
    finally:
        stranger.close()
    # Known peer id, wrong key (NATO's key claiming to be "us").
    r = send(_signed_post(nodes["nato"], "us", url, payload(good), clock))
    assert r.status_code == 401
    # NATO delivering the United States' log: not theirs.
    r = send(_signed_post(nodes["nato"], "nato", url, payload(good), clock))
    assert r.status_code == 403
    # A replayed request.
    request = _signed_post(nodes["us"], "us", url, payload(good), clock)
    tampered = payload(good).replace(b'"sender": "us"', b'"sender":  "us"')
    assert tampered != payload(good)
    headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
    tampered_body = httpx.Request("POST", url, content=tampered, headers=headers)
    assert send(tampered_body).status_code == 401
    # Malformed JSON, a body that does not match its hash, a sequence gap.
    assert send(_signed_post(nodes["us"], "us", url, b"{not json", clock)).status_code == 422
    wrong_body = [
        {"leaf": good[0]["leaf"], "body": base64.b64encode(b'{"text":"forged"}').decode()}
    ]
    assert send(_signed_post(nodes["us"], "us", url, payload(wrong_body), clock)).status_code == 422
    # A sequence gap: entry 1 and the checkpoint of size 2, while nothing is held.
    submit(network.clients, network.tokens, "us", {"text": "second"}, to=["ru"])
    with nodes["us"].database.engine.connect() as conn:
        log = LogStore(conn, "us")
        second, second_body, (_, note2) = log.leaf(1), log.body(1), log.checkpoint()
    assert Envelope.from_leaf(second).header.seq == 1
    gap = payload([{"leaf": _b64(second), "body": _b64(second_body)}], checkpoint=note2)
    refused = send(_signed_post(nodes["us"], "us", url, gap, clock))
    assert refused.status_code == 409
    assert refused.json()["held"] == 0
    oversized = b"x" * (33 * 1024 * 1024)
    assert send(_signed_post(nodes["us"], "us", url, oversized, clock)).status_code == 413
    with nodes["ru"].database.engine.connect() as conn:
        assert LogStore(conn, "us").size() == 0  # nothing entered the mirror
        refusals = conn.execute(select(func.count()).select_from(audit_trail)).scalar_one()
    assert refusals >= 9
    # The genuine delivery then goes through, and its replay is refused.
    assert send(request).status_code == 200
    assert send(request).status_code == 401
    with nodes["ru"].database.engine.connect() as conn:
        assert LogStore(conn, "us").size() == 1


def test_a_forked_history_is_kept_as_evidence(network, clock, tmp_path):
    nodes, clients, tokens, senders, _ = network
    submit(clients, tokens, "us", {"text": "original"}, to=["ru"])
    senders["us"].run_once()
    # The United States' node, restored from a copy, writes another entry 0.
    nodes["us"].close()
    import shutil

    fork_dir = tmp_path / "us-fork"
    shutil.copytree(tmp_path / "us", fork_dir)
    forked = open_node(fork_dir, clock=clock)
    try:
        from sqlalchemy import delete

        from detente.node.writer import Draft, LogWriter
        from detente.store.schema import bodies, checkpoints, entries, tree_nodes

        with forked.database.engine.begin() as conn:
            for table in (entries, bodies, tree_nodes, checkpoints):
                conn.execute(delete(table).where(table.c.party == "us"))
        LogWriter(forked).append([Draft(type="message", body={"text": "other"}, to=("ru",))])
        with forked.database.engine.connect() as conn:
            log = LogStore(conn, "us")
            leaf, body, (_, note) = log.leaf(0), log.body(0), log.checkpoint()
        content = json.dumps(
            {
                "sender": "us",
                "checkpoint": note,
                "entries": [
                    {
                        "leaf": base64.b64encode(leaf).decode(),
                        "body": base64.b64encode(body).decode(),
                    }
                ],
            }
        ).encode()
        url = f"{network.served['ru'].url}/v1/peer/envelopes"
        request = _signed_post(forked, "us", url, content, clock)
    finally:
        forked.close()
    with httpx.Client(timeout=30) as plain:
        response = plain.send(request)
    assert response.status_code == 409
    assert response.json()["held"] == 1
    with nodes["ru"].database.engine.connect() as conn:
        kept = conn.execute(select(evidence.c.kind, evidence.c.party)).all()
        assert ("fork", "us") in [tuple(k) for k in kept]
        assert json.loads(LogStore(conn, "us").body(0))["text"] == "original"


def test_receipts_verify_offline_with_two_keys(network, tmp_path):
    nodes, clients, tokens, senders, _ = network
    submit(clients, tokens, "us", {"text": "receipt me"}, to=["ru"])
    submit(clients, tokens, "us", {"text": "and me"}, to=["ru"])
    senders["us"].run_once()
    headers = {"Authorization": f"Bearer {tokens['us']}"}
    receipt = clients["us"].get("/v1/outbox/1/receipts/ru", headers=headers).json()
    checked = verify_receipt(receipt, sender=nodes["us"].verifier, receiver=nodes["ru"].verifier)
    assert checked.position == "us:1"
    assert checked.received_at > 0
    with pytest.raises(UnknownKeyError):
        verify_receipt(receipt, sender=nodes["us"].verifier, receiver=nodes["nato"].verifier)
    forged = dict(receipt, leaf=receipt["leaf"][:-8] + "AAAAAAA=")
    with pytest.raises(DetenteError):
        verify_receipt(forged, sender=nodes["us"].verifier, receiver=nodes["ru"].verifier)
    # The same through the command line, from a file, with nothing but the keys.
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(receipt))
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "receipt",
            "verify",
            str(path),
            "--sender-key",
            nodes["us"].verifier.to_text(),
            "--receiver-key",
            nodes["ru"].verifier.to_text(),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "us:1" in result.output
    not_yet = clients["us"].get("/v1/outbox/5/receipts/ru", headers=headers)
    assert not_yet.status_code == 422


def test_sync_pulls_a_peer_log_by_hand(network):
    nodes, clients, tokens, senders, router = network
    router.down.add(network.ports["nato"])
    for i in range(3):
        submit(clients, tokens, "us", {"text": f"for nato {i}"}, to=["nato"])
    senders["us"].run_once()  # reaches ru, not nato
    client = httpx.Client(auth=PeerAuth(nodes["nato"].key, "nato", nodes["nato"].clock))
    try:
        result = sync_from_peer(nodes["nato"], nodes["nato"].config.peer("us"), client)
        assert (result.held_before, result.checkpoint_size, result.fetched) == (0, 3, 3)
        submit(clients, tokens, "us", {"text": "one more"}, to=["nato"])
        again = sync_from_peer(nodes["nato"], nodes["nato"].config.peer("us"), client)
        assert again.consistency_checked_from == 3 and again.fetched == 1
    finally:
        client.close()
    with nodes["nato"].database.engine.connect() as conn:
        assert LogStore(conn, "us").size() == 4
    assert audit_node(nodes["nato"], workers=1).ok


def test_unreceipted_past_the_deadline_is_overdue(network, clock):
    nodes, clients, tokens, senders, router = network
    router.down.add(network.ports["ru"])
    headers = {"Authorization": f"Bearer {tokens['us']}"}
    clients["us"].post(
        "/v1/messages",
        json={"type": "message", "body": {"text": "urgent"}, "to": ["ru"], "priority": "FLASH"},
        headers=headers,
    )
    senders["us"].run_once()
    states = clients["us"].get("/v1/outbox", headers=headers).json()["messages"][0]["peers"]
    assert states["ru"]["state"] == "queued"
    assert states["nato"]["state"] == "receipted"
    clock.advance(minutes=6)  # FLASH must be acknowledged within 5 minutes
    states = clients["us"].get("/v1/outbox", headers=headers).json()["messages"][0]["peers"]
    assert states["ru"]["state"] == "overdue"
    peers = {p["party"]: p for p in clients["us"].get("/v1/peers", headers=headers).json()["peers"]}
    assert peers["ru"]["backlog"] == 1 and peers["ru"]["last_error"]


def test_openapi_describes_the_api(network):
    _, clients, _, _, _ = network
    spec = clients["us"].get("/openapi.json").json()
    paths = set(spec["paths"])
    for path in (
        "/v1/peer/envelopes",
        "/v1/peer/logs/{party}/checkpoint",
        "/v1/peer/logs/{party}/entries",
        "/v1/peer/logs/{party}/proofs/inclusion",
        "/v1/peer/logs/{party}/proofs/consistency",
        "/v1/messages",
        "/v1/inbox",
        "/v1/outbox",
        "/v1/peers",
    ):
        assert path in paths


def test_a_peer_cannot_pass_off_entries_as_another_party(network, clock):
    nodes, _, _, _, _ = network
    agreement = nodes["nato"].agreement
    body = b'{"text":"signed by nato, claiming to be us"}'
    forged = seal(
        key=nodes["nato"].key,
        agreement=agreement.id,
        sender="us",
        seq=0,
        prev=ZERO_HASH,
        created="2026-03-01T12:00:00Z",
        type="message",
        to=("ru",),
        body=body,
    )
    tree = MerkleTree()
    tree.append(forged.leaf)
    note = Checkpoint(origin_for(agreement.id, "nato"), 1, tree.root()).sign(nodes["nato"].key)
    content = json.dumps(
        {
            "sender": "nato",
            "checkpoint": note.to_text(),
            "entries": [{"leaf": _b64(forged.leaf), "body": _b64(body)}],
        }
    ).encode()
    url = f"{network.served['ru'].url}/v1/peer/envelopes"
    with httpx.Client(timeout=30) as plain:
        response = plain.send(_signed_post(nodes["nato"], "nato", url, content, clock))
    assert response.status_code == 422
    assert "delivered as nato's" in response.json()["detail"]
    with nodes["ru"].database.engine.connect() as conn:
        assert LogStore(conn, "nato").size() == 0 and LogStore(conn, "us").size() == 0


def test_large_runs_are_split_and_receipted_at_the_end(network, monkeypatch):
    nodes, _, _, senders, _ = network
    monkeypatch.setattr("detente.exchange.sender.RUN_BYTES", 3000)
    drafts = [Draft(type="message", body={"text": "x" * 900}, to=("ru",)) for _ in range(6)]
    LogWriter(nodes["us"]).append(drafts)  # one checkpoint, at size 6
    senders["us"].run_once()
    with nodes["ru"].database.engine.connect() as conn:
        assert LogStore(conn, "us").size() == 6
    with nodes["us"].database.engine.connect() as conn:
        state = delivery_states(conn, nodes["us"])["ru"]
    assert state.receipted_size == 6 and state.delivered_size == 6


def test_the_same_entry_twice_in_one_delivery_is_not_a_fork(network, clock):
    nodes, clients, tokens, _, _ = network
    submit(clients, tokens, "us", {"text": "twice"}, to=["ru"])
    with nodes["us"].database.engine.connect() as conn:
        log = LogStore(conn, "us")
        leaf, body, (_, note) = log.leaf(0), log.body(0), log.checkpoint()
    entry = {"leaf": _b64(leaf), "body": _b64(body)}
    content = json.dumps({"sender": "us", "checkpoint": note, "entries": [entry, entry]}).encode()
    url = f"{network.served['ru'].url}/v1/peer/envelopes"
    with httpx.Client(timeout=30) as plain:
        response = plain.send(_signed_post(nodes["us"], "us", url, content, clock))
    assert response.status_code == 200, response.text
    with nodes["ru"].database.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(evidence)).scalar_one() == 0


def test_concurrent_submissions_all_land_without_gaps(network):
    from concurrent.futures import ThreadPoolExecutor

    nodes, clients, tokens, _, _ = network
    url = network.served["us"].url
    headers = {"Authorization": f"Bearer {tokens['us']}"}

    def one(i):
        with httpx.Client(base_url=url, timeout=30) as client:
            return client.post(
                "/v1/messages",
                json={"type": "message", "body": {"text": f"parallel {i}"}, "to": ["ru"]},
                headers=headers,
            )

    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(one, range(40)))
    assert [r.status_code for r in responses] == [201] * 40
    assert sorted(r.json()["seq"] for r in responses) == list(range(40))
    assert audit_node(nodes["us"], workers=1).ok


def test_exercise_traffic_is_marked_on_both_sides(network):
    nodes, clients, tokens, senders, _ = network
    headers = {"Authorization": f"Bearer {tokens['us']}"}
    response = clients["us"].post(
        "/v1/messages",
        json={"type": "message", "body": {"text": "drill"}, "to": ["ru"], "exercise": True},
        headers=headers,
    )
    assert response.status_code == 201
    submit(clients, tokens, "us", {"text": "real"}, to=["ru"])
    senders["us"].run_once()
    outbox = clients["us"].get("/v1/outbox", headers=headers).json()["messages"]
    assert [m["exercise"] for m in outbox] == [False, True]
    inbox = (
        clients["ru"]
        .get("/v1/inbox", headers={"Authorization": f"Bearer {tokens['ru']}"})
        .json()["messages"]
    )
    assert {m["body"]["text"]: m["exercise"] for m in inbox} == {"drill": True, "real": False}


def test_sync_goes_on_when_the_peer_bounds_a_page_by_bytes(network, monkeypatch):
    import detente.api.peer as peer_api

    nodes, clients, tokens, senders, router = network
    monkeypatch.setattr(peer_api, "_MAX_PAGE_BYTES", 1)  # one entry per page
    router.down.add(network.ports["nato"])
    for i in range(3):
        submit(clients, tokens, "us", {"text": f"for nato {i}"}, to=["nato"])
    senders["us"].run_once()
    router.down.clear()
    client = httpx.Client(
        transport=router, auth=PeerAuth(nodes["nato"].key, "nato", nodes["nato"].clock)
    )
    try:
        result = sync_from_peer(nodes["nato"], nodes["nato"].config.peer("us"), client)
    finally:
        client.close()
    assert result.fetched == 3
    assert router.paths.count("/v1/peer/logs/us/entries") == 3
