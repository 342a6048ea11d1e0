"""`detente peer add|list`: keys exchanged out of band, fingerprint confirmed."""

import json

import pytest
from typer.testing import CliRunner

from detente.cli.app import app
from detente.node import init_node

runner = CliRunner()


@pytest.fixture
def homes(tmp_path):
    keys = {}
    for party in ("us", "ru"):
        node = init_node(tmp_path / party, party=party, agreement_ref="security-replies-2022")
        keys[party] = node.verifier
        node.close()
    return tmp_path, keys


def add(home, *args, input=None):
    return runner.invoke(app, ["peer", "add", "--dir", str(home), *args], input=input)


def test_add_after_confirming_the_fingerprint(homes):
    tmp, keys = homes
    key = keys["ru"].to_text()
    result = add(
        tmp / "us", "--party", "ru", "--url", "http://ru.example:8700", "--key", key, input="y\n"
    )
    assert result.exit_code == 0, result.output
    assert keys["ru"].fingerprint() in result.output
    listed = json.loads(
        runner.invoke(app, ["peer", "list", "--dir", str(tmp / "us"), "--format", "json"]).output
    )
    assert listed == [
        {
            "party": "ru",
            "url": "http://ru.example:8700",
            "fingerprint": keys["ru"].fingerprint(),
            "witness": False,
        }
    ]


def test_declining_adds_nothing(homes):
    tmp, keys = homes
    result = add(
        tmp / "us",
        "--party",
        "ru",
        "--url",
        "http://ru:1",
        "--key",
        keys["ru"].to_text(),
        input="n\n",
    )
    assert result.exit_code == 1
    assert "not added" in result.output
    listed = runner.invoke(app, ["peer", "list", "--dir", str(tmp / "us"), "--format", "json"])
    assert json.loads(listed.output) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--party", "us"], "own party"),
        (["--party", "fr"], "not a party"),
        (["--party", "nato"], "must be named"),
        (["--party", "ru", "--url", "ftp://x"], "http"),
    ],
)
def test_refusals(homes, args, message):
    tmp, keys = homes
    base = {"--url": "http://x:1", "--key": keys["ru"].to_text()}
    for i in range(0, len(args), 2):
        base[args[i]] = args[i + 1]
    flat = [item for pair in base.items() for item in pair]
    result = add(tmp / "us", *flat, "--yes")
    assert result.exit_code == 1, result.output
    assert message in result.output


def test_bad_key_and_duplicate(homes):
    tmp, keys = homes
    bad = add(tmp / "us", "--party", "ru", "--url", "http://x:1", "--key", "garbage", "--yes")
    assert bad.exit_code == 1 and "verifier key" in bad.output
    ok = add(
        tmp / "us", "--party", "ru", "--url", "http://x:1", "--key", keys["ru"].to_text(), "--yes"
    )
    assert ok.exit_code == 0
    again = add(
        tmp / "us", "--party", "ru", "--url", "http://x:1", "--key", keys["ru"].to_text(), "--yes"
    )
    assert again.exit_code == 1 and "already configured" in again.output
