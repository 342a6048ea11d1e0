"""``two_person_release``: which message types a second operator must approve."""

from __future__ import annotations

from pathlib import Path

import pytest

from detente.agreement import Agreement, builtin_agreement, load_agreement, load_agreement_text
from detente.errors import AgreementError

BASE = """\
name = "demo"
title = "Demo"
version = "1"
{release}
[[parties]]
id = "a"
name = "A"

[[parties]]
id = "b"
name = "B"

[message_types.notice]
senders = ["*"]
body_schema.type = "object"
"""

SHARED = """\
name = "shared"
title = "Shared"
version = "1"
two_person_release = ["suspension"]

[[parties]]
id = "a"
name = "A"
"""


def _text(release: str) -> str:
    return BASE.format(release=release)


def _error(text: str, source: str = "x.toml") -> str:
    with pytest.raises(AgreementError) as caught:
        load_agreement_text(text, source=source)
    return str(caught.value)


def test_listed_types_need_release_and_others_do_not() -> None:
    a = load_agreement_text(
        _text('two_person_release = ["notice", "resumption", "suspension"]'), source="x"
    )
    assert a.needs_release("notice") and a.needs_release("suspension")
    assert not a.needs_release("message")
    assert not a.needs_release("detente.key_rotation")


def test_an_unknown_type_is_named_with_its_field_and_line() -> None:
    text = _text('two_person_release = ["notice", "notise"]')
    message = _error(text)
    assert message.startswith("x.toml:4: two_person_release[1]: unknown message type 'notise'")
    assert "notice" in message  # the types it has are listed


def test_protocol_key_entries_cannot_be_listed() -> None:
    message = _error(_text('two_person_release = ["detente.key_rotation"]'))
    assert "two_person_release[0]: 'detente.key_rotation' is a protocol key entry" in message
    assert "detente keys rotate" in message


def test_a_type_listed_twice_is_refused() -> None:
    message = _error(_text('two_person_release = ["notice", "notice"]'))
    assert "two_person_release: 'notice' is listed twice" in message


def test_order_does_not_change_the_id_but_the_list_does() -> None:
    one = load_agreement_text(_text('two_person_release = ["notice", "suspension"]'), source="x")
    two = load_agreement_text(_text('two_person_release = ["suspension", "notice"]'), source="x")
    none = load_agreement_text(_text(""), source="x")
    assert one.two_person_release == ["notice", "suspension"]
    assert one.id == two.id != none.id


def test_an_empty_list_leaves_the_id_as_it_was() -> None:
    empty = load_agreement_text(_text("two_person_release = []"), source="x")
    none = load_agreement_text(_text(""), source="x")
    assert empty.id == none.id
    assert b"two_person_release" not in none.canonical_bytes()
    assert Agreement.model_validate_json(none.canonical_bytes()).id == none.id


def test_the_id_round_trips_with_a_list() -> None:
    a = load_agreement_text(_text('two_person_release = ["suspension", "notice"]'), source="x")
    assert Agreement.model_validate_json(a.canonical_bytes()).id == a.id
    assert Agreement.model_validate(a.model_dump()).id == a.id


def test_includes_merge_as_a_union(tmp_path: Path) -> None:
    (tmp_path / "shared.toml").write_text(SHARED)
    text = _text('includes = ["shared.toml"]\ntwo_person_release = ["notice", "suspension"]')
    path = tmp_path / "main.toml"
    path.write_text(text)
    a = load_agreement(path)
    assert a.two_person_release == ["notice", "suspension"]
    path.write_text(_text('includes = ["shared.toml"]'))
    assert load_agreement(path).two_person_release == ["suspension"]  # an include asks for more


def test_an_unknown_type_in_an_include_names_that_file(tmp_path: Path) -> None:
    broken = SHARED.replace('["suspension"]', '["suspension", "gadget_data"]')
    (tmp_path / "shared.toml").write_text(broken)
    path = tmp_path / "main.toml"
    path.write_text(_text('includes = ["shared.toml"]\ntwo_person_release = ["notice"]'))
    with pytest.raises(AgreementError) as caught:
        load_agreement(path)
    assert str(caught.value).startswith(
        f"{tmp_path / 'shared.toml'}:4: two_person_release[1]: unknown message type 'gadget_data'"
    )


def test_an_include_may_list_a_type_the_includer_defines(tmp_path: Path) -> None:
    (tmp_path / "shared.toml").write_text(SHARED.replace('["suspension"]', '["notice"]'))
    path = tmp_path / "main.toml"
    path.write_text(_text('includes = ["shared.toml"]'))
    assert load_agreement(path).needs_release("notice")


def test_the_demo_agreement_asks_for_release_of_suspensions() -> None:
    a = builtin_agreement("security-replies-2022")
    assert a.two_person_release == ["resumption", "suspension"]
    assert not builtin_agreement("new-start").two_person_release
