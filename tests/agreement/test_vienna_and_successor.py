"""The built-ins vienna-document-2011 and new-start-successor: numbers, ids, rules."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from importlib.resources import files

import pytest

from detente.agreement import (
    AfterMessage,
    BeforeEvent,
    builtin_agreement,
    load_agreement_text,
)
from detente.errors import BodyError
from detente.measures.compliance import evaluate, load_declarations
from detente.measures.obligations import State, fold_obligations

VIENNA = "vienna-document-2011"
SUCCESSOR = "new-start-successor"


def _text(name: str) -> str:
    return files("detente.agreement").joinpath("builtin", f"{name}.toml").read_text("utf-8")


# --- both ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", [VIENNA, SUCCESSOR])
def test_loads_with_a_stable_id(name: str) -> None:
    first = builtin_agreement(name)
    again = load_agreement_text(_text(name), source=f"{name}.toml")
    assert first.name == again.name == name
    assert again.id == first.id == hashlib.sha256(first.canonical_bytes()).hexdigest()
    assert load_agreement_text(_text(name), source="elsewhere.toml").id == first.id
    assert first.includes == ["inspection-messages"]


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        (VIENNA, "days = 42,", "days = 41,"),
        (VIENNA, "per_year = 3 }", "per_year = 4 }"),
        (
            VIENNA,
            'hours = 48, message_type = "explanation_request"',
            'hours = 47, message_type = "explanation_request"',
        ),
        (VIENNA, "units_per_inspection = 60", "units_per_inspection = 61"),
        (SUCCESSOR, "max = 2500 ", "max = 2501 "),
        (SUCCESSOR, "nonstrategic_nuclear_warheads = 1 }", "nonstrategic_nuclear_warheads = 2 }"),
        (SUCCESSOR, "effective = 2031-02-05", "effective = 2031-02-06"),
    ],
)
def test_id_follows_the_numbers(name: str, old: str, new: str) -> None:
    text = _text(name)
    assert old in text
    changed = load_agreement_text(text.replace(old, new, 1), source=f"{name}.toml")
    assert changed.id != builtin_agreement(name).id


# --- Vienna Document 2011 ---------------------------------------------------------


def test_vienna_parties_are_an_illustrative_ten() -> None:
    a = builtin_agreement(VIENNA)
    assert [p.id for p in a.parties] == ["us", "ru", "by", "ee", "lv", "lt", "pl", "de", "fr", "gb"]
    assert "of the 57 participating States" in " ".join(a.description.split())
    assert "illustrative" in a.description.lower()


def test_vienna_inspection_quota_and_hours() -> None:
    inspection = builtin_agreement(VIENNA).inspection_types["inspection"]
    assert inspection.quota_start is None  # calendar years, as the document counts
    assert inspection.per_year_on(date(2011, 11, 30)) == 0
    assert inspection.per_year_on(date(2022, 2, 10)) == 3  # no more than three a year
    assert inspection.per_party_per_year == 1  # nor more than one from the same State
    assert inspection.notice_hours == 36  # access within 36 hours of the request
    assert inspection.max_duration_hours == 48
    assert inspection.max_team_size == 4
    assert inspection.inspecting == ["*"] and inspection.inspected == ["*"]


def test_vienna_evaluation_quota_grows_with_units_reported() -> None:
    a = builtin_agreement(VIENNA)
    evaluation = a.inspection_types["evaluation"]
    assert evaluation.per_year_on(date(2022, 6, 1)) == 15  # the ceiling
    rule = evaluation.proportional
    assert rule is not None
    assert rule.category == "reported_units" and rule.category in a.categories
    # one a year for every sixty units, or portion thereof
    assert [rule.quota_for(n) for n in (0, 1, 60, 61, 120, 121)] == [0, 1, 1, 2, 2, 3]
    assert min(rule.quota_for(1000), evaluation.per_year_on(date(2022, 6, 1))) == 15


def test_vienna_deadlines() -> None:
    a = builtin_agreement(VIENNA)
    notice = a.message_type("activity_notification").deadline
    assert isinstance(notice, BeforeEvent)
    assert notice.delta == timedelta(days=42)
    assert notice.event_field == "start_date"
    explanation = a.message_type("explanation").deadline
    assert isinstance(explanation, AfterMessage)
    assert (explanation.delta, explanation.message_type) == (
        timedelta(hours=48),
        "explanation_request",
    )
    meeting = a.message_type("meeting_arrangement").deadline
    assert isinstance(meeting, AfterMessage)
    assert (meeting.delta, meeting.message_type) == (timedelta(hours=48), "meeting_request")
    assert a.message_type("hazardous_incident_report").deadline is None


@pytest.mark.parametrize("year", [2022, 2023, 2024])
def test_vienna_annual_exchanges_fall_due_on_their_days(year: int) -> None:
    a = builtin_agreement(VIENNA)
    exchange = a.message_type("annual_exchange").periodic
    calendar = a.message_type("annual_calendar").periodic
    assert exchange is not None and calendar is not None
    assert [due for _, due in exchange.schedule(year)] == [date(year, 12, 15)]
    assert [due for _, due in calendar.schedule(year)] == [date(year, 11, 15)]


def test_vienna_obligations_read_the_exchanges() -> None:
    a = builtin_agreement(VIENNA)
    report = fold_obligations(a, [], now=datetime(2022, 12, 1, tzinfo=UTC), since=date(2022, 1, 1))
    exchange = [o for o in report.obligations if o.type == "annual_exchange" and o.party == "by"]
    assert [(o.state, o.due) for o in exchange][0] == (
        State.DUE,
        datetime(2022, 12, 16, tzinfo=UTC),  # the whole of 15 December counts
    )
    calendar = [o for o in report.obligations if o.type == "annual_calendar" and o.party == "by"]
    assert calendar[0].state is State.OVERDUE
    assert set(calendar[0].to) == a.party_ids() - {"by"}


def test_vienna_notification_body_records_the_threshold_numbers() -> None:
    notification = builtin_agreement(VIENNA).message_type("activity_notification")
    for figure in (
        "9,000",
        "250 battle tanks",
        "500 armoured",
        "3,000",
        "13,000",
        "300 battle tanks",
    ):
        assert figure in notification.description
    body = {
        "activity_type": "land_forces",
        "start_date": "2022-02-10",
        "end_date": "2022-02-20",
        "area": "Brest and Grodno regions",
        "troops": 30000,
        "battle_tanks": 300,
        "observers_invited": False,
    }
    notification.validate_body(body)
    # sub-threshold activities may be notified voluntarily: not refused
    notification.validate_body(body | {"troops": 1200, "battle_tanks": 0})
    with pytest.raises(BodyError, match=r"^body: 'start_date' is a required"):
        notification.validate_body({k: v for k, v in body.items() if k != "start_date"})
    with pytest.raises(BodyError, match=r"^body\.troops: -1 is less than"):
        notification.validate_body(body | {"troops": -1})


def test_vienna_annual_exchange_body() -> None:
    exchange = builtin_agreement(VIENNA).message_type("annual_exchange")
    body = {"valid_as_of": "2023-01-01", "total_units": 61, "evaluation_quota": 2}
    exchange.validate_body(body)
    with pytest.raises(BodyError, match=r"^body\.evaluation_quota: 16 is greater than"):
        exchange.validate_body(body | {"evaluation_quota": 16})


# --- the illustrative New START successor ---------------------------------------------


def test_successor_keeps_new_start_categories_verbatim() -> None:
    new_start = builtin_agreement("new-start")
    successor = builtin_agreement(SUCCESSOR)
    assert [p.id for p in successor.parties] == ["us", "ru"]
    assert set(new_start.categories) < set(successor.categories)
    for cid, category in new_start.categories.items():
        assert successor.categories[cid] == category
    assert {
        "nonstrategic_nuclear_warheads",
        "nondeployed_strategic_warheads",
        "deployed_nuclear_powered_cruise_missiles",
        "deployed_nuclear_underwater_vehicles",
        "deployed_glide_vehicles_other",
        "gl_intermediate_range_missiles",
    } <= set(successor.categories)
    assert "new-start" not in successor.includes


def test_successor_counting_rules() -> None:
    rules = builtin_agreement(SUCCESSOR).counting_rules
    declared = {
        "deployed_icbms": 400,
        "deployed_slbms": 240,
        "deployed_heavy_bombers": 50,
        "warheads_on_deployed_icbms_and_slbms": 1350,
        "nondeployed_icbm_launchers": 50,
        "nondeployed_slbm_launchers": 40,
        "nondeployed_heavy_bombers": 10,
        "nondeployed_strategic_warheads": 600,
        "nonstrategic_nuclear_warheads": 400,
        "deployed_nuclear_powered_cruise_missiles": 4,
        "deployed_nuclear_underwater_vehicles": 2,
        "deployed_glide_vehicles_other": 4,
        "gl_intermediate_range_missiles": 0,
    }
    assert rules["deployed_delivery_vehicles"].evaluate(declared) == 400 + 240 + 50 + 4 + 2 + 4
    assert rules["deployed_warheads"].evaluate(declared) == 1350 + 50 + 4 + 2 + 4
    assert rules["launchers"].evaluate(declared) == 400 + 240 + 50 + 50 + 40 + 10
    # the aggregate cap: deployed as counted, plus stored and non-strategic
    deployed = rules["deployed_warheads"].evaluate(declared)
    assert rules["all_nuclear_warheads"].evaluate(declared) == deployed + 600 + 400
    assert rules["all_nuclear_warheads"].evaluate({"nonstrategic_nuclear_warheads": 7}) == 7
    assert rules["gl_intermediate_range_missiles"].evaluate(declared) == 0


def test_successor_limits_and_their_dates() -> None:
    limits = builtin_agreement(SUCCESSOR).limits
    assert {lid: lim.max for lid, lim in limits.items()} == {
        "deployed_delivery_vehicles": 700,
        "deployed_warheads": 1550,
        "launchers": 800,
        "all_nuclear_warheads": 2500,
        "gl_intermediate_range_missiles": 0,
    }
    for lim in limits.values():
        assert lim.applies_to == ["*"]
        assert lim.end == date(2036, 2, 5)
        assert lim.status_on(date(2026, 2, 4)) == "not_in_force"
        assert lim.status_on(date(2036, 2, 4)) == "in_force"
        assert lim.status_on(date(2036, 2, 5)) == "not_in_force"
    # no gap after New START: its limits end the day these begin
    new_start = builtin_agreement("new-start").limits["deployed_warheads"]
    assert new_start.end == limits["deployed_warheads"].effective
    assert limits["deployed_warheads"].status_on(date(2026, 2, 5)) == "in_force"
    cap = limits["all_nuclear_warheads"]
    assert cap.status_on(date(2031, 2, 4)) == "not_in_force"
    assert cap.status_on(date(2031, 2, 5)) == "in_force"
    assert limits["gl_intermediate_range_missiles"].effective == date(2029, 2, 5)


def test_successor_every_limit_is_marked_illustrative() -> None:
    text = _text(SUCCESSOR)
    setting = [
        line
        for line in text.splitlines()
        if line.split("=", 1)[0].strip() in {"max", "effective", "end", "per_year", "due_days"}
        or line.startswith(("quota", "notice_hours", "max_team_size", "max_duration_hours"))
    ]
    assert setting
    assert all("# ILLUSTRATIVE" in line for line in setting), setting


def test_successor_declarations() -> None:
    a = builtin_agreement(SUCCESSOR)
    declaration = a.message_type("declaration")
    assert declaration.periodic is not None
    assert declaration.periodic.as_of == ["03-01", "09-01"]
    counts = dict.fromkeys(a.categories, 0)
    declaration.validate_body({"as_of": "2027-03-01", "counts": counts})
    with pytest.raises(BodyError, match=r"^body\.counts: 'nonstrategic_nuclear_warheads' is a"):
        declaration.validate_body(
            {
                "as_of": "2027-03-01",
                "counts": {k: v for k, v in counts.items() if k != "nonstrategic_nuclear_warheads"},
            }
        )
    notice = a.message_type("new_kind_notice").deadline
    assert isinstance(notice, BeforeEvent) and notice.delta == timedelta(days=90)
    storage = a.inspection_types["storage-site-visit"]
    assert storage.per_year_on(date(2027, 1, 1)) == 8
    assert storage.per_year_on(date(2026, 1, 1)) == 0


def test_successor_cap_through_the_compliance_check() -> None:
    """The aggregate cap counts non-strategic warheads: within New START, over the cap."""
    a = builtin_agreement(SUCCESSOR)
    counts = {
        "deployed_icbms": 300,
        "deployed_slbms": 200,
        "deployed_heavy_bombers": 50,
        "warheads_on_deployed_icbms_and_slbms": 1400,
        "nondeployed_strategic_warheads": 700,
        "nonstrategic_nuclear_warheads": 500,
        "gl_intermediate_range_missiles": 0,
    }
    found = load_declarations(
        {"declarations": [{"party": "ru", "as_of": "2030-03-01", "counts": counts}]}, a
    )
    limits = evaluate(a, found, date(2031, 6, 1))["parties"]["ru"]["limits"]
    assert limits["deployed_warheads"] == {
        "value": 1450,
        "limit": 1550,
        "basis": "counts",
        "status": "within",
    }
    assert limits["all_nuclear_warheads"]["value"] == 1450 + 700 + 500
    assert limits["all_nuclear_warheads"]["status"] == "exceeded"
    assert limits["gl_intermediate_range_missiles"]["status"] == "within"
    early = evaluate(a, found, date(2030, 6, 1))["parties"]["ru"]["limits"]
    assert early["all_nuclear_warheads"]["status"] == "not_in_force"  # five years to reduce
    assert early["deployed_warheads"]["status"] == "within"
