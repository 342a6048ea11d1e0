"""The suspension and resumption types every resolved agreement has."""

import pytest
from pydantic import ValidationError

from detente.agreement import Agreement, builtin_agreement
from detente.agreement.suspension import suspension_message_types
from detente.errors import BodyError


def _agreement(**extra):
    return {
        "name": "demo",
        "title": "Demo",
        "version": "1",
        "parties": [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}],
        **extra,
    }


def test_every_agreement_has_both_listing_its_own_types():
    for name in ("new-start", "security-replies-2022"):
        a = builtin_agreement(name)
        schema = a.message_type("suspension").body_schema
        listed = schema["properties"]["types"]["items"]["enum"]
        assert listed == sorted(set(a.message_types) - {"suspension", "resumption"})
        assert a.message_type("resumption").may_send("us")
    plain = Agreement.model_validate(_agreement())
    assert plain.message_type("suspension").body_schema["properties"]["types"]["items"]["enum"] == [
        "message"
    ]


def test_unknown_types_are_refused_with_the_field_named():
    suspension = builtin_agreement("new-start").message_type("suspension")
    with pytest.raises(BodyError, match=r"^body\.types\[1\]: 'launches' is not one of"):
        suspension.validate_body(
            {
                "types": ["aggregate_data", "launches"],
                "effective": "2023-06-01T00:00:00Z",
                "reason": "countermeasure",
            }
        )
    with pytest.raises(BodyError, match=r"body\.types\[1\]: 'suspension' is not one of"):
        suspension.validate_body(
            {"types": ["message", "suspension"], "effective": "2023-06-01T00:00:00Z", "reason": "x"}
        )
    with pytest.raises(BodyError, match=r"body\.effective"):
        suspension.validate_body(
            {"types": ["message"], "effective": "2023-06-01T00:00:00+02:00", "reason": "x"}
        )
    with pytest.raises(BodyError, match=r"'reason' is a required property"):
        suspension.validate_body({"types": ["message"], "effective": "2023-06-01T00:00:00Z"})
    builtin_agreement("new-start").message_type("resumption").validate_body(
        {"types": ["message"], "effective": "2023-06-01T00:00:00Z"}
    )


def test_a_file_may_not_define_them_otherwise_and_the_id_round_trips():
    own = suspension_message_types(["message"])["suspension"].model_dump() | {"senders": ["a"]}
    with pytest.raises(ValidationError, match="message_types.suspension: reserved"):
        Agreement.model_validate(_agreement(message_types={"suspension": own}))
    a = builtin_agreement("new-start")
    assert Agreement.model_validate_json(a.canonical_bytes()).id == a.id
