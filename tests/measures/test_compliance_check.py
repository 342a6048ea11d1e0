"""`detente compliance check`: declarations from a file against an agreement's limits."""

import json
from datetime import date

import pytest
from typer.testing import CliRunner

from detente.agreement import builtin_agreement
from detente.cli.app import app
from detente.measures.compliance import DeclarationError, evaluate, load_declarations

runner = CliRunner(env={"COLUMNS": "200"})
START = builtin_agreement("new-start")

US_2020 = {
    "party": "US",
    "as_of": "2020-09-01",
    "counts": {
        "deployed_icbms": 400,
        "deployed_slbms": 220,
        "deployed_heavy_bombers": 55,
        "warheads_on_deployed_icbms_and_slbms": 1402,
        "nondeployed_icbm_launchers": 54,
        "nondeployed_slbm_launchers": 60,
        "nondeployed_heavy_bombers": 11,
    },
    "types": {"deployed_heavy_bombers": {"B-52H": 43, "B-2A": 12}},
}
RU_2020 = {
    "party": "ru",
    "as_of": "2020-09-01",
    "aggregates": {"deployed_delivery_vehicles": 510, "deployed_warheads": 1447, "launchers": 764},
}


def check(tmp_path, declarations, *args):
    file = tmp_path / "declarations.json"
    file.write_text(json.dumps(declarations) if not isinstance(declarations, str) else declarations)
    return runner.invoke(
        app,
        ["compliance", "check", "--agreement", "new-start", "--declarations", str(file), *args],
    )


def test_counts_become_aggregates_through_the_counting_rules():
    found = load_declarations({"declarations": [US_2020, RU_2020]}, START)
    result = evaluate(START, found, date(2021, 1, 1))
    us = result["parties"]["us"]["limits"]
    assert us["deployed_delivery_vehicles"] == {
        "value": 675,
        "limit": 700,
        "basis": "counts",
        "status": "within",
    }
    assert us["deployed_warheads"]["value"] == 1402 + 55
    assert us["launchers"]["value"] == 675 + 54 + 60 + 11
    ru = result["parties"]["ru"]["limits"]
    assert ru["deployed_warheads"] == {
        "value": 1447,
        "limit": 1550,
        "basis": "declared",
        "status": "within",
    }


def test_the_json_output_has_the_documented_keys(tmp_path):
    result = check(
        tmp_path, {"declarations": [US_2020, RU_2020]}, "--at", "2020-12-31", "--format", "json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    for party in ("us", "ru"):
        for limit in ("deployed_delivery_vehicles", "deployed_warheads", "launchers"):
            row = data["parties"][party]["limits"][limit]
            assert {"value", "limit", "status"} <= set(row)
            assert row["status"] == "within"


def test_the_latest_declaration_on_or_before_the_date_is_in_force(tmp_path):
    later = {**RU_2020, "as_of": "2021-03-01", "aggregates": {"deployed_warheads": 1600}}
    declarations = {"declarations": [later, RU_2020]}
    on_the_day = json.loads(
        check(tmp_path, declarations, "--at", "2021-03-01", "-f", "json").output
    )
    row = on_the_day["parties"]["ru"]["limits"]["deployed_warheads"]
    assert (row["value"], row["status"]) == (1600, "exceeded")
    before = json.loads(check(tmp_path, declarations, "--at", "2021-02-28", "-f", "json").output)
    assert before["parties"]["ru"]["limits"]["deployed_warheads"]["value"] == 1447
    assert before["parties"]["ru"]["declaration"]["as_of"] == "2020-09-01"


@pytest.mark.parametrize(
    ("at", "status"),
    [("2018-02-04", "not_in_force"), ("2018-02-05", "within"), ("2026-02-05", "not_in_force")],
)
def test_limits_bind_only_between_their_dates(tmp_path, at, status):
    early = {**US_2020, "as_of": "2011-02-05"}
    result = check(tmp_path, {"declarations": [early]}, "--at", at, "--format", "json")
    assert json.loads(result.output)["parties"]["us"]["limits"]["launchers"]["status"] == status


def test_a_party_that_declared_nothing_yet(tmp_path):
    result = check(tmp_path, {"declarations": [US_2020]}, "--at", "2020-10-01", "-f", "json")
    ru = json.loads(result.output)["parties"]["ru"]
    assert ru["declaration"] is None
    assert ru["limits"]["launchers"] == {"value": None, "limit": 800, "status": "no_declaration"}


def test_the_table_shows_each_party_and_limit(tmp_path):
    result = check(tmp_path, {"declarations": [US_2020, RU_2020]}, "--at", "2020-12-31")
    assert result.exit_code == 0, result.output
    assert "new-start on 2020-12-31" in result.output
    assert "1,457" in result.output and "1,447" in result.output and "total" in result.output


def bad(**changes):
    item = {**US_2020, **changes}
    return {"declarations": [RU_2020, {k: v for k, v in item.items() if v is not None}]}


@pytest.mark.parametrize(
    ("declarations", "message"),
    [
        (
            bad(counts={"deployed_icbms": 1, "cruise_missiles": 4}),
            "declarations[1].counts.cruise_missiles: unknown category",
        ),
        (bad(counts={"deployed_icbms": -4}), "declarations[1].counts.deployed_icbms: negative"),
        (bad(counts={"deployed_icbms": 1.5}), "declarations[1].counts.deployed_icbms: a whole"),
        (bad(party="FR"), "declarations[1].party: unknown party 'FR'"),
        (bad(as_of="2020-02-30"), "declarations[1].as_of: '2020-02-30' is not a date"),
        (bad(as_of="1 Sept 2020"), "declarations[1].as_of: '1 Sept 2020' is not a date"),
        (bad(as_of="2020-W36-2"), "declarations[1].as_of: '2020-W36-2' is not a date"),
        (bad(extra=1), "declarations[1].extra: unknown member"),
        (
            bad(types={"deployed_heavy_bombers": {"B-52H": 40}}),
            "declarations[1].types.deployed_heavy_bombers: the types add up to 40",
        ),
        (
            bad(aggregates={"launchers": 801}),
            "declarations[1].aggregates.launchers: declared 801, but the counts give 800",
        ),
        (bad(aggregates={"warheads": 1}), "declarations[1].aggregates.warheads: unknown counting"),
        ({"declarations": [RU_2020, RU_2020]}, "declarations[1]: a second declaration by ru"),
        ({"declarations": {}}, "declarations: a list is expected"),
        ([], '$: an object with a member "declarations"'),
        ({"declarations": [], "notes": 1}, "$.notes: unknown member"),
    ],
)
def test_errors_name_their_json_path_and_exit_2(tmp_path, declarations, message):
    result = check(tmp_path, declarations, "--at", "2021-01-01")
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    with pytest.raises(DeclarationError):
        load_declarations(declarations, START)


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ('{"declarations": [', ("--at", "2021-01-01"), "line 1, column 19"),
        ('{"declarations": []}', ("--at", "2021-13-01"), "--at: '2021-13-01' is not a date"),
    ],
)
def test_a_broken_file_or_date_exits_2(tmp_path, content, args, message):
    result = check(tmp_path, content, *args)
    assert result.exit_code == 2 and message in result.output


