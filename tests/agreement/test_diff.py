"""Comparing agreements: the pure diff, its JSON form, and ``detente agreement diff``."""

from __future__ import annotations

import copy
import doctest
import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import detente.agreement.diff as diff_module
from detente.agreement import (
    CLAUSE_KINDS,
    Agreement,
    AgreementDiff,
    builtin_agreement,
    diff_agreements,
    load_agreement,
)
from detente.cli.agreement import agreement_app

SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}}}
RING = [[20.0, 54.0], [21.0, 54.0], [21.0, 55.0], [20.0, 54.0]]


def _data() -> dict[str, Any]:
    return {
        "name": "left",
        "title": "Left",
        "version": "1",
        "parties": [{"id": "a", "name": "State A"}, {"id": "b", "name": "State B"}],
        "categories": {"widgets": {"name": "Widgets", "unit": "widget"}},
        "counting_rules": {"widgets": {"terms": {"widgets": 1}}},
        "limits": {
            "widgets": {"aggregate": "widgets", "max": 10, "effective": "2020-01-01"},
        },
        "zones": {},
        "sites": {
            "depot": {"name": "Depot", "country": "RO", "party": "a", "lat": 44.0, "lon": 24.0},
        },
        "message_types": {
            "request": {"senders": ["a"], "body_schema": SCHEMA},
            "answer": {
                "senders": ["b"],
                "body_schema": SCHEMA,
                "deadline": {"kind": "after_message", "hours": 48, "message_type": "request"},
            },
        },
        "inspection_types": {
            "visit": {
                "name": "Visit",
                "notice_hours": 24,
                "quota": [{"from_date": "2020-01-01", "per_year": 2}],
            },
        },
        "hotline": {
            "link_test_interval": {"hours": 1},
            "ack": {"FLASH": {"minutes": 5}, "ROUTINE": {"hours": 24}},
        },
    }


def _agreement(data: dict[str, Any]) -> Agreement:
    return Agreement.model_validate(data)


@pytest.fixture
def pair() -> tuple[Agreement, Agreement]:
    left = _data()
    right = copy.deepcopy(left)
    right["name"] = "right"
    right["parties"] = [*right["parties"], {"id": "c", "name": "State C"}]
    right["parties"][1]["name"] = "State B (renamed)"
    right["limits"]["widgets"]["max"] = 12
    right["zones"]["box"] = {"name": "Box", "geometry": {"type": "Polygon", "coordinates": [RING]}}
    right["message_types"]["answer"]["deadline"]["hours"] = 24
    right["inspection_types"]["visit"]["quota"][0]["per_year"] = 3
    right["hotline"]["ack"]["FLASH"] = {"minutes": 3}
    del right["hotline"]["ack"]["ROUTINE"]
    return _agreement(left), _agreement(right)


def _fields(result: AgreementDiff, kind: str) -> dict[str, tuple[Any, Any, str | None]]:
    return {f.path: (f.a, f.b, f.note) for item in result.clause(kind).differ for f in item.fields}


def test_module_example_runs() -> None:
    assert doctest.testmod(diff_module).failed == 0


def test_parties(pair: tuple[Agreement, Agreement]) -> None:
    result = diff_agreements(*pair)
    parties = result.clause("parties")
    assert parties.only_a == () and parties.only_b == ("c",)
    assert parties.labels["c"] == "State C"
    assert _fields(result, "parties") == {"parties.b.name": ("State B", "State B (renamed)", None)}


def test_a_limit_whose_value_differs(pair: tuple[Agreement, Agreement]) -> None:
    result = diff_agreements(*pair)
    (item,) = result.clause("limits").differ
    assert item.id == "widgets"
    (f,) = item.fields
    assert (f.path, f.field, f.a, f.b, f.note) == ("limits.widgets.max", "max", 10, 12, None)


def test_a_zone_only_in_one(pair: tuple[Agreement, Agreement]) -> None:
    zones = diff_agreements(*pair).clause("zones")
    assert (zones.only_a, zones.only_b, zones.differ) == ((), ("box",), ())


def test_a_message_type_whose_deadline_differs(pair: tuple[Agreement, Agreement]) -> None:
    result = diff_agreements(*pair)
    assert _fields(result, "message_types") == {
        "message_types.answer.deadline.hours": (48, 24, None)
    }


