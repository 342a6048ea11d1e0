"""Two-person release over real HTTP: a suspension is proposed (202), then sent only
when a second operator approves it; peers see it only then."""

import pytest

from detente.node.operators import Role, add_operator

NOW = "2026-03-01T12:00:00Z"
SUSPEND = {"types": ["message"], "effective": NOW, "reason": "countermeasure"}


@pytest.fixture
def us(network):
    """The United States' client and three of its people's tokens: two operators and a viewer."""
    node = network.nodes["us"]
    tokens = {
        "officer": network.tokens["us"],
        "deputy": add_operator(node, "deputy", Role.operator)[1],
        "watcher": add_operator(node, "watcher", Role.viewer)[1],
    }
    client = network.clients["us"]

    def call(method, path, who, **kwargs):
        headers = {"Authorization": f"Bearer {tokens[who]}", **kwargs.pop("headers", {})}
        return client.request(method, path, headers=headers, **kwargs)

    return call


def run_senders(network):
    for sender in network.senders.values():
        sender.run_once()


def propose(us, type_="suspension", body=SUSPEND, who="officer", **kwargs):
    return us("POST", "/v1/messages", who, json={"type": type_, "body": body}, **kwargs)


def test_a_suspension_is_sent_only_when_a_second_operator_approves(network, us):
    proposed = propose(us)
    assert proposed.status_code == 202, proposed.text
    release = proposed.json()["release"]
    assert release["state"] == "pending" and release["proposed_by"] == "officer"
    assert release["draft"]["body"] == SUSPEND and release["seq"] is None
    assert us("GET", "/v1/outbox", "officer").json()["size"] == 0  # nothing signed
    run_senders(network)
    assert us("GET", "/v1/releases?state=pending", "watcher").json()["releases"] == [release]
    assert us("GET", f"/v1/releases/{release['id']}", "watcher").json() == {"release": release}

    viewer = us("POST", f"/v1/releases/{release['id']}/approve", "watcher")
    assert viewer.status_code == 403 and "viewer watcher may not send" in viewer.text
    same = us("POST", f"/v1/releases/{release['id']}/approve", "officer")
    assert same.status_code == 403
    assert same.json()["detail"].startswith("a second operator must approve")
    nobody = network.clients["us"].post(f"/v1/releases/{release['id']}/approve")
    assert nobody.status_code == 401

    approved = us("POST", f"/v1/releases/{release['id']}/approve", "deputy")
    assert approved.status_code == 201, approved.text
    sent = approved.json()
    assert sent["position"] == "us:0" and sent["seq"] == 0 and sent["repeat"] is False
    assert sent["header"]["type"] == "suspension" and sent["header"]["to"] == ["nato", "ru"]
    assert sent["checkpoint_size"] == 1 and len(sent["leaf_hash"]) == 64
    assert sent["release"]["state"] == "released" and sent["release"]["seq"] == 0
    assert sent["release"]["decided_by"] == "deputy"

    again = us("POST", f"/v1/releases/{release['id']}/approve", "deputy")
    assert again.status_code == 409 and "was released by deputy" in again.json()["detail"]
    assert us("GET", "/v1/outbox", "officer").json()["size"] == 1

    run_senders(network)
    seen = network.clients["ru"].get(
        "/v1/suspensions", headers={"Authorization": f"Bearer {network.tokens['ru']}"}
    )
    assert [(s["party"], s["type"], s["suspended_by"]) for s in seen.json()["suspensions"]] == [
        ("us", "message", "us:0")
    ]


def test_a_draft_is_checked_when_it_is_proposed(us):
    bad = propose(us, body={"types": ["nope"], "effective": NOW, "reason": "x"})
    assert bad.status_code == 422 and "body.types[0]" in bad.json()["detail"]
    nothing = propose(us, type_="resumption", body={"types": ["message"], "effective": NOW})
    assert nothing.status_code == 409 and "not suspended" in nothing.json()["detail"]
    viewer = propose(us, who="watcher")
    assert viewer.status_code == 403
    assert us("GET", "/v1/releases", "officer").json()["releases"] == []


def test_a_retried_proposal_with_an_idempotency_key_is_held_once(us):
    key = {"Idempotency-Key": "suspend-1"}
    first = propose(us, headers=key)
    second = propose(us, headers=key)
    assert first.status_code == second.status_code == 202
    assert first.json()["release"]["id"] == second.json()["release"]["id"]
    assert len(us("GET", "/v1/releases", "officer").json()["releases"]) == 1


def test_another_operator_rejects_with_a_reason_the_proposer_withdraws(us):
    first = propose(us).json()["release"]["id"]
    path = f"/v1/releases/{first}/reject"
    assert us("POST", path, "deputy").status_code == 422  # no reason
    assert us("POST", path, "deputy", json={"reason": ""}).status_code == 422
    long = us("POST", path, "deputy", json={"reason": "x" * 2001})
    assert long.status_code == 422 and "2000" in long.json()["detail"]
    assert us("POST", path, "deputy", json={"why": "x"}).status_code == 422
    own = us("POST", path, "officer", json={"reason": "changed my mind"})
    assert own.status_code == 403 and "withdraw it" in own.json()["detail"]
    rejected = us("POST", path, "deputy", json={"reason": "not while talks go on"})
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["release"]["state"] == "rejected"
    assert rejected.json()["release"]["reason"] == "not while talks go on"
    assert us("POST", f"/v1/releases/{first}/approve", "officer").status_code == 409

    second = propose(us).json()["release"]["id"]
    other = us("POST", f"/v1/releases/{second}/withdraw", "deputy")
    assert other.status_code == 403 and "reject it instead" in other.json()["detail"]
    withdrawn = us("POST", f"/v1/releases/{second}/withdraw", "officer")
    assert withdrawn.status_code == 200 and withdrawn.json()["release"]["state"] == "withdrawn"

    states = [r["state"] for r in us("GET", "/v1/releases", "watcher").json()["releases"]]
    assert states == ["withdrawn", "rejected"]
    assert us("GET", "/v1/releases?state=pending", "watcher").json()["releases"] == []
    assert us("GET", "/v1/releases?state=sent", "watcher").status_code == 422
    assert us("GET", "/v1/outbox", "officer").json()["size"] == 0


def test_an_unknown_release_is_404(us):
    assert us("GET", "/v1/releases/99", "watcher").status_code == 404
    assert us("POST", "/v1/releases/99/approve", "deputy").status_code == 404


def test_free_text_is_still_sent_at_once(us):
    sent = us("POST", "/v1/messages", "officer", json={"type": "message", "body": {"text": "hi"}})
    assert sent.status_code == 201 and sent.json()["position"] == "us:0"
