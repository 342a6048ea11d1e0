"""The console's languages: gettext catalogs, read from their ``.po`` sources.

The catalogs live in ``console/locale/<lang>/LC_MESSAGES/console.po``. They
are compiled in memory when the console starts (Babel reads the ``.po``
and writes the ``.mo`` bytes that :mod:`gettext` loads), so the package
ships only text that a reviewer can read and no build step can forget.
English is the source language: its catalog is empty and every message
is its own translation.

To add a string: write ``{{ _("...") }}`` in a template or ``_("...")`` in
code, run ``make catalogs`` (Babel's extract and update), translate the
new entries in each ``.po``.

Example:
    >>> t = translations("ru")
    >>> t.gettext("Inbox")
    'Входящие'
    >>> translations("en").gettext("Inbox")
    'Inbox'
"""

from __future__ import annotations

import functools
import gettext
import io
from importlib import resources

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from detente.node.operators import LANGUAGES

__all__ = ["DOMAIN", "LANGUAGES", "best_language", "translations"]

DOMAIN = "console"


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The catalog of ``language``; English (no translation) for any other."""
    if language not in LANGUAGES or language == "en":
        return gettext.NullTranslations()
    source = resources.files("detente.console").joinpath(
        "locale", language, "LC_MESSAGES", f"{DOMAIN}.po"
    )
    with source.open("rb") as f:
        catalog = read_po(f, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def best_language(accept_language: str | None) -> str:
    """The console language a browser prefers, from its ``Accept-Language`` header.

    >>> best_language("ru-RU,ru;q=0.9,en;q=0.8")
    'ru'
    >>> best_language("de-DE")
    'en'
    """
    if not accept_language:
        return "en"
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language[:512].split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        ranked.append((-quality, index, tag.strip().lower().split("-")[0]))
    for _, _, primary in sorted(ranked):
        if primary in LANGUAGES:
            return primary
    return "en"
