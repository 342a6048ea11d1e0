"""Loading agreement files: errors that name file, field and line; includes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from detente.agreement import (
    builtin_agreement,
    load_agreement,
    load_agreement_text,
    resolve_agreement,
)
from detente.agreement._locate import line_of
from detente.errors import AgreementError

BASE = """\
name = "demo"
title = "Demo"
version = "1"

[[parties]]
id = "a"
name = "A"

[[parties]]
id = "b"
name = "B"

[categories.widgets]
name = "Widgets"
unit = "widget"

[counting_rules.all_widgets]
terms = { widgets = 1 }

[limits.widgets]
aggregate = "all_widgets"
max = 10
effective = 2020-01-01
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _line(text: str, fragment: str) -> int:
    """1-based number of the first line of ``text`` containing ``fragment``."""
    for number, line in enumerate(text.splitlines(), start=1):
        if fragment in line:
            return number
    raise AssertionError(f"{fragment!r} not in text")


def _error(path: Path) -> str:
    with pytest.raises(AgreementError) as caught:
        load_agreement(path)
    return str(caught.value)


# --- good files -----------------------------------------------------------------


def test_loads_a_file(tmp_path: Path) -> None:
    a = load_agreement(_write(tmp_path, "demo.toml", BASE))
    assert a.name == "demo"
    assert a.limits["widgets"].max == 10
    assert sorted(a.message_types) == ["message", "resumption", "suspension"]
    assert a.id == load_agreement_text(BASE, source="x.toml").id


def test_text_and_file_give_the_same_id(tmp_path: Path) -> None:
    path = _write(tmp_path, "demo.toml", BASE)
    assert load_agreement(path).id == load_agreement_text(BASE, source=str(path)).id


def test_comments_and_layout_do_not_change_the_id() -> None:
    relaid = BASE.replace("max = 10", "max = 10   # a comment").replace(
        "terms = { widgets = 1 }", "terms.widgets = 1"
    )
    assert load_agreement_text(relaid, source="x").id == load_agreement_text(BASE, source="x").id


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE.encode())
    assert load_agreement(path).name == "demo"


# --- bad files: every error names file, field and line ---------------------------------


def test_missing_file(tmp_path: Path) -> None:
    message = _error(tmp_path / "nope.toml")
    assert message == f"{tmp_path / 'nope.toml'}: no such agreement file"


def test_a_directory_is_not_a_file(tmp_path: Path) -> None:
    assert "is a directory" in _error(tmp_path)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, "secret.toml", BASE)

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", refuse)
    assert _error(path) == f"{path}: cannot read: Permission denied"


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(BASE.replace('"Demo"', '"D\xe9mo"').encode("latin-1"))
    message = _error(path)
    assert message.startswith(f"{path}:2: not UTF-8 text (byte 0xe9")


def test_toml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    text = BASE.replace("max = 10", "max = = 10")
    path = _write(tmp_path, "bad.toml", text)
    message = _error(path)
    assert re.match(
        rf"^{re.escape(str(path))}:{_line(text, 'max = =')}:\d+: TOML syntax error: ", message
    )
    assert "Traceback" not in message


def test_toml_duplicate_key(tmp_path: Path) -> None:
    text = BASE + "\n[limits.widgets]\nmax = 3\n"
    message = _error(_write(tmp_path, "dup.toml", text))
    assert f"dup.toml:{len(text.splitlines()) - 1}:" in message


def test_toml_error_at_end_of_file() -> None:
    with pytest.raises(AgreementError, match=r"^x\.toml:\d+: TOML syntax error: .*end of file"):
        load_agreement_text(BASE + 'description = """never closed', source="x.toml")


def test_bad_value_names_field_and_line(tmp_path: Path) -> None:
    text = BASE.replace("max = 10", 'max = "ten"')
    path = _write(tmp_path, "bad.toml", text)
    message = _error(path)
    line = _line(text, 'max = "ten"')
    assert message.startswith(f"{path}:{line}: limits.widgets.max: Input should be a valid integer")
    assert "(got 'ten')" in message


