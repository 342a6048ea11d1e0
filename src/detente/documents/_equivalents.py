"""The curated word choices a copy may vary: pairs that mean the same in formal English.

Each :class:`Equivalent` says that ``source`` may be written ``target``
without changing what a diplomatic text says; ``both_ways`` says the
reverse holds too. One-way pairs are those where the target also has
other uses ("to", "while", "before"), so only an occurrence of the source
is a variation site. The list was written for formal diplomatic English
and errs on the side of leaving words alone: near-synonyms ("troops" and
"soldiers", "begin" and "commence"), connectives with a shade of their own
("thus", "at the same time") and spellings that are also proper names
("Defense", "Center", "Labour") are left out.

Kinds: ``"word"`` (a choice of words or of a name's short form) and
``"spelling"`` (British and American spelling, hyphenation). Spellings are
oriented British or hyphenated first, so a spell-checker that normalises a
text moves every spelling site to the same side; the tracer then sets the
kind aside (see :mod:`detente.documents.trace`).

``follow`` is a look-ahead the text after the phrase must satisfy: an
ordinal is a sentence adverb only before a comma, "Mr." only before a
name, "the United States" has no short form in "the United States of
America". ``exact_case`` keeps a pair to the capitalised, sentence-initial
form ("First," but not "a third,").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["EQUIVALENTS", "Equivalent", "lookup", "phrase_pattern"]

Kind = Literal["word", "spelling"]


@dataclass(frozen=True)
class Equivalent:
    """``source`` may be written ``target`` (and back, if ``both_ways``)."""

    source: str
    target: str
    both_ways: bool
    kind: Kind
    follow: str = ""
    exact_case: bool = False


def _both(a: str, b: str, *, follow: str = "", exact_case: bool = False) -> Equivalent:
    return Equivalent(a, b, True, "word", follow, exact_case)


def _one(a: str, b: str) -> Equivalent:
    return Equivalent(a, b, False, "word")


def _spell(a: str, b: str) -> Equivalent:
    return Equivalent(a, b, True, "spelling")


_COMMA = r"(?=,)"
_NAME = r"(?= [A-Z])"

EQUIVALENTS: Final[tuple[Equivalent, ...]] = (
    # Words that differ only in register or variety.
    _both("towards", "toward"),
    _both("amongst", "among"),
    _both("amidst", "amid"),
    _both("afterwards", "afterward"),
    _both("furthermore", "moreover"),
    _both("nevertheless", "nonetheless"),
    _both("in spite of", "despite"),
    _both("per cent", "percent"),
    _both("In addition", "Additionally", follow=_COMMA, exact_case=True),
    _both("Firstly", "First", follow=_COMMA, exact_case=True),
    _both("Secondly", "Second", follow=_COMMA, exact_case=True),
    _both("Thirdly", "Third", follow=_COMMA, exact_case=True),
    # One way: the target has other uses.
    _one("in order to", "to"),
    _one("so as to", "to"),
    _one("in order that", "so that"),
    _one("whilst", "while"),
    _one("although", "though"),
    _one("prior to", "before"),
    _one("in the event that", "if"),
    _one("e.g.", "for example"),
    _one("i.e.", "that is"),
    _one("in respect to", "with respect to"),
    _one("in regard to", "with regard to"),
    _one("learnt", "learned"),
    # Names and their short forms: the same referent.
    Equivalent("the United States", "the US", True, "word", r"(?! of America)"),
    Equivalent("the United Kingdom", "the UK", True, "word", r"(?! of Great Britain)"),
    _both("the United Nations", "the UN"),
    _both("the European Union", "the EU"),
    _both("the Soviet Union", "the USSR"),
    _both("Mr.", "Mr", follow=_NAME, exact_case=True),
    _both("Mrs.", "Mrs", follow=_NAME, exact_case=True),
    _both("Ms.", "Ms", follow=_NAME, exact_case=True),
    _both("Dr.", "Dr", follow=_NAME, exact_case=True),
    # British (or hyphenated) first, American (or closed) second.
    _spell("organisation", "organization"),
    _spell("organisations", "organizations"),
    _spell("co-operation", "cooperation"),
    _spell("co-operate", "cooperate"),
    _spell("co-operative", "cooperative"),
    _spell("co-ordination", "coordination"),
    _spell("co-ordinate", "coordinate"),
    _spell("recognise", "recognize"),
    _spell("recognised", "recognized"),
    _spell("emphasise", "emphasize"),
    _spell("emphasised", "emphasized"),
    _spell("realise", "realize"),
    _spell("authorised", "authorized"),
    _spell("prioritise", "prioritize"),
    _spell("neighbouring", "neighboring"),
    _spell("neighbour", "neighbor"),
    _spell("neighbours", "neighbors"),
    _spell("favour", "favor"),
    _spell("behaviour", "behavior"),
    _spell("endeavour", "endeavor"),
    _spell("honour", "honor"),
    _spell("judgement", "judgment"),
    _spell("acknowledgement", "acknowledgment"),
    _spell("analyse", "analyze"),
    _spell("signalled", "signaled"),
    _spell("cancelled", "canceled"),
    _spell("fulfil", "fulfill"),
    _spell("fulfilment", "fulfillment"),
    _spell("re-establish", "reestablish"),
    _spell("re-established", "reestablished"),
    _spell("re-establishment", "reestablishment"),
    _spell("re-open", "reopen"),
    _spell("re-opened", "reopened"),
    _spell("re-affirm", "reaffirm"),
    _spell("re-affirmed", "reaffirmed"),
    _spell("non-proliferation", "nonproliferation"),
    _spell("counter-terrorism", "counterterrorism"),
    _spell("peace-keeping", "peacekeeping"),
    _spell("cease-fire", "ceasefire"),
    _spell("e-mail", "email"),
    _spell("vis-à-vis", "vis-a-vis"),
)


def _key(form: str, exact_case: bool) -> str:
    """How a matched phrase is looked up: whitespace collapsed, first letter folded."""
    form = " ".join(form.split())
    return form if exact_case else form[:1].lower() + form[1:]


def _rest_regex(rest: str) -> str:
    return r"\s+".join(re.escape(w) for w in rest.split(" "))


def _build() -> tuple[str, dict[str, tuple[Equivalent, int]]]:
    table: dict[str, tuple[Equivalent, int]] = {}
    forms: list[tuple[str, bool]] = []
    for entry in EQUIVALENTS:
        for side, form in enumerate((entry.source, entry.target)):
            key = _key(form, entry.exact_case)
            held = table.get(key)
            if held is None:
                table[key] = (entry, side)
                forms.append((form, entry.exact_case))
                continue
            # Only a one-way target ("to") may be shared, by one-way pairs.
            shared = side == 1 == held[1] and not entry.both_ways and not held[0].both_ways
            if not shared:
                raise RuntimeError(f"{form!r} is in two equivalences")
    # Grouped by first letter, so that the engine tries a handful of
    # branches at each word rather than every form.
    heads: dict[str, list[str]] = {}
    for form, exact in sorted(forms, key=lambda f: -len(f[0])):
        head = form[0]
        heads.setdefault(head if exact else head.lower(), []).append(form[1:])
        if not exact and head.upper() != head.lower():
            heads.setdefault(head.upper(), []).append(form[1:])
    body = "|".join(
        re.escape(h) + "(?:" + "|".join(_rest_regex(r) for r in rests) + ")"
        for h, rests in heads.items()
    )
    return rf"(?<![\w'’-])(?:{body})(?![\w'’-])", table


_PATTERN, _TABLE = _build()


def phrase_pattern() -> str:
    """A regex (no flags) matching every form of every equivalent, longest first."""
    return _PATTERN


def lookup(matched: str) -> tuple[Equivalent, int] | None:
    """The equivalent a matched phrase belongs to and its side (0 source, 1 target)."""
    return _TABLE.get(_key(matched, True)) or _TABLE.get(_key(matched, False))