def test_an_inspection_quota_that_differs(pair: tuple[Agreement, Agreement]) -> None:
    result = diff_agreements(*pair)
    assert _fields(result, "inspection_types") == {
        "inspection_types.visit.quota[0].per_year": (2, 3, None)
    }


def test_a_hotline_that_differs(pair: tuple[Agreement, Agreement]) -> None:
    result = diff_agreements(*pair)
    hotline = result.clause("hotline")
    assert hotline.only_a == hotline.only_b == ()
    assert _fields(result, "hotline") == {
        "hotline.ack.FLASH.minutes": (5, 3, None),
        "hotline.ack.ROUTINE": (
            {"days": 0, "hours": 24, "minutes": 0, "seconds": 0},
            None,
            "not in B",
        ),
    }


def test_unchanged_clauses_are_empty(pair: tuple[Agreement, Agreement]) -> None:
    result = diff_agreements(*pair)
    for kind in ("categories", "counting_rules", "sites", "incident_thresholds", "in_force"):
        assert result.clause(kind).is_empty(), kind
    assert not result.is_empty()


def test_body_schemas_and_geometries_are_compared_whole() -> None:
    left = _data()
    left["zones"]["box"] = {"name": "Box", "geometry": {"type": "Polygon", "coordinates": [RING]}}
    right = copy.deepcopy(left)
    right["message_types"]["request"]["body_schema"] = {
        "type": "object",
        "properties": {"text": {"type": "string", "maxLength": 10}},
    }
    moved = [[lon + 1.0, lat] for lon, lat in RING]
    right["zones"]["box"]["geometry"]["coordinates"] = [moved]
    result = diff_agreements(_agreement(left), _agreement(right))
    ((schema_a, schema_b, schema_note),) = _fields(result, "message_types").values()
    assert schema_a == SCHEMA and schema_b["properties"]["text"]["maxLength"] == 10
    assert schema_note == "body schemas differ (compared as whole values)"
    fields = _fields(result, "zones")
    assert list(fields) == ["zones.box.geometry"]
    assert fields["zones.box.geometry"][2] == "geometries differ (compared as whole values)"


def test_a_deadline_of_another_kind_is_one_difference() -> None:
    left = _data()
    right = copy.deepcopy(left)
    right["message_types"]["answer"]["body_schema"] = {
        "type": "object",
        "required": ["day"],
        "properties": {"day": {"type": "string", "format": "date"}},
    }
    right["message_types"]["answer"]["deadline"] = {
        "kind": "after_event",
        "days": 2,
        "event_field": "day",
    }
    result = diff_agreements(_agreement(left), _agreement(right))
    fields = _fields(result, "message_types")
    assert fields["message_types.answer.deadline"][2] == "different kind (compared as whole values)"
    assert len(fields) == 2  # the deadline and the body schema


def test_singletons_and_settings() -> None:
    left = _data()
    right = copy.deepcopy(left)
    right["in_force"] = {"effective": "2020-01-01"}
    del right["hotline"]
    right["skew_seconds"] = 60
    right["two_person_release"] = ["suspension"]
    result = diff_agreements(_agreement(left), _agreement(right))
    assert result.clause("in_force").only_b == ("in_force",)
    assert result.clause("hotline").only_a == ("hotline",)
    assert _fields(result, "settings") == {
        "skew_seconds": (300, 60, None),
        "two_person_release": ([], ["suspension"], None),
    }


def test_suspension_types_derived_from_the_others_are_left_out() -> None:
    left = _data()
    right = copy.deepcopy(left)
    right["message_types"]["extra"] = {"senders": ["a"], "body_schema": SCHEMA}
    result = diff_agreements(_agreement(left), _agreement(right))
    types = result.clause("message_types")
    assert types.only_b == ("extra",) and types.differ == ()


def _swapped(result: dict[str, Any]) -> dict[str, Any]:
    def field(f: dict[str, Any]) -> dict[str, Any]:
        notes = {"not in A": "not in B", "not in B": "not in A"}
        return {**f, "a": f["b"], "b": f["a"], "note": notes.get(f["note"], f["note"])}

    return {
        "a": result["b"],
        "b": result["a"],
        "identical_clauses": result["identical_clauses"],
        "clauses": {
            kind: {
                "only_a": clause["only_b"],
                "only_b": clause["only_a"],
                "differ": [
                    {"id": item["id"], "fields": [field(f) for f in item["fields"]]}
                    for item in clause["differ"]
                ],
            }
            for kind, clause in result["clauses"].items()
        },
    }


