"""``detente inspection``: commit an inventory and see it refused or counted."""

import json

from typer.testing import CliRunner

from detente.cli.app import app
from detente.node import init_node


def test_commit_inventory_then_status(tmp_path, monkeypatch):
    node = init_node(tmp_path / "us", party="us", agreement_ref="security-replies-2022")
    node.close()
    monkeypatch.setenv("DETENTE_HOME", str(tmp_path / "us"))
    records = [
        {"item_id": f"c{i}", "location": f"cell {i}", "status": "loaded", "contents": "SM-3"}
        for i in range(4)
    ]
    file = tmp_path / "records.json"
    file.write_text(json.dumps(records))
    runner = CliRunner()
    result = runner.invoke(
        app, ["inspection", "commit-inventory", "--site", "deveselu", "--file", str(file)]
    )
    assert result.exit_code == 0, result.output
    assert "inventory-commitment" in result.output
    table = runner.invoke(app, ["inspection", "status"])
    assert table.exit_code == 0, table.output
    assert "aegis-ashore-visit" in table.output and "ru → us" in table.output
    status = runner.invoke(app, ["inspection", "status", "--format", "json"])
    assert status.exit_code == 0, status.output
    quotas = json.loads(status.output)["quotas"]
    assert any(q["inspection_type"] == "aegis-ashore-visit" for q in quotas)
    refused = runner.invoke(
        app,
        [
            "inspection",
            "request",
            "--type",
            "aegis-ashore-visit",
            "--site",
            "deveselu",
            "--arrival",
            "2030-01-01T00:00:00Z",
            "--team-size",
            "8",
        ],
    )
    assert refused.exit_code != 0 and "us may not request" in refused.output