def test_negative_limit(tmp_path: Path) -> None:
    text = BASE.replace("max = 10", "max = -1")
    message = _error(_write(tmp_path, "bad.toml", text))
    assert f"bad.toml:{_line(text, 'max = -1')}: limits.widgets.max: " in message


def test_missing_field_points_at_its_table(tmp_path: Path) -> None:
    text = BASE.replace('unit = "widget"\n', "")
    message = _error(_write(tmp_path, "bad.toml", text))
    line = _line(text, "[categories.widgets]")
    assert f"bad.toml:{line}: categories.widgets.unit: required field is missing" in message


def test_unknown_key_points_at_the_key(tmp_path: Path) -> None:
    text = BASE.replace("max = 10", "max = 10\nmaximum = 10")
    message = _error(_write(tmp_path, "bad.toml", text))
    line = _line(text, "maximum = 10")
    assert f"bad.toml:{line}: limits.widgets.maximum: unknown key" in message


def test_error_in_an_array_of_tables(tmp_path: Path) -> None:
    text = BASE.replace('name = "B"', "name = 2")
    message = _error(_write(tmp_path, "bad.toml", text))
    assert f"bad.toml:{_line(text, 'name = 2')}: parties[1].name: " in message


def test_error_in_an_inline_table(tmp_path: Path) -> None:
    text = BASE.replace("terms = { widgets = 1 }", "terms = { widgets = 0 }")
    message = _error(_write(tmp_path, "bad.toml", text))
    line = _line(text, "widgets = 0")
    assert f"bad.toml:{line}: counting_rules.all_widgets.terms.widgets: " in message


def test_bad_key_as_id(tmp_path: Path) -> None:
    text = BASE.replace("[categories.widgets]", '[categories."Big Widgets"]')
    message = _error(_write(tmp_path, "bad.toml", text))
    line = _line(text, "Big Widgets")
    assert f"bad.toml:{line}: categories['Big Widgets']: String should match pattern" in message


def test_bad_date(tmp_path: Path) -> None:
    text = BASE.replace("effective = 2020-01-01", "effective = 2020-01-01T00:00:00Z")
    message = _error(_write(tmp_path, "bad.toml", text))
    assert f":{_line(text, 'effective')}: limits.widgets.effective: expected a date" in message


def test_error_inside_a_union_member(tmp_path: Path) -> None:
    text = BASE + (
        "\n[message_types.report]\n"
        'senders = ["a"]\n'
        'deadline = { kind = "after_message", hours = -2, message_type = "message" }\n'
        'body_schema = { type = "object" }\n'
    )
    message = _error(_write(tmp_path, "bad.toml", text))
    assert f":{_line(text, 'deadline =')}: message_types.report.deadline.hours: " in message


def test_invalid_body_schema(tmp_path: Path) -> None:
    text = BASE + (
        "\n[message_types.report]\n"
        'senders = ["a"]\n'
        "\n[message_types.report.body_schema]\n"
        'type = "object"\n'
        "minProperties = -1\n"
    )
    message = _error(_write(tmp_path, "bad.toml", text))
    line = _line(text, "[message_types.report.body_schema]")
    assert f"bad.toml:{line}: message_types.report.body_schema: not a valid JSON Schema" in message


def test_zone_error_inside_multiline_coordinates(tmp_path: Path) -> None:
    text = BASE + (
        "\n[zones.z]\n"
        'name = "Z"\n'
        'geometry.type = "Polygon"\n'
        "geometry.coordinates = [[\n"
        "    [20.0, 54.0],\n"
        "    [21.0, 54.0],\n"
        "    [21.0, 55.0],\n"
        "    [20.5, 54.0]\n"
        "]]\n"
        "\n[limits.later]\n"
        'aggregate = "all_widgets"\n'
        "max = 1\n"
        "effective = 2020-01-01\n"
    )
    message = _error(_write(tmp_path, "bad.toml", text))
    line = _line(text, "geometry.coordinates")
    assert f"bad.toml:{line}: zones.z.geometry.coordinates[0]: " in message
    assert "closed" in message