def test_symmetry(pair: tuple[Agreement, Agreement]) -> None:
    left, right = pair
    forward = diff_agreements(left, right).to_json()
    assert diff_agreements(right, left).to_json() == _swapped(forward)


def test_symmetry_of_builtins() -> None:
    a, b = builtin_agreement("russia-draft-2021"), builtin_agreement("security-replies-2022")
    assert diff_agreements(b, a).to_json() == _swapped(diff_agreements(a, b).to_json())


@pytest.mark.parametrize("name", ["new-start", "security-replies-2022", "russia-draft-2021"])
def test_identical_agreements_give_an_empty_diff(name: str) -> None:
    a = builtin_agreement(name)
    result = diff_agreements(a, a)
    assert result.is_empty()
    data = result.to_json()
    assert data["identical_clauses"] is True
    assert all(c == {"only_a": [], "only_b": [], "differ": []} for c in data["clauses"].values())


def test_json_form(pair: tuple[Agreement, Agreement]) -> None:
    left, right = pair
    data = diff_agreements(left, right).to_json()
    assert data["a"] == {"name": "left", "id": left.id}
    assert data["b"] == {"name": "right", "id": right.id}
    assert data["identical_clauses"] is False
    assert list(data["clauses"]) == list(CLAUSE_KINDS)
    assert data["clauses"]["limits"] == {
        "only_a": [],
        "only_b": [],
        "differ": [
            {
                "id": "widgets",
                "fields": [
                    {"path": "limits.widgets.max", "field": "max", "a": 10, "b": 12, "note": None}
                ],
            }
        ],
    }
    json.dumps(data)  # plain JSON throughout


# --- the built-ins -----------------------------------------------------------------


def test_russia_draft_against_the_replies() -> None:
    draft = builtin_agreement("russia-draft-2021")
    replies = builtin_agreement("security-replies-2022")
    result = diff_agreements(draft, replies)
    # Both speak of ground-launched INF-range missiles, with the same category:
    # the draft as zones none may be in, the replies as a count limit of none.
    categories = result.clause("categories")
    inf = "gl_intermediate_range_missiles"
    assert inf not in categories.only_a + categories.only_b
    assert inf not in {item.id for item in categories.differ}
    inf_constraints = {cid for cid, c in draft.zone_constraints.items() if c.categories == [inf]}
    assert len(inf_constraints) == 4
    assert inf_constraints <= set(result.clause("zone_constraints").only_a)
    assert inf in result.clause("limits").only_b
    assert replies.limits[inf].max == 0
    assert all(draft.zone_constraints[c].max == 0 for c in inf_constraints)
    # Zones only in the draft, inspections only in the replies.
    zones = result.clause("zones")
    assert set(zones.only_a) == set(draft.zones) and zones.only_b == ()
    inspections = result.clause("inspection_types")
    assert inspections.only_a == ()
    assert set(inspections.only_b) == {"aegis-ashore-visit", "missile-base-visit"}
    assert set(result.clause("sites").only_b) == {"deveselu", "redzikowo"}
    # The same parties, emergency line and incident rules.
    for kind in ("parties", "hotline", "incident_thresholds", "templates", "settings"):
        assert result.clause(kind).is_empty(), kind


def test_russia_draft_constraints() -> None:
    draft = builtin_agreement("russia-draft-2021")
    assert [p.id for p in draft.parties] == ["us", "nato", "ru"]
    assert draft.in_force is None
    constraints = draft.zone_constraints
    assert constraints["bombers_warships_us_near_russia"].categories == [
        "heavy_bombers",
        "surface_warships",
    ]
    assert constraints["no_forces_added_since_1997"].applies_to == ["*"]
    # Illustrative zones, but where they should be: Moscow is within reach of
    # NATO territory, not of Alaska; Deveselu lies within reach of Russia.
    assert draft.zones["within_reach_of_nato"].contains(37.6, 55.75)
    assert not draft.zones["within_reach_of_us"].contains(37.6, 55.75)
    assert draft.zones["within_reach_of_us"].contains(158.6, 53.0)  # Petropavlovsk
    assert draft.zones["within_reach_of_us"].contains(-172.0, 65.0)  # Chukotka, east of 180°
    assert draft.zones["within_reach_of_russia"].contains(24.34, 44.08)
    assert draft.zones["strike_areas_near_russia"].contains(20.0, 56.0)  # Baltic
    assert draft.zones["strike_areas_near_us"].contains(-70.0, 38.0)  # off the east coast


