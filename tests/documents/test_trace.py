"""Tests of detente.documents.trace: the right name, several when mixed, else undecided."""

from __future__ import annotations

import math
import random
import sys
from functools import cache
from pathlib import Path

import pytest

from detente.documents import Site, embed, keyed_choices, sites, trace
from detente.documents.fingerprint import render
from detente.errors import EncodingError, InputError

KEY = b"issuer document key, 32 bytes.."
DOC = "replies-2026-004"
ARTICLE = Path(__file__).resolve().parents[3] / "shared/reference/2022-security-replies-article.txt"

# Written for these tests; used where the reference article is not found.
REPLY = """\
The United States and its Allies have received the proposals of January 17 and studied them \
with care. We set out below where we see room for agreement, where we do not, and why.
First, we are prepared to discuss reciprocal limits on the size and location of exercises \
near the borders of the Parties, with notification of any exercise involving 9,000 troops or \
more at least 42 days in advance.
The US is ready to re-establish the military-to-military channels that were suspended in \
2014-2015, in order to reduce the risk of miscalculation in the air and at sea.
We cannot accept that any State should have a veto over the choices of another. The door to \
membership remains open; that principle is not "negotiable" and will not become so.
Furthermore, we propose a transparency mechanism to confirm the absence of ground-launched \
cruise missiles at the sites named in the annex, on a reciprocal basis, whilst talks continue.
The delegations will meet in Geneva on 10 February 2026 and, if progress allows, again in \
Vienna. The Secretary's envoy will lead; the Organization's observers will be invited.
We note Russia's concerns about the deployment of forces in Eastern Europe. The Allies' \
posture is defensive - and proportionate to the threat that they perceive.
Prior to any agreement, both sides should refrain from steps that would prejudice its outcome, \
e.g. new deployments, large snap exercises, or the closure of diplomatic missions.
President Ivanov's statement of last week, that "no one wants war," is one we share. Its \
sincerity will be judged by the withdrawal of forces, not by words alone.
In the event that these proposals are accepted as a basis for talks, the United States will \
table draft texts within 30 days. We remain committed to dialogue amongst all the Parties.
Mr. Holm, the rapporteur, will circulate the minutes; comments are due by March 3, 2026.
The Parties recognise that arms control has served their security for fifty years, and that \
its erosion serves no one. We are ready to work towards its renewal.
On strategic stability, the US proposes talks on all nuclear weapons, including those not \
covered by the New START Treaty, and on the systems that deliver them.
We would welcome an exchange of views on doctrines. Misunderstanding a doctrine is as \
dangerous as misjudging a capability; both can be reduced by talking.
The Allies are prepared to resume the work of the NATO-Russia Council, suspended since 2014, \
and to reopen the liaison offices in Brussels and Moscow, on a reciprocal basis.
Concerning the Vienna Document, we propose to lower the thresholds for observation, to \
increase the quota of inspections, and to shorten the notice required for them.
An incident at sea between Russian and Allied vessels should be handled under the agreement \
of 1972, which has served both sides well; we propose to extend it to the air.
Our governments' experts can meet at short notice. The first meeting could take place before \
the end of the month, in a format that the co-chairs will agree between them.
Although we differ on much, we share an interest in avoiding war by accident. The hotlines \
between capitals must be tested regularly and staffed at all hours.
None of these offers is conditional on the others; each stands on its merits. Taken \
together, they amount to a serious agenda, which we hope Moscow will take up.
We will keep the Ukrainian government informed of every step, and nothing about Ukraine will \
be decided without Ukraine. That is a commitment, not a negotiating position.
The Organisation for Security and Co-operation in Europe remains the forum where all 57 \
participating States can raise their concerns; its Chairman's proposals deserve support.
We look forward to Russia's reply, and to the talks that, we hope, will follow it.
"""

_trace_module = sys.modules["detente.documents.trace"]
log10_tail = _trace_module.log10_tail
_needed = _trace_module._needed

ROSTER = [f"ally-{i:02d}" for i in range(1, 31)]


