"""The emergency line's forms read into the node's actions' arguments, and errors mapped back."""

from datetime import UTC, datetime

import pytest

from detente.agreement import builtin_agreement
from detente.console.i18n import translations
from detente.console.lineforms import (
    field_for,
    incident_from_form,
    message_from_form,
    notice_from_form,
    parse_utc,
    units_from_lines,
)

TEMPLATES = builtin_agreement("security-replies-2022").templates
PARTIES = ("nato", "ru")


def test_a_template_message_takes_its_blanks():
    form = {
        "to": ["ru", "nato"],
        "priority": ["IMMEDIATE"],
        "template": ["dma-contact"],
        "field.station": [" Moscow "],
        "field.channel": ["the direct line"],
        "field.other": ["ignored"],
    }
    arguments, errors = message_from_form(form, parties=PARTIES, templates=TEMPLATES)
    assert errors == {}
    assert arguments == {
        "to": ("ru", "nato"),
        "priority": "IMMEDIATE",
        "template": "dma-contact",
        "fields": {"station": "Moscow", "channel": "the direct line"},
    }


def test_message_errors_name_their_fields_in_the_operators_language():
    gettext = translations("ru").gettext
    form = {"to": ["us"], "priority": [""], "template": ["dma-laser"], "field.unit": ["a"]}
    _, errors = message_from_form(form, parties=PARTIES, templates=TEMPLATES, gettext=gettext)
    assert set(errors) == {"to", "priority", "field.position"}
    assert errors["field.position"] == "Заполните это поле."


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("us, USS Porter, ship", [{"party": "us", "name": "USS Porter", "kind": "ship"}]),
        ("ru, Su-27\n\n", [{"party": "ru", "name": "Su-27"}]),
        ("ru, Su-27,  ", [{"party": "ru", "name": "Su-27"}]),
    ],
)
def test_units_one_a_line(text, units):
    assert units_from_lines(text) == units


@pytest.mark.parametrize("text", ["USS Porter", ", x", "a, b, ship, extra", "a, b, boat"])
def test_units_that_are_not(text):
    with pytest.raises(ValueError, match="Line 1"):
        units_from_lines(text)
    with pytest.raises(ValueError, match="At most 32"):
        units_from_lines("\n".join(f"us, unit {i}" for i in range(33)))


def test_an_incident_report():
    form = {
        "to": ["ru"],
        "kind": ["sea"],
        "at": ["2026-03-01T11:40:30"],
        "lat": ["-12.5"],
        "lon": ["180"],
        "units": ["us, USS Porter, ship"],
        "account": ["  Close pass.  "],
        "area": ["Baltic"],
    }
    arguments, errors = incident_from_form(form, parties=PARTIES, kinds=("sea", "air"))
    assert errors == {}
    assert arguments["at"] == datetime(2026, 3, 1, 11, 40, 30, tzinfo=UTC)
    assert (arguments["lat"], arguments["lon"]) == (-12.5, 180.0)
    assert arguments["account"] == "Close pass."
    assert arguments["area"] == "Baltic"


def test_a_notice():
    form = {
        "to": ["nato", "ru"],
        "given_at": ["2026-03-01T11:40:00Z"],
        "means": ["fax"],
        "given_by": ["A"],
        "given_to": ["B"],
        "summary": [""],
    }
    arguments, errors = notice_from_form(form, parties=PARTIES, means=("fax",))
    assert errors == {"summary": "Required."}
    assert arguments["given_at"] == datetime(2026, 3, 1, 11, 40, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "2026-03-01", "2026-03-01T11:40:00", "nan"])
def test_times_in_utc(text):
    expected = datetime(2026, 3, 1, 11, 40, tzinfo=UTC) if text.count(":") == 2 else None
    assert parse_utc(text) == expected


@pytest.mark.parametrize(
    ("message", "fields", "field"),
    [
        ("us:0: body.text: 'x…' is too long", ("text",), "text"),
        ("body.fields.position: template dma-laser needs it filled in", (), "field.position"),
        ("us:0: body.position.lat: 100 is greater than the maximum of 90", (), "lat"),
        ("us:0: body.units[0].kind: 'boat' is not one of", (), "units"),
        ("given_at: 2030-01-01T00:00:00Z is in the future", ("given_at",), "given_at"),
        ("us:0: recipient(s) zz not allowed", ("to",), "to"),
        ("header.priority: 'BOGUS' is not one of", ("priority",), "priority"),
        ("us:0: body.area: too long", ("text",), "_form"),
        ("log us: database error", ("text",), "_form"),
    ],
)
def test_node_errors_map_back_to_their_field(message, fields, field):
    assert field_for(message, fields) == field
