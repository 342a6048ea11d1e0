"""``detente operator`` through Typer: add, list, remove, rotate."""

import json
import logging

import pytest
import typer
from typer.testing import CliRunner

from detente.cli.operator import operator_app
from detente.errors import AuthenticationError
from detente.node import init_node, open_node
from detente.node.operators import Role, authenticate

app = typer.Typer()
app.add_typer(operator_app, name="operator")

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], env={}, catch_exceptions=False)


@pytest.fixture
def home(tmp_path):
    directory = tmp_path / "us"
    init_node(directory, party="us", agreement_ref="security-replies-2022").close()
    return directory


def check_token(home, token):
    node = open_node(home)
    try:
        return authenticate(node, token)
    finally:
        node.close()


def add_json(home, name, role):
    result = invoke("operator", "add", name, "--role", role, "--dir", home, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_add_prints_the_token_once_with_a_warning(home):
    result = invoke("operator", "add", "alice", "--role", "operator", "--dir", home)
    assert result.exit_code == 0, result.output
    assert "shown only once" in result.stderr
    token = result.stdout.splitlines()[-1]
    assert token.startswith("dto_")
    assert "operator alice (operator)" in result.stdout
    assert check_token(home, token).role is Role.operator


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_add_json(home, role):
    data = add_json(home, "alice", role)
    assert set(data) == {"name", "role", "token"}
    assert (data["name"], data["role"]) == ("alice", role)
    assert check_token(home, data["token"]).role == role


def test_role_is_required_and_checked(home):
    missing = invoke("operator", "add", "alice", "--dir", home)
    assert missing.exit_code == 2
    assert "--role" in missing.output
    bad = invoke("operator", "add", "alice", "--role", "root", "--dir", home)
    assert bad.exit_code == 2
    assert "viewer" in bad.output
    assert invoke("operator", "add", "alice", "--role", "ADMIN", "--dir", home).exit_code == 0


def test_duplicate_and_bad_names_fail_cleanly(home):
    add_json(home, "alice", "viewer")
    again = invoke("operator", "add", "alice", "--role", "admin", "--dir", home)
    assert again.exit_code == 1
    assert "operator 'alice' already exists" in again.stderr
    assert "Traceback" not in again.output
    bad = invoke("operator", "add", "Alice Smith", "--role", "admin", "--dir", home)
    assert bad.exit_code == 1
    assert "operator name" in bad.stderr


def test_list(home):
    assert "no operators" in invoke("operator", "list", "--dir", home).stdout
    add_json(home, "zed", "viewer")
    add_json(home, "amy", "admin")
    result = invoke("operator", "list", "--dir", home, "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["name"], r["role"]) for r in rows] == [("amy", "admin"), ("zed", "viewer")]
    assert all(r["created_at"].endswith("Z") for r in rows)
    table = invoke("operator", "list", "--dir", home)
    assert table.exit_code == 0
    assert "amy" in table.stdout and "viewer" in table.stdout
    assert "dto_" not in table.stdout


def test_remove(home):
    token = add_json(home, "alice", "operator")["token"]
    result = invoke("operator", "remove", "alice", "--dir", home)
    assert result.exit_code == 0, result.output
    assert "removed operator alice" in result.stdout
    with pytest.raises(AuthenticationError):
        check_token(home, token)
    again = invoke("operator", "remove", "alice", "--dir", home, "--format", "json")
    assert again.exit_code == 1
    assert "no operator named 'alice'" in again.stderr


def test_remove_json(home):
    add_json(home, "alice", "operator")
    result = invoke("operator", "remove", "alice", "--dir", home, "--format", "json")
    assert json.loads(result.stdout) == {"name": "alice", "removed": True}


def test_rotate(home):
    old = add_json(home, "alice", "admin")["token"]
    result = invoke("operator", "rotate", "alice", "--dir", home)
    assert result.exit_code == 0, result.output
    assert "shown only once" in result.stderr
    new = result.stdout.splitlines()[-1]
    assert new.startswith("dto_") and new != old
    with pytest.raises(AuthenticationError):
        check_token(home, old)
    assert check_token(home, new).name == "alice"
    again = invoke("operator", "rotate", "alice", "--dir", home, "--format", "json")
    data = json.loads(again.stdout)
    assert data["name"] == "alice"
    assert check_token(home, data["token"]).role is Role.admin
    missing = invoke("operator", "rotate", "bob", "--dir", home)
    assert missing.exit_code == 1
    assert "no operator named 'bob'" in missing.stderr


def test_not_a_node_directory(tmp_path):
    result = invoke("operator", "list", "--dir", tmp_path)
    assert result.exit_code == 1
    assert "not a Détente node directory" in result.stderr


def test_tokens_reach_neither_disk_nor_logs(home, caplog):
    caplog.set_level(logging.DEBUG)
    first = add_json(home, "alice", "operator")["token"]
    rotated = invoke("operator", "rotate", "alice", "--dir", home, "--format", "json")
    second = json.loads(rotated.stdout)["token"]
    check_token(home, second)
    stored = b"".join(path.read_bytes() for path in home.iterdir() if path.is_file())
    for token in (first, second):
        secret = token[len("dto_") + 13 :]
        assert secret.encode() not in stored
        assert secret not in caplog.text