@cache
def _text() -> str:
    """The reference article where it is found, else the test reply."""
    if ARTICLE.exists():
        return ARTICLE.read_text(encoding="utf-8")
    return REPLY


@cache
def _copy(recipient: str) -> str:
    return embed(_text(), key=KEY, document_id=DOC, recipient=recipient)


def _trace(leak: str, **kw: object) -> object:
    return trace(leak, key=KEY, document_id=DOC, original_text=_text(), recipients=ROSTER, **kw)  # type: ignore[arg-type]


def _named(leak: str) -> set[str]:
    return {c.recipient for c in _trace(leak).candidates}  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- right names


def test_a_full_copy_names_its_recipient() -> None:
    result = _trace(_copy("ally-07"))
    assert result.verdict == "attributed"
    assert result.recipient == "ally-07"
    best = result.candidates[0]
    assert best.agree == best.observed == result.observed
    kept = [s for s in sites(_text()) if s.kind not in result.erased]
    assert result.observed == len(kept)  # every site is read but those of a uniform kind
    assert best.log10_p == pytest.approx(result.observed * math.log10(0.5))
    assert result.runner_up is not None and result.runner_up.recipient != "ally-07"
    assert result.llr is not None and result.llr > 50
    assert [e.recipient for e in result.ranking][0] == "ally-07"


