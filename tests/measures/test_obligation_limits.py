"""Limits judged on declarations in the logs, disputes beside them, notification thresholds."""

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from detente.agreement import Agreement, MessageType, builtin_agreement
from detente.measures import Entry, State, fold_obligations

ACTIVITY = {
    "senders": ["*"],
    "body_schema": {
        "type": "object",
        "required": ["start", "troops"],
        "properties": {
            "start": {"type": "string", "format": "date"},
            "troops": {"type": "integer", "minimum": 0},
            "tanks": {"type": "integer", "minimum": 0},
        },
    },
    "deadline": {"kind": "before_event", "days": 42, "event_field": "start"},
    "notify_when": {"troops": 9000, "tanks": 250},
}
AGREEMENT = Agreement.model_validate(
    {
        "name": "test",
        "title": "Test",
        "version": "1",
        "parties": [{"id": "us", "name": "US"}, {"id": "ru", "name": "RU"}],
        "categories": {
            "launchers": {"name": "Launchers", "unit": "launcher"},
            "bombers": {"name": "Bombers", "unit": "bomber"},
        },
        "counting_rules": {"delivery": {"terms": {"launchers": 1, "bombers": 1}}},
        "limits": {
            "delivery": {
                "aggregate": "delivery",
                "max": 100,
                "effective": "2020-01-01",
                "end": "2030-01-01",
            }
        },
        "message_types": {
            "data": {
                "senders": ["us", "ru"],
                "declares": "counts",
                "body_schema": {
                    "type": "object",
                    "required": ["as_of", "counts"],
                    "properties": {
                        "as_of": {"type": "string", "format": "date"},
                        "counts": {"type": "object"},
                    },
                },
            },
            "dispute": {
                "senders": ["us", "ru"],
                "declares": "dispute",
                "body_schema": {
                    "type": "object",
                    "required": ["text"],
                    "properties": {"text": {"type": "string"}},
                },
            },
            "activity": ACTIVITY,
        },
    }
)
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def entry(party, seq, type_, body, *, created=datetime(2026, 3, 2, tzinfo=UTC), refs=()):
    other = "ru" if party == "us" else "us"
    return Entry(
        party=party,
        seq=seq,
        type=type_,
        created=created,
        to=(other,),
        refs=tuple(refs),
        body=body,
        received={other: created},
    )


def declared(party, seq, as_of, launchers, bombers=0):
    counts = {"launchers": launchers, "bombers": bombers}
    return entry(party, seq, "data", {"as_of": as_of, "counts": counts})


def limits(entries):
    report = fold_obligations(AGREEMENT, entries, now=NOW, since=date(2026, 1, 1))
    return {(o.party, o.as_of.isoformat()): o for o in report.obligations if o.rule == "limit"}


def test_each_declaration_is_judged_against_the_limit_in_force_on_its_day():
    found = limits(
        [
            declared("us", 0, "2019-09-01", 150),
            declared("us", 1, "2020-03-01", 90, 10),
            declared("ru", 0, "2020-03-01", 90, 11),
        ]
    )
    assert found[("us", "2019-09-01")].state is State.NOT_IN_FORCE
    within = found[("us", "2020-03-01")]
    assert (within.state, within.value, within.max, within.limit) == (
        State.MET,
        100,
        100,
        "delivery",
    )
    over = found[("ru", "2020-03-01")]
    assert (over.state, over.value) == (State.VIOLATED, 101)
    assert over.to_json()["state"] == "violated" and over.to_json()["value"] == 101


def test_a_dispute_shows_the_other_partys_count_beside_the_declaration():
    declaration = declared("us", 0, "2021-03-01", 90, 10)
    by_counts = entry(
        "ru",
        0,
        "dispute",
        {"text": "converted bombers still count", "counts": {"bombers": 51}},
        refs=[declaration.ref],
    )
    by_total = entry(
        "ru",
        1,
        "dispute",
        {"text": "as we count them", "aggregates": {"delivery": 99}},
        refs=[declaration.ref],
    )
    own = entry(
        "us", 1, "dispute", {"text": "a party cannot dispute itself"}, refs=[declaration.ref]
    )
    found = limits([declaration, by_counts, by_total, own])[("us", "2021-03-01")]
    assert found.state is State.MET
    assert [(d["by"], d["value"], d["state"]) for d in found.disputed] == [
        ("ru", 141, "violated"),
        ("ru", 99, "met"),
    ]
    assert found.disputed[0]["text"] == "converted bombers still count"


