"""Signed documents through the operator API: issued, listed, fetched, verified, traced.

The United States issues the 2022 replies article to NATO and Russia with
``POST /v1/documents``; each copy fetched from ``.../copy`` hashes to what
the list says, and its proof checks with ``POST /v1/documents/verify``
(an altered copy is refused with the reason); a leaked copy posted to
``.../trace`` names its recipient. As in tests/integration/test_documents.py.
"""

import base64
import hashlib
from pathlib import Path

import pytest

from detente.api.documents import MAX_JSON_BODY
from detente.node.operators import Role, add_operator

ARTICLE = Path(__file__).resolve().parents[3] / "shared" / "reference"
ARTICLE = ARTICLE / "2022-security-replies-article.txt"
TITLE = "US reply to the Russian proposals"


def text() -> str:
    if ARTICLE.exists():
        return ARTICLE.read_text(encoding="utf-8")
    pytest.skip("the reference article is not in ../shared/reference")


def auth(network, party, token=None):
    return {"Authorization": f"Bearer {token or network.tokens[party]}"}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def issue(network, **changes):
    body = {
        "title": TITLE,
        "marking": "CONFIDENTIAL",
        "to": ["ru", "nato"],
        "filename": "replies.txt",
        "content_b64": b64(text().encode()),
        "pdf": False,
        **changes,
    }
    return network.clients["us"].post("/v1/documents", json=body, headers=auth(network, "us"))


def deliver(network):
    for _ in range(2):  # the copies out, the receipts back
        for party in ("us", "nato", "ru"):
            network.senders[party].run_once()


def keys(network, *parties):
    return [network.nodes[p].verifier.to_text() for p in parties or network.nodes]


def verify(network, data: bytes, proof, key_texts):
    return network.clients["us"].post(
        "/v1/documents/verify",
        json={"content_b64": b64(data), "proof": proof, "keys": key_texts},
        headers=auth(network, "us"),
    )


@pytest.fixture
def issued(network):
    response = issue(network)
    assert response.status_code == 201, response.text
    deliver(network)
    return response.json()


def test_issue_list_fetch_and_verify(network, issued):
    client = network.clients["us"]
    refs = {c["recipient"]: c["ref"] for c in issued["copies"]}
    assert set(refs) == {"ru", "nato"} and issued["document_id"].startswith("doc-")

    listed = client.get("/v1/documents", headers=auth(network, "us")).json()["documents"]
    by_ref = {d["ref"]: d for d in listed}
    assert set(by_ref) == set(refs.values())
    assert {d["title"] for d in listed} == {TITLE}

    party, seq = refs["ru"].split(":")
    got = client.get(f"/v1/documents/{party}/{seq}/copy", headers=auth(network, "us"))
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == "text/plain; charset=utf-8"
    assert got.headers["content-disposition"].startswith('attachment; filename="US-reply')
    assert hashlib.sha256(got.content).hexdigest() == by_ref[refs["ru"]]["sha256"]

    proof = client.get(f"/v1/documents/{party}/{seq}/proof", headers=auth(network, "us"))
    assert proof.status_code == 200 and proof.headers["content-type"] == "application/json"
    checked = verify(network, got.content, proof.json(), keys(network))
    assert checked.status_code == 200, checked.text
    assert checked.json()["issuer"] == "us" and checked.json()["recipient"] == "ru"
    assert checked.json()["title"] == TITLE and checked.json()["position"] == refs["ru"]

    altered = got.content.replace(b"Ukraine", b"Ukrain", 1)
    refused = verify(network, altered, proof.json(), keys(network))
    assert refused.status_code == 422
    assert refused.json()["error"] == "VerificationError"
    assert "its SHA-256 is" in refused.json()["detail"]

    no_issuer = verify(network, got.content, proof.json(), keys(network, "ru"))
    assert no_issuer.status_code == 422 and "no key for issuer us" in no_issuer.json()["detail"]


def test_the_recipient_holds_its_copy_with_a_proof_of_its_own(network, issued):
    client = network.clients["ru"]
    [held] = client.get("/v1/documents", headers=auth(network, "ru")).json()["documents"]
    assert held["recipient"] == "ru" and held["issuer"] == "us"
    path = "/v1/documents/" + held["ref"].replace(":", "/")
    data = client.get(path + "/copy", headers=auth(network, "ru")).content
    proof = client.get(path + "/proof", headers=auth(network, "ru")).json()
    assert hashlib.sha256(data).hexdigest() == held["sha256"]
    assert verify(network, data, proof, keys(network)).json()["recipient"] == "ru"


def test_a_leaked_copy_is_traced_to_its_recipient(network, issued):
    client = network.clients["us"]
    ref = next(c["ref"] for c in issued["copies"] if c["recipient"] == "nato")
    leak = client.get(
        "/v1/documents/" + ref.replace(":", "/") + "/copy", headers=auth(network, "us")
    ).content
    third = leak[len(leak) // 3 : 2 * len(leak) // 3]
    traced = client.post(
        "/v1/documents/trace?name=leak.txt",
        content=third,
        headers={**auth(network, "us"), "Content-Type": "application/octet-stream"},
    )
    assert traced.status_code == 200, traced.text
    best = traced.json()["best"]
    assert (best["verdict"], best["recipient"]) == ("attributed", "nato")
    assert best["runner_up"]["recipient"] == "ru" and traced.json()["file"] == "leak.txt"

    nothing = network.clients["ru"].post(
        "/v1/documents/trace", content=leak, headers=auth(network, "ru")
    )
    assert nothing.status_code == 404 and "issued no document" in nothing.json()["detail"]


def test_what_is_refused(network):
    bad = issue(network, content_b64="not base64!")
    assert bad.status_code == 422 and "content_b64: not base64" in bad.json()["detail"]
    extra = issue(network, colour="red")
    assert extra.status_code == 422 and "colour" in extra.json()["detail"]
    own = issue(network, to=["us"])
    assert own.status_code == 422 and "this node's own party" in own.json()["detail"]
    docx = issue(network, filename="replies.docx")
    assert docx.status_code == 422 and ".txt, .md or .pdf" in docx.json()["detail"]

    _, token = add_operator(network.nodes["us"], "viewer", Role.viewer)
    viewer = network.clients["us"].post(
        "/v1/documents",
        json={"title": "t", "marking": "m", "to": ["ru"], "filename": "a.txt", "content_b64": ""},
        headers=auth(network, "us", token),
    )
    assert viewer.status_code == 403
    listed = network.clients["us"].get("/v1/documents", headers=auth(network, "us", token))
    assert listed.status_code == 200 and listed.json() == {"documents": []}
    assert network.clients["us"].get("/v1/documents").status_code == 401

    huge = network.clients["us"].post(
        "/v1/documents",
        content=b"{" + b" " * MAX_JSON_BODY + b"}",
        headers={**auth(network, "us"), "Content-Type": "application/json"},
    )
    assert huge.status_code == 413
    missing = network.clients["us"].get("/v1/documents/us/99/copy", headers=auth(network, "us"))
    assert missing.status_code == 404

    proof = {"v": 2}
    malformed = verify(network, b"x", proof, keys(network))
    assert malformed.status_code == 422 and "not a version 1 document proof" in malformed.text
    badkey = verify(network, b"x", {"v": 1}, ["not a key"])
    assert badkey.status_code == 422 and "keys: line 1" in badkey.json()["detail"]
