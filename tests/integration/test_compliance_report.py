"""The compliance report: built on a node from exchanged declarations and a dispute,
checked offline with the agreement and the parties' keys alone, tampering refused."""

import base64
import copy
import json
from datetime import UTC, date, datetime

import pytest
from typer.testing import CliRunner

from detente.agreement import resolve_agreement
from detente.cli.app import app
from detente.crypto.canonical import canonical_json
from detente.crypto.keys import SigningKey
from detente.errors import (
    BodyError,
    SequenceError,
    SignatureError,
    UnknownKeyError,
    VerificationError,
)
from detente.measures.compliance_render import load_compliance_file, render_html, render_pdf
from detente.measures.compliance_report import Period, verify_compliance_report
from detente.node.compliance_report import build_compliance_report
from detente.node.measures import obligation_report
from detente.node.writer import Draft
from tests.fakes.network import make_network
from tests.fakes.new_start import US_COUNTS, send, write_agreement

RU_COUNTS = {
    "deployed_icbms": 310,
    "deployed_slbms": 150,
    "deployed_heavy_bombers": 57,
    "warheads_on_deployed_icbms_and_slbms": 1400,
    "nondeployed_icbm_launchers": 120,
    "nondeployed_slbm_launchers": 60,
    "nondeployed_heavy_bombers": 50,
}
PERIOD = {"start": date(2021, 1, 1), "end": date(2021, 6, 30)}


@pytest.fixture
def exchanged(tmp_path, clock, database_url):
    """The New START exercise network after both declarations of March 2021 and
    Russia's dispute of the US one; the agreement file's path."""
    path = write_agreement(tmp_path)
    clock.now = clock.now.replace(year=2021, month=3, day=20)
    for network in make_network(tmp_path, clock, database_url, agreement_ref=str(path)):
        declared = send(
            network,
            clock,
            "us",
            Draft(
                type="aggregate_data",
                body={"as_of": "2021-03-01", "counts": US_COUNTS},
                to=("nato", "ru"),
            ),
        )
        send(
            network,
            clock,
            "ru",
            Draft(
                type="aggregate_data",
                body={"as_of": "2021-03-01", "counts": RU_COUNTS},
                to=("nato", "us"),
            ),
        )
        send(
            network,
            clock,
            "ru",
            Draft(
                type="declaration_dispute",
                body={
                    "text": "56 converted Trident II launchers and 41 B-52H still count",
                    "counts": {"nondeployed_slbm_launchers": 116, "nondeployed_heavy_bombers": 76},
                },
                to=("nato", "us"),
                refs=(declared,),
            ),
        )
        # Sent to the United States alone: its body must never go into a report.
        send(
            network,
            clock,
            "ru",
            Draft(
                type="declaration_dispute",
                body={"text": "for the United States only"},
                to=("us",),
                refs=(declared,),
            ),
        )
        clock.advance(days=30)
        yield network, path


def keys(network):
    return [network.nodes[p].verifier for p in ("us", "nato", "ru")]


def launchers(report):
    return next(limit for limit in report["limits"] if limit["limit"] == "launchers")


