"""`detente suspensions`, `detente obligations`, and the send path refusing a suspended type."""

import json
from datetime import UTC, datetime

from typer.testing import CliRunner

from detente.cli.app import app
from detente.node import init_node

runner = CliRunner(env={"COLUMNS": "250"})

COUNTS = {
    "deployed_icbms": 400,
    "deployed_slbms": 280,
    "deployed_heavy_bombers": 50,
    "warheads_on_deployed_icbms_and_slbms": 1350,
    "nondeployed_icbm_launchers": 50,
    "nondeployed_slbm_launchers": 80,
    "nondeployed_heavy_bombers": 16,
}


def test_suspend_refuse_show_resume(tmp_path):
    home = str(tmp_path / "us")
    init_node(tmp_path / "us", party="us", agreement_ref="new-start").close()
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    none = runner.invoke(app, ["suspensions", "--dir", home])
    assert none.exit_code == 0 and "no suspensions" in none.output

    body = {"types": ["aggregate_data"], "effective": now, "reason": "countermeasure"}
    done = runner.invoke(
        app, ["log", "append", "--dir", home, "--type", "suspension", "--body", json.dumps(body)]
    )
    assert done.exit_code == 0, done.output
    data = {"as_of": "2026-03-01", "counts": COUNTS}
    refused = runner.invoke(
        app,
        ["log", "append", "--dir", home, "--type", "aggregate_data", "--body", json.dumps(data)],
    )
    assert refused.exit_code == 1
    assert "type aggregate_data is suspended since us:0; send a resumption first" in refused.output
    drill = runner.invoke(
        app,
        ["log", "append", "--dir", home, "--type", "aggregate_data", "--exercise"]
        + ["--body", json.dumps(data)],
    )
    assert drill.exit_code == 0, drill.output

    shown = runner.invoke(app, ["suspensions", "--dir", home, "--format", "json"])
    assert shown.exit_code == 0, shown.output
    (interval,) = json.loads(shown.output)["suspensions"]
    assert interval["suspended_by"] == "us:0" and interval["active"] is True
    table = runner.invoke(app, ["suspensions", "--dir", home])
    assert "aggregate_data" in table.output and "us:0" in table.output

    obligations = runner.invoke(app, ["obligations", "--dir", home, "--format", "json"])
    report = json.loads(obligations.output)
    # The wall clock decides which periods are open (the API tests pin it):
    # none after New START expired on 5 February 2026. The exercise entry
    # never counts, whatever the day.
    assert obligations.exit_code == 0, obligations.output
    assert all(o["as_of"] < "2026-02-05" for o in report["obligations"] if o["as_of"])
    assert [(s["ref"], s["exercise"]) for s in report["skipped"]] == [("us:1", True)]
    text = runner.invoke(app, ["obligations", "--dir", home])
    assert "aggregate_data" in text.output and "us:1" in text.output

    resumption = {"types": ["aggregate_data"], "effective": now}
    again = runner.invoke(
        app,
        ["log", "append", "--dir", home, "--type", "resumption", "--body", json.dumps(resumption)],
    )
    assert again.exit_code == 0, again.output
    sent = runner.invoke(
        app,
        ["log", "append", "--dir", home, "--type", "aggregate_data", "--body", json.dumps(data)],
    )
    assert sent.exit_code == 0, sent.output


def test_obligations_exit_1_when_overdue_and_since_is_checked(tmp_path):
    home = str(tmp_path / "ru")
    init_node(tmp_path / "ru", party="ru", agreement_ref="new-start").close()
    bad = runner.invoke(app, ["obligations", "--dir", home, "--since", "March"])
    assert bad.exit_code == 1 and "--since: 'March' is not a date" in bad.output
    old = runner.invoke(app, ["obligations", "--dir", home, "--since", "2020-01-01"])
    assert old.exit_code == 1  # every period since 2020 is overdue: nothing was sent
    assert "overdue" in old.output