def test_notices_below_the_thresholds_are_voluntary_and_a_late_one_above_is_a_violation():
    start = "2026-05-01"  # 42 days before: 2026-03-20
    small = entry("us", 0, "activity", {"start": start, "troops": 8999, "tanks": 10})
    big_late = entry(
        "ru",
        0,
        "activity",
        {"start": start, "troops": 12000},
        created=datetime(2026, 4, 1, tzinfo=UTC),
    )
    tanks_on_time = entry(
        "ru",
        1,
        "activity",
        {"start": start, "troops": 100, "tanks": 250},
        created=datetime(2026, 3, 1, tzinfo=UTC),
    )
    report = fold_obligations(
        AGREEMENT, [small, big_late, tanks_on_time], now=NOW, since=date(2026, 1, 1)
    )
    notices = {o.trigger: o.state for o in report.obligations if o.rule == "before_event"}
    assert notices == {big_late.ref: State.VIOLATED, tanks_on_time.ref: State.MET}
    assert [(s.ref, s.reason) for s in report.skipped] == [
        (small.ref, "below the notification thresholds: voluntary")
    ]


def test_new_start_declarations_are_judged_against_the_central_limits():
    start = builtin_agreement("new-start")
    assert start.message_types["aggregate_data"].declares == "counts"
    counts = {
        "deployed_icbms": 400,
        "deployed_slbms": 240,
        "deployed_heavy_bombers": 60,
        "warheads_on_deployed_icbms_and_slbms": 1500,
        "nondeployed_icbm_launchers": 54,
        "nondeployed_slbm_launchers": 40,
        "nondeployed_heavy_bombers": 10,
    }
    data = entry("us", 0, "aggregate_data", {"as_of": "2021-03-01", "counts": counts})
    report = fold_obligations(start, [data], now=NOW, since=date(2026, 1, 1))
    judged = {o.limit: (o.value, o.state) for o in report.obligations if o.rule == "limit"}
    assert judged == {
        "deployed_delivery_vehicles": (700, State.MET),
        "deployed_warheads": (1560, State.VIOLATED),
        "launchers": (804, State.VIOLATED),
    }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"declares": "counts", "deadline": None, "notify_when": None}, "property as_of"),
        ({"notify_when": {"start": 1}}, "notify_when.start: not an integer property"),
        ({"notify_when": {"troops": 0}}, "greater than 0"),
        ({"deadline": None}, "notify_when needs an after_event or before_event deadline"),
        ({"declares": "dispute", "deadline": None, "notify_when": None}, "required body property"),
    ],
)
def test_declares_and_thresholds_are_checked(changes, message):
    bad = {k: v for k, v in {**ACTIVITY, **changes}.items() if v is not None}
    with pytest.raises(ValidationError, match=message):
        MessageType.model_validate({"id": "activity", **bad})


def test_vienna_document_activity_notices_are_judged_by_their_thresholds():
    vienna = builtin_agreement("vienna-document-2011")
    notice = {"activity_type": "exercise", "start_date": "2026-05-01", "end_date": "2026-05-10"}
    notice["area"] = "Grodno region"

    def sent(party, seq, created, **numbers):
        return Entry(
            party=party,
            seq=seq,
            type="activity_notification",
            created=created,
            to=("ee", "lv", "lt"),
            body={**notice, **numbers},
            received=dict.fromkeys(("ee", "lv", "lt"), created),
        )

    late = datetime(2026, 4, 1, tzinfo=UTC)  # 30 days ahead, not 42
    entries = [
        sent("by", 0, late, troops=8000),  # below every threshold: voluntary
        sent("by", 1, late, troops=2000, landing_troops=3000),  # a parachute assault
        sent("ru", 0, datetime(2026, 3, 1, tzinfo=UTC), troops=13000),  # in time
    ]
    report = fold_obligations(vienna, entries, now=NOW, since=date(2026, 1, 1))
    judged = {o.trigger: o.state for o in report.obligations if o.rule == "before_event"}
    assert judged == {"by:1": State.VIOLATED, "ru:0": State.MET}
    assert [s.ref for s in report.skipped] == ["by:0"]


def test_nothing_is_owed_outside_the_agreement_s_time_in_force():
    start = builtin_agreement("new-start")
    assert (start.in_force.effective, start.in_force.end) == (date(2011, 2, 5), date(2026, 2, 5))
    late = fold_obligations(
        start, [], now=datetime(2026, 11, 29, tzinfo=UTC), since=date(2025, 9, 1)
    )
    assert [o.as_of.isoformat() for o in late.obligations] == ["2025-09-01", "2025-09-01"]
    change = {"event_date": "2026-03-01", "category": "deployed_icbms", "change": -1}
    after = entry("us", 0, "change_notification", change, created=datetime(2026, 3, 2, tzinfo=UTC))
    report = fold_obligations(start, [after], now=NOW, since=date(2026, 3, 1))
    assert [o for o in report.obligations if o.rule == "after_event"] == []
    assert [s.reason for s in report.skipped] == [
        "sent while the agreement was not in force: owes nothing"
    ]