def test_a_report_built_on_a_node_verifies_offline_and_says_what_the_logs_say(exchanged):
    network, path = exchanged
    agreement = resolve_agreement(str(path))
    built = build_compliance_report(network.nodes["us"], **PERIOD)
    report = built["report"]
    assert report["agreement"] == {
        "id": agreement.id,
        "name": "new-start-exercise",
        "title": agreement.title,
    }
    assert (report["by"], report["period"]) == ("us", {"from": "2021-01-01", "to": "2021-06-30"})
    assert built["logs"]["nato"] is None  # NATO sent nothing: no checkpoint to rest on
    assert report["record"]["us"]["entries"] == 1
    assert {c["by"] for c in report["record"]["us"]["cosigned"]} == {"nato", "ru"}
    assert report["record"]["ru"]["entries"] == 3
    # ru:2 went to the United States alone: its leaf is carried, its body never.
    carried = ["body" in entry for entry in built["logs"]["ru"]["entries"]]
    assert carried == [True, True, False]

    declared = {d["party"]: d for d in launchers(report)["declarations"]}
    assert (declared["us"]["value"], declared["us"]["state"]) == (800, "met")
    assert (declared["ru"]["value"], declared["ru"]["state"]) == (747, "met")
    (position,) = declared["us"]["disputed"]
    assert (position["by"], position["value"], position["state"]) == ("ru", 897, "violated")
    (dispute,) = report["disputes"]
    assert dispute["declared"] == {"value": 800, "state": "met"}
    assert (dispute["disputed"]["by"], dispute["disputed"]["value"]) == ("ru", 897)

    periodic = [o for o in report["obligations"] if o["rule"] == "periodic"]
    assert {(o["party"], o["as_of"], o["state"]) for o in periodic} == {
        ("us", "2021-03-01", "met"),
        ("ru", "2021-03-01", "met"),
    }
    assert report["summary"]["us"]["met"] == 4  # the exchange and three limits
    assert report["summary"]["nato"] == dict.fromkeys(report["summary"]["nato"], 0)
    assert {(q["inspection_type"], q["inspecting"], q["used"]) for q in report["quotas"]} >= {
        ("type-one", "ru", 0),
        ("type-two", "us", 0),
    }

    # The node's own view (`detente obligations`) judges the period alike.
    period = Period(**PERIOD)
    held = obligation_report(network.nodes["us"]).obligations
    assert [o.to_json() for o in held if period.holds(o)] == report["obligations"]

    checked = verify_compliance_report(built, keys=keys(network), agreement=agreement)
    assert (checked.disputes, checked.violated, checked.declarations) == (1, 0, 6)
    assert "nato: not carried" in checked.summary()

    # The other side builds its own, which verifies too and judges the same limits.
    theirs = build_compliance_report(network.nodes["ru"], **PERIOD)
    verify_compliance_report(theirs, keys=keys(network), agreement=agreement)
    assert theirs["report"]["limits"] == report["limits"]

    # A report judged before Russia's declarations arrived does not know of them.
    early = build_compliance_report(
        network.nodes["us"], **PERIOD, at=datetime(2021, 3, 20, 12, 1, 30, tzinfo=UTC)
    )
    assert [d["party"] for d in launchers(early["report"])["declarations"]] == ["us"]
    assert launchers(early["report"])["declarations"][0]["disputed"] == []
    verify_compliance_report(early, keys=keys(network), agreement=agreement)

    # The HTML page carries the charts inline and the file embedded; the PDF is a PDF.
    page = render_html(built)
    assert page.count("<svg") == 3 and "disputed by ru" in page
    assert "<script src" not in page and "<img" not in page and "<link" not in page
    assert load_compliance_file(page.encode()) == built
    assert render_pdf(built).startswith(b"%PDF")

    # Anything changed in the file is caught, and the first thing that differs is named.
    for tamper, error, match in TAMPERED:
        bad = copy.deepcopy(built)
        tamper(bad)
        with pytest.raises(error, match=match):
            verify_compliance_report(bad, keys=keys(network), agreement=agreement)
    # A key that is not Russia's log key: its checkpoint's signature does not verify.
    origin = network.nodes["ru"].verifier.name
    forged = [*keys(network)[:2], SigningKey.generate(origin).verifier]
    with pytest.raises((SignatureError, UnknownKeyError), match=r"logs\.ru\.checkpoint"):
        verify_compliance_report(built, keys=forged, agreement=agreement)
    with pytest.raises(UnknownKeyError, match=r"logs\.ru\.checkpoint: no key given for ru"):
        verify_compliance_report(built, keys=keys(network)[:2], agreement=agreement)


def body_of(item):
    return json.loads(base64.b64decode(item["body"]))


def edit_number(f):
    for declaration in launchers(f["report"])["declarations"]:
        if declaration["party"] == "us":
            declaration["value"] = 700


def edit_summary(f):
    f["report"]["summary"]["ru"]["violated"] = 1


def drop_entry(f):
    f["logs"]["ru"]["entries"].pop(0)


def drop_last_entry(f):
    f["logs"]["ru"]["entries"].pop()


def drop_body(f):
    item = f["logs"]["ru"]["entries"][1]
    del item["body"], item["proof"]


def edit_body(f):
    item = f["logs"]["ru"]["entries"][1]
    body = body_of(item)
    body["counts"]["nondeployed_slbm_launchers"] = 60
    item["body"] = base64.b64encode(canonical_json(body)).decode()


