"""The catalogs, the event ids of the live stream, and the console modules' examples."""

import doctest
import importlib

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from detente.console import i18n
from detente.console.i18n import best_language, translations
from detente.console.live import decode, encode

CATALOG = "src/detente/console/locale/ru/LC_MESSAGES/console.po"


def test_every_string_has_its_russian_translation():
    with open(CATALOG, "rb") as f:
        catalog = read_po(f)
    missing = [
        m.id
        for m in catalog
        if m.id and not (all(m.string) if isinstance(m.string, tuple) else m.string)
    ]
    assert missing == []
    assert list(catalog.check()) == []
    assert not any(m.fuzzy for m in catalog if m.id)


def test_the_catalog_covers_every_string_of_the_code_and_templates():
    found = set()
    for _, _, message, _, _ in extract_from_dir(
        "src/detente/console",
        method_map=[("**.py", "python"), ("templates/**.html", "jinja2")],
        options_map={"templates/**.html": {"extensions": "jinja2.ext.i18n"}},
        keywords={**DEFAULT_KEYWORDS, "N_": None},
    ):
        found.add(message if isinstance(message, str) else message[0])
    with open(CATALOG, "rb") as f:
        translated = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}
    assert found - translated == set(), "run `make catalogs` and translate the new entries"


def test_russian_plurals_take_three_forms():
    t = translations("ru")
    forms = {t.ngettext("%(num)d hash", "%(num)d hashes", n) % {"num": n} for n in (1, 3, 5)}
    assert len(forms) == 3


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "en"),
        ("ru", "ru"),
        ("en-GB,ru;q=0.9", "en"),
        ("de;q=1.0,ru;q=0.5", "ru"),
        ("ru;q=bad,en", "en"),
        ("x" * 10_000, "en"),
    ],
)
def test_the_browser_language(header, language):
    assert best_language(header) == language


def test_unknown_languages_fall_back_to_english():
    assert translations("de").gettext("Inbox") == "Inbox"


def test_event_ids_round_trip_and_refuse_what_is_not_ours():
    snapshot = ((("nato", 3), ("us", 12)), (1, 2, 3, 4, 5, 6, 7, 8), 2)
    assert decode(encode(snapshot)) == snapshot
    for bad in (None, "", "not base64!", encode(snapshot)[:-4], "e30=", "x" * 9000):
        assert decode(bad) is None


@pytest.mark.parametrize(
    "name",
    [
        "detente.console.i18n",
        "detente.console.compliance",
        "detente.console.web",
        "detente.console.forms",
        "detente.console.lineforms",
        "detente.node.logins",
        "detente.node.sessions",
        "detente.node.watchlog",
        "detente.node.inclusion",
    ],
)
def test_module_examples(name):
    assert doctest.testmod(importlib.import_module(name)).failed == 0


def test_catalogs_are_compiled_once():
    assert i18n.translations("ru") is i18n.translations("ru")
