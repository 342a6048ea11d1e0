"""The agreement model on plain data: validation, rules, references, id."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from detente.agreement import (
    AfterEvent,
    AfterMessage,
    Agreement,
    BeforeEvent,
    CountingRule,
    DetectionSample,
    Hotline,
    InspectionType,
    Limit,
    MessageType,
    PeriodicExchange,
    Priority,
    ProportionalQuota,
    Zone,
)
from detente.agreement.messages import free_text_message_type
from detente.errors import BodyError, TypeNotAllowedError


def _agreement(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "demo",
        "title": "Demo",
        "version": "1",
        "parties": [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}],
        "categories": {"widgets": {"name": "Widgets", "unit": "widget"}},
        "counting_rules": {"all_widgets": {"terms": {"widgets": 2}}},
        "limits": {
            "widgets": {"aggregate": "all_widgets", "max": 10, "effective": "2020-01-01"},
        },
    }
    data.update(extra)
    return data


def _type(**extra: Any) -> MessageType:
    data: dict[str, Any] = {
        "id": "report",
        "senders": ["a"],
        "body_schema": {
            "type": "object",
            "required": ["event_date", "items"],
            "properties": {
                "event_date": {"type": "string", "format": "date"},
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"count": {"type": "integer", "minimum": 0}},
                    },
                },
            },
        },
    }
    data.update(extra)
    return MessageType.model_validate(data)


# --- limits and counting ------------------------------------------------------


def test_limit_status_outside_its_period_is_not_in_force() -> None:
    limit = Limit(id="l", aggregate="x", max=1, effective=date(2018, 2, 5), end=date(2026, 2, 5))
    assert limit.status_on(date(2018, 2, 4)) == "not_in_force"
    assert limit.status_on(date(2018, 2, 5)) == "in_force"
    assert limit.status_on(date(2026, 2, 4)) == "in_force"
    assert limit.status_on(date(2026, 2, 5)) == "not_in_force"  # end is exclusive
    assert limit.status_on(date(2030, 1, 1)) == "not_in_force"


def test_limit_without_end_stays_in_force() -> None:
    limit = Limit(id="l", aggregate="x", max=1, effective=date(2018, 2, 5))
    assert limit.status_on(date(2100, 1, 1)) == "in_force"


def test_limit_end_must_follow_effective() -> None:
    with pytest.raises(ValidationError, match="must be after effective"):
        Limit.model_validate(
            {"id": "l", "aggregate": "x", "max": 1, "effective": "2020-01-01", "end": "2020-01-01"}
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max", "700"),  # strict: a string is not a number
        ("max", -1),
        ("max", 2**53),
        ("max", 1.5),
        ("effective", datetime(2020, 1, 1)),  # a limit starts on a day
        ("effective", 1577836800),
        ("effective", "1 January 2020"),
    ],
)
def test_limit_rejects_loose_values(field: str, value: object) -> None:
    data: dict[str, Any] = {"id": "l", "aggregate": "x", "max": 1, "effective": "2020-01-01"}
    data[field] = value
    with pytest.raises(ValidationError):
        Limit.model_validate(data)


def test_counting_rule_is_a_weighted_sum() -> None:
    rule = CountingRule(id="r", terms={"a": 1, "b": 3})
    assert rule.evaluate({"a": 5, "b": 2, "ignored": 100}) == 11
    assert rule.evaluate({}) == 0


def test_counting_rule_needs_positive_weights() -> None:
    with pytest.raises(ValidationError):
        CountingRule.model_validate({"id": "r", "terms": {"a": 0}})
    with pytest.raises(ValidationError):
        CountingRule.model_validate({"id": "r", "terms": {}})


# --- message types --------------------------------------------------------------


def test_may_send_follows_the_sender_list() -> None:
    t = _type(senders=["a"])
    assert t.may_send("a")
    assert not t.may_send("b")
    anyone = _type(senders=["*"])
    assert anyone.may_send("a") and anyone.may_send("b")


@pytest.mark.parametrize("senders", [["*", "a"], ["a", "a"], [], ["A"]])
def test_sender_lists_are_checked(senders: list[str]) -> None:
    with pytest.raises(ValidationError):
        _type(senders=senders)


def test_body_errors_name_the_json_path() -> None:
    t = _type()
    t.validate_body({"event_date": "2024-01-31", "items": [{"count": 1}]})
    with pytest.raises(BodyError, match=r"^body\.items\[1\]\.count: -1 is less than"):
        t.validate_body({"event_date": "2024-01-31", "items": [{"count": 1}, {"count": -1}]})
    with pytest.raises(BodyError, match=r"^body: 'items' is a required property"):
        t.validate_body({"event_date": "2024-01-31"})
    with pytest.raises(BodyError, match=r"^body\.event_date: '2024-13-01' is not a 'date'"):
        t.validate_body({"event_date": "2024-13-01", "items": []})


@pytest.mark.parametrize("body", [[], "text", 3, None, True])
def test_body_must_be_an_object(body: object) -> None:
    with pytest.raises(BodyError, match="must be a JSON object"):
        free_text_message_type().validate_body(body)


def test_free_text_body() -> None:
    t = free_text_message_type()
    t.validate_body({"text": "Hello"})
    with pytest.raises(BodyError, match=r"^body\.text: '' should be non-empty"):
        t.validate_body({"text": ""})
    with pytest.raises(BodyError, match=r"^body\.text: .* is too long"):
        t.validate_body({"text": "x" * 100_001})
    with pytest.raises(BodyError, match="Additional properties"):
        t.validate_body({"text": "x", "extra": 1})


def test_long_error_messages_are_shortened() -> None:
    t = _type()
    with pytest.raises(BodyError) as caught:
        t.validate_body({"event_date": "x" * 5000, "items": []})
    assert len(str(caught.value)) < 400


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "object", "properties": {"x": {"type": "no-such-type"}}}, "JSON Schema"),
        ({"type": "object", "minProperties": -1}, "JSON Schema"),
        ({"type": "array"}, '"type": "object"'),
        ({"properties": {}}, '"type": "object"'),
        ({"type": "object", "default": float("nan")}, "not a JSON number"),
        ({"type": "object", "examples": [date(2020, 1, 1)]}, "not a JSON value"),
    ],
)
def test_body_schema_must_be_a_valid_object_schema(schema: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _type(body_schema=schema)


def test_event_field_must_be_a_required_date_property() -> None:
    rule = {"kind": "after_event", "days": 5, "event_field": "event_date"}
    assert isinstance(_type(deadline=rule).deadline, AfterEvent)
    with pytest.raises(ValidationError, match="not a property"):
        _type(deadline={**rule, "event_field": "nope"})
    with pytest.raises(ValidationError, match='"format": "date"'):
        _type(deadline={**rule, "event_field": "items"})
    optional = _type().body_schema | {"required": ["items"]}
    with pytest.raises(ValidationError, match="must be required"):
        _type(deadline=rule, body_schema=optional)


def test_priority_reads_names_and_rejects_others() -> None:
    assert _type(priority="FLASH").priority is Priority.FLASH
    with pytest.raises(ValidationError):
        _type(priority="URGENT")


# --- deadlines ------------------------------------------------------------------


def test_deadline_kinds_compute_due_times() -> None:
    t0 = datetime(2024, 3, 1, 12, 0)
    after = AfterEvent(kind="after_event", days=5, event_field="d")
    before = BeforeEvent(kind="before_event", days=42, event_field="start_date")
    answer = AfterMessage(kind="after_message", hours=48, message_type="request")
    assert after.due(t0) == t0 + timedelta(days=5)
    assert before.due(t0) == t0 - timedelta(days=42)
    assert answer.due(t0) == t0 + timedelta(hours=48)


@pytest.mark.parametrize(
    "rule",
    [
        {"kind": "after_event", "event_field": "d"},  # no time at all
        {"kind": "after_event", "days": -1, "hours": 48, "event_field": "d"},
        {"kind": "after_event", "days": 1, "event_field": "a.b"},
        {"kind": "sometime", "days": 1},
        {"kind": "after_message", "hours": 48},
    ],
)
def test_bad_deadline_rules(rule: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _type(deadline=rule)


def test_periodic_exchange_schedule() -> None:
    p = PeriodicExchange(as_of=["03-01", "09-01"], due_days=30)
    assert p.schedule(2024) == [
        (date(2024, 3, 1), date(2024, 3, 31)),
        (date(2024, 9, 1), date(2024, 10, 1)),
    ]


@pytest.mark.parametrize(
    ("as_of", "due_days"),
    [
        (["09-01", "03-01"], 30),
        (["03-01", "03-01"], 30),
        (["02-29"], 30),
        (["3-1"], 30),
        (["13-01"], 30),
        ([], 30),
        (["03-01"], 0),
    ],
)
def test_bad_periodic_exchanges(as_of: list[str], due_days: int) -> None:
    with pytest.raises(ValidationError):
        PeriodicExchange.model_validate({"as_of": as_of, "due_days": due_days})


# --- zones ----------------------------------------------------------------------

_RING = [[20.0, 54.0], [21.0, 54.0], [21.0, 55.0], [20.0, 54.0]]


def test_zone_polygon_and_multipolygon() -> None:
    Zone.model_validate(
        {"id": "z", "name": "Z", "geometry": {"type": "Polygon", "coordinates": [_RING]}}
    )
    Zone.model_validate(
        {
            "id": "z",
            "name": "Z",
            "geometry": {"type": "MultiPolygon", "coordinates": [[_RING], [_RING]]},
        }
    )


@pytest.mark.parametrize(
    ("coordinates", "message"),
    [
        ([_RING[:-1] + [[20.5, 54.0]]], "closed"),
        ([_RING[:3]], "at least 4"),
        ([[[190.0, 54.0], [21.0, 54.0], [21.0, 55.0], [190.0, 54.0]]], "longitude"),
        ([[[20.0, 95.0], [21.0, 54.0], [21.0, 55.0], [20.0, 95.0]]], "latitude"),
        ([[[20.0], [21.0, 54.0], [21.0, 55.0], [20.0]]], "at least 2"),
        ([], "at least 1"),
    ],
)
def test_bad_zone_geometry(coordinates: list[Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Zone.model_validate(
            {"id": "z", "name": "Z", "geometry": {"type": "Polygon", "coordinates": coordinates}}
        )


def test_zone_geometry_type_is_checked() -> None:
    with pytest.raises(ValidationError):
        Zone.model_validate(
            {"id": "z", "name": "Z", "geometry": {"type": "Point", "coordinates": [20.0, 54.0]}}
        )


# --- inspections and hotline ------------------------------------------------------


def _inf(**extra: Any) -> InspectionType:
    data: dict[str, Any] = {
        "id": "short-notice",
        "name": "Short-notice inspection",
        "notice_hours": 16,
        "quota_start": "1988-06-01",
        "quota": [
            {"from_year_index": 0, "per_year": 20},
            {"from_year_index": 3, "per_year": 15},
            {"from_year_index": 8, "per_year": 10},
            {"from_year_index": 13, "per_year": 0},
        ],
    }
    data.update(extra)
    return InspectionType.model_validate(data)


def test_quota_that_changes_over_the_years() -> None:
    inf = _inf()
    assert inf.per_year_on(date(1988, 5, 31)) == 0
    assert inf.per_year_on(date(1988, 6, 1)) == 20
    assert inf.per_year_on(date(1991, 5, 31)) == 20
    assert inf.per_year_on(date(1991, 6, 1)) == 15
    assert inf.per_year_on(date(1996, 6, 1)) == 10
    assert inf.per_year_on(date(2001, 6, 1)) == 0


def test_quota_by_dates() -> None:
    t = _inf(
        quota_start=None,
        quota=[
            {"from_date": "2011-02-05", "per_year": 18},
            {"from_date": "2023-02-21", "per_year": 0},
        ],
    )
    assert t.per_year_on(date(2011, 2, 4)) == 0
    assert t.per_year_on(date(2020, 1, 1)) == 18
    assert t.per_year_on(date(2023, 3, 1)) == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"quota_start": None}, "need quota_start"),
        ({"quota": [{"from_year_index": 1, "per_year": 1}]}, "from_year_index = 0"),
        (
            {
                "quota": [
                    {"from_year_index": 0, "per_year": 1},
                    {"from_date": "2020-01-01", "per_year": 1},
                ]
            },
            "all use",
        ),
        (
            {
                "quota": [
                    {"from_year_index": 0, "per_year": 1},
                    {"from_year_index": 0, "per_year": 2},
                ]
            },
            "ascending",
        ),
        (
            {"quota": [{"from_year_index": 0, "from_date": "2020-01-01", "per_year": 1}]},
            "exactly one",
        ),
        ({"quota": [{"per_year": 1}]}, "exactly one"),
        ({"quota": []}, "at least 1"),
        ({"notice_hours": 0}, "greater than 0"),
        ({"sites": ["x", "x"]}, "twice"),
        ({"sample": {"kind": "detection", "probability": 1.0}}, "less than 1"),
        ({"sample": {"kind": "fixed"}}, "Field required"),
    ],
)
def test_bad_inspection_types(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _inf(**extra)


def test_sample_plans_and_proportional_quota() -> None:
    t = _inf(
        sample={"kind": "detection", "probability": 0.9, "assumed_bad": 1},
        proportional={"category": "units", "units_per_inspection": 60, "rounding": "up"},
    )
    assert isinstance(t.sample, DetectionSample)
    assert _inf().sample.kind == "all"
    up = ProportionalQuota(category="u", units_per_inspection=60, rounding="up")
    down = ProportionalQuota(category="u", units_per_inspection=60, rounding="down")
    assert (up.quota_for(0), up.quota_for(60), up.quota_for(61)) == (0, 1, 2)
    assert (down.quota_for(59), down.quota_for(61), down.quota_for(120)) == (0, 1, 2)


def test_year_index_counts_whole_years() -> None:
    t = _inf()
    assert t.year_index(date(1988, 5, 31)) is None
    assert t.year_index(date(1989, 5, 31)) == 0
    assert t.year_index(date(1989, 6, 1)) == 1


def test_hotline_ack_deadlines() -> None:
    line = Hotline.model_validate(
        {
            "ack": {"FLASH": {"minutes": 5}, "ROUTINE": {"hours": 24}},
            "link_test_interval": {"hours": 1},
        }
    )
    assert line.ack_deadline(Priority.FLASH) == timedelta(minutes=5)
    assert line.ack_deadline(Priority.IMMEDIATE) is None
    with pytest.raises(ValidationError):
        Hotline.model_validate(
            {"ack": {"URGENT": {"minutes": 5}}, "link_test_interval": {"hours": 1}}
        )
    with pytest.raises(ValidationError, match="longer than zero"):
        Hotline.model_validate({"ack": {}, "link_test_interval": {"hours": 0}})


# --- the resolved agreement -------------------------------------------------------


def test_free_text_type_is_added() -> None:
    a = Agreement.model_validate(_agreement())
    assert a.message_type("message") == free_text_message_type()
    assert a.message_type("message").may_send("b")


def test_a_defined_message_type_is_kept() -> None:
    own = free_text_message_type().model_dump() | {"senders": ["a"]}
    a = Agreement.model_validate(_agreement(message_types={"message": own}))
    assert not a.message_type("message").may_send("b")


def test_unknown_message_type_is_not_allowed() -> None:
    a = Agreement.model_validate(_agreement())
    with pytest.raises(TypeNotAllowedError, match="no message type 'nope'"):
        a.message_type("nope")


def test_party_ids() -> None:
    assert Agreement.model_validate(_agreement()).party_ids() == frozenset({"a", "b"})


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"counting_rules": {"r": {"terms": {"gadgets": 1}}}},
            r"counting_rules\.r\.terms\.gadgets: unknown category",
        ),
        (
            {"limits": {"l": {"aggregate": "nope", "max": 1, "effective": "2020-01-01"}}},
            r"limits\.l\.aggregate: unknown counting rule 'nope'",
        ),
        (
            {
                "limits": {
                    "l": {
                        "aggregate": "all_widgets",
                        "max": 1,
                        "effective": "2020-01-01",
                        "applies_to": ["c"],
                    }
                }
            },
            r"limits\.l\.applies_to\[0\]: unknown party 'c'",
        ),
        (
            {"message_types": {"m": {"senders": ["a", "c"], "body_schema": {"type": "object"}}}},
            r"message_types\.m\.senders\[1\]: unknown party 'c'",
        ),
        (
            {
                "message_types": {
                    "m": {"senders": ["a"], "recipients": ["z"], "body_schema": {"type": "object"}}
                }
            },
            r"message_types\.m\.recipients\[0\]: unknown party 'z'",
        ),
        (
            {
                "message_types": {
                    "m": {
                        "senders": ["a"],
                        "body_schema": {"type": "object"},
                        "deadline": {
                            "kind": "after_message",
                            "hours": 48,
                            "message_type": "request",
                        },
                    }
                }
            },
            r"message_types\.m\.deadline\.message_type: unknown message type 'request'",
        ),
        (
            {"sites": {"s": {"name": "S", "country": "RO", "party": "c", "lat": 1.0, "lon": 2.0}}},
            r"sites\.s\.party: unknown party 'c'",
        ),
        (
            {
                "sites": {
                    "s": {
                        "name": "S",
                        "country": "RO",
                        "party": "a",
                        "lat": 1.0,
                        "lon": 2.0,
                        "declared": {"gadgets": {"count": 1}},
                    }
                }
            },
            r"sites\.s\.declared\.gadgets: unknown category",
        ),
        (
            {
                "inspection_types": {
                    "i": {
                        "name": "I",
                        "notice_hours": 1,
                        "quota": [{"from_date": "2020-01-01", "per_year": 1}],
                        "sites": ["nowhere"],
                    }
                }
            },
            r"inspection_types\.i\.sites\[0\]: unknown site 'nowhere'",
        ),
        (
            {
                "inspection_types": {
                    "i": {
                        "name": "I",
                        "notice_hours": 1,
                        "quota": [{"from_date": "2020-01-01", "per_year": 1}],
                        "inspecting": ["q"],
                    }
                }
            },
            r"inspection_types\.i\.inspecting\[0\]: unknown party 'q'",
        ),
        (
            {
                "inspection_types": {
                    "i": {
                        "name": "I",
                        "notice_hours": 1,
                        "quota": [{"from_date": "2020-01-01", "per_year": 1}],
                        "proportional": {
                            "category": "units",
                            "units_per_inspection": 60,
                            "rounding": "up",
                        },
                    }
                }
            },
            r"inspection_types\.i\.proportional\.category: unknown category 'units'",
        ),
        (
            {"parties": [{"id": "a", "name": "A"}, {"id": "a", "name": "A again"}]},
            r"parties\[1\]\.id: party 'a' is listed twice",
        ),
    ],
)
def test_cross_references_are_checked(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Agreement.model_validate(_agreement(**extra))


def test_item_id_comes_from_its_key_and_must_match() -> None:
    a = Agreement.model_validate(_agreement())
    assert a.categories["widgets"].id == "widgets"
    bad = _agreement(categories={"widgets": {"id": "gadgets", "name": "W", "unit": "w"}})
    with pytest.raises(ValidationError, match="differs from its key"):
        Agreement.model_validate(bad)


def test_unknown_keys_are_rejected() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        Agreement.model_validate(_agreement(keys=[{"party": "a", "key": "ed25519:..."}]))


def test_id_is_sha256_of_canonical_json() -> None:
    a = Agreement.model_validate(_agreement())
    assert a.id == hashlib.sha256(a.canonical_bytes()).hexdigest()
    dumped = json.loads(a.canonical_bytes())
    assert dumped["limits"]["widgets"]["effective"] == "2020-01-01"
    assert (
        a.canonical_bytes()
        == json.dumps(dumped, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )


def test_id_survives_a_json_round_trip_and_changes_with_any_number() -> None:
    a = Agreement.model_validate(_agreement())
    again = Agreement.model_validate(a.model_dump(mode="json"))
    assert again == a and again.id == a.id
    assert Agreement.model_validate_json(a.model_dump_json()).id == a.id
    changed = _agreement()
    changed["limits"]["widgets"]["max"] = 11
    assert Agreement.model_validate(changed).id != a.id
    assert Agreement.model_validate(_agreement(skew_seconds=301)).id != a.id


def test_agreement_is_frozen() -> None:
    a = Agreement.model_validate(_agreement())
    with pytest.raises(ValidationError):
        a.name = "other"  # type: ignore[misc]


def test_text_that_canonical_json_cannot_carry_is_rejected() -> None:
    with pytest.raises(ValidationError, match="canonical JSON"):
        Agreement.model_validate(
            _agreement(
                message_types={
                    "m": {
                        "senders": ["a"],
                        "body_schema": {"type": "object", "description": "lone \ud800"},
                    }
                }
            )
        )


def test_agreements_and_message_types_are_hashable() -> None:
    a = Agreement.model_validate(_agreement())
    b = Agreement.model_validate(_agreement())
    assert len({a, b}) == 1
    assert len({a.message_type("message"), free_text_message_type()}) == 1


def test_declares_and_notify_when_leave_other_agreements_ids_alone():
    from detente.agreement import builtin_agreement

    # Unset, the new message type fields are not in the canonical bytes.
    incsea = builtin_agreement("incsea-1972")
    assert b'"declares"' not in incsea.canonical_bytes()
    assert b'"notify_when"' not in incsea.canonical_bytes()
    start = builtin_agreement("new-start")
    assert b'"declares":"counts"' in start.canonical_bytes()
