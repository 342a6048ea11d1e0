"""`detente alarms`: list, evidence, acknowledge; exit 1 while any is unacknowledged."""

import json

from typer.testing import CliRunner

from detente.cli.app import app
from detente.node import init_node, open_node
from detente.node.alarms import raise_alarm
from detente.node.operators import Role, add_operator

runner = CliRunner()


def test_alarms_cycle(tmp_path):
    home = tmp_path / "us"
    init_node(home, party="us", agreement_ref="security-replies-2022").close()
    quiet = runner.invoke(app, ["alarms", "--dir", str(home)])
    assert quiet.exit_code == 0 and "no alarms" in quiet.output
    node = open_node(home)
    try:
        add_operator(node, "chief", Role.admin)
        add_operator(node, "watch", Role.operator)
        raise_alarm(
            node, kind="equivocation", party="ru", detail="two histories", evidence={"v": 1}
        )
    finally:
        node.close()
    listed = runner.invoke(app, ["alarms", "--dir", str(home), "--format", "json"])
    assert listed.exit_code == 1
    (alarm,) = json.loads(listed.output)
    assert alarm["kind"] == "equivocation" and alarm["evidence"] == {"v": 1}
    shown = runner.invoke(app, ["alarms", "evidence", str(alarm["id"]), "--dir", str(home)])
    assert shown.exit_code == 0 and json.loads(shown.output) == {"v": 1}
    acked = runner.invoke(
        app, ["alarms", "ack", str(alarm["id"]), "--by", "chief", "--dir", str(home)]
    )
    assert acked.exit_code == 0, acked.output
    assert runner.invoke(app, ["alarms", "--dir", str(home)]).exit_code == 0
    again = runner.invoke(
        app, ["alarms", "ack", str(alarm["id"]), "--by", "chief", "--dir", str(home)]
    )
    assert again.exit_code == 1 and "acknowledged by chief" in again.output
    every = runner.invoke(app, ["alarms", "--all", "--dir", str(home), "--format", "json"])
    assert json.loads(every.output)[0]["acknowledged_by"] == "chief"
    missing = runner.invoke(app, ["alarms", "evidence", "99", "--dir", str(home)])
    assert missing.exit_code == 1 and "no alarm 99" in missing.output
