"""`detente plan sample`: the exact sample, the IAEA approximation, visits, inspect all."""

import json

import pytest
from typer.testing import CliRunner

from detente.cli.app import app

runner = CliRunner(env={"COLUMNS": "250"})


def plan(*args):
    return runner.invoke(app, ["plan", "sample", *args])


def test_the_iaea_example_as_text():
    result = plan("--items", "100", "--violations", "10", "--detection", "0.9")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "at least one of 10 violating items among 100, with probability 0.9" in lines[0]
    exact = next(line for line in lines if "exact (hypergeometric)" in line)
    assert "20" in exact and "0.9048837276" in exact
    iaea = next(line for line in lines if "IAEA approximation" in line)
    assert "21" in iaea and "0.9167732616" in iaea
    assert "visits together" not in result.output
    assert "inspect 20 of 100, drawn at random" in result.output


def test_visits_add_two_rows():
    result = plan("--items", "100", "--violations", "10", "--detection", "0.9", "--visits", "3")
    assert result.exit_code == 0, result.output
    every = next(line for line in result.output.splitlines() if "exact, on every visit" in line)
    assert "20" in every and "3" in every and "0.9991394731" in every
    together = next(line for line in result.output.splitlines() if "3 visits together" in line)
    assert "8" in together and "0.9277210802" in together


def test_small_site_says_inspect_all():
    result = plan("--items", "24", "--violations", "1", "--detection", "0.9")
    assert result.exit_code == 0, result.output
    assert "inspect all 24: the exact sample (22) is at least 90% of the items" in result.output


def test_json():
    result = plan(
        "--items", "24", "--violations", "1", "--detection", "0.9", "--visits", "2", "-f", "json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["sample"] == 22 and data["approximation"] == 22
    assert data["inspect_all"] is True and data["to_inspect"] == 24
    assert data["visits"] == 2 and data["per_visit_sample"] == 17
    assert data["cumulative_detection"] == pytest.approx(1 - (2 / 24) ** 2)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--items", "10", "--violations", "11", "--detection", "0.9"], "violations must be"),
        (["--items", "10", "--violations", "1", "--detection", "1"], "detection must be between"),
        (["--items", "10", "--violations", "1", "--detection", "0"], "detection must be between"),
        (["--items", "10", "--violations", "1", "--detection", "1.5"], "--detection"),
        (["--items", "0", "--violations", "1", "--detection", "0.5"], "--items"),
        (["--items", "10", "--violations", "0", "--detection", "0.5"], "--violations"),
        (["--items", "10", "--violations", "1", "--detection", "0.5", "--visits", "0"], "--visits"),
        (["--items", "ten", "--violations", "1", "--detection", "0.5"], "--items"),
        (["--violations", "1", "--detection", "0.5"], "--items"),
    ],
)
def test_bad_input_exits_2_and_names_it(args, message):
    result = plan(*args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()), result.output