def test_several_problems_are_all_reported(tmp_path: Path) -> None:
    text = BASE.replace("max = 10", "max = -1").replace('unit = "widget"', "unit = 3")
    message = _error(_write(tmp_path, "bad.toml", text))
    assert len(message.splitlines()) == 2


def test_unknown_reference_names_field_and_line(tmp_path: Path) -> None:
    text = BASE.replace('aggregate = "all_widgets"', 'aggregate = "all_gadgets"')
    message = _error(_write(tmp_path, "bad.toml", text))
    line = _line(text, "all_gadgets")
    assert message == (
        f"{tmp_path / 'bad.toml'}:{line}: limits.widgets.aggregate: "
        "unknown counting rule 'all_gadgets'"
    )


def test_unknown_category_in_counting_rule(tmp_path: Path) -> None:
    text = BASE.replace("terms = { widgets = 1 }", "terms = { widgets = 1, gadgets = 2 }")
    message = _error(_write(tmp_path, "bad.toml", text))
    assert (
        f":{_line(text, 'gadgets')}: counting_rules.all_widgets.terms.gadgets: unknown category"
        in message
    )


def test_unknown_sender(tmp_path: Path) -> None:
    text = (
        BASE + '\n[message_types.report]\nsenders = ["a", "c"]\nbody_schema = { type = "object" }\n'
    )
    message = _error(_write(tmp_path, "bad.toml", text))
    assert (
        f":{_line(text, 'senders')}: message_types.report.senders[1]: unknown party 'c'" in message
    )


# --- includes ---------------------------------------------------------------------

SHARED = """\
name = "shared"
title = "Shared"
version = "1"

[[parties]]
id = "a"
name = "A"

[categories.gadgets]
name = "Gadgets"
unit = "gadget"

[counting_rules.all_gadgets]
terms = { gadgets = 1 }
"""


def _with_includes(*refs: str, extra: str = "") -> str:
    listed = ", ".join(f'"{r}"' for r in refs)
    return BASE.replace('version = "1"\n', f'version = "1"\nincludes = [{listed}]\n') + extra


def test_include_merges_items(tmp_path: Path) -> None:
    _write(tmp_path, "shared.toml", SHARED)
    text = _with_includes(
        "shared.toml",
        extra='\n[limits.gadgets]\naggregate = "all_gadgets"\nmax = 5\neffective = 2021-01-01\n',
    )
    a = load_agreement(_write(tmp_path, "main.toml", text))
    assert set(a.categories) == {"widgets", "gadgets"}
    assert a.limits["gadgets"].aggregate == "all_gadgets"
    assert a.includes == ["shared"]


def test_include_path_spelling_does_not_change_the_id(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "sub", "shared.toml", SHARED)
    one = load_agreement(_write(tmp_path, "one.toml", _with_includes("sub/shared.toml")))
    two = load_agreement(_write(tmp_path, "two.toml", _with_includes("./sub/../sub/shared.toml")))
    assert one.id == two.id
    assert one.id != load_agreement(_write(tmp_path, "none.toml", BASE)).id


