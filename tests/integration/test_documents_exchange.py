"""Signed documents across real nodes: issued copies, saved with proofs, verified, traced.

The United States issues the 2022 replies article to NATO and Russia; each
copy is its recipient's own. Russia saves its copy with its proof; anyone
with the public keys can check it, and an altered or forged copy is
refused with the reason. Back at the United States' node, a leaked copy,
a third of one, a retyped one and two mixed are traced to their recipients.
"""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import detente.cli._node as cli_node
from detente.cli.app import app
from detente.documents.pdf import pdf_text
from detente.node import open_node
from detente.node.documents import issue_document, list_documents, save_copy, trace_file
from tests.fakes.network import make_network

ARTICLE = Path(__file__).resolve().parents[3] / "shared" / "reference"
ARTICLE = ARTICLE / "2022-security-replies-article.txt"
runner = CliRunner()


@pytest.fixture
def network(tmp_path, clock, database_url, monkeypatch):
    import functools

    monkeypatch.setattr(cli_node, "open_node", functools.partial(open_node, clock=clock))
    yield from make_network(tmp_path, clock, database_url)


def text():
    if ARTICLE.exists():
        return ARTICLE.read_text(encoding="utf-8")
    pytest.skip("the reference article is not in ../shared/reference")


def deliver(network, *parties):
    for party in parties:
        network.senders[party].run_once()


def keys_file(network, tmp_path):
    path = tmp_path / "keys.txt"
    path.write_text("\n".join(n.verifier.to_text() for n in network.nodes.values()) + "\n")
    return path


def issued(network, *, pdf=False):
    document_id, result = issue_document(
        network.nodes["us"],
        text().encode(),
        name="replies.txt",
        title="US reply to the Russian proposals",
        marking="CONFIDENTIAL",
        to=("ru", "nato"),
        pdf=pdf,
    )
    deliver(network, "us")
    deliver(network, "us")
    return document_id, {e.header.to[0]: e.position for e in result.envelopes}


def test_each_recipient_gets_its_own_copy_and_ru_verifies_its_own_offline(network, tmp_path):
    document_id, refs = issued(network)
    held = list_documents(network.nodes["ru"])
    assert [(d["ref"], d["recipient"]) for d in held] == [(refs["ru"], "ru")]
    copies = {d["recipient"]: d["sha256"] for d in list_documents(network.nodes["us"])}
    assert set(copies) == {"ru", "nato"} and copies["ru"] != copies["nato"]

    path, proof = save_copy(network.nodes["ru"], refs["ru"], tmp_path / "ru-copy")
    keys = keys_file(network, tmp_path)
    ok = runner.invoke(app, ["docs", "verify", str(path), "--keys", str(keys)])
    assert ok.exit_code == 0, ok.output
    assert "us's copy for ru of 'US reply to the Russian proposals'" in ok.output
    as_json = json.loads(
        runner.invoke(app, ["docs", "verify", str(path), "--keys", str(keys), "-f", "json"]).stdout
    )
    assert as_json["position"] == refs["ru"] and as_json["document_id"] == document_id

    altered = tmp_path / "altered.txt"
    altered.write_bytes(path.read_bytes().replace(b"Ukraine", b"Ukrain", 1))
    bad = runner.invoke(
        app, ["docs", "verify", str(altered), "--keys", str(keys), "--proof", str(proof)]
    )
    assert bad.exit_code == 1
    assert "NOT verified" in bad.output and "its SHA-256 is" in bad.output

    forged = json.loads(proof.read_text())
    forged["body"]["title"] = "Something else"
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    bad = runner.invoke(
        app,
        [
            "docs",
            "verify",
            str(path),
            "--keys",
            str(keys),
            "--proof",
            str(tmp_path / "forged.json"),
        ],
    )
    assert bad.exit_code == 1 and "is not the body us signed" in bad.output

    only_ru = tmp_path / "ru-key.txt"
    only_ru.write_text(network.nodes["ru"].verifier.to_text() + "\n")
    bad = runner.invoke(app, ["docs", "verify", str(path), "--keys", str(only_ru)])
    assert bad.exit_code == 1 and "no key for issuer us" in bad.output


def test_the_issuer_traces_leaks_to_their_recipients(network, tmp_path):
    _, refs = issued(network)
    node = network.nodes["us"]
    ru_path, _ = save_copy(node, refs["ru"], tmp_path / "us-side")
    nato_path, _ = save_copy(node, refs["nato"], tmp_path / "us-side")
    ru_text = ru_path.read_text(encoding="utf-8")
    nato_text = nato_path.read_text(encoding="utf-8")

    full = trace_file(node, ru_text.encode(), name="leak.txt")["best"]
    assert (full["verdict"], full["recipient"]) == ("attributed", "ru")
    assert full["runner_up"]["recipient"] == "nato"
    third = ru_text[len(ru_text) // 3 : 2 * len(ru_text) // 3]
    assert trace_file(node, third.encode(), name="third.txt")["best"]["recipient"] == "ru"
    retyped = " ".join(nato_text.split())
    assert trace_file(node, retyped.encode(), name="retyped.txt")["best"]["recipient"] == "nato"
    half = len(ru_text) // 2
    mixed = ru_text[:half] + nato_text[len(nato_text) // 2 :]
    both = trace_file(node, mixed.encode(), name="mixed.txt")["best"]
    assert both["verdict"] == "combined"
    assert {c["recipient"] for c in both["candidates"]} == {"ru", "nato"}
    original = trace_file(node, text().encode(), name="original.txt")["best"]
    assert original["verdict"] == "undecided"

    shown = runner.invoke(app, ["docs", "trace", str(ru_path), "--dir", str(node.directory)])
    assert shown.exit_code == 0, shown.output
    assert "text: ru:" in shown.output and "runner-up: nato" in shown.output


def test_pdf_copies_carry_the_marking_and_the_varied_text(network, tmp_path):
    _, refs = issued(network, pdf=True)
    node = network.nodes["us"]
    path, _ = save_copy(node, refs["nato"], tmp_path / "pdf")
    assert path.suffix == ".pdf" and path.read_bytes()[:5] == b"%PDF-"
    result = trace_file(node, path.read_bytes(), name=str(path))["best"]
    assert result["marking_names"] == "nato" and result["recipient"] == "nato"
    stripped = " ".join(pdf_text(path.read_bytes()).split())  # retyped from the PDF
    again = trace_file(node, stripped.encode(), name="retyped.txt")["best"]
    assert again["marking_names"] is None and again["recipient"] == "nato"


def test_issuing_refuses_what_it_cannot_sign(network, tmp_path):
    node = network.nodes["us"]
    with pytest.raises(Exception, match="this node's own party"):
        issue_document(node, b"x", name="a.txt", title="t", marking="m", to=("us",))
    with pytest.raises(Exception, match="not a party"):
        issue_document(node, b"x", name="a.txt", title="t", marking="m", to=("fr",))
    with pytest.raises(Exception, match=r"give a \.txt, \.md or \.pdf"):
        issue_document(node, b"x", name="a.docx", title="t", marking="m", to=("ru",))
    with pytest.raises(Exception, match="not UTF-8"):
        issue_document(node, b"\xff\xfe", name="a.txt", title="t", marking="m", to=("ru",))
    assert (node.directory / "document.key").stat().st_mode & 0o777 == 0o600