def test_an_unknown_agreement_or_missing_file_exits_2(tmp_path):
    missing = runner.invoke(
        app,
        [
            "compliance",
            "check",
            "-a",
            "new-start",
            "--declarations",
            str(tmp_path / "none.json"),
            "--at",
            "2021-01-01",
        ],
    )
    assert missing.exit_code == 2 and "cannot read" in missing.output
    (tmp_path / "d.json").write_text('{"declarations": []}')
    unknown = runner.invoke(
        app,
        [
            "compliance",
            "check",
            "-a",
            "salt-3",
            "--declarations",
            str(tmp_path / "d.json"),
            "--at",
            "2021-01-01",
        ],
    )
    assert unknown.exit_code == 2 and "--agreement" in unknown.output


def dispute(**changes):
    item = {
        "by": "ru",
        "party": "us",
        "as_of": "2020-09-01",
        "aggregates": {"launchers": 901},
        "text": "the converted launchers still count",
        **changes,
    }
    return {
        "declarations": [US_2020, RU_2020],
        "disputes": [{k: v for k, v in item.items() if v is not None}],
    }


def test_a_dispute_shows_both_positions(tmp_path):
    result = check(tmp_path, dispute(), "--at", "2020-10-01", "-f", "json")
    row = json.loads(result.output)["parties"]["us"]["limits"]["launchers"]
    assert (row["value"], row["status"]) == (800, "within")
    assert row["disputed"][0] | {"text": ""} == {
        "by": "ru",
        "value": 901,
        "basis": "declared",
        "status": "exceeded",
        "text": "",
        "source": None,
    }
    # Counts in a dispute replace the declared ones for their categories.
    recount = dispute(aggregates=None, counts={"nondeployed_slbm_launchers": 106})
    result = check(tmp_path, recount, "--at", "2020-10-01", "-f", "json")
    row = json.loads(result.output)["parties"]["us"]["limits"]["launchers"]
    assert row["disputed"][0]["value"] == 800 - 60 + 106
    table = check(tmp_path, dispute(), "--at", "2020-10-01")
    assert "ru: 901 exceeded" in table.output


@pytest.mark.parametrize(
    ("declarations", "message"),
    [
        (dispute(by="us"), "disputes[0].by: a party does not dispute its own"),
        (dispute(as_of="2020-03-01"), "disputes[0]: no declaration by us as of 2020-03-01"),
        (dispute(text=None), "disputes[0].text: the position"),
        (dispute(aggregates=None), "disputes[0]: give the disputing side's counts"),
        (dispute(by="xx"), "disputes[0].by: unknown party 'xx'"),
    ],
)
def test_bad_disputes_are_named(tmp_path, declarations, message):
    result = check(tmp_path, declarations, "--at", "2021-01-01")
    assert result.exit_code == 2 and message in " ".join(result.output.split())