def drop_cosignatures(f):
    f["logs"]["us"]["cosignatures"] = []


def drop_log(f):
    del f["logs"]["ru"]


def other_agreement(f):
    f["report"]["agreement"]["id"] = "0" * 64


TAMPERED = [
    (edit_number, VerificationError, r"report\.limits\[2\]\.declarations\[\d\]\.value: 700 in"),
    (edit_summary, VerificationError, r"report\.summary\.ru\.violated: 1 in the file, 0"),
    (drop_entry, SequenceError, r"logs\.ru\.entries: 2 entries, but the checkpoint is at size 3"),
    (drop_last_entry, SequenceError, r"logs\.ru\.entries: 2 entries, but .* size 3"),
    (drop_body, BodyError, r"logs\.ru\.entries\[1\] \(ru:1 declaration_dispute\): no body"),
    (edit_body, BodyError, r"logs\.ru\.entries\[1\] .*does not match the signed body_sha256"),
    (drop_cosignatures, VerificationError, r"logs\.us\.cosignatures: none on us's checkpoint"),
    (drop_log, VerificationError, r"logs: carries nato, us, not every party's log"),
    (other_agreement, VerificationError, r"report\.agreement\.id: the report is under"),
]


# The command line and the API do not depend on the database: SQLite alone.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_command_line_and_the_api_build_and_verify_reports(exchanged, tmp_path):
    network, path = exchanged
    runner = CliRunner()
    home = str(network.nodes["us"].directory)
    key_args = [a for n in network.nodes.values() for a in ("--key", n.verifier.to_text())]
    span = ["--from", "2021-01-01", "--to", "2021-06-30"]
    for suffix in ("json", "html", "pdf"):
        out = tmp_path / f"report.{suffix}"
        built = runner.invoke(
            app, ["report", "build", *span, "--out", str(out), "--format", suffix, "--dir", home]
        )
        assert built.exit_code == 0, built.output
    assert (tmp_path / "report.pdf").read_bytes().startswith(b"%PDF")
    for name in ("report.json", "report.html"):
        checked = runner.invoke(
            app,
            ["report", "verify", str(tmp_path / name), "--agreement", str(path), *key_args],
        )
        assert checked.exit_code == 0, checked.output
        assert "OK" in checked.output and "1 dispute(s)" in checked.output
    # A page whose tables say otherwise than the JSON it embeds is refused.
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert ">met<" in page
    (tmp_path / "edited.html").write_text(page.replace(">met<", ">violated<"), encoding="utf-8")
    edited_page = str(tmp_path / "edited.html")
    edited = runner.invoke(
        app, ["report", "verify", edited_page, "--agreement", str(path), *key_args]
    )
    assert edited.exit_code == 1 and "does not show the report it embeds" in edited.output

    tampered = json.loads((tmp_path / "report.json").read_text())
    edit_number(tampered)
    (tmp_path / "bad.json").write_text(json.dumps(tampered))
    refused = runner.invoke(
        app, ["report", "verify", str(tmp_path / "bad.json"), "--agreement", str(path), *key_args]
    )
    assert refused.exit_code == 1
    assert "report.limits[2].declarations" in refused.output

    backwards = runner.invoke(
        app,
        ["report", "build", "--from", "2021-06-30", "--to", "2021-01-01", "--out", "x.json"]
        + ["--dir", home],
    )
    assert backwards.exit_code == 1 and "ends (2021-01-01) before it starts" in backwards.output

    client, token = network.clients["us"], network.tokens["us"]
    auth = {"Authorization": f"Bearer {token}"}
    query = {"from": "2021-01-01", "to": "2021-06-30"}
    answer = client.get("/v1/report", params=query, headers=auth)
    assert answer.status_code == 200, answer.text
    agreement = resolve_agreement(str(path))
    verify_compliance_report(answer.json(), keys=keys(network), agreement=agreement)
    page = client.get("/v1/report", params={**query, "format": "html"}, headers=auth)
    assert page.headers["content-type"].startswith("text/html")
    assert load_compliance_file(page.content) == answer.json()
    assert client.get("/v1/report", params=query).status_code == 401
    assert client.get("/v1/report", params={"from": "2021-01-01"}, headers=auth).status_code == 422
