"""The inspection report file: built from a whole visit, checked offline, tampering refused."""

import base64
import copy
import hashlib
import json

import pytest
from typer.testing import CliRunner

from detente.agreement import builtin_agreement
from detente.cli.app import app
from detente.crypto.canonical import canonical_json
from detente.errors import BodyError, ConflictError, SignatureError, VerificationError
from detente.measures.inspection_report import load_report_file, render_html, verify_report
from detente.node.inspection_report import build_report_file
from detente.node.visits import commit_inventory
from tests.integration.test_inspection_exchange import (
    act,
    cells,
    draw,
    request,
    run_visit,
)


@pytest.fixture
def closed(network, clock):
    """A closed Aegis Ashore visit (Russia at Deveselu): the network and the request."""
    act(network, clock, commit_inventory, network.nodes["us"], "deveselu", cells("deveselu"))
    ref = request(network, clock, "ru", "aegis-ashore-visit", "deveselu")
    run_visit(network, clock, ref, "us", "ru")
    return network, ref


def keys(network):
    return [network.nodes[p].verifier for p in ("us", "ru")]


def entry(report_file, role):
    return next(e for e in report_file["entries"] if e["role"] == role)


def body_of(item):
    return json.loads(base64.b64decode(item["body"]))


def set_body(item, body):
    item["body"] = base64.b64encode(canonical_json(body)).decode()


def test_a_report_built_on_either_side_verifies_offline(closed):
    network, ref = closed
    agreement = builtin_agreement("security-replies-2022")
    for party in ("us", "ru"):
        report_file = build_report_file(network.nodes[party], ref)
        assert (
            report_file["report_sha256"]
            == hashlib.sha256(canonical_json(report_file["report"])).hexdigest()
        )
        roles = [e["role"] for e in report_file["entries"]]
        assert roles == [
            "commitment",
            "request",
            "commit:us",
            "commit:ru",
            "reveal:us",
            "reveal:ru",
            "opening",
            "findings",
            "report:us",
            "report:ru",
        ]
        checked = verify_report(report_file, keys=keys(network), agreement=agreement)
        assert checked.inspection == ref and checked.findings == 0
        assert checked.openings_verified == len(checked.sample) > 0
        assert "security-replies-2022" in checked.plan_source
        loose = verify_report(report_file, keys=keys(network))
        assert "taken from the file" in loose.plan_source
        # The HTML rendering embeds the same file, and so verifies too.
        page = render_html(report_file)
        assert "<script src" not in page and "http" not in page.split("<script")[0]
        assert load_report_file(page.encode()) == report_file


def test_a_visit_not_closed_has_no_report_file(network, clock):
    act(network, clock, commit_inventory, network.nodes["us"], "deveselu", cells("deveselu"))
    ref = request(network, clock, "ru", "aegis-ashore-visit", "deveselu")
    draw(network, clock, ref, "us", "ru")
    with pytest.raises(ConflictError, match="no report signed by both sides"):
        build_report_file(network.nodes["ru"], ref)


def tamper_finding(f):
    f["report"]["findings"] = [
        {"index": 0, "kind": "mismatch", "detail": "x", "item_id": None, "mismatches": []}
    ]


def tamper_salt(f):
    item = entry(f, "opening")
    body = body_of(item)
    salt = base64.b64decode(body["openings"][0]["salt"])
    body["openings"][0]["salt"] = base64.b64encode(bytes([salt[0] ^ 1]) + salt[1:]).decode()
    set_body(item, body)


def tamper_reveal(f):
    item = entry(f, "reveal:ru")
    body = body_of(item)
    body["value"] = "00" * 32
    set_body(item, body)


def tamper_request_body(f):
    item = entry(f, "request")
    body = body_of(item)
    body["team_size"] = 2
    set_body(item, body)


def tamper_checkpoint(f):
    lines = f["checkpoints"]["us"].split("\n")
    i = next(i for i, line in enumerate(lines) if line.startswith("\u2014 "))
    name, sig = lines[i][2:].rsplit(" ", 1)
    raw = bytearray(base64.b64decode(sig))
    raw[-1] ^= 1
    lines[i] = f"\u2014 {name} {base64.b64encode(bytes(raw)).decode()}"
    f["checkpoints"]["us"] = "\n".join(lines)


