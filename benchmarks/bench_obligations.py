"""Benchmark the obligations engine: fold 1,000,000 envelopes over 15 years, then apply one.

Traffic: three parties (us, ru, nato) over 15 years (2011-2026) under an
agreement with every rule the engine judges -- a six-monthly declaration
of counts against two limits, change notifications due 5 days after their
event, requests answered within 48 hours, advance notices 42 days ahead
with thresholds, disputes of declarations, and free text that no rule
reads. Envelopes are generated with a fixed seed; most are received a few
seconds after they are created, some late, some never (pending), and some
requests go unanswered. Signatures are taken as verified (the fold never
checks them).

Figures, each beside a reference measured in the same run:

* full rebuild: :func:`detente.measures.fold_obligations` over all N
  entries (goal: under 10 s for 1,000,000 on one core). Reference: the same
  fold over N/10 entries, to show how the cost grows.
* apply one: :meth:`detente.measures.ObligationBook.add` of one new
  envelope to a book that holds the N others, then the obligations it
  changed (goal: under 10 ms). Reference: the full rebuild, which is what
  applying one costs without the book. The book's obligations after the
  last apply are checked to equal a full fold's.

Everything runs in one thread, pinned to one CPU where the OS allows. The
garbage collector is off for the whole run: with a million entries alive,
each full collection walks them all, and the untimed parts (making the
traffic, the check against a full fold) would take minutes.

Usage:
    python benchmarks/bench_obligations.py [--entries N] [--applies K] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from _report import Report
from detente.agreement import Agreement
from detente.measures import Entry, ObligationBook, fold_obligations

PARTIES = ("us", "ru", "nato")
START = datetime(2011, 2, 5, tzinfo=UTC)
SPAN = timedelta(days=15 * 365)
NOW = START + SPAN
SINCE = START.date()

AGREEMENT = Agreement.model_validate(
    {
        "name": "bench",
        "title": "Benchmark agreement",
        "version": "1",
        "parties": [{"id": p, "name": p.upper()} for p in PARTIES],
        "categories": {
            "launchers": {"name": "Launchers", "unit": "launcher"},
            "warheads": {"name": "Warheads", "unit": "warhead"},
        },
        "counting_rules": {
            "launchers": {"terms": {"launchers": 1}},
            "warheads": {"terms": {"warheads": 1}},
        },
        "limits": {
            "launchers": {"aggregate": "launchers", "max": 800, "effective": "2018-02-05"},
            "warheads": {"aggregate": "warheads", "max": 1550, "effective": "2018-02-05"},
        },
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
                "body_schema": {
                    "type": "object",
                    "required": ["text"],
                    "properties": {"text": {"type": "string"}},
                },
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
            "notice": {
                "senders": ["*"],
                "body_schema": {
                    "type": "object",
                    "required": ["start", "troops"],
                    "properties": {
                        "start": {"type": "string", "format": "date"},
                        "troops": {"type": "integer"},
                    },
                },
                "deadline": {"kind": "before_event", "days": 42, "event_field": "start"},
                "notify_when": {"troops": 9000},
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


def traffic(n: int, seed: int = 2022) -> list[Entry]:
    """``n`` entries of the three parties, in creation order (module docstring)."""
    rng = random.Random(seed)
    step = SPAN / n
    seqs = dict.fromkeys(PARTIES, 0)
    out: list[Entry] = []
    requests: list[Entry] = []
    declarations: list[Entry] = []
    declared: set[tuple[str, date]] = set()
    for i in range(n):
        created = START + step * i
        party = PARTIES[i % 3]
        others = tuple(p for p in PARTIES if p != party)
        roll = rng.random()
        refs: tuple[str, ...] = ()
        day = created.date()
        as_of = date(day.year, 3, 1) if day.month < 9 else date(day.year, 9, 1)
        if (party, as_of) not in declared and day >= as_of:
            declared.add((party, as_of))
            type_ = "data"
            body: dict[str, Any] = {
                "as_of": as_of.isoformat(),
                "counts": {"launchers": rng.randint(700, 820), "warheads": rng.randint(1400, 1600)},
            }
        elif roll < 0.30:
            event = day - timedelta(days=rng.randint(0, 7))
            type_, body = "change", {"event_date": event.isoformat()}
        elif roll < 0.50:
            type_, body = "request", {}
        elif roll < 0.68 and requests:
            asked = requests.pop(rng.randrange(len(requests)))
            type_, body, refs, others = "answer", {}, (asked.ref,), (asked.party,)
        elif roll < 0.78:
            start = day + timedelta(days=rng.randint(20, 60))
            type_ = "notice"
            body = {"start": start.isoformat(), "troops": rng.randint(3000, 20000)}
        elif roll < 0.79 and declarations:
            disputed = rng.choice(declarations[-6:])
            type_, body, refs = "dispute", {"text": "we count otherwise"}, (disputed.ref,)
            body["counts"] = {"launchers": 850}
        else:
            type_, body = "message", {"text": "routine"}
        delay = rng.random()
        lag = timedelta(seconds=3 if delay < 0.95 else 3 * 86400)
        received = dict.fromkeys(others, None if delay < 0.002 else created + lag)
        entry = Entry(
            party=party,
            seq=seqs[party],
            type=type_,
            created=created,
            to=others,
            refs=refs,
            body=body,
            received=received,
        )
        seqs[party] += 1
        out.append(entry)
        if type_ == "request":
            requests.append(entry)
        elif type_ == "data":
            declarations.append(entry)
    return out


def _pin() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def _timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--applies", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="100,000 entries, 50 applies")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    n, k = (100_000, 50) if args.quick else (args.entries, args.applies)
    _pin()
    gc.disable()
    entries = traffic(n + k)
    held, new = entries[:n], entries[n:]
    small = held[: n // 10]

    report = Report()
    tenth, _ = _timed(lambda: fold_obligations(AGREEMENT, small, now=NOW, since=SINCE))
    full, folded = _timed(lambda: fold_obligations(AGREEMENT, held, now=NOW, since=SINCE))
    report.row(
        f"full rebuild, {n:,} entries (s)",
        full,
        tenth,
        f"the same fold over {len(small):,}",
        full / tenth if tenth else None,
        "< 10 s for 1,000,000",
        full < 10 if n >= 1_000_000 else None,
    )
    book_time, book = _timed(lambda: ObligationBook(AGREEMENT, held, now=NOW, since=SINCE))
    times = []
    for entry in new:
        spent, _ = _timed(lambda e=entry: book.add(e))
        times.append(spent)
    after = fold_obligations(AGREEMENT, entries, now=NOW, since=SINCE)
    if book.report().obligations != after.obligations:
        print("the book's obligations differ from a full fold's", file=sys.stderr)
        return 1
    p50 = statistics.median(times) * 1000
    worst = max(times) * 1000
    report.row(
        f"apply one envelope to a book of {n:,}, median of {k} (ms)",
        p50,
        full * 1000,
        "full rebuild",
        full * 1000 / p50 if p50 else None,
        "< 10 ms",
        p50 < 10,
    )
    report.row("apply one, slowest (ms)", worst, None, "", None, "", None)
    report.row(f"building the book from {n:,} (s)", book_time, full, "full rebuild", None, "", None)
    if args.json:
        report.print_json(entries=n, obligations=len(folded.obligations))
    else:
        report.print_table(f"obligations: {len(folded.obligations):,} from {n:,} entries")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
