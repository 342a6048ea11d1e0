"""New START declarations and a dispute exchanged between real nodes, judged on both sides."""

import json

import pytest
from typer.testing import CliRunner

from detente.cli.app import app
from detente.measures import State
from detente.node.measures import obligation_report
from detente.node.writer import Draft
from tests.fakes.network import make_network
from tests.fakes.new_start import US_COUNTS, send, write_agreement


@pytest.fixture
def network(tmp_path, clock, database_url):
    path = write_agreement(tmp_path)
    clock.now = clock.now.replace(year=2021, month=3, day=20)
    yield from make_network(tmp_path, clock, database_url, agreement_ref=str(path))


def test_a_declaration_is_judged_and_its_dispute_shown_on_both_sides(network, clock):
    declared = send(
        network,
        clock,
        "us",
        Draft(
            type="aggregate_data",
            body={"as_of": "2021-03-01", "counts": US_COUNTS},
            to=("ru",),
        ),
    )
    disputed = send(
        network,
        clock,
        "ru",
        Draft(
            type="declaration_dispute",
            body={
                "text": "56 converted Trident II launchers and 41 B-52H still count",
                "counts": {"nondeployed_slbm_launchers": 116, "nondeployed_heavy_bombers": 76},
            },
            to=("us",),
            refs=(declared,),
        ),
    )
    seen = {}
    for party in ("us", "ru"):
        report = obligation_report(network.nodes[party])
        seen[party] = {o.limit: o for o in report.obligations if o.rule == "limit"}
    assert {k: o.to_json() for k, o in seen["us"].items()} == {
        k: o.to_json() for k, o in seen["ru"].items()
    }
    launchers = seen["us"]["launchers"]
    assert (launchers.value, launchers.max, launchers.state) == (800, 800, State.MET)
    (position,) = launchers.disputed
    assert (position["by"], position["ref"], position["value"]) == ("ru", disputed, 897)
    assert position["state"] == "violated"
    assert seen["us"]["deployed_delivery_vehicles"].disputed == ()

    runner = CliRunner(env={"COLUMNS": "250"})
    home = str(network.nodes["us"].directory)
    shown = runner.invoke(app, ["obligations", "--dir", home])
    assert "launchers 800 of 800; ru counts 897 (violated)" in shown.output
    as_json = json.loads(runner.invoke(app, ["obligations", "--dir", home, "-f", "json"]).output)
    limit_rows = [o for o in as_json["obligations"] if o["rule"] == "limit"]
    assert {o["limit"] for o in limit_rows} == {
        "deployed_delivery_vehicles",
        "deployed_warheads",
        "launchers",
    }


def test_a_declaration_over_a_limit_is_a_violation_and_fails_the_command(network, clock):
    over = {**US_COUNTS, "warheads_on_deployed_icbms_and_slbms": 1600}
    send(
        network,
        clock,
        "us",
        Draft(type="aggregate_data", body={"as_of": "2021-03-01", "counts": over}, to=("ru",)),
    )
    report = obligation_report(network.nodes["ru"])
    (warheads,) = [o for o in report.obligations if o.limit == "deployed_warheads"]
    assert (warheads.value, warheads.state) == (1631, State.VIOLATED)
    result = CliRunner().invoke(app, ["obligations", "--dir", str(network.nodes["ru"].directory)])
    assert result.exit_code == 1
