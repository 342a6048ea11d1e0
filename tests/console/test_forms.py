"""Forms generated from body schemas, and bodies read back from them."""

import pytest

from detente.agreement import builtin_agreement
from detente.console.forms import body_from_form, field_of, fields_for

SCHEMA = {
    "type": "object",
    "properties": {
        "kind": {"type": "string", "enum": ["air", "sea"]},
        "when": {"type": "string", "format": "date-time"},
        "day": {"type": "string", "format": "date"},
        "callsign": {"type": "string", "maxLength": 20},
        "account": {"type": "string"},
        "units": {"type": "integer", "minimum": 0},
        "distance_m": {"type": "number"},
        "urgent": {"type": "boolean"},
        "names": {"type": "array", "items": {"type": "string"}},
        "measures": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
        "position": {"type": "object"},
    },
    "required": ["kind", "units"],
}


def test_each_json_type_gets_its_widget():
    widgets = {f.name: f.widget for f in fields_for(SCHEMA)}
    assert widgets == {
        "kind": "select",
        "when": "datetime",
        "day": "date",
        "callsign": "text",
        "account": "textarea",
        "units": "number",
        "distance_m": "number",
        "urgent": "checkbox",
        "names": "lines",
        "measures": "choices",
        "position": "json",
    }
    required = {f.name for f in fields_for(SCHEMA) if f.required}
    assert required == {"kind", "units"}


def test_a_filled_form_gives_the_body():
    body, errors = body_from_form(
        SCHEMA,
        {
            "kind": ["sea"],
            "when": ["2026-11-29T05:30"],
            "units": ["3"],
            "distance_m": ["152.5"],
            "urgent": ["on"],
            "names": ["Admiral Kuznetsov\n\n  USS Porter \n"],
            "measures": ["a", "b"],
            "position": ['{"lat": 55.1, "lon": 19.9}'],
            "callsign": [""],
        },
    )
    assert errors == {}
    assert body == {
        "kind": "sea",
        "when": "2026-11-29T05:30:00Z",
        "units": 3,
        "distance_m": 152.5,
        "urgent": True,
        "names": ["Admiral Kuznetsov", "USS Porter"],
        "measures": ["a", "b"],
        "position": {"lat": 55.1, "lon": 19.9},
    }


def test_text_that_is_not_a_value_is_named_by_field():
    _, errors = body_from_form(SCHEMA, {"kind": ["air"], "units": ["three"], "position": ["{lat:"]})
    assert set(errors) == {"units", "position"}
    assert "not a whole number" in errors["units"]
    assert "not JSON" in errors["position"]


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ("body.units: -1 is less than the minimum of 0", "units"),
        ("body: 'kind' is a required property", "kind"),
        ("us:0: body: 'text' is a required property", "text"),
        ("us:3: body.units: 'x' is not of type 'integer'", "units"),
        ("us:0: recipient(s) osce not allowed", "to"),
        ("header.priority: 'NOW' is not one of FLASH, ...", "priority"),
        ("body: {} is not valid under any of the given schemas", None),
        ("agreement has no message type 'x'", None),
    ],
)
def test_writer_errors_map_back_to_their_field(message, field):
    assert field_of(message) == field


def test_every_built_in_type_has_a_form():
    agreement = builtin_agreement("security-replies-2022")
    for message_type in agreement.message_types.values():
        assert fields_for(message_type.body_schema), message_type.id
