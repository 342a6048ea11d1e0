"""The obligation book: applying entries one by one gives what a full rebuild gives."""

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from detente.agreement import Agreement
from detente.measures import Entry, ObligationBook, fold_obligations

PARTIES = ("us", "ru", "nato")
AGREEMENT = Agreement.model_validate(
    {
        "name": "book",
        "title": "Book",
        "version": "1",
        "parties": [{"id": p, "name": p} for p in PARTIES],
        "categories": {"launchers": {"name": "Launchers", "unit": "launcher"}},
        "counting_rules": {"launchers": {"terms": {"launchers": 1}}},
        "limits": {"launchers": {"aggregate": "launchers", "max": 800, "effective": "2020-01-01"}},
        "message_types": {
            "data": {
                "senders": ["*"],
                "declares": "counts",
                "periodic": {"as_of": ["03-01", "09-01"], "due_days": 30},
                "body_schema": {
                    "type": "object",
                    "required": ["as_of", "counts"],
                    "properties": {
                        "as_of": {"type": "string", "format": "date"},
                        "counts": {"type": "object"},
                    },
                },
            },
            "dispute": {
                "senders": ["*"],
                "declares": "dispute",
                "body_schema": {"type": "object", "required": ["text"]},
            },
            "change": {
                "senders": ["*"],
                "body_schema": {
                    "type": "object",
                    "required": ["event_date"],
                    "properties": {"event_date": {"type": "string", "format": "date"}},
                },
                "deadline": {"kind": "after_event", "days": 5, "event_field": "event_date"},
            },
            "request": {"senders": ["*"], "body_schema": {"type": "object"}},
            "answer": {
                "senders": ["*"],
                "body_schema": {"type": "object"},
                "deadline": {"kind": "after_message", "hours": 48, "message_type": "request"},
            },
        },
    }
)
START = datetime(2020, 1, 1, tzinfo=UTC)
NOW = datetime(2022, 1, 1, tzinfo=UTC)


def traffic(seed, n=600):
    """Random entries of every kind the book files, suspensions and exercise traffic too."""
    rng = random.Random(seed)  # noqa: S311 - reproducible traffic, not secrets
    seqs = dict.fromkeys(PARTIES, 0)
    out, requests, declarations = [], [], []
    for i in range(n):
        created = START + timedelta(hours=i * 24 * 700 / n)
        party = rng.choice(PARTIES)
        others = tuple(p for p in PARTIES if p != party)
        roll = rng.random()
        refs = ()
        if roll < 0.1:
            day = created.date()
            type_ = "data"
            body = {"as_of": date(day.year, 3 if day.month < 9 else 9, 1).isoformat()}
            body["counts"] = {"launchers": rng.randint(700, 900)}
        elif roll < 0.35:
            type_, body = "change", {"event_date": (created - timedelta(days=6)).date().isoformat()}
        elif roll < 0.55:
            type_, body = "request", {}
        elif roll < 0.75 and requests:
            asked = rng.choice(requests)
            type_, body, refs, others = "answer", {}, (asked.ref,), (asked.party,)
        elif roll < 0.8 and declarations:
            type_, body = "dispute", {"text": "no", "counts": {"launchers": 850}}
            refs = (rng.choice(declarations).ref,)
        elif roll < 0.83:
            type_ = rng.choice(["suspension", "resumption"])
            effective = created.strftime("%Y-%m-%dT%H:%M:%SZ")
            body = {"types": [rng.choice(["change", "answer"])], "effective": effective}
            if type_ == "suspension":
                body["reason"] = "countermeasure"
        else:
            type_, body = "message", {"text": "x"}
        late = rng.random()
        received = {
            p: None if late < 0.05 else created + timedelta(hours=1 if late < 0.8 else 80)
            for p in others
        }
        entry = Entry(
            party=party,
            seq=seqs[party],
            type=type_,
            created=created,
            to=others,
            refs=refs,
            exercise=rng.random() < 0.03,
            body=body,
            received=received,
        )
        seqs[party] += 1
        out.append(entry)
        (requests if type_ == "request" else declarations if type_ == "data" else []).append(entry)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_adding_entries_one_by_one_gives_the_full_fold(seed):
    entries = traffic(seed)
    rebuilt = fold_obligations(AGREEMENT, entries, now=NOW, since=START.date())
    assert len(rebuilt.obligations) > 100
    book = ObligationBook(AGREEMENT, [], now=NOW, since=START.date())
    for entry in entries:
        book.add(entry)
    applied = book.report()
    assert applied.obligations == rebuilt.obligations
    assert applied.skipped == rebuilt.skipped
    assert applied.suspensions == rebuilt.suspensions


@pytest.mark.parametrize("seed", [4, 5])
def test_order_does_not_matter_and_a_receipt_learnt_later_is_applied(seed):
    entries = traffic(seed)
    shuffled = entries[:]
    random.Random(seed).shuffle(shuffled)  # noqa: S311
    # First without any receipts, then each entry again as it is finally known.
    book = ObligationBook(AGREEMENT, [], now=NOW, since=START.date())
    for entry in shuffled:
        book.add(replace(entry, received=dict.fromkeys(entry.received)))
    for entry in shuffled:
        book.add(entry)
    full = fold_obligations(AGREEMENT, entries, now=NOW, since=START.date())
    assert book.report().obligations == full.obligations
