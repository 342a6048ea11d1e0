"""`detente tracks alerts|alert|send|dismiss|recompute` on a node directory.

A node's screening (a TrackService over the node, as a serving node runs
it) raises an alert; the CLI, opening the same directory on the same
clock, lists it, shows it with the reports behind it, sends or dismisses
its draft once, and recomputes the incident report it sent.
"""

import functools
import json

import pytest
from typer.testing import CliRunner

import detente.cli._node as cli_node
import detente.cli._output as cli_output
from detente.cli.app import app
from detente.node import init_node, open_node
from detente.node.operators import Role, add_operator
from detente.node.tracks import TrackService
from detente.tracks.report import parse_json_report
from tests.integration.test_track_screening import report

runner = CliRunner()


@pytest.fixture
def node_dir(tmp_path, clock, monkeypatch):
    monkeypatch.setattr(cli_node, "open_node", functools.partial(open_node, clock=clock))
    monkeypatch.setattr(cli_output.out, "width", 400)
    node = init_node(
        tmp_path / "us", party="us", agreement_ref="security-replies-2022", clock=clock
    )
    add_operator(node, "officer", Role.operator)
    add_operator(node, "viewer", Role.viewer)
    service = TrackService(node)
    for line in (
        report(clock, "366999001", "us", 55.5, 18.9, 90, 10),
        report(clock, "273999002", "ru", 55.5, 19.122, 270, 10),
    ):
        service.submit(parse_json_report(line))
    node.close()
    return tmp_path / "us"


def run(node_dir, *args):
    return runner.invoke(app, ["tracks", *args, "--dir", str(node_dir)])


def test_alerts_lists_and_shows_the_alert_with_the_reports_behind_it(node_dir):
    listed = run(node_dir, "alerts", "--format", "json")
    assert listed.exit_code == 0, listed.output
    [alert] = json.loads(listed.stdout)
    assert (alert["a"], alert["b"], alert["state"]) == ("273999002", "366999001", "raised")
    table = run(node_dir, "alerts", "--state", "raised")
    assert "273999002 / 366999001" in table.stdout and "open" in table.stdout
    assert run(node_dir, "alerts", "--state", "cleared", "--format", "json").stdout.strip() == "[]"
    assert run(node_dir, "alerts", "--state", "gone").exit_code != 0

    shown = run(node_dir, "alert", str(alert["id"]))
    assert shown.exit_code == 0, shown.output
    assert "raised" in shown.stdout and "366999001 55.5000,18.9000 90°" in shown.stdout
    assert "Predicted close approach" in shown.stdout
    missing = run(node_dir, "alert", "99")
    assert missing.exit_code == 1 and "no such alert" in missing.output


def test_send_once_then_recompute_what_was_sent(node_dir):
    [alert] = json.loads(run(node_dir, "alerts", "--format", "json").stdout)
    refused = run(node_dir, "send", str(alert["id"]), "--by", "viewer")
    assert refused.exit_code == 1 and "'viewer' is not an operator of this node who may send" in (
        refused.output
    )
    sent = run(node_dir, "send", str(alert["id"]), "--by", "officer", "--account", "Our view.")
    assert sent.exit_code == 0, sent.output
    assert "incident report sent as us:" in sent.stdout
    ref = sent.stdout.strip().rsplit(" ", 1)[1]
    again = run(node_dir, "send", str(alert["id"]), "--by", "officer")
    assert again.exit_code == 1 and "sent already" in again.output
    assert run(node_dir, "dismiss", str(alert["id"]), "--by", "officer").exit_code == 1

    checked = run(node_dir, "recompute", ref)
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.rstrip().endswith("agrees")
    as_json = json.loads(run(node_dir, "recompute", ref, "--format", "json").stdout)
    assert as_json["recomputed"]["alert"] is True
    assert run(node_dir, "recompute", "us:9").exit_code == 1  # no such entry
    assert run(node_dir, "recompute", "nonsense").exit_code == 1


def test_dismiss(node_dir):
    [alert] = json.loads(run(node_dir, "alerts", "--format", "json").stdout)
    gone = run(node_dir, "dismiss", str(alert["id"]), "--by", "officer", "--format", "json")
    assert gone.exit_code == 0, gone.output
    assert json.loads(gone.stdout)["draft"]["state"] == "dismissed"