def tamper_hash(f):
    f["report_sha256"] = "0" * 64


def tamper_seed(f):
    f["report"]["seed"] = "11" * 32


def tamper_sample(f):
    f["report"]["sample"] = list(reversed(f["report"]["sample"]))


def tamper_proof(f):
    item = entry(f, "findings")
    proof = [bytearray(base64.b64decode(h)) for h in item["proof"]]
    proof[0][0] ^= 1
    item["proof"] = [base64.b64encode(bytes(h)).decode() for h in proof]


def swap_roles(f):
    a, b = entry(f, "report:us"), entry(f, "report:ru")
    a["role"], b["role"] = b["role"], a["role"]


@pytest.mark.parametrize(
    ("tamper", "error", "named"),
    [
        (tamper_finding, VerificationError, "report.findings: not the findings computed"),
        (tamper_salt, BodyError, r"\(opening us:\d+\): the body does not match"),
        (tamper_reveal, BodyError, r"\(reveal:ru ru:\d+\): the body does not match"),
        (tamper_request_body, BodyError, r"\(request ru:\d+\): the body does not match"),
        (tamper_checkpoint, SignatureError, "checkpoints.us"),
        (tamper_hash, VerificationError, "report_sha256: 0+ is not the SHA-256"),
        (tamper_seed, VerificationError, "report.seed: 1+ is not the seed derived"),
        (tamper_sample, VerificationError, "report.sample"),
        (tamper_proof, VerificationError, r"\(findings ru:\d+\): not in ru's checkpoint"),
        (
            swap_roles,
            VerificationError,
            r"\(report:ru us:\d+\): is inspection-report from us, not inspection-report from ru",
        ),
    ],
)
def test_tampering_is_refused_naming_what(closed, tamper, error, named):
    network, ref = closed
    report_file = build_report_file(network.nodes["ru"], ref)
    verify_report(report_file, keys=keys(network))
    bad = copy.deepcopy(report_file)
    tamper(bad)
    with pytest.raises(error, match=named):
        verify_report(bad, keys=keys(network))


def test_an_entry_from_the_wrong_side_is_named(closed):
    """Each side's signed commit, proved in its own log, but offered as the other's."""
    network, ref = closed
    report_file = build_report_file(network.nodes["ru"], ref)
    us, ru = entry(report_file, "commit:us"), entry(report_file, "commit:ru")
    for name in ("position", "leaf", "body", "proof"):
        us[name], ru[name] = ru[name], us[name]
    with pytest.raises(
        VerificationError, match=r"\(commit:us ru:\d+\): is sample-commit from ru, not"
    ):
        verify_report(report_file, keys=keys(network))


def test_without_a_sides_key_nothing_is_trusted(closed):
    network, ref = closed
    report_file = build_report_file(network.nodes["ru"], ref)
    with pytest.raises(VerificationError, match="no key given for us's log"):
        verify_report(report_file, keys=[network.nodes["ru"].verifier])


def test_the_cli_writes_json_and_html_and_verifies_them_offline(closed, tmp_path):
    network, ref = closed
    runner = CliRunner()
    node = network.nodes["ru"]
    key_args = [a for p in ("us", "ru") for a in ("--key", network.nodes[p].verifier.to_text())]
    for form in ("json", "html"):
        out = tmp_path / f"report.{form}"
        made = runner.invoke(
            app,
            [
                "inspection",
                "report",
                ref,
                "--out",
                str(out),
                "--format",
                form,
                "--dir",
                str(node.directory),
            ],
        )
        assert made.exit_code == 0, made.output
        checked = runner.invoke(app, ["inspection", "verify", str(out), *key_args])
        assert checked.exit_code == 0, checked.output
        assert "OK" in checked.output and ref in checked.output
        assert "security-replies-2022" in checked.output
    report_file = json.loads((tmp_path / "report.json").read_text())
    tamper_finding(report_file)
    (tmp_path / "bad.json").write_text(json.dumps(report_file))
    refused = runner.invoke(app, ["inspection", "verify", str(tmp_path / "bad.json"), *key_args])
    assert refused.exit_code == 1
    assert "report.findings" in refused.output + str(refused.stderr)
