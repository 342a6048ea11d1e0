"""A visit driven from the command line on two nodes: request, sample, delay, cancel."""

import functools
import json
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from detente.cli import _node as cli_node
from detente.cli.app import app
from detente.node import open_node
from detente.node.inspections import find_visit
from detente.record.envelope import format_time
from tests.fakes.network import make_network


@pytest.fixture
def network(tmp_path, clock, database_url, monkeypatch):
    monkeypatch.setattr(cli_node, "open_node", functools.partial(open_node, clock=clock))
    yield from make_network(tmp_path, clock, database_url)


def run(network, tmp_path, clock, party, *args):
    clock.advance(minutes=1)
    result = CliRunner().invoke(app, ["inspection", *args, "--dir", str(tmp_path / party)])
    for sender in network.senders.values():
        sender.run_lane()
        sender.run_once()
    return result


def test_a_visit_from_the_command_line(network, tmp_path, clock):
    records = [
        {
            "item_id": f"c{i:02d}",
            "location": f"cell {i:02d}",
            "status": "loaded",
            "contents": "SM-3 Block IIA",
        }
        for i in range(24)
    ]
    file = tmp_path / "cells.json"
    file.write_text(json.dumps(records))
    done = run(
        network,
        tmp_path,
        clock,
        "us",
        "commit-inventory",
        "--site",
        "deveselu",
        "--file",
        str(file),
    )
    assert done.exit_code == 0, done.output
    arrival = format_time(clock.now + timedelta(hours=40))
    asked = run(
        network,
        tmp_path,
        clock,
        "ru",
        "request",
        "--type",
        "aegis-ashore-visit",
        "--site",
        "deveselu",
        "--arrival",
        arrival,
        "--team-size",
        "8",
    )
    assert asked.exit_code == 0, asked.output
    ref = asked.output.split()[1]  # "sent ru:0 inspection-request to us"
    assert asked.output.startswith(f"sent {ref} inspection-request to us")
    for party in ("us", "ru"):
        committed = run(network, tmp_path, clock, party, "commit", ref)
        assert committed.exit_code == 0, committed.output
    early = run(network, tmp_path, clock, "ru", "reveal", ref)
    assert early.exit_code != 0 and "reveals first" in early.output
    for party in ("us", "ru"):
        revealed = run(network, tmp_path, clock, party, "reveal", ref)
        assert revealed.exit_code == 0, revealed.output
    later = format_time(clock.now + timedelta(hours=50))
    put_off = run(
        network, tmp_path, clock, "us", "delay", ref, "--until", later, "--reason", "runway closed"
    )
    assert put_off.exit_code == 0, put_off.output
    bad = run(network, tmp_path, clock, "us", "delay", ref, "--until", "tomorrow", "--reason", "x")
    assert bad.exit_code != 0 and "--until" in bad.output
    visit = find_visit(network.nodes["ru"], ref)
    assert visit.arrival is not None and format_time(visit.arrival) == later
    assert visit.seed is not None and visit.sample
    called_off = run(network, tmp_path, clock, "ru", "cancel", ref, "--reason", "weather")
    assert called_off.exit_code == 0, called_off.output
    for party in ("us", "ru"):
        assert find_visit(network.nodes[party], ref).state == "cancelled"
