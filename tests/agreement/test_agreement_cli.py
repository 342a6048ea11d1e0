"""``detente agreement`` list / show / validate, through a small Typer app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from detente.agreement import builtin_agreement
from detente.cli.agreement import agreement_app

GOOD = """\
name = "demo"
title = "Demo"
version = "1"

[[parties]]
id = "a"
name = "A"

[[parties]]
id = "b"
name = "B"

[categories.widgets]
name = "Widgets"
unit = "widget"

[counting_rules.all_widgets]
terms = { widgets = 3 }

[limits.widgets]
aggregate = "all_widgets"
max = 10
effective = 2020-01-01

[sites.depot]
name = "Depot"
country = "RO"
party = "a"
lat = 44.0
lon = 24.0
declared.widgets = { count = 5 }

[zones.box]
name = "Box"
geometry.type = "Polygon"
geometry.coordinates = [[[20.0, 54.0], [21.0, 54.0], [21.0, 55.0], [20.0, 54.0]]]

[inspection_types.visit]
name = "Visit"
notice_hours = 24
quota = [{ from_date = 2020-01-01, per_year = 2 }]
sites = ["depot"]
sample = { kind = "fixed", size = 2 }

[message_types.request]
senders = ["a"]
body_schema = { type = "object" }

[message_types.answer]
senders = ["b"]
deadline = { kind = "after_message", hours = 48, message_type = "request" }
body_schema = { type = "object" }

[hotline]
ack = { FLASH = { minutes = 5 } }
link_test_interval = { hours = 1 }

[incident_thresholds]
horizontal_metres = 1000
vertical_metres = 300
horizon_seconds = 600
"""


@pytest.fixture
def app() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(agreement_app, name="agreement")
    return root


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "200"})


def test_no_arguments_shows_help(app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(app, ["agreement"])
    assert "list" in result.output and "validate" in result.output


def test_list(app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(app, ["agreement", "list"])
    assert result.exit_code == 0, result.output
    assert "new-start" in result.output and "security-replies-2022" in result.output
    assert builtin_agreement("new-start").id[:16] in result.output
    assert "us, nato, ru" in result.output


def test_list_json(app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(app, ["agreement", "list", "--format", "json"])
    assert result.exit_code == 0
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["new-start"]["id"] == builtin_agreement("new-start").id
    assert rows["security-replies-2022"]["parties"] == ["nato", "ru", "us"]


def test_show_builtin(app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(app, ["agreement", "show", "new-start", "--on", "2020-06-01"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert builtin_agreement("new-start").id in out
    for text in (
        "700",
        "1550",
        "800",
        "in force",
        "Russian Federation",
        "aggregate_data",
        "5 days after event_date",
        "data as of 03-01 and 09-01, due 30 days later",
    ):
        assert text in out
    assert "not in force" not in out


def test_show_status_after_expiry(app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(app, ["agreement", "show", "new-start", "--on", "2026-02-05"])
    assert result.exit_code == 0
    assert "not in force" in result.output


def test_show_by_id_prefix(app: typer.Typer, runner: CliRunner) -> None:
    prefix = builtin_agreement("security-replies-2022").id[:12]
    result = runner.invoke(app, ["agreement", "show", prefix])
    assert result.exit_code == 0, result.output
    for text in ("deveselu", "redzikowo", "24 mk41_cells", "FLASH", "5 minutes", "NATO"):
        assert text in result.output
    assert "two-person release resumption, suspension" in result.output


def test_show_file_with_every_section(app: typer.Typer, runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "demo.toml"
    path.write_text(GOOD, encoding="utf-8")
    result = runner.invoke(app, ["agreement", "show", str(path), "--on", "2021-01-01"])
    assert result.exit_code == 0, result.output
    for text in (
        "3 x widgets",
        "Depot",
        "Polygon",
        "2 a year",
        "24 h",
        "2 at random",
        "2 days after request",
        "1000 m",
        "link test every",
    ):
        assert text in result.output


def test_show_json(app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(
        app, ["agreement", "show", "new-start", "--on", "2026-02-05", "--format", "json"]
    )
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["id"] == builtin_agreement("new-start").id
    assert data["limit_status"]["launchers"] == "not_in_force"
    assert data["agreement"]["limits"]["deployed_warheads"]["max"] == 1550


def test_show_unknown(app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(app, ["agreement", "show", "no-such-agreement"])
    assert result.exit_code == 1
    assert "error:" in result.stderr and "no-such-agreement" in result.stderr
    assert "Traceback" not in result.output


def test_show_bad_date(app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(app, ["agreement", "show", "new-start", "--on", "yesterday"])
    assert result.exit_code == 2


def test_validate_ok(app: typer.Typer, runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "demo.toml"
    path.write_text(GOOD, encoding="utf-8")
    result = runner.invoke(app, ["agreement", "validate", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("OK demo ")
    result = runner.invoke(app, ["agreement", "validate", str(path), "--format", "json"])
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["name"] == "demo" and len(data["id"]) == 64


def test_validate_bad(app: typer.Typer, runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(GOOD.replace("max = 10", "max = -10"), encoding="utf-8")
    result = runner.invoke(app, ["agreement", "validate", str(path)])
    assert result.exit_code == 1
    assert f"{path}:22: limits.widgets.max:" in result.stderr
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["agreement", "validate", str(path), "--format", "json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False and "limits.widgets.max" in data["error"]


def test_validate_missing_file(app: typer.Typer, runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["agreement", "validate", str(tmp_path / "nope.toml")])
    assert result.exit_code == 1
    assert "no such agreement file" in result.stderr