# --- the command ------------------------------------------------------------------


@pytest.fixture
def app() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(agreement_app, name="agreement")
    return root


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "200"})


def _write(tmp_path: Path, name: str, data: dict[str, Any]) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(_toml(data), "utf-8")
    assert load_agreement(path).name == data["name"]
    return path


def _toml(data: dict[str, Any]) -> str:
    """Just enough TOML for the small agreements here (json values are TOML inline values)."""
    lines = [f"{k} = {json.dumps(v)}" for k, v in data.items() if isinstance(v, str | int)]
    for party in data["parties"]:
        lines += ["[[parties]]", f"id = {json.dumps(party['id'])}"]
        lines.append(f"name = {json.dumps(party['name'])}")
    for section in ("categories", "counting_rules", "limits", "message_types"):
        for key, item in data.get(section, {}).items():
            lines.append(f"[{section}.{key}]")
            lines += [f"{k} = {_inline(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_inline(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    return json.dumps(value)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    left = {
        "name": "left",
        "title": "Left",
        "version": "1",
        "parties": [{"id": "a", "name": "State A"}, {"id": "b", "name": "State B"}],
        "categories": {"widgets": {"name": "Widgets", "unit": "widget"}},
        "counting_rules": {"widgets": {"terms": {"widgets": 1}}},
        "limits": {"widgets": {"aggregate": "widgets", "max": 10, "effective": "2020-01-01"}},
        "message_types": {"request": {"senders": ["a"], "body_schema": SCHEMA}},
    }
    right = copy.deepcopy(left)
    right["name"] = "right"
    right["limits"]["widgets"]["max"] = 12
    right["message_types"]["request"]["body_schema"] = {"type": "object"}
    return _write(tmp_path, "left", left), _write(tmp_path, "right", right)


def test_cli_text(app: typer.Typer, runner: CliRunner, files: tuple[Path, Path]) -> None:
    left, right = files
    result = runner.invoke(app, ["agreement", "diff", str(left), str(right)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Limits" in out and "Message types" in out
    assert "A: left" in out and "B: right" in out
    row = next(line for line in out.splitlines() if "widgets" in line and "max" in line)
    assert "10" in row and "12" in row
    assert "body_schema (body schemas differ (compared as whole values))" in out
    assert "The same in both: parties, categories, counting rules, settings." in out
    assert "In neither: zones" in out


def test_cli_text_identical(app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(app, ["agreement", "diff", "new-start", "new-start"])
    assert result.exit_code == 0
    assert "No differences in any clause." in result.output


def test_cli_json(app: typer.Typer, runner: CliRunner, files: tuple[Path, Path]) -> None:
    left, right = files
    result = runner.invoke(app, ["agreement", "diff", str(left), str(right), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["a"]["name"] == "left" and data["b"]["name"] == "right"
    (item,) = data["clauses"]["limits"]["differ"]
    assert item["fields"] == [
        {"path": "limits.widgets.max", "field": "max", "a": 10, "b": 12, "note": None}
    ]
    assert set(data["clauses"]) == set(CLAUSE_KINDS)


def test_cli_builtins_json(app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(
        app, ["agreement", "diff", "russia-draft-2021", "security-replies-2022", "-f", "json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert "within_reach_of_russia" in data["clauses"]["zones"]["only_a"]
    assert "aegis-ashore-visit" in data["clauses"]["inspection_types"]["only_b"]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_cli_load_error(
    app: typer.Typer, runner: CliRunner, files: tuple[Path, Path], tmp_path: Path, fmt: str
) -> None:
    left, _ = files
    broken = tmp_path / "broken.toml"
    broken.write_text('name = "broken"\ntitle = "Broken"\nversion = "1"\n', "utf-8")
    result = runner.invoke(app, ["agreement", "diff", str(left), str(broken), "--format", fmt])
    assert result.exit_code == 1
    assert f"agreement B ({broken}) did not load" in result.output
    assert "parties: required field is missing" in result.output
    missing = runner.invoke(app, ["agreement", "diff", "no-such-agreement", str(left)])
    assert missing.exit_code == 1
    assert "agreement A (no-such-agreement) did not load" in missing.output
