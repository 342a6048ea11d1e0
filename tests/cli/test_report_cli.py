"""``detente report verify`` on a file made without a node, and ``build``'s argument errors."""

import json

from typer.testing import CliRunner

from detente.cli.app import app
from tests.fakes.compliance import KEYS, moment, report_file, sample_logs


def test_verify_takes_the_built_in_agreement_the_report_names(tmp_path):
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report_file(sample_logs(), moment((4, 10)))))
    key_args = [a for k in KEYS.values() for a in ("--key", k.verifier.to_text())]
    runner = CliRunner()
    checked = runner.invoke(app, ["report", "verify", str(path), *key_args])
    assert checked.exit_code == 0, checked.output
    assert "compliance report of new-start" in checked.output

    missing = runner.invoke(app, ["report", "verify", str(tmp_path / "none.json"), *key_args])
    assert missing.exit_code == 1 and "cannot read" in missing.output
    path.write_text("<!doctype html><p>nothing here</p>")
    page = runner.invoke(app, ["report", "verify", str(path), *key_args])
    assert page.exit_code == 1 and "an HTML file without the embedded report" in page.output


def test_build_refuses_days_and_instants_it_cannot_read(tmp_path):
    runner = CliRunner()
    base = ["report", "build", "--out", str(tmp_path / "r.json"), "--dir", str(tmp_path)]
    bad_day = runner.invoke(app, [*base, "--from", "2021-02-30", "--to", "2021-03-01"])
    assert bad_day.exit_code == 1 and "--from: '2021-02-30' is not a day" in bad_day.output
    bad_at = runner.invoke(
        app, [*base, "--from", "2021-01-01", "--to", "2021-03-01", "--at", "2021-03-01"]
    )
    assert bad_at.exit_code == 1 and "--at: '2021-03-01' is not an RFC 3339 time" in bad_at.output
