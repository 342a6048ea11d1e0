"""The exercise clock: a shared file moves every node of an exercise forward, never back."""

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from typer.testing import CliRunner

from detente.cli.app import app
from detente.errors import ConfigError
from detente.node import init_node, open_node
from detente.node.exercise import ExerciseClock, advance, parse_duration, read_offset, start
from detente.node.writer import Draft, LogWriter
from detente.record.envelope import parse_time
from tests.fakes.servers import ServedNode, free_port

runner = CliRunner(env={"COLUMNS": "200"})


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("33h", 33 * 3600), ("1d8h", 32 * 3600), ("90m", 5400), ("45s", 45), ("3600", 3600)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "0h", "-3h", "33 hours", "h", "1.5h"])
def test_bad_durations_say_what_is_expected(text):
    with pytest.raises(ConfigError, match="duration"):
        parse_duration(text)


def test_advance_only_moves_forward(tmp_path):
    path = tmp_path / "clock.json"
    start(path)
    assert read_offset(path) == 0
    assert advance(path, 3600) == 3600
    assert advance(path, 60) == 3660
    with pytest.raises(ConfigError, match="only moves forward"):
        advance(path, -60)
    with pytest.raises(ConfigError, match="ten years"):
        advance(path, 11 * 366 * 86400)
    assert read_offset(path) == 3660
    start(path)  # an existing clock is kept, not reset
    assert read_offset(path) == 3660


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not json", "not JSON"),
        (b'{"offset_seconds": -5}', "offset_seconds"),
        (b'{"offset_seconds": 1.5}', "offset_seconds"),
        (b'{"offset_seconds": true}', "offset_seconds"),
        (b"[1]", "offset_seconds"),
        (b" " * 5000, "larger than"),
    ],
)
def test_a_bad_clock_file_is_named(tmp_path, content, message):
    path = tmp_path / "clock.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message) as caught:
        read_offset(path)
    assert str(path) in str(caught.value)


def test_the_clock_follows_the_file_and_never_runs_back(tmp_path):
    path = tmp_path / "clock.json"
    start(path)
    clock = ExerciseClock(path)
    before = clock()
    assert abs(before - datetime.now(UTC)) < timedelta(seconds=5)
    advance(path, 33 * 3600)
    ahead = clock()
    assert ahead - before >= timedelta(hours=33)
    assert clock.offset == timedelta(hours=33)
    # A file written backwards, or broken, does not take the time back.
    path.write_text(json.dumps({"offset_seconds": 0}))
    assert clock() >= ahead
    path.write_text("garbage")
    assert clock() >= ahead
    path.unlink()
    assert clock() >= ahead


def test_a_node_made_for_an_exercise_keeps_its_clock(tmp_path):
    path = tmp_path / "exercise" / "clock.json"
    node = init_node(tmp_path / "us", party="us", agreement_ref="new-start", exercise_clock=path)
    try:
        assert node.exercise is not None
        assert read_offset(path) == 0
    finally:
        node.close()
    advance(path, 48 * 3600)
    node = open_node(tmp_path / "us")
    try:
        assert node.config.exercise_clock == str(path.resolve())
        assert node.clock() - datetime.now(UTC) > timedelta(hours=47)
        drafts = [Draft(type="message", body={"text": "drill"})]
        (sealed,) = LogWriter(node).append(drafts).envelopes
        assert parse_time(sealed.header.created) - datetime.now(UTC) > timedelta(hours=47)
    finally:
        node.close()
    path.write_text("{}")
    with pytest.raises(ConfigError, match="node.exercise_clock"):
        open_node(tmp_path / "us")


def test_a_node_without_one_runs_on_the_system_clock(tmp_path):
    node = init_node(tmp_path / "us", party="us", agreement_ref="new-start")
    try:
        assert node.exercise is None
        assert "exercise_clock" not in (tmp_path / "us" / "config.toml").read_text()
    finally:
        node.close()


def test_health_says_the_node_is_on_an_exercise_clock(tmp_path):
    path = tmp_path / "clock.json"
    init_node(tmp_path / "us", party="us", agreement_ref="new-start", exercise_clock=path).close()
    advance(path, 7200)
    node = open_node(tmp_path / "us")
    try:
        served = ServedNode(node, free_port(), sender_interval=3600, gossip_interval=3600).start()
        try:
            health = httpx.get(f"{served.url}/v1/health").json()
        finally:
            served.stop()
    finally:
        node.close()
    assert health["exercise"]["offset_seconds"] == 7200
    assert health["exercise"]["time"] > (datetime.now(UTC) + timedelta(hours=1)).isoformat()


def test_the_cli_advances_and_shows(tmp_path):
    path = tmp_path / "clock.json"
    created = runner.invoke(
        app,
        [
            "init",
            str(tmp_path / "ru"),
            "--party",
            "ru",
            "--agreement",
            "new-start",
            "--exercise-clock",
            str(path),
            "--format",
            "json",
        ],
    )
    assert created.exit_code == 0, created.output
    assert json.loads(created.output)["exercise_clock"] == str(path.resolve())
    moved = runner.invoke(app, ["exercise", "advance", str(path), "--by", "33h"])
    assert moved.exit_code == 0, moved.output
    assert "+1 day, 9:00:00" in moved.output
    shown = runner.invoke(app, ["exercise", "show", str(path), "--format", "json"])
    assert json.loads(shown.output)["offset_seconds"] == 33 * 3600
    refused = runner.invoke(app, ["exercise", "advance", str(path), "--by", "soon"])
    assert refused.exit_code != 0
    assert "duration 'soon'" in refused.output
    assert read_offset(path) == 33 * 3600


def test_advances_at_the_same_time_are_all_counted(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "clock.json"
    start(path)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: advance(path, 60), range(40)))
    assert read_offset(path) == 40 * 60
