"""Traceable copies: each recipient's copy of a text differs in ways that keep its meaning.

A *site* is a place where a text may be written two ways that read the
same (:func:`sites`); each recipient's copy takes, at every site, the
alternative a keyed function picks for that recipient (:func:`embed`).
Sites are, in order of priority where two would overlap:

* ``line-break``: in a text wrapped with blank lines between paragraphs,
  the last word of a line may move to the next line, where it fits;
* ``word`` and ``spelling``: the curated pairs of
  :mod:`detente.documents._equivalents` ("towards"/"toward", "the US"/"the
  United States", "organisation"/"organization", ...); words inside
  quotation marks are left alone;
* ``date``: "January 26" / "26 January", "February 5, 2026" / "5 February 2026";
* ``serial-comma``: the comma before "and"/"or" closing a list "A, B, and C";
* ``quote`` and ``apostrophe``: straight or typographic;
* ``dash``: hyphen or en dash, spaced between words or in a numeric range;
* ``sentence-space``: one or two spaces after a sentence;
* ``nbsp``: a normal or a no-break space after a word of one or two
  letters, after a number before a word, after a title before a name --
  places where a no-break space is conventional and, in the text, invisible.

Alternative 0 of a site is the plain style (straight quote, hyphen, one
space, no comma, British spelling) and alternative 1 the other, so that a
tool normalising a copy moves every site of a kind to the same side.

The choice at site ``i`` for a recipient is bit ``i`` of the stream
``HMAC-SHA256(K_r, counter)``, counter = 0, 1, ..., where
``K_r = HMAC-SHA256(key, "detente/documents/fingerprint/v1" || document_id
|| recipient)`` (each field length-prefixed). Without ``key`` the bits of
any recipient are indistinguishable from coin flips, also to a recipient
holding other copies; that is what :mod:`detente.documents.trace` rests on.
Give each issued document its own ``document_id`` (it acts as the nonce).

For a PDF: call :func:`embed` on the text that will be laid out (paragraphs
as lines, or wrapped with blank lines between paragraphs) and typeset the
returned string character for character -- keep U+00A0 as a no-break
space, two spaces as a wider gap, the quotes and dashes as given; to trace
a PDF, extract its text and call :func:`detente.documents.trace` (spacing
lost in extraction is recognised and set aside).

Example:
    >>> text = "The US and Russia, NATO, and the EU met. They agreed to talk."
    >>> copy = embed(text, key=b"k" * 32, document_id="doc-1", recipient="de")
    >>> canonical(copy) == canonical(text)
    True
    >>> [s.kind for s in sites(text)][:3]
    ['word', 'nbsp', 'serial-comma']
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from detente.documents._equivalents import lookup, phrase_pattern
from detente.errors import EncodingError, InputError, TooLargeError

__all__ = [
    "KINDS",
    "MAX_TEXT",
    "Part",
    "Site",
    "canonical",
    "embed",
    "keyed_choices",
    "sites",
]

KINDS: Final = (
    "line-break",
    "word",
    "spelling",
    "date",
    "serial-comma",
    "quote",
    "apostrophe",
    "dash",
    "sentence-space",
    "nbsp",
)
MAX_TEXT: Final = 2_000_000
"""The longest text, in characters, that is embedded or traced."""

_CONTEXT: Final = b"detente/documents/fingerprint/v1"
_RECIPIENT: Final = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
_DOCUMENT: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}")
_MIN_KEY: Final = 16

_MONTHS: Final = (
    "January|February|March|April|May|June|July|August|September|October|November|December"
)
_YEAR: Final = r"(?:19|20|21)\d\d(?!\d)"
_US_DATE: Final = rf"(?:{_MONTHS})\s+[0-3]?\d(?!\d)(?:,\s+{_YEAR})?(?![\w'’-])"
_UK_DATE: Final = rf"[0-3]?\d\s+(?:{_MONTHS})(?:\s+{_YEAR})?(?![\w'’-])"
_DATE_RE: Final = re.compile(rf"(?<![\w'’-])(?:(?P<us>{_US_DATE})|(?P<uk>{_UK_DATE}))")
_PHRASE_RE: Final = re.compile(phrase_pattern())
# Words that vary (phrases, dates) are not tokens: a text is tokenised the
# same way whichever alternatives it carries.
_TOKEN_RE: Final = re.compile(
    rf"(?P<skip>{phrase_pattern()}|(?<![\w'’-])(?:{_US_DATE}|{_UK_DATE}))|(?P<word>[^\W_]+)"
)
_WORD_RE: Final = re.compile(r"[^\W_]+")
_SERIAL_RE: Final = re.compile(
    r"(?<![\w'’-])[\w'’-]+,\s(?:[\w'’-]+\s){0,2}[\w'’-]+(,)\s(?:and|or)\s"
)
_SENTENCE_RE: Final = re.compile(r"[.!?][\"”’')\]]*( {1,2})(?! )(?=[\"“‘(\[]?[A-Z])")
_DASH_RE: Final = re.compile(r"(?<=\s)[-–](?=\s)|(?<![\d.,/-])(?<=\d)[-–](?=\d{1,4}(?![\d.,/-]))")
_SPACE_RE: Final = re.compile(r"(?<=\S)[ \u00a0](?=\S)")
_ABBREVIATIONS: Final = frozenset(
    "mr mrs ms dr st no nos art arts para paras vol p pp fig gen col lt sgt capt cmdr adm gov "
    "sen rep amb hon rev prof jr sr inc ltd co corp etc vs cf al approx dept est jan feb mar "
    "apr jun jul aug sep sept oct nov dec".split()
)
_TITLES: Final = frozenset(
    "President Minister Secretary Ambassador General Admiral Chancellor King Queen Prince "
    "Princess Pope Senator Governor Mr Mr. Mrs Mrs. Ms Ms. Dr Dr. Prof. Professor".split()
)
_OPENERS: Final = frozenset(" \t\n\u00a0([{—–-/")


@dataclass(frozen=True)
class Part:
    """Characters ``start:end`` of the original, which read ``alternatives[choice]`` in a copy."""

    start: int
    end: int
    alternatives: tuple[str, str]


@dataclass(frozen=True)
class Site:
    """One place a copy may vary; ``original`` is the alternative the text itself has.

    Most sites have one part; a ``line-break`` site has two (the space
    before the moved word becomes the line break, and the break after it a
    space), chosen together.
    """

    index: int
    kind: str
    parts: tuple[Part, ...]
    original: int

    @property
    def start(self) -> int:
        """Where the site begins in the original."""
        return self.parts[0].start

    @property
    def end(self) -> int:
        """Where the site ends in the original."""
        return self.parts[-1].end


def check_text(text: object, what: str) -> str:
    """``text`` as a non-empty ``str`` within :data:`MAX_TEXT`.

    Raises:
        EncodingError: ``text`` is not a ``str`` (bytes must be decoded first).
        TooLargeError: longer than :data:`MAX_TEXT` characters.
        InputError: empty or only whitespace.
    """
    if not isinstance(text, str):
        raise EncodingError(f"the {what} must be str (decode bytes first), not {type(text)}")
    if len(text) > MAX_TEXT:
        raise TooLargeError(f"the {what} has {len(text):,} characters, over {MAX_TEXT:,}")
    if not text.strip():
        raise InputError(f"the {what} is empty")
    return text


def check_identity(*, key: object, document_id: object, recipient: object | None) -> None:
    """Refuse a key, document id or recipient id that cannot be used.

    Raises:
        InputError: ``key`` is not bytes of at least 16; ``document_id`` or
            ``recipient`` is not of the required format.
    """
    if not isinstance(key, bytes) or len(key) < _MIN_KEY:
        raise InputError(f"the document key must be at least {_MIN_KEY} bytes")
    if not isinstance(document_id, str) or not _DOCUMENT.fullmatch(document_id):
        raise InputError(
            f"document id {document_id!r} is not 1-128 of A-Z a-z 0-9 _ . : / - "
            "starting with a letter or digit"
        )
    if recipient is not None and (
        not isinstance(recipient, str) or not _RECIPIENT.fullmatch(recipient)
    ):
        raise InputError(
            f"recipient id {recipient!r} is not 1-64 of a-z 0-9 _ . - starting with a letter"
        )


def _field(value: str) -> bytes:
    data = value.encode()
    return len(data).to_bytes(4, "big") + data


def keyed_stream(*, key: bytes, document_id: str, recipient: str, count: int) -> bytes:
    """At least ``count`` keyed bits (as bytes, most significant bit first) for a recipient."""
    k_r = hmac.digest(key, _CONTEXT + _field(document_id) + _field(recipient), hashlib.sha256)
    blocks = (count + 255) // 256
    return b"".join(hmac.digest(k_r, i.to_bytes(8, "big"), hashlib.sha256) for i in range(blocks))


def keyed_choices(*, key: bytes, document_id: str, recipient: str, count: int) -> tuple[int, ...]:
    """The alternative (0 or 1) a recipient's copy takes at each of ``count`` sites.

    Raises:
        InputError: a bad key, document id or recipient id.
    """
    check_identity(key=key, document_id=document_id, recipient=recipient)
    stream = keyed_stream(key=key, document_id=document_id, recipient=recipient, count=count)
    return tuple((stream[i >> 3] >> (7 - (i & 7))) & 1 for i in range(count))


def _case_like(model: str, text: str) -> str:
    if model[:1].isupper() and not text[:1].isupper():
        return text[:1].upper() + text[1:]
    return text


def _quoted_spans(text: str) -> list[tuple[int, int]]:
    """Spans between an opening and the next closing double quote, per paragraph."""
    spans: list[tuple[int, int]] = []
    opened = -1
    for i, ch in enumerate(text):
        if ch == "\n":
            opened = -1
        elif ch in '"“”':
            opening = ch == "“" or (ch == '"' and (i == 0 or text[i - 1] in _OPENERS))
            if opening:
                opened = i
            elif opened >= 0:
                spans.append((opened, i))
                opened = -1
    return spans


def _word_sites(text: str) -> list[tuple[str, tuple[Part, ...], int]]:
    quoted = _quoted_spans(text)
    out: list[tuple[str, tuple[Part, ...], int]] = []
    for m in _PHRASE_RE.finditer(text):
        phrase = m.group()
        found = lookup(phrase)
        if found is None or " ".join(phrase.split()) != phrase:
            continue
        entry, side = found
        if side == 1 and not entry.both_ways:
            continue
        if entry.follow and not re.compile(entry.follow).match(text, m.end()):
            continue
        at = bisect.bisect_left(quoted, (m.start(), m.start()))
        if at and quoted[at - 1][1] > m.start():
            continue
        forms = (entry.source, entry.target)
        alternatives = (_case_like(phrase, forms[0]), _case_like(phrase, forms[1]))
        if alternatives[side] != phrase:
            continue
        out.append((entry.kind, (Part(m.start(), m.end(), alternatives),), side))
    return out


def _date_alternatives(phrase: str, us: bool) -> tuple[str, str]:
    words = phrase.replace(",", "").split()
    if us:
        month, day, year = words[0], words[1], words[2:]
    else:
        day, month, year = words[0], words[1], words[2:]
    us_form = f"{month} {day}" + (f", {year[0]}" if year else "")
    uk_form = f"{day} {month}" + (f" {year[0]}" if year else "")
    return us_form, uk_form


def _date_sites(text: str) -> list[tuple[str, tuple[Part, ...], int]]:
    out: list[tuple[str, tuple[Part, ...], int]] = []
    for m in _DATE_RE.finditer(text):
        us = m.group("us") is not None
        alternatives = _date_alternatives(m.group(), us)
        side = 0 if us else 1
        if alternatives[side] == m.group() and 1 <= int(re.findall(r"\d+", m.group())[0]) <= 31:
            out.append(("date", (Part(m.start(), m.end(), alternatives),), side))
    return out


def _serial_sites(text: str) -> list[tuple[str, tuple[Part, ...], int]]:
    return [
        ("serial-comma", (Part(m.start(1), m.end(1), ("", ",")),), 1)
        for m in _SERIAL_RE.finditer(text)
    ]


def _mark_sites(text: str) -> list[tuple[str, tuple[Part, ...], int]]:
    out: list[tuple[str, tuple[Part, ...], int]] = []
    for i, ch in enumerate(text):
        if ch in '"“”':
            opening = ch == "“" or (ch == '"' and (i == 0 or text[i - 1] in _OPENERS))
            curly = "“" if opening else "”"
            out.append(("quote", (Part(i, i + 1, ('"', curly)),), 0 if ch == '"' else 1))
        elif ch in "'‘’":
            before = text[i - 1] if i else " "
            after = text[i + 1] if i + 1 < len(text) else " "
            if before.isalnum() and after.isalpha():
                kind, curly = "apostrophe", "’"
            elif ch == "‘" or (ch == "'" and before in _OPENERS):
                kind, curly = "quote", "‘"
            else:
                kind, curly = "quote", "’"
            out.append((kind, (Part(i, i + 1, ("'", curly)),), 0 if ch == "'" else 1))
    for m in _DASH_RE.finditer(text):
        out.append(("dash", (Part(m.start(), m.end(), ("-", "–")),), 0 if m.group() == "-" else 1))
    return out


def _word_before(text: str, end: int) -> str:
    start = end
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    return text[start:end]


def _space_sites(text: str) -> list[tuple[str, tuple[Part, ...], int]]:
    out: list[tuple[str, tuple[Part, ...], int]] = []
    for m in _SENTENCE_RE.finditer(text):
        word = _word_before(text, m.start()).lstrip('"“‘([')
        if m.group()[0] == "." and (
            word.lower().rstrip(".") in _ABBREVIATIONS
            or re.fullmatch(r"[A-Za-z]|(?:[A-Za-z]\.)+[A-Za-z]?", word)
        ):
            continue
        side = len(m.group(1)) - 1
        out.append(("sentence-space", (Part(m.start(1), m.end(1), (" ", "  ")),), side))
    for m in _SPACE_RE.finditer(text):
        i = m.start()
        word = _word_before(text, i).lstrip('"“‘([')
        after = text[i + 1]
        if m.group() == "\u00a0" or (
            (word.isalpha() and len(word) <= 2)
            or (word[-1:].isdigit() and after.isalpha())
            or (word in _TITLES and after.isupper())
        ):
            out.append(("nbsp", (Part(i, i + 1, (" ", "\u00a0")),), int(m.group() == "\u00a0")))
    return out


def _line_sites(text: str) -> list[tuple[str, tuple[Part, ...], int]]:
    """Wrap points where the last word of a line fits at the start of the next."""
    if "\r" in text or "\n" not in text.strip():
        return []
    lines = text.split("\n")
    width = max(len(line) for line in lines)
    if width > 100:
        return []
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    forced = total = 0
    out: list[tuple[str, tuple[Part, ...], int]] = []
    for n in range(len(lines) - 1):
        line, below = lines[n], lines[n + 1]
        if not line.strip() or not below.strip():
            continue
        total += 1
        first_below = below.split(" ", 1)[0]
        if len(line) + 1 + len(first_below) <= width:
            continue
        forced += 1
        if re.search(r"[.!?:;][\"”’')\]]*$", line):
            continue  # it may end a paragraph
        cut = line.rfind(" ")
        chunk = line[cut + 1 :]
        if cut <= 0 or line[cut - 1] == " " or len(below) + 1 + len(chunk) > width:
            continue
        space, newline = offsets[n] + cut, offsets[n] + len(line)
        parts = (Part(space, space + 1, (" ", "\n")), Part(newline, newline + 1, ("\n", " ")))
        out.append(("line-break", parts, 0))
    return out if total and forced * 10 >= total * 6 else []


@lru_cache(maxsize=32)
def _sites(text: str) -> tuple[Site, ...]:
    found = [
        *_line_sites(text),
        *_word_sites(text),
        *_date_sites(text),
        *_serial_sites(text),
        *_mark_sites(text),
        *_space_sites(text),
    ]
    used = bytearray(len(text))
    kept: list[tuple[str, tuple[Part, ...], int]] = []
    for kind, parts, side in found:
        if any(any(used[p.start : p.end]) for p in parts):
            continue
        for p in parts:
            used[p.start : p.end] = b"\x01" * (p.end - p.start)
        kept.append((kind, parts, side))
    kept.sort(key=lambda k: k[1][0].start)
    return tuple(Site(i, kind, parts, side) for i, (kind, parts, side) in enumerate(kept))


def sites(text: str) -> tuple[Site, ...]:
    """Every variation site of ``text``, in text order; the same text gives the same sites.

    Raises:
        EncodingError: ``text`` is not a ``str``.
        TooLargeError: ``text`` is too long.
        InputError: ``text`` is empty.
    """
    return _sites(check_text(text, "text"))


def render(text: str, chosen: tuple[Site, ...], choices: bytes | tuple[int, ...]) -> str:
    """``text`` with alternative ``choices[i]`` at site ``i`` (choices may be packed bits)."""
    pieces: list[str] = []
    at = 0
    parts: list[tuple[Part, int]] = []
    for site in chosen:
        if isinstance(choices, bytes):
            bit = (choices[site.index >> 3] >> (7 - (site.index & 7))) & 1
        else:
            bit = choices[site.index]
        parts.extend((p, bit) for p in site.parts)
    parts.sort(key=lambda pb: pb[0].start)
    for part, bit in parts:
        pieces.append(text[at : part.start])
        pieces.append(part.alternatives[bit])
        at = part.end
    pieces.append(text[at:])
    return "".join(pieces)


def embed(text: str, *, key: bytes, document_id: str, recipient: str) -> str:
    """The copy of ``text`` for ``recipient``: the keyed alternative at every site.

    Raises:
        EncodingError: ``text`` is not a ``str``.
        TooLargeError: ``text`` is too long.
        InputError: ``text`` is empty or has no sites; a bad key, document
            id or recipient id.
    """
    check_identity(key=key, document_id=document_id, recipient=recipient)
    found = sites(text)
    if not found:
        raise InputError("the text has no variation sites: a copy could not be told apart")
    stream = keyed_stream(key=key, document_id=document_id, recipient=recipient, count=len(found))
    return render(text, found, stream)


def tokens(text: str) -> list[tuple[int, int, str]]:
    """The words of ``text`` that no site varies, lower-cased, with their spans.

    The same as the ``word`` matches of ``_TOKEN_RE``, found faster.
    """
    skipped = sorted(
        [m.span() for m in _PHRASE_RE.finditer(text)] + [m.span() for m in _DATE_RE.finditer(text)]
    )
    out: list[tuple[int, int, str]] = []
    at, ends = 0, len(skipped)
    for m in _WORD_RE.finditer(text):
        start = m.start()
        while at < ends and skipped[at][1] <= start:
            at += 1
        if at < ends and skipped[at][0] <= start:
            continue
        out.append((start, m.end(), m.group().lower()))
    return out


def _canonical_phrase(m: re.Match[str]) -> str:
    phrase = m.group()
    if m.lastgroup == "skip":
        dated = _DATE_RE.fullmatch(" ".join(phrase.split()))
        if dated is not None:
            return _date_alternatives(dated.group(), dated.group("us") is not None)[0]
        found = lookup(phrase)
        if found is not None:
            return _case_like(phrase, found[0].target)
    return phrase


def canonical(text: str) -> str:
    """``text`` with every variation undone: what all copies of one text have in common.

    Whitespace collapses to single spaces, quotes become straight, en
    dashes hyphens, every curated phrase its target form, dates "Month D,
    YYYY", and a comma before "and"/"or" goes.

    Raises:
        EncodingError: ``text`` is not a ``str``.
        TooLargeError: ``text`` is too long.
        InputError: ``text`` is empty.
    """
    text = check_text(text, "text")
    text = text.translate({0xA0: " ", 0x201C: '"', 0x201D: '"', 0x2018: "'", 0x2019: "'"})
    text = text.replace("–", "-")
    text = _TOKEN_RE.sub(_canonical_phrase, text)
    text = re.sub(r",(\s+(?:and|or)\s)", r"\1", text)
    return " ".join(text.split())
