"""Benchmark tracing leaked copies: who leaked the 2022 replies article, and how often wrongly.

The reference article (``../shared/reference/2022-security-replies-article.txt``,
read in place) is issued with :func:`detente.documents.embed` to 8 and to
30 recipients under one key, and for each roster ``--trials`` leaks (1,000)
of each kind are traced with :func:`detente.documents.trace`:

* full copy: one recipient's copy, whole;
* third: a random contiguous third of one copy (cut anywhere, mid-word too);
* retyped: one copy with every run of whitespace collapsed to one space
  (spacing, no-break spaces and line breaks lost; words and punctuation kept);
* mixed: two recipients' copies combined, alternate paragraphs or the first
  half of the paragraphs of one and the rest of the other (each half the time);
* not issued: the original text or the copy of a recipient outside the
  roster, whole, a third or retyped -- every name given is wrong.

Figures: for single copies the rate of correct attributions (the leaker
named, alone), with wrong (anyone else named) and undecided beside it; for
mixed copies the rate at which both are named, with one named, an innocent
named and undecided; for the leaks not issued, the rate of wrong names.
Goals: no wrong name anywhere, >= 99 % correct on full copies and on thirds,
both named on mixed copies. Reference, from the same traces: the naive
tracer that names whoever agrees most (mixed: the two who agree most),
with no threshold -- what the threshold buys is its wrong names.

Usage:
    python benchmarks/bench_tracing.py [--trials N] [--seed S] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

from _report import Report
from detente.documents import TraceResult, embed, sites, trace

ARTICLE = Path(__file__).resolve().parents[2] / "shared/reference/2022-security-replies-article.txt"
DOCUMENT = "security-replies-2022.bench"
ROSTERS = (8, 30)
SINGLE = ("full copy", "third", "retyped")


def _third(text: str, rng: random.Random) -> str:
    n = len(text) // 3
    start = rng.randrange(len(text) - n + 1)
    return text[start : start + n]


def _retyped(text: str) -> str:
    return " ".join(text.split())


def _mixed(a: str, b: str, rng: random.Random) -> str:
    pa, pb = a.split("\n"), b.split("\n")
    if rng.random() < 0.5:
        return "\n".join(
            x if i % 2 == 0 else y for i, (x, y) in enumerate(zip(pa, pb, strict=True))
        )
    half = len(pa) // 2
    return "\n".join(pa[:half] + pb[half:])


def _run(
    article: str, size: int, trials: int, key: bytes, rng: random.Random
) -> tuple[dict[str, Counter[str]], int, float]:
    roster = [f"ally-{i:02d}" for i in range(1, size + 1)]
    copies = {r: embed(article, key=key, document_id=DOCUMENT, recipient=r) for r in roster}
    tally: dict[str, Counter[str]] = {s: Counter() for s in (*SINGLE, "mixed", "not issued")}
    traced, spent = 0, 0.0
    weakest: dict[str, int] = {}

    def run(leak: str) -> TraceResult:
        nonlocal traced, spent
        start = time.perf_counter()
        result = trace(
            leak, key=key, document_id=DOCUMENT, original_text=article, recipients=roster
        )
        spent += time.perf_counter() - start
        traced += 1
        return result

    for trial in range(trials):
        for scenario in SINGLE:
            culprit = rng.choice(roster)
            copy = copies[culprit]
            leak = {"full copy": copy, "third": _third(copy, rng), "retyped": _retyped(copy)}
            result = run(leak[scenario])
            named = {c.recipient for c in result.candidates}
            t = tally[scenario]
            t["correct" if named == {culprit} else "undecided" if not named else "wrong"] += 1
            weakest[scenario] = min(weakest.get(scenario, result.observed), result.observed)
            t["argmax correct" if result.ranking[0].recipient == culprit else "argmax wrong"] += 1
        a, b = rng.sample(roster, 2)
        result = run(_mixed(copies[a], copies[b], rng))
        named = {c.recipient for c in result.candidates}
        t = tally["mixed"]
        if named - {a, b}:
            t["innocent named"] += 1
        elif named == {a, b}:
            t["both named"] += 1
        elif named:
            t["one named"] += 1
        else:
            t["undecided"] += 1
        top2 = {e.recipient for e in result.ranking[:2]}
        t["top two both" if top2 == {a, b} else "top two innocent"] += 1
        outsider = f"outsider-{trial:04d}"
        source = (
            article
            if rng.random() < 0.5
            else embed(article, key=key, document_id=DOCUMENT, recipient=outsider)
        )
        leak = rng.choice((source, _third(source, rng), _retyped(source)))
        result = run(leak)
        tally["not issued"]["wrong" if result.candidates else "undecided"] += 1
    for scenario, fewest in weakest.items():
        tally[scenario]["fewest sites read"] = fewest
    return tally, traced, spent


def _pct(counter: Counter[str], name: str, trials: int) -> float:
    return 100.0 * counter[name] / trials


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--article", type=Path, default=ARTICLE)
    parser.add_argument("--quick", action="store_true", help="100 trials")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    trials = 100 if args.quick else args.trials
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    article = args.article.read_text(encoding="utf-8")
    rng = random.Random(args.seed)
    key = rng.randbytes(32)

    report = Report()
    context: dict[str, Any] = {"trials": trials, "seed": args.seed, "sites": len(sites(article))}
    total_traced, total_spent = 0, 0.0
    for size in ROSTERS:
        tally, traced, spent = _run(article, size, trials, key, rng)
        total_traced += traced
        total_spent += spent
        context[f"{size} recipients"] = {k: dict(v) for k, v in tally.items()}
        for scenario in SINGLE:
            t = tally[scenario]
            correct, wrong = _pct(t, "correct", trials), _pct(t, "wrong", trials)
            argmax = _pct(t, "argmax correct", trials)
            report.row(
                f"{size} recipients, {scenario}: correct %",
                correct,
                argmax,
                f"argmax; ours: wrong {wrong:.1f} %, undecided {_pct(t, 'undecided', trials):.1f} %"
                f"; argmax wrong {_pct(t, 'argmax wrong', trials):.1f} %",
                correct / argmax if argmax else None,
                "0 wrong" if scenario == "retyped" else ">= 99 %, 0 wrong",
                wrong == 0 and (scenario == "retyped" or correct >= 99),
            )
        t = tally["mixed"]
        both, innocent = _pct(t, "both named", trials), _pct(t, "innocent named", trials)
        top2 = _pct(t, "top two both", trials)
        report.row(
            f"{size} recipients, two copies mixed: both named %",
            both,
            top2,
            f"top two; ours: one {_pct(t, 'one named', trials):.1f} %, innocent {innocent:.1f} %, "
            f"undecided {_pct(t, 'undecided', trials):.1f} %; top two innocent "
            f"{_pct(t, 'top two innocent', trials):.1f} %",
            both / top2 if top2 else None,
            "both, 0 innocent",
            innocent == 0 and both >= 99,
        )
        t = tally["not issued"]
        wrong = _pct(t, "wrong", trials)
        report.row(
            f"{size} recipients, not issued: wrong %",
            wrong,
            100.0,
            f"argmax (names someone always); ours: undecided {_pct(t, 'undecided', trials):.1f} %",
            None,
            "0",
            wrong == 0,
        )
    per_trace = 1000 * total_spent / total_traced
    report.row(
        f"trace one leak, mean of {total_traced:,} (ms)", per_trace, None, "", None, "", None
    )
    if args.json:
        report.print_json(**context)
    else:
        report.print_table(
            f"tracing: the 2022 replies article, {context['sites']} sites, {trials:,} leaks of each"
            " kind per roster"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