def test_includes_are_relative_to_the_including_file(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    _write(tmp_path / "lib", "shared.toml", SHARED)
    _write(
        tmp_path / "lib",
        "middle.toml",
        SHARED.replace('"shared"', '"middle"')
        .replace("gadget", "gizmo")
        .replace('title = "Shared"', 'title = "Middle"\nincludes = ["shared.toml"]'),
    )
    a = load_agreement(_write(tmp_path, "main.toml", _with_includes("lib/middle.toml")))
    assert {"gadgets", "gizmos", "widgets"} <= set(a.categories)
    assert a.includes == ["middle"]


def test_a_reference_error_in_an_include_names_that_file(tmp_path: Path) -> None:
    broken = SHARED.replace("terms = { gadgets = 1 }", "terms = { sprockets = 1 }")
    _write(tmp_path, "shared.toml", broken)
    message = _error(_write(tmp_path, "main.toml", _with_includes("shared.toml")))
    line = _line(broken, "sprockets")
    assert message.startswith(
        f"{tmp_path / 'shared.toml'}:{line}: counting_rules.all_gadgets.terms.sprockets"
    )


def test_an_include_may_use_what_the_includer_defines(tmp_path: Path) -> None:
    uses = SHARED.replace("terms = { gadgets = 1 }", "terms = { gadgets = 1, widgets = 1 }")
    _write(tmp_path, "shared.toml", uses)
    a = load_agreement(_write(tmp_path, "main.toml", _with_includes("shared.toml")))
    assert a.counting_rules["all_gadgets"].evaluate({"gadgets": 1, "widgets": 2}) == 3


def test_clash_between_include_and_includer(tmp_path: Path) -> None:
    _write(tmp_path, "shared.toml", SHARED)
    text = _with_includes(
        "shared.toml", extra='\n[categories.gadgets]\nname = "Other"\nunit = "gadget"\n'
    )
    message = _error(_write(tmp_path, "main.toml", text))
    assert (
        f"main.toml:{_line(text, '[categories.gadgets]')}: categories.gadgets: defined differently"
        in message
    )
    assert str(tmp_path / "shared.toml") in message and str(tmp_path / "main.toml") in message


def test_clash_between_two_includes(tmp_path: Path) -> None:
    _write(tmp_path, "one.toml", SHARED.replace('"shared"', '"one"'))
    _write(
        tmp_path,
        "two.toml",
        SHARED.replace('"shared"', '"two"').replace('unit = "gadget"', 'unit = "piece"'),
    )
    message = _error(_write(tmp_path, "main.toml", _with_includes("one.toml", "two.toml")))
    assert "categories.gadgets: defined differently" in message
    assert "one.toml" in message and "two.toml" in message


def test_identical_repeats_are_not_a_clash(tmp_path: Path) -> None:
    _write(tmp_path, "one.toml", SHARED.replace('"shared"', '"one"'))
    _write(tmp_path, "two.toml", SHARED.replace('"shared"', '"two"'))
    text = _with_includes(
        "one.toml", "two.toml", extra='\n[categories.gadgets]\nname = "Gadgets"\nunit = "gadget"\n'
    )
    a = load_agreement(_write(tmp_path, "main.toml", text))
    assert a.includes == ["one", "two"]


def test_diamond_includes(tmp_path: Path) -> None:
    _write(tmp_path, "base.toml", SHARED.replace('"shared"', '"base"'))
    for name in ("left", "right"):
        _write(
            tmp_path,
            f"{name}.toml",
            f'name = "{name}"\ntitle = "{name}"\nversion = "1"\nincludes = ["base.toml"]\n'
            '[[parties]]\nid = "a"\nname = "A"\n',
        )
    a = load_agreement(_write(tmp_path, "main.toml", _with_includes("left.toml", "right.toml")))
    assert "gadgets" in a.categories


def test_included_parties_must_be_parties_of_the_includer(tmp_path: Path) -> None:
    _write(tmp_path, "shared.toml", SHARED + '\n[[parties]]\nid = "c"\nname = "C"\n')
    text = _with_includes("shared.toml")
    message = _error(_write(tmp_path, "main.toml", text))
    assert f"main.toml:{_line(text, 'includes')}: includes[0]: " in message
    assert "parties c that demo does not have" in message


def test_include_cycle(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "shared.toml",
        SHARED.replace('version = "1"', 'version = "1"\nincludes = ["main.toml"]'),
    )
    message = _error(_write(tmp_path, "main.toml", _with_includes("shared.toml")))
    assert "include cycle" in message


def test_self_include(tmp_path: Path) -> None:
    assert "include cycle" in _error(_write(tmp_path, "main.toml", _with_includes("main.toml")))


def test_include_twice(tmp_path: Path) -> None:
    _write(tmp_path, "shared.toml", SHARED)
    message = _error(_write(tmp_path, "main.toml", _with_includes("shared.toml", "./shared.toml")))
    assert "includes[1]: './shared.toml' is included twice" in message


def test_missing_include(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, "main.toml", _with_includes("nowhere.toml")))
    assert message == f"{tmp_path / 'nowhere.toml'}: no such agreement file"


