"""Tests of detente.documents.fingerprint: sites, keyed copies that keep the text's meaning."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from detente.documents import KINDS, canonical, embed, keyed_choices, sites
from detente.documents._equivalents import EQUIVALENTS, lookup
from detente.documents.fingerprint import MAX_TEXT, render, tokens
from detente.errors import EncodingError, InputError, TooLargeError

KEY = b"issuer document key, 32 bytes.."
DOC = "note-2026-017"
ARTICLE = Path(__file__).resolve().parents[3] / "shared/reference/2022-security-replies-article.txt"

# A communiqué written for these tests: every kind of site, several times.
NOTE = """\
The Parties reaffirm their commitment to the Treaty. The US and the Russian Federation will \
meet in Geneva on 14 March 2026, and again on April 2, to review its implementation.
In order to reduce the risk of incidents, the United States proposes an exchange of data on \
exercises involving 9,000 troops or more, whilst the other Party proposes a lower threshold.
The Parties note the "substantial progress" of the working group's experts in 2024-2025. \
Furthermore, they welcome the organisation of three visits, e.g. to sites in Europe, Asia, \
and the Arctic.
Mr. Petrov said that the delegations had moved towards agreement - though not on every point. \
The Parties recognise that transparency builds confidence amongst all States concerned.
"We will not hesitate," the Minister said, "to reopen the talks in order to reach a deal." \
First, the experts will meet. Second, the ministers will decide.
In the event that a Party withdraws, the other Parties shall consult prior to any response. \
The United Nations will be informed of every notification; the European Union of none.
"""


def _article() -> str:
    if not ARTICLE.exists():
        pytest.skip(f"reference article not found at {ARTICLE}")
    return ARTICLE.read_text(encoding="utf-8")


def _wrapped() -> str:
    paragraphs = NOTE.strip().split("\n")
    return "\n\n".join(textwrap.fill(p, width=64) for p in paragraphs) + "\n"


# --------------------------------------------------------------------------- sites


def test_sites_are_deterministic_and_ordered() -> None:
    first = sites(NOTE)
    assert first == sites(NOTE)
    assert [s.index for s in first] == list(range(len(first)))
    assert [s.start for s in first] == sorted(s.start for s in first)
    assert {s.kind for s in first} <= set(KINDS)


def test_sites_cover_every_kind_on_a_wrapped_text() -> None:
    kinds = {s.kind for s in sites(_wrapped())}
    assert kinds == set(KINDS)


def test_original_choices_render_the_text_itself() -> None:
    for text in (NOTE, _wrapped()):
        found = sites(text)
        assert render(text, found, tuple(s.original for s in found)) == text
        for site in found:
            for part in site.parts:
                assert text[part.start : part.end] == part.alternatives[site.original]


def test_parts_never_overlap() -> None:
    spans = sorted((p.start, p.end) for s in sites(_wrapped()) for p in s.parts)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Mr. Petrov met Ms Ivanova. They spoke.", "sentence-space"),
        ("Talks on January 26, 2026 and 3 May ended.", "date"),
        ("Russia, NATO, and the US met.", "serial-comma"),
        ("Ranges 2010-2021 and 5 - 7 apply.", "dash"),
    ],
)
def test_each_detector_finds_its_kind(text: str, kind: str) -> None:
    assert kind in {s.kind for s in sites(text)}


def test_sites_leave_alone_what_would_change_meaning() -> None:
    def phrases(text: str) -> list[str]:
        return [text[s.start : s.end] for s in sites(text) if s.kind in ("word", "spelling")]

    assert phrases("He read the United States of America Act.") == []
    assert phrases('She said "the US is ready" in Geneva.') == []
    assert phrases("One third, at most, was read. Third, we met.") == ["Third"]
    assert phrases("The Parties agree to meet. It will take a while.") == []
    assert phrases("In order to meet, they travel. So as to meet, they travel.") == [
        "In order to",
        "So as to",
    ]
    spaces = [
        s
        for s in sites("Mr. Petrov met Dr. Ivanova. U.S. forces left.")
        if s.kind == "sentence-space"
    ]
    assert len(spaces) == 1


def test_no_line_breaks_move_in_a_text_of_one_line_paragraphs() -> None:
    assert all(s.kind != "line-break" for s in sites(NOTE))
    copy = embed(NOTE, key=KEY, document_id=DOC, recipient="de")
    assert copy.count("\n") == NOTE.count("\n")


def test_fast_tokens_match_the_single_regex() -> None:
    from detente.documents.fingerprint import _TOKEN_RE

    for text in (NOTE, _wrapped(), embed(NOTE, key=KEY, document_id=DOC, recipient="de")):
        slow = [
            (m.start(), m.end(), m.group().lower())
            for m in _TOKEN_RE.finditer(text)
            if m.lastgroup == "word"
        ]
        assert tokens(text) == slow


# --------------------------------------------------------------------------- copies


def test_embed_is_deterministic_and_keyed_per_recipient() -> None:
    one = embed(NOTE, key=KEY, document_id=DOC, recipient="de")
    assert one == embed(NOTE, key=KEY, document_id=DOC, recipient="de")
    copies = {
        r: embed(NOTE, key=KEY, document_id=DOC, recipient=r) for r in ("de", "fr", "it", "pl")
    }
    assert len(set(copies.values())) == 4
    assert all(c != NOTE for c in copies.values())


def test_choices_are_the_keyed_bits() -> None:
    found = sites(NOTE)
    choices = keyed_choices(key=KEY, document_id=DOC, recipient="fr", count=len(found))
    assert render(NOTE, found, choices) == embed(NOTE, key=KEY, document_id=DOC, recipient="fr")


def test_other_keys_and_documents_give_unrelated_choices() -> None:
    n = 4096
    base = keyed_choices(key=KEY, document_id=DOC, recipient="de", count=n)
    for other in (
        keyed_choices(
            key=b"another key of 32 bytes........", document_id=DOC, recipient="de", count=n
        ),
        keyed_choices(key=KEY, document_id="note-2026-018", recipient="de", count=n),
        keyed_choices(key=KEY, document_id=DOC, recipient="fr", count=n),
    ):
        same = sum(a == b for a, b in zip(base, other, strict=True))
        assert abs(same - n / 2) < 4 * (n / 4) ** 0.5  # four standard deviations
    assert 0.45 < sum(base) / n < 0.55


@pytest.mark.parametrize("recipient", ["de", "fr", "it", "pl", "ua", "nato.hq", "us-embassy"])
def test_copies_keep_the_meaning(recipient: str) -> None:
    texts = [NOTE, _wrapped()]
    if ARTICLE.exists():
        texts.append(_article())
    for text in texts:
        copy = embed(text, key=KEY, document_id=DOC, recipient=recipient)
        assert canonical(copy) == canonical(text)
        assert [w for _, _, w in tokens(copy)] == [w for _, _, w in tokens(text)]


def test_canonical_undoes_each_kind_of_variation() -> None:
    plain = canonical('The US met the EU on January 26. Russia, NATO, and Iran spoke - "twice".')
    varied = canonical(
        "The United States met the European Union on 26 January.  "
        "Russia,\u00a0NATO and Iran spoke – “twice”."
    )
    assert plain == varied


def test_wrapped_copies_keep_their_paragraphs_and_line_counts() -> None:
    text = _wrapped()
    width = max(len(line) for line in text.split("\n"))
    moved = [s for s in sites(text) if s.kind == "line-break"]
    assert len(moved) >= 5
    for recipient in ("de", "fr", "it"):
        copy = embed(text, key=KEY, document_id=DOC, recipient=recipient)
        assert [p.count("\n") for p in copy.split("\n\n")] == [
            p.count("\n") for p in text.split("\n\n")
        ]
        # Moving a word down never overfills the line below; only a longer
        # word choice ("the United States" for "the US") may.
        plain = render(
            text,
            moved,
            keyed_choices(key=KEY, document_id=DOC, recipient=recipient, count=len(sites(text))),
        )
        assert max(len(line) for line in plain.split("\n")) <= width


# --------------------------------------------------------------------------- the curated list


def test_the_curated_list() -> None:
    assert len(EQUIVALENTS) >= 60
    for entry in EQUIVALENTS:
        assert entry.source != entry.target
        assert lookup(entry.source) == (entry, 0)
        found = lookup(entry.target)
        assert found is not None and found[1] == 1
        assert not re.search(r"\s{2}", entry.source + entry.target)


# --------------------------------------------------------------------------- bad input


def test_bad_inputs_are_refused_clearly() -> None:
    with pytest.raises(InputError, match="empty"):
        embed("  \n", key=KEY, document_id=DOC, recipient="de")
    with pytest.raises(InputError, match="no variation sites"):
        embed("Hello", key=KEY, document_id=DOC, recipient="de")
    for bad in ("", "DE", "de embassy", "1de", "x" * 65, "dé"):
        with pytest.raises(InputError, match="recipient id"):
            embed(NOTE, key=KEY, document_id=DOC, recipient=bad)
    with pytest.raises(InputError, match="document id"):
        embed(NOTE, key=KEY, document_id="", recipient="de")
    with pytest.raises(InputError, match="at least 16 bytes"):
        embed(NOTE, key=b"short", document_id=DOC, recipient="de")
    with pytest.raises(EncodingError, match="must be str"):
        embed(NOTE.encode(), key=KEY, document_id=DOC, recipient="de")  # type: ignore[arg-type]
    with pytest.raises(TooLargeError):
        sites("a " * (MAX_TEXT // 2 + 1))
