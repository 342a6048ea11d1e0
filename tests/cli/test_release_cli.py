"""The CLI does not bypass two-person release; `detente release list` shows releases."""

import json

from typer.testing import CliRunner

from detente.cli.app import app
from detente.node import init_node, open_node
from detente.node.operators import Role, add_operator
from detente.node.releases import propose, reject
from detente.node.writer import Draft
from detente.store.logs import LogStore

runner = CliRunner()

SUSPEND = {"types": ["message"], "effective": "2099-01-01T00:00:00Z", "reason": "countermeasure"}


def test_log_append_refuses_a_type_that_needs_release(tmp_path):
    init_node(tmp_path / "us", party="us", agreement_ref="security-replies-2022").close()
    home = str(tmp_path / "us")
    for type_, body in [
        ("suspension", SUSPEND),
        ("resumption", {"types": ["message"], "effective": "2099-01-01T00:00:00Z"}),
    ]:
        result = runner.invoke(
            app, ["log", "append", "--dir", home, "--type", type_, "--body", json.dumps(body)]
        )
        assert result.exit_code == 1
        message = " ".join(result.output.split())
        assert f"type '{type_}' needs two-person release under security-replies-2022" in message
        assert "POST /v1/messages" in message and "POST /v1/releases/ID/approve" in message
    sent = runner.invoke(
        app, ["log", "append", "--dir", home, "--type", "message", "--body", '{"text": "hi"}']
    )
    assert sent.exit_code == 0, sent.output
    node = open_node(tmp_path / "us")
    try:
        with node.database.engine.connect() as conn:
            assert LogStore(conn, "us").size() == 1  # the free text only
    finally:
        node.close()


def test_release_list_shows_pending_and_decided(tmp_path):
    home = tmp_path / "us"
    node = init_node(home, party="us", agreement_ref="security-replies-2022")
    try:
        ann = add_operator(node, "ann", Role.operator)[0]
        bob = add_operator(node, "bob", Role.operator)[0]
        empty = runner.invoke(app, ["release", "list", "--dir", str(home)])
        assert empty.exit_code == 0 and "no releases" in empty.output
        first = propose(node, Draft("suspension", SUSPEND), by=ann)
        propose(node, Draft("suspension", SUSPEND), by=ann)
        reject(node, first.id, by=bob, reason="not now")
    finally:
        node.close()
    text = runner.invoke(app, ["release", "list", "--dir", str(home)], env={"COLUMNS": "200"})
    assert text.exit_code == 0, text.output
    assert "suspension" in text.output and "rejected" in text.output and "not now" in text.output
    pending = runner.invoke(
        app, ["release", "list", "--dir", str(home), "--state", "pending", "--format", "json"]
    )
    assert pending.exit_code == 0, pending.output
    (shown,) = json.loads(pending.output)
    assert shown["id"] == 2 and shown["state"] == "pending" and shown["proposed_by"] == "ann"
    assert shown["draft"]["body"] == SUSPEND
    none = runner.invoke(app, ["release", "list", "--dir", str(home), "--state", "withdrawn"])
    assert none.exit_code == 0 and "no withdrawn releases" in none.output
    wrong = runner.invoke(app, ["release", "list", "--dir", str(home), "--state", "sent"])
    assert wrong.exit_code == 2