def test_unknown_builtin_include(tmp_path: Path) -> None:
    text = _with_includes("no-such-treaty")
    message = _error(_write(tmp_path, "main.toml", text))
    assert (
        f"main.toml:{_line(text, 'includes')}: includes[0]: no built-in agreement 'no-such-treaty'"
        in message
    )


def test_include_a_builtin(tmp_path: Path) -> None:
    text = BASE.replace('id = "a"\nname = "A"', 'id = "us"\nname = "United States"').replace(
        'id = "b"\nname = "B"', 'id = "ru"\nname = "Russian Federation"'
    )
    text = text.replace('version = "1"\n', 'version = "1"\nincludes = ["new-start"]\n')
    a = load_agreement(_write(tmp_path, "main.toml", text))
    assert a.limits["deployed_warheads"].max == 1550
    assert "aggregate_data" in a.message_types
    assert a.includes == ["new-start"]


# --- resolve_agreement --------------------------------------------------------------


def test_resolve_builtin_or_path(tmp_path: Path) -> None:
    assert resolve_agreement("new-start") is builtin_agreement("new-start")
    path = _write(tmp_path, "demo.toml", BASE)
    assert resolve_agreement(str(path)).name == "demo"
    with pytest.raises(AgreementError, match="neither a built-in agreement"):
        resolve_agreement("no-such-thing")
    with pytest.raises(AgreementError, match="no such agreement file"):
        resolve_agreement(str(tmp_path / "missing.toml"))


def test_unknown_builtin() -> None:
    with pytest.raises(AgreementError, match="no built-in agreement 'nope'"):
        builtin_agreement("nope")


# --- the line finder ----------------------------------------------------------------


def test_line_of_follows_tables_arrays_and_strings() -> None:
    text = """\
title = "x"
description = '''
[not.a.table]
key = 1
'''
[[parties]]
id = "a"
[[parties]]
id = "b"
[a."quoted key".c]
numbers = [
  [1, 2],
  [3, 4]
]
after = 1
d.e = { f = 1, g = 2 }
"""
    assert line_of(text, ("title",)) == 1
    assert line_of(text, ("not", "a", "table")) is None
    assert line_of(text, ("key",)) is None
    assert line_of(text, ("parties", 1, "id")) == 9
    assert line_of(text, ("parties", 0)) == 6
    assert line_of(text, ("a", "quoted key", "c", "numbers", 1, 0)) == 11
    assert line_of(text, ("a", "quoted key", "c", "after")) == 15
    assert line_of(text, ("a", "quoted key", "c", "d", "e", "g")) == 16
    assert line_of(text, ("nowhere",)) is None


def test_id_written_inside_a_keyed_table_must_match_its_key(tmp_path: Path) -> None:
    text = BASE.replace("[categories.widgets]", '[categories.widgets]\nid = "gadgets"')
    message = _error(_write(tmp_path, "bad.toml", text))
    line = _line(text, 'id = "gadgets"')
    assert message.endswith(
        f"bad.toml:{line}: categories.widgets.id: 'gadgets' differs from its key"
    )
    same = BASE.replace("[categories.widgets]", '[categories.widgets]\nid = "widgets"')
    assert load_agreement_text(same, source="x").id == load_agreement_text(BASE, source="x").id


def test_the_example_in_the_format_guide_loads() -> None:
    guide = Path(__file__).parents[2] / "docs" / "agreement-format.md"
    example = re.findall(r"```toml\n(.*?)```", guide.read_text(encoding="utf-8"), re.S)[-1]
    a = load_agreement_text(example, source="agreement-format.md")
    assert a.message_type("explanation").deadline is not None