@pytest.mark.parametrize("seed", range(12))
def test_a_third_names_its_recipient(seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 - reproducible leaks, not secrets
    recipient = rng.choice(ROSTER)
    copy = _copy(recipient)
    n = len(copy) // 3
    start = rng.randrange(len(copy) - n)
    result = _trace(copy[start : start + n])
    assert (result.verdict, result.recipient) == ("attributed", recipient)


@pytest.mark.parametrize("recipient", ["ally-01", "ally-16", "ally-30"])
def test_retyped_text_names_its_recipient(recipient: str) -> None:
    result = _trace(" ".join(_copy(recipient).split()))
    assert (result.verdict, result.recipient) == ("attributed", recipient)
    assert {"nbsp", "sentence-space"} <= set(result.erased)


def test_noise_costs_evidence_not_the_name() -> None:
    found = sites(_text())
    choices = list(keyed_choices(key=KEY, document_id=DOC, recipient="ally-03", count=len(found)))
    rng = random.Random(5)  # noqa: S311
    for i in rng.sample(range(len(found)), len(found) // 20):
        choices[i] ^= 1
    result = _trace(render(_text(), found, tuple(choices)))
    assert result.recipient == "ally-03"
    assert result.candidates[0].agree < result.observed


@pytest.mark.parametrize("how", ["alternate", "halves"])
def test_mixed_copies_name_both(how: str) -> None:
    a, b = _copy("ally-04").split("\n"), _copy("ally-22").split("\n")
    if how == "alternate":
        mixed = [x if i % 2 == 0 else y for i, (x, y) in enumerate(zip(a, b, strict=True))]
    else:
        mixed = a[: len(a) // 2] + b[len(b) // 2 :]
    result = _trace("\n".join(mixed))
    assert result.verdict == "combined"
    assert {c.recipient for c in result.candidates} == {"ally-04", "ally-22"}


def test_max_candidates_caps_the_names() -> None:
    a, b = _copy("ally-04").split("\n"), _copy("ally-22").split("\n")
    result = _trace("\n".join(a[: len(a) // 2] + b[len(b) // 2 :]), max_candidates=1)
    assert result.verdict == "attributed"
    assert result.recipient in {"ally-04", "ally-22"}


# --------------------------------------------------------------------------- undecided, never wrong


def test_a_copy_of_someone_not_listed_is_undecided() -> None:
    outsider = embed(_text(), key=KEY, document_id=DOC, recipient="outsider")
    for leak in (outsider, " ".join(outsider.split()), outsider[: len(outsider) // 3]):
        result = _trace(leak)
        assert result.verdict == "undecided" and result.recipient is None
        assert result.candidates == ()


def test_the_original_is_undecided() -> None:
    assert _trace(_text()).verdict == "undecided"
    assert _trace(" ".join(_text().split())).verdict == "undecided"


def test_unrelated_text_is_undecided() -> None:
    result = _trace("Minutes of the meeting. Nothing of note was said by anyone at all.")
    assert result.verdict == "undecided" and result.observed == 0


def test_a_copy_under_another_key_is_undecided() -> None:
    other = embed(
        _text(), key=b"another key of 32 bytes........", document_id=DOC, recipient="ally-05"
    )
    assert _trace(other).verdict == "undecided"


def test_no_wrong_name_over_many_leaks() -> None:
    """Outsiders, the original and scraps of copies: a name, if any, is always right."""
    rng = random.Random(11)  # noqa: S311
    text = _text()
    for trial in range(60):
        source = rng.choice(["outsider", "original", "ally-09"])
        whole = {"original": text, "ally-09": _copy("ally-09")}.get(source) or embed(
            text, key=KEY, document_id=DOC, recipient=f"outsider-{trial}"
        )
        n = rng.randrange(50, len(whole) // 2)
        start = rng.randrange(len(whole) - n)
        leak = whole[start : start + n]
        if rng.random() < 0.5:
            leak = " ".join(leak.split())
        assert _named(leak) <= ({"ally-09"} if source == "ally-09" else set())


# --------------------------------------------------------------------------- the statistics


def test_the_tail_is_exact() -> None:
    for k in (1, 2, 7, 30, 101):
        for m in range(-1, k + 2):
            exact = sum(math.comb(k, j) for j in range(max(m, 0), k + 1)) / 2**k
            got = 10 ** log10_tail(k, m)
            assert got == pytest.approx(exact, rel=1e-9, abs=1e-300)
    assert log10_tail(10_000, 10_000) == pytest.approx(-10_000 * math.log10(2))


def test_thresholds_stated_in_the_module_docstring() -> None:
    level = math.log10(1e-6 / (3 * 30))
    assert min(k for k in range(1, 100) if _needed(k, level) <= k) == 27
    assert min(k for k in range(1, 100) if _needed(k, level) <= k - 3) == 40
    assert _needed(48, level) == 43


def test_site_values_are_binary() -> None:
    assert all(isinstance(s, Site) and len(s.parts[0].alternatives) == 2 for s in sites(_text()))


# --------------------------------------------------------------------------- bad input


def test_bad_inputs_are_refused_clearly() -> None:
    copy = _copy("ally-01")
    with pytest.raises(InputError, match="leaked text is empty"):
        _trace("")
    with pytest.raises(InputError, match="no variation sites"):
        trace(copy, key=KEY, document_id=DOC, original_text="Hello", recipients=ROSTER)
    with pytest.raises(InputError, match="original text is empty"):
        trace(copy, key=KEY, document_id=DOC, original_text=" ", recipients=ROSTER)
    with pytest.raises(InputError, match="recipient id"):
        trace(
            copy, key=KEY, document_id=DOC, original_text=_text(), recipients=["ally-01", "Ally 2"]
        )
    with pytest.raises(InputError, match="no recipients"):
        trace(copy, key=KEY, document_id=DOC, original_text=_text(), recipients=[])
    with pytest.raises(InputError, match="twice"):
        trace(copy, key=KEY, document_id=DOC, original_text=_text(), recipients=["ally-01"] * 2)
    with pytest.raises(InputError, match="not one string"):
        trace(copy, key=KEY, document_id=DOC, original_text=_text(), recipients="ally-01")
    with pytest.raises(InputError, match="alpha"):
        _trace(copy, alpha=0.0)
    with pytest.raises(InputError, match="max_candidates"):
        _trace(copy, max_candidates=0)
    with pytest.raises(InputError, match="at least 16 bytes"):
        trace(copy, key=b"", document_id=DOC, original_text=_text(), recipients=ROSTER)
    with pytest.raises(EncodingError):
        _trace(copy.encode())
